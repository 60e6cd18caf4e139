//! The library both binaries share, with its derive macro (`#[derive(greeting::Speaker)]`),
//! the way `serde` re-exports `serde_derive`.

/// Implements [`Speaker`] with the type's name in lowercase.
pub use greeting_derive::Speaker;

/// The phrase every binary in the workspace prints.
pub const PHRASE: &str = "greetings from the greeting crate";

/// A line naming who is speaking, with the shared phrase.
pub fn line(speaker: &str) -> String {
    format!("{speaker}: {PHRASE}")
}

/// A type that speaks the phrase; derive it to name the speaker after the type.
pub trait Speaker {
    /// Who is speaking.
    const NAME: &'static str;

    /// The speaker's line.
    fn line() -> String {
        line(Self::NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_names_the_speaker_and_the_phrase() {
        assert_eq!(line("app"), "app: greetings from the greeting crate");
    }
}
