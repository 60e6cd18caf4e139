//! Vendored crates that list their files travel apart from the sources (`vendored.rs`).

use super::tests::{
    compiled_travelling, compiled_with, exec_ops, local_sources, workspace_files, REMOTE_LOCK, SPEC,
};
use crate::project::ProjectFiles;
use crate::proto::pb;

/// The workspace, vendoring crates.io into `vendor/`: `serde` lists its one file (with
/// `sum`), `tiny` lists none.
fn vendoring(sum: &str) -> ProjectFiles {
    let mut p = workspace_files(REMOTE_LOCK);
    p.files.insert(
        ".cargo/config.toml".into(),
        b"[source.crates-io]\nreplace-with = \"vendored\"\n[source.vendored]\ndirectory = \"vendor\"\n"
            .to_vec(),
    );
    p.files.insert(
        "vendor/serde/.cargo-checksum.json".into(),
        format!("{{\"files\":{{\"src/lib.rs\":\"{sum}\"}},\"package\":\"p\"}}").into_bytes(),
    );
    p.files.insert(
        "vendor/tiny/.cargo-checksum.json".into(),
        b"{\"files\":{},\"package\":\"q\"}".to_vec(),
    );
    p
}

fn hint(l: &pb::SourceOp) -> &str {
    l.attrs["local.sharedkeyhint"].as_str()
}

fn includes(l: &pb::SourceOp) -> Vec<String> {
    l.attrs
        .get("local.includepattern")
        .map(|p| serde_json::from_str(p).unwrap())
        .unwrap_or_default()
}

fn incremental(c: &super::Compiled) -> Vec<pb::SourceOp> {
    local_sources(c)
        .into_iter()
        .filter(|l| hint(l).contains("-vendored-"))
        .collect()
}

#[test]
fn listed_vendored_crates_travel_incrementally_everything_else_afresh() {
    let c = compiled_with(SPEC, "build", vendoring("aa"));
    let stable = incremental(&c);
    assert_eq!(stable.len(), 1, "{stable:?}");
    assert_eq!(includes(&stable[0]), ["vendor/serde"]);
    assert!(!hint(&stable[0]).contains("session-1"), "{stable:?}");
    let fresh: Vec<pb::SourceOp> = local_sources(&c)
        .into_iter()
        .filter(|l| !hint(l).contains("-vendored-"))
        .collect();
    assert!(
        fresh.len() >= 2,
        "sources and the checksum files: {fresh:?}"
    );
    for l in &fresh {
        assert!(hint(l).ends_with("-session-1"), "{l:?}");
        assert!(!includes(l).contains(&"vendor".to_string()), "{l:?}");
    }
    let checksums = fresh
        .iter()
        .find(|l| includes(l).contains(&"vendor/tiny".to_string()))
        .expect("the unlisted crate travels afresh");
    for p in [
        "vendor/serde/.cargo-checksum.json",
        "vendor/tiny/.cargo-checksum.json",
        "vendor/*/Cargo.toml",
    ] {
        assert!(includes(checksums).contains(&p.to_string()), "{p}");
    }
    // A checksum file's edit moves the key: the directory travels afresh once.
    let other = incremental(&compiled_with(SPEC, "build", vendoring("bb")));
    assert_ne!(hint(&other[0]), hint(&stable[0]));
    let again = incremental(&compiled_with(SPEC, "build", vendoring("aa")));
    assert_eq!(hint(&again[0]), hint(&stable[0]), "and only then");
}

#[test]
fn cargo_and_layer_steps_mount_the_checked_tree_and_read_its_fingerprints() {
    let c = compiled_travelling(SPEC, "build", vendoring("aa"));
    let execs = exec_ops(&c);
    let check: Vec<&pb::ExecOp> = execs
        .iter()
        .filter(|e| e.meta.as_ref().unwrap().args.get(1).map(String::as_str) == Some("vendored"))
        .collect();
    assert_eq!(check.len(), 1, "one check per build");
    assert_eq!(
        check[0].meta.as_ref().unwrap().args,
        [
            "/cachet/helper/cachet-helper",
            "vendored",
            "--root",
            "/cachet/vendored-tree",
            "--out",
            "/cachet/vendored",
            "--dir",
            "vendor"
        ]
    );
    let cargo: Vec<&pb::ExecOp> = execs
        .iter()
        .filter(|e| e.meta.as_ref().unwrap().args[2].contains("cachet-helper freshness"))
        .collect();
    assert!(cargo.len() >= 2, "the dependency layer and the build");
    for e in cargo {
        let script = &e.meta.as_ref().unwrap().args[2];
        assert!(
            script.contains(" --vendor vendor --premade vendor=/cachet/vendored/0"),
            "{script}"
        );
        let tree = e
            .mounts
            .iter()
            .find(|m| m.dest == "/cachet/src/vendor")
            .expect("the tree at its place");
        assert!(tree.readonly && tree.selector == "/vendor", "{tree:?}");
        let premade = e.mounts.iter().find(|m| m.dest == "/cachet/vendored");
        assert!(premade.is_some_and(|m| m.readonly), "{:?}", e.mounts);
    }
}

#[test]
fn vendor_directories_that_list_no_files_travel_with_the_sources_as_before() {
    let mut p = vendoring("aa");
    p.files.insert(
        "vendor/serde/.cargo-checksum.json".into(),
        b"{\"files\":{},\"package\":\"p\"}".to_vec(),
    );
    let c = compiled_with(SPEC, "build", p);
    assert!(incremental(&c).is_empty());
    assert!(local_sources(&c)
        .iter()
        .any(|l| includes(l).contains(&"vendor".to_string())));
    assert!(exec_ops(&c)
        .iter()
        .all(|e| !e.mounts.iter().any(|m| m.dest == "/cachet/src/vendor")));
}
