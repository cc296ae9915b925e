//! How satisfaction surveys are sent: on or off, the share of resolved tickets asked, the delay,
//! how long a link works, how often one person is asked, when a comment is required and what
//! counts as a low score (which opens a follow-up task for the lead).

use crate::kernel::access::require_admin;
use crate::{App, AppError, AppResult};
use orion_domain::{Actor, FieldErrors};
use orion_store::{Conn, settings};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const KEY: &str = "survey_settings";

/// `GET /api/v1/settings/surveys`, `PUT …`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveySettings {
    /// Ask requesters "How did we do?" after a resolution
    pub enabled: bool,
    /// The share of resolved tickets asked, 0–100 (%)
    #[schema(minimum = 0, maximum = 100)]
    pub sample_percent: i64,
    /// Minutes after the resolution the survey goes out (a ticket reopened meanwhile is not asked), 0–10080
    #[schema(minimum = 0, maximum = 10080)]
    pub delay_minutes: i64,
    /// Days the link works, 1–90
    #[schema(minimum = 1, maximum = 90)]
    pub expiry_days: i64,
    /// Days one person is not asked again after a survey, 0–365
    #[schema(minimum = 0, maximum = 365)]
    pub cooldown_days: i64,
    /// A comment is required for a score below this, 1–6 (1: never required, 6: always)
    #[schema(minimum = 1, maximum = 6)]
    pub comment_required_below: i64,
    /// A score at or below this opens a follow-up task for the group's lead, 0–5 (0: never)
    #[schema(minimum = 0, maximum = 5)]
    pub follow_up_at_or_below: i64,
}

impl Default for SurveySettings {
    fn default() -> Self {
        SurveySettings {
            enabled: false,
            sample_percent: 100,
            delay_minutes: 60,
            expiry_days: 14,
            cooldown_days: 14,
            comment_required_below: 3,
            follow_up_at_or_below: 2,
        }
    }
}

impl SurveySettings {
    fn check(&self) -> AppResult<()> {
        let mut errs = FieldErrors::new();
        for (field, v, range) in [
            ("sample_percent", self.sample_percent, 0..=100),
            ("delay_minutes", self.delay_minutes, 0..=10_080),
            ("expiry_days", self.expiry_days, 1..=90),
            ("cooldown_days", self.cooldown_days, 0..=365),
            ("comment_required_below", self.comment_required_below, 1..=6),
            ("follow_up_at_or_below", self.follow_up_at_or_below, 0..=5),
        ] {
            if !range.contains(&v) {
                errs.push(field, format!("must be a whole number from {} to {}", range.start(), range.end()));
            }
        }
        Ok(errs.into_result()?)
    }
}

/// The settings in force (the defaults until an admin saves them).
pub(crate) async fn load(c: &mut Conn<'_>) -> AppResult<SurveySettings> {
    match settings::get(c, KEY).await? {
        Some(v) => serde_json::from_str(&v).map_err(|e| AppError::Internal(format!("survey settings: {e}"))),
        None => Ok(SurveySettings::default()),
    }
}

impl App {
    pub async fn survey_settings(&self, actor: &Actor) -> AppResult<SurveySettings> {
        crate::kernel::access::require_staff(actor, "read the survey settings")?;
        let mut r = self.db.read().await?;
        load(&mut r.conn()).await
    }

    pub async fn set_survey_settings(&self, actor: &Actor, s: SurveySettings) -> AppResult<SurveySettings> {
        require_admin(actor, "change the survey settings")?;
        s.check()?;
        let mut tx = self.db.begin().await?;
        let json = serde_json::to_string(&s).map_err(|e| AppError::Internal(e.to_string()))?;
        settings::put(&mut tx.conn(), KEY, &json, self.now()).await?;
        self.commit(tx).await?;
        Ok(s)
    }
}
