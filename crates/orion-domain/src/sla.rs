//! The SLA clock of one target (first response, resolution, …) as an event log.
//!
//! Nothing is kept as a running counter: the elapsed working time and the due
//! time are derived from the events (start, pause, resume, stop) over the
//! business calendar, so a pause never consumes working time, a changed
//! target or calendar re-derives the due time from the original start, and
//! the derivation can be explained step by step.

use crate::calendar::BusinessCalendar;
use crate::time::Timestamp;

/// What happened to a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockEventKind {
    Start,
    Pause,
    Resume,
    Stop,
    /// Counts again from zero at this moment (an update-interval clock after each public
    /// update, or any clock after a priority change on a policy that restarts). A stopped
    /// clock does not restart; a paused one restarts paused.
    Restart,
}

impl ClockEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Stop => "stop",
            Self::Restart => "restart",
        }
    }

    /// The stored name back; `None` for anything else.
    pub fn from_name(s: &str) -> Option<Self> {
        [Self::Start, Self::Pause, Self::Resume, Self::Stop, Self::Restart].into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockEvent {
    pub at: Timestamp,
    pub kind: ClockEventKind,
}

/// Where a clock is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    NotStarted,
    Running,
    Paused,
    /// Stopped in time.
    Met,
    /// The target was exceeded (whether or not the clock has stopped since).
    Breached,
}

/// A clock read at some instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockReading {
    pub state: ClockState,
    /// Working milliseconds counted so far.
    pub elapsed_ms: i64,
    /// Working milliseconds left (negative once breached).
    pub remaining_ms: i64,
    /// When the target is (or was) reached; while paused, when it would be if resumed now.
    pub due: Option<Timestamp>,
    /// Paused spans; the last one is open while paused.
    pub paused: Vec<(Timestamp, Option<Timestamp>)>,
    pub started_at: Option<Timestamp>,
    pub stopped_at: Option<Timestamp>,
}

/// Replays `events` (in time order; events a clock cannot do in its state are
/// ignored; a resume after a stop is a reopened ticket and continues the clock) for a target of `target_ms` working milliseconds.
pub fn read_clock(cal: &BusinessCalendar, target_ms: i64, events: &[ClockEvent], now: Timestamp) -> ClockReading {
    let mut r = ClockReading {
        state: ClockState::NotStarted,
        elapsed_ms: 0,
        remaining_ms: target_ms,
        due: None,
        paused: Vec::new(),
        started_at: None,
        stopped_at: None,
    };
    let mut running_since: Option<Timestamp> = None;
    let mut crossed: Option<Timestamp> = None;
    // Adds the working time of [from, to) and notes when the target was crossed in it.
    let run = |from: Timestamp, to: Timestamp, elapsed: &mut i64, crossed: &mut Option<Timestamp>| {
        let span = cal.business_ms_between(from, to);
        if crossed.is_none() && *elapsed + span >= target_ms && *elapsed + span > 0 {
            *crossed = cal.add_business_ms(from, target_ms - *elapsed);
        }
        *elapsed += span;
    };
    for e in events {
        if e.at > now {
            break;
        }
        match (e.kind, r.started_at, running_since, r.stopped_at) {
            // A stopped clock continues only when the ticket is reopened (a resume);
            // the time it stood still shows as a pause.
            (ClockEventKind::Resume, Some(_), None, Some(stopped)) => {
                r.paused.push((stopped, Some(e.at)));
                r.stopped_at = None;
                running_since = Some(e.at);
            }
            (_, _, _, Some(_)) => {}
            (ClockEventKind::Restart, Some(_), since, None) => {
                r.elapsed_ms = 0;
                crossed = None;
                r.started_at = Some(e.at);
                r.paused.clear();
                if since.is_some() {
                    running_since = Some(e.at);
                } else {
                    r.paused.push((e.at, None));
                }
            }
            (ClockEventKind::Start, None, _, _) => {
                r.started_at = Some(e.at);
                running_since = Some(e.at);
            }
            (ClockEventKind::Pause, Some(_), Some(since), _) => {
                run(since, e.at, &mut r.elapsed_ms, &mut crossed);
                running_since = None;
                r.paused.push((e.at, None));
            }
            (ClockEventKind::Resume, Some(_), None, _) => {
                if let Some(last) = r.paused.last_mut() {
                    last.1 = Some(e.at);
                }
                running_since = Some(e.at);
            }
            (ClockEventKind::Stop, Some(_), since, _) => {
                if let Some(since) = since {
                    run(since, e.at, &mut r.elapsed_ms, &mut crossed);
                } else if let Some(last) = r.paused.last_mut() {
                    last.1.get_or_insert(e.at);
                }
                running_since = None;
                r.stopped_at = Some(e.at);
            }
            _ => {}
        }
    }
    // Working time counted before the current running span, to project the due time from its start.
    let before_current = r.elapsed_ms;
    if let Some(since) = running_since {
        run(since, now, &mut r.elapsed_ms, &mut crossed);
    }
    r.remaining_ms = target_ms - r.elapsed_ms;
    let breached = r.elapsed_ms > target_ms || crossed.is_some_and(|c| c < r.stopped_at.unwrap_or(now));
    r.due = match (crossed, running_since) {
        (Some(c), _) => Some(c),
        (None, Some(since)) => cal.add_business_ms(since, target_ms - before_current),
        (None, None) if r.started_at.is_some() && r.stopped_at.is_none() => cal.add_business_ms(now, r.remaining_ms),
        _ => None,
    };
    r.state = match (r.started_at, r.stopped_at, running_since) {
        (None, _, _) => ClockState::NotStarted,
        _ if breached => ClockState::Breached,
        (_, Some(_), _) => ClockState::Met,
        (_, None, Some(_)) => ClockState::Running,
        (_, None, None) => ClockState::Paused,
    };
    r
}

/// "1 h 30 min", "15 min", "2 d 1 h" (working time, so days are rare).
pub fn human_duration(ms: i64) -> String {
    let min = ms.max(0) / 60_000;
    let (h, m) = (min / 60, min % 60);
    match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// Explains in plain words how the due time of a clock was derived: which
/// working time counted on which local day, and which pauses were left out.
/// E.g. "4 h of working time from Fri 2026-11-20 16:00 (Europe/Berlin): 1 h on Fri 2026-11-20,
/// 3 h on Mon 2026-11-23 from 09:00; paused 1 h (Mon 2026-11-23 10:00 to 11:00); due Mon 2026-11-23 13:00."
pub fn explain(cal: &BusinessCalendar, target_ms: i64, events: &[ClockEvent], now: Timestamp) -> String {
    let r = read_clock(cal, target_ms, events, now);
    let Some(start) = r.started_at else {
        return "The clock has not started.".to_string();
    };
    // Running spans: from start/resume to pause/stop, the last one up to the due time (or now if later and breached).
    let end = match (r.stopped_at, r.due) {
        (Some(s), _) => s,
        (None, Some(d)) => d.max(now),
        (None, None) => now,
    };
    let mut running: Vec<(Timestamp, Timestamp)> = Vec::new();
    let mut since = Some(start);
    for (p, resumed) in &r.paused {
        if let Some(s) = since.take() {
            running.push((s, *p));
        }
        since = *resumed;
    }
    if let Some(s) = since
        && r.paused.last().is_none_or(|(_, res)| res.is_some())
    {
        running.push((s, end));
    }
    // Count working time per local day, up to the target.
    let mut per_day: Vec<(String, i64, String)> = Vec::new();
    let mut counted = 0;
    'outer: for (a, b) in running {
        for (s, e) in cal.spans_between(a, b) {
            let mut ms = e.0 - s.0;
            if counted + ms > target_ms {
                ms = target_ms - counted;
            }
            if ms <= 0 {
                break 'outer;
            }
            counted += ms;
            let label = cal.local_label(s);
            let (day, time) = label.rsplit_once(' ').unwrap_or((label.as_str(), ""));
            match per_day.last_mut() {
                Some((d, total, _)) if d == day => *total += ms,
                _ => per_day.push((day.to_string(), ms, time.to_string())),
            }
        }
    }
    let days: Vec<String> = per_day
        .iter()
        .enumerate()
        .map(|(i, (day, ms, from))| {
            if i == 0 {
                format!("{} on {day}", human_duration(*ms))
            } else {
                format!("{} on {day} from {from}", human_duration(*ms))
            }
        })
        .collect();
    let mut out =
        format!("{} of working time from {} ({})", human_duration(target_ms), cal.local_label(start), cal.zone_name());
    if !days.is_empty() {
        out.push_str(": ");
        out.push_str(&days.join(", "));
    }
    for (p, resumed) in &r.paused {
        let until = resumed.unwrap_or(now);
        let paused_work = cal.business_ms_between(*p, until);
        let to_label = cal.local_label(until);
        let to_time = to_label.rsplit_once(' ').map_or(to_label.as_str(), |(_, t)| t);
        out.push_str(&format!(
            "; paused {} of working time ({} to {}{})",
            human_duration(paused_work),
            cal.local_label(*p),
            to_time,
            if resumed.is_none() { ", still paused" } else { "" }
        ));
    }
    match (r.state, r.due) {
        (ClockState::Met, _) => out.push_str(&format!("; met at {}.", cal.local_label(r.stopped_at.unwrap_or(now)))),
        (ClockState::Breached, Some(d)) => out.push_str(&format!("; breached at {}.", cal.local_label(d))),
        (ClockState::Paused, Some(d)) => out.push_str(&format!("; due {} if resumed now.", cal.local_label(d))),
        (_, Some(d)) => out.push_str(&format!("; due {}.", cal.local_label(d))),
        _ => out.push('.'),
    }
    out
}

/// When `pct` % of the target is reached (for warnings at 50/75/90 %).
pub fn threshold_due(
    cal: &BusinessCalendar,
    target_ms: i64,
    pct: u8,
    events: &[ClockEvent],
    now: Timestamp,
) -> Option<Timestamp> {
    read_clock(cal, target_ms * i64::from(pct) / 100, events, now).due
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::BusinessCalendar;
    use ClockEventKind::*;
    use proptest::prelude::*;

    const H: i64 = 3_600_000;

    fn berlin(s: &str) -> Timestamp {
        let dt: jiff::civil::DateTime = s.parse().unwrap();
        Timestamp(dt.to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap()).unwrap().timestamp().as_millisecond())
    }

    fn ev(kind: ClockEventKind, at: &str) -> ClockEvent {
        ClockEvent { at: berlin(at), kind }
    }

    fn office() -> BusinessCalendar {
        BusinessCalendar::weekdays("Europe/Berlin", 9 * 60, 17 * 60).unwrap()
    }

    #[test]
    fn the_story_from_the_issue() {
        let cal = office();
        // Opened Friday 16:00 with a 4-business-hour target: due Monday 12:00.
        let start = [ev(Start, "2026-11-20T16:00")];
        let r = read_clock(&cal, 4 * H, &start, berlin("2026-11-23T09:30"));
        assert_eq!(r.state, ClockState::Running);
        assert_eq!(r.due, Some(berlin("2026-11-23T12:00")));
        assert_eq!(r.elapsed_ms, H + H / 2);
        // Paused Monday 10:00-11:00 (pending user): due 13:00.
        let paused = [ev(Start, "2026-11-20T16:00"), ev(Pause, "2026-11-23T10:00"), ev(Resume, "2026-11-23T11:00")];
        let r = read_clock(&cal, 4 * H, &paused, berlin("2026-11-23T11:30"));
        assert_eq!(r.due, Some(berlin("2026-11-23T13:00")));
        assert_eq!(r.elapsed_ms, 2 * H + H / 2);
        assert_eq!(r.paused, vec![(berlin("2026-11-23T10:00"), Some(berlin("2026-11-23T11:00")))]);
        // Still running at 13:30: breached at 13:00.
        let r = read_clock(&cal, 4 * H, &paused, berlin("2026-11-23T13:30"));
        assert_eq!((r.state, r.due, r.remaining_ms), (ClockState::Breached, Some(berlin("2026-11-23T13:00")), -H / 2));
    }

    #[test]
    fn stopping_in_time_is_met_and_late_is_breached() {
        let cal = office();
        let met = [ev(Start, "2026-11-23T09:00"), ev(Stop, "2026-11-23T10:00")];
        let r = read_clock(&cal, 2 * H, &met, berlin("2026-11-30T09:00"));
        assert_eq!((r.state, r.elapsed_ms, r.due), (ClockState::Met, H, None));
        let late = [ev(Start, "2026-11-23T09:00"), ev(Stop, "2026-11-23T12:00")];
        let r = read_clock(&cal, 2 * H, &late, berlin("2026-11-30T09:00"));
        assert_eq!((r.state, r.due), (ClockState::Breached, Some(berlin("2026-11-23T11:00"))));
    }

    #[test]
    fn a_paused_clock_shows_the_due_time_if_resumed_now() {
        let cal = office();
        let events = [ev(Start, "2026-11-23T09:00"), ev(Pause, "2026-11-23T10:00")];
        let r = read_clock(&cal, 4 * H, &events, berlin("2026-11-24T09:00"));
        assert_eq!(r.state, ClockState::Paused);
        assert_eq!(r.elapsed_ms, H);
        assert_eq!(r.due, Some(berlin("2026-11-24T12:00")));
        assert_eq!(r.paused, vec![(berlin("2026-11-23T10:00"), None)]);
    }

    #[test]
    fn a_reopened_ticket_continues_its_clock() {
        let cal = office();
        let events = [ev(Start, "2026-11-23T09:00"), ev(Stop, "2026-11-23T10:00"), ev(Resume, "2026-11-24T09:00")];
        let r = read_clock(&cal, 4 * H, &events, berlin("2026-11-24T10:00"));
        assert_eq!((r.state, r.elapsed_ms, r.stopped_at), (ClockState::Running, 2 * H, None));
        assert_eq!(r.due, Some(berlin("2026-11-24T12:00")));
        assert_eq!(r.paused, vec![(berlin("2026-11-23T10:00"), Some(berlin("2026-11-24T09:00")))]);
    }

    #[test]
    fn nonsense_events_are_ignored() {
        let cal = office();
        let events = [
            ev(Pause, "2026-11-23T08:00"),
            ev(Start, "2026-11-23T09:00"),
            ev(Start, "2026-11-23T09:30"),
            ev(Resume, "2026-11-23T09:45"),
        ];
        let r = read_clock(&cal, 4 * H, &events, berlin("2026-11-23T10:00"));
        assert_eq!((r.state, r.elapsed_ms, r.started_at), (ClockState::Running, H, Some(berlin("2026-11-23T09:00"))));
    }

    #[test]
    fn a_restart_counts_from_zero_and_keeps_a_pause() {
        let cal = office();
        // An update every 2 working hours: breached at 11:00, then an update at 11:30 starts a new cycle.
        let mut events = vec![ev(Start, "2026-11-23T09:00")];
        let r = read_clock(&cal, 2 * H, &events, berlin("2026-11-23T11:30"));
        assert_eq!((r.state, r.due), (ClockState::Breached, Some(berlin("2026-11-23T11:00"))));
        events.push(ev(Restart, "2026-11-23T11:30"));
        let r = read_clock(&cal, 2 * H, &events, berlin("2026-11-23T12:00"));
        assert_eq!((r.state, r.elapsed_ms, r.due), (ClockState::Running, H / 2, Some(berlin("2026-11-23T13:30"))));
        assert_eq!(r.started_at, Some(berlin("2026-11-23T11:30")));
        // Restarted while paused: the new cycle starts paused and counts nothing until resumed.
        let paused = [ev(Start, "2026-11-23T09:00"), ev(Pause, "2026-11-23T10:00"), ev(Restart, "2026-11-23T10:30")];
        let r = read_clock(&cal, 2 * H, &paused, berlin("2026-11-23T15:00"));
        assert_eq!((r.state, r.elapsed_ms), (ClockState::Paused, 0));
        assert_eq!(r.paused, vec![(berlin("2026-11-23T10:30"), None)]);
        // A stopped clock does not restart.
        let stopped = [ev(Start, "2026-11-23T09:00"), ev(Stop, "2026-11-23T10:00"), ev(Restart, "2026-11-23T10:30")];
        let r = read_clock(&cal, 2 * H, &stopped, berlin("2026-11-23T15:00"));
        assert_eq!((r.state, r.elapsed_ms), (ClockState::Met, H));
        assert!(
            explain(&cal, 2 * H, &events, berlin("2026-11-23T12:00"))
                .starts_with("2 h of working time from Mon 2026-11-23 11:30")
        );
    }

    #[test]
    fn explanations_say_how_the_due_time_came_about() {
        let cal = office();
        let events = [ev(Start, "2026-11-20T16:00"), ev(Pause, "2026-11-23T10:00"), ev(Resume, "2026-11-23T11:00")];
        let text = explain(&cal, 4 * H, &events, berlin("2026-11-23T11:30"));
        assert_eq!(
            text,
            "4 h of working time from Fri 2026-11-20 16:00 (Europe/Berlin): 1 h on Fri 2026-11-20, \
             3 h on Mon 2026-11-23 from 09:00; \
             paused 1 h of working time (Mon 2026-11-23 10:00 to 11:00); due Mon 2026-11-23 13:00."
        );
        let met = [ev(Start, "2026-11-23T09:00"), ev(Stop, "2026-11-23T09:20")];
        assert!(explain(&cal, H / 2, &met, berlin("2026-11-24T09:00")).ends_with("met at Mon 2026-11-23 09:20."));
        assert!(explain(&cal, H / 4, &met, berlin("2026-11-24T09:00")).ends_with("breached at Mon 2026-11-23 09:15."));
        assert_eq!(explain(&cal, H, &[], berlin("2026-11-24T09:00")), "The clock has not started.");
        assert_eq!(human_duration(90 * 60_000), "1 h 30 min");
    }

    #[test]
    fn warnings_fall_at_their_share_of_the_target() {
        let cal = office();
        let events = [ev(Start, "2026-11-23T09:00")];
        assert_eq!(
            threshold_due(&cal, 4 * H, 50, &events, berlin("2026-11-23T09:00")),
            Some(berlin("2026-11-23T11:00"))
        );
        assert_eq!(
            threshold_due(&cal, 4 * H, 75, &events, berlin("2026-11-23T09:00")),
            Some(berlin("2026-11-23T12:00"))
        );
    }

    proptest! {
        /// Pauses never consume working time: the clock counts exactly the working time outside pauses,
        /// and the due time is never earlier than start + target.
        #[test]
        fn pauses_never_consume_business_time(
            start in 1_790_000_000_000i64..1_800_000_000_000,
            gaps in proptest::collection::vec(1i64..(3 * 86_400_000), 0..8),
            target_h in 1i64..40,
            tail in 0i64..(5 * 86_400_000),
        ) {
            let cal = office();
            let mut events = vec![ClockEvent { at: Timestamp(start), kind: Start }];
            let mut t = start;
            let mut running_ms = 0;
            let mut pause = false;
            for g in &gaps {
                let next = t + g;
                if !pause { running_ms += cal.business_ms_between(Timestamp(t), Timestamp(next)); }
                events.push(ClockEvent { at: Timestamp(next), kind: if pause { Resume } else { Pause } });
                pause = !pause;
                t = next;
            }
            let now = Timestamp(t + tail);
            if !pause { running_ms += cal.business_ms_between(Timestamp(t), now); }
            let r = read_clock(&cal, target_h * H, &events, now);
            prop_assert_eq!(r.elapsed_ms, running_ms);
            if let Some(due) = r.due {
                prop_assert!(due.0 >= start + target_h * H);
            }
            prop_assert_eq!(r.state == ClockState::Breached, running_ms > target_h * H || (running_ms == target_h * H && r.due.is_some_and(|d| d < now)));
        }
    }
}
