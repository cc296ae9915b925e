//! Cron schedules (the five fields of Vixie cron) and the next run after an instant, in a time zone.
//!
//! `minute hour day-of-month month day-of-week`, each a `*`, a number, a range `a-b`, a step
//! `*/n` or `a-b/n`, or a comma list of those; month and weekday names (`jan`, `mon`); weekday 0
//! or 7 is Sunday. As in Vixie cron, when both day fields are restricted a day matching either
//! runs. `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`).

use crate::FieldError;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    dom_restricted: bool,
    dow_restricted: bool,
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn field(field: &str, part: &str, (lo, hi): (u32, u32), names: &[&str], name_base: u32) -> Result<u64, String> {
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| s.eq_ignore_ascii_case(n)) {
            return Ok(i as u32 + name_base);
        }
        s.parse::<u32>().map_err(|_| format!("{field}: {s:?} is not a number"))
    };
    let mut bits = 0u64;
    for item in part.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                (r, s.parse::<u32>().ok().filter(|s| *s > 0).ok_or(format!("{field}: bad step in {item:?}"))?)
            }
            None => (item, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let a = value(range)?;
            (a, if item.contains('/') { hi } else { a })
        };
        if a < lo || b > hi || a > b {
            return Err(format!("{field}: {item:?} is outside {lo}-{hi}"));
        }
        let mut v = a;
        while v <= b {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl Cron {
    /// Reads a schedule; the error names `name` and says what is wrong.
    pub fn parse(name: &str, s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        let expanded = match s.to_ascii_lowercase().as_str() {
            "@hourly" => "0 * * * *".to_string(),
            "@daily" | "@midnight" => "0 0 * * *".to_string(),
            "@weekly" => "0 0 * * 0".to_string(),
            "@monthly" => "0 0 1 * *".to_string(),
            "@yearly" | "@annually" => "0 0 1 1 *".to_string(),
            _ => s.to_string(),
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(FieldError::new(name, "must have five fields: minute hour day-of-month month day-of-week"));
        }
        let err = |m: String| FieldError::new(name, m);
        let minutes = field("minute", parts[0], (0, 59), &[], 0).map_err(err)?;
        let hours = field("hour", parts[1], (0, 23), &[], 0).map_err(err)? as u32;
        let days = field("day of month", parts[2], (1, 31), &[], 0).map_err(err)? as u32;
        let months = field("month", parts[3], (1, 12), &MONTHS, 1).map_err(err)? as u16;
        let mut weekdays = field("day of week", parts[4], (0, 7), &DAYS, 0).map_err(err)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Self {
            minutes,
            hours,
            days,
            months,
            weekdays: (weekdays & 0x7f) as u8,
            dom_restricted: parts[2] != "*",
            dow_restricted: parts[4] != "*",
        })
    }

    fn day_matches(&self, d: Date) -> bool {
        if self.months & (1 << d.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << d.day()) != 0;
        let dow = self.weekdays & (1 << d.weekday().to_sunday_zero_offset()) != 0;
        match (self.dom_restricted, self.dow_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The first run strictly after `after_ms` (epoch ms), in `tz`; `None` if there is none in
    /// the next five years (`0 0 31 2 *`).
    pub fn next_after(&self, after_ms: i64, tz: &TimeZone) -> Option<i64> {
        let t = jiff::Timestamp::from_millisecond(after_ms).ok()?;
        let start = t.to_zoned(tz.clone()).datetime();
        let mut day = start.date();
        for _ in 0..(5 * 366) {
            if self.day_matches(day) {
                for h in 0..24i8 {
                    if self.hours & (1 << h) == 0 || (day == start.date() && h < start.hour()) {
                        continue;
                    }
                    for m in 0..60i8 {
                        if self.minutes & (1 << m) == 0 {
                            continue;
                        }
                        let dt = DateTime::from_parts(day, jiff::civil::time(h, m, 0, 0));
                        let Ok(z) = dt.to_zoned(tz.clone()) else { continue };
                        let ms = z.timestamp().as_millisecond();
                        if ms > after_ms {
                            return Some(ms);
                        }
                    }
                }
            }
            day = day.tomorrow().ok()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    fn next(expr: &str, after: &str, tz: &str) -> String {
        let tz = TimeZone::get(tz).unwrap();
        let ms = Cron::parse("cron", expr).unwrap().next_after(at(after), &tz).unwrap();
        jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
    }

    #[test]
    fn daily_hourly_and_steps() {
        assert_eq!(next("0 2 * * *", "2026-11-22T01:59:00Z", "UTC"), "2026-11-22T02:00:00Z");
        assert_eq!(next("0 2 * * *", "2026-11-22T02:00:00Z", "UTC"), "2026-11-23T02:00:00Z", "strictly after");
        assert_eq!(next("@hourly", "2026-11-22T10:30:00Z", "UTC"), "2026-11-22T11:00:00Z");
        assert_eq!(next("*/15 * * * *", "2026-11-22T10:31:00Z", "UTC"), "2026-11-22T10:45:00Z");
        assert_eq!(next("30 1-5/2 * * *", "2026-11-22T02:00:00Z", "UTC"), "2026-11-22T03:30:00Z");
    }

    #[test]
    fn weekdays_months_and_vixie_day_rule() {
        // 2026-11-22 is a Sunday.
        assert_eq!(next("0 9 * * mon-fri", "2026-11-22T12:00:00Z", "UTC"), "2026-11-23T09:00:00Z");
        assert_eq!(next("0 0 * * 7", "2026-11-22T12:00:00Z", "UTC"), "2026-11-29T00:00:00Z");
        assert_eq!(next("0 0 1 jan *", "2026-11-22T12:00:00Z", "UTC"), "2027-01-01T00:00:00Z");
        // Day 1 of the month OR a Friday: Friday 27th comes first.
        assert_eq!(next("0 0 1 * fri", "2026-11-22T12:00:00Z", "UTC"), "2026-11-27T00:00:00Z");
        assert!(
            Cron::parse("c", "0 0 31 2 *").unwrap().next_after(at("2026-01-01T00:00:00Z"), &TimeZone::UTC).is_none()
        );
    }

    #[test]
    fn time_zones_and_daylight_saving() {
        // 02:00 in Berlin is 01:00 UTC in winter.
        assert_eq!(next("0 2 * * *", "2026-11-22T00:00:00Z", "Europe/Berlin"), "2026-11-22T01:00:00Z");
        // 2027-03-28 02:30 does not exist in Berlin; the run moves past the gap, it is not lost.
        assert_eq!(next("30 2 * * *", "2027-03-27T12:00:00Z", "Europe/Berlin"), "2027-03-28T01:30:00Z");
    }

    #[test]
    fn bad_schedules_say_why() {
        for bad in ["* * * *", "61 * * * *", "0 0 * * 8", "0 0 * foo *", "*/0 * * * *", "5-1 * * * *"] {
            let e = Cron::parse("cron", bad).unwrap_err();
            assert_eq!(e.field, "cron", "{bad}");
        }
        assert!(Cron::parse("cron", "0 25 * * *").unwrap_err().message.contains("hour"));
    }
}
