//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Orion API",
        description = "IT service management: incidents, service requests, escalation across support tiers.\n\nAuthenticate with `Authorization: Bearer <token>` (create one with `orion token create --user EMAIL`). Errors are `{\"error\": {\"code\", \"message\", \"fields\"}}`. Lists are newest first and cursor-paged: pass `next_cursor` back as `cursor`."
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::ErrorBody)),
    tags(
        (name = "tickets", description = "Incidents and service requests"),
        (name = "directory", description = "Users, groups, categories"),
        (name = "knowledge", description = "Knowledge base articles, full-text search, suggestions"),
        (name = "settings", description = "Priority matrix, OLA targets"),
        (name = "reports", description = "Figures across tickets"),
        (name = "monitoring", description = "Alert integrations (Alertmanager, Grafana, Zabbix, webhook), alerts, maintenance windows, heartbeats"),
        (name = "assets", description = "Assets and the CMDB: lifecycle, check-out, repairs, relationships and impact, licences and compliance, inventory agents"),
        (name = "problems", description = "Problem management: root-cause analysis, known errors and workarounds, recurring-incident proposals"),
        (name = "changes", description = "Change management: standard, normal and emergency changes, risk, approvals, tasks, the change calendar and freeze periods"),
        (name = "webhooks", description = "Outbound webhooks: ticket events to URLs, signed, with a delivery log"),
        (name = "mail", description = "Mail: settings, IMAP mailboxes, the inbound log and quarantine, the outbox"),
        (name = "me", description = "The caller and their API tokens"),
        (name = "system", description = "Health, readiness, metrics")
    )
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("orion_…").build()),
        );
    }
}

/// The OpenAPI document as pretty JSON (also served at `/api/v1/openapi.json`).
pub fn openapi_json() -> String {
    let (_, api) = crate::routes::api_router().split_for_parts();
    api.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
