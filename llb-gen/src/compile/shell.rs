//! POSIX shell quoting for the small scripts Cachet runs inside the SDK image.

/// Quotes `word` so `sh` reads it back as exactly one word.
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%^".contains(&b));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Quotes and joins a command line.
pub fn join(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips_through_sh() {
        let words: Vec<String> = [
            "plain",
            "with space",
            "it's",
            "",
            "$HOME",
            "a\nb",
            "--",
            "-D",
            "warnings",
            "*",
        ]
        .map(String::from)
        .into();
        let script = format!("for w in {}; do printf '[%s]' \"$w\"; done", join(&words));
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .expect("sh runs");
        let expected: String = words.iter().map(|w| format!("[{w}]")).collect();
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }
}
