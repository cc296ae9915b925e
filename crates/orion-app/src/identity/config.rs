//! A directory source's settings: what an admin gives (`DirectorySourceInput`), checked into the
//! stored form (`SourceConfig`, JSON in `directory_source.settings`), with the defaults of each
//! kind of directory filled in.

use crate::kernel::error::invalid;
use crate::{AppError, AppResult};
use orion_domain::{FieldErrors, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    OpenLdap,
    ActiveDirectory,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OpenLdap => "openldap",
            Kind::ActiveDirectory => "active_directory",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::OpenLdap => "LDAP (OpenLDAP and others)",
            Kind::ActiveDirectory => "Active Directory",
        }
    }
}

/// Which directory attribute holds each user field. Leave a field out for the kind's default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeMapInput {
    /// The stable id that keys the user (default `entryUUID`; Active Directory `objectGUID`)
    pub id: Option<String>,
    /// Default `uid`; Active Directory `sAMAccountName`
    pub login: Option<String>,
    /// Default `mail`
    pub email: Option<String>,
    /// Default `displayName` (then `cn`, then given name and surname)
    pub name: Option<String>,
    /// Default `telephoneNumber`
    pub phone: Option<String>,
    /// Default `departmentNumber`; Active Directory `department`
    pub department: Option<String>,
    /// Default `title`
    pub title: Option<String>,
    /// Default `l`; Active Directory `physicalDeliveryOfficeName`
    pub location: Option<String>,
    /// The DN of the user's manager. Default `manager`
    pub manager: Option<String>,
    /// The day a new joiner starts (`YYYY-MM-DD`, `YYYYMMDD` or a generalized time). No default;
    /// an empty text stops reading it
    pub start_date: Option<String>,
    /// The last day of someone leaving (the same forms, or an Active Directory `accountExpires`
    /// number). No default for OpenLDAP; Active Directory `accountExpires`; an empty text stops
    /// reading it
    pub end_date: Option<String>,
}

/// The attribute names in use, all filled.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttributeMap {
    pub id: String,
    pub login: String,
    pub email: String,
    pub name: String,
    pub phone: String,
    pub department: String,
    pub title: String,
    pub location: String,
    pub manager: String,
    #[serde(default)]
    pub start_date: Option<String>,
    #[serde(default)]
    pub end_date: Option<String>,
}

/// Members of a directory group get an Orion role, an Orion group, or both.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRule {
    /// The directory group's DN, e.g. `cn=helpdesk,ou=groups,dc=example,dc=org`. Members of groups
    /// nested in it count too.
    pub group_dn: String,
    /// `requester`, `agent`, `lead` or `admin`; a user in several groups gets the highest
    pub role: Option<String>,
    /// An Orion support group the members join (and leave when they leave the directory group)
    pub group: Option<String>,
}

/// `POST /api/v1/directory/sources`, `PUT /api/v1/directory/sources/{id}`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectorySourceInput {
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: Option<String>,
    /// Sources are synchronised in this order (lowest first); an address already owned by an
    /// earlier source is left to it. Default: after the others
    pub position: Option<i64>,
    /// `openldap` (default; any LDAPv3 directory) or `active_directory`
    pub kind: Option<String>,
    /// `ldap://host:389` or `ldaps://host:636`
    #[schema(pattern = "^ldaps?://[A-Za-z0-9.-]+(:[1-9][0-9]{0,3})?/?$")]
    pub url: Option<String>,
    /// Upgrade an `ldap://` connection with StartTLS
    pub starttls: Option<bool>,
    /// PEM certificate(s) of the CA that signed the directory's certificate, trusted besides the
    /// system's; the certificate is always verified
    pub ca_pem: Option<String>,
    /// The DN to bind as; leave out to bind anonymously
    pub bind_dn: Option<String>,
    /// The bind password; write-only. On update, leave out to keep the stored one
    pub secret: Option<String>,
    /// Instead of `secret`: a file name in the data directory's `secrets/` folder, read at every run
    pub secret_file: Option<String>,
    /// Where users are searched, e.g. `ou=people,dc=example,dc=org`
    #[schema(min_length = 1, pattern = "\\S")]
    pub base_dn: Option<String>,
    /// Which entries are users. Default `(objectClass=inetOrgPerson)`; Active Directory
    /// `(&(objectClass=user)(objectCategory=person))`
    pub user_filter: Option<String>,
    pub attributes: Option<AttributeMapInput>,
    pub group_rules: Option<Vec<GroupRule>>,
    /// What users in none of the rules' groups become: `requester` (default) or `skip` (not
    /// synchronised; when roles are mapped, only group members get accounts)
    pub unmapped_users: Option<String>,
    /// The circuit breaker: a run that would deactivate more than this share of the source's
    /// active users is refused (default 10)
    #[schema(minimum = 1, maximum = 100)]
    pub max_disable_percent: Option<i64>,
    /// Minutes between scheduled runs; 0 runs only when started by hand. Default 60
    #[schema(minimum = 0, maximum = 10080)]
    pub sync_minutes: Option<i64>,
    /// Entries per page of results (paged results control). Default 500
    #[schema(minimum = 10, maximum = 5000)]
    pub page_size: Option<i64>,
    /// The Orion group that gets the hand-over task when someone with open tickets or assets is
    /// deactivated. Default: the service desk (the first tier-1 group)
    pub handover_group: Option<String>,
    /// Start joiners and leavers from the directory: the Orion group their tasks go to (a new
    /// user whose start date is ahead gets a joiner; a user given a last day, or disabled, a
    /// leaver). An empty text starts none (the default)
    pub workflow_group: Option<String>,
    /// Default true
    pub enabled: Option<bool>,
}

/// The stored settings, every default filled in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceConfig {
    pub kind: Kind,
    pub url: String,
    pub starttls: bool,
    pub ca_pem: Option<String>,
    pub bind_dn: Option<String>,
    pub secret_file: Option<String>,
    pub base_dn: String,
    pub user_filter: String,
    pub attributes: AttributeMap,
    pub group_rules: Vec<GroupRule>,
    pub unmapped_users: String,
    pub max_disable_percent: i64,
    pub page_size: i32,
    pub handover_group: Option<String>,
    #[serde(default)]
    pub workflow_group: Option<String>,
}

impl SourceConfig {
    /// The attributes a user search asks for.
    pub fn wanted_attributes(&self) -> Vec<String> {
        let a = &self.attributes;
        let mut v = vec![
            a.id.clone(),
            a.login.clone(),
            a.email.clone(),
            a.name.clone(),
            a.phone.clone(),
            a.department.clone(),
            a.title.clone(),
            a.location.clone(),
            a.manager.clone(),
            "cn".into(),
            "givenName".into(),
            "sn".into(),
        ];
        v.extend(a.start_date.iter().chain(&a.end_date).cloned());
        match self.kind {
            Kind::ActiveDirectory => v.extend(["userAccountControl".into(), "accountExpires".into()]),
            Kind::OpenLdap => v.push("pwdAccountLockedTime".into()),
        }
        v.sort();
        v.dedup();
        v
    }

    /// Whether the rules decide roles (else a sync leaves roles as an admin set them).
    pub fn maps_roles(&self) -> bool {
        self.group_rules.iter().any(|r| r.role.is_some())
    }
}

/// The attribute names a kind of directory uses unless told otherwise.
pub(crate) fn defaults(kind: Kind) -> AttributeMap {
    let s = |v: &str| v.to_string();
    match kind {
        Kind::OpenLdap => AttributeMap {
            id: s("entryUUID"),
            login: s("uid"),
            email: s("mail"),
            name: s("displayName"),
            phone: s("telephoneNumber"),
            department: s("departmentNumber"),
            title: s("title"),
            location: s("l"),
            manager: s("manager"),
            start_date: None,
            end_date: None,
        },
        Kind::ActiveDirectory => AttributeMap {
            id: s("objectGUID"),
            login: s("sAMAccountName"),
            email: s("mail"),
            name: s("displayName"),
            phone: s("telephoneNumber"),
            department: s("department"),
            title: s("title"),
            location: s("physicalDeliveryOfficeName"),
            manager: s("manager"),
            start_date: None,
            end_date: Some(s("accountExpires")),
        },
    }
}

fn is_attr_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';' || c == '.')
}

pub(crate) fn one_line(errs: &mut FieldErrors, field: &str, v: Option<&str>, max: usize) -> Option<String> {
    let v = v.map(str::trim).filter(|s| !s.is_empty())?;
    if v.chars().count() > max || v.contains(['\r', '\n']) {
        errs.push(field, format!("must be one line of at most {max} characters"));
        return None;
    }
    Some(v.to_string())
}

/// A file name in the data directory's `secrets/` folder: no path, not hidden.
pub(crate) fn plain_file_name(f: &str) -> bool {
    !f.starts_with('.') && f.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A checked source: its name, order, schedule, state, secret and stored settings.
pub struct Checked {
    pub name: String,
    pub position: Option<i64>,
    pub sync_minutes: i64,
    pub enabled: bool,
    pub secret: Option<String>,
    pub config: SourceConfig,
}

/// Checks an admin's input against the stored source (on update: a left-out secret is kept,
/// left-out settings keep their stored value).
pub fn check(
    i: &DirectorySourceInput,
    existing: Option<(&SourceConfig, Option<&str>, &str, i64, bool)>,
) -> AppResult<Checked> {
    let mut errs = FieldErrors::new();
    let old = existing.map(|e| e.0);
    // Given but blank is a mistake, not "keep the stored value".
    for (field, v) in [("name", &i.name), ("url", &i.url), ("base_dn", &i.base_dn)] {
        if v.as_deref().is_some_and(|v| v.trim().is_empty()) {
            errs.push(field, "must not be empty");
        }
    }
    let name = one_line(&mut errs, "name", i.name.as_deref(), 100).or_else(|| existing.map(|e| e.2.to_string()));
    if name.is_none() {
        errs.push("name", "is required");
    }
    let kind = match i.kind.as_deref().map(str::trim) {
        None | Some("") => old.map_or(Kind::OpenLdap, |o| o.kind),
        Some("openldap") => Kind::OpenLdap,
        Some("active_directory") => Kind::ActiveDirectory,
        Some(_) => {
            errs.push("kind", "expected openldap or active_directory");
            Kind::OpenLdap
        }
    };
    let url = one_line(&mut errs, "url", i.url.as_deref(), 300).or_else(|| old.map(|o| o.url.clone()));
    match &url {
        None => errs.push("url", "is required, e.g. ldaps://ldap.example.org:636"),
        Some(u) => match url::Url::parse(u) {
            Ok(p) if matches!(p.scheme(), "ldap" | "ldaps") && p.host_str().is_some() => {}
            _ => errs.push("url", "must be ldap://host[:port] or ldaps://host[:port]"),
        },
    }
    let starttls = i.starttls.or(old.map(|o| o.starttls)).unwrap_or(false);
    if starttls && url.as_deref().is_some_and(|u| u.starts_with("ldaps://")) {
        errs.push("starttls", "an ldaps:// connection is encrypted already; use ldap:// with StartTLS");
    }
    let ca_pem = match &i.ca_pem {
        Some(p) if p.trim().is_empty() => None,
        Some(p) => {
            if let Err(e) = orion_mail::tls::client_config_pem(Some(p)) {
                errs.push("ca_pem", e);
            }
            Some(p.trim().to_string())
        }
        None => old.and_then(|o| o.ca_pem.clone()),
    };
    let bind_dn = match &i.bind_dn {
        Some(d) => one_line(&mut errs, "bind_dn", Some(d), 500),
        None => old.and_then(|o| o.bind_dn.clone()),
    };
    let secret_file = match &i.secret_file {
        Some(f) => one_line(&mut errs, "secret_file", Some(f), 200),
        None => old.and_then(|o| o.secret_file.clone()),
    };
    if let Some(f) = &secret_file
        && !plain_file_name(f)
    {
        errs.push("secret_file", "must be a plain file name in the data directory's secrets/ folder");
    }
    let secret = match (&i.secret, &i.secret_file) {
        (Some(_), Some(_)) => {
            errs.push("secret", "give either secret or secret_file");
            None
        }
        (Some(s), None) if s.is_empty() => None,
        (Some(s), None) => Some(s.clone()),
        (None, Some(_)) => None,
        (None, None) => existing.and_then(|e| e.1.map(str::to_string)),
    };
    if bind_dn.is_some() && secret.is_none() && secret_file.is_none() {
        errs.push("secret", "the bind DN needs a password (secret or secret_file)");
    }
    let base_dn = one_line(&mut errs, "base_dn", i.base_dn.as_deref(), 500).or_else(|| old.map(|o| o.base_dn.clone()));
    if base_dn.is_none() {
        errs.push("base_dn", "is required, e.g. ou=people,dc=example,dc=org");
    }
    let default_filter = match kind {
        Kind::OpenLdap => "(objectClass=inetOrgPerson)",
        Kind::ActiveDirectory => "(&(objectClass=user)(objectCategory=person))",
    };
    let user_filter = one_line(&mut errs, "user_filter", i.user_filter.as_deref(), 1000)
        .or_else(|| old.filter(|o| o.kind == kind).map(|o| o.user_filter.clone()))
        .unwrap_or_else(|| default_filter.to_string());
    if !user_filter.starts_with('(')
        || !user_filter.ends_with(')')
        || user_filter.matches('(').count() != user_filter.matches(')').count()
    {
        errs.push("user_filter", "must be an LDAP filter in parentheses, e.g. (objectClass=person)");
    }
    let mut attributes = match old.filter(|o| o.kind == kind) {
        Some(o) => o.attributes.clone(),
        None => defaults(kind),
    };
    if let Some(a) = &i.attributes {
        let slots: [(&str, &Option<String>, &mut String); 9] = [
            ("attributes.id", &a.id, &mut attributes.id),
            ("attributes.login", &a.login, &mut attributes.login),
            ("attributes.email", &a.email, &mut attributes.email),
            ("attributes.name", &a.name, &mut attributes.name),
            ("attributes.phone", &a.phone, &mut attributes.phone),
            ("attributes.department", &a.department, &mut attributes.department),
            ("attributes.title", &a.title, &mut attributes.title),
            ("attributes.location", &a.location, &mut attributes.location),
            ("attributes.manager", &a.manager, &mut attributes.manager),
        ];
        for (field, given, slot) in slots {
            if let Some(v) = given.as_deref().map(str::trim) {
                if is_attr_name(v) {
                    *slot = v.to_string();
                } else {
                    errs.push(field, "must be an attribute name (letters, digits, - ; .)");
                }
            }
        }
        for (field, given, slot) in [
            ("attributes.start_date", &a.start_date, &mut attributes.start_date),
            ("attributes.end_date", &a.end_date, &mut attributes.end_date),
        ] {
            match given.as_deref().map(str::trim) {
                None => {}
                Some("") => *slot = None,
                Some(v) if is_attr_name(v) => *slot = Some(v.to_string()),
                Some(_) => errs.push(field, "must be an attribute name (letters, digits, - ; .)"),
            }
        }
    }
    let group_rules = i.group_rules.clone().or_else(|| old.map(|o| o.group_rules.clone())).unwrap_or_default();
    if group_rules.len() > 200 {
        errs.push("group_rules", "at most 200 rules");
    }
    for (n, r) in group_rules.iter().enumerate() {
        let field = format!("group_rules[{n}]");
        if r.group_dn.trim().is_empty() || r.group_dn.contains(['\r', '\n']) || !r.group_dn.contains('=') {
            errs.push(
                format!("{field}.group_dn"),
                "must be a group's DN, e.g. cn=helpdesk,ou=groups,dc=example,dc=org",
            );
        }
        if let Some(role) = &r.role
            && let Err(e) = Role::parse(&format!("{field}.role"), role)
        {
            errs.push(&e.field, e.message);
        }
        if r.role.is_none() && r.group.as_deref().is_none_or(|g| g.trim().is_empty()) {
            errs.push(field, "give a role, a group, or both");
        }
    }
    let unmapped_users = match i.unmapped_users.as_deref() {
        None => old.map_or("requester".to_string(), |o| o.unmapped_users.clone()),
        Some(v @ ("requester" | "skip")) => v.to_string(),
        Some(_) => {
            errs.push("unmapped_users", "expected requester or skip");
            "requester".into()
        }
    };
    let max_disable_percent = i.max_disable_percent.or(old.map(|o| o.max_disable_percent)).unwrap_or(10);
    if !(1..=100).contains(&max_disable_percent) {
        errs.push("max_disable_percent", "must be between 1 and 100");
    }
    let sync_minutes = i.sync_minutes.or(existing.map(|e| e.3)).unwrap_or(60);
    if !(0..=10_080).contains(&sync_minutes) {
        errs.push("sync_minutes", "must be between 0 (only by hand) and 10080 (a week)");
    }
    let page_size = i.page_size.or(old.map(|o| i64::from(o.page_size))).unwrap_or(500);
    if !(10..=5000).contains(&page_size) {
        errs.push("page_size", "must be between 10 and 5000");
    }
    let handover_group = match &i.handover_group {
        Some(g) => one_line(&mut errs, "handover_group", Some(g), 100),
        None => old.and_then(|o| o.handover_group.clone()),
    };
    let workflow_group = match &i.workflow_group {
        Some(g) => one_line(&mut errs, "workflow_group", Some(g), 100),
        None => old.and_then(|o| o.workflow_group.clone()),
    };
    if i.position.is_some_and(|p| !(0..=1_000_000).contains(&p)) {
        errs.push("position", "must be between 0 and 1000000");
    }
    errs.into_result()?;
    let (Some(name), Some(url), Some(base_dn)) = (name, url, base_dn) else {
        return Err(AppError::Internal("validated source incomplete".into()));
    };
    Ok(Checked {
        name,
        position: i.position,
        sync_minutes,
        enabled: i.enabled.or(existing.map(|e| e.4)).unwrap_or(true),
        secret,
        config: SourceConfig {
            kind,
            url,
            starttls,
            ca_pem,
            bind_dn,
            secret_file,
            base_dn,
            user_filter,
            attributes,
            group_rules,
            unmapped_users,
            max_disable_percent,
            page_size: page_size as i32,
            handover_group,
            workflow_group,
        },
    })
}

/// Reads stored settings; a row that no longer parses is an internal error, not a crash.
pub fn parse_stored(json: &str) -> AppResult<SourceConfig> {
    serde_json::from_str(json).map_err(|e| AppError::Internal(format!("stored directory settings: {e}")))
}

/// A field error for an unknown Orion group named in a rule.
pub fn unknown_group(field: &str, name: &str) -> AppError {
    invalid(field, format!("no active group named {name:?}"))
}
