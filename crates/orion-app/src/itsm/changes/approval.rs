//! A change's approval rounds: who is asked, their decisions, and what a decided round moves.

use super::*;
use orion_domain::TicketEvent;
use orion_store::approvals;

impl App {
    /// An approver's decision in the current round. When the round is decided, a change waiting
    /// in approval moves on: approved to scheduled, rejected back to assessment.
    pub async fn decide_change(&self, actor: &Actor, number: &str, input: DecisionInput) -> AppResult<Change> {
        require_staff(actor, "approve changes")?;
        let decision = match input.decision.trim() {
            "approved" | "approve" => "approved",
            "rejected" | "reject" => "rejected",
            other => return Err(invalid("decision", format!("must be approved or rejected, not {other:?}"))),
        };
        let comment = input.comment.as_deref().map(str::trim).unwrap_or("").to_string();
        if decision == "rejected" && comment.is_empty() {
            return Err(invalid("comment", "say why the change is rejected"));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_kind(&mut c, number, TicketKind::Change).await?;
        let mut r = store::get_change(&mut c, t.id).await?;
        if r.approval.as_deref() != Some("pending") || change_is_final(&r.phase) && r.change_type != "emergency" {
            return Err(AppError::Conflict(format!("{} is not waiting for approval", t.number)));
        }
        let Some(mine) = approvals::undecided(&mut c, r.ticket_id, r.approval_round, actor.id.0).await? else {
            return Err(AppError::Forbidden(format!("you are not an approver of {} who has yet to decide", t.number)));
        };
        approvals::decide(&mut c, mine.id, (decision, &comment, "console"), now).await?;
        let round: Vec<_> = approvals::of_ticket(&mut c, r.ticket_id)
            .await?
            .into_iter()
            .filter(|a| a.round == r.approval_round)
            .collect();
        let yes = round.iter().filter(|a| a.decision.as_deref() == Some("approved")).count();
        let no = round.iter().filter(|a| a.decision.as_deref() == Some("rejected")).count();
        let result = tally(&r.approval_rule, round.len(), yes, no);
        note_on(
            &mut c,
            t.id,
            now,
            actor,
            "approval_decided",
            json!({"decision": decision, "comment": comment, "round": r.approval_round, "approved": yes,
                   "rejected": no, "approvers": round.len(), "rule": r.approval_rule}),
        )
        .await?;
        let from = r.phase.clone();
        let to = match (result, from.as_str()) {
            (Tally::Approved, "approval") => Some("scheduled"),
            (Tally::Rejected, "approval") => Some("assessment"),
            _ => None,
        };
        match result {
            Tally::Approved => r.approval = Some("approved".into()),
            Tally::Rejected => r.approval = Some("rejected".into()),
            Tally::Pending => {}
        }
        if let Some(to) = to {
            r.phase = to.to_string();
        }
        if !store::update_change(&mut c, &r).await? {
            return Err(stale(&t));
        }
        let t = match (to, result) {
            (Some(to), _) => {
                let entry = Entry {
                    kind: "phase_changed",
                    visibility: Visibility::Internal,
                    body: "",
                    data: json!({"from": from, "to": to, "approval": r.approval}),
                    event: TicketEvent::PhaseChanged,
                };
                set_core_state(&mut c, &mut t, change_core_state(to), actor, now, entry).await?
            }
            (None, Tally::Pending) => t,
            (None, _) => {
                let entry = Entry {
                    kind: "approval_completed",
                    visibility: Visibility::Internal,
                    body: "",
                    data: json!({"approval": r.approval, "after_the_fact": true}),
                    event: TicketEvent::ApprovalDecided,
                };
                tickets::save(&mut c, &mut t, now, Some(actor), entry).await?
            }
        };
        let out = view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    /// The changes waiting for the caller's decision.
    pub async fn my_approvals(&self, actor: &Actor) -> AppResult<Vec<AwaitingApproval>> {
        require_staff(actor, "approve changes")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let ids = store::awaiting(&mut c, actor.id.0, 500).await?;
        let mut out = Vec::new();
        for row in store::get_changes(&mut c, &ids).await? {
            let t = orion_store::tickets::get(&mut c, row.ticket_id).await?;
            out.push(AwaitingApproval {
                number: t.number,
                title: t.title,
                change_type: row.change_type,
                phase: row.phase,
                risk: row.risk,
                planned_start: row.planned_start.map(ts),
                planned_end: row.planned_end.map(ts),
                requested_by: t.requester_name,
            });
        }
        Ok(out)
    }
}

/// Opens a new approval round with the nominated approvers and the CAB group's members.
pub(super) async fn open_round(c: &mut Conn<'_>, r: &mut ChangeRow) -> AppResult<Vec<i64>> {
    let mut who: Vec<i64> =
        approvals::of_ticket(c, r.ticket_id).await?.into_iter().filter(|a| a.round == 0).map(|a| a.user_id).collect();
    if let Some(g) = r.cab_group_id {
        for id in orion_store::groups::member_ids(c, g).await? {
            let u = orion_store::users::get(c, id).await?;
            if u.active && !who.contains(&id) {
                who.push(id);
            }
        }
    }
    if who.is_empty() {
        return Err(invalid("approvers", "name approvers or a CAB group before asking for approval"));
    }
    r.approval_round += 1;
    r.approval = Some("pending".into());
    for id in &who {
        approvals::ask(c, r.ticket_id, r.approval_round, *id, None).await?;
    }
    Ok(who)
}

pub(super) async fn approver_emails(c: &mut Conn<'_>, ids: &[i64]) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    for id in ids {
        out.push(orion_store::users::get(c, *id).await?.email);
    }
    Ok(out)
}
