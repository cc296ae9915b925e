//! Problems: root-cause analysis of one or more incidents, the workaround agents apply while the
//! cause is known but not yet fixed (a known error), and the change that fixes it for good.

use super::{Core, LinkedTicket, create_core, load_kind, note_on, set_core_state, text_field, ts};
use crate::kb::{Article, ArticleInput};
use crate::kernel::access::require_staff;
use crate::kernel::error::{found, invalid};
use crate::tickets::{self, Entry};
use crate::{App, AppError, AppResult, Page, Ticket};
use orion_domain::TicketEvent;
use orion_domain::change::{parse_problem_phase, problem_core_state, problem_next};
use orion_domain::{Actor, FieldErrors, ResolutionCode, State, TicketKind, Visibility};
use orion_store::Conn;
use orion_store::itsm::{self as store, ProblemRow};
use orion_store::tickets::TicketView;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

/// A problem with its analysis and incidents.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// The ticket core: number `PRB…`, title, group, assignee, priority, state
    pub ticket: Ticket,
    /// `new`, `investigating`, `known_error`, `resolved`, `closed`
    pub phase: String,
    /// The phases it may move to now
    pub next_phases: Vec<String>,
    pub symptoms: String,
    /// What happened when, as the investigation found it
    pub timeline: String,
    pub root_cause: String,
    pub contributing_factors: String,
    /// 5-whys or fishbone notes
    pub analysis: String,
    /// What agents do for an affected user until the fix lands; shown on every linked incident
    pub workaround: String,
    /// The change that fixes it for good (`CHG…`)
    pub fix_change: Option<String>,
    pub known_error_at: Option<String>,
    pub incidents: Vec<LinkedTicket>,
    /// Increases with every change of the problem's own fields (analysis edits and phase moves)
    pub version: i64,
}

/// A new problem.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProblemInput {
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    pub title: Option<String>,
    pub description: Option<String>,
    /// 1 (high) .. 3, default 3
    #[schema(minimum = 1, maximum = 3)]
    pub impact: Option<i64>,
    #[schema(minimum = 1, maximum = 3)]
    pub urgency: Option<i64>,
    pub category: Option<String>,
    /// Default: the service desk group
    pub assignment_group: Option<String>,
    /// Agent e-mail, a member of the group
    pub assignee: Option<String>,
    /// Affected CIs and services: asset ids or tags
    pub assets: Option<Vec<String>>,
    /// Incident numbers to link
    pub incidents: Option<Vec<String>>,
    pub symptoms: Option<String>,
    pub workaround: Option<String>,
}

/// Changes to a problem's analysis; absent fields stay. `fix_change` "" clears the link.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProblemEdit {
    /// The version read; a stale one is refused (409)
    pub version: Option<i64>,
    pub symptoms: Option<String>,
    pub timeline: Option<String>,
    pub root_cause: Option<String>,
    pub contributing_factors: Option<String>,
    pub analysis: Option<String>,
    pub workaround: Option<String>,
    pub fix_change: Option<String>,
}

/// A phase move.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProblemPhaseInput {
    #[schema(schema_with = crate::api_schema::problem_phases_exact)]
    pub phase: String,
    /// Why; shown on the timeline (and, when incidents are resolved, to their requesters)
    pub note: Option<String>,
    /// With `resolved`: also resolve every open linked incident (their requesters are told)
    #[serde(default)]
    pub resolve_incidents: bool,
}

/// Filters for the problem list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProblemQuery {
    /// One phase
    #[param(schema_with = crate::api_schema::problem_phases_exact)]
    pub phase: Option<String>,
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    /// 1..200, default 50
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A known error: a problem whose cause is known and whose workaround agents can apply.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KnownError {
    pub number: String,
    pub title: String,
    pub symptoms: String,
    pub root_cause: String,
    pub workaround: String,
    pub known_error_at: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KnownErrorQuery {
    /// Words to search for (title, description, analysis comments); empty lists all
    pub q: Option<String>,
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A ticket to link.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentRef {
    /// An incident number, e.g. `INC0000042`
    pub incident: String,
}

/// What an incident is part of: its problem (with the workaround) and the changes that caused it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TicketRelated {
    pub problem: Option<ProblemRef>,
    pub caused_by: Vec<LinkedTicket>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProblemRef {
    pub number: String,
    pub title: String,
    pub phase: String,
    pub workaround: String,
}

/// Resolving an incident with its problem's workaround.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkaroundInput {
    /// Added to the resolution after the workaround
    pub note: Option<String>,
}

pub(crate) async fn view(c: &mut Conn<'_>, actor: &Actor, t: TicketView) -> AppResult<Problem> {
    let p = store::get_problem(c, t.id).await?;
    let mut incidents = store::incidents_of_problem(c, t.id).await?;
    // Incidents restricted to a group the reader is not in stay unnamed.
    crate::tickets::drop_hidden(c, actor, &mut incidents, |r| r.id).await?;
    Ok(Problem {
        phase: p.phase.clone(),
        next_phases: problem_next(&p.phase).iter().map(|s| s.to_string()).collect(),
        symptoms: p.symptoms,
        timeline: p.timeline,
        root_cause: p.root_cause,
        contributing_factors: p.contributing_factors,
        analysis: p.analysis,
        workaround: p.workaround,
        fix_change: p.fix_change_number,
        known_error_at: p.known_error_at.map(ts),
        incidents: incidents.into_iter().map(Into::into).collect(),
        version: p.version,
        ticket: t.into(),
    })
}

/// An incident by number, for linking: one restricted to a group the actor is not in is unknown.
async fn incident(c: &mut Conn<'_>, actor: &Actor, field: &str, number: &str) -> AppResult<TicketView> {
    match tickets::load_visible(c, actor, number).await {
        Ok(t) if t.kind == "incident" => Ok(t),
        Ok(t) => Err(invalid(field, format!("{} is a {}, not an incident", t.number, t.kind.replace('_', " ")))),
        Err(AppError::NotFound(_)) => Err(invalid(field, format!("no incident {number}"))),
        Err(e) => Err(e),
    }
}

/// Links an incident to a problem with entries on both timelines.
pub(crate) async fn link_incident(
    c: &mut Conn<'_>,
    actor: &Actor,
    problem: &TicketView,
    inc: &TicketView,
    now: i64,
) -> AppResult<()> {
    if let Some(other) = store::problem_of_incident(c, inc.id).await? {
        if other == problem.id {
            return Ok(());
        }
        let o = orion_store::tickets::get(c, other).await?;
        return Err(AppError::Conflict(format!("{} already belongs to {}", inc.number, o.number)));
    }
    store::link_incident(c, inc.id, problem.id, actor.id.0, now).await?;
    note_on(c, problem.id, now, actor, "incident_linked", json!({"incident": inc.number})).await?;
    note_on(c, inc.id, now, actor, "problem_linked", json!({"problem": problem.number, "title": problem.title}))
        .await?;
    Ok(())
}

/// Writes a new problem in the caller's transaction.
pub(crate) async fn create_problem_in(
    app: &App,
    c: &mut Conn<'_>,
    actor: &Actor,
    input: ProblemInput,
    now: i64,
) -> AppResult<TicketView> {
    let mut errs = FieldErrors::new();
    let symptoms = text_field(&mut errs, "symptoms", input.symptoms.as_deref()).unwrap_or_default();
    let workaround = text_field(&mut errs, "workaround", input.workaround.as_deref()).unwrap_or_default();
    let mut incidents = Vec::new();
    for (i, n) in input.incidents.iter().flatten().enumerate() {
        match incident(c, actor, &format!("incidents[{i}]"), n).await {
            Ok(t) => incidents.push(t),
            Err(AppError::Validation(e)) => e.iter().for_each(|f| errs.push(f.field.clone(), f.message.clone())),
            Err(e) => return Err(e),
        }
    }
    let core = Core {
        kind: TicketKind::Problem,
        title: input.title.as_deref(),
        description: input.description.as_deref(),
        impact: input.impact,
        urgency: input.urgency,
        category: input.category.as_deref(),
        group: input.assignment_group.as_deref(),
        assignee: input.assignee.as_deref(),
        assets: input.assets.as_deref().unwrap_or_default(),
        state: State::New,
        pending: None,
    };
    let written = create_core(app, c, actor, core, &mut errs, now).await?;
    errs.into_result()?;
    let Some(written) = written else { return Err(AppError::Internal("validated input incomplete".into())) };
    let row = ProblemRow {
        ticket_id: written.id,
        phase: "new".into(),
        symptoms,
        timeline: String::new(),
        root_cause: String::new(),
        contributing_factors: String::new(),
        analysis: String::new(),
        workaround,
        fix_change_id: None,
        fix_change_number: None,
        known_error_at: None,
        version: 1,
    };
    store::insert_problem(c, &row).await?;
    let t = orion_store::tickets::get(c, written.id).await?;
    for inc in &incidents {
        link_incident(c, actor, &t, inc, now).await?;
    }
    Ok(t)
}

impl App {
    /// Logs a problem (staff), with its affected CIs and the incidents it explains.
    pub async fn create_problem(&self, actor: &Actor, input: ProblemInput) -> AppResult<Problem> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = create_problem_in(self, &mut c, actor, input, now).await?;
        let out = view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    pub async fn get_problem(&self, actor: &Actor, number: &str) -> AppResult<Problem> {
        require_staff(actor, "see problems")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = load_kind(&mut c, number, TicketKind::Problem).await?;
        view(&mut c, actor, t).await
    }

    /// Problems newest first, keyset-paged (staff).
    pub async fn list_problems(&self, actor: &Actor, q: ProblemQuery) -> AppResult<Page<super::ItemSummary>> {
        require_staff(actor, "see problems")?;
        let items = orion_store::itsm::Items::Problems;
        super::list_items(self, items, q.phase.as_deref(), parse_problem_phase, (q.cursor.as_deref(), q.limit)).await
    }

    /// Edits the analysis fields (staff). A closed problem no longer changes.
    pub async fn edit_problem(&self, actor: &Actor, number: &str, e: ProblemEdit) -> AppResult<Problem> {
        require_staff(actor, "edit problems")?;
        let now = self.now();
        let mut errs = FieldErrors::new();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_kind(&mut c, number, TicketKind::Problem).await?;
        let mut p = store::get_problem(&mut c, t.id).await?;
        if p.phase == "closed" {
            return Err(AppError::Conflict(format!("{} is closed and can no longer change", t.number)));
        }
        if let Some(v) = e.version
            && v != p.version
        {
            return Err(AppError::Conflict(format!(
                "{} was changed by someone else (version {} now, you read {v}); reload it",
                t.number, p.version
            )));
        }
        let mut changed = Vec::new();
        for (field, value, slot) in [
            ("symptoms", &e.symptoms, &mut p.symptoms),
            ("timeline", &e.timeline, &mut p.timeline),
            ("root_cause", &e.root_cause, &mut p.root_cause),
            ("contributing_factors", &e.contributing_factors, &mut p.contributing_factors),
            ("analysis", &e.analysis, &mut p.analysis),
            ("workaround", &e.workaround, &mut p.workaround),
        ] {
            if let Some(v) = text_field(&mut errs, field, value.as_deref())
                && v != *slot
            {
                *slot = v;
                changed.push(field);
            }
        }
        if p.phase == "known_error" && p.workaround.is_empty() {
            errs.push("workaround", "a known error keeps its workaround; move it back to investigating first");
        }
        match e.fix_change.as_deref().map(str::trim) {
            None => {}
            Some("") if p.fix_change_id.take().is_some() => changed.push("fix_change"),
            Some("") => {}
            Some(n) => match load_kind(&mut c, n, TicketKind::Change).await {
                Ok(chg) if Some(chg.id) != p.fix_change_id => {
                    p.fix_change_id = Some(chg.id);
                    changed.push("fix_change");
                }
                Ok(_) => {}
                Err(AppError::NotFound(_)) => errs.push("fix_change", format!("no change {n}")),
                Err(err) => return Err(err),
            },
        }
        errs.into_result()?;
        if changed.is_empty() {
            return view(&mut c, actor, t).await;
        }
        if !store::update_problem(&mut c, &p).await? {
            return Err(AppError::Conflict(format!("{} was changed by someone else; reload it", t.number)));
        }
        let entry = Entry {
            kind: "analysis_updated",
            visibility: Visibility::Internal,
            body: "",
            data: json!({"fields": changed, "fix_change": e.fix_change}),
            event: TicketEvent::FieldsChanged { priority_changed: false },
        };
        let t = tickets::save(&mut c, &mut t, now, Some(actor), entry).await?;
        let out = view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    /// Moves a problem to another phase (staff). A known error needs a workaround; resolving
    /// needs the root cause, and may resolve the open linked incidents at the same time.
    pub async fn move_problem(&self, actor: &Actor, number: &str, input: ProblemPhaseInput) -> AppResult<Problem> {
        require_staff(actor, "move problems")?;
        let to = parse_problem_phase("phase", &input.phase)?;
        let note = super::require_phase_note(input.note.as_deref())?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_kind(&mut c, number, TicketKind::Problem).await?;
        let mut p = store::get_problem(&mut c, t.id).await?;
        let from = p.phase.clone();
        if !problem_next(&from).contains(&to) {
            return Err(AppError::Conflict(format!(
                "{} is {from}; it can move to {}",
                t.number,
                match problem_next(&from).join(", ") {
                    s if s.is_empty() => "nothing (closed is final)".to_string(),
                    s => s,
                }
            )));
        }
        let mut errs = FieldErrors::new();
        if to == "known_error" && p.workaround.is_empty() {
            errs.push("workaround", "write the workaround agents will apply before declaring a known error");
        }
        if to == "resolved" && p.root_cause.is_empty() {
            errs.push("root_cause", "write the root cause before resolving the problem");
        }
        if input.resolve_incidents && to != "resolved" {
            errs.push("resolve_incidents", "only resolving a problem resolves its incidents");
        }
        errs.into_result()?;
        p.phase = to.to_string();
        if to == "known_error" {
            p.known_error_at = Some(now);
        }
        if !store::update_problem(&mut c, &p).await? {
            return Err(AppError::Conflict(format!("{} was changed by someone else; reload it", t.number)));
        }
        let mut resolved = Vec::new();
        if input.resolve_incidents {
            let notes = if note.is_empty() {
                format!("Fixed by {}: {}", t.number, p.root_cause)
            } else {
                format!("{note}\n\n(Fixed by {}.)", t.number)
            };
            for l in store::incidents_of_problem(&mut c, t.id).await? {
                let state = State::parse("state", &l.state).map_err(|e| AppError::Internal(e.to_string()))?;
                if !state.is_open() {
                    continue;
                }
                let mut inc = orion_store::tickets::get(&mut c, l.id).await?;
                crate::tickets::lifecycle::resolve_in(&mut c, actor, &mut inc, (ResolutionCode::Fixed, &notes), now)
                    .await?;
                resolved.push(l.number);
            }
        }
        let entry = Entry {
            kind: "phase_changed",
            visibility: Visibility::Internal,
            body: &note,
            data: json!({"from": from, "to": to, "resolved_incidents": resolved}),
            event: TicketEvent::PhaseChanged,
        };
        let t = set_core_state(&mut c, &mut t, problem_core_state(to), actor, now, entry).await?;
        let out = view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    /// Links an incident to a problem (staff). An incident belongs to one problem at most.
    pub async fn link_problem_incident(&self, actor: &Actor, number: &str, input: IncidentRef) -> AppResult<Problem> {
        require_staff(actor, "link incidents to problems")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = load_kind(&mut c, number, TicketKind::Problem).await?;
        let inc = incident(&mut c, actor, "incident", &input.incident).await?;
        link_incident(&mut c, actor, &t, &inc, now).await?;
        let out = view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    pub async fn unlink_problem_incident(&self, actor: &Actor, number: &str, incident_no: &str) -> AppResult<Problem> {
        require_staff(actor, "unlink incidents from problems")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = load_kind(&mut c, number, TicketKind::Problem).await?;
        let inc = incident(&mut c, actor, "incident", incident_no).await?;
        found(store::unlink_incident(&mut c, inc.id, t.id).await, "incident on this problem")?;
        note_on(&mut c, t.id, now, actor, "incident_unlinked", json!({"incident": inc.number})).await?;
        note_on(&mut c, inc.id, now, actor, "problem_unlinked", json!({"problem": t.number})).await?;
        let out = view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    /// Known errors (problems in the known-error phase), newest first; with `q`, those the
    /// full-text search finds, best first.
    pub async fn known_errors(&self, actor: &Actor, q: KnownErrorQuery) -> AppResult<Page<KnownError>> {
        require_staff(actor, "see known errors")?;
        let limit = crate::kernel::paging::parse_limit(q.limit)?;
        let words = q.q.as_deref().map(str::trim).unwrap_or("");
        // (ticket id, number, title) of each candidate, in the order to show them.
        let found: Vec<(i64, String, String)>;
        let mut next_cursor = None;
        if words.is_empty() {
            let before = crate::kernel::paging::parse_cursor(q.cursor.as_deref())?;
            let mut r = self.db.read().await?;
            let items = store::Items::Problems;
            let mut rows = store::list_items(&mut r.conn(), items, Some("known_error"), before, limit + 1).await?;
            next_cursor = crate::kernel::paging::keyset_cursor(&mut rows, limit, |r| r.id);
            found = rows.into_iter().map(|r| (r.id, r.number, r.title)).collect();
        } else {
            let hits = self
                .search(
                    actor,
                    crate::search::SearchQuery {
                        q: words.to_string(),
                        kind_of: Some("ticket".into()),
                        kind: Some("problem".into()),
                        state: Some("pending".into()),
                        limit: Some(limit.min(100)),
                        ..Default::default()
                    },
                )
                .await?;
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let mut hit_ids = Vec::new();
            for h in hits.tickets {
                hit_ids.push((tickets::load(&mut c, &h.number).await?.id, h.number, h.title));
            }
            found = hit_ids;
        }
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let mut items = Vec::new();
        for (id, number, title) in found {
            let p = store::get_problem(&mut c, id).await?;
            if p.phase != "known_error" {
                continue;
            }
            items.push(KnownError {
                number,
                title,
                symptoms: p.symptoms,
                root_cause: p.root_cause,
                workaround: p.workaround,
                known_error_at: p.known_error_at.map(ts),
            });
        }
        Ok(Page { items, next_cursor })
    }

    /// The problem an incident belongs to (with its workaround) and the changes that caused it.
    pub async fn ticket_related(&self, actor: &Actor, number: &str) -> AppResult<TicketRelated> {
        require_staff(actor, "see problems")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = tickets::load_visible(&mut c, actor, number).await?;
        let problem = match store::problem_of_incident(&mut c, t.id).await? {
            Some(pid) => {
                let pt = orion_store::tickets::get(&mut c, pid).await?;
                if tickets::may_see(&mut c, actor, &pt).await? {
                    let p = store::get_problem(&mut c, pid).await?;
                    Some(ProblemRef { number: pt.number, title: pt.title, phase: p.phase, workaround: p.workaround })
                } else {
                    None
                }
            }
            None => None,
        };
        let mut causes = store::causes_of(&mut c, t.id).await?;
        crate::tickets::drop_hidden(&mut c, actor, &mut causes, |r| r.id).await?;
        let caused_by = causes.into_iter().map(Into::into).collect();
        Ok(TicketRelated { problem, caused_by })
    }

    /// Resolves an incident with its problem's workaround, in one action (staff).
    pub async fn resolve_with_workaround(
        &self,
        actor: &Actor,
        number: &str,
        input: WorkaroundInput,
    ) -> AppResult<Ticket> {
        require_staff(actor, "resolve tickets")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = tickets::load_visible(&mut c, actor, number).await?;
        let Some(pid) = store::problem_of_incident(&mut c, t.id).await? else {
            return Err(AppError::Conflict(format!("{} belongs to no problem, so there is no workaround", t.number)));
        };
        let pt = orion_store::tickets::get(&mut c, pid).await?;
        let p = store::get_problem(&mut c, pid).await?;
        if p.workaround.is_empty() {
            return Err(AppError::Conflict(format!("{} has no workaround yet", pt.number)));
        }
        let mut notes = format!("Workaround from {} ({}):\n\n{}", pt.number, pt.title, p.workaround);
        if let Some(n) = input.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            notes.push_str("\n\n");
            notes.push_str(n);
        }
        let view =
            crate::tickets::lifecycle::resolve_in(&mut c, actor, &mut t, (ResolutionCode::Workaround, &notes), now)
                .await?;
        self.commit(tx).await?;
        Ok(view.into())
    }

    /// Drafts a known-error article from a problem (symptoms, cause, workaround) and links it to
    /// the problem, so the knowledge base carries it (staff).
    pub async fn problem_article(&self, actor: &Actor, number: &str) -> AppResult<Article> {
        let p = self.get_problem(actor, number).await?;
        let mut body = String::new();
        for (heading, text) in [("Symptoms", &p.symptoms), ("Cause", &p.root_cause), ("Workaround", &p.workaround)] {
            if !text.is_empty() {
                body.push_str(&format!("## {heading}\n\n{text}\n\n"));
            }
        }
        if let Some(fix) = &p.fix_change {
            body.push_str(&format!("## Permanent fix\n\nPlanned in {fix}.\n\n"));
        }
        if body.is_empty() {
            return Err(invalid("workaround", "write the symptoms, cause or workaround before drafting an article"));
        }
        body.push_str(&format!("Problem: {}\n", p.ticket.number));
        let article = self
            .create_article(
                actor,
                ArticleInput {
                    title: p.ticket.title.clone(),
                    body,
                    kind: Some("known_error".into()),
                    audience: Some("internal".into()),
                    category: p.ticket.category.clone(),
                    tags: vec!["known-error".into()],
                    review_by: None,
                    owner: None,
                    source_ticket: Some(p.ticket.number.clone()),
                    note: Some(format!("Drafted from {}", p.ticket.number)),
                },
            )
            .await?;
        self.link_article(actor, number, &article.number).await?;
        Ok(article)
    }
}
