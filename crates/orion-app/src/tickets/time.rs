//! Time tracking: the minutes agents spend on a ticket, logged with a reply, a work note, a call
//! or the resolution, or on their own (a task done away from the ticket). A group can ask for
//! time before its tickets are resolved.

use super::*;
use orion_store::worklog::{self, NewTime, TimeRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The most minutes one entry holds (a working day and then some: 24 hours).
pub const MINUTES_MAX: i64 = 1440;
/// The most entries a ticket's time list shows.
const LIST_MAX: i64 = 500;

/// What the work was: with a reply, a note, a call, the resolution, or on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    Reply,
    Note,
    Call,
    Resolution,
    Task,
    Other,
}

impl Work {
    pub const ALL: [(Work, &'static str, &'static str); 6] = [
        (Work::Reply, "reply", "Reply"),
        (Work::Note, "note", "Work note"),
        (Work::Call, "call", "Phone call"),
        (Work::Resolution, "resolution", "Resolution"),
        (Work::Task, "task", "Task"),
        (Work::Other, "other", "Other work"),
    ];

    pub fn key(self) -> &'static str {
        Self::ALL.iter().find(|(w, _, _)| *w == self).map(|(_, k, _)| *k).unwrap_or("other")
    }

    pub fn label_of(key: &str) -> &'static str {
        Self::ALL.iter().find(|(_, k, _)| *k == key).map(|(_, _, l)| *l).unwrap_or("Other work")
    }

    /// The kinds one logs on their own (the others come with their reply, note, call or resolution).
    const ON_ITS_OWN: [Work; 4] = [Work::Task, Work::Call, Work::Note, Work::Other];
}

/// `POST /api/v1/tickets/{number}/time`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeInput {
    /// Minutes spent, 1 to 1440
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 1440)]
    pub minutes: Option<i64>,
    /// `task` (default), `call`, `note` or `other`
    #[schema(schema_with = crate::api_schema::time_work)]
    pub work: Option<String>,
    /// What the time went on
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// Time logged on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimeEntry {
    pub id: i64,
    /// `reply`, `note`, `call`, `resolution`, `task` or `other`
    pub work: String,
    pub minutes: i64,
    pub note: String,
    /// The e-mail of the person who logged it
    pub by: String,
    pub by_name: String,
    /// The group and tier the ticket was with when the time was logged
    pub group: String,
    pub tier: i64,
    pub category: Option<String>,
    /// The timeline entry (reply, note, call) the time was logged with
    pub entry_id: Option<i64>,
    pub logged_at: String,
}

impl From<TimeRow> for TimeEntry {
    fn from(r: TimeRow) -> Self {
        TimeEntry {
            id: r.id,
            work: r.work,
            minutes: r.minutes,
            note: r.note,
            by: r.user_email,
            by_name: r.user_name,
            group: r.group_name,
            tier: r.tier,
            category: r.category_path,
            entry_id: r.entry_id,
            logged_at: orion_domain::Timestamp(r.logged_at).to_rfc3339(),
        }
    }
}

/// `GET /api/v1/tickets/{number}/time`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TicketTime {
    pub total_minutes: i64,
    /// How many entries (the list shows the first 500)
    pub entries_count: i64,
    /// Oldest first
    pub entries: Vec<TimeEntry>,
    /// The ticket's group asks for time before it is resolved
    pub required_before_resolving: bool,
}

/// Checks minutes given with a reply, note, call or resolution (`None`: none given).
pub(crate) fn check_minutes(errs: &mut FieldErrors, field: &str, minutes: Option<i64>) -> Option<i64> {
    match minutes {
        None | Some(0) => None,
        Some(m) if (1..=MINUTES_MAX).contains(&m) => Some(m),
        Some(_) => {
            errs.push(field, format!("must be a whole number of minutes from 0 to {MINUTES_MAX}"));
            None
        }
    }
}

/// Logs `minutes` on `t` as `actor` (staff), where the ticket is now.
pub(crate) async fn log_in(
    c: &mut Conn<'_>,
    actor: &Actor,
    t: &TicketView,
    (work, minutes, note): (Work, i64, &str),
    entry_id: Option<i64>,
    now: i64,
) -> AppResult<i64> {
    Ok(worklog::insert(
        c,
        &NewTime {
            ticket_id: t.id,
            entry_id,
            user_id: actor.id.0,
            work: work.key(),
            minutes,
            note,
            group_id: t.assignment_group_id,
            tier: t.assignment_group_tier,
            category_id: t.category_id,
            logged_at: now,
        },
    )
    .await?)
}

/// Refuses to resolve a ticket of a group that asks for time when none is logged nor given.
pub(crate) async fn require_time(c: &mut Conn<'_>, t: &TicketView, given: Option<i64>) -> AppResult<()> {
    if given.is_some() || !groups::get(c, t.assignment_group_id).await?.time_required {
        return Ok(());
    }
    if worklog::ticket_total(c, t.id).await?.entries == 0 {
        return Err(invalid(
            "time_spent_minutes",
            format!("{} asks for the time spent before a ticket is resolved", t.assignment_group_name),
        ));
    }
    Ok(())
}

impl App {
    /// Logs time spent on a ticket on its own (a task, a call not otherwise recorded, other work).
    pub async fn log_time(&self, actor: &Actor, number: &str, input: TimeInput) -> AppResult<TimeEntry> {
        require_staff(actor, "log time")?;
        let mut errs = FieldErrors::new();
        let minutes = match input.minutes {
            None => {
                errs.push("minutes", "is required");
                None
            }
            Some(m) if (1..=MINUTES_MAX).contains(&m) => Some(m),
            Some(_) => {
                errs.push("minutes", format!("must be a whole number of minutes from 1 to {MINUTES_MAX}"));
                None
            }
        };
        let work = match input.work.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
            None => Some(Work::Task),
            Some(w) => {
                let found = Work::ON_ITS_OWN.iter().copied().find(|k| k.key() == w);
                if found.is_none() {
                    let keys: Vec<&str> = Work::ON_ITS_OWN.iter().map(|k| k.key()).collect();
                    errs.push("work", format!("must be one of {}", keys.join(", ")));
                }
                found
            }
        };
        let note = input.note.as_deref().unwrap_or("").trim().to_string();
        if note.chars().count() > 1000 {
            errs.push("note", "must be at most 1000 characters");
        }
        errs.into_result()?;
        let (Some(minutes), Some(work)) = (minutes, work) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = load_visible(&mut c, actor, number).await?;
        let id = log_in(&mut c, actor, &t, (work, minutes, &note), None, now).await?;
        let row = worklog::for_ticket(&mut c, t.id, LIST_MAX)
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or(AppError::Internal("time entry vanished".into()))?;
        self.commit(tx).await?;
        Ok(row.into())
    }

    /// The time logged on a ticket (staff).
    pub async fn ticket_time(&self, actor: &Actor, number: &str) -> AppResult<TicketTime> {
        require_staff(actor, "read the time logged")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = load_visible(&mut c, actor, number).await?;
        let total = worklog::ticket_total(&mut c, t.id).await?;
        let entries = worklog::for_ticket(&mut c, t.id, LIST_MAX).await?;
        let required = groups::get(&mut c, t.assignment_group_id).await?.time_required;
        Ok(TicketTime {
            total_minutes: total.minutes,
            entries_count: total.entries,
            entries: entries.into_iter().map(TimeEntry::from).collect(),
            required_before_resolving: required,
        })
    }
}
