//! Directory sync: users and their managers, roles and groups from LDAP and Active Directory.
//!
//! A run reads the whole directory (paged), computes what would change ([`plan`]), lets the
//! circuit breaker refuse it, and only then writes — in batches, so SQLite's single writer is
//! never held for long. Users are keyed by the directory's stable id, so a rename or a move keeps
//! the account and its history; a user gone from the directory or disabled there is deactivated
//! (never deleted) with the reason, their sessions and tokens end, and a hand-over task lists the
//! tickets and assets they held. Break-glass accounts are never touched, and no run deactivates or
//! demotes an admin. One node at a time runs a source (a lease in the database).

pub mod config;
pub mod ldap;
pub mod plan;
pub mod sso;

use crate::kernel::access::require_admin;
use crate::kernel::error::found;
use crate::{App, AppError, AppResult, NewTicketInput};
use config::{Checked, DirectorySourceInput, GroupRule, SourceConfig};
use orion_domain::{Actor, Role, Timestamp, UserId};
use orion_store::identity::{self as store, SourceRow, SyncedFields};
use orion_store::{groups, tokens, users, web};
use plan::{Op, Owner, SyncDiff};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;
use utoipa::ToSchema;

/// How long a run holds its source before another node may take it over.
const LEASE_MS: i64 = 30 * 60_000;
/// Writes per transaction when a run applies its changes.
const BATCH: usize = 250;
/// Tickets and assets listed in one hand-over task.
const HANDOVER_LIST: i64 = 100;
/// How far up a manager chain is followed.
const CHAIN_MAX: usize = 20;
/// The job a sync queues when it starts workflows: the people with a start or last day, and those
/// it disabled (the `workflows` module starts or moves their joiners and leavers).
pub const DATES_JOB: &str = "directory.dates";

/// A directory source as admins see it (never the secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DirectorySource {
    pub id: i64,
    pub name: String,
    pub position: i64,
    /// `openldap` or `active_directory`
    pub kind: String,
    pub url: String,
    pub starttls: bool,
    /// Whether a CA certificate is stored
    pub has_ca: bool,
    pub bind_dn: Option<String>,
    /// Whether a bind password is stored
    pub has_secret: bool,
    pub secret_file: Option<String>,
    pub base_dn: String,
    pub user_filter: String,
    pub attributes: config::AttributeMap,
    pub group_rules: Vec<GroupRule>,
    pub unmapped_users: String,
    pub max_disable_percent: i64,
    pub sync_minutes: i64,
    pub page_size: i64,
    pub handover_group: Option<String>,
    /// Joiners and leavers are started from the directory's days, their tasks going to this group
    pub workflow_group: Option<String>,
    pub enabled: bool,
    /// Users this source owns (active and deactivated)
    pub users: i64,
    pub running_on: Option<String>,
    pub next_run_at: Option<String>,
    pub last_run_at: Option<String>,
    pub last_ok_at: Option<String>,
    /// Why the last run failed or was refused (empty when it went through)
    pub last_error: Option<String>,
}

fn ts(t: Option<i64>) -> Option<String> {
    t.map(|t| Timestamp(t).to_rfc3339())
}

fn view(r: &SourceRow, cfg: &SourceConfig, users: i64, now: i64) -> DirectorySource {
    DirectorySource {
        id: r.id,
        name: r.name.clone(),
        position: r.position,
        kind: cfg.kind.as_str().into(),
        url: cfg.url.clone(),
        starttls: cfg.starttls,
        has_ca: cfg.ca_pem.is_some(),
        bind_dn: cfg.bind_dn.clone(),
        has_secret: r.secret.is_some(),
        secret_file: cfg.secret_file.clone(),
        base_dn: cfg.base_dn.clone(),
        user_filter: cfg.user_filter.clone(),
        attributes: cfg.attributes.clone(),
        group_rules: cfg.group_rules.clone(),
        unmapped_users: cfg.unmapped_users.clone(),
        max_disable_percent: cfg.max_disable_percent,
        sync_minutes: r.sync_minutes,
        page_size: i64::from(cfg.page_size),
        handover_group: cfg.handover_group.clone(),
        workflow_group: cfg.workflow_group.clone(),
        enabled: r.enabled,
        users,
        running_on: r.lease_owner.clone().filter(|_| r.lease_until > now),
        next_run_at: (r.enabled && r.sync_minutes > 0).then(|| Timestamp(r.next_run_at.max(now)).to_rfc3339()),
        last_run_at: ts(r.last_run_at),
        last_ok_at: ts(r.last_ok_at),
        last_error: r.last_error.clone(),
    }
}

/// `POST /api/v1/directory/sources/{id}/sync`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Compute and report the changes without writing them. Default false
    pub dry_run: Option<bool>,
    /// Go ahead although more users would be deactivated than the source allows (the admin has
    /// reviewed the dry run). Admins are never deactivated or demoted, confirmed or not
    pub confirm_mass_deactivation: Option<bool>,
}

/// One run of a source: what it changed (or would have), and how it ended.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DirectoryRun {
    pub id: i64,
    pub source_id: i64,
    pub started_at: String,
    pub finished_at: String,
    pub dry_run: bool,
    /// `schedule` or `manual`
    pub started_by: String,
    /// `applied`, `previewed` (dry run), `refused` (circuit breaker) or `failed`
    pub outcome: String,
    /// In words: what happened, or why it was refused or failed
    pub message: String,
    pub diff: SyncDiff,
}

impl DirectoryRun {
    fn from_row(r: store::RunRow) -> Self {
        Self {
            id: r.id,
            source_id: r.source_id,
            started_at: Timestamp(r.started_at).to_rfc3339(),
            finished_at: Timestamp(r.finished_at).to_rfc3339(),
            dry_run: r.dry_run,
            started_by: r.started_by,
            outcome: r.outcome,
            message: r.message,
            diff: serde_json::from_str(&r.diff).unwrap_or_default(),
        }
    }
}

/// A user's managers, nearest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ManagerLink {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub active: bool,
}

/// A change to the directory settings, in the security log (who changed what).
async fn log_change(c: &mut orion_store::Conn<'_>, actor: &Actor, detail: &str, now: i64) -> AppResult<()> {
    // The CLI acts as the server's operator, who is no user row.
    let (user_id, detail) = match actor_user(actor) {
        Some(id) => (Some(id), detail.to_string()),
        None => (None, format!("{detail} (by the operator, on the command line)")),
    };
    let e = web::NewEvent { kind: "directory_changed", user_id, email: None, ip: None, detail: &detail };
    Ok(web::log_event(c, &e, now).await?)
}

/// The user row behind an actor; none for the command line's operator.
fn actor_user(actor: &Actor) -> Option<i64> {
    (actor.id.0 > 0).then_some(actor.id.0)
}

fn admin_only(actor: &Actor) -> AppResult<()> {
    require_admin(actor, "manage directory sources")
}

fn name_taken(e: orion_store::StoreError) -> AppError {
    match e {
        orion_store::StoreError::Duplicate => crate::kernel::error::invalid("name", "another source has this name"),
        e => e.into(),
    }
}

impl App {
    pub async fn list_directory_sources(&self, actor: &Actor) -> AppResult<Vec<DirectorySource>> {
        admin_only(actor)?;
        let now = self.now();
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let rows = store::list_sources(&mut c).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let cfg = config::parse_stored(&row.settings)?;
            let n = store::count_users_of(&mut c, row.id).await?;
            out.push(view(&row, &cfg, n, now));
        }
        Ok(out)
    }

    pub async fn get_directory_source(&self, actor: &Actor, id: i64) -> AppResult<DirectorySource> {
        admin_only(actor)?;
        let now = self.now();
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let row = found(store::get_source(&mut c, id).await, "directory source")?;
        let cfg = config::parse_stored(&row.settings)?;
        let n = store::count_users_of(&mut c, row.id).await?;
        Ok(view(&row, &cfg, n, now))
    }

    async fn check_groups_exist(&self, checked: &Checked) -> AppResult<()> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let mut errs = orion_domain::FieldErrors::new();
        for (n, rule) in checked.config.group_rules.iter().enumerate() {
            if let Some(g) = rule.group.as_deref().map(str::trim).filter(|g| !g.is_empty())
                && !groups::find_by_name(&mut c, g).await?.is_some_and(|g| g.active)
            {
                errs.push(format!("group_rules[{n}].group"), format!("no active group named {g:?}"));
            }
        }
        if let Some(g) = &checked.config.handover_group
            && !groups::find_by_name(&mut c, g).await?.is_some_and(|g| g.active)
        {
            errs.push("handover_group", format!("no active group named {g:?}"));
        }
        if let Some(g) = &checked.config.workflow_group
            && !groups::find_by_name(&mut c, g).await?.is_some_and(|g| g.active)
        {
            errs.push("workflow_group", format!("no active group named {g:?}"));
        }
        Ok(errs.into_result()?)
    }

    pub async fn create_directory_source(
        &self,
        actor: &Actor,
        input: DirectorySourceInput,
    ) -> AppResult<DirectorySource> {
        admin_only(actor)?;
        let checked = config::check(&input, None)?;
        self.check_groups_exist(&checked).await?;
        let now = self.now();
        let settings = serde_json::to_string(&checked.config).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let position = match checked.position {
            Some(p) => p,
            None => store::list_sources(&mut c).await?.iter().map(|s| s.position + 1).max().unwrap_or(0),
        };
        let s = store::SourceSettings {
            name: &checked.name,
            position,
            settings: &settings,
            secret: checked.secret.as_deref(),
            sync_minutes: checked.sync_minutes,
            enabled: checked.enabled,
        };
        let id = store::insert_source(&mut c, &s, now).await.map_err(name_taken)?;
        let detail = format!("directory source {} added ({})", checked.name, checked.config.url);
        log_change(&mut c, actor, &detail, now).await?;
        let row = store::get_source(&mut c, id).await?;
        self.commit(tx).await?;
        tracing::info!(source = %checked.name, url = %checked.config.url, "directory source added");
        Ok(view(&row, &checked.config, 0, now))
    }

    /// Changes a source; settings left out keep their value, a left-out secret is kept.
    pub async fn update_directory_source(
        &self,
        actor: &Actor,
        id: i64,
        input: DirectorySourceInput,
    ) -> AppResult<DirectorySource> {
        admin_only(actor)?;
        let now = self.now();
        let existing = {
            let mut r = self.db.read().await?;
            found(store::get_source(&mut r.conn(), id).await, "directory source")?
        };
        let old = config::parse_stored(&existing.settings)?;
        let checked = config::check(
            &input,
            Some((&old, existing.secret.as_deref(), &existing.name, existing.sync_minutes, existing.enabled)),
        )?;
        self.check_groups_exist(&checked).await?;
        let settings = serde_json::to_string(&checked.config).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let s = store::SourceSettings {
            name: &checked.name,
            position: checked.position.unwrap_or(existing.position),
            settings: &settings,
            secret: checked.secret.as_deref(),
            sync_minutes: checked.sync_minutes,
            enabled: checked.enabled,
        };
        store::update_source(&mut c, id, &s, now).await.map_err(name_taken)?;
        let detail = format!("directory source {} changed", checked.name);
        log_change(&mut c, actor, &detail, now).await?;
        let row = store::get_source(&mut c, id).await?;
        let n = store::count_users_of(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(view(&row, &checked.config, n, now))
    }

    /// Removes a source. Its users stay, as local accounts.
    pub async fn delete_directory_source(&self, actor: &Actor, id: i64) -> AppResult<()> {
        admin_only(actor)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let row = found(store::get_source(&mut c, id).await, "directory source")?;
        store::delete_source(&mut c, id).await?;
        let detail = format!("directory source {} removed; its users stay as local accounts", row.name);
        log_change(&mut c, actor, &detail, now).await?;
        self.commit(tx).await?;
        Ok(())
    }

    pub async fn list_directory_runs(
        &self,
        actor: &Actor,
        source_id: i64,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<crate::Page<DirectoryRun>> {
        admin_only(actor)?;
        let before = crate::kernel::paging::parse_cursor(cursor)?;
        let limit = crate::kernel::paging::parse_limit(limit)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        found(store::get_source(&mut c, source_id).await, "directory source")?;
        let mut rows = store::list_runs(&mut c, source_id, before, limit + 1).await?;
        let next_cursor = crate::kernel::paging::keyset_cursor(&mut rows, limit, |r| r.id);
        Ok(crate::Page { items: rows.into_iter().map(DirectoryRun::from_row).collect(), next_cursor })
    }

    pub async fn get_directory_run(&self, actor: &Actor, run_id: i64) -> AppResult<DirectoryRun> {
        admin_only(actor)?;
        let mut r = self.db.read().await?;
        Ok(DirectoryRun::from_row(found(store::get_run(&mut r.conn(), run_id).await, "directory run")?))
    }

    /// Runs a source now on this node (an admin's "preview" or "sync now").
    pub async fn sync_directory_now(&self, actor: &Actor, id: i64, req: SyncRequest) -> AppResult<DirectoryRun> {
        admin_only(actor)?;
        {
            let mut r = self.db.read().await?;
            found(store::get_source(&mut r.conn(), id).await, "directory source")?;
        }
        let owner = format!("{}:manual", self.mail_rt.node);
        match self
            .sync_directory(
                id,
                &owner,
                Some(actor),
                req.dry_run.unwrap_or(false),
                req.confirm_mass_deactivation.unwrap_or(false),
            )
            .await?
        {
            Some(run) => Ok(run),
            None => Err(AppError::Conflict(
                "this source is being synchronised right now; try again when that run ends".into(),
            )),
        }
    }

    /// One run of a source: `None` when another run holds it.
    pub async fn sync_directory(
        &self,
        id: i64,
        owner: &str,
        actor: Option<&Actor>,
        dry_run: bool,
        force: bool,
    ) -> AppResult<Option<DirectoryRun>> {
        let started = self.now();
        let row = {
            let mut tx = self.db.begin().await?;
            let mut c = tx.conn();
            if !store::lease(&mut c, id, owner, started, started + LEASE_MS).await? {
                return Ok(None);
            }
            let row = store::get_source(&mut c, id).await?;
            self.commit(tx).await?;
            row
        };
        let result = self.run_source(&row, actor, dry_run, force).await;
        let done = self.now();
        let (outcome, message, diff) = match &result {
            Ok((outcome, message, diff)) => (outcome.clone(), message.clone(), diff.clone()),
            Err(e) => ("failed".to_string(), e.clone(), SyncDiff::default()),
        };
        if outcome == "failed" {
            tracing::warn!(source = %row.name, error = %message, "directory sync failed");
            metrics::counter!("orion_directory_sync_errors_total").increment(1);
        }
        let error = matches!(outcome.as_str(), "failed" | "refused").then_some(message.as_str());
        let run = store::RunRow {
            id: 0,
            source_id: id,
            started_at: started,
            finished_at: done,
            dry_run,
            started_by: if actor.is_some() { "manual" } else { "schedule" }.into(),
            outcome: outcome.clone(),
            entries: diff.entries,
            created: diff.create.count,
            updated: diff.update.count,
            disabled: diff.disable.count,
            reenabled: diff.reenable.count,
            unchanged: diff.unchanged,
            message: message.clone(),
            diff: serde_json::to_string(&diff).unwrap_or_else(|_| "{}".into()),
            actor_id: actor.and_then(actor_user),
        };
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let run_id = store::insert_run(&mut c, &run).await?;
        // A dry run does not move the schedule; a real run (or a failure) does.
        let next = if dry_run { row.next_run_at } else { done + row.sync_minutes.max(1) * 60_000 };
        if dry_run {
            store::release(&mut c, id, owner).await?;
        } else {
            store::finish(&mut c, id, owner, done, next, error).await?;
        }
        self.commit(tx).await?;
        Ok(Some(DirectoryRun {
            id: run_id,
            source_id: id,
            started_at: Timestamp(run.started_at).to_rfc3339(),
            finished_at: Timestamp(run.finished_at).to_rfc3339(),
            dry_run,
            started_by: run.started_by,
            outcome,
            message,
            diff,
        }))
    }

    fn directory_secret(&self, row: &SourceRow, cfg: &SourceConfig) -> Result<Option<String>, String> {
        match (&cfg.secret_file, &row.secret) {
            (Some(file), _) => self.mail_rt.read_secret_file(file).map(Some),
            (None, s) => Ok(s.clone()),
        }
    }

    /// Reads, plans and (unless a dry run, or refused) applies. Ok: (outcome, message, diff).
    async fn run_source(
        &self,
        row: &SourceRow,
        actor: Option<&Actor>,
        dry_run: bool,
        force: bool,
    ) -> Result<(String, String, SyncDiff), String> {
        let cfg = config::parse_stored(&row.settings).map_err(|e| e.to_string())?;
        let secret = self.directory_secret(row, &cfg)?;
        let snapshot = ldap::read(&cfg, secret.as_deref()).await?;
        let now = self.now();
        let s = |e: AppError| e.to_string();
        let (existing, memberships, source_names, known_groups) = {
            let mut r = self.db.read().await.map_err(|e| e.to_string())?;
            let mut c = r.conn();
            let existing = store::users_of(&mut c, row.id).await.map_err(|e| e.to_string())?;
            let mut group_names = HashMap::new();
            let mut known = HashSet::new();
            for rule in &cfg.group_rules {
                if let Some(g) = rule.group.as_deref().map(str::trim)
                    && let Some(gr) = groups::find_by_name(&mut c, g).await.map_err(|e| e.to_string())?
                    && gr.active
                {
                    group_names.insert(gr.id, gr.name.clone());
                    known.insert(gr.name);
                }
            }
            let mut memberships: HashMap<i64, BTreeSet<String>> = HashMap::new();
            let ids: Vec<i64> = existing.iter().map(|u| u.user.id).collect();
            for chunk in ids.chunks(500) {
                for (uid, gid) in users::memberships(&mut c, chunk).await.map_err(|e| e.to_string())? {
                    if let Some(name) = group_names.get(&gid) {
                        memberships.entry(uid).or_default().insert(name.clone());
                    }
                }
            }
            let names: HashMap<i64, String> = store::list_sources(&mut c)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|s| (s.id, s.name))
                .collect();
            (existing, memberships, names, known)
        };
        let (dir_users, skipped, seen) = plan::read_entries(&cfg, &snapshot, &known_groups, now);
        // People with a day the directory gives, kept for the workflows (by stable id).
        // Only days still ahead (a day behind, for time zones): a start years ago is no joiner.
        let dated: Vec<(String, Option<String>, Option<String>)> = if cfg.workflow_group.is_some() {
            let today = jiff::Timestamp::from_millisecond(now - 86_400_000)
                .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
                .unwrap_or(jiff::civil::Date::MIN);
            let ahead = |d: Option<jiff::civil::Date>| d.filter(|d| *d >= today).map(|d| d.to_string());
            dir_users
                .iter()
                .map(|u| (u.external_id.clone(), ahead(u.start_day), ahead(u.end_day)))
                .filter(|(_, a, b)| a.is_some() || b.is_some())
                .collect()
        } else {
            Vec::new()
        };
        // The raw entries are read; at 50,000 users they are most of a run's memory.
        drop(snapshot);
        // Who holds the addresses of new entries and of changed addresses (not every account:
        // requesters may be a million).
        let by_ext: HashMap<&str, &str> =
            existing.iter().filter_map(|u| u.external_id.as_deref().map(|x| (x, u.user.email.as_str()))).collect();
        let wanted: Vec<String> = dir_users
            .iter()
            .filter(|u| by_ext.get(u.external_id.as_str()) != Some(&u.email.as_str()))
            .map(|u| u.email.clone())
            .collect();
        let owners: HashMap<String, Owner> = {
            let mut r = self.db.read().await.map_err(|e| e.to_string())?;
            store::owners_by_email(&mut r.conn(), &wanted)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|(email, id, source_id, break_glass)| (email, Owner { id, source_id, break_glass }))
                .collect()
        };
        let p = plan::plan(plan::Inputs {
            cfg: &cfg,
            source_id: row.id,
            source_name: &row.name,
            users: dir_users,
            skipped,
            seen,
            existing: &existing,
            memberships: &memberships,
            owners: &owners,
            source_names: &source_names,
            force,
        });
        let mut diff = p.diff.clone();
        if let Some(why) = p.refused {
            return Ok(("refused".into(), why, diff));
        }
        if dry_run {
            diff.manager_changes = self.manager_changes(&existing, &p.managers, None).await.map_err(s)?;
            let msg = summary(&diff, true);
            return Ok(("previewed".into(), msg, diff));
        }
        let disabled = self.apply(row.id, &p.ops, now).await.map_err(s)?;
        let existing_after = {
            let mut r = self.db.read().await.map_err(|e| e.to_string())?;
            store::users_of(&mut r.conn(), row.id).await.map_err(|e| e.to_string())?
        };
        diff.manager_changes = self.manager_changes(&existing_after, &p.managers, Some(now)).await.map_err(s)?;
        // Cached tokens of deactivated or re-roled users must not work on here.
        self.tokens_changed().await;
        if let Some(group) = &cfg.workflow_group {
            // Joiners and leavers take over from the hand-over request: a leaver's plan lists
            // what they hold and does not close until it is back.
            let ids: HashMap<&str, i64> =
                existing_after.iter().filter_map(|u| u.external_id.as_deref().map(|x| (x, u.user.id))).collect();
            let dated: Vec<serde_json::Value> = dated
                .iter()
                .filter_map(|(x, start, end)| ids.get(x.as_str()).map(|id| serde_json::json!([id, start, end])))
                .collect();
            let gone: Vec<i64> = disabled.iter().map(|(id, _)| *id).collect();
            if !dated.is_empty() || !gone.is_empty() {
                let payload =
                    serde_json::json!({"source_id": row.id, "group": group, "dated": dated, "disabled": gone})
                        .to_string();
                let mut tx = self.db.begin().await.map_err(|e| e.to_string())?;
                let job = orion_store::jobs::NewJob {
                    kind: DATES_JOB,
                    payload: &payload,
                    run_at: now,
                    dedupe_key: None,
                    max_attempts: 5,
                };
                orion_store::jobs::enqueue(&mut tx.conn(), &job, now).await.map_err(|e| e.to_string())?;
                self.commit(tx).await.map_err(s)?;
            }
            return Ok(("applied".into(), summary(&diff, false), diff));
        }
        for (id, reason) in &disabled {
            if let Err(e) = self.open_handover(&cfg, *id, reason, actor).await {
                tracing::warn!(user = id, error = %e, "could not open the hand-over task");
            }
        }
        Ok(("applied".into(), summary(&diff, false), diff))
    }

    /// Writes a plan's operations in batches; returns the users deactivated, with the reason.
    async fn apply(&self, source_id: i64, ops: &[Op], now: i64) -> AppResult<Vec<(i64, String)>> {
        let mut group_ids: HashMap<String, i64> = HashMap::new();
        let mut disabled = Vec::new();
        let mut created: HashMap<String, i64> = HashMap::new();
        for chunk in ops.chunks(BATCH) {
            let mut tx = self.db.begin().await?;
            let mut c = tx.conn();
            // Users whose name, address, phone or department this batch writes: their lookup
            // terms are written once, after the batch.
            let mut written = Vec::new();
            for op in chunk {
                match op {
                    Op::Create { user, role } => {
                        let id = store::insert_synced(&mut c, source_id, &fields(user, *role), now).await?;
                        written.push(id);
                        created.insert(user.external_id.clone(), id);
                        if *role != Role::Requester {
                            for g in &user.rule_groups {
                                if let Some(gid) = group_id(&mut c, &mut group_ids, g).await? {
                                    groups::add_member(&mut c, gid, id).await?;
                                }
                            }
                        }
                    }
                    Op::Write { id, user, role } => {
                        store::update_synced(&mut c, *id, source_id, &fields(user, *role), now).await?;
                        written.push(*id);
                        if *role == Role::Requester {
                            for g in users::group_ids(&mut c, *id).await? {
                                groups::remove_member(&mut c, g, *id).await?;
                            }
                        }
                    }
                    Op::Groups { id, add, remove } => {
                        for g in add {
                            if let Some(gid) = group_id(&mut c, &mut group_ids, g).await? {
                                groups::add_member(&mut c, gid, *id).await?;
                            }
                        }
                        for g in remove {
                            if let Some(gid) = group_id(&mut c, &mut group_ids, g).await? {
                                groups::remove_member(&mut c, gid, *id).await?;
                            }
                        }
                    }
                    Op::Disable { id, reason } => {
                        store::deactivate(&mut c, *id, reason, "directory", now).await?;
                        let sessions = web::delete_sessions_of(&mut c, *id).await?;
                        let revoked = tokens::revoke_all_of(&mut c, *id, now).await?;
                        let u = users::get(&mut c, *id).await?;
                        let detail = format!("{reason}; {sessions} session(s) ended, {revoked} API token(s) revoked");
                        web::log_event(
                            &mut c,
                            &web::NewEvent {
                                kind: "deactivated_by_directory",
                                user_id: Some(*id),
                                email: Some(&u.email),
                                ip: None,
                                detail: &detail,
                            },
                            now,
                        )
                        .await?;
                        disabled.push((*id, reason.clone()));
                    }
                    Op::Reenable { id } => {
                        store::reactivate(&mut c, *id, now).await?;
                        let u = users::get(&mut c, *id).await?;
                        web::log_event(
                            &mut c,
                            &web::NewEvent {
                                kind: "reactivated_by_directory",
                                user_id: Some(*id),
                                email: Some(&u.email),
                                ip: None,
                                detail: "active again in the directory",
                            },
                            now,
                        )
                        .await?;
                    }
                }
            }
            users::index_terms_of(&mut c, &written).await?;
            self.commit(tx).await?;
        }
        Ok(disabled)
    }

    /// Resolves each entry's manager DN to a user; counts (and with `write_at`, writes) the
    /// managers that change.
    async fn manager_changes(
        &self,
        users_now: &[store::SyncedUser],
        managers: &[(String, Option<String>)],
        write_at: Option<i64>,
    ) -> AppResult<i64> {
        let by_dn: HashMap<String, i64> = {
            let mut r = self.db.read().await?;
            store::users_by_dn(&mut r.conn()).await?.into_iter().map(|(dn, id)| (ldap::norm_dn(&dn), id)).collect()
        };
        let wanted: HashMap<&str, Option<i64>> =
            managers.iter().map(|(ext, dn)| (ext.as_str(), dn.as_ref().and_then(|d| by_dn.get(d).copied()))).collect();
        let mut changes = Vec::new();
        for u in users_now {
            // Only users this run read: a user gone from the directory keeps the manager they had.
            let Some(want) = u.external_id.as_deref().and_then(|ext| wanted.get(ext)) else { continue };
            if u.user.break_glass {
                continue;
            }
            let want = want.filter(|m| *m != u.user.id);
            if want != u.user.manager_id {
                changes.push((u.user.id, want));
            }
        }
        if let Some(now) = write_at {
            for chunk in changes.chunks(BATCH) {
                let mut tx = self.db.begin().await?;
                let mut c = tx.conn();
                for (id, m) in chunk {
                    users::set_manager(&mut c, *id, *m, now).await?;
                }
                self.commit(tx).await?;
            }
        }
        Ok(changes.len() as i64)
    }

    /// Opens a service request listing what a deactivated user held, when they held anything.
    async fn open_handover(
        &self,
        cfg: &SourceConfig,
        user_id: i64,
        reason: &str,
        actor: Option<&Actor>,
    ) -> AppResult<()> {
        let (user, manager, tickets, assets, admin) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let user = users::get(&mut c, user_id).await?;
            let (tickets, assets) = store::held_work(&mut c, user_id, HANDOVER_LIST).await?;
            let manager = match user.manager_id {
                Some(m) => Some(users::get(&mut c, m).await?).filter(|m| m.active),
                None => None,
            };
            let admin = store::first_active_admin(&mut c).await?;
            (user, manager, tickets, assets, admin)
        };
        if tickets.is_empty() && assets.is_empty() {
            return Ok(());
        }
        let creator = match actor.filter(|a| actor_user(a).is_some()) {
            Some(a) => a.clone(),
            None => match admin {
                Some(id) => Actor { id: UserId(id), role: Role::Admin },
                None => return Err(AppError::Internal("no active admin to open the hand-over task as".into())),
            },
        };
        let mut description = format!(
            "{} ({}) was deactivated: {reason}.\n\nHand over their work: reassign the open tickets and collect or reassign the assets below.\n",
            user.name, user.email
        );
        if !tickets.is_empty() {
            description.push_str(&format!("\nOpen tickets assigned to them ({}):\n", tickets.len()));
            for (number, title) in &tickets {
                description.push_str(&format!("- {number} {title}\n"));
            }
        }
        if !assets.is_empty() {
            description.push_str(&format!("\nAssets they hold ({}):\n", assets.len()));
            for (name, tag) in &assets {
                match tag {
                    Some(t) => description.push_str(&format!("- {name} ({t})\n")),
                    None => description.push_str(&format!("- {name}\n")),
                }
            }
        }
        let input = NewTicketInput {
            kind: Some("service_request".into()),
            title: Some(format!("Hand over the work of {}", user.name)),
            description: Some(description),
            impact: Some(3),
            urgency: Some(2),
            requester: manager.map(|m| m.email),
            assignment_group: cfg.handover_group.clone(),
            ..Default::default()
        };
        self.create_ticket(&creator, input).await?;
        Ok(())
    }

    /// Whether `password` is the directory password of the user at `dn` in source `source_id`
    /// (a bind as them). `None` when the directory cannot be asked; the reason is logged.
    pub(crate) async fn directory_password_ok(&self, source_id: i64, dn: &str, password: &str) -> Option<bool> {
        let row = {
            let mut r = self.db.read().await.ok()?;
            store::get_source(&mut r.conn(), source_id).await.ok()?
        };
        let cfg = config::parse_stored(&row.settings).ok()?;
        match ldap::check_password(&cfg, dn, password).await {
            Ok(ok) => Some(ok),
            Err(e) => {
                tracing::warn!(source = %row.name, error = %e, "directory sign-in check failed");
                None
            }
        }
    }

    /// A user's managers, nearest first (the chain approvals follow). Staff may read it; a
    /// requester only their own.
    pub async fn manager_chain(&self, actor: &Actor, user_id: i64) -> AppResult<Vec<ManagerLink>> {
        if !actor.can_read_directory() && actor.id.0 != user_id {
            return Err(AppError::Forbidden("requesters can see only their own managers".into()));
        }
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let mut at = found(users::get(&mut c, user_id).await, "user")?;
        let mut seen = HashSet::from([at.id]);
        let mut out = Vec::new();
        while let Some(m) = at.manager_id {
            if !seen.insert(m) || out.len() >= CHAIN_MAX {
                break;
            }
            let mgr = users::get(&mut c, m).await?;
            out.push(ManagerLink { id: mgr.id, email: mgr.email.clone(), name: mgr.name.clone(), active: mgr.active });
            at = mgr;
        }
        Ok(out)
    }
}

async fn group_id(
    c: &mut orion_store::Conn<'_>,
    cache: &mut HashMap<String, i64>,
    name: &str,
) -> AppResult<Option<i64>> {
    if let Some(id) = cache.get(name) {
        return Ok(Some(*id));
    }
    let id = groups::find_by_name(c, name).await?.filter(|g| g.active).map(|g| g.id);
    if let Some(id) = id {
        cache.insert(name.to_string(), id);
    }
    Ok(id)
}

fn fields(u: &plan::DirUser, role: Role) -> SyncedFields<'_> {
    SyncedFields {
        email: &u.email,
        name: &u.name,
        role: role.as_str(),
        login: u.login.as_deref(),
        phone: u.phone.as_deref(),
        department: u.department.as_deref(),
        title: u.title.as_deref(),
        location: u.location.as_deref(),
        external_id: &u.external_id,
        external_dn: &u.dn,
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// A run's outcome in one sentence.
fn summary(d: &SyncDiff, dry_run: bool) -> String {
    let verb = if dry_run { "Would create" } else { "Created" };
    format!(
        "{verb} {}, update {}, deactivate {}, re-enable {}; {} unchanged, {} skipped ({} read from the directory).",
        plural(d.create.count, "user", "users"),
        d.update.count,
        d.disable.count,
        d.reenable.count,
        d.unchanged,
        d.skipped.count,
        plural(d.entries, "entry", "entries"),
    )
}

/// Runs every due source this node can take, until `shutdown`. Each node runs one; the lease
/// keeps two nodes from running the same source.
pub async fn run_scheduler(app: App, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let owner = app.mail_rt.node.clone();
    loop {
        let pause = match run_due(&app, &owner).await {
            Ok(next) => next
                .map(|at| Duration::from_millis((at - app.now()).clamp(1_000, 60_000) as u64))
                .unwrap_or(Duration::from_secs(60)),
            Err(e) => {
                tracing::error!(error = %e, "directory scheduler step failed");
                Duration::from_secs(60)
            }
        };
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

async fn run_due(app: &App, owner: &str) -> AppResult<Option<i64>> {
    let due = {
        let mut r = app.db.read().await?;
        store::due_sources(&mut r.conn(), app.now()).await?
    };
    for id in due {
        // In a task of its own: a panic while reading a malformed answer ends that run, not the
        // scheduler (the lease then expires and a later run tries again).
        let (a, o) = (app.clone(), owner.to_string());
        match tokio::spawn(async move { a.sync_directory(id, &o, None, false, false).await }).await {
            Ok(r) => {
                r?;
            }
            Err(e) => tracing::error!(source = id, error = %e, "directory sync run ended abnormally"),
        }
    }
    let mut r = app.db.read().await?;
    Ok(store::next_due(&mut r.conn()).await?)
}
