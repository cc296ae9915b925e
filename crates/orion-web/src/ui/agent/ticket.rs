//! The ticket page with its actions, and its live refresh.

use super::monitoring::AlertRow;
use super::sla::{Badge, badges};
use crate::AppState;
use crate::ui::form::{FormWithFiles, done, when, words};
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::session::{Forbidden, StaffUser, WebUser};
use crate::ui::views::{EntryView, MAX_ENTRIES, TicketView, entry_view, ticket_view};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use orion_app::itsm::problems::{TicketRelated, WorkaroundInput};
use orion_app::{AppError, CommentInput, EscalateInput, ReasonInput, ResolveInput, Ticket, TicketPatch};
use orion_domain::ResolutionCode;
use std::collections::HashMap;
/// What was typed into the ticket page's forms, kept when one is refused.
#[derive(Default)]
pub(super) struct Drafts {
    pub reply: String,
    pub note: String,
    pub call: String,
    pub reason: String,
    pub troubleshooting: String,
    pub notes: String,
    pub reopen: String,
    pub transfer_note: String,
    pub asset: String,
    pub macro_reply: String,
}

#[derive(Template)]
#[template(path = "agent/ticket.html")]
struct TicketPage {
    l: Layout,
    t: TicketView,
    entries: Vec<EntryView>,
    sla: Vec<Badge>,
    /// The monitoring alerts that opened or joined this incident
    alerts: Vec<AlertRow>,
    /// How many there are (the page shows the first 50)
    alerts_total: usize,
    /// The assets the ticket names and what an outage of them affects
    assets: Option<orion_app::cmdb::TicketAssets>,
    /// The problem the incident belongs to (with its workaround) and the changes that caused it
    related: Option<TicketRelated>,
    /// Who the caller is, their other tickets and their devices
    caller: Option<Caller>,
    members: Vec<String>,
    lower_groups: Vec<String>,
    higher_groups: Vec<String>,
    /// Every active group, for the restriction
    all_groups: Vec<String>,
    categories: Vec<String>,
    codes: Vec<&'static str>,
    /// The macros the agent may apply here, those for the ticket's category first
    macros: Vec<orion_app::macros::TicketMacro>,
    /// Does the agent follow the ticket?
    following: bool,
    /// The time logged on the ticket
    time: Option<orion_app::tickets::time::TicketTime>,
    /// The newest entry shown, for the live poll
    last_entry: i64,
    /// Which form failed (`reply`, `note`, …) and why
    form: String,
    error: Option<String>,
    d: Drafts,
    /// What was asked, for a request from the catalog
    asked: Option<orion_app::catalog::CatalogRequest>,
    /// The request a fulfilment task belongs to, with the outputs to record
    task: Option<orion_app::catalog::TaskOfRequest>,
    /// The joiner, mover or leaver a task belongs to
    wtask: Option<orion_app::workflows::TaskOfWorkflow>,
}

#[derive(Template)]
#[template(path = "agent/live.html")]
struct LivePart {
    t: TicketView,
    /// The newest entry shown, for the next poll
    last_entry: i64,
    entries: Vec<EntryView>,
    sla: Vec<Badge>,
}

/// Reads what the ticket page shows: the ticket, its whole timeline, its SLA clocks.
async fn load(s: &AppState, user: &WebUser, number: &str) -> Result<(Ticket, Vec<EntryView>, Vec<Badge>), AppError> {
    let t = s.app.get_ticket(&user.actor, number).await?;
    let entries = s.app.whole_timeline(&user.actor, &t.number, MAX_ENTRIES).await?;
    let entries = entries.into_iter().map(|e| entry_view(e, true)).collect();
    let clocks = s.app.sla_badges(&user.actor, std::slice::from_ref(&t.number)).await?;
    let sla = badges(clocks.get(&t.number));
    Ok((t, entries, sla))
}

async fn ticket_page(
    s: &AppState,
    user: &WebUser,
    number: &str,
    flash: Option<&str>,
    form: &str,
    error: Option<String>,
    d: Drafts,
) -> Response {
    let (t, entries, sla) = match load(s, user, number).await {
        Ok(x) => x,
        Err(e) => return error_page(Some(user), &e),
    };
    let groups = s.app.list_groups(&user.actor).await.unwrap_or_default();
    let members = groups.iter().find(|g| g.name == t.assignment_group).map(|g| g.members.clone()).unwrap_or_default();
    let active = groups.iter().filter(|g| g.active && g.name != t.assignment_group);
    let all_groups = groups.iter().filter(|g| g.active).map(|g| g.name.clone()).collect();
    let lower_groups = active.clone().filter(|g| g.tier <= t.assignment_group_tier).map(|g| g.name.clone()).collect();
    let higher_groups = active.filter(|g| g.tier > t.assignment_group_tier).map(|g| g.name.clone()).collect();
    let categories = crate::ui::pickers::category_paths(s, user).await;
    let alerts = s.app.ticket_alerts(&user.actor, number).await.unwrap_or_default();
    let assets = s.app.ticket_assets(&user.actor, number).await.ok();
    let related =
        s.app.ticket_related(&user.actor, number).await.ok().filter(|r| r.problem.is_some() || !r.caused_by.is_empty());
    let caller = caller(s, user, &t).await;
    let macros = s.app.ticket_macros(&user.actor, number).await.unwrap_or_default();
    let following = s.app.ticket_following(&user.actor, number).await.is_ok_and(|f| f.following);
    let time = s.app.ticket_time(&user.actor, number).await.ok();
    let asked = s.app.catalog_request(&user.actor, number).await.ok().flatten();
    let task = s.app.task_of_request(&user.actor, number).await.ok().flatten();
    let wtask = s.app.task_of_workflow(&user.actor, number).await.ok().flatten();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = TicketPage {
        caller,
        alerts_total: alerts.len(),
        alerts: alerts.into_iter().take(50).map(Into::into).collect(),
        assets,
        related,
        l: Layout::new(Some(user), format!("{} · {}", t.number, t.title), "queue", flash),
        t: ticket_view(t),
        last_entry: last_id(&entries),
        entries,
        sla,
        members,
        lower_groups,
        higher_groups,
        all_groups,
        categories,
        codes: ResolutionCode::ALL.iter().map(|c| c.as_str()).collect(),
        macros,
        following,
        time,
        form: form.to_string(),
        error,
        d,
        asked,
        task,
        wtask,
    };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

/// One of the caller's other tickets, as the caller card lists it.
struct CallerTicket {
    number: String,
    title: String,
    state: String,
    created: String,
}

/// What the desk sees about a ticket's caller.
struct Caller {
    user: orion_app::User,
    open: Vec<CallerTicket>,
    /// More open tickets than listed
    open_more: bool,
    recent: Vec<CallerTicket>,
    /// Devices they hold: (asset id, name, type)
    devices: Vec<(i64, String, String)>,
}

/// How many of the caller's open and recent tickets the card lists.
const CALLER_TICKETS: i64 = 5;

async fn caller(s: &AppState, user: &WebUser, t: &Ticket) -> Option<Caller> {
    let person = s.app.user_by_email(&user.actor, &t.requester).await.ok()?;
    let list = |state: Option<&str>| orion_app::tickets::TicketQuery {
        requester: Some(t.requester.clone()),
        state: state.map(str::to_string),
        limit: Some(CALLER_TICKETS + 2),
        ..Default::default()
    };
    let others = |page: orion_app::Page<Ticket>| -> Vec<CallerTicket> {
        page.items
            .into_iter()
            .filter(|o| o.number != t.number)
            .map(|o| CallerTicket {
                number: o.number,
                title: o.title,
                state: words(&o.state),
                created: when(&o.created_at),
            })
            .collect()
    };
    let mut open = others(s.app.list_tickets(&user.actor, list(Some("open"))).await.ok()?);
    let open_more = open.len() as i64 > CALLER_TICKETS;
    open.truncate(CALLER_TICKETS as usize);
    let mut recent = others(s.app.list_tickets(&user.actor, list(None)).await.ok()?);
    recent.truncate(CALLER_TICKETS as usize);
    let q = orion_app::cmdb::AssetQuery { holder: Some(t.requester.clone()), limit: Some(10), ..Default::default() };
    let devices = s
        .app
        .list_assets(&user.actor, q)
        .await
        .map(|p| p.items.into_iter().map(|a| (a.id, a.name, a.ci_type.replace('_', " "))).collect())
        .unwrap_or_default();
    Some(Caller { user: person, open, open_more, recent, devices })
}

impl TicketPage {
    fn code_label(&self, c: &str) -> String {
        words(c)
    }

    fn when(&self, at: &str) -> String {
        crate::ui::form::when(at)
    }

    fn work_label(&self, w: &str) -> &'static str {
        orion_app::tickets::time::Work::label_of(w)
    }

    /// Minutes as a person reads them: `45 min`, `2 h 5 min`.
    fn duration(&self, m: &i64) -> String {
        match (m / 60, m % 60) {
            (0, m) => format!("{m} min"),
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m} min"),
        }
    }

    /// Resolving waits for time: the group asks for it and none is logged.
    fn time_needed(&self) -> bool {
        self.time.as_ref().is_some_and(|t| t.required_before_resolving && t.entries_count == 0)
    }
}

pub(super) async fn ticket(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    ticket_page(&s, &user, &number, q.get("m").map(String::as_str), "", None, Drafts::default()).await
}

/// Polled by the open ticket page every few seconds: nothing (204) while the ticket's version and
/// newest timeline entry are what the page shows (two indexed look-ups), else the refreshed header
/// and timeline.
pub(super) async fn live(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser<Forbidden>,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let shown = (q.get("v").and_then(|v| v.parse::<i64>().ok()), q.get("e").and_then(|v| v.parse::<i64>().ok()));
    match s.app.ticket_freshness(&user.actor, &number).await {
        Ok((version, last)) if shown == (Some(version), Some(last)) => return StatusCode::NO_CONTENT.into_response(),
        Ok(_) => {}
        Err(e) => return error_page(Some(&user), &e),
    }
    match load(&s, &user, &number).await {
        Ok((t, entries, sla)) => render(&LivePart { t: ticket_view(t), last_entry: last_id(&entries), entries, sla }),
        Err(e) => error_page(Some(&user), &e),
    }
}

fn last_id(entries: &[EntryView]) -> i64 {
    entries.last().map_or(0, |e| e.id)
}

/// Every form on the ticket page posts here; a refused one shows the page again with the error
/// next to that form and everything typed still in place.
pub(super) async fn act(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path((number, action)): Path<(String, String)>,
    FormWithFiles(f, files): FormWithFiles,
) -> Response {
    let a = &s.app;
    let actor = &user.actor;
    let text = |k: &str| f.get(k).unwrap_or_default().to_string();
    // Minutes typed that are not a number reach the app as out of range, so the form says so.
    let minutes = f.get("minutes").map(str::trim).filter(|v| !v.is_empty()).map(|v| v.parse::<i64>().unwrap_or(-1));
    let mut d = Drafts::default();
    let result: Result<&str, AppError> = match action.as_str() {
        "reply" => {
            d.reply = text("body");
            let cc = f
                .text("cc")
                .map(|c| c.split([',', ';', ' ']).filter(|x| !x.is_empty()).map(str::to_string).collect())
                .unwrap_or_default();
            let input = CommentInput {
                body: Some(d.reply.clone()),
                visibility: Some("public".into()),
                phone_call: false,
                cc,
                time_spent_minutes: minutes,
                ..CommentInput::default()
            };
            let r = a.add_comment_with_files(actor, &number, input, files).await.map(|_| "replied");
            stop_replying(a, actor, &number, &r).await;
            r
        }
        "note" => {
            d.note = text("body");
            let input = CommentInput {
                body: Some(d.note.clone()),
                visibility: Some("internal".into()),
                time_spent_minutes: minutes,
                ..CommentInput::default()
            };
            let r = a.add_comment_with_files(actor, &number, input, files).await.map(|_| "noted");
            stop_replying(a, actor, &number, &r).await;
            r
        }
        "call" => {
            d.call = text("body");
            let input = CommentInput {
                body: Some(d.call.clone()),
                visibility: Some("internal".into()),
                phone_call: true,
                time_spent_minutes: minutes,
                ..CommentInput::default()
            };
            a.add_comment(actor, &number, input).await.map(|_| "call")
        }
        "assign" => {
            let who = if f.checked("me") { user.me.email.clone() } else { text("assignee") };
            let patch = TicketPatch { assignee: Some(who), ..TicketPatch::default() };
            a.update_ticket(actor, &number, patch).await.map(|_| "assigned")
        }
        "transfer" => {
            d.transfer_note = text("note");
            let patch = TicketPatch {
                assignment_group: f.text("group"),
                note: Some(d.transfer_note.clone()),
                ..TicketPatch::default()
            };
            a.update_ticket(actor, &number, patch).await.map(|_| "assigned")
        }
        "escalate" => {
            d.reason = text("reason");
            d.troubleshooting = text("troubleshooting");
            let input = EscalateInput {
                to_group: f.text("to_group"),
                reason: Some(d.reason.clone()),
                troubleshooting: Some(d.troubleshooting.clone()),
            };
            a.escalate(actor, &number, input).await.map(|_| "escalated")
        }
        "update" => {
            let state = f.text("state");
            let patch = TicketPatch {
                impact: f.int("impact"),
                urgency: f.int("urgency"),
                category: f.get("category").map(str::to_string),
                pending_reason: if state.as_deref() == Some("pending") { f.text("pending_reason") } else { None },
                state,
                ..TicketPatch::default()
            };
            a.update_ticket(actor, &number, patch).await.map(|_| "updated")
        }
        "resolve" => {
            d.notes = text("notes");
            let input = ResolveInput {
                resolution_code: f.text("code"),
                resolution_notes: Some(d.notes.clone()),
                time_spent_minutes: minutes,
            };
            a.resolve(actor, &number, input).await.map(|_| "resolved")
        }
        "complete_task" => {
            d.notes = text("notes");
            let outputs =
                f.0.iter().filter_map(|(k, v)| k.strip_prefix("output.").map(|k| (k.to_string(), v.clone()))).collect();
            let input = orion_app::catalog::TaskCompletion { outputs, notes: d.notes.clone() };
            a.complete_task(actor, &number, &input).await.map(|_| "task_completed")
        }
        "complete_workflow_task" => {
            d.notes = text("notes");
            d.asset = text("asset").trim().to_string();
            let input = orion_app::workflows::WorkflowTaskCompletion {
                notes: d.notes.clone(),
                asset: f.text("asset"),
                condition: f.text("condition"),
                to_state: f.text("to_state"),
            };
            a.complete_workflow_task(actor, &number, &input).await.map(|_| "workflow_task_done")
        }
        "log_time" => {
            let input = orion_app::tickets::time::TimeInput { minutes, work: f.text("work"), note: f.text("note") };
            a.log_time(actor, &number, input).await.map(|_| "time_logged")
        }
        "workaround" => {
            let input = WorkaroundInput { note: f.text("note") };
            a.resolve_with_workaround(actor, &number, input).await.map(|_| "workaround_applied")
        }
        "link_article" => a.link_article(actor, &number, &text("article")).await.map(|_| "article_linked"),
        "unlink_article" => a.unlink_article(actor, &number, &text("article")).await.map(|_| "article_unlinked"),
        "link_asset" => {
            d.asset = text("asset").trim().to_string();
            let input = orion_app::cmdb::TicketAssetInput { asset: d.asset.clone() };
            a.link_ticket_asset(actor, &number, input).await.map(|_| "asset_linked")
        }
        "unlink_asset" => match f.int("asset") {
            Some(id) => a.unlink_ticket_asset(actor, &number, id).await.map(|_| "asset_unlinked"),
            None => Err(AppError::NotFound("asset on this ticket")),
        },
        "tag" => {
            let tags = text("tags").split([',', ' ', ';']).filter(|x| !x.is_empty()).map(str::to_string).collect();
            a.tag_ticket(actor, &number, orion_app::tickets::TagsInput { tags }).await.map(|_| "tagged")
        }
        "untag" => a.untag_ticket(actor, &number, &text("tag")).await.map(|_| "untagged"),
        "macro" => {
            d.macro_reply = text("reply");
            let input = orion_app::macros::ApplyMacroInput {
                macro_id: f.int("macro").unwrap_or(0),
                reply: f.get("reply").map(str::to_string),
            };
            let r = a.apply_macro(actor, &number, input).await.map(|_| "macro_applied");
            stop_replying(a, actor, &number, &r).await;
            r
        }
        "follow" => a.follow_ticket(actor, &number, true).await.map(|_| "following"),
        "unfollow" => a.follow_ticket(actor, &number, false).await.map(|_| "unfollowed"),
        "restrict" => {
            let input = orion_app::tickets::RestrictionInput { group: f.text("group") };
            match a.restrict_ticket(actor, &number, input).await {
                // Handed to a group the agent is not in: the ticket is out of their sight now.
                Ok(_) if a.get_ticket(actor, &number).await.is_err() => return done("/agent", "restricted_away"),
                Ok(t) if t.restricted_to.is_some() => Ok("restricted"),
                Ok(_) => Ok("unrestricted"),
                Err(e) => Err(e),
            }
        }
        "reopen" => {
            d.reopen = text("reason");
            a.reopen(actor, &number, ReasonInput { reason: Some(d.reopen.clone()) }).await.map(|_| "reopened")
        }
        _ => Err(AppError::NotFound("action")),
    };
    match result {
        Ok(msg) => done(&format!("/agent/tickets/{number}"), msg),
        Err(
            e @ (AppError::Validation(_)
            | AppError::Conflict(_)
            | AppError::InvalidTransition(_)
            | AppError::Forbidden(_)),
        ) => ticket_page(&s, &user, &number, None, &action, Some(explain(&e)), d).await,
        Err(e) => error_page(Some(&user), &e),
    }
}

/// After a reply, note or macro went in, the agent is no longer writing there.
async fn stop_replying(a: &orion_app::App, actor: &orion_domain::Actor, number: &str, r: &Result<&str, AppError>) {
    if r.is_ok() {
        let _ = a.replying(actor, number, Some(false)).await;
    }
}

/// The "someone else is replying" line: the page posts `writing=1` while the agent types (every
/// 20 s at most) and asks every 10 s who else is.
pub(super) async fn replying(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser<Forbidden>,
    Path(number): Path<String>,
    f: crate::ui::form::Fields,
) -> Response {
    let writing = f.get("writing").map(|v| v == "1");
    match s.app.replying(&user.actor, &number, writing).await {
        Ok(p) if p.replying.is_empty() => axum::response::Html(String::new()).into_response(),
        Ok(p) => {
            let names = p.replying.iter().map(|n| super::new_ticket::esc(n)).collect::<Vec<_>>().join(", ");
            let verb = if p.replying.len() == 1 { "is" } else { "are" };
            axum::response::Html(format!("<strong>{names}</strong> {verb} writing on this ticket right now."))
                .into_response()
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "agent/macro_preview.html")]
struct MacroPreview {
    m: Option<orion_app::macros::TicketMacro>,
}

/// The chosen macro's reply, filled in for the ticket and editable, and what it will do.
pub(super) async fn macro_preview(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser<Forbidden>,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let id = q.get("macro").and_then(|v| v.parse::<i64>().ok());
    match s.app.ticket_macros(&user.actor, &number).await {
        Ok(list) => render(&MacroPreview { m: list.into_iter().find(|m| Some(m.id) == id) }),
        Err(e) => error_page(Some(&user), &e),
    }
}
