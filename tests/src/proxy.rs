//! A forward HTTP proxy made at test time, that records what it was asked to reach and reaches
//! one test registry only.
//!
//! [`Proxy::to_registry`] listens on `0.0.0.0:<random port>` for as long as the returned guard
//! lives; builds on both engines reach it at [`Proxy::url`] (`http://172.29.0.1:<port>`), the
//! value of an `HTTPS_PROXY` / `HTTP_PROXY` build argument. It serves the two ways a client
//! uses a proxy:
//! - `CONNECT host:port` (HTTPS through a proxy): a tunnel of raw bytes. TLS runs inside it,
//!   between the client and the registry, as through a proxy that does not intercept.
//! - `GET http://host:port/path` (plain HTTP through a proxy): the request is forwarded in origin
//!   form with `Connection: close`, and the answer relayed.
//!
//! Only the registry's own authority (`172.29.0.1:<port>`, as clients name it) is served, and
//! the proxy connects to it on the loopback: any other target is answered `403`, so nothing a
//! test sends through it leaves the machine. Every request is recorded
//! ([`Proxy::requests`]), so a test can assert that a build went through the proxy, or not.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::registry::{Registry, HOST_ON_BRIDGE};
use crate::server::{lock, Server, IDLE_TIMEOUT};

/// How long connecting to the registry may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One request the proxy answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyRequest {
    /// `CONNECT`, `GET`, …
    pub method: String,
    /// What it was asked to reach: `host:port` for `CONNECT`, the absolute URL otherwise.
    pub target: String,
    /// The status it answered with (the registry's, for a forwarded request).
    pub status: u16,
}

/// Whether `name` is a proxy variable curl, cargo and git read (`HTTP_PROXY`, `https_proxy`,
/// `NO_PROXY`, … in any case).
pub fn is_proxy_variable(name: &str) -> bool {
    [
        "http_proxy",
        "https_proxy",
        "ftp_proxy",
        "no_proxy",
        "all_proxy",
    ]
    .iter()
    .any(|p| p.eq_ignore_ascii_case(name))
}

/// What the connection threads share.
#[derive(Debug)]
struct Route {
    /// The authority clients ask for (`172.29.0.1:<port>`).
    allowed: String,
    /// Where the proxy connects for it (the loopback).
    upstream: SocketAddr,
    log: Mutex<Vec<ProxyRequest>>,
}

/// A running proxy (see the module docs). Dropping it stops the server.
#[derive(Debug)]
pub struct Proxy {
    server: Server,
    route: Arc<Route>,
}

impl Proxy {
    /// A proxy to `registry` only.
    #[track_caller]
    pub fn to_registry(registry: &Registry) -> Proxy {
        Proxy::start(
            &registry.authority(),
            ([127, 0, 0, 1], registry.port()).into(),
        )
    }

    /// A proxy that serves requests for `allowed` by connecting to `upstream`, which must be a
    /// loopback address.
    #[track_caller]
    fn start(allowed: &str, upstream: SocketAddr) -> Proxy {
        assert!(
            upstream.ip().is_loopback(),
            "proxy: the upstream {upstream} must be on the loopback"
        );
        let route = Arc::new(Route {
            allowed: allowed.to_string(),
            upstream,
            log: Mutex::new(Vec::new()),
        });
        let server = {
            let route = route.clone();
            Server::start("proxy", move |conn| {
                let _ = handle(conn, &route);
            })
        };
        Proxy { server, route }
    }

    /// The port the proxy listens on (every host address).
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The proxy URL builds use: `http://172.29.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{HOST_ON_BRIDGE}:{}", self.server.port())
    }

    /// Every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        lock(&self.route.log).clone()
    }
}

/// One client connection: one `CONNECT` tunnel or one forwarded request.
fn handle(client: TcpStream, route: &Route) -> io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut writer = client;
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(());
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    let mut body_len = 0u64;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                body_len = value.trim().parse().unwrap_or(0);
            }
        }
        headers.push(line);
    }
    let record = |status: u16| {
        lock(&route.log).push(ProxyRequest {
            method: method.clone(),
            target: target.clone(),
            status,
        })
    };
    let refuse = |writer: &mut TcpStream, status: u16, reason: &str| -> io::Result<()> {
        record(status);
        write!(
            writer,
            "HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        writer.flush()?;
        let _ = writer.shutdown(Shutdown::Both);
        Ok(())
    };

    if method == "CONNECT" {
        if target != route.allowed {
            return refuse(&mut writer, 403, "Forbidden");
        }
        let Ok(upstream) = TcpStream::connect_timeout(&route.upstream, CONNECT_TIMEOUT) else {
            return refuse(&mut writer, 502, "Bad Gateway");
        };
        record(200);
        writer.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        writer.flush()?;
        // Whatever the client sent after the request (it may not wait for the answer) first.
        let early = reader.buffer().to_vec();
        return tunnel(writer, early, upstream);
    }

    let Some((authority, path)) = target
        .strip_prefix("http://")
        .map(|rest| rest.split_once('/').unwrap_or((rest, "")))
    else {
        return refuse(&mut writer, 400, "Bad Request");
    };
    if authority != route.allowed {
        return refuse(&mut writer, 403, "Forbidden");
    }
    let Ok(mut upstream) = TcpStream::connect_timeout(&route.upstream, CONNECT_TIMEOUT) else {
        return refuse(&mut writer, 502, "Bad Gateway");
    };
    upstream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut forwarded = format!("{method} /{path} HTTP/1.1\r\n");
    for header in &headers {
        let name = header.split(':').next().unwrap_or_default().trim();
        let hop_by_hop = [
            "connection",
            "proxy-connection",
            "keep-alive",
            "proxy-authorization",
        ]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name));
        if !hop_by_hop {
            forwarded.push_str(header);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    upstream.write_all(forwarded.as_bytes())?;
    io::copy(&mut (&mut reader).take(body_len), &mut upstream)?;
    upstream.flush()?;
    let mut answer = BufReader::new(upstream);
    let mut status_line = String::new();
    answer.read_line(&mut status_line)?;
    record(
        status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(502),
    );
    writer.write_all(status_line.as_bytes())?;
    io::copy(&mut answer, &mut writer)?;
    writer.flush()?;
    let _ = writer.shutdown(Shutdown::Both);
    Ok(())
}

/// Relays bytes both ways between `client` and `upstream` until either side closes; `early`
/// goes to `upstream` first.
fn tunnel(client: TcpStream, early: Vec<u8>, upstream: TcpStream) -> io::Result<()> {
    upstream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let (mut client_in, mut upstream_out) = (client.try_clone()?, upstream.try_clone()?);
    let up = thread::Builder::new()
        .name("proxy-tunnel".to_string())
        .spawn(move || {
            let _ = upstream_out
                .write_all(&early)
                .and_then(|()| io::copy(&mut client_in, &mut upstream_out).map(|_| ()));
            let _ = upstream_out.shutdown(Shutdown::Write);
        })?;
    let (mut upstream_in, mut client_out) = (upstream, client);
    let _ = io::copy(&mut upstream_in, &mut client_out);
    let _ = client_out.shutdown(Shutdown::Write);
    let _ = up.join();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `request` to the proxy on the loopback; the whole answer.
    fn ask(proxy: &Proxy, request: &str) -> String {
        let mut conn = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn proxy_variables_are_named_in_any_case() {
        for name in [
            "HTTPS_PROXY",
            "http_proxy",
            "No_Proxy",
            "ALL_PROXY",
            "ftp_proxy",
        ] {
            assert!(is_proxy_variable(name), "{name}");
        }
        assert!(!is_proxy_variable("CARGO_HTTP_PROXY"));
    }

    #[test]
    fn forwards_plain_requests_to_its_registry_and_refuses_everything_else() {
        let registry = Registry::start("unit-proxy-plain");
        let proxy = Proxy::to_registry(&registry);
        let config = format!("{}config.json", registry.http_index_url());
        let answer = ask(
            &proxy,
            &format!(
                "GET {config} HTTP/1.1\r\nHost: {}\r\n\r\n",
                registry.authority()
            ),
        );
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("\"dl\":"), "{answer}");
        assert_eq!(
            registry.requests().last().map(|r| r.path.as_str()),
            Some("index/config.json"),
            "the registry answered it"
        );

        let before = registry.request_count();
        let other = ask(
            &proxy,
            "GET http://example.invalid/ HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert!(other.starts_with("HTTP/1.1 403 "), "{other}");
        let tunnel = ask(&proxy, "CONNECT 10.0.0.1:443 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(tunnel.starts_with("HTTP/1.1 403 "), "{tunnel}");
        assert_eq!(registry.request_count(), before);
        let seen: Vec<(String, String, u16)> = proxy
            .requests()
            .into_iter()
            .map(|r| (r.method, r.target, r.status))
            .collect();
        assert_eq!(
            seen,
            [
                ("GET".to_string(), config, 200),
                (
                    "GET".to_string(),
                    "http://example.invalid/".to_string(),
                    403
                ),
                ("CONNECT".to_string(), "10.0.0.1:443".to_string(), 403),
            ]
        );
    }
}
