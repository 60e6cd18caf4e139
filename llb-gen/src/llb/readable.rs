//! A human-readable, JSON-serializable view of a Definition, for `explain`
//! output, debugging and review.

use super::marshal::decode_ops;
use super::Result;
use crate::proto::pb;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// One op of a Definition, decoded.
#[derive(Debug, Clone, Serialize)]
pub struct ReadableOp {
    /// `sha256:` digest of the op bytes.
    pub digest: String,
    /// The op, with enums spelled out and bytes shown as text when UTF-8.
    pub op: Value,
    /// The op's metadata entry, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// A decoded Definition: ops in order, the last one terminal.
#[derive(Debug, Clone, Serialize)]
pub struct ReadableDefinition {
    /// Every op in `def` order.
    pub ops: Vec<ReadableOp>,
}

impl ReadableDefinition {
    /// Decodes `def` into the readable view.
    pub fn from_definition(def: &pb::Definition) -> Result<Self> {
        let ops = decode_ops(def)?
            .into_iter()
            .map(|(digest, op)| ReadableOp {
                metadata: def.metadata.get(digest.as_str()).map(metadata_json),
                digest: digest.into_string(),
                op: op_json(&op),
            })
            .collect();
        Ok(ReadableDefinition { ops })
    }

    /// Pretty-printed JSON.
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain Values and strings cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn metadata_json(m: &pb::OpMetadata) -> Value {
    let mut o = Map::new();
    if m.ignore_cache {
        o.insert("ignore_cache".into(), json!(true));
    }
    if !m.description.is_empty() {
        o.insert("description".into(), json!(m.description));
    }
    if let Some(e) = &m.export_cache {
        o.insert("export_cache".into(), json!(e.value));
    }
    if !m.caps.is_empty() {
        o.insert("caps".into(), json!(m.caps.keys().collect::<Vec<_>>()));
    }
    Value::Object(o)
}

fn bytes_json(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => json!(s),
        Err(_) => json!({ "hex": hex::encode(b) }),
    }
}

fn op_json(op: &pb::Op) -> Value {
    let mut o = Map::new();
    let inputs: Vec<Value> = op
        .inputs
        .iter()
        .map(|i| json!({"digest": i.digest, "index": i.index}))
        .collect();
    o.insert("inputs".into(), Value::Array(inputs));
    match &op.op {
        Some(pb::op::Op::Source(s)) => {
            o.insert(
                "source".into(),
                json!({"identifier": s.identifier, "attrs": s.attrs}),
            );
        }
        Some(pb::op::Op::Exec(e)) => {
            o.insert("exec".into(), exec_json(e));
        }
        Some(pb::op::Op::File(f)) => {
            let actions: Vec<Value> = f.actions.iter().map(file_action_json).collect();
            o.insert("file".into(), json!({ "actions": actions }));
        }
        None => {}
    }
    if let Some(p) = &op.platform {
        o.insert(
            "platform".into(),
            json!({"os": p.os, "architecture": p.architecture, "variant": p.variant}),
        );
    }
    if let Some(c) = &op.constraints {
        o.insert("constraints".into(), json!({"filter": c.filter}));
    }
    Value::Object(o)
}

fn exec_json(e: &pb::ExecOp) -> Value {
    let meta = e.meta.clone().unwrap_or_default();
    let mounts: Vec<Value> = e.mounts.iter().map(mount_json).collect();
    let network = pb::NetMode::try_from(e.network)
        .map(|n| n.as_str_name().to_owned())
        .unwrap_or_else(|_| e.network.to_string());
    let security = pb::SecurityMode::try_from(e.security)
        .map(|n| n.as_str_name().to_owned())
        .unwrap_or_else(|_| e.security.to_string());
    let hosts: Vec<Value> = meta
        .extra_hosts
        .iter()
        .map(|h| json!({"host": h.host, "ip": h.ip}))
        .collect();
    let mut readable_meta = json!({
        "args": meta.args,
        "env": meta.env,
        "cwd": meta.cwd,
        "user": meta.user,
        "hostname": meta.hostname,
        "extra_hosts": hosts,
    });
    // Shown only when set, as BuildKit only gets it then.
    if let (Some(p), Value::Object(o)) = (&meta.proxy_env, &mut readable_meta) {
        o.insert(
            "proxy_env".into(),
            json!({
                "http_proxy": p.http_proxy,
                "https_proxy": p.https_proxy,
                "ftp_proxy": p.ftp_proxy,
                "no_proxy": p.no_proxy,
                "all_proxy": p.all_proxy,
            }),
        );
    }
    json!({
        "meta": readable_meta,
        "mounts": mounts,
        "network": network,
        "security": security,
    })
}

fn mount_json(m: &pb::Mount) -> Value {
    let kind = pb::MountType::try_from(m.mount_type)
        .map(|t| t.as_str_name().to_owned())
        .unwrap_or_else(|_| m.mount_type.to_string());
    let mut o = Map::new();
    o.insert("type".into(), json!(kind));
    o.insert("dest".into(), json!(m.dest));
    o.insert("input".into(), json!(m.input));
    o.insert("output".into(), json!(m.output));
    o.insert("readonly".into(), json!(m.readonly));
    if !m.selector.is_empty() {
        o.insert("selector".into(), json!(m.selector));
    }
    if let Some(c) = &m.cache_opt {
        let sharing = pb::CacheSharingOpt::try_from(c.sharing)
            .map(|s| s.as_str_name().to_owned())
            .unwrap_or_else(|_| c.sharing.to_string());
        o.insert("cache".into(), json!({"id": c.id, "sharing": sharing}));
    }
    if let Some(s) = &m.secret_opt {
        o.insert(
            "secret".into(),
            json!({"id": s.id, "uid": s.uid, "gid": s.gid, "mode": format!("{:#o}", s.mode), "optional": s.optional}),
        );
    }
    if let Some(s) = &m.ssh_opt {
        o.insert(
            "ssh".into(),
            json!({"id": s.id, "uid": s.uid, "gid": s.gid, "mode": format!("{:#o}", s.mode), "optional": s.optional}),
        );
    }
    Value::Object(o)
}

fn mode_json(mode: i32) -> Value {
    if mode < 0 {
        json!(mode)
    } else {
        json!(format!("{mode:#o}"))
    }
}

fn user_json(u: &Option<pb::UserOpt>) -> Value {
    match u.as_ref().and_then(|u| u.user.as_ref()) {
        Some(pb::user_opt::User::ById(id)) => json!({ "id": id }),
        Some(pb::user_opt::User::ByName(n)) => json!({"name": n.name, "input": n.input}),
        None => Value::Null,
    }
}

fn owner_json(c: &Option<pb::ChownOpt>) -> Value {
    match c {
        Some(c) => json!({"user": user_json(&c.user), "group": user_json(&c.group)}),
        None => Value::Null,
    }
}

fn file_action_json(a: &pb::FileAction) -> Value {
    let body = match &a.action {
        Some(pb::file_action::Action::Copy(c)) => json!({"copy": {
            "src": c.src,
            "dest": c.dest,
            "owner": owner_json(&c.owner),
            "mode": mode_json(c.mode),
            "follow_symlink": c.follow_symlink,
            "dir_copy_contents": c.dir_copy_contents,
            "attempt_unpack": c.attempt_unpack_docker_compatibility,
            "create_dest_path": c.create_dest_path,
            "allow_wildcard": c.allow_wildcard,
            "allow_empty_wildcard": c.allow_empty_wildcard,
            "timestamp": c.timestamp,
        }}),
        Some(pb::file_action::Action::Mkdir(m)) => json!({"mkdir": {
            "path": m.path,
            "mode": mode_json(m.mode),
            "make_parents": m.make_parents,
            "owner": owner_json(&m.owner),
            "timestamp": m.timestamp,
        }}),
        Some(pb::file_action::Action::Mkfile(m)) => json!({"mkfile": {
            "path": m.path,
            "mode": mode_json(m.mode),
            "data": bytes_json(&m.data),
            "owner": owner_json(&m.owner),
            "timestamp": m.timestamp,
        }}),
        Some(pb::file_action::Action::Rm(r)) => json!({"rm": {
            "path": r.path,
            "allow_not_found": r.allow_not_found,
            "allow_wildcard": r.allow_wildcard,
        }}),
        None => Value::Null,
    };
    json!({
        "input": a.input,
        "secondary_input": a.secondary_input,
        "output": a.output,
        "action": body,
    })
}
