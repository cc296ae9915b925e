//! The frame of every page (who is signed in, the message after an action, the title), rendering,
//! and the error page.

use super::session::WebUser;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use orion_app::AppError;

/// Who is signed in, as the page header shows them.
#[derive(Debug, Clone)]
pub(crate) struct Me {
    pub name: String,
    pub email: String,
    pub staff: bool,
    pub admin: bool,
    /// What an admin should know on every page (configuration gaps, failing background work)
    pub notices: Vec<String>,
}

/// What every page's frame needs: the signed-in person (if any), a message after an action,
/// and the page's title.
pub(crate) struct Layout {
    pub me: Option<Me>,
    pub flash: Option<&'static str>,
    pub title: String,
    /// Which part of the navigation is current: `queue`, `new`, `problems`, `changes`, `approvals`,
    /// `portal`, `admin`, `account`
    pub section: &'static str,
}

impl Layout {
    pub fn new(user: Option<&WebUser>, title: impl Into<String>, section: &'static str, flash: Option<&str>) -> Self {
        Layout { me: user.map(|u| u.me.clone()), flash: flash.and_then(flash_text), title: title.into(), section }
    }
}

/// Messages shown after an action, by the key in `?m=` (never text from the URL itself).
fn flash_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "created" => "Ticket logged.",
        "item_saved" => "The item's draft is saved; requesters see it once it is published.",
        "item_published" => "Published: new requests use this version of the item.",
        "item_imported" => "Imported and published.",
        "delegated" => "Your approvals are delegated for that period.",
        "undelegated" => "The delegation is removed.",
        "replied" => "Reply sent to the requester.",
        "noted" => "Work note added.",
        "call" => "Phone call logged.",
        "assigned" => "Assignment saved.",
        "escalated" => "Ticket escalated.",
        "updated" => "Ticket updated.",
        "resolved" => "Ticket resolved.",
        "reopened" => "Ticket reopened.",
        "closed" => "Thank you — the ticket is closed.",
        "sent" => "Your message was added to the ticket.",
        "password" => "Password changed. Other sessions were signed out.",
        "everywhere" => "Signed out on every other device.",
        "token_revoked" => "Token revoked.",
        "user_created" => "User created.",
        "user_saved" => "User saved.",
        "two_factor_off" => "The authenticator app is off.",
        "key_added" => "Security key added: signing in can now use it as your second factor.",
        "key_removed" => "Security key removed.",
        "two_factor_reset" => {
            "Two-factor sign-in reset: they set it up again at their next sign-in if their role requires it."
        }
        "second_factor_expired" => "That sign-in took too long or had too many wrong codes. Sign in again.",
        "source_added" => "Directory source added. Preview a run to see what it would change before the first sync.",
        "source_saved" => "Directory source saved.",
        "integration_added" => "Integration added: give your monitoring system the address and token below.",
        "integration_token" => "New token made: the old one no longer works.",
        "integration_saved" => "Integration saved.",
        "webhook_added" => "Webhook added. Give the receiver the signing secret below, then send a test event.",
        "webhook_saved" => "Webhook saved.",
        "webhook_pinged" => "Test event queued: it shows in the deliveries below.",
        "webhook_secret" => "New signing secret made: the old one no longer signs anything.",
        "webhook_again" => "Sent again: the new delivery shows below.",
        "webhook_removed" => "Webhook removed.",
        "heartbeat_added" => "Heartbeat added: put the addresses below at the end of the job.",
        "heartbeat_saved" => "Heartbeat saved; the next run is expected by the new schedule.",
        "heartbeat_token" => "New token made: the old addresses no longer work.",
        "inventory_token" => "Token made: put it in the agent's server address below.",
        "inventory_token_removed" => "Token removed: agents that use it are refused from now on.",
        "template_saved_mail" => "Template saved: every mail of this kind uses it from now on.",
        "template_reset_mail" => "Back to the standard text.",
        "template_added" => "Template added: agents can log this standard change from it now.",
        "template_saved" => "Template saved.",
        "freeze_added" => "Freeze added: changes planned into it are flagged.",
        "freeze_removed" => "Freeze removed.",
        "policy_saved" => "Policy saved: new tickets use it from now on; tickets already running keep their targets.",
        "calendar_added" => "Calendar added with Monday to Friday 09:00–17:00: set its hours and holidays below.",
        "calendar_saved" => "Calendar saved: new tickets and re-targets count working time on it from now on.",
        "ics_imported" => "Holidays imported from the file.",
        "ics_nothing" => "The file held no holidays that were not in the calendar already.",
        "mailbox_added" => "Mailbox added. Use Check now to try the connection.",
        "mailbox_saved" => "Mailbox saved.",
        "mailbox_removed" => "Mailbox removed; tickets made from it stay.",
        "provider_added" => "Provider added. Try it: sign out and use its button on the sign-in page.",
        "provider_saved" => "Provider saved.",
        "provider_removed" => "Provider removed; its users keep their accounts and their other ways to sign in.",
        "source_removed" => "Directory source removed; its users stay as local accounts.",
        "unlocked" => "Account unlocked.",
        "group_saved" => "Group saved.",
        "category_saved" => "Category saved.",
        "matrix_saved" => "Priority matrix saved.",
        "settings_saved" => "Settings saved.",
        "notification_read" => "Marked read.",
        "notifications_read" => "All marked read.",
        "retention_saved" => "Saved: the next run removes what is older than the new limits.",
        "purged" => "Old entries removed: the last run below says how many.",
        "reset_sent" => "If the address belongs to an account, a link to set a new password is on its way.",
        "reset_done" => "Password set. Sign in with it now.",
        "signed_out" => "Signed out.",
        "article_saved" => "Article saved.",
        "feedback" => "Thank you for your feedback.",
        "article_linked" => "Article linked to the ticket.",
        "article_unlinked" => "Article link removed.",
        "asset_linked" => "Asset linked to the ticket.",
        "asset_unlinked" => "Asset unlinked from the ticket.",
        "tagged" => "Tags added.",
        "rule_saved" => "Routing rule saved.",
        "rule_moved" => "Routing rule moved.",
        "rule_on" => "Routing rule switched on.",
        "rule_off" => "Routing rule switched off: it no longer matches new tickets.",
        "rule_deleted" => "Routing rule removed.",
        "untagged" => "Tag removed.",
        "preferences_saved" => "Your notification settings are saved.",
        "macro_applied" => "Macro applied.",
        "following" => "You follow this ticket now: you will hear of its changes.",
        "unfollowed" => "You no longer follow this ticket.",
        "macro_saved" => "Macro saved.",
        "macro_removed" => "Macro removed.",
        "restricted" => "The ticket is restricted: only that group's members and admins see it.",
        "unrestricted" => "The restriction is lifted: every agent sees the ticket.",
        "restricted_away" => "The ticket is restricted to a group you are not in; it has left your view.",
        "window_created" => "Maintenance window started: matching alerts open nothing until it ends.",
        "window_ended" => "Maintenance window ended.",
        "asset_saved" => "Asset saved; the change is in its history.",
        "licence_recorded" => "Licence recorded. Give its seats to devices or people below.",
        "licence_saved" => "Licence saved.",
        "licence_removed" => "Licence removed.",
        "seat_given" => "Seat given.",
        "seat_taken_back" => "Seat taken back.",
        "asset_registered" => "Asset registered. Check it out to someone or relate it to what it serves below.",
        "asset_moved" => "Asset updated; the move is in its history.",
        "relation_added" => "Relationship recorded.",
        "problem_created" => "Problem logged.",
        "problem_moved" => "Problem moved.",
        "analysis_saved" => "Analysis saved.",
        "incident_linked" => "Incident linked to the problem.",
        "incident_unlinked" => "Incident unlinked from the problem.",
        "proposal_dismissed" => "Proposal dismissed; the same incidents are not proposed again.",
        "detected" => "Detection ran; new proposals are listed below.",
        "workaround_applied" => "Ticket resolved with the problem's workaround.",
        "time_logged" => "Time logged.",
        "task_completed" => "Task completed: the request moves on.",
        "survey_thanks" => "Thank you for your rating.",
        "schedule_saved" => "Scheduled report saved.",
        "schedule_deleted" => "Scheduled report deleted.",
        "report_sent" => "The report is on its way.",
        "surveys_saved" => "Survey settings saved.",
        "change_created" => "Change logged.",
        "change_moved" => "Change moved.",
        "change_saved" => "Change saved.",
        "decided" => "Decision recorded.",
        "task_added" => "Task added.",
        "task_done" => "Task done.",
        "reviewed" => "Outcome recorded.",
        "workflow_started" => "Started: the first tasks are open in their groups' queues.",
        "workflow_replanned" => "The day moved: the tasks not done are planned again and their assignees told.",
        "workflow_closed" => "Closed.",
        "asset_reserved" => "Saved: the hand-out task hands out the asset reserved (none, if released).",
        "plan_saved" => "Plan saved: workflows started from now on follow it.",
        "profile_saved" => "Access saved.",
        "workflow_task_done" => "Task done: the tasks waiting for it are open.",
        _ => return None,
    })
}

/// Renders a template, or a plain 500 if the template itself fails.
pub(crate) fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    l: Layout,
    status: u16,
    message: String,
}

/// A page for an error the person cannot fix in a form (not found, not allowed, broken).
pub(crate) fn error_page(user: Option<&WebUser>, e: &AppError) -> Response {
    let (status, message) = match e {
        AppError::NotFound(what) => (StatusCode::NOT_FOUND, format!("No such {what}, or you may not see it.")),
        AppError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
        AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "Please sign in.".into()),
        AppError::TokenRefused(m) => (StatusCode::UNAUTHORIZED, m.clone()),
        AppError::Validation(_) | AppError::Conflict(_) | AppError::InvalidTransition(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, explain(e))
        }
        _ => {
            tracing::error!(error = %e, "page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side; please try again.".into())
        }
    };
    let page = ErrorPage {
        l: Layout::new(user, status.canonical_reason().unwrap_or("Error"), "", None),
        status: status.as_u16(),
        message,
    };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

/// A page for a failed request that no handler explained: an address that leads nowhere, a part
/// of it that is not valid, a method the page does not take.
pub(crate) fn status_page(status: StatusCode) -> Response {
    let (title, message) = match status.as_u16() {
        400 => {
            ("Not a valid address", "This address does not lead to a page: part of it is not valid. Check the link.")
        }
        401 => ("Please sign in", "Sign in to see this page."),
        403 => ("Not allowed", "You may not open this page."),
        404 => ("Page not found", "There is no such page, or it has moved. Check the address."),
        405 => ("Not a page", "This address cannot be opened this way."),
        408 | 504 => ("Too slow", "That took too long. Please try again."),
        413 => ("Too large", "What you sent is larger than Orion accepts."),
        429 => ("Please wait", "Too many requests in a short time. Wait a moment and try again."),
        s if s >= 500 => ("Something went wrong", "Something went wrong on our side; please try again."),
        _ => ("Cannot open this page", "This request cannot be answered with a page."),
    };
    let page = ErrorPage { l: Layout::new(None, title, "", None), status: status.as_u16(), message: message.into() };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

/// An error in words for the form it came from: each field named.
pub(crate) fn explain(e: &AppError) -> String {
    explain_as(e, &[])
}

/// As [`explain`], naming each field by the form's own label (`requester` → `Caller`); a field
/// the list does not name (or an item of a list field, `assets[0]`) falls back to its words.
pub(crate) fn explain_as(e: &AppError, labels: &[(&str, &str)]) -> String {
    let label = |field: &str| {
        let base = field.split('[').next().unwrap_or(field);
        labels.iter().find(|(k, _)| *k == base).map_or_else(|| field.replace('_', " "), |(_, l)| l.to_string())
    };
    match e {
        AppError::Validation(errs) => {
            errs.iter().map(|f| format!("{}: {}", label(&f.field), f.message)).collect::<Vec<_>>().join("; ")
        }
        AppError::Conflict(m) | AppError::Forbidden(m) => m.clone(),
        AppError::InvalidTransition(t) => t.to_string(),
        AppError::NotFound(what) => format!("no such {what}"),
        _ => "Something went wrong on our side; nothing was saved. Please try again.".into(),
    }
}
