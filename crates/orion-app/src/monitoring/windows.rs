//! Alerts and maintenance windows as people read them, and the windows they declare.

use super::*;

impl App {
    /// The alerts whose CI or host is this asset (its name, or its short host name), newest first.
    pub async fn asset_alerts(&self, actor: &Actor, asset_id: i64, limit: i64) -> AppResult<Vec<Alert>> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let ci = found(orion_store::cmdb::get(&mut c, asset_id).await, "asset")?;
        let names = ci_names(&ci.name);
        Ok(store::ci_alerts(&mut c, &names, limit).await?.into_iter().map(Into::into).collect())
    }

    /// The maintenance windows, current and coming, that hold this asset's alerts back: those
    /// whose `ci` matcher names it.
    pub async fn asset_windows(&self, actor: &Actor, asset_id: i64) -> AppResult<Vec<MaintenanceWindow>> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        let now = self.now();
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let ci = found(orion_store::cmdb::get(&mut c, asset_id).await, "asset")?;
        let rows = windows_for_ci(&mut c, &ci.name, now).await?;
        Ok(rows.into_iter().map(|w| MaintenanceWindow::from_row(w, now)).collect())
    }

    /// Alerts newest first (staff), by status and integration.
    pub async fn list_alerts(
        &self,
        actor: &Actor,
        status: Option<&str>,
        integration: Option<i64>,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<Alert>> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        if let Some(s) = status.filter(|s| !["firing", "resolved"].contains(s)) {
            return Err(invalid("status", format!("must be firing or resolved, not {s:?}")));
        }
        let limit = crate::kernel::paging::parse_limit(limit)?;
        let before = crate::kernel::paging::parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut rows = store::list_alerts(&mut r.conn(), status, integration, before, limit + 1).await?;
        let next_cursor = crate::kernel::paging::keyset_cursor(&mut rows, limit, |a| a.id);
        Ok(Page { items: rows.into_iter().map(Into::into).collect(), next_cursor })
    }

    /// The alerts of one incident (staff), oldest first, at most 1,000.
    pub async fn ticket_alerts(&self, actor: &Actor, number: &str) -> AppResult<Vec<Alert>> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        Ok(store::ticket_alerts(&mut c, t.id, 1000).await?.into_iter().map(Into::into).collect())
    }

    /// Opens a maintenance window (staff).
    pub async fn create_window(&self, actor: &Actor, input: WindowInput) -> AppResult<MaintenanceWindow> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        let now = self.now();
        let mut errs = FieldErrors::new();
        let name = errs.check(orion_domain::error::required_text("name", input.name.as_deref().unwrap_or(""), 200));
        let reason = input.reason.as_deref().unwrap_or("").trim().to_string();
        let matchers = input.matchers.clone().unwrap_or_default();
        if matchers.is_empty() {
            errs.push("matchers", "name at least one label, `ci`, `service` or `integration` to match");
        }
        for (k, v) in &matchers {
            if k.trim().is_empty() || v.trim().is_empty() {
                errs.push(format!("matchers.{k}"), "keys and values must not be empty");
            }
        }
        let starts = match input.starts_at.as_deref() {
            None | Some("") => Some(now),
            Some(s) => errs.check(Timestamp::parse_day_or_instant("starts_at", s)).map(|t| t.0),
        };
        let ends = match input.ends_at.as_deref() {
            None | Some("") => {
                errs.push("ends_at", "is required");
                None
            }
            Some(s) => errs.check(Timestamp::parse_day_or_instant("ends_at", s)).map(|t| t.0),
        };
        if let (Some(s), Some(e)) = (starts, ends)
            && e <= s
        {
            errs.push("ends_at", "must be after the start");
        }
        if ends.is_some_and(|e| e <= now) {
            errs.push("ends_at", "must be in the future");
        }
        errs.into_result()?;
        let (Some(name), Some(starts), Some(ends)) = (name, starts, ends) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let m = serde_json::to_string(&matchers).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let id = store::insert_window(&mut c, (&name, &reason, &m), (starts, ends), actor.id.0, now).await?;
        let row = store::get_window(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(MaintenanceWindow::from_row(row, now))
    }

    /// Current and coming maintenance windows (staff).
    pub async fn list_windows(&self, actor: &Actor) -> AppResult<Vec<MaintenanceWindow>> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        let now = self.now();
        let mut r = self.db.read().await?;
        let rows = store::windows_ending_after(&mut r.conn(), now, 1000).await?;
        Ok(rows.into_iter().map(|w| MaintenanceWindow::from_row(w, now)).collect())
    }

    /// Ends a window now (staff); a future one is cancelled.
    pub async fn end_window(&self, actor: &Actor, id: i64) -> AppResult<MaintenanceWindow> {
        crate::kernel::access::require_staff(actor, "see alerts and maintenance windows")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let w = found(store::get_window(&mut c, id).await, "maintenance window")?;
        if w.ends_at > now {
            store::end_window(&mut c, id, now).await?;
        }
        let row = store::get_window(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(MaintenanceWindow::from_row(row, now))
    }
}
