//! Frontend options: `FrontendOpts::from_vars` over an environment holding the option lines
//! (`BUILDKIT_FRONTEND_OPT_<n>`) and other variables (`@env`, any bytes), then what `build`
//! does with the options before it reads the spec: the platform, the resolve mode, whether the
//! cache travels, and the spec's local source.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use arbitrary::Unstructured;
use cachet_frontend::opts::FrontendOpts;
use llb_gen::llb::Local;

use super::mutate_member;
use crate::bundle::Bundle;
use crate::engine::{bucket, Features, Target};
use crate::gen;
use crate::mutate::Mutator;

pub struct OptsTarget;

const OPTS: &str = "@opts";
const ENV: &str = "@env";

impl Target for OptsTarget {
    fn name(&self) -> &'static str {
        "opts"
    }

    fn about(&self) -> &'static str {
        "FrontendOpts::from_vars/parse, then platform, resolve mode and the spec local"
    }

    fn primary(&self) -> &'static str {
        OPTS
    }

    fn max_len(&self) -> usize {
        8 << 10
    }

    fn words(&self) -> &'static [&'static str] {
        &[
            "filename=",
            "target=",
            "platform=",
            "build-arg:",
            "label:",
            "no-cache=",
            "cache-from=",
            "cache-imports=",
            "force-network-mode=",
            "image-resolve-mode=",
            "multi-platform=",
            "contextkey=",
            "dockerfilekey=",
            "BUILDKIT_INLINE_CACHE",
            "linux/amd64",
            "linux/arm64/v8",
            "attest:sbom=",
            "vcs:source=",
            "context:x=",
        ]
    }

    fn seeds(&self, rng: &mut fastrand::Rng) -> Vec<Bundle> {
        let mut seeds = crate::seeds::repo_seeds(self.name(), OPTS);
        // What dockerd and buildx send.
        seeds.push(Bundle::single(
            OPTS,
            "filename=Cachet.toml\ntarget=image\nno-cache=\ncache-from=127.0.0.1:5050/cache:a\nadd-hosts=\nimage-resolve-mode=default\nforce-network-mode=none\nsource=cachet/frontend:dev\ncmdline=cachet/frontend:dev\n",
        ));
        seeds.push(Bundle::single(
            OPTS,
            "build-arg:LEVEL=3\nlabel:a=b=c\nvcs:localdir:context=.\nplatform=linux/arm64\ncache-imports=[{\"Type\":\"registry\",\"Attrs\":{\"ref\":\"r/c:1\",\"mode\":\"max\"}}]\nmulti-platform=false\nattest:provenance=mode=max\n",
        ));
        for _ in 0..64 {
            let dna = gen::dna(rng);
            if let Ok(lines) = gen::opts(&mut Unstructured::new(&dna)) {
                let mut b = Bundle::single(OPTS, lines);
                if rng.u8(..4) == 0 {
                    b.set(ENV, b"HOME=/\xff\nPATH=/bin\n".to_vec());
                }
                seeds.push(b);
            }
        }
        seeds
    }

    fn mutate(&self, input: &mut Bundle, m: &mut Mutator) {
        match m.rng.u8(..16) {
            0 => {
                let dna = gen::dna(&mut m.rng);
                if let Ok(lines) = gen::opts(&mut Unstructured::new(&dna)) {
                    let mut data = input.get(OPTS).map(<[u8]>::to_vec).unwrap_or_default();
                    data.extend(lines);
                    input.set(OPTS, data);
                }
            }
            1 => mutate_member(input, ENV, m),
            _ => mutate_member(input, OPTS, m),
        }
    }

    fn run(&self, input: &Bundle, f: &mut Features) {
        let lines = input.lines(OPTS);
        let mut vars: Vec<(OsString, OsString)> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    OsString::from(format!("BUILDKIT_FRONTEND_OPT_{i}")),
                    OsString::from_vec(l.to_vec()),
                )
            })
            .collect();
        for line in input.lines(ENV) {
            let (k, v) = match line.iter().position(|&b| b == b'=') {
                Some(i) => (&line[..i], &line[i + 1..]),
                None => (line, &b""[..]),
            };
            vars.push((
                OsString::from_vec(k.to_vec()),
                OsString::from_vec(v.to_vec()),
            ));
        }
        let result = FrontendOpts::from_vars(vars);

        // The same option values as strings must decode the same way.
        if let Ok(strings) = lines
            .iter()
            .map(|l| String::from_utf8(l.to_vec()))
            .collect::<Result<Vec<String>, _>>()
        {
            let parsed = FrontendOpts::parse(strings);
            assert_eq!(result, parsed, "from_vars and parse disagree");
        }

        let opts = match result {
            Ok(o) => o,
            Err(e) => {
                f.error("opts", &e.to_string());
                return;
            }
        };
        // One feature per fact: their product would make nearly every input "new".
        f.add(("target", opts.target.is_some()));
        f.add((
            "platforms given",
            bucket(opts.platforms.len()),
            opts.multi_platform,
        ));
        f.add(("build args", bucket(opts.build_args.len())));
        f.add(("labels", bucket(opts.labels.len())));
        f.add(("no-cache", std::mem::discriminant(&opts.no_cache)));
        f.add((
            "cache imports",
            bucket(opts.cache_imports.len()),
            opts.cache_travels(),
        ));
        f.add(("network", format!("{:?}", opts.network)));
        f.add(("resolve mode", opts.image_resolve_mode.as_str()));
        f.add((
            "locals",
            opts.spec_local == "dockerfile",
            opts.context_local == "context",
        ));
        for platform in &opts.platforms {
            let triple = llb_gen::compile::rust_triple(platform);
            f.add(("platform", platform.variant.is_some(), triple.ok()));
        }
        // The spec's local, as `read_spec` builds it.
        match Local::new(&opts.spec_local) {
            Ok(local) => {
                let state = local
                    .session("session".to_string())
                    .follow_paths([opts.filename.clone()])
                    .shared_key_hint(format!("{}-session", opts.spec_local))
                    .custom_name(format!("[cachet] load spec {}", opts.filename))
                    .into_state();
                let def = state.marshal();
                assert!(!def.def.is_empty(), "a local marshals to no ops");
            }
            Err(e) => f.error("local", &e.to_string()),
        }
        if let Err(e) = Local::new(&opts.context_local) {
            f.error("context local", &e.to_string());
        }
    }
}
