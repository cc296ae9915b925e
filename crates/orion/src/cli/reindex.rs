//! `orion reindex`: rebuild the full-text index, online.

use super::output::Progress;
use anyhow::Result;
use clap::Args;
use orion_app::App;

#[derive(Args)]
pub struct ReindexArgs {
    /// Tickets per transaction
    #[arg(long, default_value_t = 2000)]
    batch: i64,
}

pub async fn run(app: &App, args: ReindexArgs) -> Result<()> {
    let batch = args.batch;
    if !(1..=100_000).contains(&batch) {
        anyhow::bail!("--batch must be between 1 and 100000");
    }
    let started = std::time::Instant::now();
    let mut p = Progress::new("rows");
    let (tickets, articles) = app.reindex(batch, |d, t| p.show(d, t)).await?;
    println!("reindexed {tickets} tickets and {articles} articles in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
