//! Schemas for the API document where a field's Rust type is wider than what the server takes:
//! strings with a fixed set of values, dates. Used as `#[schema(schema_with = …)]` and
//! `#[param(schema_with = …)]`, so the document names the values instead of saying "string".

use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, ArrayItems, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{KnownFormat, RefOr};

/// A string that is one of `values`; or null too, for an optional body field.
pub fn one_of(values: &[&str], nullable: bool) -> Schema {
    let mut allowed: Vec<serde_json::Value> = values.iter().map(|v| (*v).into()).collect();
    let ty = if nullable {
        allowed.push(serde_json::Value::Null);
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    Schema::Object(ObjectBuilder::new().schema_type(ty).enum_values(Some(allowed)).build())
}

/// Defines `$name()` (nullable, for `Option` body fields) and `$exact()` (for required fields and
/// query parameters) naming the same values.
macro_rules! one_of {
    ($name:ident, $exact:ident: [$($v:literal),+ $(,)?]) => {
        one_of!($name, $exact: &[$($v),+]);
    };
    ($name:ident, $exact:ident: $values:expr) => {
        #[allow(dead_code)]
        pub fn $name() -> utoipa::openapi::schema::Schema {
            $crate::api_schema::one_of($values, true)
        }
        #[allow(dead_code)]
        pub fn $exact() -> utoipa::openapi::schema::Schema {
            $crate::api_schema::one_of($values, false)
        }
    };
}
/// For features that name their own values (`crate::api_schema::one_of_values!(…)` in the feature).
pub(crate) use one_of as one_of_values;

fn string(format: KnownFormat) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(format))).build(),
    ))
}

/// `YYYY-MM-DD`, required.
pub fn date_exact() -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .build(),
    )
}

/// `YYYY-MM-DD` or an RFC 3339 time, or null.
pub fn date_or_time() -> Schema {
    Schema::AnyOf(
        AnyOfBuilder::new()
            .item(string(KnownFormat::Date))
            .item(string(KnownFormat::DateTime))
            .item(RefOr::T(Schema::Object(ObjectBuilder::new().schema_type(Type::Null).build())))
            .build(),
    )
}

/// `YYYY-MM-DD` or an RFC 3339 time, or empty or null (for a start: now).
pub fn date_or_time_or_empty() -> Schema {
    Schema::AnyOf(
        AnyOfBuilder::new()
            .item(string(KnownFormat::Date))
            .item(string(KnownFormat::DateTime))
            .item(RefOr::T(Schema::Object(ObjectBuilder::new().schema_type(Type::String).max_length(Some(0)).build())))
            .item(RefOr::T(Schema::Object(ObjectBuilder::new().schema_type(Type::Null).build())))
            .build(),
    )
}

/// `YYYY-MM-DD` or an RFC 3339 time.
pub fn date_or_time_exact() -> Schema {
    Schema::AnyOf(AnyOfBuilder::new().item(string(KnownFormat::Date)).item(string(KnownFormat::DateTime)).build())
}

one_of!(ticket_kinds, ticket_kinds_exact: ["incident", "service_request"]);
one_of!(listed_ticket_kinds, listed_ticket_kinds_exact: ["incident", "service_request", "problem", "change", "task"]);
one_of!(priorities, priorities_exact: ["P1", "P2", "P3", "P4", "P5"]);
one_of!(orders, orders_exact: ["newest", "oldest"]);
one_of!(visibilities, visibilities_exact: ["public", "internal"]);
one_of!(roles, roles_exact: ["requester", "agent", "lead", "admin"]);
one_of!(article_kinds, article_kinds_exact: ["howto", "faq", "known_error", "runbook", "training"]);
one_of!(article_actions, article_actions_exact: ["submit", "publish", "reject", "retire", "restore"]);
one_of!(asset_conditions, asset_conditions_exact: ["good", "worn", "damaged", "faulty", "incomplete"]);
one_of!(asset_states, asset_states_exact: orion_domain::asset::STATES);
one_of!(ci_types, ci_types_exact: orion_domain::asset::CI_TYPES);
one_of!(repair_outcomes, repair_outcomes_exact: ["repaired", "replaced", "beyond_repair"]);
one_of!(change_phases, change_phases_exact: orion_domain::change::CHANGE_PHASES);
one_of!(change_types, change_types_exact: orion_domain::change::CHANGE_TYPES);
one_of!(risks, risks_exact: orion_domain::change::RISKS);

/// A change's risk override: one of the risks, or empty to go back to the computed risk, or null.
pub fn risk_override() -> Schema {
    let mut values = orion_domain::change::RISKS.to_vec();
    values.push("");
    one_of(&values, true)
}
one_of!(decisions, decisions_exact: ["approved", "rejected"]);
one_of!(review_outcomes, review_outcomes_exact: orion_domain::change::OUTCOMES);
one_of!(problem_phases, problem_phases_exact: orion_domain::change::PROBLEM_PHASES);
one_of!(proposal_states, proposal_states_exact: ["open", "accepted", "dismissed"]);
one_of!(alert_statuses, alert_statuses_exact: ["firing", "resolved"]);
one_of!(integration_kinds, integration_kinds_exact: ["alertmanager", "grafana", "zabbix", "webhook"]);
one_of!(resolution_codes, resolution_codes_exact: [
    "fixed", "workaround", "information_provided", "request_fulfilled", "not_reproducible", "duplicate", "cancelled"
]);

fn int_in(min: i64, max: i64) -> utoipa::openapi::schema::Object {
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min)).maximum(Some(max)).build()
}

pub(crate) fn array_of(items: impl Into<ArrayItems>, min: Option<usize>, max: Option<usize>) -> ArrayBuilder {
    ArrayBuilder::new().items(items).min_items(min).max_items(max)
}

/// `[a, b]`: two integers in `min..=max`. (Not `prefixItems`: schemathesis 4.32 rewrites those
/// to draft-4 `items` arrays and then refuses its own rewrite; both places take the same range.)
fn pair(min: i64, max: i64) -> ArrayBuilder {
    array_of(int_in(min, max), Some(2), Some(2))
}

/// A business week: seven days, Monday first, each a list of `[start, end)` minutes since midnight.
pub fn business_week() -> Schema {
    Schema::Array(array_of(array_of(pair(0, 1440), None, None), Some(7), Some(7)).build())
}

/// A list of roles (each one of requester, agent, lead, admin; repeats count once).
pub fn role_list() -> Schema {
    Schema::Array(array_of(RefOr::T(one_of(&["requester", "agent", "lead", "admin"], false)), None, None).build())
}

/// `[month, day]` pairs (the document can only say "1 to 31" of both).
pub fn month_days() -> Schema {
    Schema::Array(array_of(pair(1, 31), None, None).build())
}

/// `YYYY-MM-DD` dates.
pub fn dates() -> Schema {
    Schema::Array(array_of(string(KnownFormat::Date), None, None).build())
}
one_of!(approval_rules, approval_rules_exact: orion_domain::change::APPROVAL_RULES);

/// Where a checked-in asset goes: `in_stock`, `in_repair` or `retired`; empty or null for the
/// default, `in_stock`.
pub fn checkin_states() -> Schema {
    one_of(&["in_stock", "in_repair", "retired", ""], true)
}

one_of!(patch_statuses, patch_statuses_exact: ["behind", "ok", "no_baseline", "stale"]);
one_of!(pending_reasons, pending_reasons_exact: ["user", "vendor", "change", "approval"]);

/// `YYYY-MM-DD`, or empty or null (no date).
pub fn date() -> Schema {
    Schema::AnyOf(
        AnyOfBuilder::new()
            .item(string(KnownFormat::Date))
            .item(RefOr::T(Schema::Object(ObjectBuilder::new().schema_type(Type::String).max_length(Some(0)).build())))
            .item(RefOr::T(Schema::Object(ObjectBuilder::new().schema_type(Type::Null).build())))
            .build(),
    )
}
one_of!(time_work, time_work_exact: ["task", "call", "note", "other"]);
one_of!(frequencies, frequencies_exact: ["daily", "weekly", "monthly"]);
