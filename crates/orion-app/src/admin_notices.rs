//! What an admin should know on every console page: configuration that leaves people without a
//! feature (password reset by mail), and background work that keeps failing (a mailbox that has
//! not polled for a quarter of an hour, a directory source whose last run failed). People who
//! cannot fix these never see them.

use crate::{App, AppResult};
use orion_domain::Actor;

/// A mailbox failing for longer than this is worth a banner.
const MAILBOX_FAILING_MS: i64 = 15 * 60_000;

impl App {
    /// The notices for an admin, in sentences (empty for anyone else).
    pub async fn admin_notices(&self, actor: &Actor) -> AppResult<Vec<String>> {
        if !actor.can_administer() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mail = self.mail_settings().await?;
        if mail.sender().is_none() || mail.portal_url.is_none() {
            out.push(
                "Password reset by e-mail is off: people who forget their password are told to ask the service \
                 desk. Set a sender address and the portal URL under Admin → Mail to turn it on."
                    .to_string(),
            );
        }
        let now = self.now();
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        for m in orion_store::mailbox::list(&mut c).await? {
            let since = m.last_ok_at.unwrap_or(m.created_at);
            if m.enabled
                && now - since > MAILBOX_FAILING_MS
                && let Some(e) = &m.last_error
            {
                let minutes = (now - since) / 60_000;
                out.push(format!("Mailbox \u{201c}{}\u{201d} has not been read for {minutes} minutes: {e}", m.name));
            }
        }
        for s in orion_store::identity::list_sources(&mut c).await? {
            if s.enabled
                && let Some(e) = &s.last_error
            {
                out.push(format!("Directory source \u{201c}{}\u{201d} failed its last run: {e}", s.name));
            }
        }
        Ok(out)
    }
}
