pub(crate) mod assets;
pub(crate) mod directory;
pub(crate) mod itsm;
pub(crate) mod kb;
pub(crate) mod mail;
pub(crate) mod monitoring;
pub(crate) mod security;
pub(crate) mod system;
pub(crate) mod tickets;
pub(crate) mod webhooks;

use crate::AppState;

/// What every handler returns.
pub(crate) type ApiResult<T> = Result<T, crate::ApiError>;
use crate::openapi::ApiDoc;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Every documented route.
pub(crate) fn api_router() -> OpenApiRouter<AppState> {
    let r = OpenApiRouter::with_openapi(ApiDoc::openapi());
    let r = tickets::routes(r);
    let r = directory::routes(r);
    let r = mail::routes(r);
    let r = security::routes(r);
    let r = kb::routes(r);
    let r = monitoring::routes(r);
    let r = webhooks::routes(r);
    let r = assets::routes(r);
    let r = itsm::routes(r);
    system::routes(r)
}

pub(crate) fn router(state: AppState) -> Router {
    let (router, api) = api_router().split_for_parts();
    let spec = std::sync::Arc::new(api.to_pretty_json().unwrap_or_default());
    router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let spec = spec.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], spec.as_str().to_owned()) }
            }),
        )
        .merge(crate::ui::routes())
        .fallback(|| async { crate::ApiError::NotFound })
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::ui::guard))
        .with_state(state)
}
