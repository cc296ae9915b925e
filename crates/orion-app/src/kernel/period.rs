//! The period a report covers, as its `from` and `to` query fields give it.

use orion_domain::{FieldErrors, Timestamp};

/// `[from, to)` in milliseconds from `from` and `to` (`YYYY-MM-DD` in UTC or RFC 3339): `to`
/// defaults to now (this very moment included), `from` to 30 days before `to`. Mistakes go to
/// `errs` by field name; `None` then.
pub(crate) fn parse(from: Option<&str>, to: Option<&str>, now: i64, errs: &mut FieldErrors) -> Option<(i64, i64)> {
    let to = match to {
        Some(s) => errs.check(Timestamp::parse_day_or_instant("to", s)).map(Timestamp::as_millis),
        None => Some(now + 1),
    };
    let from = match (from, to) {
        (Some(s), _) => errs.check(Timestamp::parse_day_or_instant("from", s)).map(Timestamp::as_millis),
        (None, Some(to)) => Some(to - 1 - 30 * 86_400_000),
        (None, None) => None,
    };
    match (from, to) {
        (Some(f), Some(t)) if f >= t => {
            errs.push("from", "must be before to");
            None
        }
        (Some(f), Some(t)) => Some((f, t)),
        _ => None,
    }
}
