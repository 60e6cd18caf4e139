//! `cachet-frontend`: the process BuildKit runs for a spec whose first line is
//! `# syntax=<cachet image>`.
//!
//! It talks gRPC to BuildKit over stdin/stdout ([`transport`]), reads and compiles the spec
//! (pure code in `llb-gen`), asks BuildKit to solve the graph and returns the result. Logs go
//! to stderr (the daemon's log); the user sees only what we `Return` and the progress names in
//! the graph, so every failure is returned as a message a user can act on.

use std::panic::AssertUnwindSafe;
use std::process::ExitCode;

use cachet_frontend::{build, gateway, opts, panics, transport};
use futures_util::FutureExt;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            EnvFilter::try_from_env("CACHET_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    panics::install_hook();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run())
}

async fn run() -> ExitCode {
    let started = std::time::Instant::now();
    let channel = match transport::connect_stdio().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("cannot connect to BuildKit over stdio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut gateway = gateway::Gateway::new(channel);
    // A panic still reaches the user as a message (see `panics`).
    let outcome = match AssertUnwindSafe(build::build(&mut gateway, started))
        .catch_unwind()
        .await
    {
        Ok(outcome) => outcome,
        Err(payload) => {
            let spec = opts::FrontendOpts::from_env()
                .map(|o| o.filename)
                .unwrap_or_else(|_| "the spec".to_string());
            Err(panics::message(&spec, payload.as_ref()).into())
        }
    };
    let returned = match outcome {
        Ok(result) => gateway.return_result(result).await,
        Err(failure) => {
            tracing::warn!("build failed: {}", failure.message);
            gateway.return_error(failure).await
        }
    };
    match returned {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
