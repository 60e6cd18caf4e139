//! The cases of the matrix, in groups that share one warm-up build.
//!
//! A case perturbs the state the previous case left (see [`Group`]); its expectation is the
//! one Cachet documents: a changed key input (flags, env, SDK, toolchain files, cargo config,
//! features, profile, platform) selects another target cache, cold the first time and warm
//! when switched back to; a source edit runs cargo on the warm cache, which recompiles what
//! depends on the edit and nothing else; an edit cargo does not read rebuilds nothing.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::fixture::{self, State, Target};
use super::{Expect, Subject};
use crate::process;
use crate::{Engine, Env};

/// Changes the state (files, spec, command line); may set up images. `Err` means the engine
/// cannot express the perturbation: the row is N/A with that reason.
pub type Perturb = fn(&mut State, &mut Setup) -> Result<(), String>;

/// How a case builds after its perturbation.
#[derive(Clone, Copy)]
pub enum Action {
    /// Perturb, build, compare.
    Build(Perturb),
    /// Two copies of the project (same name, so the same target caches), each perturbed its
    /// own way, built at the same time; both are compared.
    Concurrent(Perturb, Perturb),
    /// Perturb, start a build and kill its client while cargo runs, then build again and
    /// compare that.
    KillThenRebuild(Perturb),
}

/// One perturbation and what must follow from it.
#[derive(Clone, Copy)]
pub struct Case {
    /// Short id, as in the list (`1a`, `N2`, …).
    pub id: &'static str,
    pub name: &'static str,
    pub expect: Expect,
    /// Whether a clean build's output differs before and after the perturbation. Checked: a
    /// case whose change is invisible in the output cannot catch a stale build, so it says so.
    pub changes_output: bool,
    /// Applied (and built, unjudged) before the perturbation, when a case needs another
    /// starting point than the previous case's end (e.g. another target).
    pub before: Option<Perturb>,
    pub action: Action,
}

impl Case {
    /// A case that perturbs the state the previous case left and builds once.
    pub fn build(
        id: &'static str,
        name: &'static str,
        expect: Expect,
        changes_output: bool,
        perturb: Perturb,
    ) -> Case {
        Case {
            id,
            name,
            expect,
            changes_output,
            before: None,
            action: Action::Build(perturb),
        }
    }

    pub fn title(&self) -> String {
        format!("{} {}", self.id, self.name)
    }
}

/// Cases that run one after the other on one project.
pub struct Group {
    /// Short name (test and `--group` name).
    pub name: &'static str,
    /// Applied to the initial state before the warm-up build.
    pub setup: Perturb,
    pub cases: Vec<Case>,
}

/// What a perturbation may use besides the state.
pub struct Setup {
    pub engine: Engine,
    pub subject: Subject,
    /// Unique to this group run (project names, image tags, source comments).
    pub nonce: String,
    /// The project directory, as last materialized.
    pub dir: PathBuf,
    /// Images made for this run, removed on drop.
    images: Vec<String>,
}

impl Setup {
    pub fn new(engine: Engine, subject: Subject, nonce: String, dir: PathBuf) -> Setup {
        Setup {
            engine,
            subject,
            nonce,
            dir,
            images: Vec::new(),
        }
    }

    /// The SDK image tag this run re-tags.
    pub fn retag_name(&self) -> String {
        format!("cachet-sdk-retag:{}", self.nonce)
    }

    /// Point `tag` at a new image: the rustup SDK plus `/etc/cachet-sdk-stamp` holding
    /// `stamp` (same rustc, different digest). On buildkitd it is pushed to the loopback
    /// registry that mirrors docker.io, where buildkitd resolves short names.
    pub fn retag_sdk(&mut self, tag: &str, stamp: &str) -> Result<(), String> {
        self.retag_sdk_from(tag, stamp, Env::get().sdk_rustup_image())
    }

    /// [`Setup::retag_sdk`] with another image than the rustup SDK under the new one.
    pub fn retag_sdk_from(&mut self, tag: &str, stamp: &str, base: &str) -> Result<(), String> {
        let env = Env::get();
        let dir = self.dir.with_extension(format!("sdk-{stamp}"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("stamp"), format!("{stamp}\n")).map_err(|e| e.to_string())?;
        std::fs::write(
            dir.join("Dockerfile"),
            format!(
                "FROM {base}\nCOPY stamp /etc/cachet-sdk-stamp\nLABEL dev.cachet.test.stamp={stamp}\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut build = Engine::docker(env);
        build.args(["build", "-q", "-t", tag]).arg(&dir);
        let built = process::run(&mut build, Duration::from_secs(120));
        let _ = std::fs::remove_dir_all(&dir);
        if !built.success() {
            return Err(format!("cannot build the re-tagged SDK: {built}"));
        }
        self.images.push(built.stdout.trim().to_string());
        self.images.push(tag.to_string());
        if self.engine == Engine::Buildx {
            let script = crate::fixtures::repo_root().join("scripts/env/push-image");
            let mut push = std::process::Command::new(script);
            push.arg(tag);
            let pushed = process::run(&mut push, Duration::from_secs(120));
            if !pushed.success() {
                return Err(format!("cannot push the re-tagged SDK: {pushed}"));
            }
            self.images
                .push(format!("{}/library/{tag}", env.registry()));
        }
        Ok(())
    }

    /// The modification time of a file of the project as last materialized.
    pub fn mtime(&self, rel: &str) -> Result<SystemTime, String> {
        fixture::mtime(&self.dir.join(rel)).map_err(|e| format!("{rel}: {e}"))
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if self.images.is_empty() || std::env::var_os("CACHET_KEEP_IMAGES").is_some() {
            return;
        }
        let mut rm = Engine::docker(Env::get());
        rm.args(["image", "rm", "-f"])
            .args(self.images.iter().rev());
        // Best effort: a leftover image is harmless.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            process::run(&mut rm, Duration::from_secs(60))
        }));
    }
}

const LIB: &str = "crates/factlib/src/lib.rs";
const CONFIG: &str = ".cargo/config.toml";

/// 2001-01-01T00:00:00Z: the constant a clamping checkout gives every file.
pub(super) fn clamped_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(978_307_200)
}

pub(super) fn nothing(_: &mut State, _: &mut Setup) -> Result<(), String> {
    Ok(())
}

/// Every group, in the order the matrix prints them.
pub fn groups() -> Vec<Group> {
    vec![
        flags(),
        variants(),
        sources(),
        sdk(),
        concurrency(),
        killed(),
        super::volatile_cases::volatile(),
        super::args::group(),
        super::entries::group(),
        super::layers::group(),
        super::cross_cases::group(),
    ]
}

/// Flags, environment, C compiler, toolchain files and cargo config, and the no-op classes
/// that do not touch sources.
fn flags() -> Group {
    const FLAG: &str = "-Coverflow-checks=on";
    let fresh = Expect::Fresh { keep: &[] };
    let case = Case::build;
    Group {
        name: "flags",
        setup: nothing,
        cases: vec![
            case(
                "1a",
                "RUSTFLAGS changed in the spec",
                fresh,
                true,
                |s, _| {
                    s.rustflags.push(FLAG.into());
                    Ok(())
                },
            ),
            case(
                "1b",
                "RUSTFLAGS spec change reverted (+ edit to other)",
                Expect::Warm,
                true,
                |s, _| {
                    s.rustflags.retain(|f| f != FLAG);
                    s.set_other_line("other: edited with the RUSTFLAGS spec revert");
                    Ok(())
                },
            ),
            case(
                "1c",
                "RUSTFLAGS changed by --build-arg",
                fresh,
                true,
                |s, _| {
                    s.build_args
                        .insert("RUSTFLAG".into(), "-Cdebuginfo=1".into());
                    Ok(())
                },
            ),
            case(
                "1d",
                "RUSTFLAGS --build-arg reverted (+ edit to other)",
                Expect::Warm,
                true,
                |s, _| {
                    s.build_args.remove("RUSTFLAG");
                    s.set_other_line("other: edited with the RUSTFLAGS build-arg revert");
                    Ok(())
                },
            ),
            case(
                "2a",
                "env var read by build.rs undeclared, changed in the spec",
                fresh,
                true,
                |s, _| {
                    s.env.insert("CACHET_FACT".into(), "spec-${FACT}".into());
                    Ok(())
                },
            ),
            case(
                "2b",
                "env var read by build.rs undeclared, changed by --build-arg",
                fresh,
                true,
                |s, _| {
                    s.build_args.insert("FACT".into(), "two".into());
                    Ok(())
                },
            ),
            case(
                "3a",
                "CFLAGS for build.rs's C changed (--build-arg)",
                fresh,
                true,
                |s, _| {
                    s.build_args
                        .insert("CFLAGS".into(), "-O2 -DFACT_LEVEL=2".into());
                    Ok(())
                },
            ),
            case(
                "3b",
                "CC for build.rs's C changed (spec)",
                fresh,
                true,
                |s, _| {
                    s.env.insert("CC".into(), "gcc".into());
                    Ok(())
                },
            ),
            case(
                "6a",
                ".cargo/config.toml changed ([env])",
                fresh,
                true,
                |s, _| {
                    s.edit(CONFIG, "\"alpha\"", "\"beta\"");
                    Ok(())
                },
            ),
            case(
                "6b",
                "rust-toolchain.toml added (no rustup in the SDK: same compiler)",
                fresh,
                false,
                |s, _| {
                    s.files.insert(
                        "rust-toolchain.toml".into(),
                        "[toolchain]\nchannel = \"stable\"\n".into(),
                    );
                    Ok(())
                },
            ),
            case(
                "N1",
                "--build-arg the spec does not declare changed",
                Expect::NoRebuild,
                false,
                |s, setup| {
                    s.build_args.insert("UNUSED".into(), setup.nonce.clone());
                    Ok(())
                },
            ),
            case("N2", "nothing changed", Expect::NoRebuild, false, nothing),
        ],
    }
}

/// Features, profile and platform: each its own target cache, and switching back is warm.
fn variants() -> Group {
    let fresh = Expect::Fresh { keep: &[] };
    let case = Case::build;
    Group {
        name: "variants",
        setup: nothing,
        cases: vec![
            case("7a", "feature set changed (+loud)", fresh, true, |s, _| {
                s.features = vec!["loud".into()];
                Ok(())
            }),
            case("7b", "feature set switched back (+ edit to other)", Expect::Warm, true, |s, _| {
                s.features.clear();
                s.set_other_line("other: edited with the feature switch back");
                Ok(())
            }),
            case("7c", "profile changed (release → dev)", fresh, true, |s, _| {
                s.profile = "dev".into();
                Ok(())
            }),
            case("7d", "profile switched back (+ edit to other)", Expect::Warm, true, |s, _| {
                s.profile = "release".into();
                s.set_other_line("other: edited with the profile switch back");
                Ok(())
            }),
            case(
                "7e",
                "platform changed (linux/amd64 → linux/amd64/v2: same triple, -C target-cpu=x86-64-v2)",
                fresh,
                true,
                |s, _| {
                    s.platform = Some("linux/amd64/v2".into());
                    Ok(())
                },
            ),
            case("7f", "platform switched back (+ edit to other)", Expect::Warm, true, |s, _| {
                s.platform = None;
                s.set_other_line("other: edited with the platform switch back");
                Ok(())
            }),
        ],
    }
}

/// Source edits under hostile timestamps, files added, renamed and removed, a lockfile bump,
/// and the no-op classes that touch files cargo does not read.
fn sources() -> Group {
    let case = Case::build;
    const FACTS_ONLY: Expect = Expect::Fresh {
        keep: &["factlib", "other"],
    };
    Group {
        name: "sources",
        setup: |s, _| {
            s.clamp = Some(clamped_time());
            Ok(())
        },
        cases: vec![
            case(
                "8a",
                "source edit, every file clamped to one old time",
                Expect::Fresh { keep: &["other"] },
                true,
                |s, _| {
                    s.set_lib_line("factlib line two, edited under a clamp");
                    Ok(())
                },
            ),
            case(
                "8b",
                "same-size source edit, every file clamped to one old time",
                Expect::Fresh { keep: &["other"] },
                true,
                |s, _| {
                    // Same size, same (clamped) mtime: only the content differs.
                    let line = s.lib_line().replacen("line", "LINE", 1);
                    s.set_lib_line(&line);
                    Ok(())
                },
            ),
            case(
                "8c",
                "source edit whose time is older than the last build",
                Expect::Fresh { keep: &["other"] },
                true,
                |s, _| {
                    s.clamp = None;
                    s.set_lib_line("factlib line three, older than the last build");
                    let day_ago = SystemTime::now() - Duration::from_secs(86_400);
                    s.mtimes.insert(LIB.into(), day_ago);
                    Ok(())
                },
            ),
            case(
                "8d",
                "source edit with a time in the future",
                Expect::Fresh { keep: &["other"] },
                true,
                |s, _| {
                    s.set_lib_line("factlib line four, from the future");
                    let next_year = SystemTime::now() + Duration::from_secs(365 * 86_400);
                    s.mtimes.insert(LIB.into(), next_year);
                    Ok(())
                },
            ),
            case(
                "8e",
                "another member edited after that future time",
                Expect::Fresh {
                    keep: &["factlib", "facts"],
                },
                true,
                |s, _| {
                    s.edit(
                        "crates/other/src/main.rs",
                        "an independent binary",
                        "an independent binary, edited",
                    );
                    Ok(())
                },
            ),
            case("9a", "module file added", FACTS_ONLY, true, |s, _| {
                s.files
                    .insert("crates/facts/src/added.rs".into(), State::module_text());
                s.set_main_modules(&["extra", "added"]);
                Ok(())
            }),
            case(
                "9b",
                "module file renamed (its mtime kept, as by mv)",
                FACTS_ONLY,
                true,
                |s, setup| {
                    let old = "crates/facts/src/extra.rs";
                    let new = "crates/facts/src/extras.rs";
                    let time = setup.mtime(old)?;
                    let text = s.files.remove(old).expect("extra.rs");
                    s.files.insert(new.into(), text);
                    s.mtimes.insert(new.into(), time);
                    s.set_main_modules(&["extras", "added"]);
                    Ok(())
                },
            ),
            case(
                "9c",
                "module file removed, still declared (must fail, not link the old object)",
                Expect::Fails,
                true,
                |s, _| {
                    s.files.remove("crates/facts/src/added.rs");
                    Ok(())
                },
            ),
            case(
                "9d",
                "module declaration removed too",
                FACTS_ONLY,
                true,
                |s, _| {
                    s.set_main_modules(&["extras"]);
                    Ok(())
                },
            ),
            case(
                "10",
                "Cargo.lock changed: path dependency's version bumped",
                Expect::Fresh { keep: &["other"] },
                true,
                |s, _| {
                    s.set_lib_version("0.1.1");
                    Ok(())
                },
            ),
            case(
                "N3",
                "README, docs and CI config edited",
                Expect::NoRebuild,
                false,
                |s, _| {
                    s.edit("README.md", "fixture", "fixture (edited)");
                    s.edit("docs/guide.md", "Run", "Please run");
                    s.edit(
                        ".github/workflows/ci.yml",
                        "cargo build",
                        "cargo build --locked",
                    );
                    Ok(())
                },
            ),
            Case {
                id: "N4",
                name: "member factlib edited; the target builds only independent member other",
                expect: Expect::NoRebuild,
                changes_output: false,
                before: Some(|s, _| {
                    s.target = Target::Other;
                    Ok(())
                }),
                action: Action::Build(|s, _| {
                    s.set_lib_line("factlib line five, which other never reads");
                    Ok(())
                }),
            },
        ],
    }
}

/// The SDK: re-tagged under the same name, and swapped for another toolchain and back.
fn sdk() -> Group {
    let case = |id, name, expect, perturb: Perturb| Case {
        id,
        name,
        expect,
        changes_output: true,
        before: None,
        action: Action::Build(perturb),
    };
    Group {
        name: "sdk",
        setup: |s, setup| {
            let tag = setup.retag_name();
            setup.retag_sdk(&tag, &format!("a-{}", setup.nonce))?;
            s.sdk = tag;
            Ok(())
        },
        cases: vec![
            case(
                "4",
                "SDK re-tagged: same tag and rustc, new image digest",
                Expect::Fresh { keep: &[] },
                |s, setup| {
                    let tag = setup.retag_name();
                    setup.retag_sdk(&tag, &format!("b-{}", setup.nonce))?;
                    s.sdk_epoch += 1;
                    Ok(())
                },
            ),
            case(
                "5a",
                "SDK toolchain changed: rustup 1.95 → Debian's rustc 1.63",
                Expect::Fresh { keep: &[] },
                |s, _| {
                    s.sdk = Env::get().sdk_debian_image().to_string();
                    Ok(())
                },
            ),
            case(
                "5b",
                "SDK toolchain switched back to rustup (+ edit to other)",
                Expect::Warm,
                |s, setup| {
                    s.sdk = setup.retag_name();
                    s.set_other_line("other: edited with the SDK switch back");
                    Ok(())
                },
            ),
        ],
    }
}

/// Two builds of one project at once.
fn concurrency() -> Group {
    Group {
        name: "concurrency",
        setup: nothing,
        cases: vec![Case {
            id: "11a",
            name: "two builds of the project at once, sharing its target cache",
            expect: Expect::Fresh { keep: &["other"] },
            changes_output: true,
            before: None,
            action: Action::Concurrent(
                |s, _| {
                    s.set_lib_line("factlib line from build A");
                    Ok(())
                },
                |s, _| {
                    s.set_lib_line("factlib line from build B");
                    Ok(())
                },
            ),
        }],
    }
}

/// A build killed while cargo runs, then built again.
fn killed() -> Group {
    Group {
        name: "killed",
        // A build script that takes a while, so the kill lands while cargo runs it.
        setup: |s, _| {
            s.env.insert("FACTS_SLEEP_SECS".into(), "3".into());
            Ok(())
        },
        cases: vec![Case {
            id: "11b",
            name: "build killed while cargo runs build.rs, then rebuilt",
            expect: Expect::Fresh {
                keep: &["factlib", "other"],
            },
            changes_output: true,
            before: None,
            action: Action::KillThenRebuild(|s, _| {
                s.edit(
                    "crates/facts/csrc/fact.c",
                    "return FACT_LEVEL;",
                    "return FACT_LEVEL * 10;",
                );
                Ok(())
            }),
        }],
    }
}
