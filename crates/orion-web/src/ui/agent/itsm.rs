//! Problem and change management pages for support staff: problems with their analysis,
//! incidents, proposals from the recurring-incident detector and known errors; changes with their
//! plans, risk, approvals, tasks and review; the approvals awaiting the signed-in person; and the
//! change calendar. Every page calls the `orion_app::itsm` services; they check permissions.

mod changes;
mod problems;

use crate::AppState;
use crate::ui::form::{Fields, encode, when, words};
use crate::ui::layout::explain;
use crate::ui::session::WebUser;
use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use orion_app::itsm::ItemSummary;
use orion_app::{AppError, Page};
use orion_domain::Role;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new().merge(problems::routes()).merge(changes::routes())
}

/// A refused form's message, for the errors a person can fix (shown next to the form); `None` for
/// the others, which get the error page.
fn refusal(e: &AppError) -> Option<String> {
    matches!(
        e,
        AppError::Validation(_) | AppError::Conflict(_) | AppError::InvalidTransition(_) | AppError::Forbidden(_)
    )
    .then(|| explain(e))
}

/// A page shown again after a refused form says so in its status.
fn refused(mut resp: Response, error: &Option<String>) -> Response {
    if error.is_some() && resp.status() == StatusCode::OK {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

/// Whether the person may decide what leads decide (accept or dismiss proposals, run detection).
fn is_lead(user: &WebUser) -> bool {
    matches!(user.actor.role, Role::Lead | Role::Admin)
}

/// Values typed as a list (`INC1, INC2` or one per line), trimmed, blanks dropped.
fn list(v: Option<&str>) -> Vec<String> {
    v.unwrap_or("").split([',', ';', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// A `datetime-local` value (`2026-11-20T10:00`, which the forms label UTC) as RFC 3339. Anything
/// else passes unchanged for the service to judge.
fn instant(v: &str) -> String {
    let v = v.trim();
    let local =
        v.len() >= 16 && v.as_bytes()[10] == b'T' && !v[10..].contains(['Z', 'z', '+']) && !v[11..].contains('-');
    match (local, v.len()) {
        (true, 16) => format!("{v}:00Z"),
        (true, _) => format!("{v}Z"),
        _ => v.to_string(),
    }
}

/// The `datetime-local` value of an RFC 3339 time (`2026-11-20T10:00:00.000Z` → `2026-11-20T10:00`).
fn local(v: Option<&str>) -> String {
    v.map(|t| t.chars().take(16).collect()).unwrap_or_default()
}

/// A problem or change in a list, as the pages show it.
struct Row {
    number: String,
    title: String,
    phase: String,
    priority: String,
    group: String,
    assignee: String,
    created: String,
}

impl From<ItemSummary> for Row {
    fn from(r: ItemSummary) -> Row {
        Row {
            phase: words(&r.phase),
            created: when(&r.created_at),
            number: r.number,
            title: r.title,
            priority: r.priority,
            group: r.assignment_group,
            assignee: r.assignee_name.unwrap_or_default(),
        }
    }
}

/// A list page's rows, its link to the next page (keeping the phase filter), and the message when
/// the filter was refused.
struct Listed {
    rows: Vec<Row>,
    next: Option<String>,
    refused: Option<String>,
}

/// Lays out a page of problems or changes; errors other than a refused filter are passed on for
/// the error page.
fn listed(r: Result<Page<ItemSummary>, AppError>, path: &str, phase: &str) -> Result<Listed, AppError> {
    match r {
        Ok(p) => Ok(Listed {
            next: p.next_cursor.map(|c| format!("{path}?phase={}&cursor={c}", encode(phase))),
            rows: p.items.into_iter().map(Row::from).collect(),
            refused: None,
        }),
        Err(e) => match refusal(&e) {
            Some(m) => Ok(Listed { rows: Vec::new(), next: None, refused: Some(m) }),
            None => Err(e),
        },
    }
}

/// The names of the active groups, for the forms' group choices.
use crate::ui::pickers::group_names;

/// What was typed into a form, to show it again when the form is refused.
#[derive(Default)]
struct Typed(HashMap<String, String>);

impl Typed {
    fn from(f: &Fields) -> Typed {
        Typed(f.0.iter().cloned().collect())
    }

    fn get(&self, k: &str) -> String {
        self.0.get(k).cloned().unwrap_or_default()
    }

    fn is(&self, k: &str, v: &str) -> bool {
        self.0.get(k).is_some_and(|x| x == v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_times_become_rfc3339() {
        assert_eq!(instant("2026-11-20T10:00"), "2026-11-20T10:00:00Z");
        assert_eq!(instant("2026-11-20T10:00:30"), "2026-11-20T10:00:30Z");
        assert_eq!(instant("2026-11-20T10:00:00Z"), "2026-11-20T10:00:00Z");
        assert_eq!(instant("2026-11-20T10:00:00+01:00"), "2026-11-20T10:00:00+01:00");
        assert_eq!(instant("2026-11-20"), "2026-11-20");
        assert_eq!(local(Some("2026-11-20T10:00:00.000Z")), "2026-11-20T10:00");
        assert_eq!(list(Some(" INC1, ,INC2\nINC3 ")), ["INC1", "INC2", "INC3"]);
    }
}
