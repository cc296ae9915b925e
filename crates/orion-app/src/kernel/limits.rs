//! How long the texts people type may be.

/// A title or subject line, in characters.
pub(crate) const TITLE_MAX: usize = 300;
/// A description, reply or note, in characters.
pub(crate) const TEXT_MAX: usize = 100_000;

/// `s` cut to at most `max` characters (never inside a character).
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { s.chars().take(max).collect() }
}
