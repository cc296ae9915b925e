//! Joiners, movers and leavers: a person's arrival, move or departure as one workflow with a plan
//! of tasks due relative to its date — the start day, the move day, the last day — counted in
//! working days of the business calendar ("5 working days before the start day"), and planned
//! again when that date moves: tasks not yet done move with it, done ones stay as they were.
//!
//! A mover's access is computed, not typed: the groups of the old department and role that the new
//! ones do not have are revoked, the new ones' that the old did not have are added. A leaver is
//! finished only when what was observed says so — the account disabled in the directory, the
//! groups left, every asset the person held checked in — or a lead records why not
//! ([`Evidence::blockers`]).

use crate::calendar::BusinessCalendar;
use crate::error::FieldErrors;
use crate::time::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The furthest a task may be planned from its workflow's date, in working days (a quarter).
pub const MAX_OFFSET_DAYS: i32 = 65;
/// The most tasks one plan holds (besides a leaver's one line per asset held).
pub const MAX_TASKS: usize = 40;

/// What a workflow is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Someone arrives: everything ready by their first day
    Joiner,
    /// Someone changes department or role: access added and revoked on the move day
    Mover,
    /// Someone leaves: access revoked and assets back by their last day
    Leaver,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Joiner, Kind::Mover, Kind::Leaver];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Joiner => "joiner",
            Kind::Mover => "mover",
            Kind::Leaver => "leaver",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Kind, crate::error::FieldError> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| crate::error::FieldError::new(field, "must be joiner, mover or leaver"))
    }

    /// How a person reads it: "Joiner", "Move", "Leaver".
    pub fn label(self) -> &'static str {
        match self {
            Kind::Joiner => "Joiner",
            Kind::Mover => "Move",
            Kind::Leaver => "Leaver",
        }
    }

    /// The date the plan counts from, as a person names it.
    pub fn anchor(self) -> &'static str {
        match self {
            Kind::Joiner => "start day",
            Kind::Mover => "move day",
            Kind::Leaver => "last day",
        }
    }
}

/// One task of a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanTask {
    /// Names the task in `after`: lower-case letters, digits and `_`
    pub key: String,
    pub title: String,
    /// What to do
    pub description: String,
    /// The support group it goes to (by name; none: the workflow's group)
    pub group: Option<String>,
    /// Working days from the workflow's date: −5 is five working days before it, 0 the day itself
    pub offset_days: i32,
    /// Tasks that must be done first
    pub after: Vec<String>,
    /// A leaver's: one line of this task per asset the person holds (check-in and condition)
    pub per_asset: bool,
    /// Its completion names an asset and checks it out to the person (a joiner's laptop)
    pub hands_out: bool,
}

/// Whether a key is 1–40 lower-case letters, digits and `_`, starting with a letter.
fn key_ok(k: &str) -> bool {
    (1..=40).contains(&k.len())
        && k.starts_with(|c: char| c.is_ascii_lowercase())
        && k.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks a plan: every mistake named by place (`tasks[2].offset_days`).
pub fn validate(tasks: &[PlanTask], field: &str, errs: &mut FieldErrors) {
    if tasks.len() > MAX_TASKS {
        errs.push(field, format!("a plan has at most {MAX_TASKS} tasks"));
    }
    let mut earlier: Vec<&str> = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if !key_ok(&t.key) {
            errs.push(format!("{f}.key"), "1–40 lower-case letters, digits and _, starting with a letter");
        } else if earlier.contains(&t.key.as_str()) {
            errs.push(format!("{f}.key"), format!("another task is already called {:?}", t.key));
        }
        if t.title.trim().is_empty() || t.title.chars().count() > 200 {
            errs.push(format!("{f}.title"), "a task needs a title of at most 200 characters");
        }
        if t.offset_days.unsigned_abs() > MAX_OFFSET_DAYS.unsigned_abs() {
            errs.push(
                format!("{f}.offset_days"),
                format!("from −{MAX_OFFSET_DAYS} to {MAX_OFFSET_DAYS} working days of the date"),
            );
        }
        if t.per_asset && t.hands_out {
            errs.push(format!("{f}.hands_out"), "a task takes assets back or hands one out, not both");
        }
        for (j, a) in t.after.iter().enumerate() {
            if !earlier.contains(&a.as_str()) {
                errs.push(format!("{f}.after[{j}]"), format!("{a:?} is not a task earlier in the plan"));
            }
        }
        earlier.push(&t.key);
    }
}

/// When a task is due: its working day, and the end of working time that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub day: Date,
    pub at: Timestamp,
}

/// When each task of `tasks` is due for a workflow dated `anchor`, in the plan's order (`None`:
/// past the calendar's horizon — a calendar without working days).
pub fn due_dates(cal: &BusinessCalendar, anchor: Date, tasks: &[PlanTask]) -> Vec<Option<Due>> {
    tasks
        .iter()
        .map(|t| {
            let day = cal.add_working_days(anchor, t.offset_days)?;
            Some(Due { day, at: cal.end_of_day(day)? })
        })
        .collect()
}

/// How "5 working days before the start day" reads.
pub fn offset_text(offset_days: i32, kind: Kind) -> String {
    let anchor = kind.anchor();
    match offset_days {
        0 => format!("on the {anchor}"),
        1 => format!("1 working day after the {anchor}"),
        -1 => format!("1 working day before the {anchor}"),
        n if n > 0 => format!("{n} working days after the {anchor}"),
        n => format!("{} working days before the {anchor}", n.unsigned_abs()),
    }
}

/// A mover's access: what to add (the new groups the old ones lacked) and what to revoke (the old
/// groups the new ones lack), each sorted; what both have stays.
pub fn access_diff(old: &BTreeSet<String>, new: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
    (new.difference(old).cloned().collect(), old.difference(new).cloned().collect())
}

/// What Orion observed of a leaver, from the directory and the asset register.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The account is disabled (in the directory when the person is synchronised from one)
    pub account_disabled: bool,
    /// Mapped groups the person is still a member of
    pub groups_kept: Vec<String>,
    /// Assets still checked out to the person (names or asset tags)
    pub assets_held: Vec<String>,
    /// Licence seats still assigned to the person (products)
    pub seats_held: Vec<String>,
}

impl Evidence {
    /// What still stands between the leaver and closing, in sentences (empty: it may close).
    pub fn blockers(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.account_disabled {
            out.push("The account is not disabled yet.".to_string());
        }
        if !self.groups_kept.is_empty() {
            out.push(format!("Still a member of {}.", self.groups_kept.join(", ")));
        }
        if !self.assets_held.is_empty() {
            out.push(format!("Still holds {}.", self.assets_held.join(", ")));
        }
        if !self.seats_held.is_empty() {
            out.push(format!("Still has a licence seat of {}.", self.seats_held.join(", ")));
        }
        out
    }
}

/// The plans Orion ships, to adapt: a joiner ready on their first day, a mover's access added and
/// revoked on the move day, a leaver's access revoked and assets back by the last day.
pub fn standard_plan(kind: Kind) -> Vec<PlanTask> {
    let t = |key: &str, title: &str, description: &str, offset_days: i32, after: &[&str]| PlanTask {
        key: key.into(),
        title: title.into(),
        description: description.into(),
        group: None,
        offset_days,
        after: after.iter().map(|a| a.to_string()).collect(),
        per_asset: false,
        hands_out: false,
    };
    match kind {
        Kind::Joiner => vec![
            t("account", "Create the account", "Directory account, e-mail address and mailbox.", -10, &[]),
            t("groups", "Add to the groups of the department and role", "", -8, &["account"]),
            t("licences", "Assign the licences", "Office, and what the role needs.", -8, &["account"]),
            PlanTask {
                hands_out: true,
                ..t(
                    "laptop",
                    "Prepare the laptop and check it out to them",
                    "Image, encryption, enrolment; completing the task checks it out to them in the asset register.",
                    -3,
                    &["account"],
                )
            },
            t("phone", "Prepare the phone", "", -3, &[]),
            t("badge", "Ask Facilities for the access badge", "", -5, &[]),
            t(
                "induction",
                "First-day induction",
                "Sign in, VPN, e-mail, intranet, multi-factor sign-in, and the security practices.",
                0,
                &["laptop", "groups"],
            ),
        ],
        Kind::Mover => vec![
            t("add_access", "Add the access of the new department and role", "", -2, &[]),
            t("revoke_access", "Revoke the access of the old department and role", "", 0, &[]),
            t("equipment", "Check the equipment still fits the new role", "", 0, &[]),
        ],
        Kind::Leaver => vec![
            t("backup", "Back up the data and transfer it to the manager", "", -3, &[]),
            t("mailbox", "Set up mail forwarding or export the mailbox", "", 0, &[]),
            t("disable", "Disable the account and remove it from every group", "", 0, &[]),
            t("licences", "Reclaim the licence seats", "", 1, &["disable"]),
            PlanTask { per_asset: true, ..t("assets", "Check in", "Record its condition.", 0, &[]) },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn office() -> BusinessCalendar {
        BusinessCalendar::weekdays("Europe/Berlin", 9 * 60, 17 * 60).unwrap()
    }

    #[test]
    fn a_joiner_ten_working_days_ahead_gets_dates_by_working_days() {
        let plan = standard_plan(Kind::Joiner);
        // Monday 2027-02-01; ten working days before is Monday 2027-01-18.
        let due = due_dates(&office(), d("2027-02-01"), &plan);
        let day = |key: &str| due[plan.iter().position(|t| t.key == key).unwrap()].unwrap().day;
        assert_eq!(day("account"), d("2027-01-18"));
        assert_eq!(day("laptop"), d("2027-01-27"), "three working days before: the Wednesday");
        assert_eq!(day("induction"), d("2027-02-01"));
        let at = due[0].unwrap().at;
        assert_eq!(office().local_label(at), "Mon 2027-01-18 17:00");
        // The start moves a week later: every date moves with it.
        let moved = due_dates(&office(), d("2027-02-08"), &plan);
        assert_eq!(moved[0].unwrap().day, d("2027-01-25"));
    }

    #[test]
    fn plans_are_checked_by_place() {
        let mut plan = standard_plan(Kind::Joiner);
        plan[1].after = vec!["induction".into()];
        plan[2].key = "Bad Key".into();
        plan[3].offset_days = i32::MIN;
        plan[4].title = " ".into();
        let mut errs = FieldErrors::new();
        validate(&plan, "plan", &mut errs);
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["plan[1].after[0]", "plan[2].key", "plan[3].offset_days", "plan[4].title"]);
        for kind in Kind::ALL {
            let mut errs = FieldErrors::new();
            validate(&standard_plan(kind), "plan", &mut errs);
            assert!(errs.is_empty(), "{kind:?}: {errs}");
        }
    }

    #[test]
    fn a_movers_access_is_the_difference_both_ways() {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();
        let (add, revoke) =
            access_diff(&set(&["All staff", "Finance", "SAP users"]), &set(&["All staff", "Sales", "CRM users"]));
        assert_eq!(add, vec!["CRM users", "Sales"]);
        assert_eq!(revoke, vec!["Finance", "SAP users"]);
    }

    #[test]
    fn a_leaver_closes_only_on_what_was_observed() {
        let mut e = Evidence {
            account_disabled: false,
            groups_kept: vec!["VPN users".into()],
            assets_held: vec!["L-0042".into(), "P-0007".into()],
            seats_held: vec!["Visio".into()],
        };
        assert_eq!(
            e.blockers(),
            vec![
                "The account is not disabled yet.",
                "Still a member of VPN users.",
                "Still holds L-0042, P-0007.",
                "Still has a licence seat of Visio."
            ]
        );
        e = Evidence { account_disabled: true, ..Evidence::default() };
        assert!(e.blockers().is_empty());
    }

    #[test]
    fn offsets_read_as_sentences() {
        assert_eq!(offset_text(-5, Kind::Joiner), "5 working days before the start day");
        assert_eq!(offset_text(0, Kind::Leaver), "on the last day");
        assert_eq!(offset_text(1, Kind::Mover), "1 working day after the move day");
    }
}
