//! The workspace benchmark as a markdown table: each scenario of `benches/workspace.rs` run
//! [`RUNS`] times on the generated 200-member workspace, with its median and p95 against the
//! 50 ms target (per build: the row that compiles all five targets gets 5 × 50 ms). It
//! reports; it never fails on a slow result.
//!
//! `cargo bench -p llb-gen --bench workspace_table` (`CACHET_BENCH_RUNS=N` for another count;
//! without `--bench`, as under `cargo test --benches`, each scenario runs once).

use std::hint::black_box;
use std::time::{Duration, Instant};

#[allow(dead_code)]
#[path = "workspace.rs"]
mod workspace;

use llb_gen::compile::BuildRequest;
use llb_gen::project;
use workspace::{
    checked_layout, compiled, end_to_end, load, multi_target_spec, one_target_spec, project,
    request, MEMBERS,
};

/// Timed runs per scenario (at least 30), after [`WARMUP`] untimed ones.
const RUNS: usize = 50;
const WARMUP: usize = 3;
const TARGET: Duration = Duration::from_millis(50);

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
    let runs = match std::env::var("CACHET_BENCH_RUNS") {
        Ok(n) => n
            .parse()
            .unwrap_or_else(|_| panic!("CACHET_BENCH_RUNS={n}: not a number")),
        Err(_) if benching => RUNS,
        Err(_) => 1,
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
}
