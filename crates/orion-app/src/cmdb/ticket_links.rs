//! Assets named on tickets: the tickets about an asset, the assets on a ticket with what an
//! outage of them affects, naming and un-naming them, and the asset history entry each link gets.

use super::relations::{services_and_users, walk_impact};
use super::{Asset, AssetRef, view};
use crate::kernel::access::require_staff;
use crate::kernel::error::{found, invalid};
use crate::kernel::paging::{keyset_cursor, parse_cursor, parse_limit};
use crate::tickets::resolve_ref;
use crate::{App, AppResult, Page};
use orion_domain::{Actor, Role, TicketEvent, Timestamp};
use orion_store::Conn;
use orion_store::cmdb::{self as store, CiRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// A ticket that names an asset.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssetTicket {
    pub number: String,
    pub title: String,
    pub state: String,
    pub priority: String,
    pub created_at: String,
}

/// The assets a ticket names, and what an outage of them affects.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TicketAssets {
    pub assets: Vec<Asset>,
    /// Services affected through any of them
    pub affected_services: Vec<AssetRef>,
    /// How many people hold an affected device
    pub affected_users: usize,
    /// How many CIs are affected in all
    pub affected_cis: usize,
}

/// `POST /api/v1/tickets/{number}/assets`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketAssetInput {
    /// The asset's id or asset tag
    pub asset: String,
}

impl App {
    /// The tickets that name an asset, newest first (staff).
    pub async fn asset_tickets(
        &self,
        actor: &Actor,
        id: i64,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<AssetTicket>> {
        require_staff(actor, "read asset tickets")?;
        let limit = parse_limit(limit)?;
        let before = parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        found(store::get(&mut c, id).await, "asset")?;
        let mut rows = store::tickets_of_ci(&mut c, id, before, limit + 1).await?;
        let next_cursor = keyset_cursor(&mut rows, limit, |t| t.id);
        crate::tickets::drop_hidden(&mut c, actor, &mut rows, |t| t.id).await?;
        let items = rows
            .into_iter()
            .map(|t| AssetTicket {
                number: t.number,
                title: t.title,
                state: t.state,
                priority: format!("P{}", t.priority),
                created_at: Timestamp(t.created_at).to_rfc3339(),
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    /// The assets a ticket names, with the services and people an outage of them affects.
    /// A requester sees the devices on their own tickets (not the impact beyond them).
    pub async fn ticket_assets(&self, actor: &Actor, number: &str) -> AppResult<TicketAssets> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        let rows = store::cis_of_ticket(&mut c, t.id).await?;
        let now = self.now();
        if !actor.can_work_tickets() {
            let assets = rows.into_iter().map(|r| view(r, now)).collect();
            return Ok(TicketAssets { assets, affected_services: Vec::new(), affected_users: 0, affected_cis: 0 });
        }
        let roots: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let (walk, _) = walk_impact(&mut c, &roots).await?;
        let ids: Vec<i64> = walk.iter().map(|w| w.0).collect();
        let more = store::get_many(&mut c, &ids).await?;
        let all: Vec<&CiRow> = rows.iter().chain(more.iter()).collect();
        let (services, users) = services_and_users(&all);
        Ok(TicketAssets {
            affected_services: services,
            affected_users: users.len(),
            affected_cis: ids.len(),
            assets: rows.into_iter().map(|r| view(r, now)).collect(),
        })
    }

    /// Names an asset on a ticket. Staff may name any asset; a requester only a device of
    /// their own on their own ticket.
    pub async fn link_ticket_asset(
        &self,
        actor: &Actor,
        number: &str,
        input: TicketAssetInput,
    ) -> AppResult<TicketAssets> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        let ci = resolve_ref(&mut c, "asset", &input.asset).await?;
        if actor.role == Role::Requester && ci.owner_id != Some(actor.id.0) {
            return Err(invalid("asset", "you can name only a device checked out to you"));
        }
        crate::tickets::link_asset(&mut c, (t.id, &t.number), (ci.id, &ci.name), Some(actor.id.0), now).await?;
        self.commit(tx).await?;
        self.ticket_assets(actor, number).await
    }

    /// Removes an asset from a ticket (staff).
    pub async fn unlink_ticket_asset(&self, actor: &Actor, number: &str, asset_id: i64) -> AppResult<()> {
        require_staff(actor, "change a ticket's assets")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        found(store::unlink_ticket(&mut c, t.id, asset_id).await, "asset on this ticket")?;
        let ci = store::get(&mut c, asset_id).await?;
        let event = TicketEvent::AssetLinked { asset_id: ci.id, ticket_number: t.number.clone(), linked: false };
        let data = json!({"asset": ci.id, "name": ci.name});
        crate::tickets::record_entry(&mut c, t.id, now, Some(actor), ("asset_unlinked", event), &data).await?;
        self.commit(tx).await?;
        Ok(())
    }
}

/// The history entry an asset gets when it is named on a ticket or no longer is (a subscriber
/// to [`TicketEvent::AssetLinked`]).
pub(crate) async fn react(c: &mut Conn<'_>, r: &orion_store::timeline::Recorded) -> AppResult<()> {
    if let orion_domain::TicketEvent::AssetLinked { asset_id, ticket_number, linked } = &r.event {
        let (kind, body) = if *linked {
            ("ticket_linked", format!("Named on {ticket_number}"))
        } else {
            ("ticket_unlinked", format!("No longer on {ticket_number}"))
        };
        let data = json!({"ticket": ticket_number}).to_string();
        let actor_id = r.entry.as_ref().and_then(|e| e.actor_id);
        store::insert_event(c, *asset_id, r.at, actor_id, kind, &body, &data).await?;
    }
    Ok(())
}
