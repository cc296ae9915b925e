//! Monitoring alerts to incidents.
//!
//! An integration is a monitoring system allowed to send alerts (Alertmanager, Grafana, Zabbix,
//! the generic webhook), with a token, an owning group and settings. Each alert is one row per
//! (integration, fingerprint); the rules, all in one transaction per payload:
//!
//! - the first firing opens an incident (channel `monitoring`) for the owning group, priority
//!   from the severity map — unless an open incident already holds alerts of the same
//!   Alertmanager group, or of the same CI or service seen within the grouping window: then the
//!   alert joins it (a storm of alerts for one outage is one incident);
//! - a repeat (same fingerprint, same status) only counts and updates "last seen";
//! - a resolved alert adds a note; when every alert of an incident is resolved it is resolved
//!   (or only noted, by setting);
//! - a re-fire joins its incident while that is open, reopens it within `reopen_hours` of its
//!   resolution, and opens a new one after that;
//! - inside a maintenance window an alert is recorded and opens nothing.
//!
//! On PostgreSQL ingestion takes a transaction-scoped advisory lock, so two nodes receiving
//! alerts of one outage at once still open one incident.

pub mod heartbeat;
mod ingest;
mod integrations;
pub mod payload;
mod windows;

use crate::auth::{hash_token, new_token};
use crate::kernel::error::{found, invalid};
use crate::tickets::{Planned, Requester};
use crate::{App, AppError, AppResult, Page};
use orion_domain::{Actor, FieldErrors, Level, ResolutionCode, Role, State, TicketKind, Timestamp, UserId};
use orion_store::monitoring::{self as store, AlertRow, AlertWrite, Correlate, IntegrationRow, NewIntegration};
use orion_store::{Conn, categories, groups, users};
use payload::{AlertEvent, Format};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use utoipa::ToSchema;

/// Integration tokens start with this, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "orion_mon_";

/// What a sender of alerts is told when its token is missing or not an integration's.
pub const TOKEN_HELP: &str = "this endpoint takes a monitoring integration token (it starts with orion_mon_), \
     not an API token, as Authorization: Bearer <token> or ?token=<token>; an admin makes one by adding the \
     integration (POST /api/v1/integrations, the token is shown once) or a new one for an existing integration \
     (POST /api/v1/integrations/{id}/token)";

/// How an integration turns alerts into incidents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// Severity as the source names it (lower case) → `[impact, urgency]`, each 1 (high) to 3
    /// (low); `*` for any other. The priority matrix turns the pair into a priority.
    pub severity_map: BTreeMap<String, [u8; 2]>,
    /// Alerts for the same CI or service within this many minutes join one open incident (default 15)
    pub group_window_minutes: i64,
    /// A re-fire within this many hours of its incident's resolution reopens it; later, a new
    /// incident is opened (default 4)
    pub reopen_hours: i64,
    /// When every alert of an incident is resolved: `resolve` it (default) or only add a `note`
    pub on_all_resolved: String,
    /// A category path for the incidents, e.g. `Infrastructure / Monitoring`
    pub category: Option<String>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        let map = [
            ("critical", [1, 1]),
            ("disaster", [1, 1]),
            ("emergency", [1, 1]),
            ("fatal", [1, 1]),
            ("page", [1, 1]),
            ("high", [1, 2]),
            ("error", [1, 2]),
            ("major", [1, 2]),
            ("average", [2, 2]),
            ("warning", [2, 2]),
            ("minor", [2, 2]),
            ("*", [2, 3]),
        ];
        Self {
            severity_map: map.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            group_window_minutes: 15,
            reopen_hours: 4,
            on_all_resolved: "resolve".into(),
            category: None,
        }
    }
}

impl AlertSettings {
    fn check(&self, errs: &mut FieldErrors) {
        for (k, [i, u]) in &self.severity_map {
            if !(1..=3).contains(i) || !(1..=3).contains(u) {
                errs.push(format!("settings.severity_map.{k}"), "impact and urgency must each be 1, 2 or 3");
            }
        }
        if !(0..=24 * 60).contains(&self.group_window_minutes) {
            errs.push("settings.group_window_minutes", "must be 0 to 1440");
        }
        if !(0..=24 * 30).contains(&self.reopen_hours) {
            errs.push("settings.reopen_hours", "must be 0 to 720");
        }
        if !["resolve", "note"].contains(&self.on_all_resolved.as_str()) {
            errs.push("settings.on_all_resolved", "must be resolve or note");
        }
    }

    /// Impact and urgency for a severity.
    fn levels(&self, severity: &str) -> (Level, Level) {
        let [i, u] = self.severity_map.get(severity).or(self.severity_map.get("*")).copied().unwrap_or([2, 3]);
        let lv = |n: u8| Level::parse("level", i64::from(n)).unwrap_or(Level::parse("level", 3).expect("3 is a level"));
        (lv(i), lv(u))
    }
}

/// `POST /api/v1/integrations`, `PUT /api/v1/integrations/{id}`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: Option<String>,
    /// `alertmanager`, `grafana`, `zabbix` or `webhook` (fixed once created)
    #[schema(schema_with = crate::api_schema::integration_kinds)]
    pub kind: Option<String>,
    /// The group that owns the incidents (default: the service desk)
    pub assignment_group: Option<String>,
    /// The e-mail of the requester incidents are logged for (default: a user made for this
    /// integration, `monitoring-<name>@orion.invalid`, who gets no mail)
    pub requester: Option<String>,
    pub settings: Option<AlertSettings>,
    /// Default true; a disabled integration's alerts are refused (403), so the sender retries
    pub enabled: Option<bool>,
}

/// An integration as admins see it (never its token).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Integration {
    pub id: i64,
    pub name: String,
    pub kind: String,
    /// Where the monitoring system sends to
    pub endpoint: String,
    pub assignment_group: String,
    pub requester: String,
    pub settings: AlertSettings,
    pub enabled: bool,
    /// Alerts received so far
    pub received: i64,
    pub last_received_at: Option<String>,
    pub created_at: String,
}

impl From<IntegrationRow> for Integration {
    fn from(r: IntegrationRow) -> Self {
        Self {
            endpoint: format!("/api/v1/integrations/{}", r.kind),
            id: r.id,
            name: r.name,
            kind: r.kind,
            assignment_group: r.group_name,
            requester: r.requester_email,
            settings: serde_json::from_str(&r.config).unwrap_or_default(),
            enabled: r.enabled,
            received: r.received,
            last_received_at: r.last_received_at.map(|t| Timestamp(t).to_rfc3339()),
            created_at: Timestamp(r.created_at).to_rfc3339(),
        }
    }
}

/// An integration with its token: shown once, at creation and when the token is replaced.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntegrationWithToken {
    pub integration: Integration,
    /// Send as `Authorization: Bearer <token>` (or `?token=` where the sender cannot set headers)
    pub token: String,
}

/// One alert as Orion holds it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    pub id: i64,
    pub integration: String,
    pub fingerprint: String,
    /// `firing` or `resolved`
    pub status: String,
    pub severity: String,
    pub summary: String,
    pub details: String,
    pub labels: BTreeMap<String, String>,
    pub group_key: String,
    /// The host or configuration item the alert names
    pub ci: String,
    pub service: String,
    pub source_url: Option<String>,
    /// The incident it belongs to
    pub incident: Option<String>,
    pub incident_state: Option<String>,
    /// The maintenance window it arrived in (it opened nothing)
    pub maintenance_window: Option<String>,
    /// Reports received (repeats included)
    pub received: i64,
    /// Times it started firing
    pub fired: i64,
    pub first_seen_at: String,
    pub last_seen_at: String,
    pub starts_at: String,
    pub resolved_at: Option<String>,
}

impl From<AlertRow> for Alert {
    fn from(r: AlertRow) -> Self {
        let ts = |t: i64| Timestamp(t).to_rfc3339();
        Self {
            id: r.id,
            integration: r.integration_name,
            fingerprint: r.fingerprint,
            status: r.status,
            severity: r.severity,
            summary: r.summary,
            details: r.details,
            labels: serde_json::from_str(&r.labels).unwrap_or_default(),
            group_key: r.group_key,
            ci: r.ci,
            service: r.service,
            source_url: r.source_url,
            incident: r.ticket_number,
            incident_state: r.ticket_state,
            maintenance_window: r.window_name,
            received: r.received,
            fired: r.fired,
            first_seen_at: ts(r.first_seen_at),
            last_seen_at: ts(r.last_seen_at),
            starts_at: ts(r.starts_at),
            resolved_at: r.resolved_at.map(ts),
        }
    }
}

/// What became of one alert of a payload.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertOutcome {
    pub fingerprint: String,
    /// `firing` or `resolved`
    pub status: String,
    /// `opened` (a new incident), `joined` (an open incident of the same group, CI or service),
    /// `reopened`, `deduplicated` (a repeat), `resolved`, `suppressed` (inside a maintenance
    /// window), `recorded` (resolved before Orion saw it fire)
    pub action: String,
    pub incident: Option<String>,
}

/// The answer to an alert payload.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IngestReport {
    pub integration: String,
    pub alerts: Vec<AlertOutcome>,
}

/// `POST /api/v1/maintenance-windows`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowInput {
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: Option<String>,
    pub reason: Option<String>,
    /// Label = value pairs that must all hold; `*` matches any run of characters, case is
    /// ignored. Special keys: `ci` (the host or CI), `service`, `integration` (its name)
    pub matchers: Option<BTreeMap<String, String>>,
    /// RFC 3339 (default, and empty: now)
    #[schema(schema_with = crate::api_schema::date_or_time_or_empty)]
    pub starts_at: Option<String>,
    /// RFC 3339
    #[schema(schema_with = crate::api_schema::date_or_time)]
    pub ends_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MaintenanceWindow {
    pub id: i64,
    pub name: String,
    pub reason: String,
    pub matchers: BTreeMap<String, String>,
    pub starts_at: String,
    pub ends_at: String,
    /// Whether it holds alerts back right now
    pub active: bool,
}

struct ActiveWindow {
    id: i64,
    matchers: BTreeMap<String, String>,
}

impl MaintenanceWindow {
    fn from_row(r: store::WindowRow, now: i64) -> Self {
        Self {
            id: r.id,
            name: r.name,
            reason: r.reason,
            matchers: serde_json::from_str(&r.matchers).unwrap_or_default(),
            starts_at: Timestamp(r.starts_at).to_rfc3339(),
            ends_at: Timestamp(r.ends_at).to_rfc3339(),
            active: r.starts_at <= now && now < r.ends_at,
        }
    }
}

/// `*` matches any run of characters; case is ignored.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn window_holds(w: &ActiveWindow, e: &AlertEvent, integration: &str) -> bool {
    w.matchers.iter().all(|(k, pattern)| {
        let value = match k.as_str() {
            "ci" => Some(e.ci.as_str()),
            "service" => Some(e.service.as_str()),
            "integration" => Some(integration),
            label => e.labels.get(label).map(String::as_str),
        };
        value.is_some_and(|v| glob(pattern, v))
    })
}

/// What an incident opened by an alert says.
fn incident_text(integration: &IntegrationRow, e: &AlertEvent) -> String {
    let mut s = String::new();
    if !e.details.is_empty() {
        s.push_str(&e.details);
        s.push_str("\n\n");
    }
    s.push_str(&format!("Opened by the {} integration \"{}\".", integration.kind, integration.name));
    if !e.severity.is_empty() {
        s.push_str(&format!("\nSeverity: {}", e.severity));
    }
    if !e.ci.is_empty() {
        s.push_str(&format!("\nCI / host: {}", e.ci));
    }
    if !e.service.is_empty() {
        s.push_str(&format!("\nService: {}", e.service));
    }
    if !e.labels.is_empty() {
        let labels: Vec<String> = e.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push_str(&format!("\nLabels: {}", labels.join(", ")));
    }
    if let Some(u) = &e.source_url {
        s.push_str(&format!("\nSource: {u}"));
    }
    s
}

fn line_for(e: &AlertEvent, what: &str) -> String {
    let mut l = format!("{what}: {}", e.summary);
    let mut tags = Vec::new();
    if !e.severity.is_empty() {
        tags.push(e.severity.clone());
    }
    if !e.ci.is_empty() {
        tags.push(e.ci.clone());
    }
    if !tags.is_empty() {
        l.push_str(&format!(" ({})", tags.join(", ")));
    }
    l
}

/// What one payload changes, collected so each incident gets one note per payload.
#[derive(Default)]
struct Effects {
    notes: BTreeMap<i64, Vec<String>>,
    cleared: BTreeSet<i64>,
    /// Where this payload placed alerts, by correlation key (`g:`, `ci:`, `svc:`): the next alert
    /// of a storm joins without searching the group's alerts again.
    placed: BTreeMap<String, i64>,
    /// The (incident, CI name) pairs already matched to the CMDB in this payload.
    linked: BTreeSet<(i64, String)>,
}

/// The keys an alert correlates by, strongest first.
fn correlation_keys(e: &AlertEvent, by_time: bool) -> Vec<String> {
    let mut keys = Vec::new();
    if !e.group_key.is_empty() {
        keys.push(format!("g:{}", e.group_key));
    }
    if by_time && !e.ci.is_empty() {
        keys.push(format!("ci:{}", e.ci));
    }
    if by_time && !e.service.is_empty() {
        keys.push(format!("svc:{}", e.service));
    }
    keys
}

/// What an incident opened by monitoring says and where it goes.
/// The names an asset answers to in alerts: its name lower-cased, and its short host name.
/// The maintenance windows ending after `after` whose `ci` matcher names the CI called `name`
/// (a glob on its name, or its short host name). Change management reads them too: a change to
/// a CI that has windows belongs inside one.
pub(crate) async fn windows_for_ci(c: &mut Conn<'_>, name: &str, after: i64) -> AppResult<Vec<store::WindowRow>> {
    let names = ci_names(name);
    let rows = store::windows_ending_after(c, after, 1000).await?;
    Ok(rows
        .into_iter()
        .filter(|w| {
            let matchers: BTreeMap<String, String> = serde_json::from_str(&w.matchers).unwrap_or_default();
            matchers.get("ci").is_some_and(|v| {
                let host = payload::host_of(v);
                let short = host.split('.').next().unwrap_or(&host).to_string();
                names.iter().any(|n| glob(v, n) || *n == short)
            })
        })
        .collect())
}

fn ci_names(name: &str) -> Vec<String> {
    let full = name.trim().to_lowercase();
    let short = full.split('.').next().unwrap_or(&full).to_string();
    if short == full { vec![full] } else { vec![full, short] }
}

/// Links an incident to the asset an alert names: the CI named exactly (any case), else the one
/// whose name is the alert host's short name (`db1` for `db1.example.com`). Nothing when the
/// CMDB has no such asset.
async fn link_ci(c: &mut Conn<'_>, ticket_id: i64, ci: &str, now: i64) -> AppResult<()> {
    use orion_store::cmdb::{self as cmdb, MatchKey};
    let mut found = cmdb::find_by(c, MatchKey::Name, ci).await?.first().copied();
    if found.is_none()
        && let Some((short, _)) = ci.split_once('.')
        && !short.is_empty()
        && short.parse::<u8>().is_err()
    {
        found = cmdb::find_by(c, MatchKey::Name, short).await?.first().copied();
    }
    if let Some(id) = found {
        let row = cmdb::get(c, id).await?;
        let number = orion_store::tickets::get(c, ticket_id).await?.number;
        crate::tickets::link_asset(c, (ticket_id, &number), (row.id, &row.name), None, now).await?;
    }
    Ok(())
}

pub(crate) struct MonitoringIncident {
    pub group_id: i64,
    pub requester_id: i64,
    pub title: String,
    pub description: String,
    pub levels: (Level, Level),
    pub category: Option<categories::CategoryRow>,
    /// Added to the `created` entry's data (which source, which alert).
    pub data: serde_json::Value,
}

/// The group that owns monitoring incidents: the one named (active), else the current one, else
/// the service desk.
pub(crate) async fn owning_group(
    c: &mut Conn<'_>,
    named: Option<&str>,
    current: Option<i64>,
    errs: &mut FieldErrors,
) -> AppResult<Option<i64>> {
    Ok(match (named, current) {
        (Some(g), _) => match groups::find_by_name(c, g.trim()).await? {
            Some(g) if g.active => Some(g.id),
            _ => {
                errs.push("assignment_group", format!("no active group named {g:?}"));
                None
            }
        },
        (None, Some(id)) => Some(id),
        (None, None) => {
            let all = groups::list(c).await?;
            let g = crate::settings::service_desk(&all).map(|g| g.id);
            if g.is_none() {
                errs.push("assignment_group", "no group exists to own the incidents; create one first");
            }
            g
        }
    })
}

struct ValidIntegration {
    name: String,
    group_id: i64,
    requester_id: i64,
    config: String,
    enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("web*", "WEB12"));
        assert!(glob("*db*", "prod-db-1"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("web*", "db1"));
        assert!(!glob("a*b", "ac"));
        assert!(glob("exact", "Exact"));
    }

    #[test]
    fn severities_map_to_levels_with_a_fallback() {
        let s = AlertSettings::default();
        assert_eq!(s.levels("critical"), (Level::parse("i", 1).unwrap(), Level::parse("u", 1).unwrap()));
        assert_eq!(s.levels("something-else"), (Level::parse("i", 2).unwrap(), Level::parse("u", 3).unwrap()));
        let mut errs = FieldErrors::new();
        let bad =
            AlertSettings { on_all_resolved: "close".into(), group_window_minutes: -1, ..AlertSettings::default() };
        bad.check(&mut errs);
        let fields: Vec<_> = errs.iter().map(|e| e.field.clone()).collect();
        assert_eq!(fields, ["settings.group_window_minutes", "settings.on_all_resolved"]);
    }
}
