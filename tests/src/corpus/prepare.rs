//! Preparing a corpus project: its published source at the pinned version, its lockfile, its
//! spec, in a cache directory, once.
//!
//! Why the published `.crate`: it is exactly what `cargo install <crate>@<version>` builds,
//! including the `Cargo.lock` binary packages ship (a library that ships none gets one
//! generated, and the report says so, since that lockfile then depends on the day). Why host
//! cargo fetches it: the user's own registry settings and download cache apply, the corpus never
//! names a registry, and a later `cargo fetch --locked` in the tree proves the lockfile matches
//! the manifest and leaves every dependency in cargo's cache, so the host builds run offline.
//!
//! Why a marker: a prepared tree is reused while `<cache>/<name>-<version>.ready` holds the
//! current recipe (the crate, the version and the rendered spec), and preparing happens in a
//! staging directory renamed into place before the marker is written, so an interrupted
//! preparation never looks ready (the bench fixtures' pattern). One preparation at a time per
//! cache directory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::Project;
use crate::bench::fixture::{
    cargo, extract_crate, fetch_published_crate, parse_lock, read_text, remove_dir_if_exists,
    remove_file_if_exists, rename_path, run, write_file,
};

/// Bump when preparation changes what a prepared tree contains.
const RECIPE_VERSION: &str = "cachet-corpus recipe v1";

/// A prepared project.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The pristine tree: the published package plus `Cachet.toml`. Runs copy it.
    pub dir: PathBuf,
    /// `shipped` (the package's own `Cargo.lock`) or `generated` (at preparation time).
    pub lockfile: String,
    /// `[[package]]` entries in the lockfile, the project itself included.
    pub lock_packages: usize,
}

/// `<cache>/<name>-<version>`, prepared now unless an up-to-date one is there.
pub fn prepare(project: &Project, cache: &Path) -> Result<Prepared, String> {
    let slot = project.slot();
    let dir = cache.join(&slot);
    let marker = cache.join(format!("{slot}.ready"));
    let recipe = recipe(project);
    if let Some(lockfile) = std::fs::read_to_string(&marker)
        .ok()
        .and_then(|text| parse_marker(&text, &recipe))
    {
        if dir.is_dir() {
            let lock_packages = count_packages(&dir.join("Cargo.lock"))?;
            return Ok(Prepared {
                dir,
                lockfile,
                lock_packages,
            });
        }
    }
    let started = Instant::now();
    eprintln!(
        "[corpus] {slot}: preparing {} (once; later runs reuse it)",
        dir.display()
    );
    let staging = cache.join(format!("{slot}.staging"));
    remove_dir_if_exists(&staging)?;
    let tree = staging.join("tree");
    let lockfile = prepare_tree(project, &staging.join("work"), &tree).map_err(|why| {
        format!(
            "preparing {slot}: {why}\n(the partial work is in {}; the next preparation removes it)",
            staging.display()
        )
    })?;
    remove_file_if_exists(&marker)?;
    remove_dir_if_exists(&dir)?;
    rename_path(&tree, &dir)?;
    let marker_tmp = cache.join(format!("{slot}.ready.tmp"));
    write_file(&marker_tmp, marker_text(&recipe, &lockfile))?;
    rename_path(&marker_tmp, &marker)?;
    remove_dir_if_exists(&staging)?;
    let lock_packages = count_packages(&dir.join("Cargo.lock"))?;
    eprintln!(
        "[corpus] {slot}: ready in {:.1} s ({lockfile} Cargo.lock, {lock_packages} packages)",
        started.elapsed().as_secs_f64()
    );
    Ok(Prepared {
        dir,
        lockfile,
        lock_packages,
    })
}

/// Fetch, unpack, lock, fetch the dependencies, write the spec. Returns how the lockfile came.
fn prepare_tree(project: &Project, work: &Path, tree: &Path) -> Result<String, String> {
    let published = fetch_published_crate(work, project.krate, project.version)?;
    extract_crate(&published, tree)?;
    let lock_path = tree.join("Cargo.lock");
    let lockfile = if lock_path.is_file() {
        "shipped"
    } else {
        run(
            &mut cargo(tree, &["generate-lockfile"]),
            &format!(
                "locking {} {} (it ships no Cargo.lock)",
                project.krate, project.version
            ),
        )?;
        "generated"
    };
    run(
        &mut cargo(tree, &["fetch", "--locked"]),
        &format!(
            "downloading the crates {} {}'s Cargo.lock names",
            project.krate, project.version
        ),
    )?;
    if !tree.join(project.edit).is_file() {
        return Err(format!(
            "the edit scenario's file {} is not in the published package",
            project.edit
        ));
    }
    write_file(&tree.join("Cachet.toml"), project.spec(project.name))?;
    Ok(lockfile.to_string())
}

/// What a prepared tree is a function of.
fn recipe(project: &Project) -> String {
    format!(
        "{RECIPE_VERSION}: {} {}\n{}",
        project.krate,
        project.version,
        project.spec(project.name)
    )
}

/// The recipe, then `lockfile = <how>`.
fn marker_text(recipe: &str, lockfile: &str) -> String {
    format!("{recipe}\nlockfile = {lockfile}\n")
}

/// How the lockfile came, if the marker was written by `recipe`.
fn parse_marker(text: &str, recipe: &str) -> Option<String> {
    let rest = text.strip_prefix(recipe)?.strip_prefix('\n')?;
    let lockfile = rest.strip_prefix("lockfile = ")?.trim();
    (!lockfile.is_empty()).then(|| lockfile.to_string())
}

/// How many `[[package]]` entries the Cargo.lock at `path` has.
fn count_packages(path: &Path) -> Result<usize, String> {
    parse_lock(&read_text(path)?)
        .map(|packages| packages.len())
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::find;

    #[test]
    fn marker_round_trips_and_a_changed_spec_is_not_ready() {
        let hexyl = find("hexyl").unwrap();
        let recipe = recipe(hexyl);
        assert!(recipe.starts_with("cachet-corpus recipe v1: hexyl 0.16.0\n# syntax="));
        let text = marker_text(&recipe, "shipped");
        assert_eq!(parse_marker(&text, &recipe).as_deref(), Some("shipped"));
        let other = recipe.replace("hexyl = \"hexyl\"", "hexyl = \"other\"");
        assert_eq!(parse_marker(&text, &other), None);
        assert_eq!(parse_marker(&recipe, &recipe), None);
        assert_eq!(parse_marker("", &recipe), None);
    }
}
