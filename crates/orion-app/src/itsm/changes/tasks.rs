//! Work on an approved change: verification tasks, the review and its outcome, and the incidents
//! a change caused.

use super::*;
use orion_domain::TicketEvent;

impl App {
    /// Adds a task to an open change (staff); default assignee the change owner.
    pub async fn add_change_task(&self, actor: &Actor, number: &str, input: TaskInput) -> AppResult<Change> {
        require_staff(actor, "add change tasks")?;
        let title = orion_domain::error::required_text("title", &input.title, crate::kernel::limits::TITLE_MAX)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_kind(&mut c, number, TicketKind::Change).await?;
        let r = store::get_change(&mut c, t.id).await?;
        if change_is_final(&r.phase) {
            return Err(AppError::Conflict(format!("{} is {}", t.number, r.phase)));
        }
        let assignee = match input.assignee.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            Some(e) => {
                let email = Email::parse("assignee", e)?;
                let u = orion_store::users::find_by_email(&mut c, email.as_str())
                    .await?
                    .ok_or_else(|| invalid("assignee", format!("no user with e-mail {email}")))?;
                if !Role::parse("role", &u.role).is_ok_and(|r| r.is_staff()) || !u.active {
                    return Err(invalid("assignee", "must be an active agent, lead or admin"));
                }
                Some(u.id)
            }
            None => t.assignee_id,
        };
        let id = store::insert_task(&mut c, t.id, &title, assignee, now).await?;
        let entry = Entry {
            kind: "task_added",
            visibility: Visibility::Internal,
            body: "",
            data: json!({"task": id, "title": title}),
            event: TicketEvent::Noted,
        };
        let t = tickets::save(&mut c, &mut t, now, Some(actor), entry).await?;
        let out = view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    /// Marks a change task done (its assignee, or a lead).
    pub async fn complete_change_task(
        &self,
        actor: &Actor,
        number: &str,
        task: i64,
        input: TaskDoneInput,
    ) -> AppResult<Change> {
        require_staff(actor, "complete change tasks")?;
        let notes = input.notes.as_deref().map(str::trim).unwrap_or("").to_string();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_kind(&mut c, number, TicketKind::Change).await?;
        let tasks = store::tasks_of(&mut c, t.id).await?;
        let k = tasks.iter().find(|k| k.id == task).ok_or(AppError::NotFound("task"))?;
        if k.assignee_id.is_some_and(|a| a != actor.id.0) && !matches!(actor.role, Role::Lead | Role::Admin) {
            return Err(AppError::Forbidden("only the task's assignee or a lead can complete it".into()));
        }
        match store::complete_task(&mut c, t.id, task, actor.id.0, &notes, now).await {
            Err(orion_store::StoreError::NotFound) => {
                return Err(AppError::Conflict(format!("task {task} is already done")));
            }
            other => other?,
        }
        let entry = Entry {
            kind: "task_done",
            visibility: Visibility::Internal,
            body: &notes,
            data: json!({"task": task, "title": k.title}),
            event: TicketEvent::Noted,
        };
        let t = tickets::save(&mut c, &mut t, now, Some(actor), entry).await?;
        let out = view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    /// Records how a change went, after its verification tasks are done: successful (with or
    /// without issues) closes it, failed or backed out ends it as failed.
    pub async fn review_change(&self, actor: &Actor, number: &str, input: ReviewInput) -> AppResult<Change> {
        require_staff(actor, "review changes")?;
        let outcome = parse_outcome("outcome", &input.outcome)?;
        let notes = input.notes.as_deref().map(str::trim).unwrap_or("").to_string();
        if outcome != "successful" && notes.is_empty() {
            return Err(invalid("notes", "say what went wrong"));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_kind(&mut c, number, TicketKind::Change).await?;
        let mut r = store::get_change(&mut c, t.id).await?;
        if r.phase != "review" {
            return Err(AppError::Conflict(format!(
                "{} is {}; only a change in review gets its outcome",
                t.number, r.phase
            )));
        }
        let open: Vec<String> =
            store::tasks_of(&mut c, t.id).await?.into_iter().filter(|k| k.done_at.is_none()).map(|k| k.title).collect();
        if !open.is_empty() {
            return Err(AppError::Conflict(format!("{} has open tasks: {}", t.number, open.join("; "))));
        }
        if r.approval.as_deref() == Some("pending") {
            return Err(AppError::Conflict(format!(
                "{} still waits for its approvers' decision (emergency changes are approved after the fact)",
                t.number
            )));
        }
        let to = outcome_phase(outcome);
        let from = r.phase.clone();
        r.outcome = Some(outcome.to_string());
        r.outcome_notes = notes.clone();
        r.phase = to.to_string();
        if !store::update_change(&mut c, &r).await? {
            return Err(stale(&t));
        }
        let entry = Entry {
            kind: "phase_changed",
            visibility: Visibility::Internal,
            body: &notes,
            data: json!({"from": from, "to": to, "outcome": outcome}),
            event: TicketEvent::PhaseChanged,
        };
        let t = set_core_state(&mut c, &mut t, change_core_state(to), actor, now, entry).await?;
        let out = view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    /// Records that a change caused an incident (staff); both timelines say so.
    pub async fn link_caused_incident(&self, actor: &Actor, number: &str, incident: &str) -> AppResult<Change> {
        require_staff(actor, "link incidents to changes")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = load_kind(&mut c, number, TicketKind::Change).await?;
        let inc = match tickets::load_visible(&mut c, actor, incident).await {
            Ok(i) if i.kind == "incident" => i,
            Ok(i) => return Err(invalid("incident", format!("{} is not an incident", i.number))),
            Err(AppError::NotFound(_)) => return Err(invalid("incident", format!("no incident {incident}"))),
            Err(e) => return Err(e),
        };
        if store::link_caused(&mut c, inc.id, t.id, actor.id.0, now).await? {
            note_on(&mut c, t.id, now, actor, "caused_incident", json!({"incident": inc.number})).await?;
            note_on(&mut c, inc.id, now, actor, "caused_by_change", json!({"change": t.number, "title": t.title}))
                .await?;
        }
        let out = view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }
}
