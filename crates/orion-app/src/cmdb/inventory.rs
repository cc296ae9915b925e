//! Inventory agents: the FusionInventory / OCS Inventory XML protocol.
//!
//! An agent POSTs `<REQUEST><QUERY>PROLOG</QUERY>…` and is told to send its inventory every
//! `prolog_freq_hours`; then it POSTs `<QUERY>INVENTORY</QUERY>` with the machine's hardware,
//! operating system, network interfaces and installed software. Bodies are zlib-compressed or
//! plain XML, told apart by their first bytes (agents do not set Content-Type reliably), and the
//! reply is compressed the same way as the request.
//!
//! An inventory is matched to an asset by BIOS serial, then hardware UUID, then MAC address,
//! then the agent's device id, then the name; the asset is created when nothing matches.
//! What changed since the previous inventory (OS, kernel, memory, interfaces, software added,
//! removed or upgraded) goes into the asset's history. The whole inventory is one transaction.

use super::event;
use crate::{App, AppError, AppResult};
use orion_domain::asset::{compare_versions, normalise_mac};
use orion_domain::{Actor, Timestamp};
use orion_store::cmdb::{self as store, CiFields, InventoryFields, MatchKey, SoftwareRow};
use orion_store::{Conn, settings};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use utoipa::ToSchema;

const SETTINGS_KEY: &str = "inventory";
/// How much an inventory may inflate to (a zip bomb stops here).
const MAX_XML: u64 = 64 * 1024 * 1024;
/// How many software changes one history event lists by name.
const LIST_MAX: usize = 200;

/// How inventory agents are received, and what patch status measures against.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct InventorySettings {
    /// Accept the token as a URL parameter (`?token=`): FusionInventory agents cannot send
    /// headers, so their server URL carries it. Turn off when every agent can send the header.
    pub token_in_url: bool,
    /// The header that carries the token (besides `Authorization: Bearer`)
    pub token_header: String,
    /// How often agents are told to send an inventory, in hours
    #[schema(minimum = 1, maximum = 720)]
    pub prolog_freq_hours: i64,
    /// The state of an asset an inventory creates
    pub new_asset_state: String,
    /// Assets not inventoried for this many days are stale in the patch report
    #[schema(minimum = 1, maximum = 3650)]
    pub stale_days: i64,
    /// What each operating system should be at least
    pub baselines: Vec<Baseline>,
}

impl Default for InventorySettings {
    fn default() -> Self {
        InventorySettings {
            token_in_url: true,
            token_header: "X-Orion-Token".into(),
            prolog_freq_hours: 24,
            new_asset_state: "deployed".into(),
            stale_days: 30,
            baselines: Vec::new(),
        }
    }
}

/// The minimum OS and kernel version for assets whose OS name starts with `os`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// OS name prefix, case-insensitive, e.g. `Debian GNU/Linux` or `Microsoft Windows 11`
    #[schema(min_length = 1, pattern = "\\S")]
    pub os: String,
    /// Minimum OS version, e.g. `12.11` or `10.0.26100`
    pub min_version: Option<String>,
    /// Minimum kernel version, e.g. `6.1.0-28`
    pub min_kernel: Option<String>,
}

pub(crate) async fn load_settings(c: &mut Conn<'_>) -> AppResult<InventorySettings> {
    match settings::get(c, SETTINGS_KEY).await? {
        Some(s) => serde_json::from_str(&s).map_err(|e| AppError::Internal(format!("stored inventory settings: {e}"))),
        None => Ok(InventorySettings::default()),
    }
}

/// One XML element: its name, its text, its children in order.
#[derive(Debug, Default, Clone)]
pub struct Node {
    pub name: String,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child called `name`: agents repeat an element for each item and do not wrap a
    /// single one, so every section may appear any number of times.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the child `name` (empty when missing).
    pub fn get(&self, name: &str) -> &str {
        self.child(name).map(|c| c.text.trim()).unwrap_or("")
    }
}

/// Decompresses a body by its magic bytes: zlib (`78 01|5E|9C|DA`), gzip (`1F 8B`) or plain.
/// Returns the XML text and whether it was zlib-compressed (the reply is sent the same way).
pub fn decode_body(body: &[u8]) -> Result<(String, bool), String> {
    let zlib = body.len() > 2 && body[0] == 0x78 && (u16::from(body[0]) << 8 | u16::from(body[1])) % 31 == 0;
    let gzip = body.starts_with(&[0x1f, 0x8b]);
    let mut raw = Vec::new();
    if zlib {
        flate2::read::ZlibDecoder::new(body).take(MAX_XML).read_to_end(&mut raw).map_err(|e| format!("zlib: {e}"))?;
    } else if gzip {
        flate2::read::GzDecoder::new(body).take(MAX_XML).read_to_end(&mut raw).map_err(|e| format!("gzip: {e}"))?;
    } else {
        raw = body.to_vec();
    }
    let text = match String::from_utf8(raw) {
        Ok(s) => s,
        // Old Windows agents sent Latin-1; keep what is readable rather than refusing.
        Err(e) => e.into_bytes().iter().map(|b| *b as char).collect(),
    };
    Ok((text, zlib))
}

/// Compresses a reply with zlib at the default level (header `78 9C`, which agents sniff for).
pub fn zlib(text: &str) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(text.as_bytes());
    e.finish().unwrap_or_default()
}

/// Parses XML into a tree of elements (attributes are not used by the protocol).
pub fn parse_xml(text: &str) -> Result<Node, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => stack.push(Node { name: e.name().as_ref().to_string(), ..Node::default() }),
            Ok(Event::Empty(e)) => {
                let n = Node { name: e.name().as_ref().to_string(), ..Node::default() };
                if let Some(top) = stack.last_mut() {
                    top.children.push(n);
                }
            }
            Ok(Event::End(_)) => {
                let done = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(top) => top.children.push(done),
                    None => return Err("unbalanced end tag".into()),
                }
            }
            Ok(Event::Text(t)) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Ok(Event::CData(t)) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Ok(Event::GeneralRef(r)) => {
                let ch = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    _ => match &*r {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => None,
                    },
                };
                if let (Some(c), Some(top)) = (ch, stack.last_mut()) {
                    top.text.push(c);
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("at byte {}: {e}", reader.buffer_position())),
        }
    }
    if stack.len() != 1 {
        return Err("the document ends inside an element".into());
    }
    let root = stack.pop().unwrap_or_default();
    root.children.into_iter().next().ok_or_else(|| "no root element".into())
}

/// What one inventory says about a machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub device_id: String,
    pub name: String,
    pub ci_type: &'static str,
    pub serial: Option<String>,
    pub uuid: Option<String>,
    pub manufacturer: String,
    pub model: String,
    pub os_name: String,
    pub os_version: String,
    pub kernel: String,
    /// Every non-zero MAC, physical interfaces first
    pub macs: Vec<String>,
    /// The MACs of physical interfaces (what matching trusts)
    pub physical_macs: Vec<String>,
    pub hardware: Value,
    pub software: Vec<SoftwareRow>,
}

/// Serials and UUIDs that firmware fills in when it has none: never used to match.
fn junk_id(s: &str) -> bool {
    let l = s.trim().to_lowercase();
    l.len() < 3
        || l.chars().all(|c| c == '0' || c == '-' || c == ' ')
        || [
            "to be filled by o.e.m.",
            "default string",
            "system serial number",
            "not specified",
            "not applicable",
            "none",
            "n/a",
            "0123456789",
            "chassis serial number",
            "invalid",
            "03000200-0400-0500-0006-000700080009",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ]
        .contains(&l.as_str())
}

fn id_of(s: &str) -> Option<String> {
    if junk_id(s) { None } else { Some(s.trim().to_string()) }
}

/// Reads an INVENTORY request.
pub fn read_inventory(req: &Node) -> Result<Inventory, String> {
    let content = req.child("CONTENT").ok_or("an INVENTORY request needs <CONTENT>")?;
    let hw = content.child("HARDWARE").cloned().unwrap_or_default();
    let bios = content.child("BIOS").cloned().unwrap_or_default();
    let os = content.child("OPERATINGSYSTEM").cloned().unwrap_or_default();
    let device_id = req.get("DEVICEID").to_string();
    let name = match (hw.get("NAME"), os.get("FQDN")) {
        ("", "") => device_id.clone(),
        ("", fqdn) => fqdn.to_string(),
        (n, _) => n.to_string(),
    };
    if name.is_empty() {
        return Err("the inventory names no machine (HARDWARE/NAME and DEVICEID are empty)".into());
    }
    let vm = hw.get("VMSYSTEM");
    let chassis = hw.get("CHASSIS_TYPE").to_lowercase();
    let os_full = first_of(&[os.get("FULL_NAME"), hw.get("OSNAME"), os.get("NAME")]).to_string();
    let ci_type = if !vm.is_empty() && !vm.eq_ignore_ascii_case("physical") {
        "virtual_machine"
    } else if ["laptop", "notebook", "portable", "sub notebook", "convertible", "tablet"]
        .iter()
        .any(|k| chassis.contains(k))
    {
        "laptop"
    } else if ["server", "rack", "blade"].iter().any(|k| chassis.contains(k))
        || os_full.to_lowercase().contains("server")
    {
        "server"
    } else {
        "desktop"
    };
    let mut physical = Vec::new();
    let mut virt = Vec::new();
    let mut nics = Vec::new();
    for n in content.all("NETWORKS") {
        let Some(mac) = normalise_mac(n.get("MACADDR")) else { continue };
        let is_virtual = n.get("VIRTUALDEV") == "1";
        let list = if is_virtual { &mut virt } else { &mut physical };
        if !list.contains(&mac) {
            list.push(mac.clone());
        }
        nics.push(json!({
            "name": n.get("DESCRIPTION"), "mac": mac, "ip": n.get("IPADDRESS"), "status": n.get("STATUS"),
            "virtual": is_virtual,
        }));
    }
    let mut macs = physical.clone();
    macs.extend(virt.into_iter().filter(|m| !physical.contains(m)));
    let cpus: Vec<Value> = content
        .all("CPUS")
        .map(|c| {
            json!({"name": c.get("NAME"), "manufacturer": c.get("MANUFACTURER"), "cores": num(c.get("CORE")),
                        "threads": num(c.get("THREAD")), "speed_mhz": num(c.get("SPEED"))})
        })
        .collect();
    let disks: Vec<Value> = content
        .all("DRIVES")
        .map(|d| {
            json!({"mount": first_of(&[d.get("TYPE"), d.get("LETTER"), d.get("VOLUMN")]),
                        "device": d.get("VOLUMN"), "filesystem": d.get("FILESYSTEM"),
                        "total_mb": num(d.get("TOTAL")), "free_mb": num(d.get("FREE"))})
        })
        .collect();
    let mut software: Vec<SoftwareRow> = content
        .all("SOFTWARES")
        .filter(|s| !s.get("NAME").is_empty())
        .map(|s| SoftwareRow {
            name: s.get("NAME").chars().take(300).collect(),
            version: s.get("VERSION").chars().take(100).collect(),
            publisher: s.get("PUBLISHER").chars().take(200).collect(),
        })
        .collect();
    let mut keys = BTreeSet::new();
    software.retain(|s| keys.insert((s.name.to_lowercase(), s.version.clone())));
    let memory_mb = match num(hw.get("MEMORY")) {
        Value::Null => {
            Value::from(content.all("MEMORIES").filter_map(|m| m.get("CAPACITY").parse::<i64>().ok()).sum::<i64>())
        }
        v => v,
    };
    let hardware = json!({
        "cpus": cpus,
        "memory_mb": memory_mb,
        "disks": disks,
        "networks": nics,
        "vm_system": vm,
        "arch": os.get("ARCH"),
        "ip": hw.get("IPADDR"),
        "last_user": hw.get("LASTLOGGEDUSER"),
        "agent": req.get("DEVICEID"),
        "agent_version": content.get("VERSIONCLIENT"),
        "software_count": software.len(),
    });
    Ok(Inventory {
        device_id,
        name,
        ci_type,
        serial: id_of(bios.get("SSN")),
        uuid: id_of(hw.get("UUID")),
        manufacturer: first_of(&[bios.get("SMANUFACTURER"), bios.get("MMANUFACTURER"), bios.get("BMANUFACTURER")])
            .to_string(),
        model: first_of(&[bios.get("SMODEL"), bios.get("MMODEL")]).to_string(),
        os_name: os_full,
        os_version: first_of(&[os.get("VERSION"), hw.get("OSVERSION")]).to_string(),
        kernel: first_of(&[os.get("KERNEL_VERSION"), hw.get("OSVERSION")]).to_string(),
        physical_macs: physical,
        macs,
        hardware,
        software,
    })
}

fn first_of<'a>(v: &[&'a str]) -> &'a str {
    v.iter().find(|s| !s.is_empty()).copied().unwrap_or("")
}

fn num(s: &str) -> Value {
    s.trim().parse::<i64>().map(Value::from).unwrap_or(Value::Null)
}

/// What the endpoint answers: a body and whether it is zlib-compressed.
#[derive(Debug, Clone)]
pub struct InventoryReply {
    pub body: Vec<u8>,
    pub compressed: bool,
    /// For logs and tests: the asset written and whether it was created
    pub asset_id: Option<i64>,
    pub created: bool,
}

/// How the caller presented its token: `Authorization: Bearer`, a request header looked up by
/// name (the configured `token_header`), or the URL parameter `token`.
pub struct Presented<'a> {
    pub bearer: Option<&'a str>,
    pub header: &'a (dyn Fn(&str) -> Option<String> + Send + Sync),
    pub url: Option<&'a str>,
}

/// What an inventory changed, in words and as data.
fn diff(
    old: &orion_store::cmdb::CiRow,
    old_macs: &[String],
    old_sw: &[SoftwareRow],
    inv: &Inventory,
) -> (Vec<String>, Value) {
    let mut said = Vec::new();
    let mut data = serde_json::Map::new();
    let mut field = |name: &str, label: &str, a: &str, b: &str| {
        if a != b && !(b.is_empty()) {
            said.push(if a.is_empty() { format!("{label} {b}") } else { format!("{label} {a} → {b}") });
            data.insert(name.into(), json!({"from": a, "to": b}));
        }
    };
    field("os_name", "OS", &old.os_name, &inv.os_name);
    field("os_version", "OS version", &old.os_version, &inv.os_version);
    field("kernel", "kernel", &old.kernel, &inv.kernel);
    field("serial", "serial", old.serial.as_deref().unwrap_or(""), inv.serial.as_deref().unwrap_or(""));
    let old_hw: Value = serde_json::from_str(&old.hardware).unwrap_or_default();
    let (om, nm) = (old_hw["memory_mb"].as_i64().unwrap_or(0), inv.hardware["memory_mb"].as_i64().unwrap_or(0));
    if old.last_inventory_at.is_some() && om != nm {
        said.push(format!("memory {om} → {nm} MB"));
        data.insert("memory_mb".into(), json!({"from": om, "to": nm}));
    }
    let (a, b): (BTreeSet<&String>, BTreeSet<&String>) = (old_macs.iter().collect(), inv.macs.iter().collect());
    if old.last_inventory_at.is_some() && a != b {
        let added: Vec<&&String> = b.difference(&a).collect();
        let removed: Vec<&&String> = a.difference(&b).collect();
        said.push(format!("network interfaces +{} −{}", added.len(), removed.len()));
        data.insert("macs".into(), json!({"added": added, "removed": removed}));
    }
    if old.last_inventory_at.is_some() {
        let old_by: BTreeMap<String, Vec<&SoftwareRow>> = group(old_sw);
        let new_by: BTreeMap<String, Vec<&SoftwareRow>> = group(&inv.software);
        let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
        for (k, new) in &new_by {
            match old_by.get(k) {
                None => added.extend(new.iter().map(|s| json!({"name": s.name, "version": s.version}))),
                Some(old) => {
                    let ov: BTreeSet<&str> = old.iter().map(|s| s.version.as_str()).collect();
                    let nv: BTreeSet<&str> = new.iter().map(|s| s.version.as_str()).collect();
                    if ov != nv {
                        let (from, to) = (
                            ov.iter().max_by(|a, b| compare_versions(a, b)),
                            nv.iter().max_by(|a, b| compare_versions(a, b)),
                        );
                        changed.push(json!({"name": new[0].name, "from": from, "to": to}));
                    }
                }
            }
        }
        for (k, old) in &old_by {
            if !new_by.contains_key(k) {
                removed.extend(old.iter().map(|s| json!({"name": s.name, "version": s.version})));
            }
        }
        if !(added.is_empty() && removed.is_empty() && changed.is_empty()) {
            said.push(format!(
                "software: {} added, {} removed, {} changed version",
                added.len(),
                removed.len(),
                changed.len()
            ));
            let counts = json!({"added": added.len(), "removed": removed.len(), "changed": changed.len()});
            added.truncate(LIST_MAX);
            removed.truncate(LIST_MAX);
            changed.truncate(LIST_MAX);
            data.insert(
                "software".into(),
                json!({"counts": counts, "added": added, "removed": removed, "changed": changed}),
            );
        }
    }
    (said, Value::Object(data))
}

fn group(rows: &[SoftwareRow]) -> BTreeMap<String, Vec<&SoftwareRow>> {
    let mut m: BTreeMap<String, Vec<&SoftwareRow>> = BTreeMap::new();
    for r in rows {
        m.entry(r.name.to_lowercase()).or_default().push(r);
    }
    m
}

/// Finds the asset an inventory describes: serial, UUID, MAC, device id, then name.
async fn match_asset(c: &mut Conn<'_>, inv: &Inventory) -> AppResult<Option<(i64, &'static str)>> {
    if let Some(s) = &inv.serial
        && let Some(id) = store::find_by(c, MatchKey::Serial, s).await?.first()
    {
        return Ok(Some((*id, "serial")));
    }
    if let Some(u) = &inv.uuid
        && let Some(id) = store::find_by(c, MatchKey::Uuid, u).await?.first()
    {
        return Ok(Some((*id, "uuid")));
    }
    let macs = if inv.physical_macs.is_empty() { &inv.macs } else { &inv.physical_macs };
    if let Some(id) = store::find_by_macs(c, macs).await?.first() {
        return Ok(Some((*id, "mac")));
    }
    if !inv.device_id.is_empty()
        && let Some(id) = store::find_by(c, MatchKey::DeviceId, &inv.device_id).await?.first()
    {
        return Ok(Some((*id, "device_id")));
    }
    Ok(store::find_by(c, MatchKey::Name, &inv.name.to_lowercase()).await?.first().map(|id| (*id, "name")))
}

/// What an inventory agent (or whoever set it up) is told when its token is missing or unknown.
fn inventory_token_help(header: &str) -> String {
    format!(
        "this endpoint takes an inventory token (it starts with oinv_), not an API token, as Authorization: Bearer <token> or in the {header} header; \
         an admin makes one with POST /api/v1/inventory/tokens (the token is shown once)"
    )
}

fn reply(text: &str, compressed: bool) -> Vec<u8> {
    if compressed { zlib(text) } else { text.as_bytes().to_vec() }
}

impl App {
    /// Handles one agent request (PROLOG or INVENTORY). Authentication failures, unreadable
    /// bodies and unknown queries are errors; the agent logs them.
    pub async fn receive_inventory(&self, token: Presented<'_>, body: &[u8]) -> AppResult<InventoryReply> {
        let (text, compressed) = decode_body(body).map_err(|e| crate::kernel::error::invalid("body", e))?;
        let req = parse_xml(&text).map_err(|e| crate::kernel::error::invalid("body", format!("not XML: {e}")))?;
        if req.name != "REQUEST" {
            return Err(crate::kernel::error::invalid("body", format!("expected <REQUEST>, got <{}>", req.name)));
        }
        let now = self.now();
        let settings = {
            let mut r = self.db.read().await?;
            load_settings(&mut r.conn()).await?
        };
        let header = token.bearer.map(str::to_string).or_else(|| (token.header)(&settings.token_header));
        let presented = match (header, token.url) {
            (Some(h), _) if !h.trim().is_empty() => h.trim().to_string(),
            (_, Some(u)) if settings.token_in_url && !u.trim().is_empty() => u.trim().to_string(),
            (_, Some(_)) => {
                return Err(AppError::Forbidden(
                    "tokens in the URL are turned off (inventory settings); send the token header".into(),
                ));
            }
            _ => return Err(AppError::TokenRefused(inventory_token_help(&settings.token_header))),
        };
        let hash = crate::auth::hash_token(&presented);
        let query = req.get("QUERY").to_uppercase();
        match query.as_str() {
            "PROLOG" => {
                let mut tx = self.db.begin().await?;
                if store::use_token(&mut tx.conn(), &hash, now).await?.is_none() {
                    return Err(AppError::TokenRefused(inventory_token_help(&settings.token_header)));
                }
                self.commit(tx).await?;
                let text = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<REPLY><PROLOG_FREQ>{}</PROLOG_FREQ><RESPONSE>SEND</RESPONSE></REPLY>",
                    settings.prolog_freq_hours
                );
                Ok(InventoryReply { body: reply(&text, compressed), compressed, asset_id: None, created: false })
            }
            "INVENTORY" => {
                let inv = read_inventory(&req).map_err(|e| crate::kernel::error::invalid("body", e))?;
                let mut tx = self.db.begin().await?;
                let mut c = tx.conn();
                if store::use_token(&mut c, &hash, now).await?.is_none() {
                    return Err(AppError::TokenRefused(inventory_token_help(&settings.token_header)));
                }
                let (id, created) = write_inventory(&mut c, &inv, &settings, now).await?;
                self.commit(tx).await?;
                metrics::counter!("orion_inventories_total", "result" => if created { "created" } else { "updated" })
                    .increment(1);
                let text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<REPLY></REPLY>";
                Ok(InventoryReply { body: reply(text, compressed), compressed, asset_id: Some(id), created })
            }
            other => {
                Err(crate::kernel::error::invalid("body", format!("unknown QUERY {other:?}; PROLOG or INVENTORY")))
            }
        }
    }

    /// The inventory settings (admins).
    pub async fn inventory_settings(&self, actor: &Actor) -> AppResult<InventorySettings> {
        crate::kernel::access::require_admin(actor, "read inventory settings")?;
        let mut r = self.db.read().await?;
        load_settings(&mut r.conn()).await
    }

    /// Replaces the inventory settings (admins).
    pub async fn set_inventory_settings(&self, actor: &Actor, s: InventorySettings) -> AppResult<InventorySettings> {
        crate::kernel::access::require_admin(actor, "change inventory settings")?;
        let mut errs = orion_domain::FieldErrors::new();
        if !(1..=24 * 30).contains(&s.prolog_freq_hours) {
            errs.push("prolog_freq_hours", "must be 1 to 720");
        }
        if !(1..=3650).contains(&s.stale_days) {
            errs.push("stale_days", "must be 1 to 3650");
        }
        if !matches!(s.new_asset_state.as_str(), "in_stock" | "deployed") {
            errs.push("new_asset_state", "must be in_stock or deployed");
        }
        let h = s.token_header.trim();
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            errs.push("token_header", "must be a header name (letters, digits, -)");
        }
        for (i, b) in s.baselines.iter().enumerate() {
            if b.os.trim().is_empty() {
                errs.push(format!("baselines[{i}].os"), "is required");
            }
            if b.min_version.is_none() && b.min_kernel.is_none() {
                errs.push(format!("baselines[{i}]"), "name min_version, min_kernel or both");
            }
        }
        errs.into_result()?;
        let mut tx = self.db.begin().await?;
        settings::put(&mut tx.conn(), SETTINGS_KEY, &serde_json::to_string(&s).unwrap_or_default(), self.now()).await?;
        self.commit(tx).await?;
        Ok(s)
    }

    /// Adds a token for inventory agents (admins); the token is in the answer, once.
    pub async fn create_inventory_token(&self, actor: &Actor, name: &str) -> AppResult<NewInventoryToken> {
        crate::kernel::access::require_admin(actor, "add inventory tokens")?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(crate::kernel::error::invalid("name", "is required, at most 100 characters"));
        }
        let token = crate::auth::new_token("oinv_");
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let id = match store::insert_token(&mut tx.conn(), name, &crate::auth::hash_token(&token), now).await {
            Err(orion_store::StoreError::Duplicate) => {
                return Err(crate::kernel::error::invalid("name", format!("a token named {name:?} exists")));
            }
            other => other?,
        };
        self.commit(tx).await?;
        Ok(NewInventoryToken { id, name: name.to_string(), token })
    }

    pub async fn inventory_tokens(&self, actor: &Actor) -> AppResult<Vec<InventoryToken>> {
        crate::kernel::access::require_admin(actor, "see inventory tokens")?;
        let mut r = self.db.read().await?;
        Ok(store::tokens(&mut r.conn())
            .await?
            .into_iter()
            .map(|t| InventoryToken {
                id: t.id,
                name: t.name,
                received: t.received,
                last_used_at: t.last_used_at.map(|x| Timestamp(x).to_rfc3339()),
                created_at: Timestamp(t.created_at).to_rfc3339(),
            })
            .collect())
    }

    pub async fn delete_inventory_token(&self, actor: &Actor, id: i64) -> AppResult<()> {
        crate::kernel::access::require_admin(actor, "remove inventory tokens")?;
        let mut tx = self.db.begin().await?;
        crate::kernel::error::found(store::delete_token(&mut tx.conn(), id).await, "inventory token")?;
        self.commit(tx).await?;
        Ok(())
    }
}

/// Creates or updates the asset an inventory describes, with its history event.
pub(crate) async fn write_inventory(
    c: &mut Conn<'_>,
    inv: &Inventory,
    settings: &InventorySettings,
    now: i64,
) -> AppResult<(i64, bool)> {
    let (id, created, matched_by) = match match_asset(c, inv).await? {
        Some((id, by)) => (id, false, by),
        None => {
            let f = CiFields {
                ci_type: inv.ci_type.to_string(),
                name: inv.name.clone(),
                attributes: "{}".into(),
                ..CiFields::default()
            };
            let id = store::insert(c, &f, &settings.new_asset_state, now).await?;
            let summary = format!("Created by inventory from {}", inv.device_id);
            event(
                c,
                id,
                now,
                None,
                "created",
                &summary,
                json!({"state": settings.new_asset_state, "device_id": inv.device_id}),
            )
            .await?;
            (id, true, "created")
        }
    };
    let old = store::get(c, id).await?;
    let old_macs = store::macs(c, id).await?;
    let old_sw = store::software(c, id).await?;
    let (said, changes) = diff(&old, &old_macs, &old_sw, inv);
    let hardware = inv.hardware.to_string();
    store::set_inventory(
        c,
        id,
        &InventoryFields {
            serial: inv.serial.as_deref(),
            hw_uuid: inv.uuid.as_deref(),
            device_id: &inv.device_id,
            model: &inv.model,
            manufacturer: &inv.manufacturer,
            os_name: &inv.os_name,
            os_version: &inv.os_version,
            kernel: &inv.kernel,
            hardware: &hardware,
        },
        now,
    )
    .await?;
    if old_macs != {
        let mut m = inv.macs.clone();
        m.sort();
        m
    } {
        store::replace_macs(c, id, &inv.macs).await?;
    }
    let old_keys: BTreeSet<(String, &str)> =
        old_sw.iter().map(|s| (s.name.to_lowercase(), s.version.as_str())).collect();
    let new_keys: BTreeSet<(String, &str)> =
        inv.software.iter().map(|s| (s.name.to_lowercase(), s.version.as_str())).collect();
    let gone: Vec<&SoftwareRow> =
        old_sw.iter().filter(|s| !new_keys.contains(&(s.name.to_lowercase(), s.version.as_str()))).collect();
    let new: Vec<&SoftwareRow> =
        inv.software.iter().filter(|s| !old_keys.contains(&(s.name.to_lowercase(), s.version.as_str()))).collect();
    store::remove_software(c, id, &gone).await?;
    store::add_software(c, id, &new).await?;
    let summary = if created || old.last_inventory_at.is_none() {
        format!(
            "First inventory: {} {}, kernel {}, {} software packages",
            inv.os_name,
            inv.os_version,
            inv.kernel,
            inv.software.len()
        )
    } else if said.is_empty() {
        "Inventory: no changes".to_string()
    } else {
        format!("Inventory: {}", said.join("; "))
    };
    let mut data = changes;
    data["matched_by"] = json!(matched_by);
    data["device_id"] = json!(inv.device_id);
    event(c, id, now, None, "inventoried", &summary, data).await?;
    Ok((id, created))
}

/// An inventory token as listed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InventoryToken {
    pub id: i64,
    pub name: String,
    /// Requests received with it
    pub received: i64,
    pub last_used_at: Option<String>,
    pub created_at: String,
}

/// A new inventory token: shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewInventoryToken {
    pub id: i64,
    pub name: String,
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What fusioninventory-agent 2.6 sends first (captured in shared/reference/).
    const PROLOG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<REQUEST>\n  <DEVICEID>vm-2026-11-22-13-09-22</DEVICEID>\n  <QUERY>PROLOG</QUERY>\n  <TOKEN>12345678</TOKEN>\n</REQUEST>\n";

    #[test]
    fn a_prolog_and_compression_are_recognised() {
        let req = parse_xml(PROLOG).unwrap();
        assert_eq!((req.name.as_str(), req.get("QUERY")), ("REQUEST", "PROLOG"));
        let z = zlib(PROLOG);
        assert_eq!(&z[..2], &[0x78, 0x9c]);
        let (text, compressed) = decode_body(&z).unwrap();
        assert!(compressed);
        assert_eq!(text, PROLOG);
        assert!(!decode_body(PROLOG.as_bytes()).unwrap().1);
    }

    #[test]
    fn single_sections_entities_and_junk_serials() {
        let xml = "<REQUEST><DEVICEID>pc-1</DEVICEID><QUERY>INVENTORY</QUERY><CONTENT>
            <BIOS><SSN>To be filled by O.E.M.</SSN><SMANUFACTURER>Dell Inc.</SMANUFACTURER></BIOS>
            <HARDWARE><NAME>PC-1</NAME><UUID>4C4C4544-0042</UUID><MEMORY>16384</MEMORY><CHASSIS_TYPE>Notebook</CHASSIS_TYPE></HARDWARE>
            <OPERATINGSYSTEM><FULL_NAME>Microsoft Windows 11 Pro</FULL_NAME><VERSION>10.0.26100</VERSION></OPERATINGSYSTEM>
            <NETWORKS><MACADDR>AA-BB-CC-00-11-22</MACADDR><DESCRIPTION>Wi-Fi</DESCRIPTION></NETWORKS>
            <SOFTWARES><NAME>Tom &amp; Jerry&#39;s &lt;Tool&gt;</NAME><VERSION>1.0</VERSION></SOFTWARES>
            </CONTENT></REQUEST>";
        let inv = read_inventory(&parse_xml(xml).unwrap()).unwrap();
        assert_eq!(inv.serial, None);
        assert_eq!(inv.uuid.as_deref(), Some("4C4C4544-0042"));
        assert_eq!((inv.ci_type, inv.name.as_str(), inv.manufacturer.as_str()), ("laptop", "PC-1", "Dell Inc."));
        assert_eq!(inv.macs, vec!["aa:bb:cc:00:11:22".to_string()]);
        assert_eq!(inv.software[0].name, "Tom & Jerry's <Tool>");
        assert_eq!(inv.hardware["memory_mb"], 16384);
        assert!(parse_xml("<REQUEST><QUERY>").is_err());
    }
}
