//! Pins the op digests of the built-in sample graph.
//!
//! A digest changes whenever the bytes of an op change, which changes what
//! BuildKit sees (and, for most changes, cache keys). Such a change must be
//! deliberate: regenerate with `UPDATE_GOLDEN=1 cargo test -p llb-gen --test
//! golden` and review the diff of `tests/golden/sample.digests`.

use llb_gen::llb::{decode_ops, sample, Platform, CUSTOM_NAME_KEY};
use llb_gen::proto::pb;
use std::fmt::Write as _;
use std::path::PathBuf;

fn kind(op: &pb::Op) -> &'static str {
    match &op.op {
        Some(pb::op::Op::Source(_)) => "source",
        Some(pb::op::Op::Exec(_)) => "exec",
        Some(pb::op::Op::File(_)) => "file",
        None => "terminal",
    }
}

fn render() -> String {
    let mut out = String::from(
        "# Op digests of `llb-gen sample`, in Definition order.\n\
         # Regenerate: UPDATE_GOLDEN=1 cargo test -p llb-gen --test golden\n",
    );
    for (label, platform) in [
        ("default", None),
        ("linux/amd64", Some(Platform::linux_amd64())),
    ] {
        let def = sample::sample(platform).expect("sample builds").marshal();
        writeln!(out, "\n[{label}]").expect("write to String");
        for (digest, op) in decode_ops(&def).expect("ops decode") {
            let name = def
                .metadata
                .get(digest.as_str())
                .and_then(|m| m.description.get(CUSTOM_NAME_KEY))
                .map(String::as_str)
                .unwrap_or("-");
            writeln!(out, "{digest} {:<8} {name}", kind(&op)).expect("write to String");
        }
    }
    out
}

#[test]
fn sample_digests_match_golden_file() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/sample.digests");
    let actual = render();
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, &actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "op digests of the sample graph changed.\n\
         If intended, run UPDATE_GOLDEN=1 cargo test -p llb-gen --test golden and review.\n\
         --- expected\n{expected}\n--- actual\n{actual}"
    );
}
