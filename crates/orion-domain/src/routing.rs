//! Routing rules: what a new ticket must look like for a rule to fire (its conditions), checked
//! against the ticket's facts with no I/O; and tags, folded one way everywhere.
//!
//! Every condition that is set must hold; a condition with several values holds when any of them
//! does. A rule with no condition at all fires on every ticket (a catch-all at the end).

use crate::error::FieldError;
use crate::search::fold;
use serde::{Deserialize, Serialize};

/// The longest tag, in characters.
pub const TAG_MAX: usize = 40;

/// A tag as stored: trimmed, lower case, accents kept; letters, digits, `-`, `_`, `.` and `/`.
pub fn fold_tag(field: &str, raw: &str) -> Result<String, FieldError> {
    let t = raw.trim().to_lowercase();
    if t.is_empty() {
        return Err(FieldError::new(field, "a tag cannot be empty"));
    }
    if t.chars().count() > TAG_MAX {
        return Err(FieldError::new(field, format!("a tag is at most {TAG_MAX} characters")));
    }
    if let Some(c) = t.chars().find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))) {
        return Err(FieldError::new(
            field,
            format!("{raw:?} has {c:?}; a tag holds letters, digits, -, _, . and / (no spaces)"),
        ));
    }
    Ok(t)
}

/// Folds a list of tags with [`fold_tag`], each error named `field[i]`, duplicates dropped.
pub fn fold_tags(field: &str, raw: &[String], errs: &mut crate::FieldErrors) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        if let Some(t) = errs.check(fold_tag(&format!("{field}[{i}]"), t))
            && !tags.contains(&t)
        {
            tags.push(t);
        }
    }
    tags
}

/// A rule's conditions, as stored (JSON) and as the API takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conditions {
    /// How the ticket came in: `email`, `phone`, `portal`, `api`, `monitoring`, `walk_in`
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// The requester's address (`ceo@example.com`) or domain (`example.com`, subdomains too)
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub senders: Vec<String>,
    /// The mailbox a mailed ticket came through, by name
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mailboxes: Vec<String>,
    /// Words or phrases in the subject or the body (any case, any accent)
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<String>,
    /// Category paths; a path also matches the categories below it
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Priorities 1 (P1) to 5 (P5), as the ticket stands when the rule is reached
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priorities: Vec<u8>,
    /// The requester's department (any case)
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<String>,
    /// The requester is (true) or is not (false) a VIP
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vip: Option<bool>,
    /// Logged within (true) or outside (false) the business hours of the default calendar
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<bool>,
    /// Names or asset tags of the assets (devices, services) the ticket is about
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<String>,
}

/// What a rule does when it fires, as stored (JSON) and as the API takes them. Groups, people and
/// categories are named; they are checked when the rule is saved and found again when it fires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Actions {
    /// Route the ticket to this group
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Assign it to this agent (e-mail), a member of the ticket's group
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Set this category (path)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Set the impact, 1 (high) to 3 (low); the priority follows the matrix
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<u8>,
    /// Set the urgency, 1 (high) to 3 (low)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency: Option<u8>,
    /// Add these tags
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Restrict the ticket to this group: only its members, admins and the requester see it
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restrict_to: Option<String>,
    /// Add this internal work note
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work_note: Option<String>,
    /// Tell these agents (e-mail addresses) in the console
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
    /// Answer the requester with this reply (placeholders `{{requester.name}}`,
    /// `{{requester.first_name}}`, `{{ticket.number}}`, `{{ticket.title}}`) instead of the usual
    /// "we received your ticket" mail
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_reply: Option<String>,
}

impl Actions {
    /// Does the rule do nothing?
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What a rule looks at: the ticket as it stands when the rule is reached.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub channel: &'a str,
    /// The requester's e-mail address, in lower case
    pub sender: &'a str,
    pub mailbox: Option<&'a str>,
    /// The subject and body as [`searchable`] made them: folded once per ticket, not per rule
    pub text: &'a str,
    pub category: Option<&'a str>,
    pub priority: u8,
    /// The requester's department, folded (see [`fold`])
    pub department: Option<&'a str>,
    pub vip: bool,
    pub in_business_hours: bool,
    /// Names and asset tags of the linked assets
    pub assets: &'a [String],
}

/// Conditions made ready to check many tickets: words folded and padded with spaces, addresses
/// and departments in the form the facts come in — once, when the rules are loaded, rather than
/// for every ticket and every rule.
#[derive(Debug, Clone, Default)]
pub struct Prepared(Conditions);

/// What a word that folds to nothing (only punctuation) becomes: no ticket's text holds it.
const NEVER: &str = "\0";

impl Conditions {
    /// The conditions ready to check.
    pub fn prepare(&self) -> Prepared {
        let mut c = self.clone();
        for w in &mut c.words {
            let folded = fold_words(w);
            *w = if folded.is_empty() { NEVER.to_string() } else { format!(" {folded} ") };
        }
        for s in &mut c.senders {
            *s = s.trim().to_lowercase();
        }
        for d in &mut c.departments {
            *d = fold(d.trim());
        }
        for m in c.mailboxes.iter_mut().chain(c.assets.iter_mut()) {
            *m = m.trim().to_string();
        }
        Prepared(c)
    }

    /// Does a ticket with `facts` meet every condition that is set? (Prepares them each time: for
    /// one check; a rule list keeps them [`Prepared`].)
    pub fn hold(&self, f: &Facts<'_>) -> bool {
        self.prepare().hold(f)
    }

    /// Is no condition set (the rule fires on every ticket)?
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Prepared {
    /// Does a ticket with `facts` meet every condition that is set?
    pub fn hold(&self, f: &Facts<'_>) -> bool {
        let c = &self.0;
        let any = |list: &[String], ok: &dyn Fn(&str) -> bool| list.is_empty() || list.iter().any(|v| ok(v));
        any(&c.channels, &|ch| ch.eq_ignore_ascii_case(f.channel))
            && any(&c.senders, &|s| sender_matches(s, f.sender))
            && any(&c.mailboxes, &|m| f.mailbox.is_some_and(|b| b.trim().eq_ignore_ascii_case(m)))
            && any(&c.words, &|w| f.text.contains(w))
            && any(&c.categories, &|cat| f.category.is_some_and(|have| category_within(have, cat)))
            && (c.priorities.is_empty() || c.priorities.contains(&f.priority))
            && any(&c.departments, &|d| f.department.is_some_and(|have| have == d))
            && c.vip.is_none_or(|v| v == f.vip)
            && c.business_hours.is_none_or(|b| b == f.in_business_hours)
            && any(&c.assets, &|a| f.assets.iter().any(|have| have.eq_ignore_ascii_case(a)))
    }
}

/// A ticket's subject and body as word conditions look at them: folded words between single
/// spaces, with a space at each end.
pub fn searchable(subject: &str, body: &str) -> String {
    format!(" {} ", fold_words(&format!("{subject}\n{body}")))
}

/// The words of `text`, folded (lower case, no accents) and joined by single spaces, so that a
/// phrase matches across line breaks and punctuation.
fn fold_words(text: &str) -> String {
    fold(text).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// `p` (prepared: trimmed, lower case) is an address (matches it exactly) or a domain, with or
/// without `@` (matches the domain and its subdomains); `sender` is in lower case.
fn sender_matches(p: &str, sender: &str) -> bool {
    if p.is_empty() {
        return false;
    }
    if !p.starts_with('@') && p.contains('@') {
        return p == sender;
    }
    let domain = p.trim_start_matches('@');
    let Some((_, have)) = sender.rsplit_once('@') else { return false };
    have == domain
        || (have.len() > domain.len() && have.ends_with(domain) && have[..have.len() - domain.len()].ends_with('.'))
}

/// Is category path `have` the path `want` or below it (`Hardware / Printer` is within `Hardware`)?
fn category_within(have: &str, want: &str) -> bool {
    let norm = |p: &str| p.split('/').map(|s| s.trim().to_lowercase()).collect::<Vec<_>>();
    let (have, want) = (norm(have), norm(want));
    have.len() >= want.len() && have[..want.len()] == want[..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(text: &'a str, sender: &'a str) -> Facts<'a> {
        Facts { channel: "email", sender, text, priority: 4, ..Facts::default() }
    }

    #[test]
    fn words_match_whole_words_in_any_case_and_accent() {
        let c = Conditions { words: vec!["phishing".into(), "mot de passe expiré".into()], ..Default::default() };
        assert!(c.hold(&facts(&searchable("Suspicious mail - PHISHING?", ""), "a@x.org")));
        assert!(c.hold(&facts(&searchable("Votre MOT DE PASSE\nexpire", ""), "a@x.org")));
        assert!(
            !c.hold(&facts(&searchable("antiphishing training", ""), "a@x.org")),
            "a word inside another is no match"
        );
        assert!(!c.hold(&facts(&searchable("printer jam", ""), "a@x.org")));
    }

    #[test]
    fn senders_match_an_address_or_a_domain_and_its_subdomains() {
        let by = |s: &str| Conditions { senders: vec![s.into()], ..Default::default() };
        assert!(by("CEO@Example.com").hold(&facts(&searchable("x", ""), "ceo@example.com")));
        assert!(!by("ceo@example.com").hold(&facts(&searchable("x", ""), "cfo@example.com")));
        assert!(by("example.com").hold(&facts(&searchable("x", ""), "a@mail.example.com")));
        assert!(by("@example.com").hold(&facts(&searchable("x", ""), "a@example.com")));
        assert!(!by("example.com").hold(&facts(&searchable("x", ""), "a@badexample.com")));
    }

    #[test]
    fn every_set_condition_must_hold_and_empty_rules_fire_always() {
        let c = Conditions {
            channels: vec!["email".into()],
            categories: vec!["Security".into()],
            vip: Some(false),
            ..Default::default()
        };
        let x = searchable("x", "");
        let mut f = facts(&x, "a@x.org");
        assert!(!c.hold(&f), "no category");
        f.category = Some("Security / Phishing");
        assert!(c.hold(&f));
        f.vip = true;
        assert!(!c.hold(&f));
        assert!(Conditions::default().hold(&f));
        assert!(Conditions::default().is_empty());
        assert!(!c.is_empty());
    }

    #[test]
    fn business_hours_priority_department_and_assets() {
        let c = Conditions {
            business_hours: Some(false),
            priorities: vec![1, 2],
            departments: vec!["Finance".into()],
            assets: vec!["SRV-ERP".into()],
            ..Default::default()
        };
        let assets = vec!["srv-erp".to_string()];
        let x = searchable("x", "");
        let f = Facts {
            priority: 2,
            department: Some("finance"), // folded, as the facts come
            in_business_hours: false,
            assets: &assets,
            ..facts(&x, "a@x.org")
        };
        assert!(c.hold(&f));
        assert!(!c.hold(&Facts { in_business_hours: true, ..f.clone() }));
        assert!(!c.hold(&Facts { priority: 3, ..f.clone() }));
        assert!(!c.hold(&Facts { assets: &[], ..f }));
    }

    #[test]
    fn a_word_of_punctuation_only_never_matches() {
        let c = Conditions { words: vec!["!!!".into()], ..Default::default() };
        assert!(!c.hold(&facts(&searchable("", ""), "a@x.org")));
        assert!(!c.hold(&facts(&searchable("!!! alarm", ""), "a@x.org")));
    }

    #[test]
    fn tags_are_folded_and_checked() {
        assert_eq!(fold_tag("tag", "  Phishing ").unwrap(), "phishing");
        assert_eq!(fold_tag("tag", "vpn/ipsec").unwrap(), "vpn/ipsec");
        assert!(fold_tag("tag", "two words").unwrap_err().message.contains("no spaces"));
        assert!(fold_tag("tag", "").is_err());
        assert!(fold_tag("tag", &"x".repeat(41)).is_err());
    }
}
