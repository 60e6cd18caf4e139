//! Unit tests of the builder: each op kind is marshalled, decoded and
//! checked field by field against what BuildKit expects.

use super::*;
use crate::proto::pb;
use prost::Message;
use std::collections::{BTreeSet, HashSet};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn img() -> State {
    Image::new("alpine:3.20").expect("valid ref").into_state()
}

fn ctx() -> State {
    Local::new("context").expect("valid name").into_state()
}

/// Decodes a Definition and checks the invariants every graph must meet:
/// terminal op last with one input, each Input.digest names an op present
/// (by the SHA-256 of its bytes), no duplicates, inputs before users,
/// metadata keys are op digests.
fn check_definition(def: &pb::Definition) -> Vec<(Digest, pb::Op)> {
    let ops = decode_ops(def).expect("decodes");
    assert!(ops.len() >= 2, "a non-empty graph has an op and a terminal");
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, (d, op)) in ops.iter().enumerate() {
        assert!(seen.insert(d.as_str()), "duplicate op {d}");
        // Round trip: re-encoding the decoded op gives the same bytes.
        assert_eq!(
            op.encode_to_vec(),
            def.def[i],
            "op {i} re-encodes identically"
        );
        for input in &op.inputs {
            assert!(
                seen.contains(input.digest.as_str()) && input.digest != d.as_str(),
                "input {} of op {i} must appear earlier",
                input.digest
            );
        }
        assert!(def.metadata.contains_key(d.as_str()), "metadata for {d}");
    }
    let (_, terminal) = ops.last().expect("non-empty");
    assert_eq!(terminal.inputs.len(), 1);
    assert!(terminal.op.is_none() && terminal.platform.is_none() && terminal.constraints.is_none());
    for key in def.metadata.keys() {
        assert!(
            ops.iter().any(|(d, _)| d.as_str() == key),
            "stray metadata {key}"
        );
    }
    // The whole Definition round-trips too.
    let bytes = definition_bytes(def);
    assert_eq!(&decode_definition(&bytes).expect("decodes"), def);
    ops
}

fn op_by_digest<'a>(ops: &'a [(Digest, pb::Op)], d: &Digest) -> &'a pb::Op {
    &ops.iter().find(|(x, _)| x == d).expect("op present").1
}

fn exec_of(op: &pb::Op) -> &pb::ExecOp {
    match &op.op {
        Some(pb::op::Op::Exec(e)) => e,
        other => panic!("expected exec, got {other:?}"),
    }
}

fn file_of(op: &pb::Op) -> &pb::FileOp {
    match &op.op {
        Some(pb::op::Op::File(f)) => f,
        other => panic!("expected file op, got {other:?}"),
    }
}

fn source_of(op: &pb::Op) -> &pb::SourceOp {
    match &op.op {
        Some(pb::op::Op::Source(s)) => s,
        other => panic!("expected source, got {other:?}"),
    }
}

#[test]
fn scratch_marshals_to_an_empty_definition() {
    let def = State::scratch().marshal();
    assert!(def.def.is_empty() && def.metadata.is_empty());
    let def = State::scratch().dir("/x").env("A", "b").marshal();
    assert!(def.def.is_empty());
}

#[test]
fn image_source_is_normalised_and_pinned() -> TestResult {
    let d = format!("sha256:{}", "ab".repeat(32));
    let st = Image::new("rust")?
        .with_digest(&d)?
        .resolve_mode(ResolveMode::ForcePull)
        .platform(Platform::linux_arm64())
        .custom_name("base")
        .into_state();
    let def = st.marshal();
    let ops = check_definition(&def);
    assert_eq!(ops.len(), 2);
    let (dg, op) = &ops[0];
    let src = source_of(op);
    assert_eq!(
        src.identifier,
        format!("docker-image://docker.io/library/rust:latest@{d}")
    );
    assert_eq!(
        src.attrs.get("image.resolvemode").map(String::as_str),
        Some("pull")
    );
    let p = op.platform.as_ref().expect("image ops carry a platform");
    assert_eq!((p.os.as_str(), p.architecture.as_str()), ("linux", "arm64"));
    assert_eq!(op.constraints, Some(pb::WorkerConstraints::default()));
    let md = &def.metadata[dg.as_str()];
    assert_eq!(
        md.description.get(CUSTOM_NAME_KEY).map(String::as_str),
        Some("base")
    );
    assert!(
        md.caps.contains_key("source.image") && md.caps.contains_key("source.image.resolvemode")
    );
    // The derived state targets the image's platform.
    assert_eq!(st.get_platform(), Some(&Platform::linux_arm64()));
    // Default resolve mode is not written, as in Go.
    let plain = Image::new("rust")?
        .resolve_mode(ResolveMode::Default)
        .into_state()
        .marshal();
    assert!(source_of(&check_definition(&plain)[0].1).attrs.is_empty());
    Ok(())
}

#[test]
fn local_source_attrs() -> TestResult {
    let st = Local::new("context")?
        .session("sess-1")
        .include_patterns(["src", "Cargo.*"])
        .exclude_patterns(["target", ".git"])
        .follow_paths(["Cachet.toml"])
        .shared_key_hint("context")
        .into_state();
    let def = st.marshal();
    let ops = check_definition(&def);
    let op = &ops[0].1;
    let src = source_of(op);
    assert_eq!(src.identifier, "local://context");
    let a = &src.attrs;
    assert_eq!(a["local.session"], "sess-1");
    assert_eq!(a["local.includepattern"], r#"["src","Cargo.*"]"#);
    assert_eq!(a["local.excludepatterns"], r#"["target",".git"]"#);
    assert_eq!(a["local.followpaths"], r#"["Cachet.toml"]"#);
    assert_eq!(a["local.sharedkeyhint"], "context");
    assert!(!a.contains_key("local.unique"), "no random attrs");
    assert!(
        op.platform.is_none(),
        "local sources are platform independent"
    );
    assert!(Local::new("").is_err() && Local::new("a b").is_err());
    Ok(())
}

#[test]
fn git_and_http_sources() -> TestResult {
    let g = Git::new("https://github.com/moby/buildkit.git", "v0.8.3")?
        .keep_git_dir(true)
        .into_state()
        .marshal();
    let ops = check_definition(&g);
    let s = source_of(&ops[0].1);
    assert_eq!(s.identifier, "git://github.com/moby/buildkit.git#v0.8.3");
    assert_eq!(
        s.attrs["git.fullurl"],
        "https://github.com/moby/buildkit.git"
    );
    assert_eq!(s.attrs["git.keepgitdir"], "true");
    let bare = Git::new("example.com/r", "")?.into_state().marshal();
    let s = source_of(&check_definition(&bare)[0].1).clone();
    assert_eq!(s.identifier, "git://example.com/r");
    assert_eq!(s.attrs["git.fullurl"], "https://example.com/r");
    assert!(Git::new("git@github.com:o/r.git", "").is_err());

    let sum = format!("sha256:{}", "0".repeat(64));
    let h = Http::new("https://example.com/x.tgz")?
        .checksum(&sum)?
        .filename("x.tgz")
        .perm(0o644)
        .owner(1000, 1000)
        .into_state()
        .marshal();
    let ops = check_definition(&h);
    let s = source_of(&ops[0].1);
    assert_eq!(s.identifier, "https://example.com/x.tgz");
    assert_eq!(s.attrs["http.checksum"], sum);
    assert_eq!(s.attrs["http.perm"], "0644");
    assert_eq!(s.attrs["http.uid"], "1000");
    assert!(Http::new("ftp://x").is_err() && Http::new("https://").is_err());
    Ok(())
}

#[test]
fn exec_with_every_mount_kind() -> TestResult {
    let base = img().dir("/work").env("A", "1").user("builder");
    let seed = ctx();
    let run = base
        .run(["make", "all"])
        .env("B", "2")
        .env("A", "3")
        .hostname("box")
        .network(NetMode::None)
        .add_host("db", "10.0.0.2")
        .mount(Mount::bind("/src", &ctx()).source_path("/sub").readonly())
        .mount(Mount::bind("/out", &State::scratch()))
        .mount(Mount::bind("/aaa", &ctx()))
        .mount(Mount::cache("/cache", "c1").sharing(CacheSharing::Locked))
        .mount(
            Mount::cache("/seeded", "c2")
                .sharing(CacheSharing::Private)
                .seed(&seed),
        )
        .mount(Mount::tmpfs("/tmp"))
        .mount(Mount::secret("/run/secrets/tok", "tok").optional())
        .mount(Mount::ssh())
        .mount(Mount::bind("/scratchpad", &State::scratch()).no_output())
        .build()?;
    let root = run.root();
    let def = root.marshal();
    let ops = check_definition(&def);
    let exec_op = op_by_digest(&ops, run.digest());
    let e = exec_of(exec_op);
    let meta = e.meta.as_ref().expect("meta");
    assert_eq!(meta.args, ["make", "all"]);
    assert_eq!(
        meta.env,
        ["B=2", "A=3", "SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0"]
    );
    assert_eq!(meta.cwd, "/work");
    assert_eq!(meta.user, "builder");
    assert_eq!(meta.hostname, "box");
    assert_eq!(
        meta.extra_hosts,
        [pb::HostIp {
            host: "db".into(),
            ip: "10.0.0.2".into()
        }]
    );
    assert_eq!(e.network, pb::NetMode::None as i32);
    assert_eq!(e.security, pb::SecurityMode::Sandbox as i32);

    // Inputs: base image, then the context (deduplicated across mounts).
    assert_eq!(exec_op.inputs.len(), 2);
    assert_eq!(
        Some(exec_op.inputs[0].digest.as_str()),
        img().digest().map(Digest::as_str)
    );
    assert_eq!(
        Some(exec_op.inputs[1].digest.as_str()),
        ctx().digest().map(Digest::as_str)
    );

    let dests: Vec<&str> = e.mounts.iter().map(|m| m.dest.as_str()).collect();
    assert_eq!(
        dests,
        [
            "/",
            "/aaa",
            "/cache",
            "/out",
            "/scratchpad",
            "/seeded",
            "/src",
            "/tmp",
            "/run/secrets/tok",
            "/run/buildkit/ssh_agent.0"
        ],
        "regular mounts sorted by dest, then secrets, then ssh"
    );
    let m = |d: &str| e.mounts.iter().find(|m| m.dest == d).expect("mount");
    let bind = pb::MountType::Bind as i32;

    let r = m("/");
    assert_eq!(
        (r.input, r.output, r.readonly, r.mount_type),
        (0, 0, false, bind)
    );
    let a = m("/aaa");
    assert_eq!((a.input, a.output, a.readonly), (1, 1, false));
    let out = m("/out");
    assert_eq!((out.input, out.output, out.readonly), (-1, 2, false));
    let src = m("/src");
    assert_eq!((src.input, src.output, src.readonly), (1, -1, true));
    assert_eq!(src.selector, "/sub");
    let pad = m("/scratchpad");
    assert_eq!((pad.input, pad.output, pad.readonly), (-1, -1, false));

    let c = m("/cache");
    assert_eq!(
        (c.input, c.output, c.mount_type),
        (-1, -1, pb::MountType::Cache as i32)
    );
    assert_eq!(
        c.cache_opt,
        Some(pb::CacheOpt {
            id: "c1".into(),
            sharing: pb::CacheSharingOpt::Locked as i32
        })
    );
    let s = m("/seeded");
    assert_eq!((s.input, s.output), (1, -1));
    assert_eq!(
        s.cache_opt.as_ref().map(|c| c.sharing),
        Some(pb::CacheSharingOpt::Private as i32)
    );

    let t = m("/tmp");
    assert_eq!(
        (t.input, t.output, t.mount_type),
        (-1, -1, pb::MountType::Tmpfs as i32)
    );

    let sec = m("/run/secrets/tok");
    assert_eq!(
        (sec.input, sec.output, sec.mount_type),
        (-1, -1, pb::MountType::Secret as i32)
    );
    assert_eq!(
        sec.secret_opt,
        Some(pb::SecretOpt {
            id: "tok".into(),
            uid: 0,
            gid: 0,
            mode: 0o400,
            optional: true
        })
    );
    let ssh = m("/run/buildkit/ssh_agent.0");
    assert_eq!(
        (ssh.input, ssh.output, ssh.mount_type),
        (-1, -1, pb::MountType::Ssh as i32)
    );
    assert_eq!(
        ssh.ssh_opt,
        Some(pb::SshOpt {
            id: "default".into(),
            uid: 0,
            gid: 0,
            mode: 0o600,
            optional: false
        })
    );

    // Mount outputs as states.
    assert_eq!(root.output().map(Output::index), Some(0));
    assert_eq!(run.get_mount("/out")?.output().map(Output::index), Some(2));
    assert_eq!(run.get_mount("/aaa/")?.output().map(Output::index), Some(1));
    assert_eq!(
        run.get_mount("/src")?.digest(),
        ctx().digest(),
        "read-only bind yields its source"
    );
    assert!(matches!(
        run.get_mount("/cache"),
        Err(LlbError::MountHasNoOutput(_))
    ));
    assert!(matches!(
        run.get_mount("/tmp"),
        Err(LlbError::MountHasNoOutput(_))
    ));
    assert!(matches!(
        run.get_mount("/scratchpad"),
        Err(LlbError::MountHasNoOutput(_))
    ));
    assert!(matches!(
        run.get_mount("/nope"),
        Err(LlbError::UnknownMount(_))
    ));
    // The result keeps the base state's defaults.
    assert_eq!(root.get_dir(), "/work");
    assert_eq!(root.get_env("B"), None);

    let md = &def.metadata[run.digest().as_str()];
    for cap in [
        "exec.meta.base",
        "exec.meta.network",
        "exec.mount.bind",
        "exec.mount.selector",
        "exec.mount.cache",
        "exec.mount.cache.sharing",
        "exec.mount.tmpfs",
        "exec.mount.secret",
        "exec.mount.ssh",
        "exec.mount.bind.readwrite-nooutput",
    ] {
        assert!(md.caps.contains_key(cap), "missing cap {cap}");
    }
    Ok(())
}

/// Proxy settings travel in `Meta.proxy_env` (which BuildKit keeps out of the cache key), never
/// in `env` (which is keyed), and only when one is set.
#[test]
fn exec_proxy_env_is_its_own_field() -> TestResult {
    let proxy = ProxyEnv {
        https_proxy: "http://proxy:3128".into(),
        no_proxy: "localhost".into(),
        ..Default::default()
    };
    assert_eq!(proxy.set_names(), ["HTTPS_PROXY", "NO_PROXY"]);
    let run = img().run(["true"]).proxy_env(proxy).build()?;
    let def = run.root().marshal();
    let ops = check_definition(&def);
    let meta = exec_of(op_by_digest(&ops, run.digest()))
        .meta
        .clone()
        .expect("meta");
    assert_eq!(
        meta.proxy_env,
        Some(pb::ProxyEnv {
            https_proxy: "http://proxy:3128".into(),
            no_proxy: "localhost".into(),
            ..Default::default()
        })
    );
    assert!(meta.env.is_empty(), "{:?}", meta.env);
    let md = &def.metadata[run.digest().as_str()];
    assert!(md.caps.contains_key("exec.meta.proxyenv"), "{:?}", md.caps);
    let view = ReadableDefinition::from_definition(&def)?;
    let shown = view
        .ops
        .iter()
        .find(|o| o.digest == run.digest().as_str())
        .expect("the exec in the readable view");
    assert_eq!(
        shown.op["exec"]["meta"]["proxy_env"]["https_proxy"],
        "http://proxy:3128"
    );

    let plain = img().run(["true"]).proxy_env(ProxyEnv::default()).build()?;
    let def = plain.root().marshal();
    let ops = check_definition(&def);
    let meta = exec_of(op_by_digest(&ops, plain.digest())).meta.clone();
    assert_eq!(meta.expect("meta").proxy_env, None);
    assert!(!def.metadata[plain.digest().as_str()]
        .caps
        .contains_key("exec.meta.proxyenv"));
    let view = ReadableDefinition::from_definition(&def)?;
    assert!(view
        .ops
        .iter()
        .all(|o| o.op["exec"]["meta"].get("proxy_env").is_none()));
    assert_ne!(
        run.digest(),
        plain.digest(),
        "the op's bytes carry the proxy"
    );
    Ok(())
}

#[test]
fn exec_validation() {
    assert_eq!(
        img().run(Vec::<String>::new()).build().err(),
        Some(LlbError::EmptyArgs)
    );
    let dup = img()
        .run(["x"])
        .mount(Mount::tmpfs("/t"))
        .mount(Mount::cache("/t/", "c"))
        .build();
    assert_eq!(dup.err(), Some(LlbError::DuplicateMount("/t".into())));
    let root = img().run(["x"]).mount(Mount::tmpfs("/")).build();
    assert_eq!(root.err(), Some(LlbError::DuplicateMount("/".into())));
    let rel = img().run(["x"]).mount(Mount::tmpfs("tmp")).build();
    assert_eq!(rel.err(), Some(LlbError::InvalidMountDest("tmp".into())));
}

#[test]
fn exec_on_scratch_and_readonly_root() -> TestResult {
    let run = State::scratch()
        .run(["/bin/true"])
        .readonly_root()
        .build()?;
    // Read-only root produces no output: root() is the unchanged base.
    assert!(run.root().is_scratch());
    let out = State::scratch()
        .run(["/bin/true"])
        .mount(Mount::bind("/o", &State::scratch()))
        .build()?;
    let def = out.get_mount("/o")?.marshal();
    let ops = check_definition(&def);
    let e = exec_of(&ops[0].1);
    assert_eq!(
        (e.mounts[0].input, e.mounts[0].output),
        (-1, 0),
        "scratch root"
    );
    assert_eq!((e.mounts[1].input, e.mounts[1].output), (-1, 1));
    assert!(ops[0].1.inputs.is_empty());
    let (_, terminal) = ops.last().expect("terminal");
    assert_eq!(terminal.inputs[0].index, 1);
    Ok(())
}

#[test]
fn exec_platform_and_constraints() -> TestResult {
    let base = img().platform(Platform::linux_amd64());
    let run = base.run(["x"]).worker_filter("label==a").build()?;
    let def = run.root().marshal();
    let ops = check_definition(&def);
    let op = op_by_digest(&ops, run.digest());
    assert_eq!(op.platform, Some(Platform::linux_amd64().to_pb()));
    assert_eq!(
        op.constraints.as_ref().map(|c| c.filter.clone()),
        Some(vec!["label==a".to_owned()])
    );
    let over = base.run(["x"]).platform(Platform::linux_arm64()).build()?;
    let ops = check_definition(&over.root().marshal());
    assert_eq!(
        op_by_digest(&ops, over.digest()).platform,
        Some(Platform::linux_arm64().to_pb())
    );
    Ok(())
}

#[test]
fn file_op_chains_actions_with_go_indexes() -> TestResult {
    let base = img().dir("/app");
    let other = ctx();
    let st = base
        .file()
        .mkdir(
            Mkdir::new("out", 0o40755)
                .make_parents(true)
                .owner(ChownOpt::parse("app:app")),
        )
        .copy(
            Copy::new(&other.dir("/srcdir"), "lib", "dest/")
                .follow_symlinks(true)
                .dir_contents_only(true)
                .create_dest_path(true)
                .allow_wildcard(true)
                .allow_empty_wildcard(true)
                .owner(ChownOpt::ids(1, 2)),
        )
        .mkfile(Mkfile::new("/etc/motd", 0o100644, "hi"))
        .copy(Copy::new(&other, "/a", "/b").mode(0o600).timestamp(1_000))
        .rm(Rm::new("tmp/*").allow_not_found(true).allow_wildcard(true))
        .custom_name("files")
        .build()?;
    let def = st.marshal();
    let ops = check_definition(&def);
    let fop = op_by_digest(&ops, st.digest().expect("not scratch"));
    // Inputs: base, then the copy source (deduplicated).
    assert_eq!(fop.inputs.len(), 2);
    let f = file_of(fop);
    let io: Vec<(i64, i64, i64)> = f
        .actions
        .iter()
        .map(|a| (a.input, a.secondary_input, a.output))
        .collect();
    assert_eq!(
        io,
        [(0, -1, -1), (2, 1, -1), (3, -1, -1), (4, 1, -1), (5, -1, 0)]
    );

    use pb::file_action::Action;
    match &f.actions[0].action {
        Some(Action::Mkdir(m)) => {
            assert_eq!(
                (m.path.as_str(), m.mode, m.make_parents, m.timestamp),
                ("/app/out", 0o755, true, -1)
            );
            let user = m
                .owner
                .as_ref()
                .and_then(|o| o.user.clone())
                .and_then(|u| u.user);
            assert_eq!(
                user,
                Some(pb::user_opt::User::ByName(pb::NamedUserOpt {
                    name: "app".into(),
                    input: 0
                }))
            );
        }
        other => panic!("expected mkdir, got {other:?}"),
    }
    match &f.actions[1].action {
        Some(Action::Copy(c)) => {
            assert_eq!(c.src, "/srcdir/lib");
            assert_eq!(c.dest, "/app/dest/");
            assert_eq!((c.mode, c.timestamp), (-1, -1), "keep mode and timestamp");
            assert!(c.follow_symlink && c.dir_copy_contents && c.create_dest_path);
            assert!(
                c.allow_wildcard
                    && c.allow_empty_wildcard
                    && !c.attempt_unpack_docker_compatibility
            );
            let user = c
                .owner
                .as_ref()
                .and_then(|o| o.user.clone())
                .and_then(|u| u.user);
            assert_eq!(user, Some(pb::user_opt::User::ById(1)));
        }
        other => panic!("expected copy, got {other:?}"),
    }
    match &f.actions[2].action {
        Some(Action::Mkfile(m)) => {
            assert_eq!(
                (m.path.as_str(), m.mode, m.data.as_slice(), m.timestamp),
                ("/etc/motd", 0o644, &b"hi"[..], -1)
            );
        }
        other => panic!("expected mkfile, got {other:?}"),
    }
    match &f.actions[3].action {
        Some(Action::Copy(c)) => assert_eq!((c.mode, c.timestamp), (0o600, 1_000)),
        other => panic!("expected copy, got {other:?}"),
    }
    match &f.actions[4].action {
        Some(Action::Rm(r)) => {
            assert_eq!(r.path, "/app/tmp/*");
            assert!(r.allow_not_found && r.allow_wildcard);
        }
        other => panic!("expected rm, got {other:?}"),
    }
    let md = &def.metadata[st.digest().expect("digest").as_str()];
    assert!(md.caps.contains_key("file.base") && md.caps.contains_key("file.rm.wildcard"));
    assert_eq!(fop.platform, None, "no platform anywhere: daemon default");
    Ok(())
}

#[test]
fn file_op_on_scratch() -> TestResult {
    let st = State::scratch()
        .file()
        .copy(Copy::new(&ctx(), "/x", "/x"))
        .mkfile(Mkfile::new("/y", 0o644, vec![0xff, 0]))
        .build()?;
    let ops = check_definition(&st.marshal());
    let f = file_of(&ops[1].1);
    let io: Vec<(i64, i64, i64)> = f
        .actions
        .iter()
        .map(|a| (a.input, a.secondary_input, a.output))
        .collect();
    assert_eq!(io, [(-1, 0, -1), (1, -1, 0)]);
    let named = State::scratch()
        .file()
        .mkdir(Mkdir::new("/d", 0o755).owner(ChownOpt::parse("u")))
        .build()?;
    let ops = check_definition(&named.marshal());
    match &file_of(&ops[0].1).actions[0].action {
        Some(pb::file_action::Action::Mkdir(m)) => {
            let u = m
                .owner
                .as_ref()
                .and_then(|o| o.user.clone())
                .and_then(|u| u.user);
            assert_eq!(
                u,
                Some(pb::user_opt::User::ByName(pb::NamedUserOpt {
                    name: "u".into(),
                    input: -1
                }))
            );
        }
        other => panic!("expected mkdir, got {other:?}"),
    }
    assert_eq!(
        State::scratch().file().build().err(),
        Some(LlbError::EmptyFileOp)
    );
    assert_eq!(
        img().file().mkdir(Mkdir::new("", 0o755)).build().err(),
        Some(LlbError::EmptyPath("mkdir"))
    );
    Ok(())
}

#[test]
fn shared_inputs_are_emitted_once_inputs_first() -> TestResult {
    let base = img();
    let a = base.run(["a"]).build()?.root();
    let b = base.run(["b"]).build()?.root();
    // Two identical ops built separately dedupe by digest.
    let c1 = ctx();
    let c2 = ctx();
    let joined = a
        .file()
        .copy(Copy::new(&b, "/b", "/b"))
        .copy(Copy::new(&c1, "/", "/c1"))
        .copy(Copy::new(&c2, "/", "/c2"))
        .build()?;
    let def = joined.marshal();
    let ops = check_definition(&def);
    // image, exec a, exec b, local, file, terminal
    assert_eq!(ops.len(), 6);
    assert_eq!(Some(&ops[0].0), base.digest());
    assert_eq!(Some(&ops[4].0), joined.digest());
    let f = op_by_digest(&ops, joined.digest().expect("digest"));
    assert_eq!(f.inputs.len(), 3, "c1 and c2 are one input");
    Ok(())
}

#[test]
fn digests_are_sha256_of_the_op_bytes() -> TestResult {
    let st = crate::llb::sample::sample(None)?;
    let def = st.marshal();
    for bytes in &def.def {
        let d = Digest::of(bytes);
        assert!(d.as_str().starts_with("sha256:") && d.as_str().len() == 71);
    }
    let ops = check_definition(&def);
    let all: BTreeSet<&str> = ops.iter().map(|(d, _)| d.as_str()).collect();
    for (_, op) in &ops {
        for i in &op.inputs {
            assert!(all.contains(i.digest.as_str()));
        }
    }
    assert_eq!(
        ops[ops.len() - 2].0.as_str(),
        st.digest().expect("digest").as_str()
    );
    Ok(())
}

#[test]
fn marshal_is_deterministic_and_metadata_is_separate() -> TestResult {
    let a = crate::llb::sample::sample(None)?.marshal();
    let b = crate::llb::sample::sample(None)?.marshal();
    assert_eq!(definition_bytes(&a), definition_bytes(&b));
    // Names and ignore-cache change metadata only, never op bytes.
    let plain = img().run(["x"]).build()?;
    let named = img()
        .run(["x"])
        .custom_name("named")
        .ignore_cache(true)
        .build()?;
    assert_eq!(plain.digest(), named.digest());
    let def = named
        .root()
        .marshal_with(&MarshalOptions { ignore_cache: true });
    let terminal = Digest::of(def.def.last().expect("terminal"));
    let flagged: Vec<bool> = def
        .metadata
        .iter()
        .filter(|(k, _)| *k != terminal.as_str())
        .map(|(_, m)| m.ignore_cache)
        .collect();
    assert!(flagged.len() == 2 && flagged.iter().all(|f| *f));
    let tcaps: Vec<&str> = def.metadata[terminal.as_str()]
        .caps
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tcaps,
        [
            "constraints",
            "meta.description",
            "meta.ignorecache",
            "platform"
        ]
    );
    Ok(())
}

#[test]
fn only_v0_8_caps_reach_metadata() -> TestResult {
    let def = crate::llb::sample::sample(Some(Platform::linux_amd64()))?.marshal();
    for md in def.metadata.values() {
        for cap in md.caps.keys() {
            assert!(caps::is_v0_8_llb_cap(cap), "{cap} is not a v0.8 cap");
        }
    }
    Ok(())
}

#[test]
fn readable_view_spells_out_the_graph() -> TestResult {
    let def = crate::llb::sample::sample(None)?.marshal();
    let view = ReadableDefinition::from_definition(&def)?;
    assert_eq!(view.ops.len(), def.def.len());
    let json = view.to_json_pretty();
    for needle in [
        "\"CACHE\"",
        "\"TMPFS\"",
        "\"SECRET\"",
        "\"SSH\"",
        "\"LOCKED\"",
        "llb.customname",
        "docker-image://docker.io/library/cachet-sdk:rustup",
        "local://context",
        "\"mkfile\"",
        "\"rm\"",
    ] {
        assert!(json.contains(needle), "readable JSON lacks {needle}");
    }
    assert!(decode_ops(&pb::Definition {
        def: vec![vec![0xff]],
        ..Default::default()
    })
    .is_err());
    Ok(())
}

#[test]
fn deep_chains_neither_recurse_nor_overflow() -> TestResult {
    let mut st = img();
    for i in 0..20_000 {
        st = st
            .file()
            .mkdir(Mkdir::new(format!("/d{i}"), 0o755))
            .build()?;
    }
    let def = st.marshal();
    assert_eq!(def.def.len(), 20_002);
    drop(def);
    drop(st);
    Ok(())
}
