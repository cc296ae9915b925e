//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
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
        (name = "directory", description = "Users, groups, categories; directory sources (LDAP, Active Directory) and their sync runs; manager chains; single sign-on (OpenID Connect) providers"),
        (name = "knowledge", description = "Knowledge base articles, full-text search, suggestions"),
        (name = "settings", description = "Priority matrix, OLA targets, inventory, retention of logs"),
        (name = "reports", description = "Figures across tickets"),
        (name = "monitoring", description = "Alert integrations (Alertmanager, Grafana, Zabbix, webhook), alerts, maintenance windows, heartbeats"),
        (name = "assets", description = "Assets and the CMDB: lifecycle, check-out, repairs, relationships and impact, licences and compliance, inventory agents"),
        (name = "problems", description = "Problem management: root-cause analysis, known errors and workarounds, recurring-incident proposals"),
        (name = "changes", description = "Change management: standard, normal and emergency changes, risk, approvals, tasks, the change calendar and freeze periods"),
        (name = "catalog", description = "The service catalog: items with their forms, publication and versions, export and import; requests made from them and their answers"),
        (name = "workflows", description = "Joiners, movers and leavers: workflows with task plans dated from the start, move or last day, asset hand-out and check-in, proof of completion; the plans and access profiles they start from"),
        (name = "routing", description = "Routing rules: ordered conditions and actions every new ticket is checked against, with a test run"),
        (name = "macros", description = "Macros: saved replies with placeholders and field changes, applied to a ticket in one step"),
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

/// Statuses every operation of a kind can answer, whatever its handler does, because an extractor
/// or the router answers them first: 401 from the bearer-token extractor on every operation that
/// needs a token; 400 (not JSON), 413 (too large), 415 (not `application/json`) and 422 (a field of
/// the wrong type or unknown) from the JSON-body extractor; 422 from the query extractor; 404 from
/// the path extractor (a path naming nothing).
/// Added here once instead of in each of the ~190 annotations, so none can be forgotten.
pub(crate) fn complete(api: &mut utoipa::openapi::OpenApi) {
    merge_closed_flattened_structs(api);
    spell_out_not_blank(api);
    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for op in operations.into_iter().flatten() {
            let needs_token = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let json_body = op.request_body.as_ref().is_some_and(|b| match b {
                RefOr::T(b) => b.content.keys().any(|ct| ct == "application/json"),
                RefOr::Ref(_) => true,
            });
            let has_in = |place: ParameterIn| {
                op.parameters.iter().flatten().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place))
            };
            let (has_query, has_path) = (has_in(ParameterIn::Query), has_in(ParameterIn::Path));
            let mut add = |status: &str, description: &str| {
                op.responses.responses.entry(status.to_string()).or_insert_with(|| error_response(description));
            };
            if needs_token {
                add("401", "No token, or a token that is unknown, revoked or expired, or its user is deactivated");
            }
            if json_body {
                add("400", "The body is not JSON");
                add("413", "The body is too large");
                add("415", "The body is not sent as `Content-Type: application/json`");
                add("422", "A field is missing, of the wrong type, unknown or invalid");
            }
            if has_query {
                add("422", "A query parameter is of the wrong type, unknown or invalid");
            }
            if has_path {
                add("404", "No such resource (or one the caller may not see)");
            }
        }
    }
}

/// A struct that flattens another struct which refuses unknown fields (`#[serde(flatten)]` of a
/// `deny_unknown_fields` struct, e.g. `ChangeInput` over `ChangeFields`) comes out of utoipa as
/// `allOf: [closed struct, own fields]`, and the closed struct's `additionalProperties: false`
/// forbids every field of the other half: no body satisfies it. The server takes the union and
/// refuses anything else, so say that: one object with both halves' fields, closed.
fn merge_closed_flattened_structs(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{AdditionalProperties, Object, Schema};
    let Some(components) = api.components.as_mut() else { return };
    let closed: std::collections::BTreeMap<String, Object> = components
        .schemas
        .iter()
        .filter_map(|(name, s)| match s {
            RefOr::T(Schema::Object(o))
                if matches!(o.additional_properties.as_deref(), Some(AdditionalProperties::FreeForm(false))) =>
            {
                Some((format!("#/components/schemas/{name}"), o.clone()))
            }
            _ => None,
        })
        .collect();
    for schema in components.schemas.values_mut() {
        let RefOr::T(Schema::AllOf(all)) = schema else { continue };
        let mut merged: Option<Object> = None;
        let mut description = all.description.clone();
        for item in &all.items {
            let part = match item {
                RefOr::Ref(r) => closed.get(&r.ref_location).cloned(),
                RefOr::T(Schema::Object(o)) => Some(o.clone()),
                _ => None,
            };
            let Some(part) = part else {
                merged = None;
                break;
            };
            description = description.or(part.description.clone());
            match merged.as_mut() {
                None => merged = Some(part),
                Some(m) => {
                    m.properties.extend(part.properties);
                    for r in part.required {
                        if !m.required.contains(&r) {
                            m.required.push(r);
                        }
                    }
                }
            }
        }
        let any_closed = all.items.iter().any(|i| matches!(i, RefOr::Ref(r) if closed.contains_key(&r.ref_location)));
        if let (Some(mut m), true) = (merged, any_closed) {
            m.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            m.description = description;
            *schema = RefOr::T(Schema::Object(m));
        }
    }
}

/// `pattern = "\\S"` in an annotation says what the server checks of a required text: `str::trim`
/// leaves something, that is, a character outside Unicode's White_Space set. Regex dialects do
/// not agree on what `\s` is: ECMA-262 (the dialect JSON Schema names) counts U+FEFF and not
/// U+0085, Python's adds U+001C to U+001F. So a title of U+FEFF alone would be blank to a client
/// checking the document and taken by the server, one of U+0085 the reverse. The document spells
/// the set out instead, as a class every dialect reads alike, built from the predicate `trim` uses.
fn spell_out_not_blank(api: &mut utoipa::openapi::OpenApi) {
    let class = not_blank_class();
    let mut schemas: Vec<&mut RefOr<Schema>> = Vec::new();
    if let Some(components) = api.components.as_mut() {
        schemas.extend(components.schemas.values_mut());
    }
    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for op in operations.into_iter().flatten() {
            for p in op.parameters.iter_mut().flatten() {
                if let RefOr::T(p) = p {
                    schemas.extend(p.schema.as_mut());
                }
            }
            if let Some(RefOr::T(body)) = op.request_body.as_mut() {
                for c in body.content.values_mut() {
                    if let RefOr::T(c) = c {
                        schemas.extend(c.schema.as_mut());
                    }
                }
            }
        }
    }
    for schema in schemas {
        replace_not_blank(schema, &class);
    }
}

/// `[^…]`: one character that `char::is_whitespace` (what `str::trim` strips) is false of, with
/// every white-space character written as a `\uXXXX` escape (all are in the BMP).
fn not_blank_class() -> String {
    let mut class = String::from("[^");
    let mut white =
        (0..=u32::from(char::MAX)).filter(|&c| char::from_u32(c).is_some_and(char::is_whitespace)).peekable();
    while let Some(first) = white.next() {
        let mut last = first;
        while white.peek() == Some(&(last + 1)) {
            last = white.next().unwrap_or(last);
        }
        class.push_str(&format!("\\u{first:04x}"));
        if last > first {
            class.push_str(&format!("-\\u{last:04x}"));
        }
    }
    class.push(']');
    class
}

fn replace_not_blank(schema: &mut RefOr<Schema>, class: &str) {
    use utoipa::openapi::schema::{AdditionalProperties, ArrayItems};
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(o) => {
            if o.pattern.as_deref() == Some("\\S") {
                o.pattern = Some(class.to_string());
            }
            for p in o.properties.values_mut() {
                replace_not_blank(p, class);
            }
            if let Some(AdditionalProperties::RefOr(r)) = o.additional_properties.as_deref_mut() {
                replace_not_blank(r, class);
            }
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                replace_not_blank(items, class);
            }
        }
        Schema::OneOf(x) => x.items.iter_mut().for_each(|s| replace_not_blank(s, class)),
        Schema::AllOf(x) => x.items.iter_mut().for_each(|s| replace_not_blank(s, class)),
        Schema::AnyOf(x) => x.items.iter_mut().for_each(|s| replace_not_blank(s, class)),
        _ => {}
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
            .build(),
    )
}

/// The OpenAPI document as pretty JSON (also served at `/api/v1/openapi.json`).
pub fn openapi_json() -> String {
    let (_, api) = crate::routes::api_router().split_for_parts();
    api.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_not_blank_class_is_what_trim_strips() {
        assert_eq!(
            super::not_blank_class(),
            "[^\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028-\\u2029\\u202f\\u205f\\u3000]"
        );
        let doc = super::openapi_json();
        assert!(!doc.contains(r#""pattern": "\\S""#), "a `\\S` pattern is left in the document");
    }
}
