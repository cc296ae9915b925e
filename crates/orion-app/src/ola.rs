//! OLAs: how long a ticket sits with each support tier, against per-tier targets.
//!
//! Time in a group is read from the ticket's timeline (creation, escalations and
//! reassignments name the groups; resolution and reopen stop and restart the
//! count), so nothing extra is written on the hot path and the figures can be
//! recomputed for any ticket at any time. Working time is counted on the
//! `Business hours` calendar.

use crate::settings::sla::business_calendar;
use crate::{App, AppError, AppResult};
use orion_domain::{Actor, Timestamp};
use orion_store::{groups, settings, sla, timeline};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

const OLA_TARGETS: &str = "ola_targets";

/// Per-tier targets in working minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OlaTargets {
    #[schema(minimum = 1, maximum = 525600)]
    pub tier1_minutes: i64,
    #[schema(minimum = 1, maximum = 525600)]
    pub tier2_minutes: i64,
    #[schema(minimum = 1, maximum = 525600)]
    pub tier3_minutes: i64,
}

impl Default for OlaTargets {
    /// The service desk triages within an hour; L2 works a ticket within a business day; L3 within two.
    fn default() -> Self {
        Self { tier1_minutes: 60, tier2_minutes: 480, tier3_minutes: 960 }
    }
}

impl OlaTargets {
    fn for_tier(&self, tier: i64) -> i64 {
        match tier {
            1 => self.tier1_minutes,
            2 => self.tier2_minutes,
            _ => self.tier3_minutes,
        }
    }
}

/// Time a ticket spent with one group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupSpan {
    pub group: String,
    pub tier: i64,
    pub from: String,
    /// Null while the ticket is still with the group
    pub to: Option<String>,
    pub working_minutes: i64,
}

/// Time with one tier, against its OLA.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TierTime {
    pub tier: i64,
    pub working_minutes: i64,
    pub target_minutes: i64,
    /// `within` or `over`
    pub state: String,
}

/// `GET /api/v1/tickets/{number}/ola`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OlaReport {
    pub tiers: Vec<TierTime>,
    pub spans: Vec<GroupSpan>,
}

async fn targets(conn: &mut orion_store::Conn<'_>) -> AppResult<OlaTargets> {
    match settings::get(conn, OLA_TARGETS).await? {
        Some(json) => serde_json::from_str(&json).map_err(|e| AppError::Internal(format!("stored OLA targets: {e}"))),
        None => Ok(OlaTargets::default()),
    }
}

impl App {
    pub async fn get_ola_targets(&self, actor: &Actor) -> AppResult<OlaTargets> {
        if !actor.can_read_directory() {
            return Err(AppError::Forbidden("only staff can read OLA targets".into()));
        }
        let mut r = self.db.read().await?;
        targets(&mut r.conn()).await
    }

    pub async fn set_ola_targets(&self, actor: &Actor, t: OlaTargets) -> AppResult<OlaTargets> {
        if !actor.can_administer() {
            return Err(AppError::Forbidden("only admins can change OLA targets".into()));
        }
        let mut errs = orion_domain::FieldErrors::new();
        for (field, v) in
            [("tier1_minutes", t.tier1_minutes), ("tier2_minutes", t.tier2_minutes), ("tier3_minutes", t.tier3_minutes)]
        {
            if !(1..=525_600).contains(&v) {
                errs.push(field, "must be between 1 and 525600 minutes");
            }
        }
        errs.into_result()?;
        let json = serde_json::to_string(&t).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        settings::put(&mut tx.conn(), OLA_TARGETS, &json, self.now()).await?;
        self.commit(tx).await?;
        Ok(t)
    }

    /// Time per group and per tier for one ticket (staff).
    pub async fn ticket_ola(&self, actor: &Actor, number: &str) -> AppResult<OlaReport> {
        if !actor.can_work_tickets() {
            return Err(AppError::Forbidden("only support staff can read OLA figures".into()));
        }
        let now = self.now();
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        let cal = business_calendar(&mut c).await?;
        let targets = targets(&mut c).await?;
        let mut per_tier: BTreeMap<i64, i64> = BTreeMap::new();
        let spans: Vec<GroupSpan> = spans_of(&mut c, t.id)
            .await?
            .into_iter()
            .map(|s| {
                let ms = cal.business_ms_between(Timestamp(s.from), Timestamp(s.to.unwrap_or(now)));
                *per_tier.entry(s.tier).or_default() += ms;
                GroupSpan {
                    group: s.group,
                    tier: s.tier,
                    from: Timestamp(s.from).to_rfc3339(),
                    to: s.to.map(|x| Timestamp(x).to_rfc3339()),
                    working_minutes: ms / 60_000,
                }
            })
            .collect();
        let tiers = per_tier
            .into_iter()
            .map(|(tier, ms)| {
                let target = targets.for_tier(tier);
                TierTime {
                    tier,
                    working_minutes: ms / 60_000,
                    target_minutes: target,
                    state: if ms > target * 60_000 { "over" } else { "within" }.into(),
                }
            })
            .collect();
        Ok(OlaReport { tiers, spans })
    }
}

/// One stretch with a group, read from the timeline.
struct Span {
    group: String,
    group_id: i64,
    tier: i64,
    from: i64,
    /// `None` while the ticket is still with the group
    to: Option<i64>,
}

/// Walks a ticket's timeline: who had the ticket from when, and when the count stood still
/// (from resolution or closure to reopen).
async fn spans_of(c: &mut orion_store::Conn<'_>, ticket_id: i64) -> AppResult<Vec<Span>> {
    let groups: BTreeMap<String, (i64, i64)> =
        groups::list(c).await?.into_iter().map(|g| (g.name, (g.id, g.tier))).collect();
    let span = |name: &str, from: i64| {
        let (group_id, tier) = groups.get(name).copied().unwrap_or((0, 1));
        Span { group: name.to_string(), group_id, tier, from, to: None }
    };
    let mut spans: Vec<Span> = Vec::new();
    let mut current: Option<String> = None;
    let mut counting = true;
    let mut after = None;
    loop {
        let page = timeline::list(c, ticket_id, true, after, 500).await?;
        let Some(last) = page.last().map(|e| e.id) else { break };
        for e in &page {
            let data: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
            let moved_to = match e.kind.as_str() {
                "created" => data["assignment_group"].as_str().map(str::to_string),
                "escalated" => data["to_group"].as_str().map(str::to_string),
                "fields_changed" => data["changes"]
                    .as_array()
                    .and_then(|cs| cs.iter().find(|ch| ch["field"] == "assignment_group"))
                    .and_then(|ch| ch["to"].as_str().map(str::to_string)),
                _ => None,
            };
            let close = |spans: &mut Vec<Span>| {
                if let Some(open) = spans.last_mut().filter(|s| s.to.is_none()) {
                    open.to = Some(e.at);
                }
            };
            if let Some(g) = moved_to {
                close(&mut spans);
                if counting {
                    spans.push(span(&g, e.at));
                }
                current = Some(g);
            } else if e.kind == "resolved" || e.kind == "closed" {
                close(&mut spans);
                counting = false;
            } else if e.kind == "reopened" {
                counting = true;
                if let Some(g) = &current {
                    spans.push(span(g, e.at));
                }
            }
        }
        after = Some(last);
    }
    Ok(spans)
}

/// The OLA subscriber to ticket events: a resolution records the ticket's spans per group.
pub(crate) async fn react(c: &mut orion_store::Conn<'_>, r: &timeline::Recorded) -> AppResult<()> {
    if r.event == orion_domain::TicketEvent::Resolved {
        record_spans(c, r.ticket_id, r.at).await?;
    }
    Ok(())
}

/// Records, at resolution, the working time the ticket spent with each group (summed over every
/// stretch with it) for OLA reports; a ticket resolved again after a reopen replaces its rows.
pub(crate) async fn record_spans(c: &mut orion_store::Conn<'_>, ticket_id: i64, resolved_at: i64) -> AppResult<()> {
    let cal = business_calendar(c).await?;
    let targets = targets(c).await?;
    let mut per_group: BTreeMap<i64, sla::OlaSpanWrite> = BTreeMap::new();
    for s in spans_of(c, ticket_id).await?.into_iter().filter(|s| s.group_id != 0) {
        let to = s.to.unwrap_or(resolved_at);
        let ms = cal.business_ms_between(Timestamp(s.from), Timestamp(to));
        let row = per_group.entry(s.group_id).or_insert(sla::OlaSpanWrite {
            group_id: s.group_id,
            tier: s.tier,
            started_at: s.from,
            ended_at: to,
            working_ms: 0,
            target_ms: targets.for_tier(s.tier) * 60_000,
        });
        row.ended_at = row.ended_at.max(to);
        row.working_ms += ms;
    }
    let rows: Vec<sla::OlaSpanWrite> = per_group.into_values().collect();
    sla::record_ola_spans(c, ticket_id, resolved_at, &rows).await?;
    Ok(())
}

/// `GET /api/v1/reports/ola`: how long resolved tickets sat with each group and tier.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OlaSummary {
    /// Tickets resolved from (inclusive)…
    pub from: String,
    /// …to (exclusive)
    pub to: String,
    pub tiers: Vec<OlaFigures>,
    pub groups: Vec<OlaFigures>,
}

/// Figures for one group, or (with `group` null) one tier.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OlaFigures {
    pub group: Option<String>,
    pub tier: i64,
    /// Tickets that passed through (per tier: visits to its groups)
    pub tickets: i64,
    pub average_minutes: i64,
    pub max_minutes: i64,
    pub target_minutes: i64,
    /// Visits longer than the tier's target
    pub over_target: i64,
    /// Share of visits within target, 0–100
    pub within_target_percent: i64,
}

/// Query of `GET /api/v1/reports/ola`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OlaQuery {
    /// `YYYY-MM-DD` (UTC) or RFC 3339; default: 30 days before `to`
    pub from: Option<String>,
    /// `YYYY-MM-DD` (UTC, exclusive) or RFC 3339; default: now
    pub to: Option<String>,
    /// One group only
    pub group: Option<String>,
}

fn figures(group: Option<String>, tier: i64, tickets: i64, total: i64, max: i64, over: i64, target: i64) -> OlaFigures {
    OlaFigures {
        group,
        tier,
        tickets,
        average_minutes: if tickets > 0 { total / tickets / 60_000 } else { 0 },
        max_minutes: max / 60_000,
        target_minutes: target,
        over_target: over,
        within_target_percent: if tickets > 0 { (tickets - over) * 100 / tickets } else { 100 },
    }
}

impl App {
    /// Working time per group and tier for the tickets resolved in a period (staff).
    pub async fn ola_report(&self, actor: &Actor, q: &OlaQuery) -> AppResult<OlaSummary> {
        if !actor.can_work_tickets() {
            return Err(AppError::Forbidden("only support staff can read OLA reports".into()));
        }
        let mut errs = orion_domain::FieldErrors::new();
        let period = crate::kernel::period::parse(q.from.as_deref(), q.to.as_deref(), self.now(), &mut errs);
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let group_id = match q.group.as_deref() {
            Some(name) => match groups::list(&mut c).await?.into_iter().find(|g| g.name.eq_ignore_ascii_case(name)) {
                Some(g) => Some(g.id),
                None => {
                    errs.push("group", format!("no group named {name:?}"));
                    None
                }
            },
            None => None,
        };
        errs.into_result()?;
        let Some((from, to)) = period else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let targets = targets(&mut c).await?;
        let reader = (!actor.can_administer()).then_some(actor.id.0);
        let rows = sla::ola_aggregate(&mut c, from, to, group_id, reader).await?;
        let mut tiers: BTreeMap<i64, (i64, i64, i64, i64)> = BTreeMap::new();
        let groups = rows
            .iter()
            .map(|g| {
                let t = tiers.entry(g.tier).or_default();
                *t = (t.0 + g.spans, t.1 + g.total_ms, t.2.max(g.max_ms), t.3 + g.over_target);
                figures(
                    Some(g.group_name.clone()),
                    g.tier,
                    g.tickets,
                    g.total_ms,
                    g.max_ms,
                    g.over_target,
                    targets.for_tier(g.tier),
                )
            })
            .collect();
        let tiers = tiers
            .into_iter()
            .map(|(tier, (n, total, max, over))| figures(None, tier, n, total, max, over, targets.for_tier(tier)))
            .collect();
        Ok(OlaSummary { from: Timestamp(from).to_rfc3339(), to: Timestamp(to).to_rfc3339(), tiers, groups })
    }
}
