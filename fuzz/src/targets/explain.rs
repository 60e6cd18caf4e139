//! Saved explanations, as `llb-gen explain --diff OLD NEW` reads them: `Explanation::from_json`
//! on mutated JSON (`@old`, `@new`), then `diff`, `render_diff`, `render_text` and the diff's
//! JSON. An explanation that reads must survive its own JSON, and differ from itself in
//! nothing. Seeds are explanations of the examples, compiled at start-up.

use std::collections::BTreeMap;

use llb_gen::compile::{self, BuildRequest, ResolvedImage};
use llb_gen::explain::{self, Explanation};
use llb_gen::llb::Platform;
use llb_gen::project::ProjectFiles;
use llb_gen::spec;

use super::mutate_member;
use super::whole::DEFAULT_SDK_CONFIG;
use crate::bundle::Bundle;
use crate::engine::{bucket, Features, Target};
use crate::mutate::Mutator;

pub struct ExplainTarget;

const OLD: &str = "@old";
const NEW: &str = "@new";

impl Target for ExplainTarget {
    fn name(&self) -> &'static str {
        "explain"
    }

    fn about(&self) -> &'static str {
        "Explanation::from_json, diff, render_diff, render_text (explain --diff)"
    }

    fn primary(&self) -> &'static str {
        OLD
    }

    fn max_len(&self) -> usize {
        128 << 10
    }

    fn words(&self) -> &'static [&'static str] {
        &[
            "\"format\"",
            "\"cachet-explain/1\"",
            "\"cachet-explain/2\"",
            "\"key_schema\"",
            "\"steps\"",
            "\"kind\"",
            "\"fetch\"",
            "\"cargo\"",
            "\"image\"",
            "\"dependencies\"",
            "\"workspace-dependencies\"",
            "\"other\"",
            "\"keys\"",
            "\"inputs\"",
            "\"mode\"",
            "\"strict\"",
            "\"fast\"",
            "\"mount_id\"",
            "\"digest\"",
            "null",
            "true",
            "[]",
            "{}",
            "1e308",
            "-0",
            "\"\\ud800\"",
            "\"\\u0000\"",
        ]
    }

    fn seeds(&self, _rng: &mut fastrand::Rng) -> Vec<Bundle> {
        let mut seeds = crate::seeds::repo_seeds(self.name(), OLD);
        let mut explanations = Vec::new();
        for example in crate::seeds::examples() {
            let Some(text) = example.spec else { continue };
            let project = ProjectFiles {
                files: example.files,
            };
            for (digest, level) in [("1", "1"), ("2", "1"), ("1", "3")] {
                if let Some(e) = explain_of(text, project.clone(), digest, level) {
                    explanations.push(e);
                }
            }
        }
        for (_, text) in crate::seeds::SPEC_TEXTS {
            for digest in ["1", "2"] {
                if let Some(e) = explain_of(text.as_bytes(), ProjectFiles::default(), digest, "2") {
                    explanations.push(e);
                }
            }
        }
        for pair in explanations.chunks(3) {
            for (i, old) in pair.iter().enumerate() {
                let mut b = Bundle::single(OLD, old.to_json());
                if let Some(new) = pair.get(i + 1) {
                    b.set(NEW, new.to_json());
                }
                seeds.push(b);
            }
        }
        seeds
    }

    fn mutate(&self, input: &mut Bundle, m: &mut Mutator) {
        match m.rng.u8(..8) {
            0 => {
                if let Some(old) = input.get(OLD).map(<[u8]>::to_vec) {
                    input.set(NEW, old);
                }
            }
            1 | 2 => mutate_member(input, NEW, m),
            _ => mutate_member(input, OLD, m),
        }
    }

    fn run(&self, input: &Bundle, f: &mut Features) {
        let read = |name: &str, f: &mut Features| -> Option<Explanation> {
            let text = input.text(name)?;
            match Explanation::from_json(&text) {
                Ok(e) => {
                    let back = Explanation::from_json(&e.to_json())
                        .expect("an explanation that read reads back from its own JSON");
                    assert_eq!(back, e, "an explanation changes through its JSON");
                    let _ = explain::render_text(&e);
                    f.add(("read", bucket(e.steps.len())));
                    Some(e)
                }
                Err(err) => {
                    f.error(name, &err.to_string());
                    None
                }
            }
        };
        let old = read(OLD, f);
        let new = read(NEW, f);
        if let Some(old) = &old {
            let same = explain::diff(old, old);
            assert!(
                same.is_empty(),
                "an explanation differs from itself: {}",
                same.to_json()
            );
        }
        if let (Some(old), Some(new)) = (&old, &new) {
            let d = explain::diff(old, new);
            let _ = explain::render_diff(&d);
            let json = d.to_json();
            f.add(("diff", d.is_empty(), bucket(json.len() / 128)));
        }
    }
}

/// The explanation of building `text`'s default target.
fn explain_of(
    text: &[u8],
    project: ProjectFiles,
    digest: &str,
    level: &str,
) -> Option<Explanation> {
    let text = std::str::from_utf8(text).ok()?;
    let args = BTreeMap::from([("LEVEL".to_string(), level.to_string())]);
    let spec = spec::load("Cachet.toml", text, &args).ok()?;
    let target = spec.select_target(None).ok()?;
    let images = spec
        .images_for(&target.name)
        .into_iter()
        .map(|i| {
            let resolved = ResolvedImage {
                digest: format!("sha256:{}", digest.repeat(64)),
                config: DEFAULT_SDK_CONFIG.as_bytes().to_vec(),
            };
            (i, resolved)
        })
        .collect();
    let request = BuildRequest {
        helper: llb_gen::compile::HelperImage::unpinned(llb_gen::compile::DEFAULT_HELPER_IMAGE),
        images,
        project,
        ..BuildRequest::new(target.clone(), Platform::linux_amd64(), "s")
    };
    let compiled = compile::compile(&spec, &request).ok()?;
    Some(Explanation::new(&compiled, &target, &request.platform))
}
