//! The payloads monitoring systems send, read into one shape: [`AlertEvent`].
//!
//! - Prometheus Alertmanager webhook, version 4;
//! - Grafana alerting webhook (Alertmanager's shape plus `orgId`, `title`, `state`, `message`);
//! - Zabbix, as sent by the media type in `docs/integrations/zabbix_media_orion.yaml`;
//! - Orion's generic webhook (one event or an array of them).
//!
//! Nothing here touches the database; every refusal names the field.

use crate::kernel::limits::truncate;
use orion_domain::{FieldError, FieldErrors};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Longest summary kept (it becomes an incident title).
pub const SUMMARY_MAX: usize = 200;
/// Longest details text kept.
pub const DETAILS_MAX: usize = 20_000;
/// Most alerts accepted in one payload.
pub const MAX_ALERTS: usize = 5_000;

/// Which payload shape an endpoint reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Alertmanager,
    Grafana,
    Zabbix,
    Webhook,
}

impl Format {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        Ok(match s {
            "alertmanager" => Self::Alertmanager,
            "grafana" => Self::Grafana,
            "zabbix" => Self::Zabbix,
            "webhook" => Self::Webhook,
            _ => return Err(FieldError::new(field, "must be one of alertmanager, grafana, zabbix, webhook")),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alertmanager => "alertmanager",
            Self::Grafana => "grafana",
            Self::Zabbix => "zabbix",
            Self::Webhook => "webhook",
        }
    }
}

/// One alert's state as a payload reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertEvent {
    /// The source's own identity of the alert (Alertmanager fingerprint, Zabbix problem event id,
    /// the generic `dedup_key`): repeats carry the same one.
    pub fingerprint: String,
    pub firing: bool,
    /// Lower-case, as the source names it (`critical`, `warning`, `high`, `disaster`…); empty if none.
    pub severity: String,
    pub summary: String,
    pub details: String,
    pub labels: BTreeMap<String, String>,
    /// Alerts the source grouped together (Alertmanager's `groupKey`); empty if none.
    pub group_key: String,
    /// The host or configuration item, lower-case, without a port.
    pub ci: String,
    pub service: String,
    pub source_url: Option<String>,
    /// When the source says the alert started (ms), if it says.
    pub starts_at: Option<i64>,
    /// Zabbix: an update (acknowledgement, comment) of a problem already sent; never opens anything.
    pub update_only: bool,
}

/// Reads a payload of `format`.
pub fn parse(format: Format, body: &[u8]) -> Result<Vec<AlertEvent>, FieldErrors> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        FieldErrors::from(FieldError::new(
            "body",
            format!("not JSON: {}", e.to_string().split(" at line ").next().unwrap_or("")),
        ))
    })?;
    match format {
        Format::Alertmanager | Format::Grafana => alertmanager(&v),
        Format::Zabbix => zabbix(&v).map(|e| vec![e]),
        Format::Webhook => generic(&v),
    }
}

fn obj<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, FieldError> {
    v.as_object().ok_or_else(|| FieldError::new(field, "must be a JSON object"))
}

/// A string member (numbers are accepted and written out); empty if absent or null.
fn text(m: &Map<String, Value>, key: &str) -> String {
    match m.get(key) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn string_map(m: &Map<String, Value>, key: &str, field: &str, errs: &mut FieldErrors) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match m.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            for (k, v) in o {
                match v {
                    Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    Value::Number(_) | Value::Bool(_) => {
                        out.insert(k.clone(), v.to_string());
                    }
                    _ => errs.push(format!("{field}.{k}"), "must be a string"),
                }
            }
        }
        Some(_) => errs.push(field, "must be an object of strings"),
    }
    out
}

/// `web1:9100` → `web1`; `[::1]:9100` → `::1`; lower-case.
pub fn host_of(instance: &str) -> String {
    let s = instance.trim();
    let s = s.split("://").nth(1).unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    let host = if let Some(rest) = s.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if s.matches(':').count() == 1 {
        s.split(':').next().unwrap_or(s)
    } else {
        s
    };
    host.to_lowercase()
}

/// The CI an alert names: `ci`, `host`, `hostname`, `instance`, `nodename` or `node`, in that order.
fn ci_of(labels: &BTreeMap<String, String>) -> String {
    ["ci", "host", "hostname", "instance", "nodename", "node"]
        .iter()
        .find_map(|k| labels.get(*k).filter(|v| !v.trim().is_empty()))
        .map(|v| host_of(v))
        .unwrap_or_default()
}

fn is_http(u: &str) -> bool {
    u.starts_with("http://") || u.starts_with("https://")
}

fn instant(s: &str) -> Option<i64> {
    let ts = s.parse::<jiff::Timestamp>().ok()?;
    // Alertmanager writes year 1 for "not set".
    (ts.as_second() > 0).then(|| ts.as_millisecond())
}

/// A stable identity from the labels, for sources that send none (FNV-1a, 64 bits).
fn label_fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in labels {
        for b in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xfe]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn alertmanager(v: &Value) -> Result<Vec<AlertEvent>, FieldErrors> {
    let root = obj(v, "body")?;
    let mut errs = FieldErrors::new();
    let version = text(root, "version");
    let grafana = root.contains_key("orgId") || version == "1";
    if !grafana && version != "4" {
        errs.push("version", format!("Alertmanager webhook version 4 expected, got {version:?}"));
    }
    let group_key = text(root, "groupKey");
    let common_annotations = string_map(root, "commonAnnotations", "commonAnnotations", &mut errs);
    let message = text(root, "message");
    let Some(alerts) = root.get("alerts").and_then(Value::as_array) else {
        errs.push("alerts", "must be an array");
        return Err(errs);
    };
    if alerts.len() > MAX_ALERTS {
        errs.push("alerts", format!("at most {MAX_ALERTS} alerts per payload"));
        return Err(errs);
    }
    let mut out = Vec::with_capacity(alerts.len());
    for (i, a) in alerts.iter().enumerate() {
        let f = format!("alerts[{i}]");
        let Some(a) = a.as_object() else {
            errs.push(&f, "must be an object");
            continue;
        };
        let labels = string_map(a, "labels", &format!("{f}.labels"), &mut errs);
        let mut annotations = string_map(a, "annotations", &format!("{f}.annotations"), &mut errs);
        for (k, v) in &common_annotations {
            annotations.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let firing = match text(a, "status").as_str() {
            "firing" | "alerting" => true,
            "resolved" | "ok" | "normal" => false,
            other => {
                errs.push(format!("{f}.status"), format!("must be firing or resolved, got {other:?}"));
                continue;
            }
        };
        let fingerprint = match text(a, "fingerprint") {
            fp if fp.is_empty() => label_fingerprint(&labels),
            fp => fp,
        };
        let summary = ["summary", "title", "message"]
            .iter()
            .find_map(|k| annotations.get(*k).filter(|s| !s.trim().is_empty()).cloned())
            .or_else(|| labels.get("alertname").cloned())
            .unwrap_or_else(|| "Alert".to_string());
        let mut details = annotations.get("description").cloned().unwrap_or_default();
        if grafana && details.is_empty() && !message.is_empty() {
            details = message.clone();
        }
        let value = text(a, "valueString");
        if !value.is_empty() {
            details = format!("{details}\n\nValues: {value}").trim().to_string();
        }
        let url = ["generatorURL", "panelURL", "dashboardURL"].iter().map(|k| text(a, k)).find(|u| is_http(u));
        out.push(AlertEvent {
            fingerprint: truncate(&fingerprint, 200),
            firing,
            severity: labels.get("severity").or(labels.get("priority")).map(|s| s.to_lowercase()).unwrap_or_default(),
            summary: truncate(summary.trim(), SUMMARY_MAX),
            details: truncate(&details, DETAILS_MAX),
            ci: ci_of(&labels),
            service: labels.get("service").map(|s| s.trim().to_lowercase()).unwrap_or_default(),
            labels,
            group_key: truncate(&group_key, 500),
            source_url: url,
            starts_at: instant(&text(a, "startsAt")),
            update_only: false,
        });
    }
    errs.into_result()?;
    Ok(out)
}

/// The parameters of Orion's Zabbix media type (all strings, as Zabbix sends them).
fn zabbix(v: &Value) -> Result<AlertEvent, FieldErrors> {
    let m = obj(v, "body")?;
    let mut errs = FieldErrors::new();
    let event_id = text(m, "event_id");
    if event_id.is_empty() || event_id.starts_with('{') {
        errs.push("event_id", "is required (the media type sends {EVENT.ID})");
    }
    let value = text(m, "event_value");
    let firing = match value.as_str() {
        "1" => true,
        "0" => false,
        _ => match text(m, "event_status").to_ascii_uppercase().as_str() {
            "PROBLEM" => true,
            "RESOLVED" | "OK" => false,
            _ => {
                errs.push("event_value", "must be 1 (problem) or 0 (recovery)");
                false
            }
        },
    };
    let name = text(m, "event_name");
    if firing && name.is_empty() {
        errs.push("event_name", "is required");
    }
    errs.into_result()?;
    let mut labels = BTreeMap::new();
    // `{EVENT.TAGS}` is "tag1:value1,tag2:value2"; a tag without a value keeps an empty one.
    for tag in text(m, "event_tags").split(',').map(str::trim).filter(|t| !t.is_empty() && !t.starts_with('{')) {
        let (k, v) = tag.split_once(':').unwrap_or((tag, ""));
        labels.insert(k.trim().to_string(), v.trim().to_string());
    }
    let host = text(m, "host");
    if !host.is_empty() && !host.starts_with('{') {
        labels.insert("host".into(), host.clone());
    }
    let trigger = text(m, "trigger_id");
    if !trigger.is_empty() {
        labels.insert("trigger_id".into(), trigger);
    }
    let mut details = text(m, "trigger_description");
    let opdata = text(m, "event_opdata");
    if !opdata.is_empty() && !opdata.starts_with('{') {
        details = format!("{details}\n\nOperational data: {opdata}").trim().to_string();
    }
    let url = text(m, "event_url");
    Ok(AlertEvent {
        fingerprint: truncate(&event_id, 200),
        firing,
        severity: text(m, "event_severity").to_lowercase(),
        summary: truncate(if name.is_empty() { "Zabbix problem" } else { &name }, SUMMARY_MAX),
        details: truncate(&details, DETAILS_MAX),
        ci: if host.is_empty() || host.starts_with('{') { String::new() } else { host_of(&host) },
        service: labels.get("service").map(|s| s.to_lowercase()).unwrap_or_default(),
        labels,
        group_key: String::new(),
        source_url: is_http(&url).then_some(url),
        starts_at: None,
        update_only: text(m, "event_update_status") == "1",
    })
}

/// Orion's own shape: one event object, or an array of them.
fn generic(v: &Value) -> Result<Vec<AlertEvent>, FieldErrors> {
    let items: Vec<(&Value, String)> = match v {
        Value::Array(a) if a.len() > MAX_ALERTS => {
            return Err(FieldError::new("body", format!("at most {MAX_ALERTS} events per payload")).into());
        }
        Value::Array(a) => a.iter().enumerate().map(|(i, e)| (e, format!("[{i}]."))).collect(),
        other => vec![(other, String::new())],
    };
    let mut errs = FieldErrors::new();
    let mut out = Vec::with_capacity(items.len());
    for (e, p) in items {
        let Some(m) = e.as_object() else {
            errs.push(format!("{p}body").trim_end_matches('.'), "must be a JSON object");
            continue;
        };
        for k in m.keys() {
            if !GENERIC_FIELDS.contains(&k.as_str()) {
                errs.push(format!("{p}{k}"), format!("unknown field; expected one of {}", GENERIC_FIELDS.join(", ")));
            }
        }
        let dedup_key = text(m, "dedup_key");
        if dedup_key.is_empty() {
            errs.push(format!("{p}dedup_key"), "is required: the same key for every report of the same alert");
        }
        let firing = match text(m, "status").as_str() {
            "" | "firing" | "trigger" => true,
            "resolved" | "resolve" => false,
            other => {
                errs.push(format!("{p}status"), format!("must be firing or resolved, got {other:?}"));
                true
            }
        };
        let summary = text(m, "summary");
        if firing && summary.is_empty() {
            errs.push(format!("{p}summary"), "is required for a firing alert");
        }
        let mut labels = string_map(m, "labels", &format!("{p}labels"), &mut errs);
        let source = text(m, "source");
        if !source.is_empty() {
            labels.insert("source".into(), source);
        }
        let ci = text(m, "ci");
        let service = text(m, "service");
        let url = text(m, "url");
        if !url.is_empty() && !is_http(&url) {
            errs.push(format!("{p}url"), "must be an http(s) URL");
        }
        let starts_at = match text(m, "timestamp") {
            t if t.is_empty() => None,
            t => match instant(&t) {
                Some(ms) => Some(ms),
                None => {
                    errs.push(format!("{p}timestamp"), "must be an RFC 3339 time");
                    None
                }
            },
        };
        out.push(AlertEvent {
            fingerprint: truncate(&dedup_key, 200),
            firing,
            severity: text(m, "severity").to_lowercase(),
            summary: truncate(if summary.is_empty() { &dedup_key } else { &summary }, SUMMARY_MAX),
            details: truncate(&text(m, "details"), DETAILS_MAX),
            ci: if ci.is_empty() { ci_of(&labels) } else { host_of(&ci) },
            service: if service.is_empty() {
                labels.get("service").cloned().unwrap_or_default().to_lowercase()
            } else {
                service.to_lowercase()
            },
            labels,
            group_key: truncate(&text(m, "group"), 500),
            source_url: (!url.is_empty()).then_some(url),
            starts_at,
            update_only: false,
        });
    }
    errs.into_result()?;
    Ok(out)
}

/// The members the generic webhook accepts.
pub const GENERIC_FIELDS: &[&str] = &[
    "source",
    "dedup_key",
    "severity",
    "summary",
    "details",
    "status",
    "ci",
    "service",
    "group",
    "labels",
    "url",
    "timestamp",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The body of a request captured from Alertmanager 0.25 (headers, a blank line, then JSON).
    fn capture(raw: &str) -> Vec<u8> {
        raw.as_bytes()[raw.find('{').unwrap()..].to_vec()
    }

    #[test]
    fn real_alertmanager_firing_and_resolved() {
        let fired = parse(Format::Alertmanager, &capture(include_str!("fixtures/alertmanager_firing.txt"))).unwrap();
        assert_eq!(fired.len(), 1);
        let a = &fired[0];
        assert!(a.firing);
        assert_eq!(a.fingerprint, "32807bf8d27e3d47");
        assert_eq!((a.severity.as_str(), a.ci.as_str()), ("critical", "web1"));
        assert_eq!(a.summary, "Disk almost full on web1");
        assert_eq!(a.details, "/var is 97% full");
        assert!(a.group_key.contains("DiskFull"));
        assert!(a.starts_at.is_some());
        let resolved =
            parse(Format::Alertmanager, &capture(include_str!("fixtures/alertmanager_resolved.txt"))).unwrap();
        assert_eq!(resolved[0].fingerprint, a.fingerprint);
        assert!(!resolved[0].firing);
    }

    #[test]
    fn wrong_version_and_bad_alerts_name_the_field() {
        let e = parse(Format::Alertmanager, br#"{"version":"3","alerts":[{"status":"weird"}]}"#).unwrap_err();
        let fields: Vec<_> = e.iter().map(|f| f.field.clone()).collect();
        assert_eq!(fields, ["version", "alerts[0].status"]);
        let e = parse(Format::Alertmanager, b"not json").unwrap_err();
        assert_eq!(e.iter().next().unwrap().field, "body");
    }

    #[test]
    fn grafana_is_told_apart_by_org_id() {
        let body =
            br#"{"receiver":"orion","status":"firing","orgId":1,"version":"1","groupKey":"{}:{alertname=\"High CPU\"}",
            "title":"[FIRING:1] High CPU","message":"CPU above 90%","alerts":[{"status":"firing",
            "labels":{"alertname":"High CPU","instance":"db1.example.com:9100"},"annotations":{},
            "fingerprint":"abc","valueString":"[ var='A' value=97 ]","dashboardURL":"https://grafana/d/1"}]}"#;
        let a = &parse(Format::Grafana, body).unwrap()[0];
        assert_eq!((a.summary.as_str(), a.ci.as_str()), ("High CPU", "db1.example.com"));
        assert!(a.details.starts_with("CPU above 90%") && a.details.contains("value=97"));
        assert_eq!(a.source_url.as_deref(), Some("https://grafana/d/1"));
    }

    #[test]
    fn zabbix_problem_recovery_and_update() {
        let p = br#"{"event_id":"4711","event_value":"1","event_name":"High CPU on web2","event_severity":"High",
            "host":"web2","trigger_id":"13","event_tags":"service:shop,scope:performance","event_update_status":"0"}"#;
        let a = parse(Format::Zabbix, p).unwrap().remove(0);
        assert!(a.firing && !a.update_only);
        assert_eq!((a.fingerprint.as_str(), a.severity.as_str(), a.ci.as_str()), ("4711", "high", "web2"));
        assert_eq!(a.service, "shop");
        assert_eq!(a.labels.get("scope").map(String::as_str), Some("performance"));
        let r = br#"{"event_id":"4711","event_value":"0","event_name":"High CPU on web2","host":"web2"}"#;
        assert!(!parse(Format::Zabbix, r).unwrap()[0].firing);
        let e = parse(Format::Zabbix, br#"{"event_value":"1"}"#).unwrap_err();
        let fields: Vec<_> = e.iter().map(|f| f.field.clone()).collect();
        assert_eq!(fields, ["event_id", "event_name"]);
    }

    #[test]
    fn generic_single_and_array_with_errors_by_index() {
        let one = br#"{"dedup_key":"backup-db1","summary":"Backup failed","severity":"Critical","ci":"DB1:5432"}"#;
        let a = parse(Format::Webhook, one).unwrap().remove(0);
        assert_eq!((a.ci.as_str(), a.severity.as_str(), a.firing), ("db1", "critical", true));
        let bad = br#"[{"dedup_key":"x","summary":"s"},{"summary":"no key","colour":"red"},{"dedup_key":"y","status":"resolved"}]"#;
        let e = parse(Format::Webhook, bad).unwrap_err();
        let fields: Vec<_> = e.iter().map(|f| f.field.clone()).collect();
        assert_eq!(fields, ["[1].colour", "[1].dedup_key"]);
    }

    #[test]
    fn hosts_lose_ports_and_schemes() {
        assert_eq!(host_of("web1:9100"), "web1");
        assert_eq!(host_of("https://Api.Example.com/health"), "api.example.com");
        assert_eq!(host_of("[::1]:9100"), "::1");
        assert_eq!(host_of("fe80::1"), "fe80::1");
    }

    #[test]
    fn label_fingerprints_are_stable_and_distinct() {
        let a: BTreeMap<_, _> = [("alertname".to_string(), "A".to_string())].into();
        let b: BTreeMap<_, _> = [("alertname".to_string(), "B".to_string())].into();
        assert_eq!(label_fingerprint(&a), label_fingerprint(&a.clone()));
        assert_ne!(label_fingerprint(&a), label_fingerprint(&b));
    }
}
