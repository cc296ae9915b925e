//! Recurring-incident detection: a scheduled job reads the incidents of a sliding window that
//! belong to no problem yet, clusters them (see [`orion_domain::recurrence`]) and proposes a
//! problem for each new cluster. A lead accepts a proposal (the problem is created with the
//! incidents linked) or dismisses it; a set once decided is never proposed again.

use super::LinkedTicket;
use super::problems::{Problem, ProblemInput, create_problem_in, view as problem_view};
use crate::kernel::access::require_staff;
use crate::kernel::access::{require_admin, require_lead};
use crate::kernel::error::found;
use crate::{App, AppError, AppResult, Page};
use orion_domain::recurrence::{self, Basis, Params};
use orion_domain::{Actor, Timestamp};
use orion_store::itsm::{self as store, NewProposal, ProposalRow};
use orion_store::{Conn, settings};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use utoipa::{IntoParams, ToSchema};

pub const DETECT_JOB: &str = "problems.detect";
const SETTINGS_KEY: &str = "problem_detection";
/// The most incidents one run reads (the newest window is read oldest first up to this).
const MAX_INCIDENTS: i64 = 50_000;

/// How the detector runs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DetectionSettings {
    pub enabled: bool,
    /// How often the job runs, in minutes
    #[schema(minimum = 5, maximum = 10080)]
    pub every_minutes: i64,
    /// The sliding window of incidents read, in days
    #[schema(minimum = 1, maximum = 365)]
    pub window_days: i64,
    /// Incidents on one CI or service …
    #[schema(minimum = 2, maximum = 1000)]
    pub ci_count: usize,
    /// … within this many days
    #[schema(minimum = 1, maximum = 365)]
    pub ci_days: i64,
    /// Alike incidents anywhere
    #[schema(minimum = 2, maximum = 1000)]
    pub similar_count: usize,
    /// Cosine similarity (0.1 .. 0.95) from which two incidents are alike
    #[schema(minimum = 0.1, maximum = 0.95)]
    pub similarity: f64,
}

impl Default for DetectionSettings {
    fn default() -> Self {
        let p = Params::default();
        Self {
            enabled: true,
            every_minutes: 60,
            window_days: 30,
            ci_count: p.ci_count,
            ci_days: p.ci_days,
            similar_count: p.similar_count,
            similarity: p.similarity,
        }
    }
}

impl DetectionSettings {
    fn params(&self) -> Params {
        Params {
            ci_count: self.ci_count,
            ci_days: self.ci_days,
            similar_count: self.similar_count,
            similarity: self.similarity,
        }
    }
}

async fn load_settings(c: &mut Conn<'_>) -> AppResult<DetectionSettings> {
    match settings::get(c, SETTINGS_KEY).await? {
        Some(s) => serde_json::from_str(&s).map_err(|e| AppError::Internal(format!("stored detection settings: {e}"))),
        None => Ok(DetectionSettings::default()),
    }
}

/// A proposed problem.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Proposal {
    pub id: i64,
    /// `ci` (incidents on one CI or service) or `similar` (alike text)
    pub basis: String,
    /// Why the incidents were grouped, in one sentence
    pub reason: String,
    /// For `similar`: the words they share
    pub terms: Vec<String>,
    /// For `ci`: the CI or service
    pub asset_id: Option<i64>,
    pub incidents: Vec<LinkedTicket>,
    /// `open`, `accepted`, `dismissed`
    pub state: String,
    /// The problem it became
    pub problem: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProposalQuery {
    /// `open` (default), `accepted`, `dismissed`
    #[param(schema_with = crate::api_schema::proposal_states_exact)]
    pub state: Option<String>,
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Accepting a proposal: the new problem's title and routing (defaults from the proposal).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInput {
    pub title: Option<String>,
    pub assignment_group: Option<String>,
    pub assignee: Option<String>,
}

/// What one detection run did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DetectReport {
    /// Incidents read (in the window, in no problem)
    pub incidents: usize,
    pub clusters: usize,
    /// New proposals
    pub proposed: usize,
    /// Open proposals whose set of incidents changed
    pub refreshed: usize,
    /// Clusters already proposed, accepted or dismissed
    pub known: usize,
}

fn ids_of(p: &ProposalRow) -> Vec<i64> {
    serde_json::from_str(&p.incidents).unwrap_or_default()
}

async fn proposal_view(c: &mut Conn<'_>, p: ProposalRow) -> AppResult<Proposal> {
    let mut incidents = Vec::new();
    for id in ids_of(&p) {
        let t = orion_store::tickets::get(c, id).await?;
        incidents.push(LinkedTicket {
            number: t.number,
            title: t.title,
            state: t.state,
            priority: format!("P{}", t.priority),
            created_at: super::ts(t.created_at),
        });
    }
    Ok(Proposal {
        id: p.id,
        basis: p.basis,
        reason: p.reason,
        terms: serde_json::from_str(&p.terms).unwrap_or_default(),
        asset_id: p.basis_ci_id,
        incidents,
        state: p.state,
        problem: p.problem_number,
        created_at: super::ts(p.created_at),
        updated_at: super::ts(p.updated_at),
    })
}

/// The detector's input: the window's incidents with their CIs and the services those belong to.
async fn read_window(c: &mut Conn<'_>, since: i64) -> AppResult<Vec<recurrence::Incident>> {
    let rows = store::incidents_since(c, since, MAX_INCIDENTS).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let links = store::cis_of_tickets(c, &ids).await?;
    // The services each CI belongs to (what depends on it, of type service), once per CI.
    let mut services: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    let mut per_ticket: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    for (ticket, ci, name, _) in &links {
        if !services.contains_key(ci) {
            let (walk, _) = crate::cmdb::walk_impact(c, &[*ci]).await?;
            let ids: Vec<i64> = walk.iter().map(|w| w.0).collect();
            let found: Vec<(i64, String)> = orion_store::cmdb::get_many(c, &ids)
                .await?
                .into_iter()
                .filter(|r| r.ci_type == "service")
                .map(|r| (r.id, r.name))
                .collect();
            services.insert(*ci, found);
        }
        let list = per_ticket.entry(*ticket).or_default();
        list.push((*ci, name.clone()));
        for s in &services[ci] {
            if !list.contains(s) {
                list.push(s.clone());
            }
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| recurrence::Incident {
            id: r.id,
            at: r.created_at / 1000,
            cis: per_ticket.remove(&r.id).unwrap_or_default(),
            category: r.category,
            title: r.title,
            description: r.description,
        })
        .collect())
}

impl App {
    /// Runs the detector once and records its proposals.
    pub async fn detect_recurring(&self) -> AppResult<DetectReport> {
        let now = self.now();
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let s = load_settings(&mut c).await?;
        let incidents = read_window(&mut c, now - s.window_days * 86_400_000).await?;
        drop(r);
        let clusters = recurrence::detect(&incidents, &s.params());
        let mut report =
            DetectReport { incidents: incidents.len(), clusters: clusters.len(), proposed: 0, refreshed: 0, known: 0 };
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let open = store::list_proposals(&mut c, "open", None, 1000).await?;
        let dismissed = store::list_proposals(&mut c, "dismissed", None, 1000).await?;
        let dismissed_sets: Vec<BTreeSet<i64>> = dismissed.iter().map(|p| ids_of(p).into_iter().collect()).collect();
        let mut taken: BTreeSet<i64> = BTreeSet::new();
        for cl in &clusters {
            let key = cl.key();
            let set: BTreeSet<i64> = cl.incidents.iter().copied().collect();
            // The same set, or what is left of a dismissed one, is not proposed again.
            if store::proposal_key_exists(&mut c, &key).await? || dismissed_sets.iter().any(|d| set.is_subset(d)) {
                report.known += 1;
                continue;
            }
            let (basis, ci, terms) = match &cl.basis {
                Basis::Ci { id, .. } => ("ci", Some(*id), Vec::new()),
                Basis::Similar { terms, .. } => ("similar", None, terms.clone()),
            };
            let terms = serde_json::to_string(&terms).unwrap_or_else(|_| "[]".into());
            let incidents = serde_json::to_string(&cl.incidents).unwrap_or_else(|_| "[]".into());
            let reason = cl.reason();
            let p = NewProposal {
                basis,
                basis_ci_id: ci,
                reason: &reason,
                terms: &terms,
                incident_key: &key,
                incidents: &incidents,
            };
            // An open proposal sharing most of these incidents grew or shrank: refresh it.
            let same = open.iter().find(|o| {
                !taken.contains(&o.id) && o.basis == basis && {
                    let old: BTreeSet<i64> = ids_of(o).into_iter().collect();
                    let shared = old.intersection(&set).count();
                    shared * 2 >= old.len().min(set.len()).max(1)
                }
            });
            if let Some(o) = same {
                taken.insert(o.id);
                if store::refresh_proposal(&mut c, o.id, &p, now).await? {
                    report.refreshed += 1;
                }
                continue;
            }
            if store::insert_proposal(&mut c, &p, now).await?.is_some() {
                report.proposed += 1;
            }
        }
        self.commit(tx).await?;
        metrics::counter!("orion_problem_proposals_total").increment(report.proposed as u64);
        tracing::info!(
            incidents = report.incidents,
            clusters = report.clusters,
            proposed = report.proposed,
            refreshed = report.refreshed,
            "recurring-incident detection ran"
        );
        Ok(report)
    }

    /// Runs the detector now (leads and admins).
    pub async fn detect_recurring_now(&self, actor: &Actor) -> AppResult<DetectReport> {
        require_lead(actor, "run the recurring-incident detector")?;
        self.detect_recurring().await
    }

    /// Queues the next scheduled run (one per slot, whichever node queues it first).
    pub async fn schedule_detection(&self) -> AppResult<()> {
        let now = self.now();
        let every = {
            let mut r = self.db.read().await?;
            let s = load_settings(&mut r.conn()).await?;
            if !s.enabled {
                return Ok(());
            }
            s.every_minutes.max(1) * 60_000
        };
        let slot = now - now.rem_euclid(every) + every;
        let key = format!("{DETECT_JOB}@{slot}");
        self.enqueue(DETECT_JOB, &serde_json::json!({"slot": Timestamp(slot).to_rfc3339()}), slot, Some(&key)).await?;
        Ok(())
    }

    /// The job: run, then queue the next slot.
    pub async fn run_detection_job(&self) -> AppResult<()> {
        let enabled = {
            let mut r = self.db.read().await?;
            load_settings(&mut r.conn()).await?.enabled
        };
        if enabled {
            self.detect_recurring().await?;
        }
        self.schedule_detection().await
    }

    pub async fn list_proposals(&self, actor: &Actor, q: ProposalQuery) -> AppResult<Page<Proposal>> {
        require_staff(actor, "see problem proposals")?;
        let state = q.state.as_deref().unwrap_or("open");
        if !matches!(state, "open" | "accepted" | "dismissed") {
            return Err(crate::kernel::error::invalid("state", "must be open, accepted or dismissed"));
        }
        let limit = crate::kernel::paging::parse_limit(q.limit)?;
        let before = crate::kernel::paging::parse_cursor(q.cursor.as_deref())?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let mut rows = store::list_proposals(&mut c, state, before, limit + 1).await?;
        let next_cursor = crate::kernel::paging::keyset_cursor(&mut rows, limit, |p| p.id);
        let mut items = Vec::new();
        for p in rows {
            items.push(proposal_view(&mut c, p).await?);
        }
        Ok(Page { items, next_cursor })
    }

    pub async fn get_proposal(&self, actor: &Actor, id: i64) -> AppResult<Proposal> {
        require_staff(actor, "see problem proposals")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let p = found(store::get_proposal(&mut c, id).await, "proposal")?;
        proposal_view(&mut c, p).await
    }

    /// Accepts a proposal (leads and admins): the problem is created with the proposal's
    /// incidents (those not meanwhile in another problem) and its CI, in one transaction.
    pub async fn accept_proposal(&self, actor: &Actor, id: i64, input: AcceptInput) -> AppResult<Problem> {
        require_lead(actor, "accept problem proposals")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let p = found(store::get_proposal(&mut c, id).await, "proposal")?;
        if p.state != "open" {
            return Err(AppError::Conflict(format!("proposal {id} is already {}", p.state)));
        }
        let mut incidents = Vec::new();
        for iid in ids_of(&p) {
            if store::problem_of_incident(&mut c, iid).await?.is_none() {
                incidents.push(orion_store::tickets::get(&mut c, iid).await?.number);
            }
        }
        let default_title = match p.basis_ci_id {
            Some(ci) => {
                let name = orion_store::cmdb::get(&mut c, ci).await.map(|r| r.name).unwrap_or_default();
                format!("Recurring incidents on {name}")
            }
            None => {
                let terms: Vec<String> = serde_json::from_str(&p.terms).unwrap_or_default();
                format!("Recurring: {}", terms.iter().take(4).cloned().collect::<Vec<_>>().join(", "))
            }
        };
        let input = ProblemInput {
            title: Some(input.title.filter(|t| !t.trim().is_empty()).unwrap_or(default_title)),
            description: Some(format!("Proposed by the recurring-incident detector: {}", p.reason)),
            assignment_group: input.assignment_group,
            assignee: input.assignee,
            assets: p.basis_ci_id.map(|id| vec![id.to_string()]),
            incidents: Some(incidents),
            ..Default::default()
        };
        let t = create_problem_in(self, &mut c, actor, input, now).await?;
        store::decide_proposal(&mut c, id, "accepted", Some(t.id), actor.id.0, now).await?;
        let out = problem_view(&mut c, actor, t).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    /// Dismisses a proposal (leads and admins); the same set is not proposed again.
    pub async fn dismiss_proposal(&self, actor: &Actor, id: i64) -> AppResult<Proposal> {
        require_lead(actor, "dismiss problem proposals")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        match store::decide_proposal(&mut c, id, "dismissed", None, actor.id.0, now).await {
            Err(orion_store::StoreError::NotFound) => {
                let p = found(store::get_proposal(&mut c, id).await, "proposal")?;
                return Err(AppError::Conflict(format!("proposal {id} is already {}", p.state)));
            }
            other => other?,
        }
        let p = store::get_proposal(&mut c, id).await?;
        let out = proposal_view(&mut c, p).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    pub async fn detection_settings(&self, actor: &Actor) -> AppResult<DetectionSettings> {
        require_staff(actor, "read detection settings")?;
        let mut r = self.db.read().await?;
        load_settings(&mut r.conn()).await
    }

    /// Replaces the detector's settings (admins) and queues its next run.
    pub async fn set_detection_settings(&self, actor: &Actor, s: DetectionSettings) -> AppResult<DetectionSettings> {
        require_admin(actor, "change detection settings")?;
        let mut errs = orion_domain::FieldErrors::new();
        if !(5..=7 * 24 * 60).contains(&s.every_minutes) {
            errs.push("every_minutes", "must be 5 to 10080 (a week)");
        }
        if !(1..=365).contains(&s.window_days) {
            errs.push("window_days", "must be 1 to 365");
        }
        if !(2..=1000).contains(&s.ci_count) {
            errs.push("ci_count", "must be 2 to 1000");
        }
        if !(1..=s.window_days.max(1)).contains(&s.ci_days) {
            errs.push("ci_days", "must be 1 to window_days");
        }
        if !(2..=1000).contains(&s.similar_count) {
            errs.push("similar_count", "must be 2 to 1000");
        }
        if !(0.1..=0.95).contains(&s.similarity) {
            errs.push("similarity", "must be 0.1 to 0.95");
        }
        errs.into_result()?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        settings::put(&mut tx.conn(), SETTINGS_KEY, &serde_json::to_string(&s).unwrap_or_default(), now).await?;
        self.commit(tx).await?;
        self.schedule_detection().await?;
        Ok(s)
    }
}
