//! How long the texts people type may be.

/// A title or subject line, in characters.
pub(crate) const TITLE_MAX: usize = 300;
/// A description, reply or note, in characters.
pub(crate) const TEXT_MAX: usize = 100_000;
