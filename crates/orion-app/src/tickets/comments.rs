//! Replies, work notes, calls and e-mails on a ticket, and reading its timeline.

use super::*;

impl App {
    /// A public reply or an internal work note. A requester's reply to a ticket
    /// pending on them puts it back in the queue.
    pub async fn add_comment(&self, actor: &Actor, number: &str, mut input: CommentInput) -> AppResult<TimelineEntry> {
        let mut errs = FieldErrors::new();
        let mut files = Vec::new();
        for (i, a) in std::mem::take(&mut input.attachments).into_iter().enumerate() {
            match a.into_upload() {
                Some(f) => files.push(f),
                None => errs.push(format!("attachments[{i}].data_base64"), "is not valid base64"),
            }
        }
        errs.into_result()?;
        self.add_comment_with_files(actor, number, input, files).await
    }

    /// A comment with files attached (the web forms); without a text, the entry names the files.
    pub async fn add_comment_with_files(
        &self,
        actor: &Actor,
        number: &str,
        mut input: CommentInput,
        files: Vec<Upload>,
    ) -> AppResult<TimelineEntry> {
        let mut errs = FieldErrors::new();
        push_upload_errors(&mut errs, &files);
        if !files.is_empty() && input.body.as_deref().is_none_or(|b| b.trim().is_empty()) {
            let names: Vec<&str> = files.iter().map(|f| f.filename.as_str()).collect();
            input.body = Some(format!("Attached: {}", names.join(", ")));
        }
        let body = errs.check(required_text("body", input.body.as_deref().unwrap_or(""), TEXT_MAX));
        let visibility = match input.visibility.as_deref() {
            None => Some(Visibility::Public),
            Some(v) => errs.check(Visibility::parse("visibility", v)),
        };
        if visibility == Some(Visibility::Internal) && !actor.can_see_internal() {
            errs.push("visibility", "requesters can only add public comments");
        }
        if input.phone_call && !actor.can_work_tickets() {
            errs.push("phone_call", "only support staff log phone calls");
        }
        let minutes = time::check_minutes(&mut errs, "time_spent_minutes", input.time_spent_minutes);
        if minutes.is_some() && !actor.can_work_tickets() {
            errs.push("time_spent_minutes", "only support staff log time");
        }
        let mut cc = Vec::new();
        if !input.cc.is_empty()
            && (!actor.can_work_tickets() || visibility != Some(Visibility::Public) || input.phone_call)
        {
            errs.push("cc", "only support staff copy a public reply to others");
        }
        for (i, a) in input.cc.iter().enumerate() {
            if let Some(e) = errs.check(Email::parse(&format!("cc[{i}]"), a)) {
                cc.push(e.as_str().to_string());
            }
        }
        errs.into_result()?;
        let (Some(body), Some(visibility)) = (body, visibility) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = load_visible(&mut c, actor, number).await?;
        let state = state_of(&t)?;
        if state == State::Closed {
            return Err(AppError::Conflict(format!("{} is closed; open a new ticket", t.number)));
        }
        let kind = match (input.phone_call, visibility) {
            (true, _) => CommentKind::PhoneCall,
            (false, Visibility::Public) => CommentKind::Comment,
            (false, Visibility::Internal) => CommentKind::WorkNote,
        };
        let mut data = serde_json::Map::new();
        if !cc.is_empty() {
            data.insert("cc".into(), json!(cc));
        }
        let mut file_ids = Vec::new();
        if !files.is_empty() {
            let mut listed = Vec::new();
            for f in &files {
                let sha = orion_mail::sha256_hex(&f.bytes);
                orion_store::mail::put_blob(&mut c, &sha, &f.bytes, now).await?;
                let a = orion_store::mail::NewAttachment {
                    ticket_id: t.id,
                    entry_id: None,
                    filename: &f.filename,
                    content_type: &f.content_type,
                    size: f.bytes.len() as i64,
                    sha256: &sha,
                    content_id: None,
                    inline: false,
                };
                let id = orion_store::mail::add_attachment(&mut c, &a, now).await?;
                file_ids.push(id);
                listed.push(json!({"id": id, "filename": f.filename, "content_type": f.content_type,
                                   "size": f.bytes.len(), "inline": false}));
            }
            data.insert("attachments".into(), json!(listed));
        }
        let data = serde_json::Value::Object(data).to_string();
        let id = comment_in(&mut c, actor, &mut t, kind, visibility, &body, &data, now).await?;
        if !file_ids.is_empty() {
            orion_store::mail::attach_to_entry(&mut c, &file_ids, id).await?;
        }
        if let Some(m) = minutes {
            let work = match kind {
                CommentKind::PhoneCall => time::Work::Call,
                CommentKind::WorkNote => time::Work::Note,
                _ => time::Work::Reply,
            };
            time::log_in(&mut c, actor, &t, (work, m, ""), Some(id), now).await?;
        }
        let entry = timeline::list(&mut c, t.id, true, Some(id - 1), 1).await?;
        self.commit(tx).await?;
        entry.into_iter().next().map(TimelineEntry::from).ok_or(AppError::Internal("comment vanished".into()))
    }

    /// The ticket's version and its newest timeline entry's id (staff): two indexed look-ups that
    /// tell an open ticket page whether anything changed, without reading the timeline.
    pub async fn ticket_freshness(&self, actor: &Actor, number: &str) -> AppResult<(i64, i64)> {
        require_staff(actor, "follow tickets")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = load_visible(&mut c, actor, number).await?;
        Ok((t.version, timeline::last_id(&mut c, t.id).await?))
    }

    /// The whole timeline (at most `max` entries), oldest first; requesters see public entries only.
    pub async fn whole_timeline(&self, actor: &Actor, number: &str, max: usize) -> AppResult<Vec<TimelineEntry>> {
        let mut entries = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.timeline(actor, number, cursor.as_deref(), Some(PAGE_MAX)).await?;
            entries.extend(page.items);
            match page.next_cursor {
                Some(c) if entries.len() < max => cursor = Some(c),
                _ => return Ok(entries),
            }
        }
    }

    /// Oldest first; requesters see public entries only.
    pub async fn timeline(
        &self,
        actor: &Actor,
        number: &str,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<TimelineEntry>> {
        let limit = parse_limit(limit)?;
        let after = parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = load_visible(&mut c, actor, number).await?;
        let mut rows = timeline::list(&mut c, t.id, actor.can_see_internal(), after, limit + 1).await?;
        let next_cursor = keyset_cursor(&mut rows, limit, |e| e.id);
        let staff = actor.can_see_internal();
        let items = rows
            .into_iter()
            .map(|e| {
                let mut entry = TimelineEntry::from(e);
                // SLA targets are staff information, even on the public `created` entry.
                if !staff && let Some(data) = entry.data.as_object_mut() {
                    data.remove("sla");
                }
                entry
            })
            .collect();
        Ok(Page { items, next_cursor })
    }
}

/// Adds a comment-like entry (`comment`, `work_note`, `phone_call`, `email`) to an open ticket in the
/// caller's transaction: a requester's reply to a ticket pending on them puts it back in the queue.
/// (Subscribers count a public reply or call by staff for the SLA and mail it to the requester.)
/// Returns the entry's id.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn comment_in(
    c: &mut Conn<'_>,
    actor: &Actor,
    t: &mut TicketView,
    kind: CommentKind,
    visibility: Visibility,
    body: &str,
    data: &str,
    now: i64,
) -> AppResult<i64> {
    let state = state_of(t)?;
    let entry = timeline::NewEntry {
        ticket_id: t.id,
        at: now,
        actor_id: Some(actor.id.0),
        kind: kind.as_str(),
        visibility: visibility.as_str(),
        body,
        data,
    };
    let public = visibility == Visibility::Public;
    let event = TicketEvent::Commented { kind, public, by_staff: actor.can_work_tickets() };
    let id = timeline::append_event(c, &entry, Some(actor), event, Some(t)).await?;
    if state == State::Pending
        && t.pending_reason.as_deref() == Some(PendingReason::User.as_str())
        && actor.id.0 == t.requester_id
    {
        let to = State::after_reopen(t.assignee_id.is_some());
        t.state = to.as_str().to_string();
        t.pending_reason = None;
        t.updated_at = now;
        tickets::update(c, t).await?;
        let stamp = Stamp { ticket_id: t.id, at: now, actor: None };
        let what = ("state_changed", Visibility::Public, "The requester replied.");
        let data = json!({"from": "pending", "to": to.as_str(), "pending_reason": null});
        let event = TicketEvent::StateChanged { from: State::Pending, to };
        record(c, stamp, what, data, event, Some(t)).await?;
    } else {
        // Keep `updated_at` honest for queues sorted by activity.
        t.updated_at = now;
        tickets::update(c, t).await?;
    }
    Ok(id)
}
