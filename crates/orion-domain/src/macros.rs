//! Macros: a saved reply with placeholders and the field changes an agent applies to a ticket in
//! one step. This module checks a macro's text and changes and fills the placeholders; the
//! application layer applies them through the ticket commands.

use crate::error::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};

/// The placeholders a reply may hold, with what each stands for (shown in the editor).
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("requester.name", "the requester's full name"),
    ("requester.first_name", "the requester's first name"),
    ("ticket.number", "the ticket's number"),
    ("ticket.title", "the ticket's title"),
    ("agent.name", "your full name"),
    ("agent.first_name", "your first name"),
    ("kb:KB0000042", "a link to that knowledge article"),
];

/// One piece of a reply: text, or a placeholder to fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    /// `requester.name`, …
    Field(&'a str),
    /// `kb:KB0000042`: the article's number
    Article(&'a str),
}

/// Splits a reply into text and placeholders (`{{ requester.name }}`, `{{kb:KB0000042}}`); an
/// unknown placeholder or one left open is an error naming it.
pub fn parse<'a>(field: &str, text: &'a str) -> Result<Vec<Piece<'a>>, FieldError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(FieldError::new(field, "a placeholder opened with {{ is not closed with }}"));
        };
        let name = after[..close].trim();
        if let Some(number) = name.strip_prefix("kb:") {
            let number = number.trim();
            if !is_article_number(number) {
                return Err(FieldError::new(
                    field,
                    format!(
                        "{{{{kb:{number}}}}} does not name an article: write its number, e.g. {{{{kb:KB0000042}}}}"
                    ),
                ));
            }
            out.push(Piece::Article(number));
        } else if PLACEHOLDERS.iter().any(|(p, _)| *p == name) {
            out.push(Piece::Field(name));
        } else {
            let known: Vec<&str> = PLACEHOLDERS.iter().map(|(p, _)| *p).filter(|p| !p.starts_with("kb:")).collect();
            return Err(FieldError::new(
                field,
                format!("{{{{{name}}}}} is not a placeholder; use one of {}, or kb:<article number>", known.join(", ")),
            ));
        }
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

fn is_article_number(s: &str) -> bool {
    s.len() > 2 && s[..2].eq_ignore_ascii_case("KB") && s[2..].chars().all(|c| c.is_ascii_digit())
}

/// The article numbers a reply links to, upper-cased, each once.
pub fn articles(pieces: &[Piece<'_>]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for p in pieces {
        if let Piece::Article(n) = p {
            let n = n.to_ascii_uppercase();
            if !v.contains(&n) {
                v.push(n);
            }
        }
    }
    v
}

/// Fills a parsed reply: `field` gives each placeholder's value, `article` each article's text.
pub fn fill(pieces: &[Piece<'_>], field: impl Fn(&str) -> String, article: impl Fn(&str) -> String) -> String {
    let mut s = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => s.push_str(t),
            Piece::Field(f) => s.push_str(&field(f)),
            Piece::Article(n) => s.push_str(&article(&n.to_ascii_uppercase())),
        }
    }
    s
}

/// What the placeholders stand for on one ticket (`agent` is empty where no agent wrote the text).
pub struct Values<'a> {
    pub requester: &'a str,
    pub number: &'a str,
    pub title: &'a str,
    pub agent: &'a str,
}

impl Values<'_> {
    /// The value of a placeholder [`parse`] accepted (`requester.name`, …).
    pub fn field(&self, name: &str) -> &str {
        match name {
            "requester.name" => self.requester,
            "requester.first_name" => first_name(self.requester),
            "ticket.number" => self.number,
            "ticket.title" => self.title,
            "agent.name" => self.agent,
            "agent.first_name" => first_name(self.agent),
            _ => "",
        }
    }
}

/// A person's first name: the first word of their name.
pub fn first_name(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}

/// What a macro changes besides its reply, as stored (JSON) and as the API takes it. Every field
/// is optional; the names are those of the ticket's own fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Changes {
    /// `in_progress`, `pending` (with `pending_reason`) or `resolved` (with `resolution_code`)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `user`, `vendor` or `change`, for `state: pending`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<String>,
    /// For `state: resolved`: `fixed`, `workaround`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_code: Option<String>,
    /// Move the ticket to this group (by name; same tier or lower)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignment_group: Option<String>,
    /// Assign the ticket to whoever applies the macro
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub assign_to_me: bool,
    /// Category path
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Tags to add
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Changes {
    /// Checks the parts that need no lookup: states a macro may set, a reason only with pending,
    /// a code only with resolved, the tags' spelling. Tags come back folded.
    pub fn check(&mut self, errs: &mut FieldErrors) {
        use crate::ticket::{PendingReason, ResolutionCode, State};
        match self.state.as_deref().map(|s| State::parse("changes.state", s)) {
            None => {}
            Some(Err(e)) => errs.push(e.field, e.message),
            Some(Ok(State::InProgress | State::Pending | State::Resolved)) => {}
            Some(Ok(s)) => errs
                .push("changes.state", format!("a macro can set in_progress, pending or resolved, not {}", s.as_str())),
        }
        let state = self.state.as_deref();
        match (&self.pending_reason, state) {
            (Some(r), Some("pending")) => {
                errs.check(PendingReason::parse("changes.pending_reason", r));
            }
            (Some(_), _) => {
                errs.push("changes.pending_reason", "only a macro that sets pending says what it waits for")
            }
            (None, Some("pending")) => {
                errs.push("changes.pending_reason", "say what the ticket waits for: user, vendor or change")
            }
            _ => {}
        }
        match (&self.resolution_code, state) {
            (Some(r), Some("resolved")) => {
                errs.check(ResolutionCode::parse("changes.resolution_code", r));
            }
            (Some(_), _) => errs.push("changes.resolution_code", "only a macro that resolves has a resolution code"),
            (None, Some("resolved")) => errs.push("changes.resolution_code", "say how the ticket was resolved"),
            _ => {}
        }
        self.tags = crate::routing::fold_tags("changes.tags", &self.tags, errs);
        if self.category.as_deref().is_some_and(|c| c.trim().is_empty()) {
            errs.push("changes.category", "name a category, or leave it out");
        }
        if self.assignment_group.as_deref().is_some_and(|g| g.trim().is_empty()) {
            errs.push("changes.assignment_group", "name a group, or leave it out");
        }
    }

    /// Does the macro change anything?
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }

    /// What it changes, in words ("set pending (waiting for user), tag vpn").
    pub fn describe(&self) -> Vec<String> {
        let mut v = Vec::new();
        match self.state.as_deref() {
            Some("pending") => {
                v.push(format!("set pending (waiting for {})", self.pending_reason.as_deref().unwrap_or("?")))
            }
            Some("resolved") => {
                v.push(format!("resolve ({})", self.resolution_code.as_deref().unwrap_or("?").replace('_', " ")))
            }
            Some(s) => v.push(format!("set {}", s.replace('_', " "))),
            None => {}
        }
        if let Some(g) = &self.assignment_group {
            v.push(format!("move to {g}"));
        }
        if self.assign_to_me {
            v.push("assign to me".to_string());
        }
        if let Some(c) = &self.category {
            v.push(format!("set category {c}"));
        }
        if !self.tags.is_empty() {
            v.push(format!("tag {}", self.tags.join(", ")));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_and_unknown_ones_are_named() {
        let p = parse("reply", "Hello {{ requester.first_name }}, see {{kb:kb0000042}} ({{ticket.number}}).").unwrap();
        assert_eq!(articles(&p), vec!["KB0000042"]);
        let s = fill(
            &p,
            |f| match f {
                "requester.first_name" => "Ada".into(),
                "ticket.number" => "INC0000007".into(),
                _ => "?".into(),
            },
            |n| format!("<{n}>"),
        );
        assert_eq!(s, "Hello Ada, see <KB0000042> (INC0000007).");
        let e = parse("reply", "Hi {{requester.surname}}").unwrap_err();
        assert_eq!(e.field, "reply");
        assert!(e.message.contains("requester.surname"), "{}", e.message);
        assert!(parse("reply", "Hi {{requester.name").is_err());
        assert!(parse("reply", "{{kb:42}}").is_err());
        assert_eq!(parse("reply", "no placeholders").unwrap(), vec![Piece::Text("no placeholders")]);
    }

    #[test]
    fn changes_are_checked_as_a_whole() {
        let mut errs = FieldErrors::new();
        let mut c = Changes { state: Some("pending".into()), ..Default::default() };
        c.check(&mut errs);
        assert!(errs.into_result().unwrap_err().iter().any(|e| e.field == "changes.pending_reason"));

        let mut errs = FieldErrors::new();
        let mut c =
            Changes { state: Some("closed".into()), resolution_code: Some("fixed".into()), ..Default::default() };
        c.check(&mut errs);
        let fields: Vec<String> = errs.into_result().unwrap_err().iter().map(|e| e.field.clone()).collect();
        assert!(fields.contains(&"changes.state".to_string()), "{fields:?}");
        assert!(fields.contains(&"changes.resolution_code".to_string()), "{fields:?}");

        let mut errs = FieldErrors::new();
        let mut c = Changes {
            state: Some("resolved".into()),
            resolution_code: Some("fixed".into()),
            tags: vec!["VPN".into(), "vpn".into()],
            ..Default::default()
        };
        c.check(&mut errs);
        assert!(errs.into_result().is_ok());
        assert_eq!(c.tags, vec!["vpn"]);
        assert_eq!(c.describe(), vec!["resolve (fixed)", "tag vpn"]);
    }
}
