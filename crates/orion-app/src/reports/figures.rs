//! The arithmetic of the KPIs, kept apart from the reads so each formula is tested on its own.
//! docs/reports.md states every formula; keep the two in step.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A share: `count` of `of`, as a percentage with one decimal (null when `of` is 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rate {
    pub count: i64,
    pub of: i64,
    pub percent: Option<f64>,
}

impl Rate {
    pub fn new(count: i64, of: i64) -> Self {
        let percent = (of > 0).then(|| (count as f64 * 1000.0 / of as f64).round() / 10.0);
        Self { count, of, percent }
    }
}

/// A duration over many tickets: how many were measured, the median and the 90th percentile
/// (nearest rank), in working minutes; null when none was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Spread {
    pub tickets: i64,
    pub median_minutes: Option<i64>,
    pub p90_minutes: Option<i64>,
}

impl Spread {
    /// From durations in milliseconds (in any order).
    pub fn of(mut ms: Vec<i64>) -> Self {
        ms.sort_unstable();
        Self {
            tickets: ms.len() as i64,
            median_minutes: nearest_rank(&ms, 50).map(minutes),
            p90_minutes: nearest_rank(&ms, 90).map(minutes),
        }
    }
}

/// The nearest-rank percentile of sorted values: the value at rank ⌈p/100 × n⌉ (1-based).
pub fn nearest_rank(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (u64::from(p) * n).div_ceil(100).max(1);
    sorted.get(rank as usize - 1).copied()
}

/// Whole minutes, rounded down.
pub fn minutes(ms: i64) -> i64 {
    ms / 60_000
}

/// The age bands of the backlog, youngest first: key and label. A ticket is in band `i` when
/// younger than `orion_store::reports::BAND_HOURS[i]` hours (the last band: the rest).
pub const AGE_BANDS: [(&str, &str); 5] = [
    ("under_1d", "Under a day"),
    ("1d_3d", "1 to 3 days"),
    ("3d_7d", "3 to 7 days"),
    ("7d_30d", "7 to 30 days"),
    ("over_30d", "30 days or more"),
];

/// `service_request` → `Service request`: a stored value as a person reads it.
pub fn label(value: &str) -> String {
    let text = value.replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(nearest_rank(&[], 50), None);
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 50), Some(5));
        assert_eq!(nearest_rank(&ten, 90), Some(9));
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(nearest_rank(&eleven, 50), Some(6));
        assert_eq!(nearest_rank(&eleven, 90), Some(10));
    }

    #[test]
    fn spreads_sort_and_round_down_to_minutes() {
        let s = Spread::of(vec![3 * 60_000 + 59_999, 60_000, 2 * 60_000]);
        assert_eq!(s, Spread { tickets: 3, median_minutes: Some(2), p90_minutes: Some(3) });
        assert_eq!(Spread::of(vec![]), Spread { tickets: 0, median_minutes: None, p90_minutes: None });
    }

    #[test]
    fn rates_round_to_one_decimal_and_are_null_without_a_base() {
        assert_eq!(Rate::new(1, 3).percent, Some(33.3));
        assert_eq!(Rate::new(2, 3).percent, Some(66.7));
        assert_eq!(Rate::new(0, 0).percent, None);
    }

    #[test]
    fn labels_read_as_words() {
        assert_eq!(label("service_request"), "Service request");
        assert_eq!(label("walk_in"), "Walk in");
    }
}

/// Satisfaction surveys sent in a period: how many, how many answered, the average of the stars
/// (one decimal), the share of 4 and 5 stars among the answers, and the low scores (1 or 2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Csat {
    pub sent: i64,
    pub answered: i64,
    /// Answered, of those sent
    pub response_rate: Rate,
    /// The mean of the stars given, 1–5; null without answers
    pub average_stars: Option<f64>,
    /// 4 or 5 stars, of the answers (the CSAT score)
    pub satisfied: Rate,
    /// Answers of 1 or 2 stars
    pub low: i64,
}

impl Csat {
    pub fn new(sent: i64, answered: i64, stars: i64, satisfied: i64, low: i64) -> Self {
        Csat {
            sent,
            answered,
            response_rate: Rate::new(answered, sent),
            average_stars: (answered > 0).then(|| (stars as f64 * 10.0 / answered as f64).round() / 10.0),
            satisfied: Rate::new(satisfied, answered),
            low,
        }
    }
}
