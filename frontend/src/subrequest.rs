//! Subrequests: `docker buildx build --call NAME` asks the frontend a question instead of
//! building. buildx sends the opt `requestid=frontend.NAME` (and `frontend.caps` with
//! `moby.buildkit.frontend.subrequests`, which BuildKit checks against our image label before
//! we start); the answer is a result with no ref and metadata `result.json`, `result.txt` and
//! `version`, plus `result.statuscode` for `check`, which buildx turns into its exit status.
//! buildx prints `result.json` for `--call NAME,format=json`, else its own rendering of the
//! JSON for the requests it knows, and `result.txt` for any other name: that is how `--call
//! explain` reaches the user.
//!
//! Every answer comes from the same steps as a build ([`build::load`], [`build::plan`]): the
//! same spec reading, the same images resolved with the same options and the same session,
//! the same compiler. Only the final solve is left out, so an outline's cache mounts and an
//! explanation's op digests are those of the build with the same options in the same session.
//! What the answers contain is computed in `llb_gen::inspect` and `llb_gen::explain` (pure).
//!
//! dockerd 20.10's docker CLI has no `--call`, so none of this is reached there.

use std::collections::{BTreeMap, BTreeSet};

use llb_gen::explain::{self, Explanation};
use llb_gen::inspect::{self, lint, SpecMap};
use llb_gen::llb::Local;
use llb_gen::project;
use llb_gen::proto::gateway as gw;

use crate::build::{self, Loaded};
use crate::failure::Failure;
use crate::gateway::Gateway;
use crate::opts::FrontendOpts;

/// Answers `request` (a `requestid`), or says which requests there are.
pub async fn answer(
    gateway: &mut Gateway,
    pong: &gw::PongResponse,
    opts: FrontendOpts,
    request: &str,
) -> Result<gw::Result, Failure> {
    match request {
        inspect::DESCRIBE => {
            let requests = inspect::requests();
            Ok(result(
                inspect::to_json(&requests),
                inspect::render_requests(&requests),
                None,
            ))
        }
        inspect::TARGETS => {
            let loaded = build::load_spec(gateway, pong, opts).await?;
            let list = inspect::targets(&loaded.front.text, &loaded.front.spec);
            Ok(result(
                inspect::to_json(&list),
                inspect::render_targets(&list),
                None,
            ))
        }
        inspect::OUTLINE => {
            let loaded = build::load(gateway, pong, opts).await?;
            let planned = build::plan(gateway, loaded).await?;
            let loaded = &planned.loaded;
            let mut outlines = Vec::new();
            for (_, compiled) in &planned.builds {
                outlines.push(inspect::outline(
                    &loaded.front.text,
                    &loaded.front.spec,
                    &loaded.front.target,
                    compiled,
                )?);
            }
            let outline = merge_outlines(outlines);
            Ok(result(
                inspect::to_json(&outline),
                inspect::render_outline(&outline),
                None,
            ))
        }
        inspect::LINT => {
            let loaded = build::load(gateway, pong, opts).await?;
            let present = present_includes(gateway, &loaded).await?;
            let warnings = lint::lint(&lint::LintInput {
                file: &loaded.opts.filename,
                text: &loaded.front.text,
                spec: &loaded.front.spec,
                project: &loaded.project,
                present_includes: &present,
            });
            let results = lint::results(
                &loaded.opts.filename,
                &loaded.front.text,
                &loaded.project,
                &warnings,
            );
            Ok(result(
                inspect::to_json(&results),
                lint::render(&warnings),
                Some(lint::status_code(&warnings)),
            ))
        }
        inspect::EXPLAIN => {
            let loaded = build::load(gateway, pong, opts).await?;
            let planned = build::plan(gateway, loaded).await?;
            let loaded = &planned.loaded;
            let explanations: Vec<Explanation> = planned
                .builds
                .iter()
                .map(|(platform, compiled)| loaded.front.explain(compiled, platform))
                .collect();
            let (json, text) = explain_answer(&explanations);
            Ok(result(json, text, None))
        }
        other => Err(unknown(other).into()),
    }
}

/// One outline for every platform of the build: the first platform's (the arguments are the
/// spec's, the same for all), with the secrets, SSH agents and cache mounts of every platform
/// (each platform has target caches of its own), each once, sorted.
fn merge_outlines(outlines: Vec<inspect::Outline>) -> inspect::Outline {
    let mut all = outlines.into_iter();
    let mut merged = all.next().unwrap_or_default();
    for other in all {
        merged.secrets.extend(other.secrets);
        merged.ssh.extend(other.ssh);
        merged.cache.extend(other.cache);
    }
    // A secret required on one platform is required.
    merged
        .secrets
        .sort_by(|a, b| a.name.cmp(&b.name).then(b.required.cmp(&a.required)));
    merged.secrets.dedup_by(|a, b| a.name == b.name);
    merged
        .ssh
        .sort_by(|a, b| a.name.cmp(&b.name).then(b.required.cmp(&a.required)));
    merged.ssh.dedup_by(|a, b| a.name == b.name);
    merged.cache.sort();
    merged.cache.dedup();
    merged
}

/// `result.json` and `result.txt` of `--call explain`: for one platform the explanation
/// itself (what `llb-gen explain --diff` reads back); for several (`--platform
/// linux/amd64,linux/arm64`), a JSON array of one explanation per platform in request order,
/// and their texts one after the other, separated by a blank line.
fn explain_answer(explanations: &[Explanation]) -> (String, String) {
    match explanations {
        [one] => {
            // `to_json` ends in a newline; buildx adds its own after `result.json`.
            let json = one.to_json().trim_end().to_string();
            (json, explain::render_text(one))
        }
        several => {
            let json = serde_json::to_string_pretty(several).unwrap_or_default();
            let texts: Vec<String> = several
                .iter()
                .map(|e| explain::render_text(e).trim_end().to_string())
                .collect();
            (json, format!("{}\n", texts.join("\n\n")))
        }
    }
}

/// The error for a request this frontend does not answer. Not BuildKit's typed "unsupported
/// subrequest" error: for `outline`, `targets` and `lint` buildx answers that by re-running
/// the request with the Dockerfile frontend, which cannot read a Cachet spec.
fn unknown(request: &str) -> String {
    let names: Vec<String> = inspect::request_names()
        .iter()
        .map(|n| n.trim_start_matches("frontend.").to_string())
        .collect();
    let name = request.trim_start_matches("frontend.");
    format!(
        "Cachet does not answer the request `{request}` (`--call {name}`); it answers \
         `--call` {} (`check` is `lint`), or builds when no `--call` is given",
        names.join(", ")
    )
}

/// A subrequest's result: metadata only, no ref.
fn result(json: String, text: String, status: Option<u8>) -> gw::Result {
    let mut metadata = BTreeMap::from([
        ("result.json".to_string(), json.into_bytes()),
        ("result.txt".to_string(), text.into_bytes()),
        ("version".to_string(), inspect::VERSION.as_bytes().to_vec()),
    ]);
    if let Some(status) = status {
        metadata.insert(
            "result.statuscode".to_string(),
            status.to_string().into_bytes(),
        );
    }
    gw::Result {
        metadata,
        result: None,
        attestations: Default::default(),
    }
}

/// Which literal `[project] include` paths exist in the context: a local that transfers only
/// those paths (a directory without its contents), then their parents listed.
async fn present_includes(
    gateway: &mut Gateway,
    loaded: &Loaded,
) -> Result<BTreeSet<String>, Failure> {
    let paths = lint::literal_includes(&SpecMap::new(&loaded.front.text));
    let mut present = BTreeSet::new();
    if paths.is_empty() {
        return Ok(present);
    }
    let mut excluded = project::excluded_patterns(&loaded.project);
    // A directory's contents are not needed, unless another path is inside it.
    for path in &paths {
        let prefix = format!("{path}/");
        if !paths.iter().any(|p| p.starts_with(&prefix)) {
            excluded.push(format!("{path}/*"));
        }
    }
    let opts = &loaded.opts;
    let session = &loaded.session_id;
    let local = Local::new(&opts.context_local)
        .map_err(|e| e.to_string())?
        .session(session.clone())
        .include_patterns(paths.iter().cloned())
        .exclude_patterns(excluded)
        .shared_key_hint(format!("cachet-includes-{}-{session}", opts.context_local))
        .custom_name("[cachet] look for include paths")
        .into_state();
    let reference = gateway
        .solve(local.marshal(), Vec::new(), true, "look for include paths")
        .await
        .map_err(|e| e.to_string())?;
    for path in paths {
        let (dir, name) = match path.rsplit_once('/') {
            Some((dir, name)) => (dir.to_string(), name.to_string()),
            None => ("/".to_string(), path.clone()),
        };
        // A missing parent directory is a missing path.
        if let Ok(entries) = gateway.read_dir(&reference, &dir).await {
            if entries.iter().any(|e| e.path == name) {
                present.insert(path);
            }
        }
    }
    Ok(present)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(ids: &[&str]) -> Vec<inspect::CacheMountInfo> {
        ids.iter()
            .map(|id| inspect::CacheMountInfo { id: id.to_string() })
            .collect()
    }

    #[test]
    fn an_outline_of_several_platforms_names_every_platforms_caches_once() {
        let secret = |name: &str, required| inspect::Requirement {
            name: name.into(),
            required,
        };
        let amd64 = inspect::Outline {
            name: "build".into(),
            secrets: vec![secret("token", false)],
            cache: cache(&["cachet/p/x86_64-unknown-linux-gnu/release/a", "shared"]),
            ..Default::default()
        };
        let arm64 = inspect::Outline {
            name: "build".into(),
            secrets: vec![secret("token", true)],
            cache: cache(&["cachet/p/aarch64-unknown-linux-gnu/release/b", "shared"]),
            ..Default::default()
        };
        let merged = merge_outlines(vec![amd64, arm64]);
        assert_eq!(merged.name, "build");
        assert_eq!(
            merged.cache,
            cache(&[
                "cachet/p/aarch64-unknown-linux-gnu/release/b",
                "cachet/p/x86_64-unknown-linux-gnu/release/a",
                "shared",
            ])
        );
        assert_eq!(merged.secrets, vec![secret("token", true)]);
    }

    #[test]
    fn an_unknown_request_names_the_ones_there_are() {
        let e = unknown("frontend.nonsense");
        assert!(e.contains("`frontend.nonsense`"), "{e}");
        for name in [
            "targets",
            "outline",
            "lint",
            "explain",
            "subrequests.describe",
        ] {
            assert!(e.contains(name), "{e}");
        }
        // buildx falls back to the Dockerfile frontend on this wording.
        assert!(!e.contains("unsupported request"), "{e}");
    }

    #[test]
    fn a_check_result_carries_its_status_and_version() {
        let r = result("{}".into(), "ok".into(), Some(1));
        assert_eq!(r.metadata["result.statuscode"], b"1");
        assert_eq!(r.metadata["version"], b"1.0.0");
        assert!(r.result.is_none());
        assert!(!result("{}".into(), "".into(), None)
            .metadata
            .contains_key("result.statuscode"));
    }
}
