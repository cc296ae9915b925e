//! Satisfaction surveys (CSAT): after a resolution, the requester is asked "How did we do?" by
//! mail — five links, one per score, each opening a page to send it — and in the portal. The link
//! is single-use and expires; only its SHA-256 is kept. The settings ([`SurveySettings`]) choose
//! the share of tickets asked, the delay, the expiry, a per-person cooldown, when a comment is
//! required and which scores open a follow-up task for the group's lead. Nobody is asked about a
//! ticket they resolved themselves.
//!
//! A page opened from a mail records nothing: mail scanners open every link in a message, so the
//! score is recorded by the page's button (a POST), never by following the link.

use crate::kernel::error::invalid;
use crate::settings::surveys::{SurveySettings, load as load_settings};
use crate::{App, AppError, AppResult, NewTicketInput};
use orion_domain::{Actor, FieldErrors, Role, Timestamp, UserId};
use orion_store::surveys::{self as store, SurveyRow};
use orion_store::timeline::{self, Recorded};
use orion_store::{Conn, groups, users};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// The job that sends one ticket's survey when its delay is over.
pub const SEND_JOB: &str = "survey.send";
const DAY: i64 = 86_400_000;

/// A survey as the requester's page and the ticket show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Survey {
    pub ticket: String,
    pub title: String,
    pub sent_at: String,
    pub expires_at: String,
    /// `open`, `answered` or `expired`
    pub state: String,
    /// 1–5 once answered
    pub score: Option<i64>,
    pub comment: String,
    pub answered_at: Option<String>,
    /// A comment is required for a score below this
    pub comment_required_below: i64,
    /// The task opened for the lead after a low score (staff only)
    pub follow_up: Option<String>,
}

/// `POST /api/v1/tickets/{number}/survey` (the requester) and the survey page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyAnswer {
    /// 1 (very poor) to 5 (excellent)
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 5)]
    pub score: Option<i64>,
    /// Required below the score the settings name
    #[schema(max_length = 4000)]
    pub comment: Option<String>,
}

/// Is this ticket in the sample? The same answer for the same ticket every time.
fn sampled(ticket_id: i64, percent: i64) -> bool {
    (ticket_id.unsigned_abs().wrapping_mul(2_654_435_761) % 100) < percent.clamp(0, 100) as u64
}

/// The subscriber: a resolved incident or service request is queued for its survey after the
/// delay (the job decides then whether to send it).
pub(crate) async fn react(c: &mut Conn<'_>, r: &Recorded) -> AppResult<()> {
    let restriction = r.entry.as_ref().is_some_and(|e| e.kind == "restricted" || e.kind == "unrestricted");
    if restriction && let Some(t) = r.ticket.as_deref() {
        store::restrict(c, t.id, t.visibility_group_id).await?;
        return Ok(());
    }
    if r.event != orion_domain::TicketEvent::Resolved {
        return Ok(());
    }
    let s = load_settings(c).await?;
    if !s.enabled || !sampled(r.ticket_id, s.sample_percent) {
        return Ok(());
    }
    let payload = json!({"ticket_id": r.ticket_id, "resolved_by": r.actor.as_ref().map(|a| a.id.0)}).to_string();
    let key = format!("{SEND_JOB}:{}", r.ticket_id);
    let due = r.at + s.delay_minutes * 60_000;
    let job = orion_store::jobs::NewJob {
        kind: SEND_JOB,
        payload: &payload,
        run_at: due,
        dedupe_key: Some(&key),
        max_attempts: 5,
    };
    // Resolved again within the delay (after a reopen): the pending job moves to the new time.
    orion_store::jobs::schedule(c, &job, &key, r.at).await?;
    Ok(())
}

fn view(
    row: &SurveyRow,
    t: &orion_store::tickets::TicketView,
    s: &SurveySettings,
    now: i64,
    follow_up: Option<String>,
) -> Survey {
    let state = match (row.answered_at, row.expires_at <= now) {
        (Some(_), _) => "answered",
        (None, true) => "expired",
        (None, false) => "open",
    };
    Survey {
        ticket: t.number.clone(),
        title: t.title.clone(),
        sent_at: Timestamp(row.sent_at).to_rfc3339(),
        expires_at: Timestamp(row.expires_at).to_rfc3339(),
        state: state.into(),
        score: row.score,
        comment: row.comment.clone(),
        answered_at: row.answered_at.map(|a| Timestamp(a).to_rfc3339()),
        comment_required_below: s.comment_required_below,
        follow_up,
    }
}

impl App {
    /// The `survey.send` job: sends a resolved ticket's survey unless it was reopened, has one
    /// already, its requester resolved it or was asked within the cooldown, or is inactive.
    pub async fn run_survey_job(&self, job: &orion_store::jobs::JobRow) -> crate::kernel::jobs::JobResult {
        let p: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
        let Some(ticket) = p["ticket_id"].as_i64() else { return Err("survey.send without ticket_id".into()) };
        self.send_survey(ticket, p["resolved_by"].as_i64()).await.map(|_| ()).map_err(|e| e.to_string())
    }

    /// Sends the survey of a resolved ticket now; returns whether it went out.
    pub async fn send_survey(&self, ticket_id: i64, resolved_by: Option<i64>) -> AppResult<bool> {
        let now = self.now();
        let mut tx = self.db.begin_background().await?;
        let mut c = tx.conn();
        let s = load_settings(&mut c).await?;
        let t = orion_store::tickets::get(&mut c, ticket_id).await?;
        let requester = users::get(&mut c, t.requester_id).await?;
        let asked_lately = match store::last_sent_to(&mut c, t.requester_id).await? {
            Some(at) => at > now - s.cooldown_days * DAY,
            None => false,
        };
        let resolved_own = resolved_by == Some(t.requester_id) || t.assignee_id == Some(t.requester_id);
        let kind_asked = t.kind == "incident" || t.kind == "service_request";
        if !s.enabled
            || (t.state != "resolved" && t.state != "closed")
            || !kind_asked
            || resolved_own
            || asked_lately
            || !requester.active
        {
            return Ok(false);
        }
        let token = crate::auth::new_token("srv_");
        let row = SurveyRow {
            id: 0,
            ticket_id: t.id,
            requester_id: t.requester_id,
            assignee_id: t.assignee_id,
            group_id: t.assignment_group_id,
            tier: t.assignment_group_tier,
            category_id: t.category_id,
            priority: t.priority,
            kind: t.kind.clone(),
            channel: t.channel.clone(),
            visibility_group_id: t.visibility_group_id,
            sent_at: now,
            expires_at: now + s.expiry_days * DAY,
            answered_at: None,
            score: None,
            comment: String::new(),
            followup_ticket_id: None,
        };
        if store::insert(&mut c, &row, &crate::auth::hash_token(&token)).await?.is_none() {
            return Ok(false);
        }
        let config = self.config(&mut c).await?;
        let portal = config.mail.portal_url.as_deref().map(|u| u.trim_end_matches('/').to_string());
        if let (Some(from), Some(portal)) = (config.mail.sender().map(str::to_string), portal) {
            let ctx = json!({
                "requester": {"name": requester.name, "email": requester.email},
                "ticket": {"number": t.number, "title": t.title},
                "survey_url": format!("{portal}/survey/{token}"),
                "expires_on": Timestamp(row.expires_at).to_rfc3339()[..10].to_string(),
                "helpdesk": {"name": config.mail.from_name, "address": from},
            });
            let mail = crate::sending::PlainMail {
                template: "survey",
                from_name: &config.mail.from_name,
                from: &from,
                to: &requester.email,
                ticket_id: Some(t.id),
                secret: true,
            };
            crate::sending::queue_plain_mail(&mut c, &self.mail_rt.templates, &mail, &ctx, now).await?;
        }
        self.commit(tx).await?;
        Ok(true)
    }

    /// The survey a link opens (anyone holding the link).
    pub async fn survey_by_link(&self, token: &str) -> AppResult<Survey> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let row = store::by_token(&mut c, &crate::auth::hash_token(token.trim()))
            .await?
            .ok_or(AppError::NotFound("survey"))?;
        let t = orion_store::tickets::get(&mut c, row.ticket_id).await?;
        let s = load_settings(&mut c).await?;
        Ok(view(&row, &t, &s, self.now(), None))
    }

    /// Records the answer a link's page sends: once, before the link expires.
    pub async fn answer_survey_by_link(&self, token: &str, input: SurveyAnswer) -> AppResult<Survey> {
        let row = {
            let mut r = self.db.read().await?;
            store::by_token(&mut r.conn(), &crate::auth::hash_token(token.trim()))
                .await?
                .ok_or(AppError::NotFound("survey"))?
        };
        self.answer(row, input).await
    }

    /// A ticket's survey: its requester sees their own, staff what they may see of the ticket.
    pub async fn ticket_survey(&self, actor: &Actor, number: &str) -> AppResult<Survey> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        let row = store::by_ticket(&mut c, t.id).await?.ok_or(AppError::NotFound("survey"))?;
        let s = load_settings(&mut c).await?;
        let follow_up = match row.followup_ticket_id.filter(|_| actor.can_work_tickets()) {
            Some(id) => Some(orion_store::tickets::get(&mut c, id).await?.number),
            None => None,
        };
        Ok(view(&row, &t, &s, self.now(), follow_up))
    }

    /// The requester answers their ticket's survey (the portal).
    pub async fn answer_ticket_survey(&self, actor: &Actor, number: &str, input: SurveyAnswer) -> AppResult<Survey> {
        let row = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let t = crate::tickets::load_visible(&mut c, actor, number).await?;
            if t.requester_id != actor.id.0 {
                return Err(AppError::Forbidden("only the requester answers the survey".into()));
            }
            store::by_ticket(&mut c, t.id).await?.ok_or(AppError::NotFound("survey"))?
        };
        self.answer(row, input).await
    }

    async fn answer(&self, row: SurveyRow, input: SurveyAnswer) -> AppResult<Survey> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let s = load_settings(&mut c).await?;
        let mut errs = FieldErrors::new();
        let score = match input.score {
            Some(n) if (1..=5).contains(&n) => Some(n),
            Some(_) => {
                errs.push("score", "must be 1 to 5 stars");
                None
            }
            None => {
                errs.push("score", "is required: choose 1 to 5 stars");
                None
            }
        };
        let comment = input.comment.as_deref().unwrap_or("").trim().to_string();
        if comment.chars().count() > 4000 {
            errs.push("comment", "must be at most 4000 characters");
        }
        if let Some(n) = score
            && n < s.comment_required_below
            && comment.is_empty()
        {
            errs.push(
                "comment",
                format!("please tell us what went wrong (required below {} stars)", s.comment_required_below),
            );
        }
        errs.into_result()?;
        let Some(score) = score else { return Err(AppError::Internal("validated input incomplete".into())) };
        if row.answered_at.is_some() {
            return Err(AppError::Conflict("this survey was answered already; thank you".into()));
        }
        if row.expires_at <= now {
            return Err(AppError::Conflict("this survey link has expired".into()));
        }
        if !store::answer(&mut c, row.id, score, &comment, now).await? {
            return Err(AppError::Conflict("this survey was answered already; thank you".into()));
        }
        let t = orion_store::tickets::get(&mut c, row.ticket_id).await?;
        let body = if comment.is_empty() {
            format!("Rated the support {score} of 5 stars.")
        } else {
            format!("Rated the support {score} of 5 stars: {comment}")
        };
        let data = json!({"score": score}).to_string();
        let entry = timeline::NewEntry {
            ticket_id: t.id,
            at: now,
            actor_id: Some(row.requester_id),
            kind: "survey_answered",
            visibility: "internal",
            body: &body,
            data: &data,
        };
        timeline::append(&mut c, &entry).await?;
        self.commit(tx).await?;
        let mut answered = row.clone();
        answered.answered_at = Some(now);
        answered.score = Some(score);
        answered.comment = comment.clone();
        if score <= s.follow_up_at_or_below {
            answered.followup_ticket_id = self.follow_up(&answered, &t, score, &comment).await?;
        }
        Ok(view(&answered, &t, &s, now, None))
    }

    /// Opens the follow-up task after a low score: a service request in the ticket's group,
    /// assigned to the group's lead (or, without one, the agent who had the ticket).
    async fn follow_up(
        &self,
        row: &SurveyRow,
        t: &orion_store::tickets::TicketView,
        score: i64,
        comment: &str,
    ) -> AppResult<Option<i64>> {
        let (lead, group) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let g = groups::get(&mut c, row.group_id).await?;
            let who = match g.lead_id.or(row.assignee_id) {
                Some(id) => Some(users::get(&mut c, id).await?),
                None => None,
            };
            (who, g.name)
        };
        let Some(lead) = lead.filter(|u| u.active) else { return Ok(None) };
        let actor = Actor { id: UserId(lead.id), role: Role::parse("role", &lead.role)? };
        if !actor.can_work_tickets() {
            return Ok(None);
        }
        let said = if comment.is_empty() { "no comment".to_string() } else { format!("“{comment}”") };
        let input = NewTicketInput {
            kind: Some("service_request".into()),
            title: Some(format!("Follow up a low satisfaction score on {}: {score} of 5", t.number)),
            description: Some(format!(
                "{} rated the support on {} “{}” {score} of 5 stars ({said}).\n\nCall them back, find out what went wrong and note what was done.",
                t.requester_name, t.number, t.title
            )),
            impact: Some(3),
            urgency: Some(2),
            requester: Some(lead.email.clone()),
            channel: Some("api".into()),
            assignment_group: Some(group),
            assignee: Some(lead.email.clone()),
            ..Default::default()
        };
        let task = self.create_ticket(&actor, input).await?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let id = orion_store::tickets::get_by_number(&mut c, &task.number).await?.id;
        store::set_followup(&mut c, row.id, id).await?;
        self.commit(tx).await?;
        Ok(Some(id))
    }
}

/// Checks a link before it reaches the store (a link is `srv_` and 64 hex characters).
pub fn plausible_link(token: &str) -> AppResult<()> {
    let t = token.trim();
    if t.len() == 68 && t.starts_with("srv_") && t[4..].bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(invalid("token", "is not a survey link"))
    }
}
