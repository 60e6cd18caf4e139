//! The gRPC connection to BuildKit over the process's own stdin/stdout.
//!
//! BuildKit starts the frontend with two pipes: fd 0 carries bytes from BuildKit, fd 1 bytes to
//! it. BuildKit is the HTTP/2 *server* (cleartext, prior knowledge), the frontend the client.
//! There is exactly one connection: the connector hands out the stdio pair once and refuses any
//! reconnect, because closed pipes cannot be reopened. Nothing else may ever write to stdout.

use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::{Channel, Endpoint};

/// Any byte stream in, any byte stream out, as one duplex connection.
pub struct Duplex<R, W> {
    reader: R,
    writer: W,
}

impl<R: AsyncRead + Unpin, W: Unpin> AsyncRead for Duplex<R, W> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl<R: Unpin, W: AsyncWrite + Unpin> AsyncWrite for Duplex<R, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_shutdown(cx)
    }
}

type StdioPair = Duplex<Box<dyn AsyncRead + Send + Unpin>, Box<dyn AsyncWrite + Send + Unpin>>;

/// stdin/stdout as non-blocking pipe ends when they are pipes (as BuildKit starts us), else
/// through tokio's blocking-pool stdio (for running the binary by hand).
fn stdio() -> io::Result<StdioPair> {
    use std::os::fd::{AsFd, OwnedFd};
    use tokio::net::unix::pipe;
    let as_pipes = || -> io::Result<StdioPair> {
        let stdin: OwnedFd = io::stdin().as_fd().try_clone_to_owned()?;
        let stdout: OwnedFd = io::stdout().as_fd().try_clone_to_owned()?;
        let reader = pipe::Receiver::from_owned_fd(stdin)?;
        let writer = pipe::Sender::from_owned_fd(stdout)?;
        Ok(Duplex {
            reader: Box::new(reader),
            writer: Box::new(writer),
        })
    };
    as_pipes().or_else(|_| {
        Ok(Duplex {
            reader: Box::new(tokio::io::stdin()),
            writer: Box::new(tokio::io::stdout()),
        })
    })
}

/// Opens the single HTTP/2 connection to BuildKit over stdio.
pub async fn connect_stdio() -> Result<Channel, tonic::transport::Error> {
    let pair = Mutex::new(Some(stdio()));
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_| {
            let taken = pair.lock().map(|mut p| p.take()).unwrap_or(None);
            async move {
                match taken {
                    Some(Ok(io)) => Ok(TokioIo::new(io)),
                    Some(Err(e)) => Err(e),
                    None => Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        "the stdio connection to BuildKit is closed",
                    )),
                }
            }
        }))
        .await
}
