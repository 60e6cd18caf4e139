//! Reading BuildKit's `--progress=plain` output: which named steps ran and which were served
//! from cache.

/// `(vertex name, cached)` for every named step in a `--progress=plain` log.
pub fn vertices(progress: &str) -> Vec<(String, bool)> {
    let mut names: Vec<(String, String)> = Vec::new();
    let mut cached = std::collections::BTreeSet::new();
    for line in progress.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((id, text)) = rest.split_once(' ') else {
            continue;
        };
        if text.starts_with('[') && !names.iter().any(|(i, _)| i == id) {
            names.push((id.to_string(), text.to_string()));
        } else if text.trim() == "CACHED" {
            cached.insert(id.to_string());
        }
    }
    names
        .into_iter()
        .map(|(id, name)| (name, cached.contains(&id)))
        .collect()
}

/// The one named step whose name starts with `prefix`: `(name, cached)`; panics (naming what
/// was found) unless there is exactly one.
#[track_caller]
pub fn only_step(progress: &str, prefix: &str) -> (String, bool) {
    let steps: Vec<_> = vertices(progress)
        .into_iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .collect();
    assert_eq!(
        steps.len(),
        1,
        "expected one `{prefix}…` step, found {steps:?} in:\n{progress}"
    );
    steps.into_iter().next().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_steps_and_marks_cached_ones() {
        let log = "#5 [cachet] load spec\n#5 DONE 0.0s\n#7 [build] cargo build · abc\n#7 CACHED\n#8 other\n";
        assert_eq!(
            vertices(log),
            vec![
                ("[cachet] load spec".to_string(), false),
                ("[build] cargo build · abc".to_string(), true)
            ]
        );
    }
}
