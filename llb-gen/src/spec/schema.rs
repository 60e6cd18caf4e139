//! The JSON Schema of `Cachet.toml`, for editors (taplo / Even Better TOML) and CI checks.
//!
//! The shape (keys, types, `additionalProperties: false`, descriptions from doc comments) is
//! derived from the data model in `model.rs`; the rules below repeat the checks of `load.rs`
//! that a schema can express. `load.rs` stays the source of truth: the schema may accept a spec
//! the loader refuses (references between targets, forbidden cargo flags, values only known once
//! build arguments are applied), but it must not refuse a spec that builds. Two rules are
//! stricter than the loader, where the loader lets through values no build can use: digests are
//! lowercase (as BuildKit reports them, so an uppercase lock never matches) and a `copy` source
//! is exactly one `+` and a target name.
//!
//! Values the loader interpolates (`${NAME}`) are only checked when they contain no `${`: what
//! they hold after interpolation depends on `--build-arg`.
//!
//! The output is JSON Schema draft-07, which every editor integration understands, with all
//! subschemas inlined and every object's keys sorted, so it is byte-for-byte reproducible.

use schemars::generate::SchemaSettings;
use schemars::Schema;
use serde_json::{json, Map, Value};

use super::model::SpecFile;

/// Target, artifact, profile and project names (`is_valid_name` in `load.rs`).
pub(super) const NAME: &str = "^[a-z0-9][a-z0-9_-]*$";
/// `[sdk] digest` (`is_sha256_digest` in `load.rs`), lowercase as resolved digests are.
pub(super) const DIGEST: &str = "^sha256:[0-9a-f]{64}$";
/// `[sdk] packages` (`is_debian_package` in `load.rs`): `name[:arch][=version]`.
const DEBIAN_PACKAGE: &str = "^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9][A-Za-z0-9.+~:-]*)?$";
/// `copy[].from`: `+` and the name of a target.
pub(super) const TARGET_REF: &str = "^\\+[a-z0-9][a-z0-9_-]*$";
/// `copy[].to`: a path in the image.
pub(super) const ABSOLUTE_PATH: &str = "^/";
/// `[fetch] secrets` keys (`is_env_name` in `load.rs`).
const ENV_NAME: &str = "^[A-Z_][A-Z0-9_]*$";
/// A secret id as given to `--secret id=…`: not empty, no `/` or space.
pub(super) const SECRET_ID: &str = "^[^/ ]+$";
/// `expose` entries (`exposed_port` in `load.rs`): `PORT[/tcp|udp|sctp]`, port 1-65535.
const EXPOSED_PORT: &str = "^([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])(/(tcp|udp|sctp))?$";
/// `stop-signal` (`is_stop_signal` in `load.rs`): a name such as `SIGTERM` or a number.
pub(super) const STOP_SIGNAL: &str = "^(SIG[A-Z0-9]+([+-][0-9]+)?|[1-9][0-9]*)$";
/// A health check duration (`parse_duration` in `load.rs`): Go's form, `1m30s`, `500ms`.
pub(super) const DURATION: &str = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";
/// A value the loader interpolates and that uses a build argument.
const INTERPOLATED: &str = "\\$\\{";
/// No whitespace, not empty: an image reference.
const NO_WHITESPACE: &str = "^\\S+$";
/// A path component `..`.
const PARENT_COMPONENT: &str = "(^|/)\\.\\.(/|$)";

/// Title of the root schema.
const TITLE: &str = "Cachet.toml";
/// Description of the root schema.
const DESCRIPTION: &str = "A Cachet build spec: the SDK image, cargo settings and the targets \
     (cargo steps and images) the Cachet BuildKit frontend compiles into LLB.";

/// The JSON Schema of `Cachet.toml`, with every object's keys sorted.
pub fn json_schema() -> Value {
    let settings = SchemaSettings::draft07().with(|s| s.inline_subschemas = true);
    let mut schema = settings.into_generator().into_root_schema_for::<SpecFile>();
    schema.insert("title".into(), TITLE.into());
    schema.insert("description".into(), DESCRIPTION.into());
    let mut value = schema.to_value();
    tidy(&mut value);
    sorted(value)
}

/// `[cargo] mode`: `strict` or `fast` (`KeyMode::parse`).
pub(super) fn key_mode(schema: &mut Schema) {
    schema.insert(
        "anyOf".into(),
        json!([{ "enum": ["strict", "fast"] }, { "pattern": INTERPOLATED }]),
    );
}

/// `[cache] layers`: when dependency layers are planned.
pub(super) fn layer_policy(schema: &mut Schema) {
    schema.insert(
        "anyOf".into(),
        json!([{ "enum": ["auto", "always", "never"] }, { "pattern": INTERPOLATED }]),
    );
}

/// `[sdk] image`: a non-empty reference without whitespace.
pub(super) fn image_reference(schema: &mut Schema) {
    schema.insert(
        "anyOf".into(),
        json!([{ "pattern": NO_WHITESPACE }, { "pattern": INTERPOLATED }]),
    );
}

/// `[sdk] packages`: Debian package names.
pub(super) fn sdk_packages(schema: &mut Schema) {
    if let Some(items) = schema.get_mut("items").and_then(Value::as_object_mut) {
        items.insert(
            "anyOf".into(),
            json!([{ "pattern": DEBIAN_PACKAGE }, { "pattern": INTERPOLATED }]),
        );
    }
}

/// `[sdk] setup`: commands that are more than whitespace.
pub(super) fn sdk_setup(schema: &mut Schema) {
    if let Some(items) = schema.get_mut("items").and_then(Value::as_object_mut) {
        items.insert("pattern".into(), "\\S".into());
    }
}

/// `[project] include`: patterns inside the build context (`check_context_pattern`).
pub(super) fn context_patterns(schema: &mut Schema) {
    if let Some(items) = schema.get_mut("items").and_then(Value::as_object_mut) {
        items.insert(
            "anyOf".into(),
            json!([
                {
                    "not": {
                        "anyOf": [
                            // Absolute, or an exclusion.
                            { "pattern": "^[/!]" },
                            { "pattern": PARENT_COMPONENT },
                            // Empty once leading `./` are removed.
                            { "pattern": "^(\\./)*$" },
                        ]
                    }
                },
                { "pattern": INTERPOLATED },
            ]),
        );
    }
}

/// `[fetch] secrets`: environment variable name → secret id.
pub(super) fn secret_env(schema: &mut Schema) {
    schema.insert("propertyNames".into(), json!({ "pattern": ENV_NAME }));
    if let Some(values) = schema
        .get_mut("additionalProperties")
        .and_then(Value::as_object_mut)
    {
        values.insert("pattern".into(), SECRET_ID.into());
    }
}

/// The file: `[target.NAME]` is required (`no targets` in `load.rs`), though the model
/// defaults it to empty so that the loader can say so with a position.
pub(super) fn require_targets(schema: &mut Schema) {
    if let Some(Value::Array(required)) = schema.ensure_object().get_mut("required") {
        required.push("target".into());
    }
}

/// `[target]`: at least one target, each with a valid name.
pub(super) fn target_names(schema: &mut Schema) {
    schema.insert("propertyNames".into(), json!({ "pattern": NAME }));
    schema.insert("minProperties".into(), 1.into());
}

/// `[contexts]`: context names as `spec/contexts.rs` checks them → paths one level up
/// (`../shared-lib`); what a pattern cannot say (normalization, Cachet's own directories,
/// overlaps) the loader checks.
pub(super) fn named_contexts(schema: &mut Schema) {
    schema.insert(
        "propertyNames".into(),
        json!({ "pattern": "^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?$" }),
    );
    schema.insert(
        "additionalProperties".into(),
        json!({ "type": "string", "pattern": "^(\\./)*\\.\\./" }),
    );
}

/// `cargo = [...]`: a subcommand first, then its arguments.
pub(super) fn cargo_args(schema: &mut Schema) {
    schema.insert("minItems".into(), 1.into());
    schema.insert(
        "items".into(),
        json!([{
            "type": "string",
            "description": "The cargo subcommand, e.g. `build`; not a flag.",
            "not": { "pattern": "^-" },
        }]),
    );
    schema.insert("additionalItems".into(), json!({ "type": "string" }));
}

/// `artifacts`: valid names → paths inside the profile's output directory
/// (`check_relative_path`).
pub(super) fn artifacts(schema: &mut Schema) {
    schema.insert("propertyNames".into(), json!({ "pattern": NAME }));
    if let Some(values) = schema
        .get_mut("additionalProperties")
        .and_then(Value::as_object_mut)
    {
        values.insert("pattern".into(), "^[^/]".into());
        values.insert("not".into(), json!({ "pattern": PARENT_COMPONENT }));
    }
}

/// `from`: `scratch`, an image reference or `+target`. The loader checks references once build
/// arguments are applied, so an interpolated value may name a target too (`+${STAGE}`).
pub(super) fn base(schema: &mut Schema) {
    schema.insert(
        "anyOf".into(),
        json!([
            { "pattern": TARGET_REF },
            { "pattern": "^[^+\\s]\\S*$" },
            { "pattern": INTERPOLATED },
        ]),
    );
}

/// `expose`: ports with an optional protocol.
pub(super) fn exposed_ports(schema: &mut Schema) {
    if let Some(items) = schema.get_mut("items").and_then(Value::as_object_mut) {
        items.insert("pattern".into(), EXPOSED_PORT.into());
    }
}

/// `volumes`: absolute paths in the image.
pub(super) fn absolute_paths(schema: &mut Schema) {
    if let Some(items) = schema.get_mut("items").and_then(Value::as_object_mut) {
        items.insert("pattern".into(), ABSOLUTE_PATH.into());
    }
}

/// `healthcheck.test`: Docker's `CMD`, `CMD-SHELL` or `NONE` form.
pub(super) fn healthcheck_test(schema: &mut Schema) {
    schema.insert(
        "anyOf".into(),
        json!([
            { "items": [{ "const": "CMD" }], "minItems": 2 },
            { "items": [{ "const": "CMD-SHELL" }, { "type": "string" }], "minItems": 2, "maxItems": 2 },
            { "items": [{ "const": "NONE" }], "maxItems": 1, "minItems": 1 },
        ]),
    );
}

/// A target is a cargo step (`cargo`) or an image (`from`), never both, and takes only the
/// keys of its kind (`Loader::target`; empty tables and lists do not count).
pub(super) fn step_kind(schema: &mut Schema) {
    schema.insert(
        "allOf".into(),
        json!([
            { "oneOf": [{ "required": ["cargo"] }, { "required": ["from"] }] },
            {
                "if": { "required": ["cargo"] },
                "then": {
                    "properties": {
                        "copy": { "maxItems": 0 },
                        "labels": { "maxProperties": 0 },
                        "entrypoint": false,
                        "cmd": false,
                        "workdir": false,
                        "user": false,
                        "expose": { "maxItems": 0 },
                        "volumes": { "maxItems": 0 },
                        "stop-signal": false,
                        "healthcheck": false,
                    }
                }
            },
            {
                "if": { "required": ["from"] },
                "then": { "properties": { "artifacts": { "maxProperties": 0 } } }
            },
        ]),
    );
}

/// Editor-friendly touches, applied to every subschema:
/// - TOML has no null (an absent key is how a value is left out), so `"type": ["string",
///   "null"]` becomes `"type": "string"`;
/// - a description is one line per paragraph: doc comments wrap at 100 columns, tooltips do not
///   need to.
fn tidy(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::String(text)) = map.get_mut("description") {
                *text = unwrap_lines(text);
            }
            map.values_mut().for_each(tidy);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// Joins the lines of each paragraph of `text` with spaces; paragraphs stay apart.
fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| {
            paragraph
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// `value` with every object's keys in sorted order, whatever map type `serde_json` uses.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
