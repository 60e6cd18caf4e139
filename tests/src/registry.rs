//! A local sparse cargo registry, made at test time: no downloads, nothing outside the test.
//!
//! [`Registry::start`] serves an empty sparse index over HTTP/1.1 on `0.0.0.0:<random port>`
//! from a background thread for as long as the returned guard lives. [`Registry::publish`]
//! packages a small crate written by the test (`cargo package --offline`), and adds the
//! `.crate` file and its index line (with the SHA-256 cargo checks against the lockfile).
//! Every request is recorded ([`Registry::requests`]), so a test can assert that a build did,
//! or did not, reach the registry.
//!
//! Build containers on both engines reach it at [`HOST_ON_BRIDGE`], and so does the host's
//! cargo ([`Registry::generate_lockfile`]). Its URLs carry a per-registry nonce
//! (`http://172.29.0.1:<port>/<nonce>/index/`), so cargo's caches (the host's temporary one, and
//! the build's shared download cache) never mix up two registries that happened to get the same
//! port.
//!
//! A private registry ([`Registry::start_private`]) says `auth-required` in its `config.json`
//! and answers 401 to every request without `Authorization: <token>`, as cargo's registry-auth
//! protocol expects (cargo retries `config.json` with the token after the 401).
//!
//! A TLS registry ([`Registry::start_tls`]) speaks HTTPS only, with a certificate from a
//! [`TestCa`] the test made: as behind a TLS-intercepting proxy, or for a registry with a
//! private CA, cargo refuses it until told to trust that CA (the host's cargo here is told, with
//! `CARGO_HTTP_CAINFO`).
//!
//! ```no_run
//! use cachet_tests::{registry::Registry, TempProject};
//!
//! let registry = Registry::start("doc");
//! registry.publish("cachet-dep-a", "1.0.0", "pub fn line() -> &'static str { \"hi\" }\n");
//! let project = TempProject::new("doc-app");
//! // … write Cargo.toml with `cachet-dep-a = "1"` and src/main.rs …
//! registry.replace_crates_io(&project);
//! registry.generate_lockfile(&project);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::{ServerConnection, StreamOwned};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::server::{lock, Server};
use crate::tls::TestCa;
use crate::{fixtures, process, TempProject};

/// The host's address on dockerd's bridge `cachet0`: build containers on both engines reach
/// it (buildkitd's steps use the host's network), and so does the host itself.
pub const HOST_ON_BRIDGE: &str = "172.29.0.1";

/// Limit for one host cargo command (`cargo package`, `cargo generate-lockfile`).
const CARGO_TIMEOUT: Duration = Duration::from_secs(120);

/// One request the registry answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// The path below the registry's root, e.g. `index/config.json`,
    /// `index/ca/ch/cachet-dep-a` or `dl/cachet-dep-a/1.0.0/download`.
    pub path: String,
    /// The status code it was answered with.
    pub status: u16,
    /// Whether it carried an `Authorization` header at all.
    pub sent_authorization: bool,
}

/// State shared with the server threads.
#[derive(Debug, Default)]
struct Shared {
    /// Path below the registry root → body.
    files: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Every request, in the order they were answered.
    log: Mutex<Vec<Request>>,
}

/// A running local sparse registry (see the module docs). Dropping it stops the server.
#[derive(Debug)]
pub struct Registry {
    server: Server,
    /// The per-registry path segment every URL starts with.
    id: String,
    token: Option<String>,
    /// `http`, or `https` for a TLS registry.
    scheme: &'static str,
    /// The CA a TLS registry's certificate comes from, PEM, in `work` (for the host's cargo).
    ca_file: Option<std::path::PathBuf>,
    shared: Arc<Shared>,
    /// Crate sources, packaged crates and the host cargo's `CARGO_HOME`.
    work: TempProject,
    /// Names this registry was declared under with [`Registry::declare_as`].
    names: Mutex<BTreeSet<String>>,
}

impl Registry {
    /// An open registry (no authentication).
    #[track_caller]
    pub fn start(label: &str) -> Registry {
        Self::start_with(label, None, None)
    }

    /// An open registry that speaks HTTPS only, with a certificate `ca` signed.
    #[track_caller]
    pub fn start_tls(label: &str, ca: &TestCa) -> Registry {
        Self::start_with(label, None, Some(ca))
    }

    /// A registry that requires `Authorization: <token>` on every request and says
    /// `auth-required: true` in its `config.json`.
    #[track_caller]
    pub fn start_private(label: &str, token: &str) -> Registry {
        Self::start_with(label, Some(token.to_string()), None)
    }

    #[track_caller]
    fn start_with(label: &str, token: Option<String>, ca: Option<&TestCa>) -> Registry {
        let id = format!("r{}", fixtures::nonce());
        let shared = Arc::new(Shared::default());
        let tls = ca.map(TestCa::server_config);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = {
            let (shared, token, id) = (shared.clone(), token.clone(), id.clone());
            Server::start("registry", move |conn| {
                let _ = match &tls {
                    None => handle(conn, &id, token.as_deref(), &shared),
                    Some(config) => ServerConnection::new(config.clone())
                        .map_err(io::Error::other)
                        .and_then(|server| {
                            let stream = StreamOwned::new(server, conn);
                            handle(stream, &id, token.as_deref(), &shared)
                        }),
                };
            })
        };
        let port = server.port();
        let work = TempProject::new(&format!("registry-{label}"));
        let ca_file = ca.map(|ca| work.write("ca.pem", ca.pem()));

        let mut config =
            serde_json::json!({ "dl": format!("{scheme}://{HOST_ON_BRIDGE}:{port}/{id}/dl") });
        if token.is_some() {
            config["auth-required"] = true.into();
        }
        lock(&shared.files).insert(
            "index/config.json".to_string(),
            format!("{config}\n").into_bytes(),
        );

        Registry {
            server,
            id,
            token,
            scheme,
            ca_file,
            shared,
            work,
            names: Mutex::new(BTreeSet::new()),
        }
    }

    /// The port the registry listens on (every host address).
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The index URL as cargo takes it: `sparse+http://172.29.0.1:<port>/<id>/index/`
    /// (`sparse+https://…` for a TLS registry).
    pub fn index_url(&self) -> String {
        format!("sparse+{}", self.http_index_url())
    }

    /// The index URL without the `sparse+` prefix (what plain HTTP clients fetch).
    pub fn http_index_url(&self) -> String {
        format!(
            "{}://{HOST_ON_BRIDGE}:{}/{}/index/",
            self.scheme,
            self.server.port(),
            self.id
        )
    }

    /// The address clients name in URLs: `172.29.0.1:<port>` (what a proxy is asked to reach).
    pub fn authority(&self) -> String {
        format!("{HOST_ON_BRIDGE}:{}", self.server.port())
    }

    /// The token this registry requires, if it is private.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.log).clone()
    }

    /// How many requests were answered so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.log).len()
    }

    /// Package a library crate `name` `version` whose `src/lib.rs` is `lib_rs` (no
    /// dependencies) and publish it: the `.crate` under `dl/`, a line in its index file.
    /// Returns the `.crate`'s SHA-256 (hex), the checksum cargo writes into `Cargo.lock`.
    #[track_caller]
    pub fn publish(&self, name: &str, version: &str, lib_rs: &str) -> String {
        let dir = format!("crates/{name}-{version}");
        self.work.write(
            format!("{dir}/Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
                 description = \"A test crate served by cachet-tests' local registry\"\n\
                 license = \"Apache-2.0\"\n\n[dependencies]\n\n[workspace]\n"
            ),
        );
        self.work.write(format!("{dir}/src/lib.rs"), lib_rs);
        let src = self.work.path().join(&dir);
        let target = self.work.path().join("package-target");
        let mut cmd = self.cargo(&src);
        cmd.args([
            "package",
            "--no-verify",
            "--offline",
            "--allow-dirty",
            "--quiet",
        ])
        .env("CARGO_TARGET_DIR", &target);
        process::run(&mut cmd, CARGO_TIMEOUT).assert_success();
        let packaged = target
            .join("package")
            .join(format!("{name}-{version}.crate"));
        let bytes = std::fs::read(&packaged).unwrap_or_else(|e| {
            panic!(
                "registry: no {} after cargo package: {e}",
                packaged.display()
            )
        });
        let cksum = sha256_hex(&bytes);

        let line = index_line(name, version, &cksum);
        let mut files = lock(&self.shared.files);
        files.insert(format!("dl/{name}/{version}/download"), bytes);
        let index = files
            .entry(format!("index/{}", index_path(name)))
            .or_default();
        index.extend_from_slice(line.as_bytes());
        index.push(b'\n');
        cksum
    }

    /// Write `project`'s `.cargo/config.toml` so this registry stands in for crates.io:
    /// `[source.crates-io] replace-with = "local"`, `[source.local] registry = "sparse+…"`.
    #[track_caller]
    pub fn replace_crates_io(&self, project: &TempProject) {
        project.write(
            ".cargo/config.toml",
            format!(
                "[source.crates-io]\nreplace-with = \"local\"\n\n\
                 [source.local]\nregistry = {}\n",
                toml_string(&self.index_url())
            ),
        );
    }

    /// Write `project`'s `.cargo/config.toml` declaring this registry as `[registries.<name>]`
    /// (dependencies then say `registry = "<name>"`). A private registry's token comes from
    /// `CARGO_REGISTRIES_<NAME>_TOKEN` through the `cargo:token` credential provider.
    #[track_caller]
    pub fn declare_as(&self, project: &TempProject, name: &str) {
        lock(&self.names).insert(name.to_string());
        project.write(
            ".cargo/config.toml",
            format!(
                "[registries.{name}]\nindex = {}\ncredential-provider = [\"cargo:token\"]\n",
                toml_string(&self.index_url())
            ),
        );
    }

    /// The environment variable cargo reads the token of registry `name` from.
    pub fn token_env(name: &str) -> String {
        format!(
            "CARGO_REGISTRIES_{}_TOKEN",
            name.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// `cargo generate-lockfile` in `project` on the host, against this running registry,
    /// with a private `CARGO_HOME` (the host's cargo cache stays untouched) and, for a private
    /// registry, its token in `CARGO_REGISTRIES_<NAME>_TOKEN` for every declared name.
    #[track_caller]
    pub fn generate_lockfile(&self, project: &TempProject) {
        let mut cmd = self.cargo(project.path());
        cmd.args(["generate-lockfile", "--quiet"]);
        if let Some(token) = &self.token {
            for name in lock(&self.names).iter() {
                cmd.env(Self::token_env(name), token);
            }
        }
        process::run(&mut cmd, CARGO_TIMEOUT).assert_success();
    }

    /// The host's cargo, run in `dir` (cargo finds `.cargo/config.toml` from its working
    /// directory) with this registry's own `CARGO_HOME` and nothing inherited that could
    /// redirect it (registry, source, HTTP and proxy settings); a TLS registry's CA trusted.
    fn cargo(&self, dir: &Path) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(dir)
            .env("CARGO_HOME", self.work.path().join("cargo-home"))
            .env("CARGO_TERM_COLOR", "never")
            .env("CARGO_NET_RETRY", "0");
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if (key.starts_with("CARGO_REGISTRIES_") || key.starts_with("CARGO_REGISTRY_"))
                || key == "CARGO_TARGET_DIR"
                || key.starts_with("CARGO_SOURCE_")
                || key.starts_with("CARGO_HTTP_")
                || crate::proxy::is_proxy_variable(&key)
            {
                cmd.env_remove(&*key);
            }
        }
        if let Some(ca) = &self.ca_file {
            cmd.env("CARGO_HTTP_CAINFO", ca);
        }
        cmd
    }
}

/// The path of a crate's index file below `index/`, as cargo computes it: `1/<name>`,
/// `2/<name>`, `3/<first char>/<name>`, else `<chars 1-2>/<chars 3-4>/<name>`, all lowercase.
pub fn index_path(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    match name.len() {
        0 => panic!("registry: a crate name cannot be empty"),
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", &name[..1]),
        _ => format!("{}/{}/{name}", &name[..2], &name[2..4]),
    }
}

/// One index line (a version without dependencies or features), as cargo's sparse index has
/// it: the fields in cargo's order, JSON on one line.
fn index_line(name: &str, version: &str, cksum: &str) -> String {
    #[derive(Serialize)]
    struct IndexLine<'a> {
        name: &'a str,
        vers: &'a str,
        /// None.
        deps: [(); 0],
        cksum: &'a str,
        /// Feature name → what it enables; none.
        features: BTreeMap<&'a str, Vec<&'a str>>,
        yanked: bool,
    }
    let line = IndexLine {
        name,
        vers: version,
        deps: [],
        cksum,
        features: BTreeMap::new(),
        yanked: false,
    };
    serde_json::to_string(&line).expect("an index line is plain JSON")
}

/// `s` as a TOML string (for `.cargo/config.toml`).
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

// -------------------------------------------------------------------------------------------
// The HTTP server

/// A connection the registry answers on: plain TCP or TLS over it.
trait Connection: Read + Write {
    /// Ends the connection (for TLS, with a `close_notify` first).
    fn finish(&mut self);
}

impl Connection for TcpStream {
    fn finish(&mut self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Connection for StreamOwned<ServerConnection, TcpStream> {
    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
        let _ = self.sock.shutdown(Shutdown::Both);
    }
}

/// Answer requests on one connection until the client closes it, asks to, or goes idle.
fn handle(conn: impl Connection, id: &str, token: Option<&str>, shared: &Shared) -> io::Result<()> {
    let mut reader = BufReader::new(conn);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let (method, target, version) = (
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        );
        let mut authorization = None;
        let mut close = version != "HTTP/1.1";
        let mut body_len = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "authorization" => authorization = Some(value.to_string()),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                "content-length" => body_len = value.parse().unwrap_or(0),
                _ => {}
            }
        }
        if body_len > 0 {
            io::copy(&mut (&mut reader).take(body_len as u64), &mut io::sink())?;
        }

        let path = target.split(['?', '#']).next().unwrap_or_default();
        let path = path.strip_prefix(&format!("/{id}/")).map(str::to_string);
        let (status, body): (u16, Vec<u8>) = if !matches!(method.as_str(), "GET" | "HEAD") {
            (405, b"method not allowed\n".to_vec())
        } else if token.is_some() && authorization.as_deref() != token {
            (401, b"this registry requires a token\n".to_vec())
        } else {
            match path
                .as_ref()
                .and_then(|p| lock(&shared.files).get(p).cloned())
            {
                Some(body) => (200, body),
                None => (404, b"not found\n".to_vec()),
            }
        };
        // Recorded before the answer leaves, so a client that has its answer sees it counted.
        lock(&shared.log).push(Request {
            method: method.clone(),
            path: path.unwrap_or(target),
            status,
            sent_authorization: authorization.is_some(),
        });
        let reason = match status {
            200 => "OK",
            401 => "Unauthorized",
            404 => "Not Found",
            _ => "Method Not Allowed",
        };
        let mut head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n",
            body.len()
        );
        if status == 401 {
            head.push_str("WWW-Authenticate: Cargo\r\n");
        }
        head.push_str(if close {
            "Connection: close\r\n\r\n"
        } else {
            "Connection: keep-alive\r\n\r\n"
        });
        let writer = reader.get_mut();
        writer.write_all(head.as_bytes())?;
        if method != "HEAD" {
            writer.write_all(&body)?;
        }
        writer.flush()?;
        if close {
            writer.finish();
            return Ok(());
        }
    }
}

/// The SHA-256 of `data`, as lowercase hex (what cargo writes into `Cargo.lock`).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_cargos_prefix_rules() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("abcd"), "ab/cd/abcd");
        assert_eq!(index_path("cachet-dep-a"), "ca/ch/cachet-dep-a");
        assert_eq!(index_path("Serde_JSON"), "se/rd/serde_json");
        assert_eq!(index_path("Xyz"), "3/x/xyz");
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn index_lines_are_cargos_json() {
        assert_eq!(
            index_line("x-y", "1.0.0", "00ff"),
            r#"{"name":"x-y","vers":"1.0.0","deps":[],"cksum":"00ff","features":{},"yanked":false}"#
        );
        assert_eq!(
            toml_string("sparse+http://h:1/r1/index/"),
            r#""sparse+http://h:1/r1/index/""#
        );
        for tricky in ["a\"b\\c", "it's\n"] {
            let table: toml::Table =
                toml::from_str(&format!("x = {}", toml_string(tricky))).unwrap();
            assert_eq!(table["x"].as_str(), Some(tricky));
        }
    }

    /// `GET <path>` on the loopback with optional `Authorization`; `(status, body)`.
    fn get(port: u16, path: &str, authorization: Option<&str>) -> (u16, String) {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let auth = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        write!(
            conn,
            "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        conn.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    #[test]
    fn serves_the_index_counts_requests_and_enforces_the_token() {
        let open = Registry::start("unit-open");
        let root = format!("/{}", open.id);
        let (status, config) = get(open.port(), &format!("{root}/index/config.json"), None);
        assert_eq!(status, 200);
        assert!(config.contains(&format!("/{}/dl\"", open.id)), "{config}");
        assert!(!config.contains("auth-required"), "{config}");
        assert_eq!(get(open.port(), &format!("{root}/index/1/x"), None).0, 404);
        assert_eq!(
            get(open.port(), "/elsewhere/index/config.json", None).0,
            404
        );
        let log = open.requests();
        assert_eq!(log.len(), 3, "{log:?}");
        assert_eq!(log[0].path, "index/config.json");
        assert_eq!(open.request_count(), 3);

        let private = Registry::start_private("unit-private", "s3cret");
        let root = format!("/{}", private.id);
        let config_path = format!("{root}/index/config.json");
        assert_eq!(get(private.port(), &config_path, None).0, 401);
        assert_eq!(get(private.port(), &config_path, Some("wrong")).0, 401);
        let (status, config) = get(private.port(), &config_path, Some("s3cret"));
        assert_eq!(status, 200);
        assert!(config.contains("\"auth-required\":true"), "{config}");
        let statuses: Vec<(u16, bool)> = private
            .requests()
            .iter()
            .map(|r| (r.status, r.sent_authorization))
            .collect();
        assert_eq!(statuses, [(401, false), (401, true), (200, true)]);
    }

    #[test]
    fn a_tls_registry_is_trusted_with_its_ca_only() {
        let ca = TestCa::new("unit-tls");
        let registry = Registry::start_tls("unit-tls", &ca);
        assert!(registry.index_url().starts_with("sparse+https://"));
        let request = format!(
            "GET /{}/index/config.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            registry.id
        );
        let answer = crate::tls::tests::tls_exchange(registry.port(), &[ca.der()], &request)
            .expect("a client that trusts the CA gets an answer");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(
            answer.contains(&format!("\"https://{HOST_ON_BRIDGE}:{}/", registry.port())),
            "downloads are HTTPS too: {answer}"
        );

        let other = TestCa::new("unit-tls-other");
        let refused = crate::tls::tests::tls_exchange(registry.port(), &[other.der()], &request);
        let error = refused
            .expect_err("a client that trusts another CA is refused")
            .to_string();
        assert!(error.contains("UnknownIssuer"), "{error}");
        assert_eq!(registry.request_count(), 1, "{:?}", registry.requests());
    }

    /// The whole way a fetch behind a proxy goes, on the loopback with the host's cargo: through
    /// the proxy's CONNECT tunnel to the TLS registry, trusting its CA. Without the CA, cargo
    /// says what a fetch behind a TLS-intercepting proxy says.
    #[test]
    fn host_cargo_reaches_a_tls_registry_through_the_proxy() {
        use crate::proxy::Proxy;

        let ca = TestCa::new("unit-tunnel");
        let registry = Registry::start_tls("unit-tunnel", &ca);
        registry.publish("cachet-dep-a", "1.0.0", "pub fn line() {}\n");
        let proxy = Proxy::to_registry(&registry);
        let project = TempProject::new("unit-tunnel-app");
        project.write(
            "Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\ncachet-dep-a = \"1\"\n\n[workspace]\n",
        );
        project.write("src/main.rs", "fn main() {}\n");
        registry.replace_crates_io(&project);
        let through_proxy = |trust_ca: bool| {
            let mut cmd = registry.cargo(project.path());
            cmd.args(["generate-lockfile", "--quiet"])
                .env("HTTPS_PROXY", format!("http://127.0.0.1:{}", proxy.port()));
            if !trust_ca {
                cmd.env_remove("CARGO_HTTP_CAINFO");
            }
            process::run(&mut cmd, CARGO_TIMEOUT)
        };

        let refused = through_proxy(false);
        assert!(!refused.success(), "{refused}");
        assert!(
            refused.stderr.contains("SSL certificate problem"),
            "cargo names the certificate: {refused}"
        );
        let before = registry.request_count();
        through_proxy(true).assert_success();
        let lock = std::fs::read_to_string(project.path().join("Cargo.lock")).unwrap();
        assert!(lock.contains("name = \"cachet-dep-a\""), "{lock}");
        assert!(
            registry.requests()[before..]
                .iter()
                .any(|r| r.path == "index/ca/ch/cachet-dep-a" && r.status == 200),
            "{:?}",
            registry.requests()
        );
        let tunnels = proxy.requests();
        assert!(!tunnels.is_empty());
        assert!(
            tunnels.iter().all(|r| r.method == "CONNECT"
                && r.target == registry.authority()
                && r.status == 200),
            "{tunnels:?}"
        );
    }
}
