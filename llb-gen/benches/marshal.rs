//! Marshalling a 1,000-op graph (target: well under 5 ms).
//!
//! The graph mixes sources, execs with several mount kinds and chained file
//! ops, with both long dependency chains and shared inputs, roughly what a
//! large multi-target Cachet spec compiles to.

use criterion::{criterion_group, criterion_main, Criterion};
use llb_gen::llb::{
    definition_bytes, CacheSharing, Copy, Image, Local, Mkdir, Mkfile, Mount, Result, State,
};
use std::hint::black_box;

/// Builds a graph of exactly `ops` distinct ops (plus the terminal).
fn graph(ops: usize) -> Result<State> {
    let base = Image::new("docker.io/library/cachet-sdk:rustup")?.into_state();
    let ctx = Local::new("context")?
        .exclude_patterns(["target"])
        .into_state();
    let mut made = 2;
    let mut layers: Vec<State> = vec![base.clone()];
    let mut cur = base;
    let mut i = 0usize;
    while made < ops {
        if i.is_multiple_of(2) {
            cur = cur
                .file()
                .mkdir(Mkdir::new(format!("/w/{i}"), 0o755).make_parents(true))
                .copy(
                    Copy::new(&ctx, format!("src/{i}"), format!("/w/{i}/")).create_dest_path(true),
                )
                .mkfile(Mkfile::new(format!("/w/{i}/stamp"), 0o644, i.to_string()))
                .custom_name(format!("files {i}"))
                .build()?;
        } else {
            let other = &layers[i % layers.len()];
            let run = cur
                .dir("/w")
                .run(["sh", "-c", &format!("step {i}")])
                .env("STEP", i.to_string())
                .mount(Mount::bind("/in", other).readonly().source_path("/w"))
                .mount(Mount::bind("/out", &State::scratch()))
                .mount(Mount::cache("/cache", "c").sharing(CacheSharing::Locked))
                .mount(Mount::tmpfs("/tmp"))
                .custom_name(format!("step {i}"))
                .build()?;
            cur = run.root();
            if i % 10 == 1 {
                layers.push(run.get_mount("/out")?);
            }
        }
        made += 1;
        i += 1;
    }
    Ok(cur)
}

fn bench(c: &mut Criterion) {
    let st = match graph(1000) {
        Ok(st) => st,
        Err(e) => panic!("bench graph: {e}"),
    };
    assert_eq!(st.marshal().def.len(), 1001);

    c.bench_function("marshal 1000 ops (prebuilt graph)", |b| {
        b.iter(|| black_box(&st).marshal())
    });
    c.bench_function("marshal 1000 ops to bytes", |b| {
        b.iter(|| definition_bytes(&black_box(&st).marshal()))
    });
    c.bench_function("build + marshal 1000 ops", |b| {
        b.iter(|| match graph(black_box(1000)) {
            Ok(st) => definition_bytes(&st.marshal()),
            Err(e) => panic!("bench graph: {e}"),
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
