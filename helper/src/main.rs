//! The `cachet-helper` command line (see the library's docs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cachet_helper::freshness::{self, NewContent, Stamp};
use cachet_helper::test_report::Report as TestReport;
use cachet_helper::watches::Watches;

const USAGE: &str = "usage:
  cachet-helper freshness --state DIR [--layer] [--vendor DIR]... [--premade DIR=FILE]...
                          [--list FILE]
  cachet-helper vendored --root DIR --out DIR [--dir DIR]...
  cachet-helper watches --spec NAME --src DIR --target-dir DIR
                        [--package NAME=DIR]... [--include PATTERN]... [--exclude PATTERN]...
  cachet-helper test-report --log FILE --status CODE --target NAME --report FILE";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cachet-helper: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let (command, rest) = args.split_first().ok_or("no subcommand")?;
    let mut flags: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--layer" => flags.entry("--layer").or_default().push(String::new()),
            "--state" | "--spec" | "--src" | "--target-dir" | "--package" | "--include"
            | "--exclude" | "--vendor" | "--list" | "--log" | "--status" | "--target"
            | "--report" | "--premade" | "--root" | "--out" | "--dir" => {
                let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
                flags.entry(flag.as_str()).or_default().push(value.clone());
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let one = |name: &str| -> Result<String, String> {
        match flags.get(name).map(Vec::as_slice) {
            Some([v]) => Ok(v.clone()),
            Some(_) => Err(format!("{name} is given more than once")),
            None => Err(format!("{name} is required")),
        }
    };
    let many = |name: &str| flags.get(name).cloned().unwrap_or_default();
    match command.as_str() {
        "freshness" => {
            let mode = if flags.contains_key("--layer") {
                NewContent::PreviousWholeSecond
            } else {
                NewContent::Now
            };
            let state = PathBuf::from(one("--state")?);
            let vendor: Vec<PathBuf> = many("--vendor").into_iter().map(PathBuf::from).collect();
            let mut premade = Vec::new();
            for p in many("--premade") {
                let (dir, file) = p
                    .split_once('=')
                    .ok_or_else(|| format!("--premade {p}: expected DIR=FILE"))?;
                premade.push((PathBuf::from(dir), PathBuf::from(file)));
            }
            let report = freshness::run_premade(
                Path::new("."),
                &state,
                Stamp::now(mode),
                &vendor,
                &premade,
            )?;
            for name in &report.vendored_rebuilt {
                eprintln!(
                    "cachet-helper: freshness: vendored crate {name} changed in place: its \
                     fingerprints are removed, so cargo rebuilds it"
                );
            }
            if let Some(list) = flags.get("--list").and_then(|v| v.last()) {
                // For the why step only: a listing it cannot write is no reason to fail.
                let written = std::fs::File::create(list).and_then(|f| {
                    let mut out = std::io::BufWriter::new(f);
                    freshness::write_listing(&report.sources, &mut out)?;
                    std::io::Write::flush(&mut out)
                });
                if let Err(e) = written {
                    eprintln!("cachet-helper: freshness: cannot write the listing {list}: {e}");
                }
            }
            let why = report
                .fresh_state
                .map(|w| format!(" ({w}: every entry is new)"))
                .unwrap_or_default();
            eprintln!(
                "cachet-helper: freshness: {} entries, {} new or changed{why}",
                report.entries, report.new
            );
            Ok(ExitCode::SUCCESS)
        }
        "vendored" => {
            let problems = cachet_helper::vendored::check(
                Path::new(&one("--root")?),
                &many("--dir"),
                Path::new(&one("--out")?),
            )?;
            for p in &problems {
                eprintln!("cachet-helper: vendored: {p}");
            }
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        "watches" => {
            let mut packages = BTreeMap::new();
            for p in many("--package") {
                let (name, dir) = p
                    .split_once('=')
                    .ok_or_else(|| format!("--package {p}: expected NAME=DIR"))?;
                packages.insert(name.to_string(), dir.to_string());
            }
            let watches = Watches {
                spec: one("--spec")?,
                src: PathBuf::from(one("--src")?),
                target_dir: PathBuf::from(one("--target-dir")?),
                packages,
                include: many("--include"),
                exclude: many("--exclude"),
            };
            let problems = watches.check()?;
            for p in &problems {
                eprintln!("{}", p.message(&watches.spec));
            }
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        "test-report" => {
            let log = std::fs::read(one("--log")?).map_err(|e| format!("--log: {e}"))?;
            let status: i32 = one("--status")?
                .parse()
                .map_err(|e| format!("--status: {e}"))?;
            let report =
                TestReport::parse(&one("--target")?, status, &String::from_utf8_lossy(&log));
            std::fs::write(one("--report")?, report.to_json())
                .map_err(|e| format!("--report: {e}"))?;
            // The step's last log line when tests failed: what buildx shows above its error.
            if status != 0 && report.failed > 0 {
                eprintln!("{}", report.summary());
            }
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown subcommand `{other}`")),
    }
}
