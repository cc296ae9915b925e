//! Impact x urgency -> priority, by a configurable matrix.

use crate::error::FieldError;
use std::fmt;

/// Impact or urgency: 1 (high) .. 3 (low).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Level(u8);

impl Level {
    pub fn parse(field: &str, n: i64) -> Result<Self, FieldError> {
        match n {
            1..=3 => Ok(Self(n as u8)),
            _ => Err(FieldError::new(field, "must be 1 (high), 2 (medium) or 3 (low)")),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// P1 (critical) .. P5 (planning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Priority(u8);

impl Priority {
    pub fn from_number(field: &str, n: i64) -> Result<Self, FieldError> {
        match n {
            1..=5 => Ok(Self(n as u8)),
            _ => Err(FieldError::new(field, "must be 1..5")),
        }
    }

    /// Parses `P1`..`P5` (case-insensitive) or a bare digit.
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let digits = s.trim().trim_start_matches(['P', 'p']);
        match digits.parse::<i64>() {
            Ok(n) => Self::from_number(field, n),
            Err(_) => Err(FieldError::new(field, "must be one of P1, P2, P3, P4, P5")),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// One step more urgent, never beyond P1.
    pub fn raised(self) -> Self {
        Self(self.0.saturating_sub(1).max(1))
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}", self.0)
    }
}

/// `cells[impact-1][urgency-1]` is the priority number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityMatrix {
    cells: [[Priority; 3]; 3],
}

impl Default for PriorityMatrix {
    /// The ITIL 3x3 default: (1,1)=P1; (1,2),(2,1)=P2; (1,3),(2,2),(3,1)=P3; (2,3),(3,2)=P4; (3,3)=P5.
    fn default() -> Self {
        let p = Priority;
        Self { cells: [[p(1), p(2), p(3)], [p(2), p(3), p(4)], [p(3), p(4), p(5)]] }
    }
}

impl PriorityMatrix {
    /// Builds a matrix from rows of priority numbers (impact rows, urgency columns).
    /// A matrix must not rank a less urgent cell above a more urgent one in the same row or column.
    pub fn from_rows(field: &str, rows: &[Vec<i64>]) -> Result<Self, FieldError> {
        if rows.len() != 3 || rows.iter().any(|r| r.len() != 3) {
            return Err(FieldError::new(field, "must be 3 rows (impact 1..3) of 3 priorities (urgency 1..3)"));
        }
        let mut cells = [[Priority(1); 3]; 3];
        for (i, row) in rows.iter().enumerate() {
            for (u, n) in row.iter().enumerate() {
                cells[i][u] = Priority::from_number(&format!("{field}[{i}][{u}]"), *n)?;
            }
        }
        for i in 0..3 {
            for u in 0..3 {
                if (i > 0 && cells[i][u] < cells[i - 1][u]) || (u > 0 && cells[i][u] < cells[i][u - 1]) {
                    return Err(FieldError::new(field, "lower impact or urgency must never give a higher priority"));
                }
            }
        }
        Ok(Self { cells })
    }

    pub fn rows(&self) -> Vec<Vec<i64>> {
        self.cells.iter().map(|r| r.iter().map(|p| i64::from(p.0)).collect()).collect()
    }

    pub fn priority(&self, impact: Level, urgency: Level) -> Priority {
        self.cells[usize::from(impact.0 - 1)][usize::from(urgency.0 - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lv(n: i64) -> Level {
        Level::parse("x", n).unwrap()
    }

    #[test]
    fn default_matrix_is_itil() {
        let m = PriorityMatrix::default();
        let expect =
            [(1, 1, 1), (1, 2, 2), (2, 1, 2), (1, 3, 3), (2, 2, 3), (3, 1, 3), (2, 3, 4), (3, 2, 4), (3, 3, 5)];
        for (i, u, p) in expect {
            assert_eq!(m.priority(lv(i), lv(u)).get(), p, "impact {i} urgency {u}");
        }
    }

    #[test]
    fn levels_outside_one_to_three_are_refused() {
        assert_eq!(Level::parse("impact", 7).unwrap_err().field, "impact");
        assert!(Level::parse("urgency", 0).is_err());
    }

    #[test]
    fn priority_parses_labels() {
        assert_eq!(Priority::parse("p", "P2").unwrap().get(), 2);
        assert_eq!(Priority::parse("p", "p5").unwrap().to_string(), "P5");
        assert!(Priority::parse("p", "P6").is_err());
        assert!(Priority::parse("p", "high").is_err());
        assert_eq!(Priority::parse("p", "P1").unwrap().raised().get(), 1);
        assert_eq!(Priority::parse("p", "P3").unwrap().raised().get(), 2);
    }

    #[test]
    fn custom_matrix_must_be_monotonic() {
        assert!(PriorityMatrix::from_rows("m", &[vec![1, 1, 2], vec![1, 2, 3], vec![2, 3, 4]]).is_ok());
        assert!(PriorityMatrix::from_rows("m", &[vec![3, 1, 2], vec![1, 2, 3], vec![2, 3, 4]]).is_err());
        assert!(PriorityMatrix::from_rows("m", &[vec![1, 2], vec![1, 2, 3], vec![2, 3, 4]]).is_err());
        assert!(PriorityMatrix::from_rows("m", &[vec![1, 2, 9], vec![1, 2, 3], vec![2, 3, 4]]).is_err());
    }

    proptest! {
        /// Raising impact or urgency (a smaller number) never lowers the priority.
        #[test]
        fn priority_is_monotonic(i in 1i64..=3, u in 1i64..=3) {
            let m = PriorityMatrix::default();
            let p = m.priority(lv(i), lv(u));
            if i > 1 { prop_assert!(m.priority(lv(i - 1), lv(u)) <= p); }
            if u > 1 { prop_assert!(m.priority(lv(i), lv(u - 1)) <= p); }
        }

        #[test]
        fn matrix_rows_round_trip(rows in proptest::collection::vec(proptest::collection::vec(1i64..=5, 3), 3)) {
            if let Ok(m) = PriorityMatrix::from_rows("m", &rows) {
                prop_assert_eq!(m.rows(), rows);
            }
        }
    }
}
