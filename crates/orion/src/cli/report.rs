//! `orion report`: reports across tickets.

use super::operator;
use super::output::print_json;
use anyhow::Result;
use clap::Subcommand;
use orion_app::App;

#[derive(Subcommand)]
pub enum ReportCmd {
    /// Working time resolved tickets spent with each tier and group, against the OLA targets
    Ola {
        /// YYYY-MM-DD (UTC) or RFC 3339; default 30 days before --to
        #[arg(long)]
        from: Option<String>,
        /// YYYY-MM-DD (UTC, exclusive) or RFC 3339; default now
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(app: &App, cmd: ReportCmd) -> Result<()> {
    match cmd {
        ReportCmd::Ola { from, to, group, json } => ola(app, orion_app::ola::OlaQuery { from, to, group }, json).await,
    }
}

async fn ola(app: &App, q: orion_app::ola::OlaQuery, json: bool) -> Result<()> {
    let r = app.ola_report(&operator(), &q).await?;
    if json {
        return print_json(&r);
    }
    println!("tickets resolved from {} to {}", r.from, r.to);
    for f in r.tiers.iter().chain(&r.groups) {
        println!(
            "tier {} {:<24} visits {:>6}  avg {:>5} min  max {:>6} min  target {:>5} min  over {:>5}  within {:>3} %",
            f.tier,
            f.group.as_deref().unwrap_or("(all groups)"),
            f.tickets,
            f.average_minutes,
            f.max_minutes,
            f.target_minutes,
            f.over_target,
            f.within_target_percent
        );
    }
    Ok(())
}
