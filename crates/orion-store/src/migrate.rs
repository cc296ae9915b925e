//! Embedded migrations for both engines, same numbers, same meaning.

use crate::{Db, Result, StoreError, with_conn};

/// One schema step, in its SQLite and PostgreSQL spelling.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

macro_rules! migration {
    ($v:literal, $name:literal) => {
        Migration {
            version: $v,
            name: $name,
            sqlite: include_str!(concat!("../migrations/sqlite/", $name, ".sql")),
            postgres: include_str!(concat!("../migrations/postgres/", $name, ".sql")),
        }
    };
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_initial"),
    migration!(2, "0002_jobs"),
    migration!(3, "0003_sla"),
    migration!(4, "0004_user_department"),
    migration!(5, "0005_sla_rules"),
    migration!(6, "0006_mail"),
    migration!(7, "0007_mail_out"),
    migration!(8, "0008_web"),
    migration!(9, "0009_queue_index"),
    migration!(10, "0010_kb_search"),
    migration!(11, "0011_monitoring"),
    migration!(12, "0012_webhooks"),
    migration!(13, "0013_cmdb"),
    migration!(14, "0014_problems_changes"),
    migration!(15, "0015_search_markers"),
    migration!(16, "0016_ticket_message_index"),
    migration!(17, "0017_ticket_assignee_state_index"),
    migration!(18, "0018_ticket_assignee_state_statistics"),
    migration!(19, "0019_directory"),
    migration!(20, "0020_two_factor"),
    migration!(21, "0021_sso"),
    migration!(22, "0022_security_keys"),
    migration!(23, "0023_retention"),
    migration!(24, "0024_people_lookup"),
    migration!(25, "0025_routing"),
    migration!(26, "0026_desk"),
    migration!(27, "0027_reports"),
    migration!(28, "0028_time_tracking"),
    migration!(29, "0029_surveys"),
    migration!(30, "0030_report_schedules"),
    migration!(31, "0031_backlog_snapshots"),
    migration!(32, "0032_alert_first_seen"),
    migration!(33, "0033_ticket_tally"),
    migration!(34, "0034_catalog"),
    migration!(35, "0035_approvals"),
    migration!(36, "0036_catalog_tasks"),
    migration!(37, "0037_workflows"),
    migration!(38, "0038_workflow_follow"),
];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migration (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

/// Applies what is missing, each migration in its own transaction. Several nodes
/// starting at once serialise on a PostgreSQL advisory lock.
pub(crate) async fn run(db: &Db, up_to: Option<i64>) -> Result<Vec<i64>> {
    let mut applied = Vec::new();
    loop {
        let mut tx = db.begin().await?;
        if let crate::db::TxLink::Postgres(t) = &mut tx.link {
            sqlx::query("SELECT pg_advisory_xact_lock(7243001)").execute(&mut **t).await?;
        }
        let mut c = tx.conn();
        with_conn!(&mut c, |c| sqlx::query(CREATE_TABLE).execute(c).await.map(|r| r.rows_affected()))?;
        let current: Option<i64> = with_conn!(&mut c, |c| {
            sqlx::query_scalar("SELECT MAX(version) FROM schema_migration").fetch_one(c).await
        })?;
        let current = current.unwrap_or(0);
        let newest = MIGRATIONS.last().map_or(0, |m| m.version);
        if current > newest {
            return Err(StoreError::Schema(format!(
                "the database is at schema version {current}, newer than this binary knows ({newest}); \
                 run the newer Orion or restore a backup"
            )));
        }
        let Some(m) = MIGRATIONS.iter().find(|m| m.version > current && up_to.is_none_or(|u| m.version <= u)) else {
            tx.commit().await?;
            return Ok(applied);
        };
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        match &mut c.link {
            crate::Link::Sqlite(c) => {
                sqlx::raw_sql(m.sqlite).execute(&mut **c).await?;
            }
            crate::Link::Postgres(c) => {
                sqlx::raw_sql(m.postgres).execute(&mut **c).await?;
            }
        }
        with_conn!(&mut c, |c| {
            sqlx::query("INSERT INTO schema_migration (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(m.version)
                .bind(m.name)
                .bind(now)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        applied.push(m.version);
    }
}
