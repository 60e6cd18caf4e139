//! The library both binaries share.

/// The phrase every binary in the workspace prints.
pub const PHRASE: &str = "greetings from the greeting crate";

/// A line naming who is speaking, with the shared phrase.
pub fn line(speaker: &str) -> String {
    format!("{speaker}: {PHRASE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_names_the_speaker_and_the_phrase() {
        assert_eq!(line("app"), "app: greetings from the greeting crate");
    }
}
