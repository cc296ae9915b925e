//! `orion migrate`: bring the database to the newest schema and exit.

use anyhow::Result;
use orion::DatabaseConfig;
use orion_app::SystemClock;
use std::sync::Arc;

pub async fn run(db: &DatabaseConfig) -> Result<()> {
    let app = db.open(Arc::new(SystemClock)).await?;
    println!("database is at the newest schema ({} migrations known)", orion_store::MIGRATIONS.len());
    app.db.close().await;
    Ok(())
}
