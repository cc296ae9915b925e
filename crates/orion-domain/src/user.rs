//! People and teams: roles, e-mail addresses, support tiers.

use crate::error::FieldError;
use std::fmt;

/// What a user may do in Orion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Reports problems and asks for things; sees only their own tickets.
    Requester,
    /// Works tickets (L1, L2, L3 or vendor staff).
    Agent,
    /// Runs a team: everything an agent does, plus oversight.
    Lead,
    /// Manages users, groups, categories and settings.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Requester, Role::Agent, Role::Lead, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Agent => "agent",
            Role::Lead => "lead",
            Role::Admin => "admin",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| FieldError::new(field, "must be one of requester, agent, lead, admin"))
    }

    /// Agents, leads and admins work tickets; requesters do not.
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Requester)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A syntactically plausible e-mail address, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain.tld` shapes; rejects spaces, control characters and
    /// anything longer than RFC 5321 allows.
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        let err = |m: &str| Err(FieldError::new(field, m));
        if s.is_empty() {
            return err("must not be empty");
        }
        if s.len() > 254 {
            return err("must be at most 254 characters");
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>') {
            return err("is not a valid e-mail address");
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return err("is not a valid e-mail address");
        };
        if local.is_empty()
            || local.len() > 64
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
            || domain.contains('@')
        {
            return err("is not a valid e-mail address");
        }
        Ok(Self(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`, used as a display name when none is known.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A support tier: 1 service desk, 2 specialists, 3 experts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tier(u8);

impl Tier {
    pub fn parse(field: &str, n: i64) -> Result<Self, FieldError> {
        match n {
            1..=3 => Ok(Self(n as u8)),
            _ => Err(FieldError::new(field, "must be 1, 2 or 3")),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(Email::parse("e", " Ana@Example.COM ").unwrap().as_str(), "ana@example.com");
        for bad in ["", "ana", "ana@", "@example.com", "ana@example", "a b@example.com", "ana@.com", "ana@ex..com"] {
            assert!(Email::parse("e", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse("role", r.as_str()).unwrap(), r);
        }
        assert_eq!(Role::parse("role", "root").unwrap_err().field, "role");
        assert!(!Role::Requester.is_staff());
        assert!(Role::Lead.is_staff());
    }

    #[test]
    fn tiers_are_one_to_three() {
        assert!(Tier::parse("tier", 0).is_err());
        assert!(Tier::parse("tier", 4).is_err());
        assert_eq!(Tier::parse("tier", 2).unwrap().get(), 2);
    }
}
