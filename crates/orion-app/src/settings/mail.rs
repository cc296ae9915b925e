//! How Orion takes and sends mail, as typed settings (cached with the others).

use crate::kernel::error::{AppError, AppResult};
use orion_store::{Conn, settings};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(crate) const MAIL_SETTINGS: &str = "mail";

/// The notifications a requester can get, each with a template of the same name.
pub const NOTICES: &[&str] = &["received", "public_reply", "state_changed", "resolved"];

/// A list of mail notices.
pub fn mail_notice_list() -> utoipa::openapi::schema::Schema {
    let allowed: Vec<serde_json::Value> = NOTICES.iter().map(|v| (*v).into()).collect();
    let notice = utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(allowed))
        .build();
    utoipa::openapi::schema::Schema::Array(crate::api_schema::array_of(notice, None, None).build())
}

/// How Orion treats inbound mail (`GET/PUT /api/v1/settings/mail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// The helpdesk addresses: the SMTP/LMTP listener accepts mail for these only (empty: any),
    /// and mail *from* one of them is a loop
    pub addresses: Vec<String>,
    /// `create` (default): an unknown sender becomes a requester; `quarantine`: the message waits for an admin
    pub unknown_senders: String,
    /// A reply from someone who is neither the requester nor staff: `internal_note` (default, for
    /// review) or `new_ticket`
    pub non_participant_replies: String,
    /// Larger messages are quarantined (default 25 MiB)
    pub max_message_bytes: i64,
    /// The address Orion's mail comes from (default: the first helpdesk address). Without one,
    /// Orion sends no mail.
    pub from_address: Option<String>,
    /// The display name on Orion's mail
    pub from_name: String,
    /// Which mails go to requesters: `received`, `public_reply`, `state_changed`, `resolved`
    #[schema(schema_with = mail_notice_list)]
    pub notify: Vec<String>,
    /// At most this many automatic mails to one address per hour; more are suppressed (logged)
    #[schema(minimum = 0, maximum = 10000)]
    pub auto_reply_limit_per_hour: i64,
    /// The self-service portal's address, for links in mail (e.g. `https://help.example.com`)
    pub portal_url: Option<String>,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            addresses: Vec::new(),
            unknown_senders: "create".into(),
            non_participant_replies: "internal_note".into(),
            max_message_bytes: 25 * 1024 * 1024,
            from_address: None,
            from_name: "IT Service Desk".into(),
            notify: NOTICES.iter().map(|e| e.to_string()).collect(),
            auto_reply_limit_per_hour: 10,
            portal_url: None,
        }
    }
}

impl MailSettings {
    /// One of the helpdesk addresses (mail from it is a loop; mail to it is not sent).
    pub(crate) fn is_own(&self, address: &str) -> bool {
        self.addresses.iter().any(|a| a.eq_ignore_ascii_case(address))
    }

    /// The address Orion sends from, if it sends at all.
    pub fn sender(&self) -> Option<&str> {
        self.from_address.as_deref().or(self.addresses.first().map(String::as_str))
    }

    /// Whether mail for `event` goes out.
    pub fn sends(&self, event: &str) -> bool {
        self.sender().is_some() && self.notify.iter().any(|e| e == event)
    }

    /// Does the listener take mail for `rcpt`?
    pub fn accepts(&self, rcpt: &str) -> bool {
        self.addresses.is_empty() || self.is_own(rcpt)
    }
}

pub(crate) async fn load_settings(c: &mut Conn<'_>) -> AppResult<MailSettings> {
    match settings::get(c, MAIL_SETTINGS).await? {
        Some(json) => serde_json::from_str(&json).map_err(|e| AppError::Internal(format!("stored mail settings: {e}"))),
        None => Ok(MailSettings::default()),
    }
}
