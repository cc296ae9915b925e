//! Routing rules marked "also when a ticket changes": after a person changed an open ticket or
//! replied on it, the `routing.recheck` job checks those rules against the ticket as it is now
//! (its title and the new reply or note as the text) and writes what they change, as Orion: the
//! fields with their entries, tags, a restriction, work notes, people to tell, and one
//! `rule_fired` entry per rule that changed something. A rule that matches but finds everything
//! as it would set it writes nothing, so a rule never fires twice for the same state.

use super::*;
use crate::App;
use crate::routing::{Arrival, Chosen, Draft, Firing, route};
use crate::settings::Config;
use orion_store::categories;

/// The job that checks the "also when a ticket changes" rules after a change.
pub const RECHECK_JOB: &str = "routing.recheck";

/// Queues the check of the rules after a person changed a ticket (the routing rules' reaction to
/// ticket events); only when some active rule asks for it, so without such rules a change costs
/// nothing more. Orion's own changes (a rule's among them) are not checked again.
pub(crate) async fn react(c: &mut Conn<'_>, config: &Config, r: &timeline::Recorded) -> AppResult<()> {
    if r.actor.is_none() || !config.rules.iter().any(|x| x.on_update) {
        return Ok(());
    }
    let relevant = matches!(
        r.event,
        TicketEvent::FieldsChanged { .. }
            | TicketEvent::StateChanged { .. }
            | TicketEvent::Commented { .. }
            | TicketEvent::Escalated { .. }
            | TicketEvent::Reopened { .. }
    );
    let Some(entry) = r.entry.as_ref().filter(|_| relevant) else { return Ok(()) };
    let payload = json!({"ticket_id": r.ticket_id, "entry_id": entry.id}).to_string();
    let key = format!("{RECHECK_JOB}:{}", entry.id);
    let job = orion_store::jobs::NewJob {
        kind: RECHECK_JOB,
        payload: &payload,
        run_at: r.at,
        dedupe_key: Some(&key),
        max_attempts: 5,
    };
    orion_store::jobs::enqueue(c, &job, r.at).await?;
    Ok(())
}

/// Checks the "also when a ticket changes" rules against ticket `ticket_id` after its entry
/// `entry_id`, and writes what they change. Returns the rules that changed something.
pub(crate) async fn recheck(
    c: &mut Conn<'_>,
    config: &Config,
    (ticket_id, entry_id): (i64, i64),
    now: i64,
) -> AppResult<Vec<Firing>> {
    let mut t = tickets::get(c, ticket_id).await?;
    let state = state_of(&t)?;
    if !state.is_open() || !config.rules.iter().any(|x| x.on_update) {
        return Ok(Vec::new());
    }
    let requester = users::get(c, t.requester_id).await?;
    let entry = timeline::list(c, t.id, true, Some(entry_id - 1), 1).await?.into_iter().next();
    let body = entry.filter(|e| e.id == entry_id).map(|e| e.body).unwrap_or_default();
    let group = groups::get(c, t.assignment_group_id).await?;
    let assignee = match t.assignee_id {
        Some(a) => Some(users::get(c, a).await?),
        None => None,
    };
    let category = match t.category_path.as_deref() {
        Some(p) => categories::find_by_path(c, p).await?,
        None => None,
    };
    let impact = Level::parse("impact", t.impact)?;
    let urgency = Level::parse("urgency", t.urgency)?;
    let tags_before = t.tag_list();
    let restricted_before = t.visibility_group_id;
    let mut d = Draft {
        assignee,
        category,
        tags: tags_before.clone(),
        chosen: Chosen::default(),
        ..Draft::new(group, impact, urgency)
    };
    d.restrict = match t.visibility_group_id {
        Some(g) => Some(groups::get(c, g).await?),
        None => None,
    };
    let arrival = Arrival {
        channel: &t.channel,
        sender: &requester.email,
        mailbox: None,
        subject: &t.title,
        body: &body,
        department: requester.department.as_deref(),
        vip: requester.vip,
        assets: Vec::new(),
        at: now,
        changed: true,
    };
    route(config, &arrival, &mut d);
    if d.fired.is_empty() {
        return Ok(Vec::new());
    }

    // What differs from the ticket as it is.
    let before = t.clone();
    let mut changes = Vec::new();
    let mut change = |field: &str, from: serde_json::Value, to: serde_json::Value| {
        if from != to {
            changes.push(json!({"field": field, "from": from, "to": to}));
        }
    };
    if d.group.id != t.assignment_group_id {
        change("assignment_group", json!(t.assignment_group_name), json!(d.group.name));
        t.assignment_group_id = d.group.id;
        t.assignment_group_name = d.group.name.clone();
        t.assignment_group_tier = d.group.tier;
    }
    let new_assignee = d.assignee.as_ref().map(|u| u.id);
    if new_assignee != t.assignee_id {
        change("assignee", json!(t.assignee_email), json!(d.assignee.as_ref().map(|u| &u.email)));
        t.assignee_id = new_assignee;
        t.assignee_email = d.assignee.as_ref().map(|u| u.email.clone());
    }
    let new_category = d.category.as_ref().map(|c| c.id);
    if new_category != t.category_id {
        change("category", json!(t.category_path), json!(d.category.as_ref().map(|c| &c.path)));
        t.category_id = new_category;
        t.category_path = d.category.as_ref().map(|c| c.path.clone());
    }
    let (i, u) = (i64::from(d.impact.get()), i64::from(d.urgency.get()));
    if (i, u) != (t.impact, t.urgency) {
        let prio = config.matrix.priority(d.impact, d.urgency);
        change("impact", json!(t.impact), json!(i));
        change("urgency", json!(t.urgency), json!(u));
        change("priority", json!(format!("P{}", t.priority)), json!(prio.to_string()));
        t.impact = i;
        t.urgency = u;
        t.priority = i64::from(prio.get());
    }
    // An assignee follows the group: none, and the ticket back to New; one, and a new ticket is Assigned.
    let mut to_state = state;
    if t.assignee_id.is_none() && state.needs_assignee() {
        to_state = State::New;
    } else if t.assignee_id.is_some() && state == State::New && !matches!(t.kind.as_str(), "problem" | "change") {
        to_state = State::Assigned;
    }
    let restrict = d.restrict.as_ref().map(|g| (g.id, g.name.clone()));
    let restricted = restrict.as_ref().map(|(id, _)| *id) != restricted_before;
    if restricted {
        t.visibility_group_id = restrict.as_ref().map(|(id, _)| *id);
        t.visibility_group_name = restrict.as_ref().map(|(_, n)| n.clone());
    }
    let new_tags: Vec<String> = d.tags.iter().filter(|x| !tags_before.contains(x)).cloned().collect();
    if changes.is_empty() && to_state == state && !restricted && new_tags.is_empty() && d.notes.is_empty() {
        // Everything is as the rules would set it: nothing to write, nobody to tell again.
        return Ok(Vec::new());
    }
    let stamp = || Stamp { ticket_id: t.id, at: now, actor: None };
    if !changes.is_empty() || to_state != state || restricted {
        t.state = to_state.as_str().to_string();
        t.updated_at = now;
        tickets::update(c, &t).await?;
        let view = tickets::get(c, t.id).await?;
        if !changes.is_empty() {
            let event = TicketEvent::FieldsChanged { priority_changed: t.priority != before.priority };
            let what = ("fields_changed", Visibility::Internal, "");
            record(c, stamp(), what, json!({ "changes": changes }), event, Some(&view)).await?;
        }
        if to_state != state {
            let data = json!({"from": state.as_str(), "to": to_state.as_str(), "pending_reason": t.pending_reason});
            let event = TicketEvent::StateChanged { from: state, to: to_state };
            record(c, stamp(), ("state_changed", Visibility::Public, ""), data, event, Some(&view)).await?;
        }
        t = view;
    }
    if !new_tags.is_empty() {
        tickets::add_tags(c, t.id, &new_tags).await?;
    }
    let routed = Routed {
        restrict: if restricted { restrict } else { None },
        tags: Vec::new(),
        fired: std::mem::take(&mut d.fired),
        notes: std::mem::take(&mut d.notes),
        notify: std::mem::take(&mut d.notify),
        auto_reply: None,
    };
    let fired = routed.fired.clone();
    super::open::write_rule_outcome(c, (t.id, &t.number, &t.title), &routed, now).await?;
    Ok(fired)
}

impl App {
    /// The `routing.recheck` job: the "also when a ticket changes" rules after a person's change.
    pub async fn recheck_rules_job(&self, job: &orion_store::jobs::JobRow) -> crate::kernel::jobs::JobResult {
        let p: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
        let (Some(ticket), Some(entry)) = (p["ticket_id"].as_i64(), p["entry_id"].as_i64()) else {
            return Err("routing.recheck without ticket_id and entry_id".into());
        };
        self.recheck_rules(ticket, entry).await.map(|_| ()).map_err(|e| e.to_string())
    }

    /// Checks the "also when a ticket changes" rules against a ticket after its entry `entry`;
    /// returns the rules that changed something.
    pub(crate) async fn recheck_rules(&self, ticket: i64, entry: i64) -> AppResult<Vec<Firing>> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let config = self.config(&mut tx.conn()).await?;
        let fired = recheck(&mut tx.conn(), &config, (ticket, entry), now).await?;
        self.commit(tx).await?;
        Ok(fired)
    }
}
