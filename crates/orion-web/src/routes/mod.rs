pub(crate) mod assets;
pub(crate) mod catalog;
pub(crate) mod desk;
pub(crate) mod directory;
pub(crate) mod identity;
pub(crate) mod itsm;
pub(crate) mod kb;
pub(crate) mod mail;
pub(crate) mod monitoring;
pub(crate) mod reports;
pub(crate) mod routing;
pub(crate) mod security;
pub(crate) mod system;
pub(crate) mod tickets;
pub(crate) mod webhooks;
pub(crate) mod workflows;

use crate::AppState;

/// What every handler returns.
pub(crate) type ApiResult<T> = Result<T, crate::ApiError>;
use crate::openapi::ApiDoc;
use axum::Router;
use std::collections::{BTreeMap, BTreeSet};
use utoipa::OpenApi;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

/// The documented routes being assembled. Every schema a route brings is checked against the
/// one first registered under its name: two Rust types with one component name would otherwise
/// silently overwrite each other, and every `$ref` to that name would describe the wrong body.
pub(crate) struct ApiRoutes {
    router: OpenApiRouter<AppState>,
    claimed: BTreeMap<String, RefOr<Schema>>,
    collisions: BTreeSet<String>,
}

impl ApiRoutes {
    fn new() -> Self {
        let doc = ApiDoc::openapi();
        let claimed = doc.components.as_ref().map(|c| c.schemas.clone().into_iter().collect()).unwrap_or_default();
        ApiRoutes { router: OpenApiRouter::with_openapi(doc), claimed, collisions: BTreeSet::new() }
    }

    /// Adds one path's handlers, as `OpenApiRouter::routes` does, recording name collisions.
    pub(crate) fn routes(mut self, route: UtoipaMethodRouter<AppState>) -> Self {
        for (name, schema) in &route.0 {
            match self.claimed.get(name) {
                Some(first) if first != schema => {
                    self.collisions.insert(name.clone());
                }
                Some(_) => {}
                None => {
                    self.claimed.insert(name.clone(), schema.clone());
                }
            }
        }
        self.router = self.router.routes(route);
        self
    }

    /// Component names claimed by more than one distinct schema.
    #[cfg(test)]
    pub(crate) fn collisions(&self) -> &BTreeSet<String> {
        &self.collisions
    }

    /// The axum router and the finished OpenAPI document.
    pub(crate) fn split_for_parts(self) -> (Router<AppState>, utoipa::openapi::OpenApi) {
        let (router, mut api) = self.router.split_for_parts();
        crate::openapi::complete(&mut api);
        (router, api)
    }
}

/// Every documented route.
pub(crate) fn api_router() -> ApiRoutes {
    let r = ApiRoutes::new();
    let r = tickets::routes(r);
    let r = directory::routes(r);
    let r = mail::routes(r);
    let r = identity::routes(r);
    let r = security::routes(r);
    let r = kb::routes(r);
    let r = monitoring::routes(r);
    let r = webhooks::routes(r);
    let r = routing::routes(r);
    let r = desk::routes(r);
    let r = assets::routes(r);
    let r = itsm::routes(r);
    let r = reports::routes(r);
    let r = catalog::routes(r);
    let r = workflows::routes(r);
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

#[cfg(test)]
mod tests {
    use super::ApiRoutes;
    use utoipa_axum::routes;

    /// Two types that both call themselves `Calendar` in the document.
    mod business {
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub(super) struct Calendar {
            pub time_zone: String,
        }
    }
    mod change {
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub(super) struct Calendar {
            pub from: String,
            pub changes: Vec<String>,
        }
    }

    #[utoipa::path(get, path = "/business", responses((status = 200, body = business::Calendar)))]
    async fn business_calendar() {}

    #[utoipa::path(get, path = "/change", responses((status = 200, body = change::Calendar)))]
    async fn change_calendar() {}

    #[utoipa::path(get, path = "/change-again", responses((status = 200, body = change::Calendar)))]
    async fn change_calendar_again() {}

    #[test]
    fn a_component_name_claimed_by_two_types_is_a_collision() {
        let r = ApiRoutes::new().routes(routes!(change_calendar)).routes(routes!(change_calendar_again));
        assert!(r.collisions().is_empty(), "one type used twice is not a collision");
        let r = r.routes(routes!(business_calendar));
        assert_eq!(r.collisions().iter().collect::<Vec<_>>(), ["Calendar"]);
    }

    #[test]
    fn every_component_name_of_the_api_belongs_to_one_type() {
        let r = super::api_router();
        assert!(
            r.collisions().is_empty(),
            "these component names are claimed by more than one type; give each its own with \
             #[schema(as = …)] or a rename: {:?}",
            r.collisions()
        );
    }
}
