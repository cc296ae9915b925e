//! A user's notifications in the console, and how each person wants to hear of each kind of
//! notice (in the console, by mail, both or not at all). What raises them: the SLA timer, routing
//! rules and the desk's reaction to ticket events (`crate::desk`); one notice is delivered by
//! `crate::tickets::notify_user`.

use crate::kernel::access::require_staff;
use crate::{App, AppError, AppResult, Page};
use orion_domain::{Actor, Timestamp};
use orion_store::{desk as store, notifications};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    pub id: i64,
    /// `assigned`, `group`, `reply`, `mention`, `sla_warning`, `sla_breached`, `approval`,
    /// `followed`, `rule`
    pub kind: String,
    pub ticket: Option<String>,
    pub message: String,
    pub created_at: String,
    pub read: bool,
}

/// The job that mails one notice to an agent.
pub const AGENT_MAIL_JOB: &str = "mail.agent";

/// The kinds of notice, with the sentence a person reads in their preferences and the default
/// delivery. `digest` is the daily summary mail (mail or none).
pub const KINDS: &[(&str, &str, &str)] = &[
    ("assigned", "A ticket is assigned to me", "console"),
    ("group", "A ticket arrives in one of my groups (new, moved or escalated there)", "none"),
    ("reply", "The requester replies on a ticket assigned to me", "console"),
    ("mention", "Someone mentions me (@) in a work note", "both"),
    ("sla", "An SLA warning or breach on my ticket, or on my group's as its lead", "console"),
    ("approval", "A change waits for my approval", "both"),
    ("followed", "A ticket I follow changes", "console"),
    ("rule", "A routing rule tells me of a ticket", "console"),
    ("workflow", "A joiner's, mover's or leaver's day moves and my task with it", "both"),
    ("digest", "A summary of my open tickets and unread notices each morning, by mail", "none"),
];

pub(crate) const DELIVERIES: &[&str] = &["console", "mail", "both", "none"];

/// The default delivery of a kind.
pub(crate) fn default_of(kind: &str) -> &'static str {
    KINDS.iter().find(|(k, _, _)| *k == kind).map_or("console", |(_, _, d)| d)
}

/// One kind of notice and how the person hears of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Preference {
    /// `assigned`, `group`, `reply`, `mention`, `sla`, `approval`, `followed`, `rule`, `digest`
    pub kind: String,
    /// What it is, in a sentence
    pub label: String,
    /// `console`, `mail`, `both` or `none`
    pub delivery: String,
    /// Is this the default?
    pub default: bool,
}

/// `PUT /api/v1/me/notification-preferences`: kind → delivery (`console`, `mail`, `both`,
/// `none`, or `default`); kinds left out keep theirs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct PreferencesInput {
    pub deliveries: BTreeMap<String, String>,
}

/// The preference a stored notice kind follows (`sla_warning` and `sla_breached` follow `sla`).
pub(crate) fn preference_kind(kind: &str) -> &str {
    match kind {
        "sla_warning" | "sla_breached" => "sla",
        k => k,
    }
}

impl App {
    /// How the actor hears of each kind of notice.
    pub async fn notification_preferences(&self, actor: &Actor) -> AppResult<Vec<Preference>> {
        let mut r = self.db.read().await?;
        let set = store::preferences(&mut r.conn(), actor.id.0).await?;
        Ok(KINDS
            .iter()
            .filter(|(k, _, _)| actor.role.is_staff() || *k == "digest")
            .map(|(k, label, default)| {
                let chosen = set.iter().find(|(kind, _)| kind == k).map(|(_, d)| d.clone());
                Preference {
                    kind: k.to_string(),
                    label: label.to_string(),
                    default: chosen.is_none(),
                    delivery: chosen.unwrap_or_else(|| default.to_string()),
                }
            })
            .collect())
    }

    /// Changes how the actor hears of some kinds of notice (`default` goes back to the default).
    pub async fn set_notification_preferences(
        &self,
        actor: &Actor,
        input: PreferencesInput,
    ) -> AppResult<Vec<Preference>> {
        require_staff(actor, "choose how they are notified")?;
        let mut errs = orion_domain::FieldErrors::new();
        for (kind, delivery) in &input.deliveries {
            if !KINDS.iter().any(|(k, _, _)| k == kind) {
                let known: Vec<&str> = KINDS.iter().map(|(k, _, _)| *k).collect();
                errs.push(kind.clone(), format!("is not a kind of notice; the kinds are {}", known.join(", ")));
            } else if delivery != "default" && !DELIVERIES.contains(&delivery.as_str()) {
                errs.push(kind.clone(), "must be console, mail, both, none or default");
            } else if kind == "digest" && matches!(delivery.as_str(), "console" | "both") {
                errs.push(kind.clone(), "the digest is a mail: mail or none");
            }
        }
        errs.into_result()?;
        let mut tx = self.db.begin().await?;
        for (kind, delivery) in &input.deliveries {
            let d = (delivery != "default" && delivery != default_of(kind)).then_some(delivery.as_str());
            store::set_preference(&mut tx.conn(), actor.id.0, kind, d).await?;
        }
        tx.commit().await?;
        // The configuration cache knows which groups have listeners.
        self.invalidate_config();
        self.notification_preferences(actor).await
    }

    /// The caller's notifications, newest first.
    pub async fn my_notifications(
        &self,
        actor: &Actor,
        unread_only: bool,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<Notification>> {
        let limit = crate::kernel::paging::parse_limit(limit)?;
        let before = crate::kernel::paging::parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut rows = notifications::list(&mut r.conn(), actor.id.0, unread_only, before, limit + 1).await?;
        let next_cursor = crate::kernel::paging::keyset_cursor(&mut rows, limit, |n| n.id);
        let items = rows
            .into_iter()
            .map(|n| Notification {
                id: n.id,
                kind: n.kind,
                ticket: n.ticket_number,
                message: n.message,
                created_at: Timestamp(n.created_at).to_rfc3339(),
                read: n.read_at.is_some(),
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    pub async fn mark_notification_read(&self, actor: &Actor, id: i64) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        let done = notifications::mark_read(&mut tx.conn(), actor.id.0, id, self.now()).await?;
        self.commit(tx).await?;
        if done { Ok(()) } else { Err(AppError::NotFound("notification")) }
    }
}

/// The most unread notifications the bell counts (it shows "99+" beyond).
pub const UNREAD_CAP: i64 = 100;

impl App {
    /// How many of the caller's notifications are unread (at most [`UNREAD_CAP`]).
    pub async fn unread_notifications(&self, actor: &Actor) -> AppResult<i64> {
        let mut r = self.db.read().await?;
        Ok(notifications::count_unread(&mut r.conn(), actor.id.0, UNREAD_CAP).await?)
    }

    /// Marks all of the caller's notifications read; how many were unread.
    pub async fn mark_all_notifications_read(&self, actor: &Actor) -> AppResult<u64> {
        let mut tx = self.db.begin().await?;
        let n = notifications::mark_all_read(&mut tx.conn(), actor.id.0, self.now()).await?;
        self.commit(tx).await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_valid_default() {
        for (k, label, d) in KINDS {
            assert!(DELIVERIES.contains(d), "{k}");
            assert!(label.ends_with(|c: char| c.is_alphanumeric() || c == ')'), "{k}: {label}");
        }
    }
}
