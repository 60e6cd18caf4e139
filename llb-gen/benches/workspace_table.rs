//! The workspace benchmark as markdown tables. It reports; it never fails on a slow result.
//!
//! 1. Each scenario of `benches/workspace.rs` run [`RUNS`] times on the generated 200-member
//!    workspace, with its median and p95 against the 50 ms target (per build: the row that
//!    compiles all five targets gets 5 × 50 ms).
//! 2. At scale: what the frontend does before its first Solve for 1,000 members listed one by
//!    one, the same 1,000 as one glob, and 4,000 listed, phase by phase — discovering the
//!    metadata ([`workspace::discover`]), `spec::load`, `compile` of the default image target
//!    (which runs `project::analyze` itself; analyze is also shown alone), encoding — and the
//!    whole path timed as one. Target: 100 ms per 1,000 members. Listing members explicitly
//!    used to cost a minute at 1,000 members (every pattern compiled for every file).
//! 3. A 100 MB `Cargo.lock`: discovery and `project::analyze` (which parses it), against 3 s.
//!
//! `cargo bench -p llb-gen --bench workspace_table` (`CACHET_BENCH_RUNS=N` for another count;
//! without `--bench`, as under `cargo test --benches`, each scenario runs once and the
//! lockfile is 1 MB).

use std::hint::black_box;
use std::time::{Duration, Instant};

#[allow(dead_code)]
#[path = "workspace.rs"]
mod workspace;

use llb_gen::compile::BuildRequest;
use llb_gen::llb::definition_bytes;
use llb_gen::project::{self, ProjectFiles};
use workspace::{
    checked_layout, checked_layout_for, compiled, discover, end_to_end, large_lockfile, load,
    multi_target_spec, multi_target_spec_for, one_target_spec, project, project_with, request,
    Listing, MEMBERS,
};

/// Timed runs per scenario (at least 30), after [`WARMUP`] untimed ones.
const RUNS: usize = 50;
const WARMUP: usize = 3;
const TARGET: Duration = Duration::from_millis(50);
/// Timed runs per workspace and phase at scale (unless `CACHET_BENCH_RUNS` says otherwise).
const SCALE_RUNS: usize = 30;
/// Spec → LLB at scale, per 1,000 members.
const SCALE_TARGET_PER_1000: Duration = Duration::from_millis(100);
/// Timed runs of the large-lockfile phases.
const LOCK_RUNS: usize = 5;
/// The large lockfile, and how long analysing it may take.
const LOCK_BYTES: usize = 100_000_000;
const LOCK_TARGET: Duration = Duration::from_secs(3);

struct Row {
    scenario: &'static str,
    /// Ops in the Definition (summed over the builds), when the scenario makes one.
    ops: Option<usize>,
    /// Builds per run: the target is [`TARGET`] per build.
    builds: u32,
    times: Vec<Duration>,
}

fn time(runs: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..WARMUP.min(runs) {
        f();
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed()
        })
        .collect();
    times.sort_unstable();
    times
}

/// Nearest-rank percentile of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let given: Option<usize> = std::env::var("CACHET_BENCH_RUNS").ok().map(|n| {
        n.parse()
            .unwrap_or_else(|_| panic!("CACHET_BENCH_RUNS={n}: not a number"))
    });
    let runs = match given {
        Some(n) => n,
        None if benching => RUNS,
        None => 1,
    };

    let files = project();
    checked_layout(&files);
    let multi = multi_target_spec();
    let one = one_target_spec();
    let multi_spec = load(&multi);
    let one_spec = load(&one);
    let image = request("image", &files);
    let m150 = request("m150", &files);
    let build = request("build", &files);
    let all: Vec<BuildRequest> = multi_spec
        .targets
        .keys()
        .map(|t| request(t, &files))
        .collect();
    let ops = |spec: &llb_gen::spec::Spec, r: &BuildRequest| compiled(spec, r).definition.def.len();

    let rows = vec![
        Row {
            scenario: "`spec::load` (5-target spec)",
            ops: None,
            builds: 1,
            times: time(runs, || {
                black_box(load(black_box(&multi)));
            }),
        },
        Row {
            scenario: "`project::analyze`",
            ops: None,
            builds: 1,
            times: time(runs, || {
                black_box(project::analyze(black_box(&files)));
            }),
        },
        Row {
            scenario: "`compile` image (default target: fetch, build, m150, image)",
            ops: Some(ops(&multi_spec, &image)),
            builds: 1,
            times: time(runs, || {
                black_box(compiled(black_box(&multi_spec), black_box(&image)));
            }),
        },
        Row {
            scenario: "`compile` m150 (`-p m150`, others stubbed)",
            ops: Some(ops(&multi_spec, &m150)),
            builds: 1,
            times: time(runs, || {
                black_box(compiled(black_box(&multi_spec), black_box(&m150)));
            }),
        },
        Row {
            scenario: "`compile` every target (5 builds)",
            ops: Some(all.iter().map(|r| ops(&multi_spec, r)).sum()),
            builds: all.len() as u32,
            times: time(runs, || {
                for r in &all {
                    black_box(compiled(&multi_spec, r));
                }
            }),
        },
        Row {
            scenario: "`compile` one-target spec",
            ops: Some(ops(&one_spec, &build)),
            builds: 1,
            times: time(runs, || {
                black_box(compiled(black_box(&one_spec), black_box(&build)));
            }),
        },
        Row {
            scenario: "**end to end**: load + compile + encode, image (5-target spec)",
            ops: Some(ops(&multi_spec, &image)),
            builds: 1,
            times: time(runs, || {
                black_box(end_to_end(black_box(&multi), black_box(&image)));
            }),
        },
        Row {
            scenario: "**end to end**: load + compile + encode, one-target spec",
            ops: Some(ops(&one_spec, &build)),
            builds: 1,
            times: time(runs, || {
                black_box(end_to_end(black_box(&one), black_box(&build)));
            }),
        },
    ];

    println!();
    println!(
        "spec → LLB on a generated {MEMBERS}-member workspace, {runs} runs per scenario \
         ({WARMUP} warm-up runs first)"
    );
    println!();
    println!("| scenario | members | ops in Definition | median ms | p95 ms | target | verdict |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for row in &rows {
        let median = percentile(&row.times, 50.0);
        let p95 = percentile(&row.times, 95.0);
        let target = TARGET * row.builds;
        println!(
            "| {} | {MEMBERS} | {} | {} | {} | ≤ {} ms | {} |",
            row.scenario,
            row.ops.map_or("–".to_string(), |n| n.to_string()),
            ms(median),
            ms(p95),
            target.as_millis(),
            if median <= target { "ok" } else { "SLOW" },
        );
    }

    scale_table(match given {
        Some(n) => n,
        None if benching => SCALE_RUNS,
        None => 1,
    });
    lockfile_table(
        if benching { LOCK_RUNS } else { 1 },
        if benching { LOCK_BYTES } else { 1_000_000 },
    );
}

/// Spec → LLB phase by phase for large workspaces, the members listed or globbed.
fn scale_table(runs: usize) {
    let cases = [
        (1_000, Listing::Explicit),
        (1_000, Listing::Glob),
        (4_000, Listing::Explicit),
    ];
    println!();
    println!(
        "spec → LLB at scale, the frontend's own code path before its first Solve: default \
         image target of the 5-target spec, {runs} runs per phase ({WARMUP} warm-up runs \
         first); median ms (p95 ms)"
    );
    println!();
    println!(
        "| workspace | rounds | files | discovery | `spec::load` | `project::analyze` (in compile) \
         | `compile` | encode | **discovery + load + compile + encode** | target | verdict |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for (members, listing) in cases {
        let context = project_with(members, listing);
        let (read, rounds) = discover(&context);
        assert_eq!(read, context, "discovery reads every generated file");
        checked_layout_for(&read, members);
        let text = multi_target_spec_for(members);
        let spec = load(&text);
        let image = request("image", &read);
        let definition = compiled(&spec, &image).definition;

        let discovery = time(runs, || {
            black_box(discover(black_box(&context)));
        });
        let loading = time(runs, || {
            black_box(load(black_box(&text)));
        });
        let analysis = time(runs, || {
            black_box(project::analyze(black_box(&read)));
        });
        let compiling = time(runs, || {
            black_box(compiled(black_box(&spec), black_box(&image)));
        });
        let encoding = time(runs, || {
            black_box(definition_bytes(black_box(&definition)));
        });
        let total = time(runs, || {
            let (files, _) = discover(black_box(&context));
            let spec = load(black_box(&text));
            let built = compiled(&spec, &request("image", &files));
            black_box(definition_bytes(&built.definition));
        });
        let target = SCALE_TARGET_PER_1000 * (members / 1_000) as u32;
        let cell =
            |t: &[Duration]| format!("{} ({})", ms(percentile(t, 50.0)), ms(percentile(t, 95.0)));
        let label = match listing {
            Listing::Explicit => format!("{members} members listed one by one"),
            Listing::Glob => format!("{members} members as `crates/*`"),
        };
        println!(
            "| {label} | {rounds} | {} | {} | {} | {} | {} | {} | **{}** | ≤ {} ms | {} |",
            read.files.len(),
            cell(&discovery),
            cell(&loading),
            cell(&analysis),
            cell(&compiling),
            cell(&encoding),
            cell(&total),
            target.as_millis(),
            if percentile(&total, 50.0) <= target {
                "ok"
            } else {
                "SLOW"
            },
        );
    }
}

/// A large `Cargo.lock`: what reading and analysing it costs.
fn lockfile_table(runs: usize, bytes: usize) {
    let (lock, remote) = large_lockfile(bytes);
    let context = ProjectFiles {
        files: [
            (
                "Cargo.toml".to_string(),
                b"[package]\nname = \"big\"\nversion = \"0.1.0\"\n".to_vec(),
            ),
            ("Cargo.lock".to_string(), lock.into_bytes()),
        ]
        .into(),
    };
    let size = context.files["Cargo.lock"].len();
    let (read, _) = discover(&context);
    let layout = project::analyze(&read);
    assert_eq!(
        layout.remote_packages, remote,
        "every remote package counted"
    );
    let discovery = time(runs, || {
        black_box(discover(black_box(&context)));
    });
    let analysis = time(runs, || {
        black_box(project::analyze(black_box(&read)));
    });
    let peak = peak_rss_mib();
    println!();
    println!(
        "a {:.1} MB Cargo.lock ({remote} remote packages), {runs} runs per phase ({} warm-up \
         runs first)",
        size as f64 / 1e6,
        WARMUP.min(runs)
    );
    println!();
    println!("| phase | median ms | max ms | target | verdict |");
    println!("| --- | ---: | ---: | ---: | --- |");
    for (phase, times, target) in [
        ("discovery (root files read and fed)", &discovery, None),
        (
            "`project::analyze` (parses the lockfile)",
            &analysis,
            Some(LOCK_TARGET),
        ),
    ] {
        let median = percentile(times, 50.0);
        println!(
            "| {phase} | {} | {} | {} | {} |",
            ms(median),
            ms(percentile(times, 100.0)),
            target.map_or("–".to_string(), |t| format!("≤ {} ms", t.as_millis())),
            match target {
                Some(t) if median > t => "SLOW",
                Some(_) => "ok",
                None => "–",
            }
        );
    }
    println!();
    println!(
        "peak resident memory of this process after the lockfile phases: {}",
        peak.map_or("unknown".to_string(), |m| format!("{m} MiB"))
    );
}

/// Peak resident memory of this process (`VmHWM` in `/proc/self/status`), when known.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}
