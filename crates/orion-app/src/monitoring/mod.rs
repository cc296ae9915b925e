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
pub mod payload;

use crate::auth::{hash_token, new_token};
use crate::intake::{Planned, Requester};
use crate::kernel::error::{found, invalid};
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

impl App {
    /// Registers a monitoring system (admins); the token is in the answer, once.
    pub async fn create_integration(&self, actor: &Actor, input: IntegrationInput) -> AppResult<IntegrationWithToken> {
        crate::kernel::access::require_admin(actor, "add integrations")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let (valid, kind) = self.integration_fields(&mut c, &input, None, now).await?;
        let token = new_token(TOKEN_PREFIX);
        let hash = hash_token(&token);
        let n = NewIntegration {
            name: &valid.name,
            kind: kind.as_str(),
            token_hash: &hash,
            group_id: valid.group_id,
            requester_id: valid.requester_id,
            config: &valid.config,
            enabled: valid.enabled,
        };
        let id = match store::insert_integration(&mut c, &n, now).await {
            Err(orion_store::StoreError::Duplicate) => {
                return Err(invalid("name", format!("an integration named {:?} exists", valid.name)));
            }
            other => other?,
        };
        let row = store::get_integration(&mut c, id).await?;
        tx.commit().await?;
        Ok(IntegrationWithToken { integration: row.into(), token })
    }

    /// Changes an integration's settings (admins); fields left out keep their value.
    pub async fn update_integration(&self, actor: &Actor, id: i64, input: IntegrationInput) -> AppResult<Integration> {
        crate::kernel::access::require_admin(actor, "change integrations")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let current = found(store::get_integration(&mut c, id).await, "integration")?;
        if input.kind.as_deref().is_some_and(|k| k != current.kind) {
            return Err(invalid("kind", "the kind of an integration cannot change; add a new one"));
        }
        let (valid, kind) = self.integration_fields(&mut c, &input, Some(&current), now).await?;
        let n = NewIntegration {
            name: &valid.name,
            kind: kind.as_str(),
            token_hash: "",
            group_id: valid.group_id,
            requester_id: valid.requester_id,
            config: &valid.config,
            enabled: valid.enabled,
        };
        match store::update_integration(&mut c, id, &n, now).await {
            Err(orion_store::StoreError::Duplicate) => {
                return Err(invalid("name", format!("an integration named {:?} exists", valid.name)));
            }
            other => other?,
        }
        let row = store::get_integration(&mut c, id).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    /// Replaces an integration's token (admins); the old one stops working at once.
    pub async fn rotate_integration_token(&self, actor: &Actor, id: i64) -> AppResult<IntegrationWithToken> {
        crate::kernel::access::require_admin(actor, "replace integration tokens")?;
        let now = self.now();
        let token = new_token(TOKEN_PREFIX);
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        found(store::get_integration(&mut c, id).await, "integration")?;
        store::set_integration_token(&mut c, id, &hash_token(&token), now).await?;
        let row = store::get_integration(&mut c, id).await?;
        tx.commit().await?;
        Ok(IntegrationWithToken { integration: row.into(), token })
    }

    pub async fn list_integrations(&self, actor: &Actor) -> AppResult<Vec<Integration>> {
        crate::kernel::access::require_admin(actor, "see integrations")?;
        let mut r = self.db.read().await?;
        Ok(store::list_integrations(&mut r.conn()).await?.into_iter().map(Into::into).collect())
    }

    async fn integration_fields(
        &self,
        c: &mut Conn<'_>,
        input: &IntegrationInput,
        current: Option<&IntegrationRow>,
        now: i64,
    ) -> AppResult<(ValidIntegration, Format)> {
        let mut errs = FieldErrors::new();
        let name = match (input.name.as_deref(), current) {
            (Some(n), _) => errs.check(orion_domain::error::required_text("name", n, 100)),
            (None, Some(cur)) => Some(cur.name.clone()),
            (None, None) => {
                errs.push("name", "is required");
                None
            }
        };
        let kind = match (input.kind.as_deref(), current) {
            (Some(k), _) => errs.check(Format::parse("kind", k)),
            (None, Some(cur)) => Format::parse("kind", &cur.kind).ok(),
            (None, None) => {
                errs.push("kind", "is required: alertmanager, grafana, zabbix or webhook");
                None
            }
        };
        let settings = match (&input.settings, current) {
            (Some(s), _) => s.clone(),
            (None, Some(cur)) => serde_json::from_str(&cur.config).unwrap_or_default(),
            (None, None) => AlertSettings::default(),
        };
        settings.check(&mut errs);
        if let Some(path) = settings.category.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            match categories::find_by_path(c, path).await? {
                Some(cat) if cat.active => {}
                _ => errs.push("settings.category", format!("no active category {path:?}")),
            }
        }
        let group_id =
            owning_group(c, input.assignment_group.as_deref(), current.map(|i| i.group_id), &mut errs).await?;
        let requester_id = match (input.requester.as_deref(), current) {
            (Some(e), _) => match orion_domain::Email::parse("requester", e) {
                Err(e) => {
                    errs.push(e.field, e.message);
                    None
                }
                Ok(email) => match users::find_by_email(c, email.as_str()).await? {
                    Some(u) if u.active => Some(u.id),
                    _ => {
                        errs.push("requester", format!("no active user {email}"));
                        None
                    }
                },
            },
            (None, Some(cur)) => Some(cur.requester_id),
            (None, None) => match &name {
                Some(n) => {
                    let slug: String = n
                        .to_lowercase()
                        .chars()
                        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
                        .collect::<String>()
                        .trim_matches('-')
                        .to_string();
                    let email = format!("monitoring-{slug}@orion.invalid");
                    match users::find_by_email(c, &email).await? {
                        Some(u) => Some(u.id),
                        None => Some(users::insert_requester(c, &email, &format!("Monitoring: {n}"), now).await?),
                    }
                }
                None => None,
            },
        };
        errs.into_result()?;
        let (Some(name), Some(kind), Some(group_id), Some(requester_id)) = (name, kind, group_id, requester_id) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let enabled = input.enabled.unwrap_or(current.is_none_or(|c| c.enabled));
        let config = serde_json::to_string(&settings).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok((ValidIntegration { name, group_id, requester_id, config, enabled }, kind))
    }

    /// Takes one payload from a monitoring system (the endpoints call this; the token decides
    /// which integration it is).
    pub async fn ingest_alerts(&self, format: Format, token: &str, body: &[u8]) -> AppResult<IngestReport> {
        let refused = || AppError::TokenRefused(TOKEN_HELP.into());
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Err(refused());
        }
        let integration = {
            let mut r = self.db.read().await?;
            store::find_integration_by_token(&mut r.conn(), &hash_token(token)).await?
        }
        .ok_or_else(refused)?;
        if !integration.enabled {
            return Err(AppError::Forbidden(format!("the integration {:?} is disabled", integration.name)));
        }
        let own = Format::parse("kind", &integration.kind).map_err(|e| AppError::Internal(e.to_string()))?;
        let compatible = own == format
            || matches!(
                (own, format),
                (Format::Alertmanager | Format::Grafana, Format::Alertmanager | Format::Grafana)
            );
        if !compatible {
            return Err(invalid(
                "token",
                format!(
                    "this token belongs to a {} integration; send to /api/v1/integrations/{}",
                    own.as_str(),
                    own.as_str()
                ),
            ));
        }
        let events = payload::parse(format, body).map_err(AppError::Validation)?;
        metrics::counter!("orion_alerts_received_total", "source" => own.as_str()).increment(events.len() as u64);
        let settings: AlertSettings = serde_json::from_str(&integration.config).unwrap_or_default();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        store::lock_ingestion(&mut c).await?;
        let windows: Vec<ActiveWindow> = store::windows_ending_after(&mut c, now, 1000)
            .await?
            .into_iter()
            .filter(|w| w.starts_at <= now)
            .map(|w| ActiveWindow { id: w.id, matchers: serde_json::from_str(&w.matchers).unwrap_or_default() })
            .collect();
        let mut fx = Effects::default();
        let mut outcomes = Vec::with_capacity(events.len());
        // Ticket numbers already looked up (a storm names one incident a thousand times).
        let mut numbers: BTreeMap<i64, String> = BTreeMap::new();
        for e in &events {
            let window = windows.iter().find(|w| window_holds(w, e, &integration.name)).map(|w| w.id);
            let (action, ticket) = self.take_alert(&mut c, &integration, &settings, e, window, &mut fx, now).await?;
            metrics::counter!("orion_alerts_total", "action" => action).increment(1);
            outcomes.push(AlertOutcome {
                fingerprint: e.fingerprint.clone(),
                status: if e.firing { "firing" } else { "resolved" }.into(),
                action: action.into(),
                incident: match ticket {
                    Some(id) => Some(match numbers.get(&id) {
                        Some(n) => n.clone(),
                        None => {
                            let n = orion_store::tickets::get(&mut c, id).await?.number;
                            numbers.insert(id, n.clone());
                            n
                        }
                    }),
                    None => None,
                },
            });
        }
        let bot = Actor { id: UserId(integration.requester_id), role: Role::Requester };
        for (ticket, lines) in &fx.notes {
            let body = lines.join("\n");
            let data = json!({"integration": integration.name, "alerts": lines.len()}).to_string();
            crate::tickets::internal_note(&mut c, *ticket, now, "alert", &body, &data).await?;
        }
        for ticket in &fx.cleared {
            let (firing, total) = store::ticket_alert_counts(&mut c, *ticket).await?;
            if firing > 0 {
                continue;
            }
            let mut t = orion_store::tickets::get(&mut c, *ticket).await?;
            let open = State::parse("state", &t.state).is_ok_and(State::is_open);
            if open && settings.on_all_resolved == "resolve" {
                let config = self.config(&mut c).await?;
                let notes = format!("All {total} monitoring alert(s) of this incident have resolved.");
                crate::tickets::lifecycle::resolve_in(
                    &mut c,
                    &config.mail,
                    &bot,
                    &mut t,
                    (ResolutionCode::Fixed, &notes),
                    now,
                )
                .await?;
                metrics::counter!("orion_monitoring_incidents_resolved_total").increment(1);
            } else if open {
                let body = format!("All {total} monitoring alert(s) of this incident have resolved; it stays open.");
                crate::tickets::internal_note(&mut c, *ticket, now, "alert", &body, "{}").await?;
            }
        }
        store::count_received(&mut c, integration.id, events.len() as i64, now).await?;
        tx.commit().await?;
        Ok(IngestReport { integration: integration.name, alerts: outcomes })
    }

    /// Applies one alert; returns the action taken and the incident concerned.
    #[allow(clippy::too_many_arguments)]
    async fn take_alert(
        &self,
        c: &mut Conn<'_>,
        integration: &IntegrationRow,
        settings: &AlertSettings,
        e: &AlertEvent,
        window: Option<i64>,
        fx: &mut Effects,
        now: i64,
    ) -> AppResult<(&'static str, Option<i64>)> {
        let labels = serde_json::to_string(&e.labels).map_err(|x| AppError::Internal(x.to_string()))?;
        let write = AlertWrite {
            status: if e.firing { "firing" } else { "resolved" },
            severity: &e.severity,
            summary: &e.summary,
            details: &e.details,
            labels: &labels,
            group_key: &e.group_key,
            ci: &e.ci,
            service: &e.service,
            source_url: e.source_url.as_deref(),
        };
        let existing = store::find_alert(c, integration.id, &e.fingerprint).await?;
        let Some(a) = existing else {
            // First report of this alert.
            let starts = e.starts_at.unwrap_or(now);
            if !e.firing {
                store::insert_alert(c, integration.id, &e.fingerprint, &write, (None, None), starts, now).await?;
                return Ok(("recorded", None));
            }
            if let Some(w) = window {
                store::insert_alert(c, integration.id, &e.fingerprint, &write, (None, Some(w)), starts, now).await?;
                metrics::counter!("orion_alerts_suppressed_total").increment(1);
                return Ok(("suppressed", None));
            }
            let (action, ticket) = self.place(c, integration, settings, e, fx, now).await?;
            store::insert_alert(c, integration.id, &e.fingerprint, &write, (Some(ticket), None), starts, now).await?;
            return Ok((action, Some(ticket)));
        };
        if e.update_only
            || (e.firing == (a.status == "firing") && !(e.firing && a.ticket_id.is_none() && window.is_none()))
        {
            // A repeat, a retry, or an acknowledgement: counted, nothing else.
            store::touch_alert(c, a.id, now).await?;
            metrics::counter!("orion_alerts_deduplicated_total").increment(1);
            return Ok(("deduplicated", a.ticket_id));
        }
        if !e.firing {
            store::update_alert(c, a.id, &write, (a.ticket_id, a.window_id), None, now).await?;
            if let Some(t) = a.ticket_id {
                fx.notes.entry(t).or_default().push(line_for(e, "Resolved"));
                fx.cleared.insert(t);
            }
            return Ok(("resolved", a.ticket_id));
        }
        // Firing: again after a resolution, or still firing with nothing opened for it yet (it
        // arrived in a maintenance window that has ended since).
        let starts = e.starts_at.or(Some(now));
        if let Some(w) = window {
            store::update_alert(c, a.id, &write, (a.ticket_id, Some(w)), starts, now).await?;
            metrics::counter!("orion_alerts_suppressed_total").increment(1);
            return Ok(("suppressed", a.ticket_id));
        }
        if let Some(tid) = a.ticket_id {
            let mut t = orion_store::tickets::get(c, tid).await?;
            let state = State::parse("state", &t.state).map_err(|x| AppError::Internal(x.to_string()))?;
            let reopen_from = now - settings.reopen_hours * 3_600_000;
            if state.is_open() {
                store::update_alert(c, a.id, &write, (Some(tid), None), starts, now).await?;
                fx.notes.entry(tid).or_default().push(line_for(e, "Firing again"));
                return Ok(("joined", Some(tid)));
            }
            if state == State::Resolved && t.resolved_at.is_some_and(|r| r >= reopen_from) {
                store::update_alert(c, a.id, &write, (Some(tid), None), starts, now).await?;
                let config = self.config(c).await?;
                let bot = Actor { id: UserId(integration.requester_id), role: Role::Requester };
                let reason = format!("{} — firing again", line_for(e, "Alert"));
                crate::tickets::lifecycle::reopen_in(c, &config.mail, &bot, &mut t, &reason, now).await?;
                metrics::counter!("orion_monitoring_incidents_reopened_total").increment(1);
                return Ok(("reopened", Some(tid)));
            }
        }
        let (action, ticket) = self.place(c, integration, settings, e, fx, now).await?;
        store::update_alert(c, a.id, &write, (Some(ticket), None), starts, now).await?;
        Ok((action, Some(ticket)))
    }

    /// Joins a firing alert to the open incident of its group, CI or service, or opens one.
    async fn place(
        &self,
        c: &mut Conn<'_>,
        integration: &IntegrationRow,
        settings: &AlertSettings,
        e: &AlertEvent,
        fx: &mut Effects,
        now: i64,
    ) -> AppResult<(&'static str, i64)> {
        let since = now - settings.group_window_minutes * 60_000;
        let keys = correlation_keys(e, settings.group_window_minutes > 0);
        let mut joined = keys.iter().find_map(|k| fx.placed.get(k).copied());
        if joined.is_none() && !e.group_key.is_empty() {
            joined = store::open_incident_for(c, Correlate::Group(integration.id, &e.group_key)).await?;
        }
        if joined.is_none() && !e.ci.is_empty() && settings.group_window_minutes > 0 {
            joined = store::open_incident_for(c, Correlate::Ci(&e.ci, since)).await?;
        }
        if joined.is_none() && !e.service.is_empty() && settings.group_window_minutes > 0 {
            joined = store::open_incident_for(c, Correlate::Service(&e.service, since)).await?;
        }
        let (action, id) = match joined {
            Some(t) => {
                fx.notes.entry(t).or_default().push(line_for(e, "Alert joined"));
                ("joined", t)
            }
            None => ("opened", self.open_incident(c, integration, settings, e, now).await?),
        };
        for k in keys {
            fx.placed.entry(k).or_insert(id);
        }
        if !e.ci.is_empty() && fx.linked.insert((id, e.ci.clone())) {
            link_ci(c, id, &e.ci, now).await?;
        }
        Ok((action, id))
    }

    async fn open_incident(
        &self,
        c: &mut Conn<'_>,
        integration: &IntegrationRow,
        settings: &AlertSettings,
        e: &AlertEvent,
        now: i64,
    ) -> AppResult<i64> {
        let category = match settings.category.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => categories::find_by_path(c, p).await?.filter(|k| k.active),
            None => None,
        };
        let incident = MonitoringIncident {
            group_id: integration.group_id,
            requester_id: integration.requester_id,
            title: e.summary.clone(),
            description: incident_text(integration, e),
            levels: settings.levels(&e.severity),
            category,
            data: json!({"integration": integration.name,
                         "alert": {"fingerprint": e.fingerprint, "severity": e.severity, "ci": e.ci}}),
        };
        self.open_monitoring_incident(c, incident, now).await
    }

    /// Opens an incident for monitoring (an alert or a heartbeat): channel `monitoring`, no mail
    /// to its requester, SLA clocks as for any incident. Returns its id.
    pub(crate) async fn open_monitoring_incident(
        &self,
        c: &mut Conn<'_>,
        m: MonitoringIncident,
        now: i64,
    ) -> AppResult<i64> {
        let config = self.config(c).await?;
        let group = groups::get(c, m.group_id).await?;
        let requester = users::get(c, m.requester_id).await?;
        let (impact, urgency) = m.levels;
        let priority = config.matrix.priority(impact, urgency);
        let kind = TicketKind::Incident;
        let clocks = crate::sla::plan_clocks(
            &config,
            &orion_domain::sla_policy::TicketFacts {
                kind,
                priority,
                category: m.category.as_ref().map(|k| k.path.as_str()),
                department: requester.department.as_deref(),
            },
            now,
        );
        let mut data = crate::tickets::created_entry_data(
            priority,
            (impact.get(), urgency.get()),
            "monitoring",
            &group.name,
            None,
            &clocks,
        );
        if let (Some(d), Some(extra)) = (data.as_object_mut(), m.data.as_object()) {
            d.extend(extra.clone());
        }
        let written = crate::intake::write_one(
            c,
            &Planned {
                requester: Requester::Known(m.requester_id),
                prefix: kind.prefix(),
                kind: kind.as_str(),
                title: crate::mail::truncate(&m.title, crate::kernel::limits::TITLE_MAX),
                description: crate::mail::truncate(&m.description, crate::kernel::limits::TEXT_MAX),
                channel: "monitoring",
                category_id: m.category.as_ref().map(|k| k.id),
                impact: i64::from(impact.get()),
                urgency: i64::from(urgency.get()),
                priority: i64::from(priority.get()),
                state: State::New.as_str(),
                assignment_group_id: group.id,
                assignee_id: None,
                max_tier: group.tier,
                created_by: m.requester_id,
                now,
                entry_data: data.to_string(),
                clocks,
                notify: false,
                assets: Vec::new(),
            },
        )
        .await?;
        metrics::counter!("orion_tickets_created_total", "kind" => kind.as_str()).increment(1);
        metrics::counter!("orion_monitoring_incidents_opened_total").increment(1);
        Ok(written.id)
    }

    /// The alerts whose CI or host is this asset (its name, or its short host name), newest first.
    pub async fn asset_alerts(&self, actor: &Actor, asset_id: i64, limit: i64) -> AppResult<Vec<Alert>> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let ci = found(orion_store::cmdb::get(&mut c, asset_id).await, "asset")?;
        let names = ci_names(&ci.name);
        Ok(store::ci_alerts(&mut c, &names, limit).await?.into_iter().map(Into::into).collect())
    }

    /// The maintenance windows, current and coming, that hold this asset's alerts back: those
    /// whose `ci` matcher names it.
    pub async fn asset_windows(&self, actor: &Actor, asset_id: i64) -> AppResult<Vec<MaintenanceWindow>> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        let now = self.now();
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let ci = found(orion_store::cmdb::get(&mut c, asset_id).await, "asset")?;
        let rows = windows_for_ci(&mut c, &ci.name, now).await?;
        Ok(rows.into_iter().map(|w| MaintenanceWindow::from_row(w, now)).collect())
    }

    /// Alerts newest first (staff), by status and integration.
    pub async fn list_alerts(
        &self,
        actor: &Actor,
        status: Option<&str>,
        integration: Option<i64>,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<Alert>> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        if let Some(s) = status.filter(|s| !["firing", "resolved"].contains(s)) {
            return Err(invalid("status", format!("must be firing or resolved, not {s:?}")));
        }
        let limit = crate::kernel::paging::parse_limit(limit)?;
        let before = crate::kernel::paging::parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut rows = store::list_alerts(&mut r.conn(), status, integration, before, limit + 1).await?;
        let next_cursor = crate::kernel::paging::keyset_cursor(&mut rows, limit, |a| a.id);
        Ok(Page { items: rows.into_iter().map(Into::into).collect(), next_cursor })
    }

    /// The alerts of one incident (staff), oldest first, at most 1,000.
    pub async fn ticket_alerts(&self, actor: &Actor, number: &str) -> AppResult<Vec<Alert>> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = crate::tickets::load(&mut c, number).await?;
        Ok(store::ticket_alerts(&mut c, t.id, 1000).await?.into_iter().map(Into::into).collect())
    }

    /// Opens a maintenance window (staff).
    pub async fn create_window(&self, actor: &Actor, input: WindowInput) -> AppResult<MaintenanceWindow> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        let now = self.now();
        let mut errs = FieldErrors::new();
        let name = errs.check(orion_domain::error::required_text("name", input.name.as_deref().unwrap_or(""), 200));
        let reason = input.reason.as_deref().unwrap_or("").trim().to_string();
        let matchers = input.matchers.clone().unwrap_or_default();
        if matchers.is_empty() {
            errs.push("matchers", "name at least one label, `ci`, `service` or `integration` to match");
        }
        for (k, v) in &matchers {
            if k.trim().is_empty() || v.trim().is_empty() {
                errs.push(format!("matchers.{k}"), "keys and values must not be empty");
            }
        }
        let starts = match input.starts_at.as_deref() {
            None | Some("") => Some(now),
            Some(s) => errs.check(Timestamp::parse_day_or_instant("starts_at", s)).map(|t| t.0),
        };
        let ends = match input.ends_at.as_deref() {
            None | Some("") => {
                errs.push("ends_at", "is required");
                None
            }
            Some(s) => errs.check(Timestamp::parse_day_or_instant("ends_at", s)).map(|t| t.0),
        };
        if let (Some(s), Some(e)) = (starts, ends)
            && e <= s
        {
            errs.push("ends_at", "must be after starts_at");
        }
        if ends.is_some_and(|e| e <= now) {
            errs.push("ends_at", "must be in the future");
        }
        errs.into_result()?;
        let (Some(name), Some(starts), Some(ends)) = (name, starts, ends) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let m = serde_json::to_string(&matchers).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let id = store::insert_window(&mut c, (&name, &reason, &m), (starts, ends), actor.id.0, now).await?;
        let row = store::get_window(&mut c, id).await?;
        tx.commit().await?;
        Ok(MaintenanceWindow::from_row(row, now))
    }

    /// Current and coming maintenance windows (staff).
    pub async fn list_windows(&self, actor: &Actor) -> AppResult<Vec<MaintenanceWindow>> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        let now = self.now();
        let mut r = self.db.read().await?;
        let rows = store::windows_ending_after(&mut r.conn(), now, 1000).await?;
        Ok(rows.into_iter().map(|w| MaintenanceWindow::from_row(w, now)).collect())
    }

    /// Ends a window now (staff); a future one is cancelled.
    pub async fn end_window(&self, actor: &Actor, id: i64) -> AppResult<MaintenanceWindow> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let w = found(store::get_window(&mut c, id).await, "maintenance window")?;
        if w.ends_at > now {
            store::end_window(&mut c, id, now).await?;
        }
        let row = store::get_window(&mut c, id).await?;
        tx.commit().await?;
        Ok(MaintenanceWindow::from_row(row, now))
    }
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
        crate::cmdb::link(c, ticket_id, &number, (row.id, &row.name), None, now).await?;
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
            let g = crate::config::service_desk(&all).map(|g| g.id);
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
