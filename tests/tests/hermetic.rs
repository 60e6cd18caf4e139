//! Compile steps have no network, on both engines.
//!
//! A crate's build script connects to a TCP listener this test runs on the host, at an address
//! passed in through a declared build argument. The normal build must fail with the build
//! script's own message. The same build with networking forced on must succeed and must have
//! reached this test's listener, which proves the failure was the sandbox and not a broken
//! fixture or an unreachable address.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use cachet_tests::{fixtures, on_each_engine, Build, Engine, TempProject};

/// The host's address on dockerd's bridge `cachet0`: reachable from both engines' build
/// containers whenever they have a network at all.
const HOST_ON_BRIDGE: &str = "172.29.0.1";

/// What the build script prints when it cannot connect.
const PANIC_PREFIX: &str = "cachet-probe: no network: cannot connect to";

const BUILD_RS: &str = r#"//! Connects to $PROBE_ADDR and reports the line the listener sends.
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn main() {
    println!("cargo:rerun-if-env-changed=PROBE_ADDR");
    let addr = std::env::var("PROBE_ADDR").unwrap_or_default();
    let sock: SocketAddr = addr
        .parse()
        .unwrap_or_else(|e| panic!("cachet-probe: PROBE_ADDR `{addr}` is not an address: {e}"));
    let stream = match TcpStream::connect_timeout(&sock, Duration::from_secs(20)) {
        Ok(stream) => stream,
        Err(e) => panic!("cachet-probe: no network: cannot connect to {addr}: {e}"),
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("cachet-probe: connected to {addr} but read nothing: {e}"));
    println!("cargo:warning=cachet-probe received: {}", line.trim());
}
"#;

/// A dependency-free crate whose build script runs the probe.
fn probe_project(engine: Engine) -> TempProject {
    let project = TempProject::new(&format!("hermetic-{engine}"));
    project.write(
        "Cargo.toml",
        "[package]\nname = \"probe\"\nversion = \"0.1.0\"\nedition = \"2021\"\nbuild = \"build.rs\"\n\n\
         [dependencies]\n\n[workspace]\n",
    );
    project.write(
        "Cargo.lock",
        "version = 4\n\n[[package]]\nname = \"probe\"\nversion = \"0.1.0\"\n",
    );
    project.write("build.rs", BUILD_RS);
    // A unique project name gives a target cache of its own; a unique source makes every
    // step's inputs new (current BuildKit leaves cache mount ids out of an exec's cache key),
    // so no run is ever served another run's result.
    let nonce = fixtures::nonce();
    project.write("src/main.rs", format!("fn main() {{}}\n// run {nonce}\n"));
    project.write(
        "Cachet.toml",
        format!(
            "# syntax=cachet/frontend:dev\n\
             [project]\nname = \"hermetic-{engine}-{nonce}\"\n\
             [sdk]\nimage = \"cachet-sdk:rustup\"\n\
             [args]\nPROBE = \"\"\n\
             [cargo]\nenv = {{ PROBE_ADDR = \"${{PROBE}}\" }}\n\
             [target.build]\ncargo = [\"build\"]\nartifacts = {{ probe = \"probe\" }}\n",
        ),
    );
    project
}

/// A listener on every host address. Each connection is sent `token` and reported on the
/// returned channel. The accepting thread ends with the test process.
fn listen(token: String) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("0.0.0.0:0").expect("bind a host port");
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let peer = conn.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            let _ = conn.write_all(format!("{token}\n").as_bytes());
            if tx.send(peer).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

/// The listener answers: a host-side self-check, so a failure below is never "nobody listens".
fn check_listener(addr: &str, token: &str) {
    let stream = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("the test's own listener at {addr} is unreachable: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), token);
}

/// The same build with networking forced on for every step.
fn with_network(build: Build) -> Build {
    match build.engine() {
        Engine::Buildx => build
            .arg("--network")
            .arg("host")
            .arg("--allow")
            .arg("network.host"),
        Engine::Dockerd => build.arg("--network").arg("host"),
    }
}

#[test]
fn build_scripts_have_no_network_unless_it_is_forced_on() {
    on_each_engine(|engine| {
        let token = format!("cachet-hermetic-{}", fixtures::nonce());
        let (port, accepted) = listen(token.clone());
        let addr = format!("{HOST_ON_BRIDGE}:{port}");
        check_listener(&addr, &token);
        accepted
            .recv_timeout(Duration::from_secs(10))
            .expect("the self-check connection was accepted");

        let project = probe_project(engine);
        let build = || {
            engine
                .build(project.path())
                .file(project.path().join("Cachet.toml"))
                .target("build")
                .build_arg("PROBE", &addr)
        };

        let start = Instant::now();
        let sandboxed = build().run().assert_failure();
        eprintln!(
            "[hermetic] {engine}: sandboxed build failed in {:.1}s",
            start.elapsed().as_secs_f64()
        );
        let progress = sandboxed.progress();
        assert!(
            progress.contains(&format!("{PANIC_PREFIX} {addr}")),
            "{engine}: the build script's panic is in the output:\n{progress}"
        );
        assert!(
            !progress.contains(&token),
            "{engine}: the sandboxed build script talked to the host:\n{progress}"
        );
        // The build has ended, and it never connected (it could not have seen the token
        // otherwise), so nothing can be pending on the channel.
        assert_eq!(
            accepted.try_recv().ok(),
            None,
            "{engine}: a sandboxed step connected to the host"
        );

        let start = Instant::now();
        let networked = with_network(build()).run().assert_success();
        eprintln!(
            "[hermetic] {engine}: build with network forced on succeeded in {:.1}s",
            start.elapsed().as_secs_f64()
        );
        let progress = networked.progress();
        assert!(
            progress.contains(&format!("cachet-probe received: {token}")),
            "{engine}: with network the build script reached this test's listener:\n{progress}"
        );
        let peer = accepted
            .recv_timeout(Duration::from_secs(30))
            .expect("the listener saw the build script's connection");
        eprintln!("[hermetic] {engine}: the build script connected from {peer}");
    });
}
