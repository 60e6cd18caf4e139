//! Which steps the plan gives local, travelling and override builds, and that LLB generation
//! makes exactly those.

use std::collections::BTreeMap;

use super::super::tests::{
    request, workspace_files, workspace_with_a_library, REMOTE_LOCK, SDK_DIGEST, SPEC,
};
use super::*;
use crate::compile::{compile, Compiled, StepKind};
use crate::project::ProjectFiles;
use crate::spec;

/// A lockfile with only the project's own package: nothing to fetch or prebuild.
const LOCAL_LOCK: &str = "version = 3\n\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n";

struct Build {
    spec: String,
    target: &'static str,
    project: ProjectFiles,
    travels: bool,
    args: BTreeMap<String, String>,
}

impl Build {
    fn new(target: &'static str) -> Build {
        Build {
            spec: SPEC.to_string(),
            target,
            project: workspace_files(REMOTE_LOCK),
            travels: false,
            args: BTreeMap::new(),
        }
    }

    fn travelling(self) -> Build {
        Build {
            travels: true,
            ..self
        }
    }

    fn layers(self, policy: &str) -> Build {
        let spec = self.spec.replace(
            "[target.build]",
            &format!("[cache]\nlayers = \"{policy}\"\n\n[target.build]"),
        );
        Build { spec, ..self }
    }

    fn request(&self) -> super::super::BuildRequest {
        let mut req = request(self.target, SDK_DIGEST);
        req.project = self.project.clone();
        req.cache_travels = self.travels;
        req
    }

    fn spec(&self) -> crate::spec::Spec {
        spec::load("Cachet.toml", &self.spec, &self.args).unwrap()
    }

    /// The plan, and the compiled build, checked against each other.
    fn planned(&self) -> (Plan, Compiled) {
        let (spec, req) = (self.spec(), self.request());
        let planned = plan(&spec, &req).unwrap();
        let compiled = compile(&spec, &req).unwrap();
        assert_eq!(compiled.plan, planned, "compile walks the plan it reports");
        assert_walked(&planned, &compiled);
        (planned, compiled)
    }
}

/// The compiled build has exactly the planned steps, in the plan's order: every step the plan
/// gives a layer of its own has its record, shared and unplanned ones have none.
fn assert_walked(plan: &Plan, compiled: &Compiled) {
    let planned: Vec<(String, StepKind)> = plan
        .steps
        .iter()
        .filter(|s| s.planned() && s.shared_with.is_none())
        .map(|s| (s.target.clone(), s.kind))
        .collect();
    let made: Vec<(String, StepKind)> = compiled
        .steps
        .iter()
        .map(|s| (s.target.clone(), s.kind))
        .collect();
    assert_eq!(made, planned, "{:#?}", plan.steps);
}

fn reason(plan: &Plan, target: &str, kind: StepKind) -> Reason {
    plan.step(target, kind)
        .unwrap_or_else(|| panic!("no decision on {target} {kind:?}: {plan:#?}"))
        .reason
        .clone()
}

fn sentence(plan: &Plan, target: &str, kind: StepKind) -> String {
    plan.step(target, kind).unwrap().sentence()
}

#[test]
fn a_local_build_is_one_cargo_step_on_its_target_cache() {
    let (plan, _) = Build::new("build").planned();
    assert_eq!(
        reason(&plan, "fetch", StepKind::Fetch),
        Reason::Fetch { packages: 1 }
    );
    assert_eq!(
        sentence(&plan, "fetch", StepKind::Fetch),
        "fetch: Cargo.lock has 1 registry/git package and the project does not vendor"
    );
    assert_eq!(
        reason(&plan, "build", StepKind::Dependencies),
        Reason::CacheLocal
    );
    assert_eq!(
        sentence(&plan, "build", StepKind::Dependencies),
        "no dependency layer: the cache stays on this builder, the target cache mount is warm \
         ([cache] layers = \"auto\")"
    );
    assert_eq!(
        reason(&plan, "build", StepKind::WorkspaceDependencies),
        Reason::CacheLocal
    );
    assert_eq!(
        reason(&plan, "build", StepKind::Cargo),
        Reason::CargoTarget { seeded: false }
    );
    assert!(!plan.has("sdk", StepKind::SdkSetup));
    assert_eq!(reason(&plan, "sdk", StepKind::SdkSetup), Reason::SdkAsIs);
}

#[test]
fn a_travelling_build_gets_both_layers() {
    let mut build = Build::new("build").travelling();
    build.project = workspace_with_a_library();
    let (plan, compiled) = build.planned();
    assert_eq!(
        reason(&plan, "build", StepKind::Dependencies),
        Reason::CacheTravels
    );
    assert_eq!(
        sentence(&plan, "build", StepKind::Dependencies),
        "dependency layer: the build's cache travels (--cache-from / inline cache)"
    );
    assert_eq!(
        reason(&plan, "build", StepKind::WorkspaceDependencies),
        Reason::CacheTravels
    );
    assert_eq!(
        reason(&plan, "build", StepKind::Cargo),
        Reason::CargoTarget { seeded: true }
    );
    assert!(compiled
        .steps
        .iter()
        .any(|s| s.kind == StepKind::WorkspaceDependencies));

    // Without workspace members below the step, only the third-party layer.
    let (plan, _) = Build::new("build").travelling().planned();
    assert!(plan.has("build", StepKind::Dependencies));
    assert_eq!(
        reason(&plan, "build", StepKind::WorkspaceDependencies),
        Reason::NoDependencyMembers
    );
}

#[test]
fn layers_always_plans_both_on_a_local_build() {
    let mut build = Build::new("build").layers("always");
    build.project = workspace_with_a_library();
    let (plan, _) = build.planned();
    assert_eq!(
        reason(&plan, "build", StepKind::Dependencies),
        Reason::LayersAlways
    );
    assert_eq!(
        reason(&plan, "build", StepKind::WorkspaceDependencies),
        Reason::LayersAlways
    );
    assert_eq!(
        sentence(&plan, "build", StepKind::Dependencies),
        "dependency layer: [cache] layers = \"always\""
    );
}

#[test]
fn layers_never_plans_none_even_when_the_cache_travels() {
    let mut build = Build::new("build").layers("never").travelling();
    build.project = workspace_with_a_library();
    let (plan, _) = build.planned();
    assert_eq!(
        reason(&plan, "build", StepKind::Dependencies),
        Reason::LayersNever
    );
    assert_eq!(
        reason(&plan, "build", StepKind::WorkspaceDependencies),
        Reason::LayersNever
    );
    assert!(plan.fetches(), "the sources are still fetched");
    // Nor for a `.deps` target, which is then an error before any LLB.
    let mut deps = Build::new("build.deps").layers("never");
    deps.project = workspace_with_a_library();
    let e = plan_err(&deps);
    assert!(e.contains("`[cache] layers = \"never\"`"), "{e}");
}

fn plan_err(build: &Build) -> String {
    plan(&build.spec(), &build.request())
        .unwrap_err()
        .to_string()
}

#[test]
fn a_deps_target_plans_its_layer_on_a_local_build() {
    let mut build = Build::new("build.deps");
    build.project = workspace_with_a_library();
    let (plan, compiled) = build.planned();
    assert_eq!(
        reason(&plan, "build", StepKind::Dependencies),
        Reason::LayerRequested {
            target: "build.deps".into()
        }
    );
    assert_eq!(
        reason(&plan, "build", StepKind::WorkspaceDependencies),
        Reason::CacheLocal,
        "the workspace layer only pays when the cache travels"
    );
    assert!(compiled
        .steps
        .iter()
        .any(|s| s.kind == StepKind::Dependencies));
    // `lint` (clippy) has none of its own: the target asks for `build`'s layer, but every
    // cargo step of the closure gets one, as before.
    let mut image = Build::new("image.deps");
    image.project = workspace_files(REMOTE_LOCK);
    assert!(plan_err(&image).contains("has no dependency layer"));
}

#[test]
fn a_project_with_nothing_to_fetch_has_no_fetch_step_and_no_layer() {
    let mut build = Build::new("build").travelling();
    build.project = workspace_files(LOCAL_LOCK);
    let (plan, _) = build.planned();
    assert_eq!(
        reason(&plan, "fetch", StepKind::Fetch),
        Reason::NothingToFetch
    );
    assert_eq!(
        sentence(&plan, "fetch", StepKind::Fetch),
        "no fetch: Cargo.lock has no registry or git packages"
    );
    assert_eq!(
        reason(&plan, "build", StepKind::Dependencies),
        Reason::NoThirdParty
    );
    assert_eq!(
        reason(&plan, "build", StepKind::WorkspaceDependencies),
        Reason::NoDependencyLayer
    );

    // No metadata at all: the whole context, nothing fetched.
    let mut bare = Build::new("build").travelling();
    bare.project = ProjectFiles::default();
    let (plan, _) = bare.planned();
    assert_eq!(
        reason(&plan, "fetch", StepKind::Fetch),
        Reason::LayoutUnknown
    );
    assert!(!plan.has("build", StepKind::Dependencies));
}

#[test]
fn a_vendoring_project_has_no_fetch_step_but_its_layer() {
    let mut project = workspace_files(REMOTE_LOCK);
    project.files.insert(
        ".cargo/config.toml".to_string(),
        b"[source.crates-io]\nreplace-with = \"vendored\"\n[source.vendored]\ndirectory = \"third_party\"\n"
            .to_vec(),
    );
    let mut build = Build::new("build").travelling();
    build.project = project.clone();
    let (plan, _) = build.planned();
    assert_eq!(
        reason(&plan, "fetch", StepKind::Fetch),
        Reason::VendoredByProject { packages: 1 }
    );
    assert!(!plan.fetches());
    assert_eq!(
        reason(&plan, "build", StepKind::Dependencies),
        Reason::CacheTravels
    );

    let mut local = Build::new("build");
    local.project = project;
    let (plan, _) = local.planned();
    assert!(!plan.fetches());
    assert!(!plan.has("build", StepKind::Dependencies));
}

/// Two cargo targets whose prebuilds agree (same command, same environment) and a third with
/// its own environment.
const SHARING_SPEC: &str = r#"
[project]
name = "hello"
[sdk]
image = "cachet-sdk:rustup"
[cargo]
env = { CFLAGS = "-O2" }
[target.build]
cargo = ["build", "--bin", "hello"]
artifacts = { hello = "hello" }
[target.again]
cargo = ["build", "--bin", "hello"]
artifacts = { hello = "hello" }
[target.tuned]
cargo = ["build", "--bin", "hello"]
env = { CFLAGS = "-Os" }
artifacts = { hello = "hello" }
[target.docs]
cargo = ["doc"]
[target.image]
from = "scratch"
copy = [
  { from = "+build", artifact = "hello", to = "/a" },
  { from = "+again", artifact = "hello", to = "/b" },
  { from = "+tuned", artifact = "hello", to = "/c" },
]
"#;

#[test]
fn steps_that_agree_on_command_and_environment_share_one_layer() {
    let mut build = Build::new("image").travelling();
    build.spec = SHARING_SPEC.to_string();
    build.project = workspace_with_a_library();
    let (plan, compiled) = build.planned();
    let order: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::Cargo || s.kind == StepKind::Image)
        .map(|s| s.target.as_str())
        .collect();
    let closure = build.spec().closure("image");
    assert_eq!(order, closure, "targets in closure order");
    let first = closure
        .iter()
        .position(|t| t == "build")
        .zip(closure.iter().position(|t| t == "again"))
        .map(|(b, a)| {
            if b < a {
                ("build", "again")
            } else {
                ("again", "build")
            }
        })
        .unwrap();
    let (owner, sharer) = first;
    assert_eq!(plan.shared_with(owner, StepKind::Dependencies), None);
    assert_eq!(
        plan.shared_with(sharer, StepKind::Dependencies),
        Some(owner)
    );
    assert_eq!(
        plan.shared_with(sharer, StepKind::WorkspaceDependencies),
        Some(owner)
    );
    assert!(
        sentence(&plan, sharer, StepKind::Dependencies).ends_with(&format!(
            "; shared with `{owner}` (same prebuild command and environment)"
        ))
    );
    assert_eq!(
        plan.shared_with("tuned", StepKind::Dependencies),
        None,
        "its own CFLAGS"
    );
    assert!(plan.has("tuned", StepKind::Dependencies));
    let layers = compiled
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::Dependencies)
        .count();
    assert_eq!(layers, 2, "one for build and again, one for tuned");

    // The sharer's cargo step mounts the owner's layer.
    let deps_mount = |target: &str| {
        let record = compiled
            .steps
            .iter()
            .find(|s| s.target == target && s.kind == StepKind::Cargo)
            .unwrap();
        crate::llb::decode_ops(&compiled.definition)
            .unwrap()
            .into_iter()
            .find(|(d, _)| d.to_string() == record.digest)
            .map(|(_, op)| {
                let Some(crate::proto::pb::op::Op::Exec(exec)) = &op.op else {
                    panic!("a cargo step is an exec")
                };
                let mount = exec
                    .mounts
                    .iter()
                    .find(|m| m.dest == super::super::deps_step::DEPS_DIR)
                    .expect("a seeded step mounts its layer");
                op.inputs[mount.input as usize].digest.clone()
            })
            .unwrap()
    };
    assert_eq!(deps_mount("build"), deps_mount("again"));
    assert_ne!(deps_mount("build"), deps_mount("tuned"));
}

#[test]
fn a_step_that_does_not_build_gets_no_layer() {
    let mut build = Build::new("docs").travelling();
    build.spec = SHARING_SPEC.to_string();
    build.project = workspace_with_a_library();
    let (plan, _) = build.planned();
    assert_eq!(
        sentence(&plan, "docs", StepKind::Dependencies),
        "no dependency layer: `cargo doc` does not compile dependencies the way a build does"
    );
    assert_eq!(
        reason(&plan, "docs", StepKind::WorkspaceDependencies),
        Reason::NoDependencyLayer
    );
}

#[test]
fn an_extended_sdk_plans_its_setup_and_an_image_only_build_plans_no_sdk() {
    let mut build = Build::new("build");
    build.spec = SPEC.replace(
        "image = \"cachet-sdk:rustup\"",
        "image = \"cachet-sdk:rustup\"\npackages = [\"cmake\"]",
    );
    let (plan, _) = build.planned();
    assert_eq!(
        reason(&plan, "sdk", StepKind::SdkSetup),
        Reason::SdkExtended {
            packages: 1,
            commands: 0
        }
    );

    let mut image = Build::new("plain");
    image.spec = format!("{SPEC}[target.plain]\nfrom = \"scratch\"\nentrypoint = [\"/x\"]\n");
    let (plan, _) = image.planned();
    assert_eq!(reason(&plan, "sdk", StepKind::SdkSetup), Reason::NoSdkStep);
    assert_eq!(reason(&plan, "fetch", StepKind::Fetch), Reason::NoCargoStep);
    assert_eq!(reason(&plan, "plain", StepKind::Image), Reason::ImageTarget);
}

#[test]
fn crates_the_project_vendors_get_their_check_only_when_a_checksum_file_lists_files() {
    let vendoring = |serde_files: &str| {
        let mut project = workspace_files(REMOTE_LOCK);
        project.files.insert(
            ".cargo/config.toml".to_string(),
            b"[source.crates-io]\nreplace-with = \"vendored\"\n[source.vendored]\ndirectory = \"vendor\"\n"
                .to_vec(),
        );
        project.files.insert(
            "vendor/serde/.cargo-checksum.json".to_string(),
            format!("{{\"files\":{{{serde_files}}},\"package\":\"p\"}}").into_bytes(),
        );
        project.files.insert(
            "vendor/tiny/.cargo-checksum.json".to_string(),
            b"{\"files\":{},\"package\":\"q\"}".to_vec(),
        );
        project
    };

    let mut listed = Build::new("build");
    listed.project = vendoring("\"src/lib.rs\":\"aa\"");
    let (plan, compiled) = listed.planned();
    assert_eq!(
        reason(&plan, VENDORED_TARGET, StepKind::VendoredCheck),
        Reason::VendoredListed {
            listed: 1,
            unlisted: 1
        }
    );
    assert!(compiled
        .steps
        .iter()
        .any(|s| s.kind == StepKind::VendoredCheck && s.inputs["listed_crates"] == 1));
    assert!(
        sentence(&plan, VENDORED_TARGET, StepKind::VendoredCheck).starts_with(
            "vendored-crates check: 1 vendored crate lists its files in .cargo-checksum.json"
        ),
        "{plan:#?}"
    );

    let mut unlisted = Build::new("build");
    unlisted.project = vendoring("");
    let (plan, compiled) = unlisted.planned();
    assert_eq!(
        reason(&plan, VENDORED_TARGET, StepKind::VendoredCheck),
        Reason::VendoredUnlisted
    );
    assert!(!plan.has(VENDORED_TARGET, StepKind::VendoredCheck));
    assert!(compiled
        .steps
        .iter()
        .all(|s| s.kind != StepKind::VendoredCheck));

    let (plan, _) = Build::new("build").planned();
    assert!(
        plan.step(VENDORED_TARGET, StepKind::VendoredCheck)
            .is_none(),
        "no decision for a project that does not vendor: {plan:#?}"
    );
}
