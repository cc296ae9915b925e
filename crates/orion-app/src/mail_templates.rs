//! The mail templates as admins edit them in the console: each one's text (the edited one, else
//! this node's file or the built-in one), a preview with sample data, saving (checked first, so a
//! broken template never reaches a requester) and going back to the default.

use crate::kernel::access::require_admin;
use crate::kernel::error::invalid;
use crate::sending::{MAIL_TEMPLATES as KEY, edited_templates as load};
use crate::sending::{TEMPLATE_NAMES, Templates, sample};
use crate::{App, AppError, AppResult};
use orion_domain::Actor;
use orion_store::settings;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One mail template.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MailTemplate {
    /// `received`, `public_reply`, `state_changed`, `resolved`, `password_reset`
    pub name: String,
    /// What the mail is, in words
    pub label: String,
    /// The first line is `Subject: …`, then an empty line, then the text (minijinja syntax)
    pub source: String,
    /// Edited in the console (false: this node's file or the built-in text)
    pub edited: bool,
}

/// `PUT /api/v1/settings/mail-templates/{name}`, `POST …/preview`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailTemplateInput {
    #[schema(min_length = 1)]
    pub source: String,
}

/// A template rendered with sample data.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MailPreview {
    pub subject: String,
    pub text: String,
}

fn known(name: &str) -> AppResult<&'static str> {
    TEMPLATE_NAMES.iter().find(|(n, _)| *n == name).map(|(_, label)| *label).ok_or(AppError::NotFound("mail template"))
}

/// Renders with the sample data; a mistake is a field error on `source`, with its line.
fn try_render(name: &str, source: &str) -> AppResult<MailPreview> {
    if source.len() > 64 * 1024 {
        return Err(invalid("source", "at most 64 KiB"));
    }
    let (subject, text) = Templates::render_source(name, source, &sample()).map_err(|e| invalid("source", e))?;
    if subject.is_empty() {
        return Err(invalid("source", "the subject line is empty"));
    }
    Ok(MailPreview { subject, text })
}

impl App {
    /// Every mail template with the text in use (admins).
    pub async fn mail_templates(&self, actor: &Actor) -> AppResult<Vec<MailTemplate>> {
        require_admin(actor, "read mail templates")?;
        let mut r = self.db.read().await?;
        let edited = load(&mut r.conn()).await?;
        Ok(TEMPLATE_NAMES
            .iter()
            .map(|(name, label)| MailTemplate {
                name: name.to_string(),
                label: label.to_string(),
                source: edited.get(*name).cloned().or_else(|| self.mail_rt.templates.source(name)).unwrap_or_default(),
                edited: edited.contains_key(*name),
            })
            .collect())
    }

    /// What `source` would send, with sample data; writes nothing (admins).
    pub async fn preview_mail_template(&self, actor: &Actor, name: &str, source: &str) -> AppResult<MailPreview> {
        require_admin(actor, "preview mail templates")?;
        known(name)?;
        try_render(name, source)
    }

    /// Saves an edited template for every node, after trying it with sample data (admins).
    pub async fn put_mail_template(&self, actor: &Actor, name: &str, source: &str) -> AppResult<MailTemplate> {
        require_admin(actor, "change mail templates")?;
        let label = known(name)?;
        try_render(name, source)?;
        let source = source.replace("\r\n", "\n");
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut edited = load(&mut c).await?;
        edited.insert(name.to_string(), source.clone());
        let json = serde_json::to_string(&edited).map_err(|e| AppError::Internal(e.to_string()))?;
        settings::put(&mut c, KEY, &json, self.now()).await?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(MailTemplate { name: name.to_string(), label: label.to_string(), source, edited: true })
    }

    /// Goes back to this node's file or the built-in text (admins).
    pub async fn reset_mail_template(&self, actor: &Actor, name: &str) -> AppResult<MailTemplate> {
        require_admin(actor, "change mail templates")?;
        let label = known(name)?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut edited = load(&mut c).await?;
        if edited.remove(name).is_some() {
            let json = serde_json::to_string(&edited).map_err(|e| AppError::Internal(e.to_string()))?;
            settings::put(&mut c, KEY, &json, self.now()).await?;
        }
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(MailTemplate {
            name: name.to_string(),
            label: label.to_string(),
            source: self.mail_rt.templates.source(name).unwrap_or_default(),
            edited: false,
        })
    }
}
