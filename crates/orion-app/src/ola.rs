//! OLAs: how long a ticket sits with each support tier, against per-tier targets.
//!
//! Time in a group is read from the ticket's timeline (creation, escalations and
//! reassignments name the groups; resolution and reopen stop and restart the
//! count), so nothing extra is written on the hot path and the figures can be
//! recomputed for any ticket at any time. Working time is counted on the
//! `Business hours` calendar.

use crate::{App, AppError, AppResult};
use orion_domain::calendar::CalendarSpec;
use orion_domain::{Actor, BusinessCalendar, Timestamp};
use orion_store::{groups, settings, sla, timeline};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

const OLA_TARGETS: &str = "ola_targets";

/// Per-tier targets in working minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OlaTargets {
    pub tier1_minutes: i64,
    pub tier2_minutes: i64,
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

async fn business_calendar(conn: &mut orion_store::Conn<'_>) -> AppResult<BusinessCalendar> {
    let row = sla::find_calendar(conn, "Business hours").await?;
    match row {
        Some(r) => {
            let spec: CalendarSpec = serde_json::from_str(&r.spec).map_err(|e| AppError::Internal(e.to_string()))?;
            Ok(spec.build()?)
        }
        None => Ok(BusinessCalendar::always()),
    }
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
        tx.commit().await?;
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
        let t = crate::tickets::load(&mut c, number).await?;
        let cal = business_calendar(&mut c).await?;
        let targets = targets(&mut c).await?;
        let tiers: BTreeMap<String, i64> = groups::list(&mut c).await?.into_iter().map(|g| (g.name, g.tier)).collect();
        let tier_of = |name: &str| tiers.get(name).copied().unwrap_or(1);

        // Walk the timeline: who had the ticket from when, and when the count stood still.
        let mut spans: Vec<(String, i64, i64, Option<i64>)> = Vec::new();
        let mut current: Option<String> = None;
        let mut counting = true;
        let mut after = None;
        loop {
            let page = timeline::list(&mut c, t.id, true, after, 500).await?;
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
                let close = |spans: &mut Vec<(String, i64, i64, Option<i64>)>| {
                    if let Some(open) = spans.last_mut().filter(|s| s.3.is_none()) {
                        open.3 = Some(e.at);
                    }
                };
                if let Some(g) = moved_to {
                    close(&mut spans);
                    if counting {
                        spans.push((g.clone(), tier_of(&g), e.at, None));
                    }
                    current = Some(g);
                } else if e.kind == "resolved" || e.kind == "closed" {
                    close(&mut spans);
                    counting = false;
                } else if e.kind == "reopened" {
                    counting = true;
                    if let Some(g) = &current {
                        spans.push((g.clone(), tier_of(g), e.at, None));
                    }
                }
            }
            after = Some(last);
        }
        let mut per_tier: BTreeMap<i64, i64> = BTreeMap::new();
        let spans: Vec<GroupSpan> = spans
            .into_iter()
            .map(|(group, tier, from, to)| {
                let ms = cal.business_ms_between(Timestamp(from), Timestamp(to.unwrap_or(now)));
                *per_tier.entry(tier).or_default() += ms;
                GroupSpan {
                    group,
                    tier,
                    from: Timestamp(from).to_rfc3339(),
                    to: to.map(|x| Timestamp(x).to_rfc3339()),
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
