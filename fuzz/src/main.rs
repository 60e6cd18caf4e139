//! `cachet-fuzz`: see the crate documentation (`fuzz/src/lib.rs`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cachet_fuzz::bundle::Bundle;
use cachet_fuzz::engine::{self, catch, Config, Features};
use cachet_fuzz::targets;

const USAGE: &str = "\
usage: cachet-fuzz [--seconds N] [--target NAME]... [--state DIR] [--seed N]
                   [--slow-ms N] [--hang-seconds N] [--quiet]
       cachet-fuzz --target NAME --replay FILE...
       cachet-fuzz --list

Fuzzes every target (or those named) in turn, N seconds in all (default 60), and prints a
table; exits 1 if any input panicked, 3 on a hang. The corpus, panic reproducers and slow
inputs are kept under DIR/<target>/ (default ${CACHET_STATE_DIR:-$HOME/.cache/cachet}/fuzz).
--replay runs the given corpus files once each and prints what they do.";

fn main() -> ExitCode {
    if cfg!(panic = "abort") {
        eprintln!(
            "cachet-fuzz: built with panic = \"abort\", so no panic can be caught; \
             build it with `cargo build --profile fuzz -p cachet-fuzz` (scripts/fuzz does)"
        );
        return ExitCode::from(2);
    }
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cachet-fuzz: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let mut seconds = 60.0f64;
    let mut names: Vec<String> = Vec::new();
    let mut state: Option<PathBuf> = None;
    let mut seed: Option<u64> = None;
    let mut slow_ms = 100u64;
    let mut hang_s = 10u64;
    let mut quiet = false;
    let mut replay: Option<Vec<PathBuf>> = None;
    let mut args = std::env::args().skip(1);
    let value = |args: &mut dyn Iterator<Item = String>, flag: &str| {
        args.next().ok_or(format!("{flag} needs a value"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = value(&mut args, &arg)?
                    .parse()
                    .map_err(|_| "--seconds: expected a number".to_string())?
            }
            "--target" => names.push(value(&mut args, &arg)?),
            "--state" => state = Some(PathBuf::from(value(&mut args, &arg)?)),
            "--seed" => {
                seed = Some(
                    value(&mut args, &arg)?
                        .parse()
                        .map_err(|_| "--seed: expected a number")?,
                )
            }
            "--slow-ms" => {
                slow_ms = value(&mut args, &arg)?
                    .parse()
                    .map_err(|_| "--slow-ms: expected a number")?
            }
            "--hang-seconds" => {
                hang_s = value(&mut args, &arg)?
                    .parse()
                    .map_err(|_| "--hang-seconds: expected a number")?
            }
            "--quiet" => quiet = true,
            "--list" => {
                for t in targets::all() {
                    println!("{:<8} {}", t.name(), t.about());
                }
                return Ok(ExitCode::SUCCESS);
            }
            "--replay" => replay = Some(args.by_ref().map(PathBuf::from).collect()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let chosen: Vec<_> = if names.is_empty() {
        targets::all()
    } else {
        names
            .iter()
            .map(|n| targets::by_name(n).ok_or(format!("no target `{n}` (see --list)")))
            .collect::<Result<_, _>>()?
    };

    if let Some(files) = replay {
        let [target] = chosen.as_slice() else {
            return Err("--replay needs exactly one --target".into());
        };
        let mut panicked = false;
        for file in files {
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let input = Bundle::parse(&bytes, target.primary());
            match catch(|| target.run(&input, &mut Features::default())) {
                Ok(()) => println!("{}: ok", file.display()),
                Err(p) => {
                    panicked = true;
                    println!("{}: PANIC at {}: {}", file.display(), p.location, p.message);
                    if let Some(bt) = p.backtrace {
                        println!("{bt}");
                    }
                }
            }
        }
        return Ok(if panicked {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }

    let state = state.unwrap_or_else(|| {
        let base = std::env::var_os("CACHET_STATE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/cachet")
            });
        base.join("fuzz")
    });
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let per_target = Duration::from_secs_f64(seconds / chosen.len() as f64);
    eprintln!(
        "[fuzz] {} target(s), {:.1} s each, seed {seed}, state {}",
        chosen.len(),
        per_target.as_secs_f64(),
        state.display()
    );
    let mut reports = Vec::new();
    for (i, target) in chosen.iter().enumerate() {
        let config = Config {
            budget: per_target,
            state_dir: Some(state.clone()),
            seed: seed.wrapping_add(i as u64),
            slow: Duration::from_millis(slow_ms),
            hang: Duration::from_secs(hang_s),
            progress: (!quiet).then_some(Duration::from_secs(15)),
            ..Config::default()
        };
        // The frontend runs on its main thread: give the inputs the same 8 MiB of stack.
        let report = std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(8 << 20)
                .spawn_scoped(s, || engine::fuzz(*target, &config))
                .map_err(|e| e.to_string())?
                .join()
                .map_err(|_| "the fuzz loop itself panicked".to_string())
        })?;
        for site in &report.sites {
            eprintln!(
                "[fuzz] PANIC in {}: {} panicked at {}: {}\n[fuzz]   reproducer: {}",
                report.target,
                site.count,
                site.record.location,
                site.record.message,
                site.saved
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
        }
        for slow in report.slow.iter().take(5) {
            eprintln!(
                "[fuzz] slow in {}: {:.0} ms: {}",
                report.target,
                slow.millis,
                slow.saved
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
        }
        reports.push(report);
    }
    print!("{}", engine::table(&reports));
    let panics: u64 = reports.iter().map(|r| r.panics).sum();
    Ok(if panics > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
