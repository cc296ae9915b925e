//! Relations between CIs (`source <kind> target`) and what an outage of one affects: the walk
//! up the relation graph, the services on it and the people holding the devices it reaches.

use super::{Holder, event};
use crate::kernel::access::require_staff;
use crate::kernel::error::{found, invalid};
use crate::tickets::resolve_ref;
use crate::{App, AppError, AppResult};
use orion_domain::{Actor, Timestamp};
use orion_store::Conn;
use orion_store::cmdb::{self as store, CiRow, RelationRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use utoipa::ToSchema;

crate::api_schema::one_of_values!(relation_kinds, relation_kinds_exact: RELATION_KINDS);

/// An impact walk stops after this many CIs (a CMDB where everything depends on everything).
const IMPACT_MAX: usize = 5_000;

/// A relation as listed on an asset: `asset <kind> other`, from this asset's point of view.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Relation {
    pub id: i64,
    pub source: AssetRef,
    /// runs_on, depends_on, connected_to, installed_on
    pub kind: String,
    pub target: AssetRef,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssetRef {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub ci_type: String,
}

impl From<RelationRow> for Relation {
    fn from(r: RelationRow) -> Self {
        Relation {
            id: r.id,
            source: AssetRef { id: r.source_id, name: r.source_name, ci_type: r.source_type },
            kind: r.kind,
            target: AssetRef { id: r.target_id, name: r.target_name, ci_type: r.target_type },
            created_at: Timestamp(r.created_at).to_rfc3339(),
        }
    }
}

/// The relation kinds: `source <kind> target`, and an outage of the target affects the source.
pub const RELATION_KINDS: &[&str] = &["runs_on", "depends_on", "connected_to", "installed_on"];

/// `POST /api/v1/assets/{id}/relations`: this asset `<kind>` the target.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationInput {
    /// runs_on (VM -> server), depends_on (service -> server, database), connected_to (device ->
    /// switch), installed_on (software -> device)
    #[schema(schema_with = relation_kinds_exact)]
    pub kind: String,
    /// The other asset: its id, or its asset tag
    #[schema(min_length = 1, pattern = "\\S")]
    pub target: String,
}

/// What an outage of an asset affects: every CI that runs on, depends on, is connected to or is
/// installed on it, transitively, the services among them, and the people holding them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Impact {
    pub asset: AssetRef,
    /// Every affected CI with how far it is from the asset (1: directly) and the path's last step
    pub affected: Vec<ImpactedCi>,
    /// The affected services (type `service`), the asset itself included if it is one
    pub services: Vec<AssetRef>,
    /// The people holding an affected device, or the asset itself
    pub users: Vec<Holder>,
    /// True when the walk stopped at its limit (5,000 CIs)
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImpactedCi {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub ci_type: String,
    pub depth: i64,
    /// How it depends on the CI one step closer: `<this> <kind> <via>`
    pub kind: String,
    pub via: i64,
}

/// Walks the relation graph from `root` towards everything that depends on it. Safe against
/// cycles (each CI is visited once) and bounded by [`IMPACT_MAX`].
pub(crate) async fn walk_impact(c: &mut Conn<'_>, roots: &[i64]) -> AppResult<(Vec<(i64, i64, String, i64)>, bool)> {
    let mut seen: HashSet<i64> = roots.iter().copied().collect();
    let mut found = Vec::new();
    let mut frontier: Vec<i64> = roots.to_vec();
    let mut depth = 0;
    let mut truncated = false;
    while !frontier.is_empty() {
        depth += 1;
        let edges = store::sources_of(c, &frontier).await?;
        let mut next = Vec::new();
        for (source, kind, target) in edges {
            if seen.insert(source) {
                if found.len() >= IMPACT_MAX {
                    truncated = true;
                    break;
                }
                found.push((source, depth, kind, target));
                next.push(source);
            }
        }
        if truncated {
            break;
        }
        frontier = next;
    }
    Ok((found, truncated))
}

impl App {
    /// An asset's relations, both directions (staff).
    pub async fn asset_relations(&self, actor: &Actor, id: i64) -> AppResult<Vec<Relation>> {
        require_staff(actor, "read the CMDB")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        found(store::get(&mut c, id).await, "asset")?;
        Ok(store::relations_of(&mut c, id).await?.into_iter().map(Into::into).collect())
    }

    /// Records `asset <kind> target` (staff).
    pub async fn relate_asset(&self, actor: &Actor, id: i64, input: RelationInput) -> AppResult<Relation> {
        require_staff(actor, "change the CMDB")?;
        let kind = input.kind.trim().to_lowercase();
        if !RELATION_KINDS.contains(&kind.as_str()) {
            return Err(invalid("kind", format!("must be one of {}", RELATION_KINDS.join(", "))));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let source = found(store::get(&mut c, id).await, "asset")?;
        let target = resolve_ref(&mut c, "target", &input.target).await?;
        if target.id == source.id {
            return Err(invalid("target", "an asset cannot relate to itself"));
        }
        let rid = match store::insert_relation(&mut c, id, &kind, target.id, actor.id.0, now).await {
            Err(orion_store::StoreError::Duplicate) => {
                return Err(AppError::Conflict(format!("{} already {kind} {}", source.name, target.name)));
            }
            other => other?,
        };
        let summary = format!("{} {} {}", source.name, kind.replace('_', " "), target.name);
        let data = json!({"relation": rid, "source": source.id, "kind": kind, "target": target.id});
        event(&mut c, source.id, now, Some(actor), "related", &summary, data.clone()).await?;
        event(&mut c, target.id, now, Some(actor), "related", &summary, data).await?;
        let rel = store::get_relation(&mut c, rid).await?;
        self.commit(tx).await?;
        Ok(rel.into())
    }

    /// Removes a relation of this asset (staff).
    pub async fn unrelate_asset(&self, actor: &Actor, id: i64, relation: i64) -> AppResult<()> {
        require_staff(actor, "change the CMDB")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let rel = found(store::get_relation(&mut c, relation).await, "relation")?;
        if rel.source_id != id && rel.target_id != id {
            return Err(AppError::NotFound("relation"));
        }
        store::delete_relation(&mut c, relation).await?;
        let summary = format!("No longer: {} {} {}", rel.source_name, rel.kind.replace('_', " "), rel.target_name);
        let data = json!({"relation": rel.id, "source": rel.source_id, "kind": rel.kind, "target": rel.target_id});
        event(&mut c, rel.source_id, now, Some(actor), "unrelated", &summary, data.clone()).await?;
        event(&mut c, rel.target_id, now, Some(actor), "unrelated", &summary, data).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// What an outage of this asset affects (staff).
    pub async fn asset_impact(&self, actor: &Actor, id: i64) -> AppResult<Impact> {
        require_staff(actor, "read the CMDB")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let root = found(store::get(&mut c, id).await, "asset")?;
        let (walk, truncated) = walk_impact(&mut c, &[id]).await?;
        let ids: Vec<i64> = walk.iter().map(|w| w.0).collect();
        let rows: HashMap<i64, CiRow> = store::get_many(&mut c, &ids).await?.into_iter().map(|r| (r.id, r)).collect();
        let mut affected = Vec::new();
        for (cid, depth, kind, via) in walk {
            if let Some(row) = rows.get(&cid) {
                affected.push(ImpactedCi {
                    id: cid,
                    name: row.name.clone(),
                    ci_type: row.ci_type.clone(),
                    depth,
                    kind,
                    via,
                });
            }
        }
        let all: Vec<&CiRow> = std::iter::once(&root).chain(ids.iter().filter_map(|i| rows.get(i))).collect();
        let (services, users) = services_and_users(&all);
        Ok(Impact {
            asset: AssetRef { id: root.id, name: root.name, ci_type: root.ci_type },
            affected,
            services,
            users,
            truncated,
        })
    }
}

pub(super) fn services_and_users(all: &[&CiRow]) -> (Vec<AssetRef>, Vec<Holder>) {
    let mut services: Vec<AssetRef> = all
        .iter()
        .filter(|r| r.ci_type == "service")
        .map(|r| AssetRef { id: r.id, name: r.name.clone(), ci_type: r.ci_type.clone() })
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    services.dedup_by_key(|s| s.id);
    let mut users: BTreeMap<String, Holder> = BTreeMap::new();
    for r in all {
        if let (Some(id), Some(email), Some(name)) = (r.owner_id, &r.owner_email, &r.owner_name) {
            users.insert(email.clone(), Holder { id, email: email.clone(), name: name.clone() });
        }
    }
    (services, users.into_values().collect())
}
