//! Configuration items: their types, the lifecycle an asset moves through, and comparing the
//! version strings inventories report.

use crate::FieldError;
use std::cmp::Ordering;

/// Every CI type, as the API names it.
pub const CI_TYPES: &[&str] = &[
    "desktop",
    "laptop",
    "server",
    "virtual_machine",
    "printer",
    "network_device",
    "phone",
    "peripheral",
    "room_equipment",
    "software",
    "service",
];

pub fn parse_type(field: &str, s: &str) -> Result<&'static str, FieldError> {
    let s = s.trim();
    CI_TYPES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(s))
        .copied()
        .ok_or_else(|| FieldError::new(field, format!("{s:?} is not one of {}", CI_TYPES.join(", "))))
}

/// Lifecycle states, in their usual order.
pub const STATES: &[&str] = &["ordered", "in_stock", "deployed", "in_repair", "retired", "disposed"];

pub fn parse_state(field: &str, s: &str) -> Result<&'static str, FieldError> {
    let s = s.trim();
    STATES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(s))
        .copied()
        .ok_or_else(|| FieldError::new(field, format!("{s:?} is not one of {}", STATES.join(", "))))
}

/// The states an asset may move to from `from`. An order is received into stock (or cancelled
/// by retiring it); stock is deployed, repaired or retired; a deployed asset comes back to stock,
/// goes for repair or is retired; a repair ends in stock, back with its holder, or beyond repair;
/// a retired asset is disposed of or reinstated; disposal is final.
pub fn next_states(from: &str) -> &'static [&'static str] {
    match from {
        "ordered" => &["in_stock", "deployed", "retired"],
        "in_stock" => &["deployed", "in_repair", "retired"],
        "deployed" => &["in_stock", "in_repair", "retired"],
        "in_repair" => &["in_stock", "deployed", "retired"],
        "retired" => &["in_stock", "disposed"],
        _ => &[],
    }
}

pub fn can_move(from: &str, to: &str) -> bool {
    next_states(from).contains(&to)
}

/// Compares version strings the way packages number them: runs of digits as numbers, other runs
/// as text, `~` before anything (Debian's pre-release marker). `6.1.10` > `6.1.9`,
/// `2.36-9+deb12u14` > `2.36-9+deb12u4`, `1.0~rc1` < `1.0`.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.trim().as_bytes(), b.trim().as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (Some(b'~'), Some(b'~')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            _ => {}
        }
        let (da, db) = (a[0].is_ascii_digit(), b[0].is_ascii_digit());
        let run = |s: &[u8], digits: bool| s.iter().take_while(|c| c.is_ascii_digit() == digits && **c != b'~').count();
        let (na, nb) = (run(a, da), run(b, db));
        let (ra, rb) = (&a[..na], &b[..nb]);
        let ord = match (da, db) {
            (true, true) => {
                let ta = trim_zeros(ra);
                let tb = trim_zeros(rb);
                ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
            }
            (false, false) => ra.cmp(rb),
            // A number sorts after text at the same place: `1.0.1` > `1.0-rc`.
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
        };
        if ord != Ordering::Equal {
            return ord;
        }
        a = &a[na..];
        b = &b[nb..];
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|c| **c == b'0').count();
    &s[n.min(s.len().saturating_sub(1))..]
}

/// A MAC address in the form inventories are matched on (`aa:bb:cc:dd:ee:ff`), or None for an
/// address that is not one or is all zeros (loopback, tunnels).
pub fn normalise_mac(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect::<String>().to_lowercase();
    if hex.len() != 12 || hex.chars().all(|c| c == '0') {
        return None;
    }
    let parts: Vec<&str> = (0..6).map(|i| &hex[i * 2..i * 2 + 2]).collect();
    Some(parts.join(":"))
}

/// A calendar date as `YYYY-MM-DD` (what purchase, warranty and return dates hold).
pub fn parse_date(field: &str, s: &str) -> Result<String, FieldError> {
    let s = s.trim();
    s.parse::<jiff::civil::Date>()
        .map(|d| d.to_string())
        .map_err(|_| FieldError::new(field, format!("{s:?} is not a YYYY-MM-DD date")))
}

/// Parses a money amount such as `1299`, `1299.5` or `1,299.50` into cents.
pub fn parse_cents(field: &str, s: &str) -> Result<i64, FieldError> {
    let t: String = s.trim().chars().filter(|c| *c != ',' && *c != ' ').collect();
    let bad = || FieldError::new(field, format!("{s:?} is not an amount such as 1299.50"));
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    whole.checked_mul(100).and_then(|w| w.checked_add(cents)).ok_or_else(bad)
}

/// Cents as `1299.50`.
pub fn format_cents(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

/// Makes a CSV cell safe to open in a spreadsheet: a cell that starts with `=`, `+`, `-`, `@`,
/// tab or carriage return would be read as a formula, so it gets a leading apostrophe.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{cell}")),
        _ => std::borrow::Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_like_packages() {
        assert_eq!(compare_versions("6.1.10", "6.1.9"), Ordering::Greater);
        assert_eq!(compare_versions("2.36-9+deb12u14", "2.36-9+deb12u4"), Ordering::Greater);
        assert_eq!(compare_versions("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(compare_versions("10.0.19045", "10.0.19045"), Ordering::Equal);
        assert_eq!(compare_versions("007", "7"), Ordering::Equal);
        assert_eq!(compare_versions("6.18.44-fc-v769", "6.1.0-28-amd64"), Ordering::Greater);
        assert_eq!(compare_versions("12", "12.1"), Ordering::Less);
    }

    #[test]
    fn lifecycle_allows_only_the_listed_moves() {
        assert!(can_move("in_stock", "deployed"));
        assert!(can_move("retired", "disposed"));
        assert!(!can_move("disposed", "in_stock"));
        assert!(!can_move("ordered", "in_repair"));
        assert!(!can_move("deployed", "deployed"));
        for s in STATES {
            for n in next_states(s) {
                assert!(STATES.contains(n));
            }
        }
    }

    #[test]
    fn macs_and_cells_are_normalised() {
        assert_eq!(normalise_mac("AA-BB-CC-00-11-22").as_deref(), Some("aa:bb:cc:00:11:22"));
        assert_eq!(normalise_mac("00:00:00:00:00:00"), None);
        assert_eq!(normalise_mac("fe80::1"), None);
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("-1"), "'-1");
        assert_eq!(spreadsheet_safe("PC-0042"), "PC-0042");
        assert_eq!(parse_type("t", "Laptop").unwrap(), "laptop");
        assert!(parse_state("s", "lost").is_err());
        assert_eq!(parse_date("d", "2026-02-28").unwrap(), "2026-02-28");
        assert!(parse_date("d", "2026-02-30").is_err());
        assert_eq!(parse_cents("c", "1,299.5").unwrap(), 129_950);
        assert_eq!(parse_cents("c", "12").unwrap(), 1200);
        assert!(parse_cents("c", "-3").is_err());
        assert!(parse_cents("c", "1.234").is_err());
        assert_eq!(format_cents(129_950), "1299.50");
    }
}
