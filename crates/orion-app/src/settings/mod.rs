//! Settings: the priority matrix, and the typed settings every node caches (`cache`): groups,
//! SLA policies (`sla`), mail (`mail`), sign-in rules and webhook subscriptions.

pub(crate) mod cache;
pub mod mail;
pub(crate) mod sla;
pub mod surveys;

pub(crate) use cache::{Config, ConfigCache, service_desk};

use crate::{App, AppError, AppResult, PriorityMatrixDoc};
use orion_domain::{Actor, PriorityMatrix};
use orion_store::{Conn, settings};

const PRIORITY_MATRIX: &str = "priority_matrix";

/// The matrix in force (the ITIL default until an admin changes it).
pub(crate) async fn priority_matrix(conn: &mut Conn<'_>) -> AppResult<PriorityMatrix> {
    match settings::get(conn, PRIORITY_MATRIX).await? {
        None => Ok(PriorityMatrix::default()),
        Some(json) => {
            let doc: PriorityMatrixDoc =
                serde_json::from_str(&json).map_err(|e| AppError::Internal(format!("stored priority matrix: {e}")))?;
            Ok(PriorityMatrix::from_rows("rows", &doc.rows)?)
        }
    }
}

impl App {
    pub async fn get_priority_matrix(&self, actor: &Actor) -> AppResult<PriorityMatrixDoc> {
        if !actor.can_read_directory() {
            return Err(AppError::Forbidden("only staff can read the priority matrix".into()));
        }
        let mut r = self.db.read().await?;
        Ok(PriorityMatrixDoc { rows: priority_matrix(&mut r.conn()).await?.rows() })
    }

    /// Replaces the matrix; it applies to new tickets and to later impact/urgency changes.
    pub async fn set_priority_matrix(&self, actor: &Actor, doc: PriorityMatrixDoc) -> AppResult<PriorityMatrixDoc> {
        if !actor.can_administer() {
            return Err(AppError::Forbidden("only admins can change the priority matrix".into()));
        }
        let m = PriorityMatrix::from_rows("rows", &doc.rows)?;
        let stored = PriorityMatrixDoc { rows: m.rows() };
        let json = serde_json::to_string(&stored).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        settings::put(&mut tx.conn(), PRIORITY_MATRIX, &json, self.now()).await?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(stored)
    }
}
