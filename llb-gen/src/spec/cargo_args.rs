//! A cargo step's own arguments (`[target.x] cargo = [...]`): which of them can change what
//! cargo produces, and so key the target cache; which only choose what to build or how to
//! report; and which the spec owns or Cachet cannot key, and are refused.
//!
//! Thinking like cargo: its fingerprints cover every *unit* it compiles (package, target,
//! mode, features, profile, flags), so arguments that only select units or reporting never
//! make one build's output wrong for another, and keying them would only make `build` and
//! `test` targets cold for each other. What cargo cannot see — a build script's undeclared
//! env reads, `[env]` and profile settings given as `--config`, unstable `-Z` behaviour, and
//! whatever an argument we do not know does — must key the mount. The table, argument by
//! argument, is in `crate::keys` (top doc); this module is the one place that decides it.
//!
//! [`classify`] is used by the loader (refusals, with the argument's position) and by the
//! compiler ([`keyed_args`] for the key, [`global_args`] for the dependency layer). Refused
//! arguments never reach the compiler; for anything else classification cannot fail.

/// What one argument of a cargo step is, for the target cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgClass {
    /// The subcommand, when it is one cargo fingerprints by unit mode (build, test, check…).
    Subcommand,
    /// Chooses which packages or targets to build (`-p`, `--workspace`, `--bin`, `--tests`,
    /// `--no-run`…) and its value: cargo fingerprints each unit it builds.
    Selects,
    /// How cargo reports or schedules (`-v`, `-q`, `--color`, `--message-format`, `-j`,
    /// `--keep-going`, `--no-fail-fast`, `--timings`): never what a unit contains.
    Reports,
    /// Arguments of the program the step runs: test and bench filters and everything after
    /// `--` for `test`, `bench` and `run`.
    Runtime,
    /// What Cachet passes anyway (`--locked`).
    Redundant,
    /// A key input that reaches every unit, so the dependency layer gets it too: `--config
    /// KEY=VALUE` and `-Z` flags (and their values).
    KeyedGlobal,
    /// A key input: compiler arguments after `--` (`rustc`, `rustdoc`, `clippy`, `fix`),
    /// arguments Cachet does not know, and every argument of a subcommand it does not know.
    Keyed,
}

/// An argument the spec may not give a cargo step, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Index into the step's arguments.
    pub index: usize,
    pub message: String,
}

/// Subcommands cargo runs as builds of units it fingerprints by mode, by canonical name.
fn building(subcommand: &str) -> Option<&'static str> {
    Some(match subcommand {
        "build" | "b" => "build",
        "check" | "c" => "check",
        "test" | "t" => "test",
        "bench" => "bench",
        "run" | "r" => "run",
        "doc" | "d" => "doc",
        "clippy" => "clippy",
        "rustc" => "rustc",
        "rustdoc" => "rustdoc",
        "fix" => "fix",
        _ => return None,
    })
}

/// Subcommands whose arguments after `--` (and free arguments before it) go to the program
/// they run, not to a compiler.
const RUNS_A_PROGRAM: &[&str] = &["test", "bench", "run"];

/// How a flag takes its value when it is not attached (`--flag=v`, `-pv`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Value {
    None,
    /// The next argument, always.
    Required,
    /// The next argument unless it is a flag (`--bin` alone lists the binaries).
    Optional,
}

/// Flags of the building subcommands that Cachet knows, with their class.
const KNOWN: &[(&str, Value, ArgClass)] = &[
    ("-p", Value::Optional, ArgClass::Selects),
    ("--package", Value::Optional, ArgClass::Selects),
    ("--workspace", Value::None, ArgClass::Selects),
    ("--all", Value::None, ArgClass::Selects),
    ("--exclude", Value::Required, ArgClass::Selects),
    ("--lib", Value::None, ArgClass::Selects),
    ("--bins", Value::None, ArgClass::Selects),
    ("--bin", Value::Optional, ArgClass::Selects),
    ("--examples", Value::None, ArgClass::Selects),
    ("--example", Value::Optional, ArgClass::Selects),
    ("--tests", Value::None, ArgClass::Selects),
    ("--test", Value::Optional, ArgClass::Selects),
    ("--benches", Value::None, ArgClass::Selects),
    ("--bench", Value::Optional, ArgClass::Selects),
    ("--all-targets", Value::None, ArgClass::Selects),
    ("--doc", Value::None, ArgClass::Selects),
    ("--no-deps", Value::None, ArgClass::Selects),
    ("--no-run", Value::None, ArgClass::Selects),
    ("-v", Value::None, ArgClass::Reports),
    ("--verbose", Value::None, ArgClass::Reports),
    ("-q", Value::None, ArgClass::Reports),
    ("--quiet", Value::None, ArgClass::Reports),
    ("--color", Value::Required, ArgClass::Reports),
    ("--message-format", Value::Required, ArgClass::Reports),
    ("-j", Value::Required, ArgClass::Reports),
    ("--jobs", Value::Required, ArgClass::Reports),
    ("--keep-going", Value::None, ArgClass::Reports),
    ("--no-fail-fast", Value::None, ArgClass::Reports),
    // `--timings` takes its formats only attached (`--timings=html`); it writes a report
    // under `target/cargo-timings/` and changes no unit.
    ("--timings", Value::None, ArgClass::Reports),
    ("--locked", Value::None, ArgClass::Redundant),
    ("--config", Value::Required, ArgClass::KeyedGlobal),
    ("-Z", Value::Required, ArgClass::KeyedGlobal),
];

/// Flags the spec owns or Cachet cannot key, with the setting to use instead. Checked for
/// every subcommand, before `--`.
const REFUSED: &[(&str, &str)] = &[
    ("--release", "set `profile` under [cargo]"),
    ("-r", "set `profile` under [cargo]"),
    ("--profile", "set `profile` under [cargo]"),
    ("--features", "set `features` under [cargo]"),
    ("-F", "set `features` under [cargo]"),
    (
        "--all-features",
        "list the features under [cargo] `features`",
    ),
    (
        "--no-default-features",
        "set `default-features = false` under [cargo]",
    ),
    (
        "--target",
        "Cachet always passes `--target` for the platform's triple (artifacts are relative to \
         `target/<triple>/<profile>/`); choose the platform with `--platform`",
    ),
    (
        "--target-dir",
        "Cachet places the target directory on a keyed cache mount",
    ),
    ("--offline", "Cachet runs compile steps offline already"),
    ("--frozen", "Cachet passes `--locked --offline` itself"),
    (
        "--manifest-path",
        "Cachet runs cargo at the context root and gives each step the sources of the packages \
         it selects, so a manifest chosen this way could be built from an empty stand-in; \
         select the package with `-p NAME` (or `--workspace`)",
    ),
    (
        "-C",
        "Cachet runs cargo at the context root and plans each step's sources from there; \
         select packages with `-p NAME` (or `--workspace`)",
    ),
];

/// Short flags that take a value: in a cluster (`-vpfoo`), the rest of it is the value.
const SHORT_WITH_VALUE: &[char] = &['p', 'j', 'Z', 'F', 'C'];

/// The class of every argument of a cargo step (`args[0]` is the subcommand), or the first
/// argument that is refused.
pub fn classify(args: &[String]) -> Result<Vec<ArgClass>, Refusal> {
    let mut classes = vec![ArgClass::Keyed; args.len()];
    let Some(first) = args.first() else {
        return Ok(classes);
    };
    if first.starts_with('+') {
        return Err(Refusal {
            index: 0,
            message: format!(
                "`{first}` is not allowed in a cargo step: the toolchain is the SDK's, or the \
                 one a `rust-toolchain.toml` in the context pins (keyed by content); write the \
                 cargo subcommand first"
            ),
        });
    }
    let Some(subcommand) = building(first) else {
        // A subcommand Cachet does not know (a custom one, an alias from `.cargo/config`):
        // it may do anything with its arguments, so every one of them is a key input. The
        // flags the spec owns are refused all the same.
        check_refused(args)?;
        return Ok(classes);
    };
    classes[0] = ArgClass::Subcommand;
    let runs_program = RUNS_A_PROGRAM.contains(&subcommand);
    let mut i = 1;
    while i < args.len() {
        let arg = args[i].as_str();
        if arg == "--" {
            let class = if runs_program {
                ArgClass::Runtime
            } else {
                ArgClass::Keyed
            };
            for c in &mut classes[i..] {
                *c = class;
            }
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((name, value)) => (format!("--{name}"), Some(value)),
                None => (arg.to_string(), None),
            };
            if let Some((_, hint)) = REFUSED.iter().find(|(f, _)| *f == name) {
                return Err(refusal(i, &name, hint));
            }
            match KNOWN.iter().find(|(f, _, _)| *f == name) {
                Some((_, value, class)) => {
                    classes[i] = *class;
                    if *class == ArgClass::KeyedGlobal && name == "--config" {
                        check_config(i, attached.or(args.get(i + 1).map(String::as_str)))?;
                    }
                    if attached.is_none() && takes_next(*value, args.get(i + 1)) {
                        i += 1;
                        classes[i] = *class;
                    }
                }
                None => {
                    // Unknown: keyed, and so is what may be its value.
                    classes[i] = ArgClass::Keyed;
                    if attached.is_none() && takes_next(Value::Optional, args.get(i + 1)) {
                        i += 1;
                        classes[i] = ArgClass::Keyed;
                    }
                }
            }
            i += 1;
            continue;
        }
        if let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) {
            let (class, consumes_next) = short_cluster(i, cluster, args.get(i + 1))?;
            classes[i] = class;
            if consumes_next {
                i += 1;
                classes[i] = class;
            }
            i += 1;
            continue;
        }
        // A free argument: a test or bench filter, or a program argument for `run`; for
        // anything else cargo refuses it, and keying it costs nothing.
        classes[i] = if runs_program {
            ArgClass::Runtime
        } else {
            ArgClass::Keyed
        };
        i += 1;
    }
    Ok(classes)
}

/// A cluster of short flags (`-vv`, `-pfoo`, `-Zflag`, `-j4`): its class (the most keyed of
/// its flags), and whether the next argument is its value.
fn short_cluster(
    index: usize,
    cluster: &str,
    next: Option<&String>,
) -> Result<(ArgClass, bool), Refusal> {
    let mut class = ArgClass::Reports;
    for (at, c) in cluster.char_indices() {
        let flag = format!("-{c}");
        if let Some((_, hint)) = REFUSED.iter().find(|(f, _)| *f == flag) {
            return Err(refusal(index, &flag, hint));
        }
        let known = KNOWN.iter().find(|(f, _, _)| *f == flag);
        let this = known.map(|(_, _, class)| *class).unwrap_or(ArgClass::Keyed);
        class = most_keyed(class, this);
        if SHORT_WITH_VALUE.contains(&c) {
            let rest = &cluster[at + c.len_utf8()..];
            let rest = rest.strip_prefix('=').unwrap_or(rest);
            if !rest.is_empty() {
                return Ok((class, false));
            }
            let value = known.map(|(_, v, _)| *v).unwrap_or(Value::Required);
            return Ok((class, takes_next(value, next)));
        }
        if known.is_none() {
            // An unknown short flag: the rest of the cluster may be its value.
            return Ok((ArgClass::Keyed, false));
        }
    }
    Ok((class, false))
}

/// The class that keys more of two (for a cluster such as `-vZflag`).
fn most_keyed(a: ArgClass, b: ArgClass) -> ArgClass {
    let rank = |c: ArgClass| match c {
        ArgClass::KeyedGlobal => 3,
        ArgClass::Keyed => 2,
        ArgClass::Selects => 1,
        _ => 0,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

fn takes_next(value: Value, next: Option<&String>) -> bool {
    match (value, next) {
        (Value::None, _) | (_, None) => false,
        (Value::Required, Some(_)) => true,
        (Value::Optional, Some(n)) => !n.starts_with('-'),
    }
}

fn refusal(index: usize, flag: &str, hint: &str) -> Refusal {
    Refusal {
        index,
        message: format!("`{flag}` is not allowed in a cargo step: {hint}"),
    }
}

/// `--config` takes `KEY=VALUE` (keyed as written) or a file's path, which cargo reads from
/// the context: its content would key nothing, so it is refused.
fn check_config(index: usize, value: Option<&str>) -> Result<(), Refusal> {
    match value {
        Some(v) if v.contains('=') => Ok(()),
        Some(v) => Err(Refusal {
            index,
            message: format!(
                "`--config {v}` names a config file, whose content Cachet cannot key from the \
                 command line: write the setting as `--config KEY=VALUE` (keyed as written), or \
                 put it in `.cargo/config.toml` (keyed by content)"
            ),
        }),
        None => Ok(()),
    }
}

/// Refused flags anywhere before `--`, for subcommands whose other flags are not classified.
fn check_refused(args: &[String]) -> Result<(), Refusal> {
    for (i, arg) in args.iter().enumerate().skip(1) {
        if arg == "--" {
            break;
        }
        let flag = arg.split('=').next().unwrap_or(arg);
        if let Some((_, hint)) = REFUSED.iter().find(|(f, _)| *f == flag) {
            return Err(refusal(i, flag, hint));
        }
    }
    Ok(())
}

/// The arguments that key the target cache, in order (cargo lets a later `--config` win):
/// every [`ArgClass::Keyed`] and [`ArgClass::KeyedGlobal`] argument; compiler arguments after
/// `--` follow the canonical subcommand they go to and `--`; for a subcommand Cachet does not
/// know, all of them, the subcommand first. Empty when nothing the step passes can change its
/// output beyond what cargo fingerprints.
pub fn keyed_args(args: &[String]) -> Vec<String> {
    let classes = classes_or_all_keyed(args);
    let Some(subcommand) = args.first().and_then(|s| building(s)) else {
        return args.to_vec();
    };
    let mut keyed = Vec::new();
    let mut after_dashes = false;
    for (arg, class) in args.iter().zip(&classes) {
        if arg == "--" && !after_dashes {
            after_dashes = true;
            if *class == ArgClass::Keyed {
                keyed.extend([subcommand.to_string(), "--".to_string()]);
            }
            continue;
        }
        if matches!(class, ArgClass::Keyed | ArgClass::KeyedGlobal) {
            keyed.push(arg.clone());
        }
    }
    keyed
}

/// The `--config` and `-Z` arguments (with their values), in order: they reach every unit, so
/// the dependency layer that seeds the step's cache is built with them too.
pub fn global_args(args: &[String]) -> Vec<String> {
    let classes = classes_or_all_keyed(args);
    args.iter()
        .zip(&classes)
        .filter(|(_, c)| **c == ArgClass::KeyedGlobal)
        .map(|(a, _)| a.clone())
        .collect()
}

/// Classes of a loaded step's arguments; refused ones cannot reach here (the loader refuses
/// them), and would count as keyed if they did.
fn classes_or_all_keyed(args: &[String]) -> Vec<ArgClass> {
    classify(args).unwrap_or_else(|_| vec![ArgClass::Keyed; args.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn keyed(a: &[&str]) -> Vec<String> {
        keyed_args(&args(a))
    }

    #[test]
    fn selection_and_reporting_do_not_key() {
        for a in [
            &["build"][..],
            &["build", "--workspace", "--exclude", "x", "-v", "-vv", "-q"],
            &[
                "b",
                "-p",
                "app",
                "--bin",
                "app",
                "--lib",
                "--bins",
                "--examples",
            ],
            &[
                "build",
                "-papp",
                "--package=app",
                "--all",
                "--example",
                "demo",
            ],
            &[
                "test",
                "--tests",
                "--test",
                "it",
                "--benches",
                "--bench=b",
                "--all-targets",
            ],
            &[
                "t",
                "--no-run",
                "--no-fail-fast",
                "--doc",
                "-j",
                "4",
                "-j4",
                "--jobs=2",
            ],
            &[
                "check",
                "--color",
                "never",
                "--message-format",
                "json",
                "--keep-going",
            ],
            &[
                "build",
                "--timings",
                "--timings=html",
                "--locked",
                "--color=always",
            ],
            &["doc", "--no-deps", "-p", "app"],
            &[
                "test",
                "my_filter",
                "--",
                "--nocapture",
                "--test-threads",
                "1",
            ],
            &["run", "--bin", "app", "--", "--release", "--config", "x"],
            &["bench", "filter", "--", "--save-baseline", "x"],
        ] {
            assert_eq!(keyed(a), Vec::<String>::new(), "{a:?}");
            assert_eq!(classify(&args(a)).map(|c| c.len()), Ok(a.len()));
        }
    }

    #[test]
    fn config_z_and_compiler_arguments_key() {
        assert_eq!(
            keyed(&["build", "--config", "env.X=\"a\"", "-p", "app"]),
            args(&["--config", "env.X=\"a\""])
        );
        assert_eq!(
            keyed(&["build", "--config=profile.release.opt-level=1"]),
            args(&["--config=profile.release.opt-level=1"])
        );
        assert_eq!(keyed(&["build", "-Zbuild-std"]), args(&["-Zbuild-std"]));
        assert_eq!(
            keyed(&["check", "-Z", "unstable-options", "-v"]),
            args(&["-Z", "unstable-options"])
        );
        assert_eq!(keyed(&["build", "-vZx"]), args(&["-vZx"]), "a cluster");
        assert_eq!(
            keyed(&["rustc", "--lib", "--", "--cfg", "foo"]),
            args(&["rustc", "--", "--cfg", "foo"])
        );
        assert_eq!(
            keyed(&["rustdoc", "--", "--cfg", "docsrs"]),
            args(&["rustdoc", "--", "--cfg", "docsrs"])
        );
        assert_eq!(
            keyed(&["clippy", "--all-targets", "--", "-D", "warnings"]),
            args(&["clippy", "--", "-D", "warnings"])
        );
        // Order is kept: a later `--config` wins in cargo.
        assert_eq!(
            keyed(&["build", "--config", "a=1", "--config", "a=2"]),
            args(&["--config", "a=1", "--config", "a=2"])
        );
        assert_ne!(
            keyed(&["build", "--config", "a=2", "--config", "a=1"]),
            keyed(&["build", "--config", "a=1", "--config", "a=2"])
        );
    }

    #[test]
    fn unknown_flags_and_subcommands_key() {
        assert_eq!(
            keyed(&["build", "--crate-type", "cdylib", "-p", "a"]),
            args(&["--crate-type", "cdylib"]),
            "an unknown flag keys with what may be its value"
        );
        assert_eq!(
            keyed(&["build", "--ignore-rust-version", "--lib"]),
            args(&["--ignore-rust-version"])
        );
        assert_eq!(keyed(&["test", "-x"]), args(&["-x"]));
        assert_eq!(
            keyed(&["nextest", "run", "-p", "a"]),
            args(&["nextest", "run", "-p", "a"]),
            "a subcommand Cachet does not know keys everything"
        );
        assert_eq!(keyed(&["tree"]), args(&["tree"]));
    }

    #[test]
    fn global_args_are_what_the_dependency_layer_needs() {
        assert_eq!(
            global_args(&args(&[
                "test",
                "--config",
                "env.X=\"a\"",
                "-p",
                "x",
                "-Zfoo",
                "--crate-type",
                "lib",
                "--",
                "--config",
                "y=1"
            ])),
            args(&["--config", "env.X=\"a\"", "-Zfoo"])
        );
    }

    #[test]
    fn refusals_name_the_setting_to_use() {
        let refused = |a: &[&str]| classify(&args(a)).unwrap_err();
        for (a, index, text) in [
            (&["build", "--release"][..], 1, "`--release`"),
            (&["build", "-r"], 1, "`-r` is not allowed"),
            (&["run", "-vr"], 1, "`-r` is not allowed"),
            (
                &["build", "--profile=dev"],
                1,
                "set `profile` under [cargo]",
            ),
            (&["build", "-Ftls"], 1, "set `features` under [cargo]"),
            (&["build", "-p", "a", "--features", "x"], 3, "`--features`"),
            (&["build", "--target-dir", "x"], 1, "keyed cache mount"),
            (
                &["build", "--manifest-path", "a/Cargo.toml"],
                1,
                "`-p NAME`",
            ),
            (&["build", "-C", "sub"], 1, "context root"),
            (
                &["build", "--config", "extra.toml"],
                1,
                "names a config file",
            ),
            (&["build", "--config=extra.toml"], 1, "`--config KEY=VALUE`"),
            (&["+nightly", "build"], 0, "rust-toolchain.toml"),
            (&["nextest", "run", "--release"], 2, "`--release`"),
        ] {
            let r = refused(a);
            assert_eq!(r.index, index, "{a:?}: {r:?}");
            assert!(r.message.contains(text), "{a:?}: {}", r.message);
        }
        // After `--` the arguments belong to the program or the compiler.
        assert!(classify(&args(&["test", "--", "--release"])).is_ok());
        assert!(classify(&args(&["rustc", "--", "-C", "opt-level=3"])).is_ok());
        // A flag's value is not a flag: `--bin -r` is never read as `-r` here either way.
        assert!(classify(&args(&["build", "--color", "-r"])).is_ok());
    }
}
