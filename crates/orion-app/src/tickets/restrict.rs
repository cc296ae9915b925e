//! Restricting a ticket to a group (Security, HR) and tagging it. A restriction and every change
//! of it is on the ticket's timeline and in the security log, with who did it.

use super::*;
use orion_domain::routing::{fold_tag, fold_tags};

/// `PUT /api/v1/tickets/{number}/restriction`
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictionInput {
    /// The group to restrict the ticket to; left out, null or empty lifts the restriction
    pub group: Option<String>,
}

/// `POST /api/v1/tickets/{number}/tags`
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsInput {
    /// Tags to add (letters, digits, `-`, `_`, `.`, `/`; any case, stored in lower case)
    pub tags: Vec<String>,
}

impl App {
    /// Restricts a ticket to a group's members (and admins and the requester), or lifts the
    /// restriction. Staff who can see the ticket may restrict it — even to a group they are not
    /// in, handing it over; changing or lifting it takes a member of its group or an admin (who
    /// are the only staff who see it then).
    pub async fn restrict_ticket(&self, actor: &Actor, number: &str, input: RestrictionInput) -> AppResult<Ticket> {
        require_staff(actor, "restrict tickets")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_visible(&mut c, actor, number).await?;
        require_core_lifecycle(&t)?;
        let to = match input.group.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
            Some(g) => Some(group_by_name(&mut c, "group", g).await?),
            None => None,
        };
        if t.visibility_group_id == to.as_ref().map(|g| g.id) {
            return Ok(t.into());
        }
        let from = t.visibility_group_name.clone();
        t.visibility_group_id = to.as_ref().map(|g| g.id);
        t.visibility_group_name = to.as_ref().map(|g| g.name.clone());
        let (kind, data) = match (&to, &from) {
            (Some(g), _) => ("restricted", json!({"to": g.name, "from": from})),
            (None, _) => ("unrestricted", json!({"from": from})),
        };
        let entry = Entry { kind, visibility: Visibility::Internal, body: "", data, event: TicketEvent::Noted };
        let view = save(&mut c, &mut t, now, Some(actor), entry).await?;
        let detail = format!(
            "{} {} by user {} (before: {})",
            view.number,
            match &to {
                Some(g) => format!("restricted to {}", g.name),
                None => "no longer restricted".to_string(),
            },
            actor.id.0,
            from.as_deref().unwrap_or("not restricted"),
        );
        let e = orion_store::web::NewEvent {
            kind: if to.is_some() { "ticket_restricted" } else { "ticket_unrestricted" },
            user_id: Some(actor.id.0),
            email: None,
            ip: None,
            detail: &detail,
        };
        orion_store::web::log_event(&mut c, &e, now).await?;
        self.commit(tx).await?;
        Ok(view.into())
    }

    /// Adds tags to a ticket (staff); returns the ticket's tags.
    pub async fn tag_ticket(&self, actor: &Actor, number: &str, input: TagsInput) -> AppResult<Vec<String>> {
        require_staff(actor, "tag tickets")?;
        let mut errs = FieldErrors::new();
        let tags = fold_tags("tags", &input.tags, &mut errs);
        if input.tags.is_empty() {
            errs.push("tags", "name at least one tag");
        } else if input.tags.len() > 20 {
            errs.push("tags", "at most 20 tags at a time");
        }
        errs.into_result()?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = load_visible(&mut c, actor, number).await?;
        tag_in(&mut c, actor, t.id, &tags, now).await?;
        let all = tickets::tags(&mut c, t.id).await?;
        self.commit(tx).await?;
        Ok(all)
    }

    /// Removes a tag from a ticket (staff); returns the ticket's tags.
    pub async fn untag_ticket(&self, actor: &Actor, number: &str, tag: &str) -> AppResult<Vec<String>> {
        require_staff(actor, "tag tickets")?;
        let tag = fold_tag("tag", tag)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = load_visible(&mut c, actor, number).await?;
        if !tickets::remove_tag(&mut c, t.id, &tag).await? {
            return Err(AppError::NotFound("tag"));
        }
        let data = json!({"tags": [tag]}).to_string();
        let e = timeline::NewEntry {
            ticket_id: t.id,
            at: now,
            actor_id: Some(actor.id.0),
            kind: "untagged",
            visibility: "internal",
            body: "",
            data: &data,
        };
        timeline::append_event(&mut c, &e, Some(actor), TicketEvent::Noted, None).await?;
        let all = tickets::tags(&mut c, t.id).await?;
        self.commit(tx).await?;
        Ok(all)
    }
}

/// Adds tags (already folded) to a ticket inside the caller's transaction, with a `tagged` entry
/// naming those it did not have; returns them.
pub(crate) async fn tag_in(
    c: &mut Conn<'_>,
    actor: &Actor,
    ticket_id: i64,
    tags: &[String],
    now: i64,
) -> AppResult<Vec<String>> {
    let added = tickets::add_tags(c, ticket_id, tags).await?;
    if !added.is_empty() {
        let data = json!({"tags": added}).to_string();
        let e = timeline::NewEntry {
            ticket_id,
            at: now,
            actor_id: Some(actor.id.0),
            kind: "tagged",
            visibility: "internal",
            body: "",
            data: &data,
        };
        timeline::append_event(c, &e, Some(actor), TicketEvent::Noted, None).await?;
    }
    Ok(added)
}
