//! `orion report`: reports across tickets.

use super::operator;
use super::output::print_json;
use anyhow::Result;
use clap::Subcommand;
use orion_app::App;
use orion_app::reports::{ReportQuery, ReportTable, summary_rows};

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
    /// The leads' KPIs of a period (docs/reports.md gives each formula), against the period before
    Kpis {
        #[command(flatten)]
        filters: Filters,
        /// Breakdown: tier, group, agent, priority, category, kind or channel
        #[arg(long)]
        by: Option<String>,
        /// Everything as JSON, as `GET /api/v1/reports/kpis` gives it
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// One table as CSV: summary, days, backlog, workload or breakdown
        #[arg(long, value_name = "TABLE")]
        csv: Option<String>,
    },
    /// Every ticket one number counts (as CSV with --csv)
    Tickets {
        #[command(flatten)]
        filters: Filters,
        /// created, resolved, backlog, responded, first_contact, reached_l2, reached_l3, reopened,
        /// response_breached, resolution_breached, … (docs/reports.md)
        #[arg(long)]
        metric: String,
        /// For the backlog: under_1d, 1d_3d, 3d_7d, 7d_30d, over_30d, overdue or pending
        #[arg(long)]
        band: Option<String>,
        #[arg(long)]
        csv: bool,
    },
}

/// The filters every report takes.
#[derive(clap::Args)]
pub struct Filters {
    /// YYYY-MM-DD (UTC) or RFC 3339; default 30 days before --to
    #[arg(long)]
    from: Option<String>,
    /// YYYY-MM-DD (UTC, exclusive) or RFC 3339; default now
    #[arg(long)]
    to: Option<String>,
    #[arg(long)]
    group: Option<String>,
    /// 1, 2 or 3
    #[arg(long)]
    tier: Option<String>,
    /// incident or service_request
    #[arg(long)]
    kind: Option<String>,
    /// P1 to P5
    #[arg(long)]
    priority: Option<String>,
    /// A category path (its sub-categories included), or none
    #[arg(long)]
    category: Option<String>,
    #[arg(long)]
    channel: Option<String>,
    /// An agent's e-mail, or none for unassigned tickets
    #[arg(long)]
    agent: Option<String>,
}

impl Filters {
    fn query(self) -> ReportQuery {
        ReportQuery {
            from: self.from,
            to: self.to,
            group: self.group,
            tier: self.tier,
            kind: self.kind,
            priority: self.priority,
            category: self.category,
            channel: self.channel,
            agent: self.agent,
            ..ReportQuery::default()
        }
    }
}

pub async fn run(app: &App, cmd: ReportCmd) -> Result<()> {
    match cmd {
        ReportCmd::Ola { from, to, group, json } => ola(app, orion_app::ola::OlaQuery { from, to, group }, json).await,
        ReportCmd::Kpis { filters, by, json, csv } => {
            let q = ReportQuery { by, ..filters.query() };
            if let Some(name) = csv {
                let keys: Vec<&str> = ReportTable::ALL.iter().map(|(_, k)| *k).collect();
                let table = ReportTable::parse(&name)
                    .ok_or_else(|| anyhow::anyhow!("--csv: {name:?} is not a table; use one of {}", keys.join(", ")))?;
                print!("{}", app.report_csv(&operator(), table, &q).await?);
                return Ok(());
            }
            let k = app.report_kpis(&operator(), &q).await?;
            if json {
                return print_json(&k);
            }
            println!("from {} to {} (the period before from {})", k.from, k.to, k.previous_from);
            for (now, before) in summary_rows(&k.summary).into_iter().zip(summary_rows(&k.previous)) {
                println!("{:<60} {:>10}   before {:>10}", now.label, now.value, before.value);
            }
            println!("{:<60} {:>10}   overdue {:>9}", "Open now", k.backlog.open, k.backlog.overdue);
            Ok(())
        }
        ReportCmd::Tickets { filters, metric, band, csv } => {
            let q = ReportQuery { metric: Some(metric), band, ..filters.query() };
            if csv {
                print!("{}", app.report_csv(&operator(), ReportTable::Tickets, &q).await?);
                return Ok(());
            }
            let mut q = ReportQuery { limit: Some(orion_app::reports::MAX_PAGE.to_string()), ..q };
            loop {
                let page = app.report_tickets(&operator(), &q).await?;
                for t in &page.tickets {
                    println!("{:<12} {:<12} {:<3} {:<24} {}", t.number, t.state, t.priority, t.group, t.title);
                }
                match page.next {
                    Some(n) => q.after = Some(n),
                    None => break,
                }
            }
            Ok(())
        }
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
