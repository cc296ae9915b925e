//! Reading a directory over LDAP: users under a base DN with paged results (any size), and the
//! members of the groups the source's rules name — on Active Directory through the in-chain
//! matching rule (nested groups resolved by the server), elsewhere by walking `member`,
//! `uniqueMember` and `memberUid` of the group and of the groups nested in it.

use super::config::{Kind, SourceConfig};
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

/// AD's LDAP_MATCHING_RULE_IN_CHAIN: membership through any depth of nested groups.
const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";
/// Nested groups followed at most, so a loop or a huge tree cannot keep a run going forever.
const MAX_GROUPS: usize = 10_000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const OP_TIMEOUT: Duration = Duration::from_secs(120);

/// One user entry as the directory returned it, attribute names lower-cased.
#[derive(Debug, Clone, Default)]
pub struct RawEntry {
    pub dn: String,
    pub attrs: HashMap<String, Vec<String>>,
    pub bin: HashMap<String, Vec<Vec<u8>>>,
}

impl RawEntry {
    pub fn first(&self, name: &str) -> Option<&str> {
        self.attrs.get(&name.to_ascii_lowercase()).and_then(|v| v.first()).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    /// The raw bytes of an attribute's first value, text or binary.
    pub fn bytes(&self, name: &str) -> Option<Vec<u8>> {
        let key = name.to_ascii_lowercase();
        if let Some(b) = self.bin.get(&key).and_then(|v| v.first()) {
            return Some(b.clone());
        }
        self.attrs.get(&key).and_then(|v| v.first()).map(|s| s.as_bytes().to_vec())
    }
}

/// What one read of a directory gives a sync.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub users: Vec<RawEntry>,
    /// For each group rule (by index), the normalised DNs of the users in the group.
    pub members: Vec<HashSet<String>>,
}

/// A DN compared the way directories compare them: case-insensitive, no spaces around `,` and `=`.
pub fn norm_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.split('=').map(|p| p.trim().to_lowercase()).collect::<Vec<_>>().join("="))
        .collect::<Vec<_>>()
        .join(",")
}

/// Escapes a value for an LDAP filter (RFC 4515).
pub fn escape_filter(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

fn err(context: &str, e: impl std::fmt::Display) -> String {
    format!("{context}: {e}")
}

async fn connect(cfg: &SourceConfig, secret: Option<&str>) -> Result<Ldap, String> {
    let mut settings = LdapConnSettings::new().set_conn_timeout(CONNECT_TIMEOUT).set_starttls(cfg.starttls);
    if cfg.url.starts_with("ldaps://") || cfg.starttls {
        let tls = orion_mail::tls::client_config_pem(cfg.ca_pem.as_deref())?;
        settings = settings.set_config(tls);
    }
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &cfg.url)
        .await
        .map_err(|e| err(&format!("cannot connect to {}", cfg.url), e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.drive().await {
            tracing::debug!(error = %e, "directory connection ended");
        }
    });
    match (&cfg.bind_dn, secret) {
        (Some(dn), Some(pw)) => {
            ldap.with_timeout(OP_TIMEOUT)
                .simple_bind(dn, pw)
                .await
                .and_then(|r| r.success())
                .map_err(|e| err(&format!("the directory refused the bind as {dn}"), e))?;
        }
        (Some(dn), None) => return Err(format!("no password is stored for the bind DN {dn}")),
        (None, _) => {}
    }
    Ok(ldap)
}

async fn search_paged(
    ldap: &mut Ldap,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: Vec<String>,
    page_size: i32,
) -> Result<Vec<RawEntry>, String> {
    let adapters: Vec<Box<dyn Adapter<_, _>>> =
        vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(page_size))];
    let mut search = ldap
        .streaming_search_with(adapters, base, scope, filter, attrs)
        .await
        .map_err(|e| err(&format!("search under {base} with {filter}"), e))?;
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(OP_TIMEOUT, search.next()).await {
            Err(_) => return Err(format!("the directory did not answer within {} s", OP_TIMEOUT.as_secs())),
            Ok(Err(e)) => return Err(err(&format!("search under {base}"), e)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(entry))) => {
                let e = SearchEntry::construct(entry);
                out.push(RawEntry {
                    dn: e.dn,
                    attrs: e.attrs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect(),
                    bin: e.bin_attrs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect(),
                });
            }
        }
    }
    search.finish().await.success().map_err(|e| err(&format!("search under {base} with {filter}"), e))?;
    Ok(out)
}

/// Reads one entry, or `None` when there is none at `dn` (or it is not readable).
async fn read_entry(ldap: &mut Ldap, dn: &str, attrs: &[&str]) -> Result<Option<RawEntry>, String> {
    let res = ldap
        .with_timeout(OP_TIMEOUT)
        .search(dn, Scope::Base, "(objectClass=*)", attrs.to_vec())
        .await
        .map_err(|e| err(&format!("read {dn}"), e))?;
    match res.success() {
        Ok((entries, _)) => Ok(entries.into_iter().next().map(|e| {
            let e = SearchEntry::construct(e);
            RawEntry {
                dn: e.dn,
                attrs: e.attrs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect(),
                bin: HashMap::new(),
            }
        })),
        // 32: no such object — a member DN that is not an entry, or a group deleted meanwhile.
        Err(ldap3::LdapError::LdapResult { result }) if result.rc == 32 => Ok(None),
        Err(e) => Err(err(&format!("read {dn}"), e)),
    }
}

/// Checks a user's directory password by binding as them: `Ok(false)` when the directory says
/// the credentials are wrong, `Err` when it cannot be asked.
pub async fn check_password(cfg: &SourceConfig, dn: &str, password: &str) -> Result<bool, String> {
    if password.is_empty() {
        // An empty password is an anonymous bind to LDAP: it would "succeed" for anyone.
        return Ok(false);
    }
    let anonymous = SourceConfig { bind_dn: None, ..cfg.clone() };
    let mut ldap = connect(&anonymous, None).await?;
    let outcome = match ldap.with_timeout(CONNECT_TIMEOUT).simple_bind(dn, password).await {
        Ok(r) if r.rc == 0 => Ok(true),
        // 49: invalid credentials (also a disabled or expired account on Active Directory)
        Ok(r) if r.rc == 49 => Ok(false),
        Ok(r) => Err(format!("the directory answered the bind with code {}: {}", r.rc, r.text)),
        Err(e) => Err(err("bind", e)),
    };
    let _ = ldap.unbind().await;
    outcome
}

/// Reads the users and the members of every rule's group.
pub async fn read(cfg: &SourceConfig, secret: Option<&str>) -> Result<Snapshot, String> {
    let mut ldap = connect(cfg, secret).await?;
    let outcome = read_with(&mut ldap, cfg).await;
    let _ = ldap.unbind().await;
    outcome
}

async fn read_with(ldap: &mut Ldap, cfg: &SourceConfig) -> Result<Snapshot, String> {
    let users =
        search_paged(ldap, &cfg.base_dn, Scope::Subtree, &cfg.user_filter, cfg.wanted_attributes(), cfg.page_size)
            .await?;
    let user_dns: HashSet<String> = users.iter().map(|u| norm_dn(&u.dn)).collect();
    let login_attr = cfg.attributes.login.to_ascii_lowercase();
    let by_login: HashMap<String, String> =
        users.iter().filter_map(|u| u.first(&login_attr).map(|l| (l.to_lowercase(), norm_dn(&u.dn)))).collect();
    let mut members = Vec::with_capacity(cfg.group_rules.len());
    for rule in &cfg.group_rules {
        let set = match cfg.kind {
            Kind::ActiveDirectory => {
                let filter = format!("(&{}(memberOf:{IN_CHAIN}:={}))", cfg.user_filter, escape_filter(&rule.group_dn));
                search_paged(ldap, &cfg.base_dn, Scope::Subtree, &filter, vec!["1.1".to_string()], cfg.page_size)
                    .await?
                    .into_iter()
                    .map(|e| norm_dn(&e.dn))
                    .collect()
            }
            Kind::OpenLdap => walk_group(ldap, &rule.group_dn, &user_dns, &by_login).await?,
        };
        members.push(set);
    }
    Ok(Snapshot { users, members })
}

/// The users in a group and in every group nested in it (breadth first, each group once).
async fn walk_group(
    ldap: &mut Ldap,
    group_dn: &str,
    user_dns: &HashSet<String>,
    by_login: &HashMap<String, String>,
) -> Result<HashSet<String>, String> {
    let mut found = HashSet::new();
    let mut seen = HashSet::from([norm_dn(group_dn)]);
    let mut queue = VecDeque::from([group_dn.to_string()]);
    while let Some(dn) = queue.pop_front() {
        let Some(group) = read_entry(ldap, &dn, &["member", "uniqueMember", "memberUid"]).await? else {
            continue;
        };
        for key in ["member", "uniquemember"] {
            for m in group.attrs.get(key).into_iter().flatten() {
                // uniqueMember may carry "#'01'B" (an optional UID) after the DN.
                let m = m.split('#').next().unwrap_or(m);
                let n = norm_dn(m);
                if user_dns.contains(&n) {
                    found.insert(n);
                } else if seen.len() < MAX_GROUPS && seen.insert(n) {
                    queue.push_back(m.to_string());
                }
            }
        }
        for uid in group.attrs.get("memberuid").into_iter().flatten() {
            if let Some(n) = by_login.get(&uid.trim().to_lowercase()) {
                found.insert(n.clone());
            }
        }
    }
    Ok(found)
}

/// An Active Directory `objectGUID` (16 bytes, the first three fields little-endian) in its
/// usual text form, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn guid_text(b: &[u8]) -> Option<String> {
    if b.len() != 16 {
        return None;
    }
    let hex = |s: &[u8]| s.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let rev = |s: &[u8]| s.iter().rev().copied().collect::<Vec<u8>>();
    Some(format!(
        "{}-{}-{}-{}-{}",
        hex(&rev(&b[0..4])),
        hex(&rev(&b[4..6])),
        hex(&rev(&b[6..8])),
        hex(&b[8..10]),
        hex(&b[10..16])
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_compare_without_case_or_spaces() {
        assert_eq!(norm_dn("CN=Ana Lima, OU=People ,DC=Example,DC=org"), "cn=ana lima,ou=people,dc=example,dc=org");
    }

    #[test]
    fn filter_values_are_escaped() {
        assert_eq!(escape_filter("cn=a*(b)\\c"), "cn=a\\2a\\28b\\29\\5cc");
    }

    #[test]
    fn guids_read_as_active_directory_shows_them() {
        let raw = [0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        assert_eq!(guid_text(&raw).unwrap(), "00112233-4455-6677-8899-aabbccddeeff");
        assert!(guid_text(&raw[..15]).is_none());
    }
}
