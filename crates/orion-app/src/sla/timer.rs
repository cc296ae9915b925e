//! The SLA timer: warnings, breaches and the escalation rules' actions, and the leads' queue of
//! breached tickets.

use super::*;

/// One ticket's SLA check, run in the worker's settling transaction.
struct Check {
    app: App,
    ticket_id: i64,
}

impl crate::kernel::jobs::SettleWork for Check {
    fn apply<'a>(
        &'a self,
        c: &'a mut Conn<'_>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = AppResult<()>> + Send + 'a>> {
        Box::pin(self.app.sla_check_in(c, self.ticket_id))
    }
}

impl App {
    /// An `sla.check` job. On SQLite all of it is database work done in the transaction that
    /// settles the worker's claim, so many tickets' checks share a commit (eight at once, each in
    /// a transaction of its own, only queue for the single writer). On PostgreSQL each check
    /// commits on its own, side by side with the claim's other lanes: there every statement is a
    /// round trip, and one shared transaction would make them one after another.
    pub async fn sla_check_job(&self, job: &orion_store::jobs::JobRow) -> crate::kernel::jobs::Handled {
        use crate::kernel::jobs::Handled;
        let payload: Result<serde_json::Value, _> = serde_json::from_str(&job.payload);
        let Some(ticket_id) = payload.ok().and_then(|p| p["ticket_id"].as_i64()) else {
            return Handled::from(Err("sla.check without ticket_id".to_string()));
        };
        if self.db.engine() == orion_store::Engine::Sqlite {
            return Handled::with(Ok(()), Check { app: self.clone(), ticket_id });
        }
        let own = async {
            let mut tx = self.db.begin().await?;
            self.sla_check_in(&mut tx.conn(), ticket_id).await?;
            self.commit(tx).await
        };
        Handled::from(own.await.map_err(|e| e.to_string()))
    }

    /// The SLA timer of one ticket, on `c` (a write transaction the caller commits): announces
    /// warnings, acts on breaches by the clock's escalation rules, and plans the next check.
    /// Idempotent: a second run at the same time finds nothing new.
    pub(crate) async fn sla_check_in(&self, c: &mut Conn<'_>, ticket_id: i64) -> AppResult<()> {
        let now = self.now();
        let mut t = match orion_store::tickets::get(c, ticket_id).await {
            Err(orion_store::StoreError::NotFound) => return Ok(()),
            other => other?,
        };
        let events = sla::events_of(c, t.id).await?;
        let mut next = None;
        // Moves of the ticket the rules ask for, done once after every clock was read.
        let (mut escalate, mut raise): (Option<String>, Option<String>) = (None, None);
        for mut k in sla::clocks_of(c, t.id).await? {
            let cal = calendar_of(&k)?;
            let evs = events_for(&events, k.id);
            let r = read_clock(&cal, k.target_ms, &evs, Timestamp(now));
            if motion(&r) != Motion::Running {
                continue;
            }
            let kind = TargetKind::parse("target", &k.target)?;
            let rules = parse_rules(k.rules.as_deref(), k.escalates);
            let mut changed = false;
            let crossed = warning_pcts(&k)
                .into_iter()
                .filter(|p| *p > k.warned_pct && r.elapsed_ms * 100 >= k.target_ms * p)
                .max();
            if let Some(pct) = crossed.filter(|_| r.state != ClockState::Breached) {
                k.warned_pct = pct;
                changed = true;
                let actions = actions_for(&rules, kind, u8::try_from(pct).ok());
                let msg = format!(
                    "{} {}: {pct} % of the {} target used, {} left",
                    t.number,
                    t.title,
                    kind.label(),
                    orion_domain::sla::human_duration(r.remaining_ms)
                );
                let notified = notify(c, &t, &actions, "sla_warning", &msg, now).await?;
                let why = format!("{pct} % of the {} target was used.", kind.label());
                note_moves(&actions, &why, &mut escalate, &mut raise);
                crate::tickets::record_entry(
                    c,
                    t.id,
                    now,
                    None,
                    ("sla_warning", TicketEvent::Sla),
                    &json!({"target": k.target, "percent": pct, "due": r.due.map(|d| d.to_rfc3339()),
                            "remaining_minutes": r.remaining_ms / 60_000, "notify": notified, "actions": actions}),
                )
                .await?;
            }
            if r.state == ClockState::Breached && !k.breach_handled {
                k.breach_handled = true;
                k.warned_pct = warning_pcts(&k).into_iter().max().unwrap_or(k.warned_pct);
                k.state = "breached".into();
                changed = true;
                let actions = actions_for(&rules, kind, None);
                let msg = format!("{} {}: the {} target was breached", t.number, t.title, kind.label());
                let notified = notify(c, &t, &actions, "sla_breached", &msg, now).await?;
                let why = format!("The {} SLA was breached.", kind.label());
                note_moves(&actions, &why, &mut escalate, &mut raise);
                crate::tickets::record_entry(
                    c,
                    t.id,
                    now,
                    None,
                    ("sla_breached", TicketEvent::Sla),
                    &json!({"target": k.target, "policy": k.policy_name, "due": r.due.map(|d| d.to_rfc3339()),
                            "notify": notified, "actions": actions}),
                )
                .await?;
            }
            if changed {
                sla::update_clock(c, &k, now).await?;
            }
            next = earliest(next, next_check(&k, &cal, &evs, Timestamp(now)));
        }
        if let Some(reason) = &raise {
            crate::tickets::lifecycle::raise_priority_in(c, &mut t, reason, now).await?;
        }
        if let Some(reason) = &escalate {
            escalate_automatically(c, &mut t, now, reason).await?;
        }
        // This very job is still pending under its dedupe key: scheduling moves it to the next
        // check (its completion then finds the lease gone and leaves it queued); with nothing
        // left to watch it is completed and removed.
        if raise.is_some() {
            reschedule(c, t.id, now).await?;
        } else {
            schedule_next(c, t.id, next, now).await?;
        }
        Ok(())
    }

    /// Tickets whose SLA is breached and that are still open, newest first (the leads' queue).
    pub async fn breach_queue(
        &self,
        actor: &Actor,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<crate::Page<crate::Ticket>> {
        if !actor.can_work_tickets() {
            return Err(AppError::Forbidden("only support staff can read the breach queue".into()));
        }
        let limit = crate::kernel::paging::parse_limit(limit)?;
        let before = crate::kernel::paging::parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let mut ids = sla::breached_open_tickets(&mut c, before, limit + 1).await?;
        let next_cursor = crate::kernel::paging::keyset_cursor(&mut ids, limit, |id| *id);
        crate::tickets::drop_hidden(&mut c, actor, &mut ids, |id| *id).await?;
        let mut items = Vec::with_capacity(ids.len());
        for id in &ids {
            items.push(orion_store::tickets::get(&mut c, *id).await?.into());
        }
        Ok(crate::Page { items, next_cursor })
    }
}

/// Sends the in-app notifications `actions` ask for; returns the e-mail addresses notified.
async fn notify(
    c: &mut Conn<'_>,
    t: &TicketView,
    actions: &[RuleAction],
    kind: &str,
    msg: &str,
    now: i64,
) -> AppResult<Vec<String>> {
    let mut users: Vec<i64> = Vec::new();
    if actions.contains(&RuleAction::NotifyAssignee)
        && let Some(a) = t.assignee_id
    {
        users.push(a);
    }
    if actions.contains(&RuleAction::NotifyLead)
        && let Some(lead) = orion_store::groups::get(c, t.assignment_group_id).await?.lead_id
        && !users.contains(&lead)
    {
        users.push(lead);
    }
    let mut emails = Vec::with_capacity(users.len());
    for user in users {
        if crate::tickets::notify_user(c, t, user, kind, msg, now).await? {
            emails.push(orion_store::users::get(c, user).await?.email);
        }
    }
    Ok(emails)
}

/// Remembers the first reason for each move a rule asks for.
fn note_moves(actions: &[RuleAction], why: &str, escalate: &mut Option<String>, raise: &mut Option<String>) {
    if actions.contains(&RuleAction::Escalate) {
        escalate.get_or_insert_with(|| why.to_string());
    }
    if actions.contains(&RuleAction::RaisePriority) {
        raise.get_or_insert_with(|| why.to_string());
    }
}

/// Moves the ticket up to its group's escalation target through the same ticket command an agent's
/// escalation uses, with the SLA event as the reason (a rule's `escalate`). At the top tier, or
/// when the target is deactivated, nothing moves.
async fn escalate_automatically(c: &mut Conn<'_>, t: &mut TicketView, now: i64, reason: &str) -> AppResult<()> {
    if !State::parse("state", &t.state)?.is_open() {
        return Ok(());
    }
    let current = orion_store::groups::get(c, t.assignment_group_id).await?;
    let Some(target_id) = current.escalation_target_id else { return Ok(()) };
    let target = orion_store::groups::get(c, target_id).await?;
    if !target.active {
        return Ok(());
    }
    *t = crate::tickets::lifecycle::escalate_in(c, t, (&current, &target), None, (reason, ""), now).await?;
    Ok(())
}
