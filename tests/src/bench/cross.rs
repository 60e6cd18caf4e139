//! `cachet-bench --cross` (issue 20): the same fixture built by Cachet for linux/arm64
//! cross-compiled on the amd64 worker, for linux/arm64 under emulation (`[cross] emulate =
//! true`: the whole SDK runs under qemu), and for native linux/amd64, in one run on buildkitd.
//!
//! Each variant builds a copy of the fixture under a project name of its own: **cold**
//! (`--no-cache`, which also empties the selected target cache) then a **leaf edit** (one line
//! added to the binary crate's source). Every exported binary's ELF machine is checked. The
//! report is the wall times and the ratio of each arm64 variant to native amd64, against the
//! issue's goal (arm64 cross ≤ 1.5× native); nothing is asserted about speed.
//!
//! Native and cross build with the cross SDK (`CACHET_SDK_CROSS`, Debian's rustc with the arm64
//! std); the emulated variant with the multi-architecture SDK (`CACHET_SDK_MULTI`, the same
//! Debian rustc, arm64 variant made by mmdebstrap). Their cargo is Debian's 1.65, which reads
//! only `Cargo.lock` version 3: the copy's lockfile is rewritten to it (same content).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::fixture::{one_line_edit, Fixture};
use super::runner::{copy_tree, machine, tail};
use crate::{elf, fixtures, Build, Engine, Env};

const BUILD_TIMEOUT: Duration = Duration::from_secs(3600);

/// One way of building the fixture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    NativeAmd64,
    CrossArm64,
    EmulatedArm64,
}

impl Variant {
    pub const ALL: [Variant; 3] = [
        Variant::NativeAmd64,
        Variant::CrossArm64,
        Variant::EmulatedArm64,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::NativeAmd64 => "linux/amd64 native",
            Variant::CrossArm64 => "linux/arm64 cross-compiled",
            Variant::EmulatedArm64 => "linux/arm64 emulated (qemu)",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Variant::NativeAmd64 => "native",
            Variant::CrossArm64 => "cross",
            Variant::EmulatedArm64 => "emulated",
        }
    }

    fn platform(self) -> &'static str {
        match self {
            Variant::NativeAmd64 => "linux/amd64",
            _ => "linux/arm64",
        }
    }

    /// The ELF machine of the binary it must export.
    fn machine(self) -> &'static str {
        match self {
            Variant::NativeAmd64 => "x86-64",
            _ => "aarch64",
        }
    }

    fn sdk(self, env: &Env) -> String {
        match self {
            Variant::EmulatedArm64 => env.var("CACHET_SDK_MULTI").to_string(),
            _ => env.var("CACHET_SDK_CROSS").to_string(),
        }
    }
}

/// The times of one variant, in seconds.
#[derive(Clone, Debug)]
pub struct Sample {
    pub variant: Variant,
    pub cold: f64,
    pub leaf_edit: f64,
}

/// The spec of one variant.
pub fn spec(fixture: &Fixture, variant: Variant, sdk: &str, nonce: &str) -> String {
    let emulate = match variant {
        Variant::EmulatedArm64 => "[cross]\nemulate = true\n\n",
        _ => "",
    };
    format!(
        "# syntax=cachet/frontend:dev\n\
         [project]\nname = \"bench-cross-{slug}-{nonce}\"\n\n\
         [sdk]\nimage = \"{sdk}\"\n\n\
         {emulate}\
         [cargo]\nprofile = \"release\"\n\n\
         [target.build]\ncargo = [\"build\", \"--bin\", \"{bin}\"]\nartifacts = {{ {bin} = \"{bin}\" }}\n",
        slug = variant.slug(),
        bin = fixture.binary,
    )
}

fn build(dir: &Path, variant: Variant, out: &Path, cold: bool) -> Build {
    let _ = std::fs::remove_dir_all(out);
    let mut b = Engine::Buildx
        .build(dir)
        .file(dir.join("Cachet.toml"))
        .target("build")
        .arg(format!("--platform={}", variant.platform()))
        .local_output(out)
        .timeout(BUILD_TIMEOUT);
    if cold {
        b = b.no_cache();
    }
    b
}

/// One timed build; the exported binary must have the variant's machine.
fn timed(
    dir: &Path,
    variant: Variant,
    fixture: &Fixture,
    what: &str,
    cold: bool,
) -> Result<f64, String> {
    let out = dir.with_extension(format!("out-{}", what.replace(' ', "-")));
    let result = build(dir, variant, &out, cold).run();
    if !result.success() {
        return Err(format!(
            "{} {what}: build failed:\n{}",
            variant.name(),
            tail(result.progress(), 40)
        ));
    }
    let binary = out.join(&fixture.binary);
    if !binary.is_file() {
        return Err(format!(
            "{} {what}: no {}",
            variant.name(),
            binary.display()
        ));
    }
    let got = elf::machine(&binary);
    if got != variant.machine() {
        return Err(format!(
            "{} {what}: the binary is {got}, not {}",
            variant.name(),
            variant.machine()
        ));
    }
    let secs = result.captured.elapsed.as_secs_f64();
    eprintln!("[bench --cross] {} {what}: {secs:.1} s", variant.name());
    let _ = std::fs::remove_dir_all(&out);
    Ok(secs)
}

/// Build every variant cold, then after a leaf edit. `work` is emptied first.
pub fn run(fixture: &Fixture, work: &Path) -> Result<Vec<Sample>, String> {
    let env = Env::get();
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    let nonce = fixtures::nonce();
    let mut samples = Vec::new();
    for variant in Variant::ALL {
        let dir = work.join(variant.slug());
        copy_tree(&fixture.dir, &dir).map_err(|e| format!("copying the fixture: {e}"))?;
        let lock = dir.join("Cargo.lock");
        let text =
            std::fs::read_to_string(&lock).map_err(|e| format!("{}: {e}", lock.display()))?;
        std::fs::write(
            &lock,
            text.replacen("\nversion = 4\n", "\nversion = 3\n", 1),
        )
        .map_err(|e| e.to_string())?;
        std::fs::write(
            dir.join("Cachet.toml"),
            spec(fixture, variant, &variant.sdk(env), &nonce),
        )
        .map_err(|e| e.to_string())?;
        let cold = timed(&dir, variant, fixture, "cold", true)?;
        one_line_edit(&dir, &fixture.leaf_file, 1).map_err(|e| e.to_string())?;
        let leaf_edit = timed(&dir, variant, fixture, "leaf edit", false)?;
        samples.push(Sample {
            variant,
            cold,
            leaf_edit,
        });
    }
    Ok(samples)
}

/// The report: one row per variant, its ratio to native amd64, and the goal.
pub fn markdown(fixture: &str, samples: &[Sample], date: &str) -> String {
    let native = samples.iter().find(|s| s.variant == Variant::NativeAmd64);
    let ratio = |t: f64, n: Option<f64>| match n {
        Some(n) if n > 0.0 => format!("{:.2}×", t / n),
        _ => "-".to_string(),
    };
    let mut out = String::from(
        "| variant | cold | leaf edit | cold / native amd64 | leaf edit / native amd64 |\n\
         | --- | ---: | ---: | ---: | ---: |\n",
    );
    for s in samples {
        let _ = writeln!(
            out,
            "| {} | {:.1} s | {:.1} s | {} | {} |",
            s.variant.name(),
            s.cold,
            s.leaf_edit,
            ratio(s.cold, native.map(|n| n.cold)),
            ratio(s.leaf_edit, native.map(|n| n.leaf_edit)),
        );
    }
    if let (Some(n), Some(c)) = (
        native,
        samples.iter().find(|s| s.variant == Variant::CrossArm64),
    ) {
        let worst = (c.cold / n.cold).max(c.leaf_edit / n.leaf_edit);
        let _ = writeln!(
            out,
            "\nGoal (issue 20): arm64 cross-compiled ≤ 1.5× native amd64: {} (worst ratio {worst:.2}×).",
            if worst <= 1.5 { "met" } else { "not met" }
        );
    }
    let _ = writeln!(
        out,
        "\nFixture `{fixture}`, buildkitd, one run, {date}, on {}. \
         Command: `scripts/bench --cross`.",
        machine()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture() -> Fixture {
        Fixture {
            name: "tiny".into(),
            dir: PathBuf::from("/nonexistent"),
            bumped_lock: PathBuf::from("/nonexistent.lock"),
            bump: String::new(),
            leaf_file: PathBuf::from("src/main.rs"),
            core_file: PathBuf::from("crates/core/src/lib.rs"),
            core_crate: "tiny-core".into(),
            package: "app".into(),
            binary: "app".into(),
        }
    }

    #[test]
    fn only_the_emulated_spec_opts_in_and_every_spec_loads() {
        for variant in Variant::ALL {
            let text = spec(&fixture(), variant, "cachet-sdk:cross", "n0");
            let spec = llb_gen::spec::load("Cachet.toml", &text, &Default::default())
                .unwrap_or_else(|e| panic!("{variant:?}: {e}\n{text}"));
            assert!(spec.targets.contains_key("build"));
            assert_eq!(
                text.contains("emulate = true"),
                variant == Variant::EmulatedArm64,
                "{text}"
            );
        }
    }

    #[test]
    fn the_report_gives_ratios_to_native_and_the_goal() {
        let sample = |variant, cold, leaf_edit| Sample {
            variant,
            cold,
            leaf_edit,
        };
        let table = markdown(
            "tiny",
            &[
                sample(Variant::NativeAmd64, 10.0, 4.0),
                sample(Variant::CrossArm64, 12.0, 5.0),
                sample(Variant::EmulatedArm64, 80.0, 20.0),
            ],
            "2026-12-02",
        );
        assert!(
            table.contains("| linux/arm64 cross-compiled | 12.0 s | 5.0 s | 1.20× | 1.25× |"),
            "{table}"
        );
        assert!(table.contains("| 8.00× | 5.00× |"), "{table}");
        assert!(table.contains(": met (worst ratio 1.25×)"), "{table}");
    }
}
