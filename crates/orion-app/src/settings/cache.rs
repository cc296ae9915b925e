//! A short-lived, per-node cache of the configuration every new ticket reads:
//! the priority matrix, the groups, the SLA policies and the mail settings. Logging a ticket is the hottest write;
//! this saves it two queries. Changes made on this node apply at once; changes
//! made on another node within `TTL`.

use super::priority_matrix;
use crate::{App, AppResult};
use orion_domain::PriorityMatrix;
use orion_store::{Conn, groups};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(2);

pub(crate) struct Config {
    pub matrix: PriorityMatrix,
    /// Every group, active or not, by tier then name.
    pub groups: Vec<groups::GroupRow>,
    /// Active SLA policies in matching order.
    pub policies: Vec<super::sla::PolicyDef>,
    /// How mail is taken and sent.
    pub mail: super::mail::MailSettings,
    /// Sign-in, session and password rules.
    pub security: crate::signin::SecuritySettings,
    /// The enabled webhooks (every timeline entry is offered to them).
    pub webhooks: Vec<orion_store::webhooks::WebhookRow>,
    /// Mail templates edited in the console, by name (the rest come from files or are built in).
    pub mail_templates: std::collections::HashMap<String, String>,
    /// The groups with a member who asked to hear of tickets arriving there (so a new ticket in any
    /// other group looks up no one).
    pub group_listeners: Vec<i64>,
    /// The active routing rules in evaluation order (empty: creating a ticket reads nothing more).
    pub rules: Vec<ActiveRule>,
}

/// A routing rule ready to evaluate: its conditions prepared, the category and people its
/// actions name found when the rules were loaded, so that checking a new ticket reads nothing.
pub(crate) struct ActiveRule {
    pub name: String,
    pub stop: bool,
    /// Also checked when a person changes an open ticket or replies on it
    pub on_update: bool,
    pub conditions: orion_domain::routing::Prepared,
    pub actions: orion_domain::routing::Actions,
    /// The category `actions.category` names, if it is still active
    pub category: Option<orion_store::categories::CategoryRow>,
    /// The agent `actions.assignee` names, if still active, with the ids of their groups
    pub assignee: Option<(orion_store::users::UserRow, Vec<i64>)>,
    /// The active people `actions.notify` names: (id, name)
    pub notify: Vec<(i64, String)>,
}

/// The active rules; one whose JSON no longer reads is skipped with a warning.
async fn load_rules(conn: &mut Conn<'_>) -> AppResult<Vec<ActiveRule>> {
    use orion_domain::routing::{Actions, Conditions};
    use orion_store::{categories, users};
    let mut out = Vec::new();
    for row in orion_store::routing::list(conn).await?.into_iter().filter(|r| r.active) {
        let parsed: (Result<Conditions, _>, Result<Actions, _>) =
            (serde_json::from_str(&row.conditions), serde_json::from_str(&row.actions));
        let (Ok(conditions), Ok(actions)) = parsed else {
            tracing::warn!(rule = %row.name, "skipping routing rule: its conditions or actions are unreadable");
            continue;
        };
        let category = match actions.category.as_deref() {
            Some(p) => categories::find_by_path(conn, p).await?.filter(|c| c.active),
            None => None,
        };
        let assignee = match actions.assignee.as_deref() {
            Some(e) => match users::find_by_email(conn, &e.to_lowercase()).await?.filter(|u| u.active) {
                Some(u) => {
                    let groups = groups::group_ids_of(conn, u.id).await?;
                    Some((u, groups))
                }
                None => None,
            },
            None => None,
        };
        let mut notify = Vec::new();
        for e in &actions.notify {
            if let Some(u) = users::find_by_email(conn, &e.to_lowercase()).await?.filter(|u| u.active) {
                notify.push((u.id, u.name));
            }
        }
        out.push(ActiveRule {
            name: row.name,
            stop: row.stop,
            on_update: row.on_update,
            conditions: conditions.prepare(),
            actions,
            category,
            assignee,
            notify,
        });
    }
    Ok(out)
}

impl Config {
    /// An active group by case-insensitive name.
    pub fn active_group(&self, name: &str) -> Option<&groups::GroupRow> {
        let name = name.trim();
        self.groups.iter().find(|g| g.active && g.name.eq_ignore_ascii_case(name))
    }

    /// The SLA policy called `name` (any case).
    pub fn policy(&self, name: &str) -> Option<&super::sla::PolicyDef> {
        self.policies.iter().find(|p| p.policy.name.eq_ignore_ascii_case(name.trim()))
    }

    /// Where new tickets go by default.
    pub fn default_group(&self) -> Option<&groups::GroupRow> {
        service_desk(&self.groups)
    }
}

/// The group new tickets go to when none is named: the first active group of the lowest tier.
pub(crate) fn service_desk(groups: &[groups::GroupRow]) -> Option<&groups::GroupRow> {
    groups.iter().filter(|g| g.active).min_by_key(|g| (g.tier, g.id))
}

#[derive(Default)]
pub(crate) struct ConfigCache {
    slot: Mutex<Option<(Instant, Arc<Config>)>>,
}

impl App {
    pub(crate) async fn config(&self, conn: &mut Conn<'_>) -> AppResult<Arc<Config>> {
        self.config.get(conn).await
    }

    /// Forgets the cached configuration (after a group or the matrix changed here).
    pub(crate) fn invalidate_config(&self) {
        self.config.invalidate();
    }
}

impl ConfigCache {
    pub(crate) async fn get(&self, conn: &mut Conn<'_>) -> AppResult<Arc<Config>> {
        if let Ok(slot) = self.slot.lock()
            && let Some((at, cfg)) = slot.as_ref()
            && at.elapsed() < TTL
        {
            return Ok(cfg.clone());
        }
        let cfg = Arc::new(Config {
            matrix: priority_matrix(conn).await?,
            groups: groups::list(conn).await?,
            policies: super::sla::load_policies(conn).await?,
            mail: super::mail::load_settings(conn).await?,
            security: crate::signin::load_settings(conn).await?,
            webhooks: orion_store::webhooks::enabled(conn).await?,
            mail_templates: crate::sending::edited_templates(conn).await?,
            rules: load_rules(conn).await?,
            group_listeners: orion_store::desk::groups_with_listeners(conn).await?,
        });
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((Instant::now(), cfg.clone()));
        }
        Ok(cfg)
    }

    fn invalidate(&self) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = None;
        }
    }
}
