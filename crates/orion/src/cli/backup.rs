//! `orion backup`: a consistent copy of the SQLite database.

use anyhow::Result;
use clap::Args;
use orion::DatabaseConfig;
use orion_app::SystemClock;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args)]
pub struct BackupArgs {
    /// Destination file (must not exist)
    #[arg(long)]
    to: PathBuf,
}

pub async fn run(db: &DatabaseConfig, args: BackupArgs) -> Result<()> {
    let to = args.to;
    if to.exists() {
        anyhow::bail!("{} exists already; choose a new file", to.display());
    }
    let app = db.open(Arc::new(SystemClock)).await?;
    app.db.backup_sqlite(&to.to_string_lossy()).await?;
    println!("backup written to {}", to.display());
    app.db.close().await;
    Ok(())
}
