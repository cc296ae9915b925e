//! Keyset paging: a cursor (the last row's id) and a limit, read as one row more than shown.

use crate::kernel::AppResult;
use crate::kernel::error::invalid;

/// Rows on a page when the caller names no limit, and the most one page may have.
pub const PAGE_DEFAULT: i64 = 50;
pub const PAGE_MAX: i64 = 200;

pub(crate) fn parse_limit(limit: Option<i64>) -> AppResult<i64> {
    match limit {
        None => Ok(PAGE_DEFAULT),
        Some(n) if (1..=PAGE_MAX).contains(&n) => Ok(n),
        Some(_) => Err(invalid("limit", format!("must be between 1 and {PAGE_MAX}"))),
    }
}

pub(crate) fn parse_cursor(cursor: Option<&str>) -> AppResult<Option<i64>> {
    match cursor {
        None | Some("") => Ok(None),
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| invalid("cursor", "is not a cursor this server issued")),
    }
}

/// Ends a keyset page: `rows` were read with `limit + 1`; the extra row only says there is more.
/// Drops it and returns the cursor for the next page (the last row's id), if there is one.
pub(crate) fn keyset_cursor<R>(rows: &mut Vec<R>, limit: i64, id: impl Fn(&R) -> i64) -> Option<String> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if more { rows.last().map(|r| id(r).to_string()) } else { None }
}
