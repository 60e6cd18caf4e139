//! Real BuildKit accepts and executes what llb-gen marshals: the sample graph (image and local
//! sources; a chained file op with mkdir, copy, mkfile and rm; an exec with root, read-only bind
//! with selector, writable output bind, cache, tmpfs, optional secret and optional SSH mounts;
//! a copy onto scratch) is piped into `buildctl build` on the standalone buildkitd.
//! (dockerd 20.10 takes no raw LLB from a client; the frontend tests run our graphs there.)

use std::io::Write;
use std::process::{Command, Stdio};

use cachet_tests::{Env, TempProject};
use llb_gen::llb::{definition_bytes, sample};

#[test]
fn buildkitd_executes_the_sample_graph() {
    let env = Env::get();
    let buildctl = env.buildctl().expect("BUILDCTL in the environment file");
    let project = TempProject::new("llb-sample");
    let context = project.path().join("context");
    let out = project.path().join("out");
    std::fs::create_dir_all(context.join("target")).unwrap();
    std::fs::write(context.join("hello.txt"), "hi").unwrap();
    std::fs::write(context.join("target/junk"), "excluded").unwrap();

    let definition = definition_bytes(&sample::sample(None).unwrap().marshal());
    let mut child = Command::new(buildctl)
        .args(["--addr", env.buildkit_host(), "build", "--progress=plain"])
        .arg(format!("--local=context={}", context.display()))
        .arg(format!("--output=type=local,dest={}", out.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&definition).unwrap();
    let result = child.wait_with_output().unwrap();
    let progress = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "buildctl build failed:\n{progress}"
    );

    // The exec ran the script that mkfile wrote, with the context mounted read-only.
    let script = std::fs::read_to_string(out.join("build.sh"))
        .expect("the exec's output mount was collected");
    assert!(script.starts_with("#!/bin/sh"), "{script}");
    let listing = std::fs::read_to_string(out.join("context-listing.txt")).unwrap();
    assert!(listing.contains("hello.txt"), "{listing}");
    assert!(
        !listing.contains("target"),
        "exclude patterns apply: {listing}"
    );
    for step in ["prepare workspace", "run build script", "collect artifacts"] {
        assert!(
            progress.contains(step),
            "progress names come from llb.customname: {step}\n{progress}"
        );
    }
}
