//! The CLI must emit byte-identical LLB across separate processes: any
//! hidden nondeterminism (hash-map order, randomness, timestamps) would
//! change op digests and defeat BuildKit's caching.

use llb_gen::llb::{decode_definition, decode_ops, Digest};
use std::process::Command;

fn run(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
        .args(args)
        .output()
        .expect("llb-gen runs");
    assert!(
        out.status.success(),
        "llb-gen {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn binary_output_is_identical_across_processes() {
    for args in [
        &["sample", "--format", "binary"][..],
        &["sample", "--format", "binary", "--platform", "linux/arm64"][..],
    ] {
        let a = run(args);
        let b = run(args);
        assert!(!a.is_empty());
        assert_eq!(a, b, "llb-gen {args:?} differs between runs");

        let def = decode_definition(&a).expect("stdout is a pb.Definition");
        let ops = decode_ops(&def).expect("ops decode");
        assert!(ops.len() >= 2);
        for key in def.metadata.keys() {
            assert!(ops.iter().any(|(d, _)| d.as_str() == key));
        }
        let terminal = ops.last().expect("terminal");
        assert_eq!(terminal.1.inputs.len(), 1);
        assert_eq!(
            terminal.0,
            Digest::of(def.def.last().expect("terminal bytes"))
        );
    }
}

#[test]
fn json_output_is_identical_and_valid() {
    let a = run(&["sample", "--format", "json"]);
    let b = run(&["sample", "--format", "json"]);
    assert_eq!(a, b);
    let v: serde_json::Value = serde_json::from_slice(&a).expect("valid JSON");
    let ops = v["ops"].as_array().expect("ops array");
    assert!(ops.iter().all(|op| op["digest"]
        .as_str()
        .is_some_and(|d| d.starts_with("sha256:"))));
}

#[test]
fn bad_arguments_fail_cleanly() {
    let out = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
        .args(["sample", "--platform", "not a platform"])
        .output()
        .expect("llb-gen runs");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing on stdout when failing");
}
