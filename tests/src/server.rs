//! A TCP server on a random host port, accepting on a background thread until dropped, each
//! connection on a thread of its own: what the test registry and the test proxy run on.

use std::fmt;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long a connection may sit idle before the server drops it.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// `m`'s guard, poisoned or not: a panicking connection thread must not take the whole server
/// down with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running server. Dropping it stops accepting and waits for the accept loop to end.
pub(crate) struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on `0.0.0.0:<random port>` and runs `handle` for every connection, with read
    /// and write timeouts set; `name` names the threads and, in the panic when no port can be
    /// bound, the server.
    #[track_caller]
    pub(crate) fn start(name: &str, handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("0.0.0.0:0")
            .unwrap_or_else(|e| panic!("{name}: cannot bind a host port: {e}"));
        let port = listener.local_addr().expect("bound address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = Arc::new(handle);
        let accept = {
            let (stop, conn_name) = (stop.clone(), format!("{name}-conn"));
            thread::Builder::new()
                .name(format!("{name}-{port}"))
                .spawn(move || {
                    for conn in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let Ok(conn) = conn else { continue };
                        let handle = handle.clone();
                        let _ = thread::Builder::new()
                            .name(conn_name.clone())
                            .spawn(move || {
                                let _ = conn.set_read_timeout(Some(IDLE_TIMEOUT));
                                let _ = conn.set_write_timeout(Some(IDLE_TIMEOUT));
                                handle(conn);
                            });
                    }
                })
                .unwrap_or_else(|e| panic!("{name}: cannot spawn its thread: {e}"))
        };
        Server {
            port,
            stop,
            accept: Some(accept),
        }
    }

    /// The port it listens on (every host address).
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("port", &self.port).finish()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ =
            TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_secs(5));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}
