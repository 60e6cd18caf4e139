//! `Cargo.lock`: how many packages a fetch would download.

use toml::{Table, Value};

/// Packages whose `source` is a registry or a git repository. An unreadable lockfile counts as
/// having some, so the fetch step runs and cargo reports the problem.
pub fn remote_packages(lockfile: &[u8]) -> usize {
    let Some(table) = std::str::from_utf8(lockfile)
        .ok()
        .and_then(|t| t.parse::<Table>().ok())
    else {
        return 1;
    };
    table
        .get("package")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("source").and_then(Value::as_str).is_some())
        .count()
}
