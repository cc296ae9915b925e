//! `/api/v1/assets`, `/api/v1/licences`, `/api/v1/inventory` and the patch report: the CMDB.

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::{AppState, ErrorBody};

use super::ApiResult;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orion_app::Page;
use orion_app::cmdb::csv_io::{CsvKind, ImportReport, parse_mapping};
use orion_app::cmdb::inventory::{InventorySettings, InventoryToken, NewInventoryToken, Presented};
use orion_app::cmdb::licences::{
    Assignment, AssignmentInput, ComplianceQuery, ComplianceReport, Licence, LicenceInput, LicenceListQuery,
};
use orion_app::cmdb::patch::{PatchQuery, PatchSummary};
use orion_app::cmdb::{
    Asset, AssetEvent, AssetInput, AssetQuery, AssetTicket, CheckinInput, CheckoutInput, Impact, NewAssetInput,
    Relation, RelationInput, RepairInput, RepairReturnInput, Software, StateInput, TicketAssetInput, TicketAssets,
};
use orion_app::monitoring::{Alert, MaintenanceWindow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

/// The largest inventory accepted (before decompression): a workstation with thousands of
/// packages sends a few MB of plain XML.
const INVENTORY_MAX_BYTES: usize = 32 * 1024 * 1024;

pub(crate) fn routes(r: super::ApiRoutes) -> super::ApiRoutes {
    r.routes(routes!(list_assets, create_asset))
        .routes(routes!(get_asset, update_asset, delete_asset))
        .routes(routes!(set_state))
        .routes(routes!(checkout))
        .routes(routes!(checkin))
        .routes(routes!(repair))
        .routes(routes!(repair_return))
        .routes(routes!(history))
        .routes(routes!(relations, relate))
        .routes(routes!(unrelate))
        .routes(routes!(impact))
        .routes(routes!(asset_tickets))
        .routes(routes!(software))
        .routes(routes!(asset_alerts))
        .routes(routes!(asset_windows))
        .routes(routes!(my_devices))
        .routes(routes!(ticket_assets, link_ticket_asset))
        .routes(routes!(unlink_ticket_asset))
        .routes(routes!(list_licences, create_licence))
        .routes(routes!(compliance))
        .routes(routes!(get_licence, update_licence, delete_licence))
        .routes(routes!(assignments, assign))
        .routes(routes!(unassign))
        .routes(routes!(patch_summary))
        .routes(routes!(patch_assets))
        .routes(routes!(inventory).layer(DefaultBodyLimit::max(INVENTORY_MAX_BYTES)))
        .routes(routes!(get_inventory_settings, put_inventory_settings))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(delete_token))
        .routes(routes!(import).layer(DefaultBodyLimit::max(INVENTORY_MAX_BYTES * 8)))
        .routes(routes!(export))
}

/// Assets newest first (staff; a requester sees their own devices). Keyset-paged.
#[utoipa::path(get, path = "/api/v1/assets", tag = "assets", params(AssetQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<Asset>), (status = 422, body = ErrorBody)))]
async fn list_assets(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<AssetQuery>,
) -> ApiResult<Json<Page<Asset>>> {
    Ok(Json(s.app.list_assets(&a, q).await?))
}

/// Register an asset (staff).
#[utoipa::path(post, path = "/api/v1/assets", tag = "assets", request_body = NewAssetInput, security(("bearer" = [])),
    responses((status = 201, body = Asset), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_asset(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<NewAssetInput>,
) -> ApiResult<(StatusCode, Json<Asset>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_asset(&a, input.into()).await?)))
}

/// One asset (staff, or its holder).
#[utoipa::path(get, path = "/api/v1/assets/{id}", tag = "assets", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Asset), (status = 404, body = ErrorBody)))]
async fn get_asset(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Asset>> {
    Ok(Json(s.app.get_asset(&a, id).await?))
}

/// Change an asset's fields (staff); send `version` to refuse a change made meanwhile (409).
#[utoipa::path(put, path = "/api/v1/assets/{id}", tag = "assets", params(("id" = i64, Path)), request_body = AssetInput,
    security(("bearer" = [])),
    responses((status = 200, body = Asset), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_asset(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<AssetInput>,
) -> ApiResult<Json<Asset>> {
    Ok(Json(s.app.update_asset(&a, id, input).await?))
}

/// Delete an asset registered by mistake (admins); one with tickets or licence seats is refused (409).
#[utoipa::path(delete, path = "/api/v1/assets/{id}", tag = "assets", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_asset(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<StatusCode> {
    s.app.delete_asset(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A lifecycle move: ordered → in_stock, → retired → disposed, reinstated… (staff).
#[utoipa::path(post, path = "/api/v1/assets/{id}/state", tag = "assets", params(("id" = i64, Path)),
    request_body = StateInput, security(("bearer" = [])),
    responses((status = 200, body = Asset), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_state(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<StateInput>,
) -> ApiResult<Json<Asset>> {
    Ok(Json(s.app.set_asset_state(&a, id, input).await?))
}

/// Check an asset out to a person (staff).
#[utoipa::path(post, path = "/api/v1/assets/{id}/checkout", tag = "assets", params(("id" = i64, Path)),
    request_body = CheckoutInput, security(("bearer" = [])),
    responses((status = 200, body = Asset), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn checkout(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<CheckoutInput>,
) -> ApiResult<Json<Asset>> {
    Ok(Json(s.app.checkout_asset(&a, id, input).await?))
}

/// Check an asset in, with its condition (staff).
#[utoipa::path(post, path = "/api/v1/assets/{id}/checkin", tag = "assets", params(("id" = i64, Path)),
    request_body = CheckinInput, security(("bearer" = [])),
    responses((status = 200, body = Asset), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn checkin(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<CheckinInput>,
) -> ApiResult<Json<Asset>> {
    Ok(Json(s.app.checkin_asset(&a, id, input).await?))
}

/// Send an asset to a vendor for repair (staff).
#[utoipa::path(post, path = "/api/v1/assets/{id}/repair", tag = "assets", params(("id" = i64, Path)),
    request_body = RepairInput, security(("bearer" = [])),
    responses((status = 200, body = Asset), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn repair(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<RepairInput>,
) -> ApiResult<Json<Asset>> {
    Ok(Json(s.app.send_to_repair(&a, id, input).await?))
}

/// Receive an asset back from repair (staff).
#[utoipa::path(post, path = "/api/v1/assets/{id}/repair/return", tag = "assets", params(("id" = i64, Path)),
    request_body = RepairReturnInput, security(("bearer" = [])),
    responses((status = 200, body = Asset), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn repair_return(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<RepairReturnInput>,
) -> ApiResult<Json<Asset>> {
    Ok(Json(s.app.return_from_repair(&a, id, input).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    pub cursor: Option<String>,
    /// 1..200, default 50
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// An asset's full history, newest first (staff).
#[utoipa::path(get, path = "/api/v1/assets/{id}/history", tag = "assets", params(("id" = i64, Path), PageQuery),
    security(("bearer" = [])), responses((status = 200, body = Page<AssetEvent>), (status = 404, body = ErrorBody)))]
async fn history(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<AssetEvent>>> {
    Ok(Json(s.app.asset_history(&a, id, q.cursor.as_deref(), q.limit).await?))
}

/// An asset's relations, both directions (staff).
#[utoipa::path(get, path = "/api/v1/assets/{id}/relations", tag = "assets", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<Relation>), (status = 404, body = ErrorBody)))]
async fn relations(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Relation>>> {
    Ok(Json(s.app.asset_relations(&a, id).await?))
}

/// Record `asset <kind> target` (staff).
#[utoipa::path(post, path = "/api/v1/assets/{id}/relations", tag = "assets", params(("id" = i64, Path)),
    request_body = RelationInput, security(("bearer" = [])),
    responses((status = 201, body = Relation), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn relate(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<RelationInput>,
) -> ApiResult<(StatusCode, Json<Relation>)> {
    Ok((StatusCode::CREATED, Json(s.app.relate_asset(&a, id, input).await?)))
}

/// Remove one of an asset's relations (staff).
#[utoipa::path(delete, path = "/api/v1/assets/{id}/relations/{relation}", tag = "assets",
    params(("id" = i64, Path), ("relation" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn unrelate(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath((id, rel)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    s.app.unrelate_asset(&a, id, rel).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an outage of the asset affects, transitively (staff).
#[utoipa::path(get, path = "/api/v1/assets/{id}/impact", tag = "assets", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Impact), (status = 404, body = ErrorBody)))]
async fn impact(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Impact>> {
    Ok(Json(s.app.asset_impact(&a, id).await?))
}

/// The tickets naming the asset, newest first (staff).
#[utoipa::path(get, path = "/api/v1/assets/{id}/tickets", tag = "assets", params(("id" = i64, Path), PageQuery),
    security(("bearer" = [])), responses((status = 200, body = Page<AssetTicket>), (status = 404, body = ErrorBody)))]
async fn asset_tickets(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<AssetTicket>>> {
    Ok(Json(s.app.asset_tickets(&a, id, q.cursor.as_deref(), q.limit).await?))
}

/// The software the asset's last inventory listed (staff).
#[utoipa::path(get, path = "/api/v1/assets/{id}/software", tag = "assets", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<Software>), (status = 404, body = ErrorBody)))]
async fn software(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Software>>> {
    Ok(Json(s.app.asset_software(&a, id).await?))
}

/// Monitoring alerts naming the asset (its name or short host name), newest first, at most 200 (staff).
#[utoipa::path(get, path = "/api/v1/assets/{id}/alerts", tag = "assets", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<Alert>), (status = 404, body = ErrorBody)))]
async fn asset_alerts(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Alert>>> {
    Ok(Json(s.app.asset_alerts(&a, id, 200).await?))
}

/// Maintenance windows, current and coming, whose `ci` matcher names the asset (staff).
#[utoipa::path(get, path = "/api/v1/assets/{id}/windows", tag = "assets", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<MaintenanceWindow>), (status = 404, body = ErrorBody)))]
async fn asset_windows(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<MaintenanceWindow>>> {
    Ok(Json(s.app.asset_windows(&a, id).await?))
}

/// The devices checked out to the caller.
#[utoipa::path(get, path = "/api/v1/me/devices", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = Vec<Asset>)))]
async fn my_devices(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Asset>>> {
    Ok(Json(s.app.my_devices(&a).await?))
}

/// The assets a ticket names and what an outage of them affects.
#[utoipa::path(get, path = "/api/v1/tickets/{number}/assets", tag = "tickets", params(("number" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = TicketAssets), (status = 404, body = ErrorBody)))]
async fn ticket_assets(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(n): ApiPath<String>,
) -> ApiResult<Json<TicketAssets>> {
    Ok(Json(s.app.ticket_assets(&a, &n).await?))
}

/// Name an asset on a ticket (a requester: only a device of their own).
#[utoipa::path(post, path = "/api/v1/tickets/{number}/assets", tag = "tickets", params(("number" = String, Path)),
    request_body = TicketAssetInput, security(("bearer" = [])),
    responses((status = 200, body = TicketAssets), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn link_ticket_asset(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(n): ApiPath<String>,
    ApiJson(input): ApiJson<TicketAssetInput>,
) -> ApiResult<Json<TicketAssets>> {
    Ok(Json(s.app.link_ticket_asset(&a, &n, input).await?))
}

/// Remove an asset from a ticket (staff).
#[utoipa::path(delete, path = "/api/v1/tickets/{number}/assets/{id}", tag = "tickets",
    params(("number" = String, Path), ("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn unlink_ticket_asset(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath((n, id)): ApiPath<(String, i64)>,
) -> ApiResult<StatusCode> {
    s.app.unlink_ticket_asset(&a, &n, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Licences newest first (staff).
#[utoipa::path(get, path = "/api/v1/licences", tag = "assets", params(LicenceListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<Licence>)))]
async fn list_licences(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<LicenceListQuery>,
) -> ApiResult<Json<Page<Licence>>> {
    Ok(Json(s.app.list_licences(&a, q).await?))
}

/// Record a licence (staff).
#[utoipa::path(post, path = "/api/v1/licences", tag = "assets", request_body = LicenceInput, security(("bearer" = [])),
    responses((status = 201, body = Licence), (status = 422, body = ErrorBody)))]
async fn create_licence(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<LicenceInput>,
) -> ApiResult<(StatusCode, Json<Licence>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_licence(&a, input).await?)))
}

/// Entitled seats against installations, per product; expiring and expired licences (staff).
#[utoipa::path(get, path = "/api/v1/licences/compliance", tag = "assets", params(ComplianceQuery),
    security(("bearer" = [])), responses((status = 200, body = ComplianceReport)))]
async fn compliance(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<ComplianceQuery>,
) -> ApiResult<Json<ComplianceReport>> {
    Ok(Json(s.app.licence_compliance(&a, q).await?))
}

#[utoipa::path(get, path = "/api/v1/licences/{id}", tag = "assets", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Licence), (status = 404, body = ErrorBody)))]
async fn get_licence(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Licence>> {
    Ok(Json(s.app.get_licence(&a, id).await?))
}

/// Change a licence (staff); fields left out keep their value.
#[utoipa::path(put, path = "/api/v1/licences/{id}", tag = "assets", params(("id" = i64, Path)),
    request_body = LicenceInput, security(("bearer" = [])),
    responses((status = 200, body = Licence), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_licence(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<LicenceInput>,
) -> ApiResult<Json<Licence>> {
    Ok(Json(s.app.update_licence(&a, id, input).await?))
}

#[utoipa::path(delete, path = "/api/v1/licences/{id}", tag = "assets", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_licence(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<StatusCode> {
    s.app.delete_licence(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The seats given out (staff).
#[utoipa::path(get, path = "/api/v1/licences/{id}/assignments", tag = "assets", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<Assignment>), (status = 404, body = ErrorBody)))]
async fn assignments(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Assignment>>> {
    Ok(Json(s.app.licence_assignments(&a, id).await?))
}

/// Give a seat to a device or a person (staff); 409 when every seat is taken.
#[utoipa::path(post, path = "/api/v1/licences/{id}/assignments", tag = "assets", params(("id" = i64, Path)),
    request_body = AssignmentInput, security(("bearer" = [])),
    responses((status = 201, body = Assignment), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn assign(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<AssignmentInput>,
) -> ApiResult<(StatusCode, Json<Assignment>)> {
    Ok((StatusCode::CREATED, Json(s.app.assign_licence(&a, id, input).await?)))
}

#[utoipa::path(delete, path = "/api/v1/licences/{id}/assignments/{assignment}", tag = "assets",
    params(("id" = i64, Path), ("assignment" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn unassign(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath((id, aid)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    s.app.unassign_licence(&a, id, aid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every OS build in use against the baseline, with totals (staff).
#[utoipa::path(get, path = "/api/v1/reports/patch-status", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = PatchSummary)))]
async fn patch_summary(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<PatchSummary>> {
    Ok(Json(s.app.patch_summary(&a).await?))
}

/// The assets of one patch status (`behind` by default), newest first (staff).
#[utoipa::path(get, path = "/api/v1/reports/patch-status/assets", tag = "reports", params(PatchQuery),
    security(("bearer" = [])), responses((status = 200, body = Page<Asset>), (status = 422, body = ErrorBody)))]
async fn patch_assets(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<PatchQuery>,
) -> ApiResult<Json<Page<Asset>>> {
    Ok(Json(s.app.patch_assets(&a, q).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct InventoryTokenQuery {
    /// The inventory token, for agents that cannot send a header (if allowed in the settings)
    pub token: Option<String>,
}

/// The FusionInventory / OCS agent endpoint: PROLOG, then INVENTORY, as zlib-compressed or
/// plain XML (told apart by content). Token: `Authorization: Bearer`, the configured header
/// (default `X-Orion-Token`), or `?token=`.
#[utoipa::path(post, path = "/api/v1/inventory", tag = "assets", params(InventoryTokenQuery),
    request_body(description = "The agent's XML, zlib-compressed or plain",
        content((String = "application/x-compress"), (String = "application/xml"))),
    responses((status = 200, description = "`<REPLY>` XML, compressed like the request"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn inventory(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<InventoryTokenQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    let lookup = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let presented = Presented { bearer: crate::extract::bearer(&headers), header: &lookup, url: q.token.as_deref() };
    let reply = s.app.receive_inventory(presented, &body).await?;
    let ct = if reply.compressed { "application/x-compress" } else { "application/xml" };
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(ct))], reply.body).into_response())
}

/// How inventory agents are received, and the patch baseline (admins).
#[utoipa::path(get, path = "/api/v1/settings/inventory", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = InventorySettings), (status = 403, body = ErrorBody)))]
async fn get_inventory_settings(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<InventorySettings>> {
    Ok(Json(s.app.inventory_settings(&a).await?))
}

#[utoipa::path(put, path = "/api/v1/settings/inventory", tag = "settings", request_body = InventorySettings,
    security(("bearer" = [])),
    responses((status = 200, body = InventorySettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_inventory_settings(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<InventorySettings>,
) -> ApiResult<Json<InventorySettings>> {
    Ok(Json(s.app.set_inventory_settings(&a, input).await?))
}

/// Inventory agent tokens (admins).
#[utoipa::path(get, path = "/api/v1/inventory/tokens", tag = "assets", security(("bearer" = [])),
    responses((status = 200, body = Vec<InventoryToken>), (status = 403, body = ErrorBody)))]
async fn list_tokens(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<InventoryToken>>> {
    Ok(Json(s.app.inventory_tokens(&a).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InventoryTokenInput {
    /// What the token is for, e.g. `Head office workstations`
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
}

/// Add an inventory agent token (admins); the token is in the answer, once.
#[utoipa::path(post, path = "/api/v1/inventory/tokens", tag = "assets", request_body = InventoryTokenInput,
    security(("bearer" = [])),
    responses((status = 201, body = NewInventoryToken), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_token(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(input): ApiJson<InventoryTokenInput>,
) -> ApiResult<(StatusCode, Json<NewInventoryToken>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_inventory_token(&a, &input.name).await?)))
}

#[utoipa::path(delete, path = "/api/v1/inventory/tokens/{id}", tag = "assets", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_token(State(s): State<AppState>, Auth(a): Auth, ApiPath(id): ApiPath<i64>) -> ApiResult<StatusCode> {
    s.app.delete_inventory_token(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportQuery {
    /// Check every line and report, writing nothing
    #[serde(default)]
    pub dry_run: bool,
    /// Column mapping `File Column=field,Other=field2` (default: columns named as the fields)
    pub map: Option<String>,
}

/// Why an import was refused: the bad lines (nothing written), or for a request that is wrong as
/// a whole (an unknown column in `map`, a bad query parameter) the error envelope.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only describes the 422 answer
enum ImportRefusal {
    Lines(ImportReport),
    Request(ErrorBody),
}

/// Import a CSV file of `assets`, `licences` or `users` (staff; users: admins). All or nothing:
/// with any bad line the answer is 422 with every bad line (line, field, reason) and nothing is
/// written.
#[utoipa::path(post, path = "/api/v1/import/{kind}", tag = "assets", params(("kind" = inline(CsvKind), Path), ImportQuery),
    request_body(content = String, content_type = "text/csv"), security(("bearer" = [])),
    responses((status = 200, body = ImportReport), (status = 422, body = ImportRefusal), (status = 403, body = ErrorBody)))]
async fn import(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(kind): ApiPath<String>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ImportReport>)> {
    // A kind the path cannot name is no resource, as with any other path.
    let kind = CsvKind::parse(&kind).map_err(|_| crate::ApiError::NotFound)?;
    let mapping = parse_mapping(q.map.as_deref().unwrap_or(""))?;
    let report = s.app.import_csv(&a, kind, &body, &mapping, q.dry_run, |_, _| {}).await?;
    let status = if report.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, Json(report)))
}

/// Export every asset, licence or user as CSV (staff; users: admins). Cells a spreadsheet would
/// run as formulas start with `'`.
#[utoipa::path(get, path = "/api/v1/export/{kind}", tag = "assets", params(("kind" = inline(CsvKind), Path)),
    security(("bearer" = [])), responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = ErrorBody)))]
async fn export(State(s): State<AppState>, Auth(a): Auth, ApiPath(kind): ApiPath<String>) -> ApiResult<Response> {
    // A kind the path cannot name is no resource, as with any other path.
    let kind = CsvKind::parse(&kind).map_err(|_| crate::ApiError::NotFound)?;
    let mut out: Vec<u8> = Vec::new();
    s.app.export_csv(&a, kind, &mut out, |_| {}).await?;
    let name = format!(
        "attachment; filename=\"orion-{}.csv\"",
        match kind {
            CsvKind::Assets => "assets",
            CsvKind::Licences => "licences",
            CsvKind::Users => "users",
        }
    );
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
        (header::CONTENT_DISPOSITION, HeaderValue::from_str(&name).unwrap_or(HeaderValue::from_static("attachment"))),
    ];
    Ok((headers, out).into_response())
}
