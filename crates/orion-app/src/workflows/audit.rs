//! The record of a workflow for an audit: who started it, each task with who did it, when and
//! what they recorded (the asset handed out, the condition of each one taken back), what Orion
//! saw of the person when it closed, and who closed it — with a lead's exception if there was one.
//! As data (the console's printable page) and as CSV.

use super::Workflow;
use crate::kernel::access::require_staff;
use crate::kernel::error::found;
use crate::{App, AppError, AppResult};
use orion_domain::Actor;
use orion_domain::Timestamp;
use orion_domain::asset::spreadsheet_safe;
use orion_store::workflows as store;
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// One line of the record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditLine {
    /// RFC 3339
    pub at: String,
    /// Who did it (name and e-mail), or `Orion`
    pub who: String,
    /// What happened, in a sentence
    pub what: String,
    /// The task ticket it was done on
    pub ticket: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkflowAudit {
    pub workflow: Workflow,
    /// Oldest first
    pub lines: Vec<AuditLine>,
    /// What Orion sees of the person now: the account, the groups, what they hold
    pub evidence: Vec<String>,
}

impl App {
    /// A workflow's record for an audit (staff), oldest first.
    pub async fn workflow_audit(&self, actor: &Actor, id: i64) -> AppResult<WorkflowAudit> {
        require_staff(actor, "see joiners, movers and leavers")?;
        let workflow = self.workflow(actor, id).await?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let w = found(store::get(&mut c, id).await, "workflow")?;
        let rows = store::tasks_of(&mut c, id).await?;
        let mut names: HashMap<i64, String> = HashMap::new();
        let ids = rows.iter().filter_map(|t| t.done_by).chain(w.created_by).chain(w.closed_by).collect::<Vec<_>>();
        for u in ids {
            if let std::collections::hash_map::Entry::Vacant(e) = names.entry(u) {
                let user = orion_store::users::get(&mut c, u).await?;
                e.insert(format!("{} <{}>", user.name, user.email));
            }
        }
        let who = |u: Option<i64>| u.and_then(|u| names.get(&u).cloned()).unwrap_or_else(|| "Orion".into());
        let mut lines = vec![AuditLine {
            at: Timestamp(w.created_at).to_rfc3339(),
            who: who(w.created_by),
            what: format!(
                "started the {} of {} <{}>, {} {}",
                workflow.kind_label.to_lowercase(),
                w.person_name,
                w.person_email,
                workflow.date_name,
                w.anchor_day
            ),
            ticket: None,
        }];
        let numbers: HashMap<i64, String> =
            workflow.tasks.iter().zip(&rows).filter_map(|(v, r)| Some((r.ticket_id?, v.number.clone()?))).collect();
        let mut done: Vec<&store::TaskRow> = rows.iter().filter(|t| t.done_at.is_some()).collect();
        done.sort_by_key(|t| t.done_at);
        for t in done {
            let outcome = if t.outcome.is_empty() { String::new() } else { format!(": {}", t.outcome) };
            lines.push(AuditLine {
                at: Timestamp(t.done_at.unwrap_or(0)).to_rfc3339(),
                who: who(t.done_by),
                what: format!("completed “{}”{outcome}", t.title),
                ticket: t.ticket_id.and_then(|id| numbers.get(&id).cloned()),
            });
        }
        let person = orion_store::users::get(&mut c, w.person_id).await?;
        if let Some(at) = person.deactivated_at {
            let why = person.deactivated_reason.clone().map(|r| format!(" ({r})")).unwrap_or_default();
            lines.push(AuditLine {
                at: Timestamp(at).to_rfc3339(),
                who: "Orion".into(),
                what: format!("saw the account of {} disabled{why}", w.person_name),
                ticket: None,
            });
        }
        for t in rows.iter().filter(|t| t.state == "cancelled") {
            lines.push(AuditLine {
                at: Timestamp(w.closed_at.unwrap_or(w.updated_at)).to_rfc3339(),
                who: who(w.closed_by),
                what: format!("cancelled “{}” when closing", t.title),
                ticket: t.ticket_id.and_then(|id| numbers.get(&id).cloned()),
            });
        }
        if let Some(at) = w.closed_at {
            let what = match (&w.exception_reason, w.state.as_str()) {
                (Some(r), _) => format!("closed it by exception: {r}"),
                (None, "cancelled") => "cancelled it".to_string(),
                (None, _) => "closed it: everything seen done".to_string(),
            };
            lines.push(AuditLine { at: Timestamp(at).to_rfc3339(), who: who(w.closed_by), what, ticket: None });
        }
        lines.sort_by(|a, b| a.at.cmp(&b.at));
        let held = store::assets_held(&mut c, w.person_id).await?;
        let groups = store::groups_of(&mut c, w.person_id).await?;
        let seats = store::seats_held(&mut c, w.person_id).await?;
        let evidence = vec![
            if person.active { "The account is active.".to_string() } else { "The account is disabled.".to_string() },
            if groups.is_empty() {
                "A member of no group.".to_string()
            } else {
                format!("A member of {}.", groups.join(", "))
            },
            if held.is_empty() {
                "Holds no asset.".to_string()
            } else {
                let tags: Vec<String> =
                    held.iter().map(|a| a.asset_tag.clone().unwrap_or_else(|| a.name.clone())).collect();
                format!("Holds {}.", tags.join(", "))
            },
            if seats.is_empty() {
                "Has no licence seat.".to_string()
            } else {
                format!("Has a licence seat of {}.", seats.join(", "))
            },
        ];
        drop(r);
        Ok(WorkflowAudit { workflow, lines, evidence })
    }

    /// A workflow's record as CSV (staff): `at, who, what, ticket`, then what Orion sees now.
    pub async fn workflow_audit_csv(&self, actor: &Actor, id: i64) -> AppResult<String> {
        let a = self.workflow_audit(actor, id).await?;
        let io = |e: csv::Error| AppError::Internal(format!("writing CSV: {e}"));
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["at", "who", "what", "ticket"]).map_err(io)?;
        for l in &a.lines {
            let ticket = l.ticket.clone().unwrap_or_default();
            let cells = [&l.at, &l.who, &l.what, &ticket];
            w.write_record(cells.map(|c| spreadsheet_safe(c).into_owned())).map_err(io)?;
        }
        for e in &a.evidence {
            w.write_record(["", "Orion", &format!("sees now: {e}"), ""]).map_err(io)?;
        }
        let bytes = w.into_inner().map_err(|e| AppError::Internal(format!("writing CSV: {e}")))?;
        String::from_utf8(bytes).map_err(|e| AppError::Internal(e.to_string()))
    }
}
