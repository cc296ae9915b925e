//! Business calendars: when the service desk works, in its own time zone.
//!
//! A calendar is a time zone, working intervals for each weekday (several per
//! day allowed, e.g. 08:00–12:00 and 13:00–17:00), and holidays (single dates
//! and dates that recur every year). SLA targets count only working time.
//! Local times are turned into instants through the zone's rules, so days of
//! 23 or 25 hours around DST changes are counted as they really are.

use crate::error::FieldError;
use crate::time::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use std::collections::BTreeSet;

/// Minutes since local midnight: 0..=1440.
pub type Minute = u16;

/// How far ahead a calendar is searched for working time before giving up
/// (a calendar with no working time at all in ten years is a configuration error).
const HORIZON_DAYS: i64 = 3660;

/// A business calendar.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    zone: TimeZone,
    zone_name: String,
    /// Monday = 0 … Sunday = 6; sorted, non-overlapping `[start, end)` minutes.
    week: [Vec<(Minute, Minute)>; 7],
    holidays: BTreeSet<Date>,
    /// (month, day) pairs that are holidays every year.
    yearly: BTreeSet<(i8, i8)>,
}

impl BusinessCalendar {
    /// Round the clock, every day, no holidays (for P1 targets).
    pub fn always() -> Self {
        let all = vec![(0, 1440)];
        Self {
            zone: TimeZone::UTC,
            zone_name: "UTC".into(),
            week: [all.clone(), all.clone(), all.clone(), all.clone(), all.clone(), all.clone(), all],
            holidays: BTreeSet::new(),
            yearly: BTreeSet::new(),
        }
    }

    /// Builds a calendar, checking the zone name and the intervals.
    pub fn new(
        zone: &str,
        week: [Vec<(Minute, Minute)>; 7],
        holidays: impl IntoIterator<Item = Date>,
        yearly: impl IntoIterator<Item = (i8, i8)>,
    ) -> Result<Self, FieldError> {
        let tz = TimeZone::get(zone)
            .map_err(|_| FieldError::new("time_zone", format!("unknown IANA time zone {zone:?}")))?;
        let mut week = week;
        for (d, day) in week.iter_mut().enumerate() {
            day.sort_unstable();
            for (i, &(s, e)) in day.iter().enumerate() {
                if s >= e || e > 1440 {
                    return Err(FieldError::new(
                        format!("week[{d}]"),
                        "each interval must start before it ends, within the day",
                    ));
                }
                if i > 0 && day[i - 1].1 > s {
                    return Err(FieldError::new(format!("week[{d}]"), "intervals must not overlap"));
                }
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err(FieldError::new("week", "a calendar needs working hours on at least one day"));
        }
        let yearly: BTreeSet<(i8, i8)> = yearly.into_iter().collect();
        for &(m, d) in &yearly {
            if Date::new(2000, m, d).is_err() {
                return Err(FieldError::new("yearly_holidays", format!("{m}-{d} is not a date")));
            }
        }
        Ok(Self { zone: tz, zone_name: zone.to_string(), week, holidays: holidays.into_iter().collect(), yearly })
    }

    /// Monday to Friday, `from`–`to` local time (e.g. 09:00–17:00).
    pub fn weekdays(zone: &str, from: Minute, to: Minute) -> Result<Self, FieldError> {
        let day = vec![(from, to)];
        Self::new(zone, [day.clone(), day.clone(), day.clone(), day.clone(), day, vec![], vec![]], [], [])
    }

    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    /// The time zone its hours are in (also the one a form's local date-times are read in).
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    pub fn is_holiday(&self, date: Date) -> bool {
        self.holidays.contains(&date) || self.yearly.contains(&(date.month(), date.day()))
    }

    fn instant(&self, date: Date, minute: Minute) -> Option<i64> {
        let (date, minute) = if minute >= 1440 { (date.tomorrow().ok()?, 0) } else { (date, minute) };
        let time = Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0).ok()?;
        // `compatible`: a local time skipped by DST moves forward, a repeated one takes the first.
        let zoned = date.to_datetime(time).to_zoned(self.zone.clone()).ok()?;
        Some(zoned.timestamp().as_millisecond())
    }

    fn local_date(&self, at: Timestamp) -> Option<Date> {
        let ts = jiff::Timestamp::from_millisecond(at.0).ok()?;
        Some(ts.to_zoned(self.zone.clone()).date())
    }

    /// The working spans `[start, end)` (UTC ms) of one local date, in order.
    fn spans_of(&self, date: Date) -> Vec<(i64, i64)> {
        if self.is_holiday(date) {
            return Vec::new();
        }
        let wd = date.weekday().to_monday_zero_offset() as usize;
        let mut out: Vec<(i64, i64)> = Vec::new();
        for &(s, e) in &self.week[wd] {
            if let (Some(a), Some(b)) = (self.instant(date, s), self.instant(date, e))
                && b > a
            {
                // Adjacent intervals (24x7, or 00:00-24:00 days) merge into one span.
                match out.last_mut() {
                    Some(last) if last.1 >= a => last.1 = last.1.max(b),
                    _ => out.push((a, b)),
                }
            }
        }
        out
    }

    /// Working spans overlapping `[from, ∞)`, clipped to start at `from`, in order.
    fn spans_from(&self, from: Timestamp) -> impl Iterator<Item = (i64, i64)> + '_ {
        let start_date = self.local_date(from).and_then(|d| d.yesterday().ok());
        let mut date = start_date;
        let mut days = 0;
        std::iter::from_fn(move || {
            let d = date?;
            if days > HORIZON_DAYS {
                return None;
            }
            days += 1;
            date = d.tomorrow().ok();
            Some(self.spans_of(d))
        })
        .flatten()
        .filter(move |&(_, e)| e > from.0)
        .map(move |(s, e)| (s.max(from.0), e))
    }

    /// Working milliseconds in `[from, to)`.
    pub fn business_ms_between(&self, from: Timestamp, to: Timestamp) -> i64 {
        if to <= from {
            return 0;
        }
        let mut total = 0;
        for (s, e) in self.spans_from(from) {
            if s >= to.0 {
                break;
            }
            total += e.min(to.0) - s;
        }
        total
    }

    /// The instant at which `ms` working milliseconds have passed since `from`;
    /// `None` if the calendar has no working time within its horizon.
    pub fn add_business_ms(&self, from: Timestamp, ms: i64) -> Option<Timestamp> {
        let mut left = ms.max(0);
        for (s, e) in self.spans_from(from) {
            if left == 0 {
                return Some(Timestamp(s.max(from.0)));
            }
            if e - s >= left {
                return Some(Timestamp(s + left));
            }
            left -= e - s;
        }
        None
    }

    /// The start of the next working span at or after `at` (where the clock starts counting).
    pub fn next_working_instant(&self, at: Timestamp) -> Option<Timestamp> {
        self.spans_from(at).next().map(|(s, _)| Timestamp(s))
    }

    /// Working spans overlapping `[from, to)`, clipped, as UTC ms — for explanations.
    pub fn spans_between(&self, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Timestamp)> {
        self.spans_from(from)
            .take_while(|&(s, _)| s < to.0)
            .map(|(s, e)| (Timestamp(s), Timestamp(e.min(to.0))))
            .collect()
    }

    /// Whether `date` is a working day: a weekday with working hours that is not a holiday.
    pub fn is_working_day(&self, date: Date) -> bool {
        !self.is_holiday(date) && !self.week[date.weekday().to_monday_zero_offset() as usize].is_empty()
    }

    /// The working day `n` working days after `date` (before it, for a negative `n`), `date`
    /// itself not counted: −5 from a Monday start is the Monday before, +1 from a Friday the next
    /// Monday. `n = 0` is `date` itself. `None` past the calendar's horizon.
    pub fn add_working_days(&self, date: Date, n: i32) -> Option<Date> {
        let mut d = date;
        let mut left = n.unsigned_abs();
        let mut steps = 0;
        while left > 0 {
            d = if n > 0 { d.tomorrow().ok()? } else { d.yesterday().ok()? };
            steps += 1;
            if steps > HORIZON_DAYS {
                return None;
            }
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        Some(d)
    }

    /// When working time on `date` ends (local), as an instant: the end of its last working span,
    /// or midnight at its end on a day without working hours.
    pub fn end_of_day(&self, date: Date) -> Option<Timestamp> {
        match self.spans_of(date).last() {
            Some(&(_, e)) => Some(Timestamp(e)),
            None => self.instant(date, 1440).map(Timestamp),
        }
    }

    /// Local wall-clock rendering of an instant in the calendar's zone, e.g. `Fri 16:00`.
    pub fn local_label(&self, at: Timestamp) -> String {
        match jiff::Timestamp::from_millisecond(at.0) {
            Ok(ts) => ts.to_zoned(self.zone.clone()).strftime("%a %Y-%m-%d %H:%M").to_string(),
            Err(_) => at.to_rfc3339(),
        }
    }
}

/// A calendar as stored (JSON): what an admin edits and what a ticket's SLA
/// keeps a copy of, so later edits do not rewrite history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CalendarSpec {
    pub time_zone: String,
    /// Seven days, Monday first; each a list of `[start, end)` minutes.
    pub week: Vec<Vec<(Minute, Minute)>>,
    /// `YYYY-MM-DD`
    #[serde(default)]
    pub holidays: Vec<String>,
    /// `(month, day)`
    #[serde(default)]
    pub yearly_holidays: Vec<(i8, i8)>,
}

impl CalendarSpec {
    pub fn build(&self) -> Result<BusinessCalendar, FieldError> {
        let week: [Vec<(Minute, Minute)>; 7] =
            self.week.clone().try_into().map_err(|_| FieldError::new("week", "must list 7 days, Monday first"))?;
        let mut holidays = Vec::new();
        for h in &self.holidays {
            holidays.push(
                h.parse::<Date>()
                    .map_err(|_| FieldError::new("holidays", format!("{h:?} is not a YYYY-MM-DD date")))?,
            );
        }
        BusinessCalendar::new(&self.time_zone, week, holidays, self.yearly_holidays.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H: i64 = 3_600_000;

    fn at(zone: &str, s: &str) -> Timestamp {
        let dt: jiff::civil::DateTime = s.parse().unwrap();
        Timestamp(dt.to_zoned(TimeZone::get(zone).unwrap()).unwrap().timestamp().as_millisecond())
    }

    fn office(zone: &str) -> BusinessCalendar {
        BusinessCalendar::weekdays(zone, 9 * 60, 17 * 60).unwrap()
    }

    #[test]
    fn working_days_skip_weekends_and_holidays_both_ways() {
        let d = |s: &str| -> Date { s.parse().unwrap() };
        // 2027-01-11 is a Monday; 2027-01-06 (Wednesday) a holiday.
        let c = BusinessCalendar::new(
            "Europe/Berlin",
            [
                vec![(540, 1020)],
                vec![(540, 1020)],
                vec![(540, 1020)],
                vec![(540, 1020)],
                vec![(540, 1020)],
                vec![],
                vec![],
            ],
            [d("2027-01-06")],
            [],
        )
        .unwrap();
        assert_eq!(c.add_working_days(d("2027-01-11"), 0), Some(d("2027-01-11")));
        assert_eq!(c.add_working_days(d("2027-01-11"), -1), Some(d("2027-01-08")), "the Friday before");
        assert_eq!(c.add_working_days(d("2027-01-11"), -3), Some(d("2027-01-05")), "the holiday is skipped");
        assert_eq!(c.add_working_days(d("2027-01-08"), 1), Some(d("2027-01-11")));
        assert_eq!(c.add_working_days(d("2027-01-11"), 10), Some(d("2027-01-25")));
        assert!(!c.is_working_day(d("2027-01-06")) && !c.is_working_day(d("2027-01-09")));
        assert!(c.is_working_day(d("2027-01-07")));
        assert_eq!(c.end_of_day(d("2027-01-11")), Some(at("Europe/Berlin", "2027-01-11T17:00")));
        assert_eq!(c.end_of_day(d("2027-01-09")), Some(at("Europe/Berlin", "2027-01-10T00:00")));
    }

    proptest! {
        /// Going n working days forward and then n back lands on the day started from, when
        /// that day is a working day.
        #[test]
        fn working_days_there_and_back(offset in 0i64..400, n in 1i32..40) {
            let c = office("America/New_York");
            let start = Date::new(2026, 1, 5).unwrap().checked_add(jiff::Span::new().days(offset)).unwrap();
            prop_assume!(c.is_working_day(start));
            let there = c.add_working_days(start, n).unwrap();
            prop_assert!(c.is_working_day(there) && there > start);
            prop_assert_eq!(c.add_working_days(there, -n), Some(start));
        }
    }

    #[test]
    fn four_business_hours_from_friday_four_pm_is_monday_noon() {
        let c = office("Europe/Berlin");
        // 2026-11-20 is a Friday.
        let due = c.add_business_ms(at("Europe/Berlin", "2026-11-20T16:00"), 4 * H).unwrap();
        assert_eq!(due, at("Europe/Berlin", "2026-11-23T12:00"));
        assert_eq!(c.business_ms_between(at("Europe/Berlin", "2026-11-20T16:00"), due), 4 * H);
    }

    #[test]
    fn starting_outside_hours_counts_from_the_next_opening() {
        let c = office("Europe/Berlin");
        let saturday = at("Europe/Berlin", "2026-11-21T10:00");
        assert_eq!(c.next_working_instant(saturday), Some(at("Europe/Berlin", "2026-11-23T09:00")));
        assert_eq!(c.add_business_ms(saturday, H), Some(at("Europe/Berlin", "2026-11-23T10:00")));
        assert_eq!(c.business_ms_between(saturday, at("Europe/Berlin", "2026-11-22T23:00")), 0);
    }

    #[test]
    fn holidays_single_and_yearly_are_skipped() {
        let day = vec![(9 * 60, 17 * 60)];
        let week = [day.clone(), day.clone(), day.clone(), day.clone(), day, vec![], vec![]];
        let c = BusinessCalendar::new("Europe/Berlin", week, [Date::new(2026, 12, 24).unwrap()], [(12, 25), (12, 26)])
            .unwrap();
        // Wed 23 Dec 16:00 + 2 h: 1 h on the 23rd, 24th (holiday), 25th (yearly holiday), 26-27 weekend -> Mon 28th 10:00.
        let due = c.add_business_ms(at("Europe/Berlin", "2026-12-23T16:00"), 2 * H).unwrap();
        assert_eq!(due, at("Europe/Berlin", "2026-12-28T10:00"));
        assert!(c.is_holiday(Date::new(2031, 12, 25).unwrap()), "yearly holidays recur");
    }

    #[test]
    fn split_days_count_both_halves() {
        let day = vec![(8 * 60, 12 * 60), (13 * 60, 17 * 60)];
        let week = [day.clone(), day.clone(), day.clone(), day.clone(), day, vec![], vec![]];
        let c = BusinessCalendar::new("America/New_York", week, [], []).unwrap();
        let due = c.add_business_ms(at("America/New_York", "2026-11-23T11:00"), 2 * H).unwrap();
        assert_eq!(due, at("America/New_York", "2026-11-23T14:00"), "the lunch hour does not count");
    }

    #[test]
    fn dst_days_have_their_real_length() {
        // 24x7 in Berlin's zone: the night of 2026-03-29 has only 23 hours.
        let all = vec![(0, 1440)];
        let c = BusinessCalendar::new("Europe/Berlin", std::array::from_fn(|_| all.clone()), [], []).unwrap();
        let from = at("Europe/Berlin", "2026-03-28T12:00");
        let to = at("Europe/Berlin", "2026-03-29T12:00");
        assert_eq!(c.business_ms_between(from, to), 23 * H);
        // Office hours across the change still count 8 h a day.
        let o = office("Europe/Berlin");
        assert_eq!(
            o.business_ms_between(at("Europe/Berlin", "2026-03-27T09:00"), at("Europe/Berlin", "2026-03-30T17:00")),
            16 * H
        );
    }

    #[test]
    fn bad_calendars_are_refused() {
        assert_eq!(BusinessCalendar::weekdays("Mars/Olympus", 540, 1020).unwrap_err().field, "time_zone");
        assert!(BusinessCalendar::weekdays("UTC", 600, 540).is_err());
        assert!(BusinessCalendar::new("UTC", Default::default(), [], []).is_err());
        let overlap = vec![(540, 720), (700, 800)];
        assert!(
            BusinessCalendar::new("UTC", [overlap, vec![], vec![], vec![], vec![], vec![], vec![]], [], []).is_err()
        );
        assert!(
            BusinessCalendar::new(
                "UTC",
                [vec![(0, 60)], vec![], vec![], vec![], vec![], vec![], vec![]],
                [],
                [(2, 30)]
            )
            .is_err()
        );
    }

    #[test]
    fn specs_round_trip_through_json() {
        let json = r#"{"time_zone":"Europe/Berlin","week":[[[540,1020]],[[540,1020]],[[540,1020]],[[540,1020]],[[540,1020]],[],[]],"holidays":["2026-12-24"],"yearly_holidays":[[12,25]]}"#;
        let spec: CalendarSpec = serde_json::from_str(json).unwrap();
        let c = spec.build().unwrap();
        assert!(c.is_holiday(Date::new(2026, 12, 24).unwrap()) && c.is_holiday(Date::new(2030, 12, 25).unwrap()));
        assert_eq!(
            c.add_business_ms(at("Europe/Berlin", "2026-11-20T16:00"), 4 * H),
            Some(at("Europe/Berlin", "2026-11-23T12:00"))
        );
        let bad = CalendarSpec { week: vec![vec![]; 6], ..spec.clone() };
        assert_eq!(bad.build().unwrap_err().field, "week");
        let bad = CalendarSpec { holidays: vec!["24.12.2026".into()], ..spec };
        assert_eq!(bad.build().unwrap_err().field, "holidays");
    }

    #[test]
    fn always_is_wall_clock_time() {
        let c = BusinessCalendar::always();
        assert_eq!(c.add_business_ms(Timestamp(1_000), 5 * H), Some(Timestamp(1_000 + 5 * H)));
        assert_eq!(c.business_ms_between(Timestamp(0), Timestamp(72 * H)), 72 * H);
    }

    fn zones() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just("UTC"),
            Just("Europe/Berlin"),
            Just("America/New_York"),
            Just("Asia/Kolkata"),
            Just("Australia/Lord_Howe")
        ]
    }

    proptest! {
        /// The due time is never before start + target, and exactly `target` working time lies between.
        #[test]
        fn due_is_consistent_with_elapsed(
            zone in zones(),
            start in 1_700_000_000_000i64..1_900_000_000_000,
            target_min in 0i64..(5 * 24 * 60),
            open in 0u16..(12 * 60),
            len in 60u16..(12 * 60),
        ) {
            let c = BusinessCalendar::weekdays(zone, open, open + len).unwrap();
            let from = Timestamp(start);
            let ms = target_min * 60_000;
            let due = c.add_business_ms(from, ms).unwrap();
            prop_assert!(due.0 >= start + ms, "due {} before start+target {}", due.0, start + ms);
            prop_assert_eq!(c.business_ms_between(from, due), ms);
        }

        /// Working time is additive over consecutive intervals and never exceeds wall time.
        #[test]
        fn elapsed_is_additive(zone in zones(), a in 1_700_000_000_000i64..1_800_000_000_000, d1 in 0i64..(10 * 86_400_000), d2 in 0i64..(10 * 86_400_000)) {
            let c = office(zone);
            let (t0, t1, t2) = (Timestamp(a), Timestamp(a + d1), Timestamp(a + d1 + d2));
            let whole = c.business_ms_between(t0, t2);
            prop_assert_eq!(whole, c.business_ms_between(t0, t1) + c.business_ms_between(t1, t2));
            prop_assert!(whole <= d1 + d2);
        }
    }
}
