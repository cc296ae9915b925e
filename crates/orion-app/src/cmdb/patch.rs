//! Patch status from inventory: each asset's OS and kernel against the configured baseline,
//! and the assets whose inventory has gone stale.
//!
//! The report groups assets by build (OS name, version, kernel) in one aggregate query; a site
//! has a few hundred builds however many assets it has, and the baseline is applied per build.

use super::inventory::{Baseline, load_settings};
use super::{Asset, view};
use crate::kernel::access::require_staff;
use crate::kernel::paging::{keyset_cursor, parse_cursor, parse_limit};
use crate::{App, AppResult, Page};
use orion_domain::Actor;
use orion_domain::asset::compare_versions;
use orion_store::cmdb as store;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use utoipa::{IntoParams, ToSchema};

const DAY_MS: i64 = 86_400_000;

/// A build's standing against the baseline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BuildStatus {
    pub os_name: String,
    pub os_version: String,
    pub kernel: String,
    pub assets: i64,
    /// Of which not inventoried within `stale_days`
    pub stale: i64,
    /// `ok`, `behind` or `no_baseline`
    pub status: String,
    /// What the baseline asks for, when it applies
    pub min_version: Option<String>,
    pub min_kernel: Option<String>,
}

/// `GET /api/v1/reports/patch-status`: every build with its status, and the totals.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PatchSummary {
    pub stale_days: i64,
    pub assets: i64,
    pub ok: i64,
    pub behind: i64,
    pub no_baseline: i64,
    pub stale: i64,
    pub builds: Vec<BuildStatus>,
}

/// Filters for `GET /api/v1/reports/patch-status/assets`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PatchQuery {
    /// `behind` (default), `ok`, `no_baseline` or `stale`
    #[param(schema_with = crate::api_schema::patch_statuses_exact)]
    pub status: Option<String>,
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    /// 1..200, default 50
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The baseline that applies to an OS: the longest matching prefix.
fn baseline_for<'a>(baselines: &'a [Baseline], os: &str) -> Option<&'a Baseline> {
    let os = os.to_lowercase();
    baselines.iter().filter(|b| os.starts_with(&b.os.trim().to_lowercase())).max_by_key(|b| b.os.trim().len())
}

fn status_of(b: Option<&Baseline>, version: &str, kernel: &str) -> &'static str {
    let Some(b) = b else { return "no_baseline" };
    let below = |have: &str, want: &Option<String>| {
        want.as_deref().is_some_and(|w| have.is_empty() || compare_versions(have, w) == Ordering::Less)
    };
    if below(version, &b.min_version) || below(kernel, &b.min_kernel) { "behind" } else { "ok" }
}

impl App {
    /// Every OS build in use, against the baseline (staff).
    pub async fn patch_summary(&self, actor: &Actor) -> AppResult<PatchSummary> {
        require_staff(actor, "read the patch report")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let settings = load_settings(&mut c).await?;
        let stale_before = self.now() - settings.stale_days * DAY_MS;
        let mut s = PatchSummary {
            stale_days: settings.stale_days,
            assets: 0,
            ok: 0,
            behind: 0,
            no_baseline: 0,
            stale: 0,
            builds: Vec::new(),
        };
        for b in store::os_builds(&mut c, stale_before).await? {
            let base = baseline_for(&settings.baselines, &b.os_name);
            let status = status_of(base, &b.os_version, &b.kernel);
            s.assets += b.assets;
            s.stale += b.stale;
            match status {
                "ok" => s.ok += b.assets,
                "behind" => s.behind += b.assets,
                _ => s.no_baseline += b.assets,
            }
            s.builds.push(BuildStatus {
                os_name: b.os_name,
                os_version: b.os_version,
                kernel: b.kernel,
                assets: b.assets,
                stale: b.stale,
                status: status.into(),
                min_version: base.and_then(|x| x.min_version.clone()),
                min_kernel: base.and_then(|x| x.min_kernel.clone()),
            });
        }
        Ok(s)
    }

    /// The assets of one patch status, newest first (staff).
    pub async fn patch_assets(&self, actor: &Actor, q: PatchQuery) -> AppResult<Page<Asset>> {
        require_staff(actor, "read the patch report")?;
        let limit = parse_limit(q.limit)?;
        let before = parse_cursor(q.cursor.as_deref())?;
        let status = q.status.as_deref().unwrap_or("behind").trim().to_lowercase();
        if !matches!(status.as_str(), "behind" | "ok" | "no_baseline" | "stale") {
            return Err(crate::kernel::error::invalid("status", "must be behind, ok, no_baseline or stale"));
        }
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let settings = load_settings(&mut c).await?;
        let now = self.now();
        let stale_before = now - settings.stale_days * DAY_MS;
        let mut rows = if status == "stale" {
            store::list_by_build(&mut c, &[], Some(stale_before), before, limit + 1).await?
        } else {
            let builds: Vec<(String, String, String)> = store::os_builds(&mut c, stale_before)
                .await?
                .into_iter()
                .filter(|b| {
                    status_of(baseline_for(&settings.baselines, &b.os_name), &b.os_version, &b.kernel) == status
                })
                .map(|b| (b.os_name, b.os_version, b.kernel))
                .collect();
            store::list_by_build(&mut c, &builds, None, before, limit + 1).await?
        };
        let next_cursor = keyset_cursor(&mut rows, limit, |r| r.id);
        Ok(Page { items: rows.into_iter().map(|r| view(r, now)).collect(), next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_baseline_prefix_decides() {
        let b = vec![
            Baseline { os: "Debian".into(), min_version: Some("11".into()), min_kernel: None },
            Baseline {
                os: "Debian GNU/Linux 12".into(),
                min_version: Some("12.11".into()),
                min_kernel: Some("6.1.0-28".into()),
            },
        ];
        let d12 = baseline_for(&b, "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(status_of(d12, "12.11", "6.1.0-30-amd64"), "ok");
        assert_eq!(status_of(d12, "12.10", "6.1.0-30-amd64"), "behind");
        assert_eq!(status_of(d12, "12.11", "6.1.0-9-amd64"), "behind");
        assert_eq!(status_of(baseline_for(&b, "Debian GNU/Linux 10"), "10.13", ""), "behind");
        assert_eq!(status_of(baseline_for(&b, "Ubuntu 24.04"), "24.04", ""), "no_baseline");
    }
}
