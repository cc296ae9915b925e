//! Holidays from iCalendar (.ics) files, as published by governments and
//! calendar services: all-day events become holidays; events that repeat
//! yearly (`RRULE:FREQ=YEARLY`) become yearly holidays.

use crate::error::FieldError;
use jiff::civil::Date;

/// Holidays read from an .ics file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holidays {
    pub dates: Vec<Date>,
    /// (month, day) of holidays that recur every year.
    pub yearly: Vec<(i8, i8)>,
    /// Event names, for the import report.
    pub names: Vec<String>,
}

/// Unfolds RFC 5545 continuation lines (a line starting with a space or tab continues the previous one).
fn unfold(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        match (line.strip_prefix(' ').or_else(|| line.strip_prefix('\t')), out.last_mut()) {
            (Some(rest), Some(last)) => last.1.push_str(rest),
            _ => out.push((i + 1, line.to_string())),
        }
    }
    out
}

fn parse_date(line: usize, value: &str) -> Result<Date, FieldError> {
    let v = value.trim();
    let digits = v.get(..8).filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
    let bad = || FieldError::new(format!("line {line}"), format!("DTSTART {v:?} is not a date (YYYYMMDD)"));
    let d = digits.ok_or_else(bad)?;
    let (y, m, dd) = (d[..4].parse::<i16>(), d[4..6].parse::<i8>(), d[6..8].parse::<i8>());
    match (y, m, dd) {
        (Ok(y), Ok(m), Ok(dd)) => Date::new(y, m, dd).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// Reads every VEVENT's DTSTART (and SUMMARY, RRULE). Errors name the line.
pub fn parse_holidays(text: &str) -> Result<Holidays, FieldError> {
    if !text.contains("BEGIN:VCALENDAR") {
        return Err(FieldError::new("file", "not an iCalendar file (no BEGIN:VCALENDAR)"));
    }
    let mut out = Holidays::default();
    let mut in_event = false;
    let (mut start, mut yearly, mut name): (Option<Date>, bool, String) = (None, false, String::new());
    for (line, content) in unfold(text) {
        let (key, value) = match content.split_once(':') {
            Some(kv) => kv,
            None => continue,
        };
        let prop = key.split(';').next().unwrap_or("").to_ascii_uppercase();
        match (prop.as_str(), value.trim()) {
            ("BEGIN", "VEVENT") => {
                in_event = true;
                (start, yearly, name) = (None, false, String::new());
            }
            ("END", "VEVENT") if in_event => {
                in_event = false;
                let Some(date) = start.take() else {
                    return Err(FieldError::new(format!("line {line}"), "event without DTSTART"));
                };
                if yearly {
                    out.yearly.push((date.month(), date.day()));
                } else {
                    out.dates.push(date);
                }
                out.names.push(std::mem::take(&mut name));
            }
            ("DTSTART", v) if in_event => start = Some(parse_date(line, v)?),
            ("RRULE", v) if in_event => yearly = v.to_ascii_uppercase().split(';').any(|p| p == "FREQ=YEARLY"),
            ("SUMMARY", v) if in_event => name = v.replace("\\,", ",").replace("\\;", ";"),
            _ => {}
        }
    }
    if in_event {
        return Err(FieldError::new("file", "the last VEVENT has no END:VEVENT"));
    }
    out.dates.sort();
    out.dates.dedup();
    out.yearly.sort();
    out.yearly.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//Holidays//EN\r\n\
BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261225\r\nRRULE:FREQ=YEARLY\r\nSUMMARY:Christmas Day\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:2\r\nDTSTART;VALUE=DATE:20260403\r\nSUMMARY:Good\r\n  Friday\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:3\r\nDTSTART:20260525T000000Z\r\nSUMMARY:Whit Monday\\, observed\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn reads_dates_yearly_rules_and_folded_names() {
        let h = parse_holidays(SAMPLE).unwrap();
        assert_eq!(h.yearly, vec![(12, 25)]);
        assert_eq!(h.dates, vec![Date::new(2026, 4, 3).unwrap(), Date::new(2026, 5, 25).unwrap()]);
        assert_eq!(h.names, vec!["Christmas Day", "Good Friday", "Whit Monday, observed"]);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = SAMPLE.replace("20260403", "2026-04-03");
        let e = parse_holidays(&bad).unwrap_err();
        assert_eq!(e.field, "line 12");
        assert!(parse_holidays("hello").is_err());
        let unterminated = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260101\n";
        assert!(parse_holidays(unterminated).unwrap_err().message.contains("END:VEVENT"));
    }
}
