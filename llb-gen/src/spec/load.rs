//! Parsing and validating `Cachet.toml`: text in, [`Spec`] or a positioned [`SpecError`] out.
//!
//! Pure: no I/O. The frontend, the `llb-gen` CLI and the tests all come through here, so every
//! rule about what a valid spec is lives here (references between targets in `graph.rs`).
//!
//! Every check runs on values as they are once build arguments are applied: a `--build-arg` is
//! as untrusted as the file, and a value that passed as written may not once interpolated.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use crate::llb::{ImageRef, LlbError};

use super::cargo_args;
use super::env;
use super::error::{shown, SpecError};
use super::graph::{self, Reference, ReferenceKind};
use super::image_settings;
use super::interpolate::{interpolate, Failure};
use super::model::{CopyEntry, CrossSection, SdkSection, SpecFile, TargetSection};
use super::resolved::*;
use super::syntax;

// Which cargo arguments a step may pass, which key its target cache and which are refused
// (with the setting to use instead): `cargo_args.rs`.

/// Parses and validates a spec. `build_args` are the `--build-arg` values; only names declared
/// under `[args]` are used.
pub fn load(
    file: &str,
    text: &str,
    build_args: &BTreeMap<String, String>,
) -> Result<Spec, SpecError> {
    let raw: SpecFile = toml::from_str(text).map_err(|e| {
        let (span, message) = syntax::parse_error(text, &e);
        SpecError::at(file, text, Some(span), message)
    })?;
    // Only declared arguments exist for the spec; `--build-arg` overrides their defaults.
    let mut args = BTreeMap::new();
    for (name, default) in &raw.args {
        let (value, source) = match build_args.get(name.get_ref()) {
            Some(v) => (v, "`--build-arg`"),
            None => (default.get_ref(), "its default"),
        };
        if value.len() > MAX_VALUE_BYTES {
            return Err(SpecError::at(
                file,
                text,
                Some(name.span()),
                format!(
                    "build argument `{}` is {} bytes (from {source}); a build argument holds at \
                     most {MAX_VALUE_BYTES} bytes ({VALUE_LIMIT_WHY}); pass large inputs in the \
                     build context",
                    shown(name.get_ref()),
                    value.len()
                ),
            ));
        }
        args.insert(name.get_ref().clone(), value.clone());
    }
    Loader {
        file,
        text,
        args,
        interpolated: Cell::new(0),
    }
    .load(&raw)
}

/// The longest value, in bytes, once build arguments are applied (and the longest build
/// argument): every value reaches a program as an argument or environment string (or part of
/// one), and Linux refuses to start a program with one of 128 KiB or more (`MAX_ARG_STRLEN`,
/// which counts the terminating NUL).
pub(super) const MAX_VALUE_BYTES: usize = 128 * 1024 - 1;
const VALUE_LIMIT_WHY: &str =
    "Linux passes no longer argument or environment variable to a program";

/// The most bytes interpolation may produce over the whole spec. One build argument referenced
/// many times multiplies (100 KiB × 1,000 references = 100 MB of environment); this bounds what
/// the frontend builds in memory, puts into the LLB and hands to every step. Each value counts
/// once, so a step's share is at most this much, which stays within the 2 MiB Linux allows for
/// a program's arguments and environment together (`ARG_MAX` with the default 8 MiB stack),
/// leaving room for the SDK image's own environment. Real specs use a few KiB.
pub(super) const MAX_INTERPOLATED_BYTES: usize = 1024 * 1024;

/// Room kept in `CARGO_ENCODED_RUSTFLAGS` for the flags Cachet adds for the platform
/// (`-C target-cpu=x86-64-v4`).
const PLATFORM_RUSTFLAGS_ROOM: usize = 64;

/// Who reads an env map: cargo (and build scripts) in a cargo step, or whatever runs in an image.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EnvReader {
    Cargo,
    Image,
}

struct Loader<'a> {
    file: &'a str,
    text: &'a str,
    args: BTreeMap<String, String>,
    /// Bytes interpolation has produced so far (bounded by [`MAX_INTERPOLATED_BYTES`]).
    interpolated: Cell<usize>,
}

impl Loader<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> SpecError {
        SpecError::at(self.file, self.text, Some(span), message)
    }

    /// The end of the file: where a missing section is to be added.
    fn end(&self) -> Range<usize> {
        self.text.len()..self.text.len()
    }

    /// `v` with build arguments applied, within the size limits and free of NUL.
    fn subst(&self, v: &Spanned<String>) -> Result<String, SpecError> {
        let remaining = MAX_INTERPOLATED_BYTES.saturating_sub(self.interpolated.get());
        let limit = MAX_VALUE_BYTES.min(remaining);
        let value = interpolate(v.get_ref(), &self.args, limit).map_err(|failure| {
            let span = self.inner_span(v, failure.at());
            let message = match failure {
                Failure::Unterminated { .. } => "unterminated `${`: expected `}`".to_string(),
                Failure::Undeclared { name, .. } => format!(
                    "`${{{}}}` names no build argument; declare it under [args]",
                    shown(&name)
                ),
                Failure::TooLong { .. } if limit == MAX_VALUE_BYTES => format!(
                    "this value exceeds {MAX_VALUE_BYTES} bytes here once build arguments are \
                     applied ({VALUE_LIMIT_WHY}); pass large inputs in the build context"
                ),
                Failure::TooLong { .. } => format!(
                    "build arguments make the spec's values exceed {MAX_INTERPOLATED_BYTES} bytes \
                     in total here; a build hands them all to its steps, so pass large inputs in \
                     the build context"
                ),
            };
            self.err(span, message)
        })?;
        if value.contains('\0') {
            return Err(self.err(v.span(), format!("{}{}", HOLDS_NUL, via_args(v, &value))));
        }
        self.interpolated.set(self.interpolated.get() + value.len());
        Ok(value)
    }

    /// The span from byte `offset` of `v`'s value on, when the value is written as a plain
    /// one-line string (so value and source agree byte for byte); else `v`'s whole span.
    fn inner_span(&self, v: &Spanned<String>, offset: usize) -> Range<usize> {
        let span = v.span();
        let source = self.text.get(span.clone()).unwrap_or("");
        let quoted = ["\"", "'"].into_iter().any(|q| {
            source.len() >= 2
                && source.starts_with(q)
                && source.ends_with(q)
                && !source.starts_with(&q.repeat(3))
        });
        if quoted && source.get(1..source.len() - 1) == Some(v.get_ref().as_str()) {
            let start = span.start + 1 + offset;
            start..span.end
        } else {
            span
        }
    }

    fn subst_map(
        &self,
        m: &BTreeMap<String, Spanned<String>>,
    ) -> Result<BTreeMap<String, String>, SpecError> {
        m.iter()
            .map(|(k, v)| Ok((k.clone(), self.subst(v)?)))
            .collect()
    }

    /// `[cargo] rustflags`, which all become one environment string, CARGO_ENCODED_RUSTFLAGS.
    fn rustflags(&self, flags: &[Spanned<String>]) -> Result<Vec<String>, SpecError> {
        let mut values = Vec::new();
        let mut joined = "CARGO_ENCODED_RUSTFLAGS=".len() + PLATFORM_RUSTFLAGS_ROOM;
        for flag in flags {
            let value = self.subst(flag)?;
            joined += value.len() + 1;
            if joined > MAX_VALUE_BYTES {
                return Err(self.err(
                    flag.span(),
                    format!(
                        "with this flag, `rustflags` exceed {MAX_VALUE_BYTES} bytes: they are \
                         passed as one environment variable, CARGO_ENCODED_RUSTFLAGS \
                         ({VALUE_LIMIT_WHY})"
                    ),
                ));
            }
            values.push(value);
        }
        Ok(values)
    }

    /// An env map with build arguments applied and every name checked at its key.
    fn env_map(
        &self,
        m: &BTreeMap<Spanned<String>, Spanned<String>>,
        reader: EnvReader,
    ) -> Result<BTreeMap<String, String>, SpecError> {
        let mut env = BTreeMap::new();
        for (name, value) in m {
            if let Some(problem) = env::name_problem(name.get_ref()) {
                return Err(self.err(
                    name.span(),
                    format!("`{}`: {problem}", shown(name.get_ref())),
                ));
            }
            if reader == EnvReader::Cargo {
                self.check_owned_env(name)?;
            }
            let value = self.subst(value)?;
            // `NAME=value` is one environment string.
            let entry = name.get_ref().len() + 1 + value.len();
            if entry > MAX_VALUE_BYTES {
                return Err(self.err(
                    name.span(),
                    format!(
                        "`{}=…` is {entry} bytes; an environment variable holds at most \
                         {MAX_VALUE_BYTES} ({VALUE_LIMIT_WHY})",
                        shown(name.get_ref())
                    ),
                ));
            }
            env.insert(name.get_ref().clone(), value);
        }
        Ok(env)
    }

    /// Refuses a variable Cachet sets or relies on in the steps it runs (see `env.rs`).
    fn check_owned_env(&self, name: &Spanned<String>) -> Result<(), SpecError> {
        match env::owned(name.get_ref()) {
            Some(why) => Err(self.err(
                name.span(),
                format!("`{}` cannot be set in a spec: {why}", name.get_ref()),
            )),
            None => Ok(()),
        }
    }

    fn load(&self, raw: &SpecFile) -> Result<Spec, SpecError> {
        let project = match &raw.project.name {
            Some(name) => {
                self.check_name(name, "project name")?;
                name.get_ref().clone()
            }
            None => DEFAULT_PROJECT.to_string(),
        };

        let Some(sdk) = &raw.sdk else {
            return Err(self.err(
                self.end(),
                "missing section [sdk]: add `[sdk]` with `image = \"…\"`, the image every cargo \
                 step runs in (e.g. `image = \"cachet-sdk:rustup\"`)",
            ));
        };
        let sdk_section = sdk.get_ref();
        let Some(image_value) = &sdk_section.image else {
            return Err(self.err(
                sdk.span(),
                "[sdk] has no `image`: add `image = \"…\"` under [sdk] (e.g. `image = \
                 \"cachet-sdk:rustup\"`)",
            ));
        };
        let image = self.subst(image_value)?;
        if let Some(problem) = image_problem(&image) {
            return Err(self.err(
                image_value.span(),
                format!(
                    "[sdk] image `{}`{}: {problem}; expected {IMAGE_FORM}, such as \
                     `cachet-sdk:rustup` or `ghcr.io/org/sdk:1.80`",
                    shown(&image),
                    via_args(image_value, &image),
                ),
            ));
        }
        let digest_lock = match &sdk_section.digest {
            Some(d) => {
                if !crate::llb::is_sha256_digest(d.get_ref()) {
                    return Err(self.err(
                        d.span(),
                        "expected a digest of the form `sha256:` followed by 64 hex digits",
                    ));
                }
                Some(d.get_ref().clone())
            }
            None => None,
        };
        let (packages, setup) = self.sdk_setup(sdk_section)?;

        let profile = match &raw.cargo.profile {
            Some(p) => {
                self.check_name(p, "profile")?;
                p.get_ref().clone()
            }
            None => DEFAULT_PROFILE.to_string(),
        };
        let mode = match &raw.cargo.mode {
            Some(m) => {
                let value = self.subst(m)?;
                KeyMode::parse(&value).ok_or_else(|| {
                    self.err(
                        m.span(),
                        format!("mode `{}`: expected `strict` or `fast`", shown(&value)),
                    )
                })?
            }
            None => KeyMode::Strict,
        };
        let layers = match &raw.cache.layers {
            Some(l) => {
                let value = self.subst(l)?;
                LayerPolicy::parse(&value).ok_or_else(|| {
                    self.err(
                        l.span(),
                        format!(
                            "layers `{}`: expected `auto`, `always` or `never`",
                            shown(&value)
                        ),
                    )
                })?
            }
            None => LayerPolicy::Auto,
        };
        let cargo = CargoSettings {
            mode,
            profile,
            features: raw
                .cargo
                .features
                .iter()
                .map(|v| self.subst(v))
                .collect::<Result<_, _>>()?,
            default_features: raw.cargo.default_features.unwrap_or(true),
            rustflags: self.rustflags(&raw.cargo.rustflags)?,
            reproducible: raw.cargo.reproducible.unwrap_or(false),
            env: self.env_map(&raw.cargo.env, EnvReader::Cargo)?,
            volatile_env: BTreeSet::new(),
        };

        let mut include = Vec::new();
        for pattern in &raw.project.include {
            let value = self.subst(pattern)?;
            check_context_pattern(&value).map_err(|m| self.err(pattern.span(), m))?;
            include.push(value);
        }
        let mut contexts: BTreeMap<String, String> = BTreeMap::new();
        for (name, path) in &raw.contexts {
            super::contexts::check_name(name.get_ref()).map_err(|m| self.err(name.span(), m))?;
            let normalized = super::contexts::normalize_path(path.get_ref())
                .map_err(|m| self.err(path.span(), format!("context `{}`: {m}", name.get_ref())))?;
            if let Some((other, _)) = contexts
                .iter()
                .find(|(_, p)| super::contexts::overlap(p, &normalized))
            {
                return Err(self.err(
                    path.span(),
                    format!(
                        "context `{}` at `{normalized}` overlaps context `{other}`: give each \
                         named context a directory of its own",
                        name.get_ref()
                    ),
                ));
            }
            contexts.insert(name.get_ref().clone(), normalized);
        }
        let mut secrets = BTreeMap::new();
        for (var, id) in &raw.fetch.secrets {
            // The fetch step's shell assigns and exports it, so it must be a shell name.
            if !is_env_name(var.get_ref()) {
                return Err(self.err(
                    var.span(),
                    format!(
                        "`{}`: expected an environment variable name (A-Z, 0-9, `_`)",
                        shown(var.get_ref())
                    ),
                ));
            }
            self.check_owned_env(var)?;
            secrets.insert(var.get_ref().clone(), self.secret_id(id)?);
        }
        let ca_bundle_secret =
            match &raw.fetch.ca_bundle {
                Some(section) => match &section.get_ref().secret {
                    Some(id) => Some(self.secret_id(id)?),
                    None => return Err(self.err(
                        section.span(),
                        "`ca-bundle` needs `secret = \"…\"`: the id of the BuildKit secret that \
                         holds the PEM certificates (`--secret id=…,src=ca.pem`)",
                    )),
                },
                None => None,
            };
        let fetch = FetchSettings {
            secrets,
            ssh: raw.fetch.ssh,
            ca_bundle_secret,
        };
        let cross = self.cross(&raw.cross)?;

        if raw.targets.is_empty() {
            return Err(self.err(
                self.end(),
                "no targets: add at least one `[target.NAME]` table, e.g. `[target.build]` with \
                 `cargo = [\"build\"]`",
            ));
        }
        let mut targets = BTreeMap::new();
        let mut references = BTreeMap::new();
        for (name, section) in &raw.targets {
            if !is_valid_name(name) {
                return Err(self.err(
                    section.span(),
                    format!(
                        "target name `{}`: expected lowercase letters, digits, `-` or `_`",
                        shown(name)
                    ),
                ));
            }
            let (target, refs) = self.target(section)?;
            targets.insert(name.to_string(), target);
            references.insert(name.to_string(), refs);
        }
        // On the values as interpolated: `from = "${BASE}"` names a target only now.
        graph::check_references(&targets, &references).map_err(|(span, m)| self.err(span, m))?;
        graph::check_cycles(&references).map_err(|(span, m)| self.err(span, m))?;
        let mut cargo = cargo;
        cargo.volatile_env = self.volatile_env(&raw.cargo.volatile_env, &cargo.env, &targets)?;

        let default_target = match &raw.default {
            Some(d) => {
                if !raw.targets.contains_key(d.get_ref()) {
                    return Err(self.err(
                        d.span(),
                        format!("default target `{}` is not defined", shown(d.get_ref())),
                    ));
                }
                d.get_ref().clone()
            }
            // The last target in the file, like a Dockerfile's last stage.
            None => raw
                .targets
                .iter()
                .max_by_key(|(_, t)| t.span().start)
                .map(|(n, _)| n.clone())
                .unwrap_or_default(),
        };

        Ok(Spec {
            project,
            default_target,
            sdk: SdkRef {
                image,
                digest_lock,
                packages,
                setup,
            },
            cargo,
            fetch,
            layers,
            cross,
            include,
            contexts,
            args: self.args.clone(),
            targets,
        })
    }

    /// `[cross]`: every table names a target triple Cachet maps a platform to.
    fn cross(&self, raw: &CrossSection) -> Result<CrossSettings, SpecError> {
        let mut targets = BTreeMap::new();
        for (triple, section) in &raw.targets {
            if !crate::compile::KNOWN_TRIPLES.contains(&triple.get_ref().as_str()) {
                return Err(self.err(
                    triple.span(),
                    format!(
                        "[cross.{}]: not a target triple Cachet builds for; expected one of {} \
                         (or `emulate = true|false` directly under [cross])",
                        shown(triple.get_ref()),
                        crate::compile::KNOWN_TRIPLES.join(", ")
                    ),
                ));
            }
            let section = section.get_ref();
            targets.insert(
                triple.get_ref().clone(),
                CrossTargetSettings {
                    env: self.env_map(&section.env, EnvReader::Cargo)?,
                    emulate: section.emulate,
                },
            );
        }
        Ok(CrossSettings {
            emulate: raw.emulate.as_ref().is_some_and(|e| *e.get_ref()),
            targets,
        })
    }

    /// `[cargo] volatile-env`: env names, each set by `[cargo] env` or a cargo target's `env`
    /// (a name nothing sets would silently key nothing, so it is refused).
    fn volatile_env(
        &self,
        names: &[Spanned<String>],
        cargo_env: &BTreeMap<String, String>,
        targets: &BTreeMap<String, Target>,
    ) -> Result<BTreeSet<String>, SpecError> {
        let mut volatile = BTreeSet::new();
        for name in names {
            let value = name.get_ref();
            // The step's shell compares and records the value, so it must be a shell name.
            if !is_env_name(value) {
                return Err(self.err(
                    name.span(),
                    format!(
                        "volatile-env `{}`: expected an environment variable name (A-Z, 0-9, `_`)",
                        shown(value)
                    ),
                ));
            }
            let set_by_a_target = targets.values().any(|t| match t {
                Target::Cargo(c) => c.env.contains_key(value),
                Target::Image(_) => false,
            });
            if !cargo_env.contains_key(value) && !set_by_a_target {
                return Err(self.err(
                    name.span(),
                    format!(
                        "volatile-env `{}` is not set by any cargo `env`: add it under [cargo] \
                         env, e.g. `{} = \"${{{}}}\"` with the argument declared under [args]",
                        shown(value),
                        shown(value),
                        shown(value)
                    ),
                ));
            }
            volatile.insert(value.clone());
        }
        Ok(volatile)
    }

    /// `[sdk] packages` (sorted and deduplicated: apt installs a set, so their order must not
    /// move the SDK identity) and `[sdk] setup` (in order).
    fn sdk_setup(&self, sdk: &SdkSection) -> Result<(Vec<String>, Vec<String>), SpecError> {
        let mut packages = BTreeSet::new();
        for package in &sdk.packages {
            let value = self.subst(package)?;
            if !is_debian_package(&value) {
                return Err(self.err(
                    package.span(),
                    format!(
                        "[sdk] packages: `{}`{} is not a package `apt-get install` takes: \
                         expected a Debian package name (lowercase letters, digits, `+`, `-`, \
                         `.`; at least two characters), optionally with `:arch` and then \
                         `=version`, such as `libssl-dev` or `make=4.3-4.1`",
                        shown(&value),
                        via_args(package, &value),
                    ),
                ));
            }
            packages.insert(value);
        }
        let mut setup = Vec::new();
        for command in &sdk.setup {
            let value = self.subst(command)?;
            if value.trim().is_empty() {
                return Err(self.err(
                    command.span(),
                    "[sdk] setup: an empty command; write the shell command to run, or remove it",
                ));
            }
            setup.push(value);
        }
        Ok((packages.into_iter().collect(), setup))
    }

    /// The target and the `+target` references it makes (checked once every target is known).
    fn target(
        &self,
        section: &Spanned<TargetSection>,
    ) -> Result<(Target, Vec<Reference>), SpecError> {
        let t = section.get_ref();
        match (&t.cargo, &t.from) {
            (Some(cargo), None) => {
                let image_only = [
                    ("copy", !t.copy.is_empty()),
                    ("entrypoint", t.entrypoint.is_some()),
                    ("cmd", t.cmd.is_some()),
                    ("workdir", t.workdir.is_some()),
                    ("user", t.user.is_some()),
                    ("labels", !t.labels.is_empty()),
                    ("expose", !t.expose.is_empty()),
                    ("volumes", !t.volumes.is_empty()),
                    ("stop-signal", t.stop_signal.is_some()),
                    ("healthcheck", t.healthcheck.is_some()),
                ];
                if let Some((key, _)) = image_only.iter().find(|(_, set)| *set) {
                    return Err(self.err(
                        section.span(),
                        format!("`{key}` belongs to an image target (one with `from`), not a cargo step"),
                    ));
                }
                let args: Vec<String> = cargo.get_ref().iter().map(|v| self.subst(v)).collect::<Result<_, _>>()?;
                match args.first() {
                    None => return Err(self.err(cargo.span(), "expected a cargo subcommand, e.g. [\"build\"]")),
                    Some(sub) if sub.starts_with('-') => {
                        return Err(self.err(cargo.span(), "the first element must be a cargo subcommand, not a flag"))
                    }
                    _ => {}
                }
                if let Err(refusal) = cargo_args::classify(&args) {
                    let span = cargo.get_ref().get(refusal.index).map_or(cargo.span(), |a| a.span());
                    return Err(self.err(span, refusal.message));
                }
                let mut artifacts = BTreeMap::new();
                for (name, path) in &t.artifacts {
                    if !is_valid_name(name) {
                        return Err(self.err(path.span(), format!("artifact name `{}`: expected lowercase letters, digits, `-` or `_`", shown(name))));
                    }
                    check_relative_path(path.get_ref()).map_err(|m| self.err(path.span(), m))?;
                    artifacts.insert(name.clone(), path.get_ref().clone());
                }
                let target = Target::Cargo(CargoTarget { args, artifacts, env: self.env_map(&t.env, EnvReader::Cargo)? });
                Ok((target, Vec::new()))
            }
            (None, Some(from)) => {
                if !t.artifacts.is_empty() {
                    return Err(self.err(section.span(), "`artifacts` belongs to a cargo step (one with `cargo`)"));
                }
                let from_value = self.subst(from)?;
                let mut references = Vec::new();
                let base = if from_value == "scratch" {
                    BaseRef::Scratch
                } else if let Some(name) = from_value.strip_prefix('+') {
                    references.push(Reference {
                        to: name.to_string(),
                        span: from.span(),
                        written: (from.get_ref() != &from_value).then(|| from.get_ref().clone()),
                        kind: ReferenceKind::Base,
                    });
                    BaseRef::Target(name.to_string())
                } else if let Some(problem) = image_problem(&from_value) {
                    return Err(self.err(
                        from.span(),
                        format!(
                            "image `{}`{}: {problem}; expected `scratch`, `+target` or {IMAGE_FORM}, such as `alpine:3.20`",
                            shown(&from_value),
                            via_args(from, &from_value),
                        ),
                    ));
                } else {
                    BaseRef::Image(from_value)
                };
                // Not interpolated, and without spans of their own: the target names the place.
                let config_strings = [
                    ("entrypoint", t.entrypoint.iter().flatten().collect::<Vec<_>>()),
                    ("cmd", t.cmd.iter().flatten().collect()),
                    ("workdir", t.workdir.iter().collect()),
                    ("user", t.user.iter().collect()),
                ];
                for (key, values) in config_strings {
                    if values.iter().any(|v| v.contains('\0')) {
                        return Err(self.err(section.span(), format!("`{key}`: {HOLDS_NUL}")));
                    }
                }
                let mut copies = Vec::new();
                for entry in &t.copy {
                    let (copy, reference) = self.copy_entry(entry)?;
                    references.push(reference);
                    copies.push(copy);
                }
                let at = |(span, message)| self.err(span, message);
                let expose = t.expose.iter().map(image_settings::exposed_port).collect::<Result<_, _>>().map_err(at)?;
                let volumes = t.volumes.iter().map(image_settings::volume).collect::<Result<_, _>>().map_err(at)?;
                let stop_signal = t.stop_signal.as_ref().map(image_settings::stop_signal).transpose().map_err(at)?;
                let healthcheck = t.healthcheck.as_ref().map(image_settings::healthcheck).transpose().map_err(at)?;
                let target = Target::Image(ImageTarget {
                    expose,
                    volumes,
                    stop_signal,
                    healthcheck,
                    from: base,
                    copies,
                    entrypoint: t.entrypoint.clone(),
                    cmd: t.cmd.clone(),
                    workdir: t.workdir.clone(),
                    user: t.user.clone(),
                    env: self.env_map(&t.env, EnvReader::Image)?,
                    labels: self.subst_map(&t.labels)?,
                });
                Ok((target, references))
            }
            (Some(_), Some(_)) => Err(self.err(
                section.span(),
                "a target is either a cargo step (`cargo = [...]`) or an image (`from = ...`), not both",
            )),
            (None, None) => Err(self.err(
                section.span(),
                "expected `cargo = [...]` (a cargo step) or `from = ...` (an image) in this target",
            )),
        }
    }

    fn copy_entry(
        &self,
        entry: &Spanned<CopyEntry>,
    ) -> Result<(ArtifactCopy, Reference), SpecError> {
        let c = entry.get_ref();
        let (Some(from), Some(artifact), Some(to)) = (&c.from, &c.artifact, &c.to) else {
            let missing: Vec<&str> = [
                ("`from`", c.from.is_none()),
                ("`artifact`", c.artifact.is_none()),
                ("`to`", c.to.is_none()),
            ]
            .iter()
            .filter(|(_, absent)| *absent)
            .map(|(key, _)| *key)
            .collect();
            return Err(self.err(
                entry.span(),
                format!(
                    "this copy entry has no {}: write `{{ from = \"+target\", artifact = \"name\", \
                     to = \"/path/in/image\" }}`",
                    missing.join(" or ")
                ),
            ));
        };
        let Some(from_target) = from
            .get_ref()
            .strip_prefix('+')
            .filter(|t| is_valid_name(t))
        else {
            return Err(self.err(from.span(), "expected a target reference such as `+build`"));
        };
        if !to.get_ref().starts_with('/') {
            return Err(self.err(
                to.span(),
                "expected an absolute path in the image, such as `/usr/local/bin/app`",
            ));
        }
        if to.get_ref().contains('\0') {
            return Err(self.err(to.span(), HOLDS_NUL));
        }
        let reference = Reference {
            to: from_target.to_string(),
            span: from.span(),
            written: None,
            kind: ReferenceKind::Copy {
                artifact: artifact.get_ref().clone(),
                artifact_span: artifact.span(),
            },
        };
        let copy = ArtifactCopy {
            from_target: from_target.to_string(),
            artifact: artifact.get_ref().clone(),
            to: to.get_ref().clone(),
        };
        Ok((copy, reference))
    }

    /// A BuildKit secret id (`[fetch] secrets` values, `[fetch] ca-bundle`): it names a file
    /// under a directory of the fetch step, so it must be one path component.
    fn secret_id(&self, id: &Spanned<String>) -> Result<String, SpecError> {
        let value = id.get_ref();
        if value.is_empty()
            || value == "."
            || value == ".."
            || value.contains('/')
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(self.err(
                id.span(),
                "expected a secret id as given to `--secret id=…` (no `/`, spaces or control \
                 characters)",
            ));
        }
        Ok(value.clone())
    }

    fn check_name(&self, value: &Spanned<String>, what: &str) -> Result<(), SpecError> {
        if is_valid_name(value.get_ref()) {
            Ok(())
        } else {
            Err(self.err(
                value.span(),
                format!(
                    "{what} `{}`: expected lowercase letters, digits, `-` or `_`",
                    shown(value.get_ref())
                ),
            ))
        }
    }
}

/// Every value ends up in an exec's arguments or environment, a path or an image config, and none
/// of them can carry a NUL character: the kernel reads C strings.
const HOLDS_NUL: &str = "this value holds a NUL character, which no argument, environment \
                         variable or path can carry";

/// The shape of an image reference, for messages.
const IMAGE_FORM: &str =
    "an image reference `[registry/]repository[:tag][@sha256:<64 hex digits>]` with a lowercase \
     repository";

/// What is wrong with `reference` as an image reference (as BuildKit would parse it), if
/// anything. Checked here so the error names the value's position, not only the value.
fn image_problem(reference: &str) -> Option<String> {
    match ImageRef::parse(reference) {
        Ok(_) => None,
        Err(LlbError::InvalidReference { reason, .. }) => Some(reason.to_string()),
        Err(other) => Some(other.to_string()),
    }
}

/// ` (from `${BASE}`)` when build arguments made `value` out of what `written` says.
fn via_args(written: &Spanned<String>, value: &str) -> String {
    if written.get_ref() == value {
        String::new()
    } else {
        format!(" (from `{}`)", shown(written.get_ref()))
    }
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `name[:arch][=version]` as `apt-get install` takes it: a package name as Debian policy
/// allows (§5.6.1), an architecture, a version (§5.6.12, epoch and revision included). Shell
/// metacharacters never pass, though the setup step quotes every name anyway.
fn is_debian_package(s: &str) -> bool {
    let (rest, version) = match s.split_once('=') {
        Some((rest, version)) => (rest, Some(version)),
        None => (s, None),
    };
    let (name, arch) = match rest.split_once(':') {
        Some((name, arch)) => (name, Some(arch)),
        None => (rest, None),
    };
    let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    name.len() >= 2
        && name.starts_with(lower)
        && name.chars().all(|c| lower(c) || "+-.".contains(c))
        && arch.is_none_or(|a| !a.is_empty() && a.chars().all(|c| lower(c) || c == '-'))
        && version.is_none_or(|v| {
            v.starts_with(|c: char| c.is_ascii_alphanumeric())
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".+~:-".contains(c))
        })
}

/// Artifact paths must stay inside the profile's output directory.
fn check_relative_path(path: &str) -> Result<(), String> {
    if path.contains('\0') {
        return Err(HOLDS_NUL.into());
    }
    if path.is_empty() {
        return Err(
            "expected a path relative to the profile's output directory, e.g. `app`".into(),
        );
    }
    if path.starts_with('/') {
        return Err(format!(
            "`{}` is absolute; artifact paths are relative to the profile's output directory",
            shown(path)
        ));
    }
    if path.split('/').any(|c| c == "..") {
        return Err(format!(
            "`{}` leaves the output directory through `..`",
            shown(path)
        ));
    }
    Ok(())
}

/// `[project] include` patterns name paths inside the build context.
fn check_context_pattern(pattern: &str) -> Result<(), String> {
    let trimmed = pattern.trim_start_matches("./");
    if trimmed.is_empty() {
        return Err("expected a path or pattern relative to the context root, e.g. `csrc`".into());
    }
    if pattern.starts_with('/') {
        return Err(format!(
            "`{}` is absolute; include patterns are relative to the context root",
            shown(pattern)
        ));
    }
    if pattern.split('/').any(|c| c == "..") {
        return Err(format!(
            "`{}` leaves the build context through `..`",
            shown(pattern)
        ));
    }
    if pattern.starts_with('!') {
        return Err(format!(
            "`{}`: exclusions are not supported; list only what cargo reads",
            shown(pattern)
        ));
    }
    Ok(())
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}
