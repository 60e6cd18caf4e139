//! What each engine contender builds: its Dockerfile or Cachet spec. Pure text, no I/O.
//!
//! All of them build the root package's binary in release mode, offline from the fixture's
//! vendored sources, with `-C target-cpu=…` as their only flags, and export just the binary
//! (`--output type=local`), so they differ only in how they use BuildKit's caches. The
//! Dockerfiles are written as their users would write them for a vendored project; none is
//! deliberately slowed down.

use super::fixture::Fixture;
use super::{rustflags, Contender, BASE_TARGET_CPU};

/// The SDK image every contender builds in.
pub const SDK_IMAGE: &str = "cachet-sdk:rustup";
/// The cargo-chef release installed on the host and copied into an SDK-derived image.
pub const CHEF_VERSION: &str = "0.1.78";
/// Where cargo-chef lives in that image (on the SDK's PATH).
pub const CHEF_PATH_IN_IMAGE: &str = "/usr/local/bin/cargo-chef";
/// The frontend image `# syntax=` names (built by `scripts/frontend-image`).
pub const FRONTEND_IMAGE: &str = "cachet/frontend:dev";

/// The SDK-derived image with cargo-chef in it.
pub fn chef_image() -> String {
    format!("cachet-bench/chef:{CHEF_VERSION}")
}

/// The Dockerfile that makes [`chef_image`] from a context holding the `cargo-chef` binary.
pub fn chef_image_dockerfile() -> String {
    format!("FROM {SDK_IMAGE}\nCOPY cargo-chef {CHEF_PATH_IN_IMAGE}\n")
}

/// The build argument that sets the codegen flags, and its value for `target_cpu`.
pub fn flags_arg(contender: Contender, target_cpu: &str) -> (&'static str, String) {
    match contender {
        Contender::Cachet => ("TARGET_CPU", target_cpu.to_string()),
        _ => ("RUSTFLAGS", rustflags(target_cpu)),
    }
}

/// The build file (`-f`) of an engine contender: its file name and text. `None` for the host.
pub fn build_file(contender: Contender, fixture: &Fixture) -> Option<(&'static str, String)> {
    Some(match contender {
        Contender::Plain => ("plain.Dockerfile", plain(fixture)),
        Contender::CacheMount => ("cache-mount.Dockerfile", cache_mount(fixture)),
        Contender::Chef => ("chef.Dockerfile", chef(fixture)),
        Contender::Cachet => ("Cachet.toml", cachet(fixture)),
        Contender::Host => return None,
    })
}

/// `--target` for the measured build (`None`: the last stage).
pub fn measured_target(contender: Contender) -> Option<&'static str> {
    match contender {
        Contender::Cachet => Some("build"),
        _ => None,
    }
}

/// On dockerd 20.10, inline cache only covers the exported image's own layers, so a CI job
/// pushes every stage it wants back as an image of its own: these targets (`None`: the last
/// stage), in build order. cargo-chef's cooked dependencies live in its `cook` stage, Cachet's
/// in the `build.deps` target.
pub fn inline_cache_targets(contender: Contender) -> Vec<Option<&'static str>> {
    match contender {
        Contender::Chef => vec![Some("cook"), None],
        Contender::Cachet => vec![Some("build.deps"), Some("build")],
        _ => vec![None],
    }
}

fn cargo_build(fixture: &Fixture) -> String {
    format!(
        "cargo build --release --offline --locked --bin {bin} && cp target/release/{bin} /{bin}",
        bin = fixture.binary
    )
}

fn rustflags_arg() -> String {
    format!("ARG RUSTFLAGS=\"{}\"", rustflags(BASE_TARGET_CPU))
}

fn export_stage(fixture: &Fixture) -> String {
    format!(
        "FROM scratch\nCOPY --from=build /{bin} /{bin}\n",
        bin = fixture.binary
    )
}

fn plain(fixture: &Fixture) -> String {
    format!(
        "FROM {SDK_IMAGE} AS build\n{arg}\nWORKDIR /src\nCOPY . .\nRUN {build}\n\n{export}",
        arg = rustflags_arg(),
        build = cargo_build(fixture),
        export = export_stage(fixture),
    )
}

fn cache_mount(fixture: &Fixture) -> String {
    format!(
        "FROM {SDK_IMAGE} AS build\n{arg}\nWORKDIR /src\nCOPY . .\n\
         RUN --mount=type=cache,target=/src/target \\\n    {build}\n\n{export}",
        arg = rustflags_arg(),
        build = cargo_build(fixture),
        export = export_stage(fixture),
    )
}

fn chef(fixture: &Fixture) -> String {
    format!(
        "FROM {chef} AS chef\nWORKDIR /src\n\n\
         FROM chef AS planner\nCOPY . .\nRUN cargo chef prepare --recipe-path recipe.json\n\n\
         FROM chef AS cook\n{arg}\n\
         COPY --from=planner /src/recipe.json recipe.json\n\
         COPY .cargo .cargo\nCOPY vendor vendor\n\
         RUN cargo chef cook --release --offline --locked --recipe-path recipe.json\n\n\
         FROM cook AS build\n{arg}\nCOPY . .\nRUN {build}\n\n{export}",
        chef = chef_image(),
        arg = rustflags_arg(),
        build = cargo_build(fixture),
        export = export_stage(fixture),
    )
}

fn cachet(fixture: &Fixture) -> String {
    format!(
        "# syntax={FRONTEND_IMAGE}\n\
         [project]\nname = \"bench-{name}\"\n\n\
         [sdk]\nimage = \"{SDK_IMAGE}\"\n\n\
         [args]\nTARGET_CPU = \"{BASE_TARGET_CPU}\"\n\n\
         [cargo]\nprofile = \"release\"\nrustflags = [\"-C\", \"target-cpu=${{TARGET_CPU}}\"]\n\n\
         [target.build]\ncargo = [\"build\", \"--bin\", \"{bin}\"]\nartifacts = {{ {bin} = \"{bin}\" }}\n",
        name = project_name(&fixture.name),
        bin = fixture.binary,
    )
}

/// A `[project] name` made of the fixture's name (spec names allow no dots).
fn project_name(fixture: &str) -> String {
    fixture
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn fixture() -> Fixture {
        Fixture {
            name: "ripgrep-14.1.1".into(),
            dir: PathBuf::from("/nowhere"),
            bumped_lock: PathBuf::from("/nowhere.lock"),
            bump: "tinydep 1.0.0 -> 1.0.1".into(),
            leaf_file: "src/main.rs".into(),
            core_file: "crates/core/src/lib.rs".into(),
            core_crate: "tiny-core".into(),
            package: "app".into(),
            binary: "app".into(),
        }
    }

    #[test]
    fn every_dockerfile_builds_the_same_binary_offline_with_the_same_flags() {
        let fx = fixture();
        for contender in [Contender::Plain, Contender::CacheMount, Contender::Chef] {
            let (_, text) = build_file(contender, &fx).unwrap();
            assert!(text.starts_with("FROM "), "{contender}: {text}");
            assert!(
                text.contains("cargo build --release --offline --locked --bin app"),
                "{contender}: {text}"
            );
            assert!(
                text.contains("ARG RUSTFLAGS=\"-C target-cpu=x86-64\""),
                "{contender}: {text}"
            );
            assert!(
                text.ends_with("FROM scratch\nCOPY --from=build /app /app\n"),
                "{contender}: {text}"
            );
        }
        let (_, mount) = build_file(Contender::CacheMount, &fx).unwrap();
        assert!(mount.contains("--mount=type=cache,target=/src/target"));
        let (_, chef) = build_file(Contender::Chef, &fx).unwrap();
        assert!(chef.contains("FROM cachet-bench/chef:0.1.78 AS chef"));
        assert!(chef.contains("FROM chef AS cook"));
        assert_eq!(build_file(Contender::Host, &fx), None);
    }

    #[test]
    fn the_cachet_spec_takes_the_cpu_as_a_build_argument() {
        let (name, spec) = build_file(Contender::Cachet, &fixture()).unwrap();
        assert_eq!(name, "Cachet.toml");
        assert!(spec.starts_with("# syntax=cachet/frontend:dev\n"), "{spec}");
        assert!(spec.contains("rustflags = [\"-C\", \"target-cpu=${TARGET_CPU}\"]"));
        assert!(spec.contains("cargo = [\"build\", \"--bin\", \"app\"]"));
        assert_eq!(
            flags_arg(Contender::Cachet, "x86-64-v2"),
            ("TARGET_CPU", "x86-64-v2".to_string())
        );
        let args =
            std::collections::BTreeMap::from([("TARGET_CPU".to_string(), "x86-64-v2".to_string())]);
        let loaded = llb_gen::spec::load("Cachet.toml", &spec, &args).expect("a valid spec");
        assert_eq!(loaded.cargo.rustflags, ["-C", "target-cpu=x86-64-v2"]);
        assert_eq!(
            flags_arg(Contender::Plain, "x86-64-v2"),
            ("RUSTFLAGS", "-C target-cpu=x86-64-v2".to_string())
        );
    }
}
