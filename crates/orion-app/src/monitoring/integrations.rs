//! Monitoring integrations: their tokens, severity maps and routing.

use super::*;

impl App {
    /// Registers a monitoring system (admins); the token is in the answer, once.
    pub async fn create_integration(&self, actor: &Actor, input: IntegrationInput) -> AppResult<IntegrationWithToken> {
        crate::kernel::access::require_admin(actor, "add integrations")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let (valid, kind) = self.integration_fields(&mut c, &input, None, now).await?;
        let token = new_token(TOKEN_PREFIX);
        let hash = hash_token(&token);
        let n = NewIntegration {
            name: &valid.name,
            kind: kind.as_str(),
            token_hash: &hash,
            group_id: valid.group_id,
            requester_id: valid.requester_id,
            config: &valid.config,
            enabled: valid.enabled,
        };
        let id = match store::insert_integration(&mut c, &n, now).await {
            Err(orion_store::StoreError::Duplicate) => {
                return Err(invalid("name", format!("an integration named {:?} exists", valid.name)));
            }
            other => other?,
        };
        let row = store::get_integration(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(IntegrationWithToken { integration: row.into(), token })
    }

    /// Changes an integration's settings (admins); fields left out keep their value.
    pub async fn update_integration(&self, actor: &Actor, id: i64, input: IntegrationInput) -> AppResult<Integration> {
        crate::kernel::access::require_admin(actor, "change integrations")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let current = found(store::get_integration(&mut c, id).await, "integration")?;
        if input.kind.as_deref().is_some_and(|k| k != current.kind) {
            return Err(invalid("kind", "the kind of an integration cannot change; add a new one"));
        }
        let (valid, kind) = self.integration_fields(&mut c, &input, Some(&current), now).await?;
        let n = NewIntegration {
            name: &valid.name,
            kind: kind.as_str(),
            token_hash: "",
            group_id: valid.group_id,
            requester_id: valid.requester_id,
            config: &valid.config,
            enabled: valid.enabled,
        };
        match store::update_integration(&mut c, id, &n, now).await {
            Err(orion_store::StoreError::Duplicate) => {
                return Err(invalid("name", format!("an integration named {:?} exists", valid.name)));
            }
            other => other?,
        }
        let row = store::get_integration(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(row.into())
    }

    /// Replaces an integration's token (admins); the old one stops working at once.
    pub async fn rotate_integration_token(&self, actor: &Actor, id: i64) -> AppResult<IntegrationWithToken> {
        crate::kernel::access::require_admin(actor, "replace integration tokens")?;
        let now = self.now();
        let token = new_token(TOKEN_PREFIX);
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        found(store::get_integration(&mut c, id).await, "integration")?;
        store::set_integration_token(&mut c, id, &hash_token(&token), now).await?;
        let row = store::get_integration(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(IntegrationWithToken { integration: row.into(), token })
    }

    /// One integration (admins).
    pub async fn get_integration(&self, actor: &Actor, id: i64) -> AppResult<Integration> {
        crate::kernel::access::require_admin(actor, "see integrations")?;
        let mut r = self.db.read().await?;
        Ok(found(store::get_integration(&mut r.conn(), id).await, "integration")?.into())
    }

    pub async fn list_integrations(&self, actor: &Actor) -> AppResult<Vec<Integration>> {
        crate::kernel::access::require_admin(actor, "see integrations")?;
        let mut r = self.db.read().await?;
        Ok(store::list_integrations(&mut r.conn()).await?.into_iter().map(Into::into).collect())
    }

    async fn integration_fields(
        &self,
        c: &mut Conn<'_>,
        input: &IntegrationInput,
        current: Option<&IntegrationRow>,
        now: i64,
    ) -> AppResult<(ValidIntegration, Format)> {
        let mut errs = FieldErrors::new();
        let name = match (input.name.as_deref(), current) {
            (Some(n), _) => errs.check(orion_domain::error::required_text("name", n, 100)),
            (None, Some(cur)) => Some(cur.name.clone()),
            (None, None) => {
                errs.push("name", "is required");
                None
            }
        };
        let kind = match (input.kind.as_deref(), current) {
            (Some(k), _) => errs.check(Format::parse("kind", k)),
            (None, Some(cur)) => Format::parse("kind", &cur.kind).ok(),
            (None, None) => {
                errs.push("kind", "is required: alertmanager, grafana, zabbix or webhook");
                None
            }
        };
        let settings = match (&input.settings, current) {
            (Some(s), _) => s.clone(),
            (None, Some(cur)) => serde_json::from_str(&cur.config).unwrap_or_default(),
            (None, None) => AlertSettings::default(),
        };
        settings.check(&mut errs);
        if let Some(path) = settings.category.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            match categories::find_by_path(c, path).await? {
                Some(cat) if cat.active => {}
                _ => errs.push("settings.category", format!("no active category {path:?}")),
            }
        }
        let group_id =
            owning_group(c, input.assignment_group.as_deref(), current.map(|i| i.group_id), &mut errs).await?;
        let requester_id = match (input.requester.as_deref(), current) {
            (Some(e), _) => match orion_domain::Email::parse("requester", e) {
                Err(e) => {
                    errs.push(e.field, e.message);
                    None
                }
                Ok(email) => match users::find_by_email(c, email.as_str()).await? {
                    Some(u) if u.active => Some(u.id),
                    _ => {
                        errs.push("requester", format!("no active user {email}"));
                        None
                    }
                },
            },
            (None, Some(cur)) => Some(cur.requester_id),
            (None, None) => match &name {
                Some(n) => {
                    let slug: String = n
                        .to_lowercase()
                        .chars()
                        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
                        .collect::<String>()
                        .trim_matches('-')
                        .to_string();
                    let email = format!("monitoring-{slug}@orion.invalid");
                    match users::find_by_email(c, &email).await? {
                        Some(u) => Some(u.id),
                        None => Some(users::insert_requester(c, &email, &format!("Monitoring: {n}"), now).await?),
                    }
                }
                None => None,
            },
        };
        errs.into_result()?;
        let (Some(name), Some(kind), Some(group_id), Some(requester_id)) = (name, kind, group_id, requester_id) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let enabled = input.enabled.unwrap_or(current.is_none_or(|c| c.enabled));
        let config = serde_json::to_string(&settings).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok((ValidIntegration { name, group_id, requester_id, config, enabled }, kind))
    }
}
