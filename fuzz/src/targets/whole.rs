//! The whole path, as `frontend/src/build.rs` runs it with BuildKit replaced by the input:
//! options (`@opts`) → spec (`@spec`, loaded under the file name and build args the options
//! give) → target selection → project discovery over the context (every non-`@` member) →
//! image resolution (fake digests; configs from `@sdk-config` / `@base-config` or defaults) →
//! `compile` → encode (marshal, decode, readable view) → explain (JSON round trip, self-diff,
//! text, and a diff against a second build with the cache travelling the other way).
//!
//! Where the frontend would stop with an error (bad options, no such platform), the input goes
//! on with the defaults, so an option typo does not waste the deeper stages. Properties
//! checked besides "no panic": compiling is deterministic, our own Definition decodes back to
//! itself, an explanation survives its JSON, and a build differs from itself in nothing.

use std::collections::BTreeMap;

use arbitrary::Unstructured;
use cachet_frontend::opts::FrontendOpts;
use llb_gen::compile::{self, BuildRequest, NoCache, ResolvedImage};
use llb_gen::explain::{self, Explanation};
use llb_gen::llb::{
    decode_definition, decode_ops, definition_bytes, ImageRef, Platform, ReadableDefinition,
};
use llb_gen::spec::{self, BaseRef, ImageTarget, Target as SpecTarget_};
use sha2::{Digest, Sha256};

use super::project::{ask, describe, MANIFEST_WORDS};
use super::spec::{check_spec, SPEC, SPEC_WORDS};
use super::{discover, mutate_files, mutate_member};
use crate::bundle::Bundle;
use crate::engine::{bucket, Features, Target};
use crate::gen;
use crate::mutate::Mutator;

pub struct WholeTarget;

const OPTS: &str = "@opts";
const SDK_CONFIG: &str = "@sdk-config";
const BASE_CONFIG: &str = "@base-config";

/// The SDK's config when the input gives none (as in llb-gen's compile tests).
pub const DEFAULT_SDK_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/rust/bin:/usr/bin:/bin"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":[]}}"#;

impl Target for WholeTarget {
    fn name(&self) -> &'static str {
        "whole"
    }

    fn about(&self) -> &'static str {
        "opts → spec::load → discovery → compile → encode → explain, as build.rs runs them"
    }

    fn primary(&self) -> &'static str {
        SPEC
    }

    fn max_len(&self) -> usize {
        128 << 10
    }

    fn words(&self) -> &'static [&'static str] {
        static WORDS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        WORDS.get_or_init(|| SPEC_WORDS.iter().chain(MANIFEST_WORDS).copied().collect())
    }

    fn seeds(&self, rng: &mut fastrand::Rng) -> Vec<Bundle> {
        let mut seeds = crate::seeds::repo_seeds(self.name(), SPEC);
        let examples = crate::seeds::examples();
        for example in &examples {
            let Some(spec) = example.spec else { continue };
            let mut b = Bundle::single(SPEC, spec);
            b.members.extend(example.files.clone());
            seeds.push(b.clone());
            b.set(
                OPTS,
                b"target=build\nbuild-arg:BUILDKIT_INLINE_CACHE=1\nplatform=linux/arm64\n".to_vec(),
            );
            seeds.push(b.clone());
            b.set(
                OPTS,
                b"target=build.deps\nno-cache=\nforce-network-mode=host\n".to_vec(),
            );
            seeds.push(b);
        }
        // Test specs against each example's context, and generated specs and workspaces.
        let contexts: Vec<&BTreeMap<String, Vec<u8>>> = examples.iter().map(|e| &e.files).collect();
        for (i, (_, text)) in crate::seeds::SPEC_TEXTS.iter().enumerate() {
            let mut b = Bundle::single(SPEC, *text);
            b.members.extend(contexts[i % contexts.len()].clone());
            if text.contains("[args]") {
                b.set(OPTS, b"build-arg:LEVEL=3\nbuild-arg:CPU=native\n".to_vec());
            }
            seeds.push(b);
        }
        for _ in 0..96 {
            let dna = gen::dna(rng);
            let mut u = Unstructured::new(&dna);
            let (Ok(spec), Ok(ws)) = (gen::spec(&mut u), gen::workspace(&mut u)) else {
                continue;
            };
            let mut b = Bundle::single(SPEC, spec);
            b.members.extend(ws);
            if let Ok(o) = gen::opts(&mut u) {
                if u.ratio(1, 2).unwrap_or(false) {
                    b.set(OPTS, o);
                }
            }
            if let Ok(c) = gen::image_config(&mut u) {
                if u.ratio(1, 4).unwrap_or(false) {
                    b.set(SDK_CONFIG, c);
                }
            }
            seeds.push(b);
        }
        seeds
    }

    fn mutate(&self, input: &mut Bundle, m: &mut Mutator) {
        match m.rng.u8(..40) {
            0..=13 => mutate_member(input, SPEC, m),
            14 => {
                let dna = gen::dna(&mut m.rng);
                if let Ok(text) = gen::spec(&mut Unstructured::new(&dna)) {
                    m.donors.push(text.into_bytes());
                    mutate_member(input, SPEC, m);
                }
            }
            15..=17 => mutate_member(input, OPTS, m),
            18 => {
                let dna = gen::dna(&mut m.rng);
                if let Ok(lines) = gen::opts(&mut Unstructured::new(&dna)) {
                    input.set(OPTS, lines);
                }
            }
            19 => {
                let dna = gen::dna(&mut m.rng);
                let name = if m.rng.bool() {
                    SDK_CONFIG
                } else {
                    BASE_CONFIG
                };
                if let Ok(c) = gen::image_config(&mut Unstructured::new(&dna)) {
                    input.set(name, c);
                }
            }
            20 => mutate_member(
                input,
                if m.rng.bool() {
                    SDK_CONFIG
                } else {
                    BASE_CONFIG
                },
                m,
            ),
            _ => mutate_files(input, m),
        }
    }

    fn run(&self, input: &Bundle, f: &mut Features) {
        // Options, as `build` reads them (defaults where the frontend would stop).
        let lines: Vec<String> = input
            .lines(OPTS)
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        let opts = match FrontendOpts::parse(lines) {
            Ok(o) => o,
            Err(e) => {
                f.error("opts", &e.to_string());
                FrontendOpts::parse(Vec::new()).expect("no options parse")
            }
        };
        let platform = opts
            .platforms
            .first()
            .cloned()
            .unwrap_or_else(Platform::linux_amd64);

        let text = input.text(SPEC).unwrap_or_default();
        let spec = match spec::load(&opts.filename, &text, &opts.build_args) {
            Ok(s) => s,
            Err(e) => {
                let _ = e.to_string();
                f.error("load", &e.message);
                return;
            }
        };
        check_spec(&spec, f);
        let target = match spec.select_target(opts.target.as_deref()) {
            Ok(t) => t,
            Err(e) => {
                f.error("select", &e);
                spec.select_target(None)
                    .expect("the default target selects")
            }
        };

        let context: BTreeMap<String, Vec<u8>> =
            input.files().map(|(k, v)| (k.clone(), v.clone())).collect();
        let (project, rounds) = discover(&context);
        f.add(("rounds", rounds));

        let mut images = BTreeMap::new();
        for image in spec.images_for(&target.name) {
            let normalized = match ImageRef::parse(&image) {
                Ok(r) => r,
                Err(e) => {
                    f.error("image", &e.to_string());
                    return;
                }
            };
            images.insert(
                image.clone(),
                resolve(&spec, &image, &normalized, &platform, input),
            );
        }

        let request = cachet_frontend::build::build_request(
            &opts,
            &target,
            platform.clone(),
            "session-1".into(),
            "session-1",
            images,
            project,
            compile::HelperImage::unpinned(compile::DEFAULT_HELPER_IMAGE),
        );
        let compiled = match compile::compile(&spec, &request) {
            Ok(c) => c,
            Err(e) => {
                f.error("compile", &e.to_string());
                return;
            }
        };
        let layout = llb_gen::project::analyze(&request.project);
        describe(&layout, f);
        let cargo_args: Vec<Vec<String>> = spec
            .targets
            .values()
            .filter_map(|t| match t {
                SpecTarget_::Cargo(c) => Some(c.args.clone()),
                _ => None,
            })
            .collect();
        ask(&layout, &cargo_args, &spec.include, f);

        // Encode: what is sent to BuildKit.
        let bytes = definition_bytes(&compiled.definition);
        let decoded = decode_definition(&bytes).expect("our own Definition decodes");
        assert_eq!(
            decoded, compiled.definition,
            "the Definition changes in a round trip"
        );
        let ops = decode_ops(&compiled.definition).expect("our own ops decode");
        let readable = ReadableDefinition::from_definition(&compiled.definition)
            .expect("our own Definition has a readable view");
        let _ = readable.to_json_pretty();
        f.add((
            "compiled",
            bucket(ops.len()),
            compiled.image_config.is_some(),
            bucket(compiled.cargo_keys.len()),
            bucket(compiled.steps.len()),
        ));
        for step in &compiled.steps {
            f.add(("step", step.kind.as_str(), bucket(step.inputs.len())));
        }
        let again = compile::compile(&spec, &request).expect("compiles the second time");
        assert_eq!(
            definition_bytes(&again.definition),
            bytes,
            "compiling twice gives different Definitions"
        );
        assert_eq!(
            again.image_config, compiled.image_config,
            "and different image configs"
        );

        // Explain.
        let explanation = Explanation::new(&compiled, &target, &platform);
        let json = explanation.to_json();
        let back = Explanation::from_json(&json).expect("an explanation reads back");
        assert_eq!(back, explanation, "an explanation changes through its JSON");
        let same = explain::diff(&explanation, &back);
        assert!(
            same.is_empty(),
            "a build differs from itself: {}",
            same.to_json()
        );
        let _ = explain::render_text(&explanation);
        let other = BuildRequest {
            cache_travels: !request.cache_travels,
            no_cache: NoCache::All,
            ..request
        };
        if let Ok(second) = compile::compile(&spec, &other) {
            let e2 = Explanation::new(&second, &target, &platform);
            let d = explain::diff(&explanation, &e2);
            f.add(("diff", d.is_empty(), bucket(d.to_json().len() / 256)));
            let _ = explain::render_diff(&d);
        }
    }
}

/// What BuildKit would answer for `image`: the digest in the reference, else (SDK) the one
/// the spec locks it to, else one made from its name; and a config.
fn resolve(
    spec: &spec::Spec,
    image: &str,
    normalized: &ImageRef,
    platform: &Platform,
    input: &Bundle,
) -> ResolvedImage {
    let is_sdk = *image == spec.sdk.image;
    let is_base = spec.targets.values().any(|t| {
        matches!(t, SpecTarget_::Image(ImageTarget { from: BaseRef::Image(r), .. }) if r == image)
    });
    let digest = normalized
        .digest()
        .map(|d| d.to_string())
        .or_else(|| spec.sdk.digest_lock.clone().filter(|_| is_sdk))
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(image.as_bytes()))));
    let config = if is_sdk {
        input
            .get(SDK_CONFIG)
            .map(<[u8]>::to_vec)
            .unwrap_or_else(|| DEFAULT_SDK_CONFIG.as_bytes().to_vec())
    } else if is_base {
        input
            .get(BASE_CONFIG)
            .map(<[u8]>::to_vec)
            .unwrap_or_else(|| compile::minimal_base_config(platform))
    } else {
        b"{}".to_vec()
    };
    ResolvedImage { digest, config }
}
