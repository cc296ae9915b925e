//! What a sync would change, computed before anything is written: directory entries read into
//! users, compared with the users the source owns, and checked by the circuit breaker. Pure: no
//! database and no directory, so every rule here is tested on its own.

use super::config::{Kind, SourceConfig};
use super::ldap::{RawEntry, Snapshot, guid_text, norm_dn};
use orion_domain::{Email, Role};
use orion_store::identity::SyncedUser;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};
use utoipa::ToSchema;

/// Samples of each kind of change kept in a run's log.
pub const SAMPLES: usize = 25;

/// A directory user, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct DirUser {
    pub dn: String,
    pub external_id: String,
    pub login: Option<String>,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub location: Option<String>,
    /// The manager's DN, normalised.
    pub manager_dn: Option<String>,
    /// Why the directory says the account is disabled, if it does.
    pub disabled: Option<String>,
    /// The role the rules give (None when no rule gives one).
    pub rule_role: Option<Role>,
    /// The Orion groups the rules give.
    pub rule_groups: BTreeSet<String>,
    /// The start day the directory gives (a joiner), when its attribute is mapped.
    pub start_day: Option<jiff::civil::Date>,
    /// The last day the directory gives (a leaver), when its attribute is mapped.
    pub end_day: Option<jiff::civil::Date>,
}

/// One change in a run's report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[schema(as = DirectoryChange)]
pub struct Change {
    pub email: String,
    pub name: String,
    /// What changes, in words, e.g. "role: agent → lead"
    pub details: Vec<String>,
}

/// A kind of change: how many, and the first few.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ChangeList {
    pub count: i64,
    pub samples: Vec<Change>,
}

impl ChangeList {
    fn push(&mut self, c: Change) {
        self.count += 1;
        if self.samples.len() < SAMPLES {
            self.samples.push(c);
        }
    }
}

/// What a run changes (or would change, for a dry run).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct SyncDiff {
    /// User entries the directory returned
    pub entries: i64,
    pub create: ChangeList,
    pub update: ChangeList,
    pub disable: ChangeList,
    pub reenable: ChangeList,
    /// Entries left alone, with the reason (no e-mail, an address another source owns, a
    /// break-glass account, ...)
    pub skipped: ChangeList,
    pub unchanged: i64,
    pub role_changes: i64,
    pub group_changes: i64,
    /// Managers set or changed (known after the run; a dry run counts those of existing users)
    pub manager_changes: i64,
}

/// One write a run makes.
#[derive(Debug, Clone)]
pub enum Op {
    Create {
        user: DirUser,
        role: Role,
    },
    /// Writes the directory's values (and takes over a local account with the same address).
    Write {
        id: i64,
        user: DirUser,
        role: Role,
    },
    Disable {
        id: i64,
        reason: String,
    },
    Reenable {
        id: i64,
    },
    Groups {
        id: i64,
        add: Vec<String>,
        remove: Vec<String>,
    },
}

/// A computed run: its writes, its report, and the breaker's verdict.
#[derive(Debug)]
pub struct Plan {
    pub ops: Vec<Op>,
    pub diff: SyncDiff,
    /// Why the breaker refuses the run, if it does.
    pub refused: Option<String>,
    /// Every entry's manager DN (for resolving after the writes), by external id.
    pub managers: Vec<(String, Option<String>)>,
}

/// A local account as a sync sees it: who owns the address.
#[derive(Debug, Clone)]
pub struct Owner {
    pub id: i64,
    pub source_id: Option<i64>,
    pub break_glass: bool,
}

fn role_rank(r: Role) -> u8 {
    match r {
        Role::Requester => 0,
        Role::Agent => 1,
        Role::Lead => 2,
        Role::Admin => 3,
    }
}

/// 100-ns intervals between 1601-01-01 and 1970-01-01 (AD's epoch and Unix's).
const AD_EPOCH_OFFSET: i64 = 116_444_736_000_000_000;

fn disabled_reason(cfg: &SourceConfig, e: &RawEntry, now_ms: i64) -> Option<String> {
    match cfg.kind {
        Kind::ActiveDirectory => {
            let uac: i64 = e.first("userAccountControl").and_then(|v| v.parse().ok()).unwrap_or(0);
            if uac & 2 != 0 {
                return Some("disabled in Active Directory".into());
            }
            let expires: i64 = e.first("accountExpires").and_then(|v| v.parse().ok()).unwrap_or(0);
            if expires > 0 && expires != i64::MAX {
                let at_ms = (expires - AD_EPOCH_OFFSET) / 10_000;
                if at_ms <= now_ms {
                    let day = orion_domain::Timestamp(at_ms).to_rfc3339();
                    return Some(format!("account expired in Active Directory on {}", &day[..10.min(day.len())]));
                }
            }
            None
        }
        Kind::OpenLdap => e.first("pwdAccountLockedTime").map(|_| "locked in the directory".to_string()),
    }
}

/// A day as directories write it: `2027-01-04`, `20270104`, a generalized time
/// (`20270104000000Z`) or an Active Directory file time (100-ns intervals since 1601; 0 and the
/// largest number mean never).
pub fn directory_day(v: &str) -> Option<jiff::civil::Date> {
    let v = v.trim();
    if v.len() >= 15 && v.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = v.parse().ok()?;
        if n <= 0 || n == i64::MAX {
            return None;
        }
        let ms = (n - AD_EPOCH_OFFSET) / 10_000;
        return Some(jiff::Timestamp::from_millisecond(ms).ok()?.to_zoned(jiff::tz::TimeZone::UTC).date());
    }
    let digits: String = v.chars().take(8).collect();
    if digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let (y, m, d) = (digits[..4].parse().ok()?, digits[4..6].parse().ok()?, digits[6..8].parse().ok()?);
        return jiff::civil::Date::new(y, m, d).ok();
    }
    v.get(..10)?.parse().ok()
}

fn text(e: &RawEntry, attr: &str, max: usize) -> Option<String> {
    e.first(attr).map(|v| v.chars().take(max).collect::<String>().replace(['\r', '\n'], " "))
}

/// Reads the entries of a snapshot into users; entries that cannot be used are reported, and the
/// stable ids of those that have one are returned so their users are not taken for gone.
pub fn read_entries(
    cfg: &SourceConfig,
    snap: &Snapshot,
    group_ids: &HashSet<String>,
    now_ms: i64,
) -> (Vec<DirUser>, ChangeList, HashSet<String>) {
    let mut users = Vec::with_capacity(snap.users.len());
    let mut skipped = ChangeList::default();
    let mut seen = HashSet::new();
    let mut ids = HashSet::new();
    let mut emails = HashSet::new();
    let a = &cfg.attributes;
    for e in &snap.users {
        let dn = norm_dn(&e.dn);
        let external_id = match e.bytes(&a.id) {
            Some(b) if a.id.eq_ignore_ascii_case("objectGUID") => guid_text(&b),
            Some(b) => String::from_utf8(b).ok().map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()),
            None => None,
        };
        let email_raw = e.first(&a.email).map(str::to_string);
        let label = email_raw.clone().unwrap_or_else(|| e.dn.clone());
        let skip = |skipped: &mut ChangeList, why: String| {
            skipped.push(Change { email: label.clone(), name: e.dn.clone(), details: vec![why] })
        };
        let Some(external_id) = external_id else {
            skip(&mut skipped, format!("no {} (the stable id)", a.id));
            continue;
        };
        seen.insert(external_id.clone());
        let email = match email_raw.as_deref().map(|m| Email::parse("email", m)) {
            None => {
                skip(&mut skipped, format!("no e-mail address ({})", a.email));
                continue;
            }
            Some(Err(_)) => {
                skip(&mut skipped, format!("{:?} is not a valid e-mail address", email_raw.unwrap_or_default()));
                continue;
            }
            Some(Ok(m)) => m.as_str().to_string(),
        };
        if !ids.insert(external_id.clone()) {
            skip(&mut skipped, format!("the same {} appears twice in the directory", a.id));
            continue;
        }
        if !emails.insert(email.clone()) {
            skip(&mut skipped, "another entry of this directory has the same e-mail address".into());
            continue;
        }
        let name = text(e, &a.name, 200)
            .or_else(|| text(e, "cn", 200))
            .or_else(|| match (text(e, "givenName", 100), text(e, "sn", 100)) {
                (Some(g), Some(s)) => Some(format!("{g} {s}")),
                (g, s) => g.or(s),
            })
            .or_else(|| text(e, &a.login, 200))
            .unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_string());
        let mut rule_role = None;
        let mut rule_groups = BTreeSet::new();
        for (rule, members) in cfg.group_rules.iter().zip(&snap.members) {
            if !members.contains(&dn) {
                continue;
            }
            if let Some(r) = rule.role.as_deref().and_then(|r| Role::parse("role", r).ok()) {
                rule_role = Some(rule_role.map_or(r, |old: Role| if role_rank(r) > role_rank(old) { r } else { old }));
            }
            if let Some(g) = rule.group.as_deref().map(str::trim).filter(|g| group_ids.contains(*g)) {
                rule_groups.insert(g.to_string());
            }
        }
        let matched_any = cfg.group_rules.iter().zip(&snap.members).any(|(_, m)| m.contains(&dn));
        if !cfg.group_rules.is_empty() && !matched_any && cfg.unmapped_users == "skip" {
            // Out of scope: as if the filter had not returned it.
            seen.remove(&external_id);
            continue;
        }
        users.push(DirUser {
            dn: e.dn.clone(),
            external_id,
            login: text(e, &a.login, 200),
            email,
            name,
            phone: text(e, &a.phone, 50),
            department: text(e, &a.department, 200),
            title: text(e, &a.title, 200),
            location: text(e, &a.location, 200),
            manager_dn: e.first(&a.manager).map(norm_dn),
            disabled: disabled_reason(cfg, e, now_ms),
            rule_role,
            rule_groups,
            start_day: a.start_date.as_deref().and_then(|x| e.first(x)).and_then(directory_day),
            end_day: a.end_date.as_deref().and_then(|x| e.first(x)).and_then(directory_day),
        });
    }
    (users, skipped, seen)
}

fn differs(details: &mut Vec<String>, label: &str, old: Option<&str>, new: Option<&str>) {
    if old.unwrap_or("") != new.unwrap_or("") {
        details.push(format!("{label}: {} → {}", old.unwrap_or("(none)"), new.unwrap_or("(none)")));
    }
}

/// Everything a plan is computed from.
pub struct Inputs<'a> {
    pub cfg: &'a SourceConfig,
    pub source_id: i64,
    pub source_name: &'a str,
    pub users: Vec<DirUser>,
    pub skipped: ChangeList,
    /// Stable ids of entries returned but skipped (their users are not gone).
    pub seen: HashSet<String>,
    pub existing: &'a [SyncedUser],
    /// Managed-group memberships of the existing users: user id -> group names.
    pub memberships: &'a HashMap<i64, BTreeSet<String>>,
    /// Every account by e-mail.
    pub owners: &'a HashMap<String, Owner>,
    pub source_names: &'a HashMap<i64, String>,
    /// Lift the share limit (an admin confirmed); admins are protected regardless.
    pub force: bool,
}

/// Compares the directory with the users the source owns.
pub fn plan(i: Inputs<'_>) -> Plan {
    let mut diff =
        SyncDiff { entries: i.users.len() as i64 + i.skipped.count, skipped: i.skipped, ..Default::default() };
    let maps_roles = i.cfg.maps_roles();
    let managed_groups: BTreeSet<String> = i.cfg.group_rules.iter().filter_map(|r| r.group.clone()).collect();
    let by_ext: HashMap<&str, &SyncedUser> =
        i.existing.iter().filter_map(|u| u.external_id.as_deref().map(|x| (x, u))).collect();
    let mut ops = Vec::new();
    let mut managers = Vec::new();
    let mut present: HashSet<String> = i.seen;
    let mut admins_hit = Vec::new();
    let empty = BTreeSet::new();
    let no_role_note = |u: &DirUser| -> Vec<String> {
        if !u.rule_groups.is_empty() { vec!["requesters do not join support groups".into()] } else { Vec::new() }
    };
    for u in i.users {
        present.insert(u.external_id.clone());
        managers.push((u.external_id.clone(), u.manager_dn.clone()));
        let owner = i.owners.get(&u.email);
        let existing = by_ext.get(u.external_id.as_str()).copied();
        let skip = |diff: &mut SyncDiff, why: String| {
            diff.skipped.push(Change { email: u.email.clone(), name: u.name.clone(), details: vec![why] })
        };
        match existing {
            Some(ex) if ex.user.break_glass => {
                skip(&mut diff, "a break-glass account: never changed by a sync".into());
            }
            Some(ex) => {
                let cur = &ex.user;
                let cur_role = Role::parse("role", &cur.role).unwrap_or(Role::Requester);
                let role = if maps_roles { u.rule_role.unwrap_or(Role::Requester) } else { cur_role };
                let mut details = Vec::new();
                let mut email = u.email.clone();
                if cur.email != u.email {
                    match owner {
                        Some(o) if o.id != cur.id => {
                            details.push(format!("e-mail stays {}: {} belongs to another account", cur.email, u.email));
                            email = cur.email.clone();
                        }
                        _ => details.push(format!("e-mail: {} → {}", cur.email, u.email)),
                    }
                }
                differs(&mut details, "name", Some(&cur.name), Some(&u.name));
                differs(&mut details, "login", cur.login.as_deref(), u.login.as_deref());
                differs(&mut details, "phone", cur.phone.as_deref(), u.phone.as_deref());
                differs(&mut details, "department", cur.department.as_deref(), u.department.as_deref());
                differs(&mut details, "title", cur.title.as_deref(), u.title.as_deref());
                differs(&mut details, "location", cur.location.as_deref(), u.location.as_deref());
                let dn_changed = ex.external_dn.as_deref() != Some(u.dn.as_str());
                if dn_changed {
                    details.push(format!("moved in the directory: {}", u.dn));
                }
                if role != cur_role {
                    details.push(format!("role: {cur_role} → {role}"));
                    diff.role_changes += 1;
                    if cur_role == Role::Admin {
                        admins_hit.push(format!("{} would lose the admin role", cur.email));
                    }
                }
                if !details.is_empty() {
                    diff.update.push(Change { email: cur.email.clone(), name: u.name.clone(), details });
                    let mut user = u.clone();
                    user.email = email;
                    ops.push(Op::Write { id: cur.id, user, role });
                }
                // Managed groups: join those the rules give, leave the managed ones they don't.
                let current = i.memberships.get(&cur.id).unwrap_or(&empty);
                let wanted = if role == Role::Requester { &empty } else { &u.rule_groups };
                let add: Vec<String> = wanted.difference(current).cloned().collect();
                let remove: Vec<String> =
                    current.iter().filter(|g| managed_groups.contains(*g) && !wanted.contains(*g)).cloned().collect();
                if !add.is_empty() || !remove.is_empty() {
                    diff.group_changes += 1;
                    let mut d = Vec::new();
                    if !add.is_empty() {
                        d.push(format!("joins {}", add.join(", ")));
                    }
                    if !remove.is_empty() {
                        d.push(format!("leaves {}", remove.join(", ")));
                    }
                    if matches!(ops.last(), Some(Op::Write { id, .. }) if *id == cur.id) {
                        if let Some(last) = diff.update.samples.last_mut().filter(|c| c.email == cur.email) {
                            last.details.extend(d);
                        }
                    } else {
                        diff.update.push(Change { email: cur.email.clone(), name: u.name.clone(), details: d });
                    }
                    ops.push(Op::Groups { id: cur.id, add, remove });
                }
                match (&u.disabled, cur.active) {
                    (Some(why), true) => {
                        if cur_role == Role::Admin {
                            admins_hit.push(format!("{} would be deactivated ({why})", cur.email));
                        }
                        diff.disable.push(Change {
                            email: cur.email.clone(),
                            name: u.name.clone(),
                            details: vec![why.clone()],
                        });
                        ops.push(Op::Disable { id: cur.id, reason: format!("{why} (source {})", i.source_name) });
                    }
                    (None, false) if ex.deactivated_by.as_deref() == Some("directory") => {
                        diff.reenable.push(Change {
                            email: cur.email.clone(),
                            name: u.name.clone(),
                            details: vec![format!("active again in {}", i.source_name)],
                        });
                        ops.push(Op::Reenable { id: cur.id });
                    }
                    _ => {}
                }
                let touched = matches!(ops.last(), Some(Op::Write { id, .. } | Op::Groups { id, .. } | Op::Disable { id, .. } | Op::Reenable { id }) if *id == cur.id);
                if !touched {
                    diff.unchanged += 1;
                }
            }
            None => {
                if let Some(why) = &u.disabled {
                    skip(&mut diff, format!("not created: {why}"));
                    continue;
                }
                let role = if maps_roles { u.rule_role.unwrap_or(Role::Requester) } else { Role::Requester };
                match owner {
                    Some(o) if o.break_glass => {
                        skip(&mut diff, "the address belongs to a break-glass account: never changed by a sync".into());
                    }
                    Some(o) if o.source_id.is_some_and(|s| s != i.source_id) => {
                        let other = o.source_id.and_then(|s| i.source_names.get(&s)).cloned().unwrap_or_default();
                        skip(&mut diff, format!("the address belongs to a user of the source {other}"));
                    }
                    Some(o) => {
                        // A local account (or one this source lost track of): adopted.
                        let mut details = vec![format!("linked to the existing account (role {role})")];
                        if role == Role::Requester {
                            details.extend(no_role_note(&u));
                        }
                        diff.update.push(Change { email: u.email.clone(), name: u.name.clone(), details });
                        let groups: Vec<String> =
                            if role == Role::Requester { Vec::new() } else { u.rule_groups.iter().cloned().collect() };
                        let id = o.id;
                        ops.push(Op::Write { id, user: u, role });
                        if !groups.is_empty() {
                            diff.group_changes += 1;
                            ops.push(Op::Groups { id, add: groups, remove: Vec::new() });
                        }
                    }
                    None => {
                        let mut details = vec![format!("role {role}")];
                        if role != Role::Requester && !u.rule_groups.is_empty() {
                            details.push(format!(
                                "joins {}",
                                u.rule_groups.iter().cloned().collect::<Vec<_>>().join(", ")
                            ));
                            diff.group_changes += 1;
                        } else if role == Role::Requester {
                            details.extend(no_role_note(&u));
                        }
                        diff.create.push(Change { email: u.email.clone(), name: u.name.clone(), details });
                        ops.push(Op::Create { user: u, role });
                    }
                }
            }
        }
    }
    // Gone from the directory (or out of the filter): deactivated, never deleted.
    let mut active_owned = 0i64;
    for ex in i.existing {
        if ex.user.active {
            active_owned += 1;
        }
        let id = ex.external_id.as_deref().unwrap_or("");
        if present.contains(id) || !ex.user.active {
            continue;
        }
        if ex.user.break_glass {
            diff.skipped.push(Change {
                email: ex.user.email.clone(),
                name: ex.user.name.clone(),
                details: vec!["no longer in the directory, but a break-glass account: left active".into()],
            });
            continue;
        }
        let why = format!("no longer in the directory {}", i.source_name);
        if ex.user.role == "admin" {
            admins_hit.push(format!("{} would be deactivated ({why})", ex.user.email));
        }
        let mut details = vec![why.clone()];
        // No group of the directory holds them any more: the groups its rules map let them go
        // too, so that an offboarding sees them gone from every one.
        if let Some(held) = i.memberships.get(&ex.user.id).filter(|g| !g.is_empty()) {
            let remove: Vec<String> = held.iter().cloned().collect();
            details.push(format!("leaves {}", remove.join(", ")));
            diff.group_changes += 1;
            ops.push(Op::Groups { id: ex.user.id, add: Vec::new(), remove });
        }
        diff.disable.push(Change { email: ex.user.email.clone(), name: ex.user.name.clone(), details });
        ops.push(Op::Disable { id: ex.user.id, reason: why });
    }
    let disabling = diff.disable.count;
    let refused = if !admins_hit.is_empty() {
        Some(format!(
            "Refused: {}. A sync never deactivates or demotes an admin; change them by hand in Orion first (or fix the directory).",
            admins_hit.join("; ")
        ))
    } else if disabling > 0 && !i.force && disabling * 100 > i.cfg.max_disable_percent * active_owned.max(1) {
        Some(format!(
            "Refused: the run would deactivate {disabling} of {active_owned} active users ({} %), more than the {} % this source allows. \
             Check the base DN, the filter and the bind account; if it is meant, run the sync by hand and confirm.",
            disabling * 100 / active_owned.max(1),
            i.cfg.max_disable_percent
        ))
    } else {
        None
    };
    Plan { ops, diff, refused, managers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::config::GroupRule;
    use orion_store::users::UserRow;

    fn cfg(max: i64) -> SourceConfig {
        let s = |v: &str| v.to_string();
        SourceConfig {
            kind: Kind::OpenLdap,
            url: s("ldap://127.0.0.1"),
            starttls: false,
            ca_pem: None,
            bind_dn: None,
            secret_file: None,
            base_dn: s("ou=people,dc=x"),
            user_filter: s("(objectClass=inetOrgPerson)"),
            attributes: crate::identity::config::defaults(Kind::OpenLdap),
            group_rules: vec![GroupRule { group_dn: s("cn=admins,dc=x"), role: Some(s("admin")), group: None }],
            unmapped_users: s("requester"),
            max_disable_percent: max,
            page_size: 500,
            handover_group: None,
            workflow_group: None,
        }
    }

    fn entry(uid: &str, mail: Option<&str>) -> RawEntry {
        let mut attrs = HashMap::new();
        attrs.insert("entryuuid".to_string(), vec![format!("id-{uid}")]);
        attrs.insert("uid".to_string(), vec![uid.to_string()]);
        if let Some(m) = mail {
            attrs.insert("mail".to_string(), vec![m.to_string()]);
        }
        RawEntry { dn: format!("uid={uid},ou=people,dc=x"), attrs, bin: HashMap::new() }
    }

    fn existing(id: i64, uid: &str, role: &str) -> SyncedUser {
        SyncedUser {
            user: UserRow {
                id,
                email: format!("{uid}@x.org"),
                name: uid.to_string(),
                role: role.to_string(),
                active: true,
                phone: None,
                department: None,
                created_at: 0,
                updated_at: 0,
                login: Some(uid.to_string()),
                title: None,
                location: None,
                manager_id: None,
                directory_source_id: Some(1),
                break_glass: false,
                deactivated_at: None,
                deactivated_reason: None,
                vip: false,
            },
            external_id: Some(format!("id-{uid}")),
            external_dn: Some(format!("uid={uid},ou=people,dc=x")),
            deactivated_by: None,
        }
    }

    fn run(cfg: &SourceConfig, entries: Vec<RawEntry>, admins: &[&str], have: &[SyncedUser], force: bool) -> Plan {
        let members = HashSet::from_iter(admins.iter().map(|a| format!("uid={a},ou=people,dc=x")));
        let snap = Snapshot { users: entries, members: vec![members] };
        let (users, skipped, seen) = read_entries(cfg, &snap, &HashSet::new(), 0);
        plan(Inputs {
            cfg,
            source_id: 1,
            source_name: "HQ",
            users,
            skipped,
            seen,
            existing: have,
            memberships: &HashMap::new(),
            owners: &HashMap::new(),
            source_names: &HashMap::new(),
            force,
        })
    }

    #[test]
    fn days_are_read_as_directories_write_them() {
        let d = |y, m, d| Some(jiff::civil::Date::constant(y, m, d));
        assert_eq!(directory_day("2027-01-04"), d(2027, 1, 4));
        assert_eq!(directory_day("20270104"), d(2027, 1, 4));
        assert_eq!(directory_day("20270104000000Z"), d(2027, 1, 4));
        // Active Directory's accountExpires: 2027-01-04T00:00:00Z in file time.
        assert_eq!(directory_day("134434944000000000"), d(2027, 1, 4));
        assert_eq!(directory_day("0"), None);
        assert_eq!(directory_day("9223372036854775807"), None);
        assert_eq!(directory_day("soon"), None);
        assert_eq!(directory_day("20271304"), None);
    }

    #[test]
    fn a_mapped_start_day_is_read_with_the_entry() {
        let mut c = cfg(10);
        c.attributes.start_date = Some("carLicense".into());
        let mut e = entry("new", Some("new@x.org"));
        e.attrs.insert("carlicense".into(), vec!["2027-02-01".into()]);
        let snap = Snapshot { users: vec![e, entry("old", Some("old@x.org"))], members: vec![HashSet::new()] };
        let (users, _, _) = read_entries(&c, &snap, &HashSet::new(), 0);
        assert_eq!(users[0].start_day, Some(jiff::civil::Date::constant(2027, 2, 1)));
        assert_eq!(users[1].start_day, None);
        assert_eq!(users[0].end_day, None);
    }

    #[test]
    fn an_entry_without_an_address_is_reported_and_its_user_kept() {
        // The mapping lost the e-mail (zammad#1818's failure): nobody may be taken for gone.
        let have: Vec<_> = (0..5).map(|i| existing(i, &format!("u{i}"), "requester")).collect();
        let entries = (0..5).map(|i| entry(&format!("u{i}"), None)).collect();
        let p = run(&cfg(10), entries, &[], &have, false);
        assert_eq!(p.diff.disable.count, 0);
        assert_eq!(p.diff.skipped.count, 5);
        assert!(p.diff.skipped.samples[0].details[0].contains("no e-mail"));
        assert!(p.refused.is_none());
    }

    #[test]
    fn the_breaker_refuses_more_than_the_share_unless_confirmed() {
        let have: Vec<_> = (0..10).map(|i| existing(i, &format!("u{i}"), "requester")).collect();
        let keep = |n: usize| (0..n).map(|i| entry(&format!("u{i}"), Some(&format!("u{i}@x.org")))).collect::<Vec<_>>();
        // One of ten (10 %) is allowed at 10 %; two are not.
        assert!(run(&cfg(10), keep(9), &[], &have, false).refused.is_none());
        let p = run(&cfg(10), keep(8), &[], &have, false);
        assert!(p.refused.as_deref().unwrap().contains("2 of 10"), "{:?}", p.refused);
        assert!(run(&cfg(10), keep(8), &[], &have, true).refused.is_none());
        // An empty answer (a wrong base DN) would deactivate everyone.
        assert!(run(&cfg(50), Vec::new(), &[], &have, false).refused.is_some());
    }

    #[test]
    fn admins_are_never_deactivated_or_demoted_even_when_confirmed() {
        let have = vec![existing(1, "root", "admin"), existing(2, "ana", "requester")];
        let ana = entry("ana", Some("ana@x.org"));
        let p = run(&cfg(100), vec![ana.clone()], &[], &have, true);
        assert!(p.refused.as_deref().unwrap().contains("root@x.org would be deactivated"), "{:?}", p.refused);
        let root = entry("root", Some("root@x.org"));
        let p = run(&cfg(100), vec![root.clone(), ana.clone()], &[], &have, true);
        assert!(p.refused.as_deref().unwrap().contains("would lose the admin role"), "{:?}", p.refused);
        assert!(run(&cfg(100), vec![root, ana], &["root"], &have, true).refused.is_none());
    }

    #[test]
    fn break_glass_accounts_are_left_alone() {
        let mut bg = existing(1, "root", "requester");
        bg.user.break_glass = true;
        let p = run(&cfg(100), Vec::new(), &[], &[bg.clone(), existing(2, "x", "requester")], true);
        assert!(p.ops.iter().all(|o| !matches!(o, Op::Disable { id: 1, .. })));
        assert!(p.diff.skipped.samples.iter().any(|c| c.details[0].contains("break-glass")));
    }
}
