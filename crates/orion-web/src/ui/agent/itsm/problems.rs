//! Problem pages: the list with the detector's proposals and the new-problem form, a problem's
//! page (phase, analysis, incidents, known-error article) and the known errors.

use super::{Listed, Row, Typed, group_names, is_lead, list, listed, refusal, refused};
use crate::AppState;
use crate::ui::form::{Fields, done, encode, when};
use crate::ui::layout::{Layout, error_page, render};
use crate::ui::session::{StaffUser, WebUser};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use orion_app::AppError;
use orion_app::itsm::detect::{AcceptInput, Proposal, ProposalQuery};
use orion_app::itsm::problems::{
    IncidentRef, KnownError, KnownErrorQuery, Problem, ProblemEdit, ProblemInput, ProblemPhaseInput, ProblemQuery,
};
use orion_domain::change::PROBLEM_PHASES;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/problems", get(list_page).post(create))
        .route("/agent/problems/{number}", get(page))
        .route("/agent/problems/{number}/{action}", post(act))
        .route("/agent/problem-proposals/detect", post(detect))
        .route("/agent/problem-proposals/{id}/{action}", post(decide))
        .route("/agent/known-errors", get(known_errors))
}

#[derive(Template)]
#[template(path = "agent/problems.html")]
struct ListPage {
    l: Layout,
    rows: Vec<Row>,
    phases: &'static [&'static str],
    phase: String,
    next: Option<String>,
    proposals: Vec<Proposal>,
    lead: bool,
    groups: Vec<String>,
    /// What the new-problem form holds
    f: Typed,
    /// Which form failed: `list`, `new`, `proposals`
    form: &'static str,
    error: Option<String>,
}

async fn list_with(
    s: &AppState,
    user: &WebUser,
    q: &HashMap<String, String>,
    f: Typed,
    form: &'static str,
    error: Option<String>,
) -> Response {
    let (app, actor) = (&s.app, &user.actor);
    let v = |k: &str| q.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let phase = v("phase").unwrap_or_default();
    let query = ProblemQuery { phase: v("phase"), cursor: v("cursor"), limit: Some(50) };
    let (rows, next, error, form) = match listed(app.list_problems(actor, query).await, "/agent/problems", &phase) {
        Ok(Listed { rows, next, refused: None }) => (rows, next, error, form),
        Ok(Listed { rows, next, refused }) => (rows, next, refused, "list"),
        Err(e) => return error_page(Some(user), &e),
    };
    let pq = ProposalQuery { state: Some("open".into()), cursor: None, limit: Some(50) };
    let proposals = match app.list_proposals(actor, pq).await {
        Ok(p) => p.items,
        Err(e) => return error_page(Some(user), &e),
    };
    let groups = group_names(s, user).await;
    let resp = render(&ListPage {
        l: Layout::new(Some(user), "Problems", "problems", q.get("m").map(String::as_str)),
        rows,
        phases: PROBLEM_PHASES,
        phase,
        next,
        proposals,
        lead: is_lead(user),
        groups,
        f,
        form,
        error: error.clone(),
    });
    refused(resp, &error)
}

async fn list_page(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let f = Typed([("impact", "3"), ("urgency", "3")].into_iter().map(|(k, v)| (k.into(), v.into())).collect());
    list_with(&s, &user, &q, f, "", None).await
}

/// The new-problem form.
async fn create(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, f: Fields) -> Response {
    let incidents = list(f.get("incidents"));
    let assets = list(f.get("assets"));
    let input = ProblemInput {
        title: f.text("title"),
        description: f.text("description"),
        impact: f.int("impact"),
        urgency: f.int("urgency"),
        assignment_group: f.text("assignment_group"),
        assignee: f.text("assignee"),
        incidents: (!incidents.is_empty()).then_some(incidents),
        assets: (!assets.is_empty()).then_some(assets),
        symptoms: f.text("symptoms"),
        ..ProblemInput::default()
    };
    match s.app.create_problem(&user.actor, input).await {
        Ok(p) => done(&format!("/agent/problems/{}", p.ticket.number), "problem_created"),
        Err(e) => match refusal(&e) {
            Some(m) => list_with(&s, &user, &HashMap::new(), Typed::from(&f), "new", Some(m)).await,
            None => error_page(Some(&user), &e),
        },
    }
}

/// Runs the recurring-incident detector now (leads).
async fn detect(State(s): State<AppState>, StaffUser { user, .. }: StaffUser) -> Response {
    match s.app.detect_recurring_now(&user.actor).await {
        Ok(_) => done("/agent/problems", "detected"),
        Err(e) => match refusal(&e) {
            Some(m) => list_with(&s, &user, &HashMap::new(), Typed::default(), "proposals", Some(m)).await,
            None => error_page(Some(&user), &e),
        },
    }
}

/// Accepts (a new problem with the incidents linked) or dismisses a proposal (leads).
async fn decide(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path((id, action)): Path<(i64, String)>,
    f: Fields,
) -> Response {
    let (app, actor) = (&s.app, &user.actor);
    let r = match action.as_str() {
        "accept" => {
            let input = AcceptInput {
                title: f.text("title"),
                assignment_group: f.text("assignment_group"),
                assignee: f.text("assignee"),
            };
            app.accept_proposal(actor, id, input)
                .await
                .map(|p| (format!("/agent/problems/{}", p.ticket.number), "problem_created"))
        }
        "dismiss" => {
            app.dismiss_proposal(actor, id).await.map(|_| ("/agent/problems".to_string(), "proposal_dismissed"))
        }
        _ => Err(AppError::NotFound("action")),
    };
    match r {
        Ok((to, m)) => done(&to, m),
        Err(e) => match refusal(&e) {
            Some(m) => list_with(&s, &user, &HashMap::new(), Typed::default(), "proposals", Some(m)).await,
            None => error_page(Some(&user), &e),
        },
    }
}

#[derive(Template)]
#[template(path = "agent/problem.html")]
struct ProblemPage {
    l: Layout,
    p: Problem,
    created: String,
    /// Which form failed: `move`, `analysis`, `incidents`, `article`
    form: String,
    error: Option<String>,
    /// The note typed into the phase form
    note: String,
    /// Active groups, for the assignment form
    groups: Vec<String>,
}

async fn problem_page(
    s: &AppState,
    user: &WebUser,
    number: &str,
    flash: Option<&str>,
    (form, error): (&str, Option<String>),
    typed: Option<&Fields>,
) -> Response {
    let mut p = match s.app.get_problem(&user.actor, number).await {
        Ok(p) => p,
        Err(e) => return error_page(Some(user), &e),
    };
    // A refused analysis keeps what was typed.
    if let (Some(f), "analysis") = (typed, form) {
        for (k, slot) in [
            ("symptoms", &mut p.symptoms),
            ("timeline", &mut p.timeline),
            ("root_cause", &mut p.root_cause),
            ("contributing_factors", &mut p.contributing_factors),
            ("analysis", &mut p.analysis),
            ("workaround", &mut p.workaround),
        ] {
            if let Some(v) = f.get(k) {
                *slot = v.to_string();
            }
        }
        p.fix_change = f.text("fix_change");
        p.version = f.int("version").unwrap_or(p.version);
    }
    let note = typed.filter(|_| form == "move").and_then(|f| f.get("note")).unwrap_or_default().to_string();
    let groups = s
        .app
        .list_groups(&user.actor)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|g| g.active)
        .map(|g| g.name)
        .collect();
    let title = format!("{} · {}", p.ticket.number, p.ticket.title);
    let resp = render(&ProblemPage {
        l: Layout::new(Some(user), title, "problems", flash),
        created: when(&p.ticket.created_at),
        p,
        form: form.to_string(),
        error: error.clone(),
        note,
        groups,
    });
    refused(resp, &error)
}

impl ProblemPage {
    fn assignee_email(&self) -> String {
        self.p.ticket.assignee.clone().unwrap_or_default()
    }

    /// When it became a known error, in the viewer's words.
    fn known_error_since(&self) -> Option<String> {
        self.p.known_error_at.as_deref().map(crate::ui::form::when)
    }

    fn fix_change(&self) -> String {
        self.p.fix_change.clone().unwrap_or_default()
    }

    fn can_resolve(&self) -> bool {
        self.p.next_phases.iter().any(|p| p == "resolved")
    }
}

async fn page(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    problem_page(&s, &user, &number, q.get("m").map(String::as_str), ("", None), None).await
}

/// Every form on a problem's page posts here; `action` says which.
async fn act(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path((number, action)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let (app, actor) = (&s.app, &user.actor);
    let here = format!("/agent/problems/{number}");
    let r: Result<(String, &str), AppError> = match action.as_str() {
        "move" => {
            let input = ProblemPhaseInput {
                phase: f.text("phase").unwrap_or_default(),
                note: f.text("note"),
                resolve_incidents: f.checked("resolve_incidents"),
            };
            app.move_problem(actor, &number, input).await.map(|_| (here.clone(), "problem_moved"))
        }
        "analysis" => {
            let text = |k: &str| f.get(k).map(str::to_string);
            let input = ProblemEdit {
                version: f.int("version"),
                symptoms: text("symptoms"),
                timeline: text("timeline"),
                root_cause: text("root_cause"),
                contributing_factors: text("contributing_factors"),
                analysis: text("analysis"),
                workaround: text("workaround"),
                fix_change: text("fix_change").map(|v| v.trim().to_string()),
            };
            app.edit_problem(actor, &number, input).await.map(|_| (here.clone(), "analysis_saved"))
        }
        "assign" => match app.get_problem(actor, &number).await {
            Err(e) => Err(e),
            Ok(p) => {
                // Only what changed is sent: a group change needs its reason, the rest does not.
                let t = &p.ticket;
                let group = f.text("group").filter(|g| *g != t.assignment_group);
                let assignee = f.get("assignee").map(|a| a.trim().to_string());
                let current = t.assignee.clone().unwrap_or_default();
                let patch = orion_app::TicketPatch {
                    note: group.as_ref().and_then(|_| f.text("note")),
                    assignment_group: group,
                    assignee: assignee.filter(|a| !a.eq_ignore_ascii_case(&current)),
                    impact: f.int("impact").filter(|i| *i != t.impact),
                    urgency: f.int("urgency").filter(|u| *u != t.urgency),
                    ..Default::default()
                };
                app.update_ticket(actor, &number, patch).await.map(|_| (here.clone(), "assigned"))
            }
        },
        "link" => {
            let input = IncidentRef { incident: f.text("incident").unwrap_or_default() };
            app.link_problem_incident(actor, &number, input).await.map(|_| (here.clone(), "incident_linked"))
        }
        "unlink" => {
            let incident = f.text("incident").unwrap_or_default();
            app.unlink_problem_incident(actor, &number, &incident).await.map(|_| (here.clone(), "incident_unlinked"))
        }
        "article" => app.problem_article(actor, &number).await.map(|a| (format!("/kb/{}", a.number), "article_saved")),
        _ => Err(AppError::NotFound("action")),
    };
    match r {
        Ok((to, m)) => done(&to, m),
        Err(e) => match refusal(&e) {
            Some(m) => {
                let form = if action == "unlink" { "link" } else { action.as_str() };
                problem_page(&s, &user, &number, None, (form, Some(m)), Some(&f)).await
            }
            None => error_page(Some(&user), &e),
        },
    }
}

#[derive(Template)]
#[template(path = "agent/known_errors.html")]
struct KnownErrorsPage {
    l: Layout,
    q: String,
    items: Vec<KnownError>,
    next: Option<String>,
    error: Option<String>,
}

/// Known errors, newest first, or those a search finds.
async fn known_errors(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let words = q.get("q").map(|v| v.trim().to_string()).unwrap_or_default();
    let query = KnownErrorQuery {
        q: (!words.is_empty()).then(|| words.clone()),
        cursor: q.get("cursor").cloned().filter(|c| !c.is_empty()),
        limit: Some(50),
    };
    let (items, next, error) = match s.app.known_errors(&user.actor, query).await {
        Ok(p) => (p.items, p.next_cursor.map(|c| format!("/agent/known-errors?q={}&cursor={c}", encode(&words))), None),
        Err(e) => match refusal(&e) {
            Some(m) => (Vec::new(), None, Some(m)),
            None => return error_page(Some(&user), &e),
        },
    };
    let resp = render(&KnownErrorsPage {
        l: Layout::new(Some(&user), "Known errors", "problems", None),
        q: words,
        items,
        next,
        error: error.clone(),
    });
    refused(resp, &error)
}
