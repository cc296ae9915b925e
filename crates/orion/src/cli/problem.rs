//! `orion problem`: problems, known errors and recurring-incident proposals.

use super::output::{print_json, print_list, read_json};
use anyhow::Result;
use clap::Subcommand;
use orion_app::App;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ProblemCmd {
    /// List problems, newest first
    List {
        #[arg(long)]
        phase: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a problem with its analysis and incidents
    Show {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Log a problem from a JSON file (`-` for standard input), the body of POST /api/v1/problems
    Create {
        file: PathBuf,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Move a problem to another phase
    Move {
        number: String,
        phase: String,
        #[arg(long)]
        note: Option<String>,
        /// With `resolved`: also resolve its open incidents
        #[arg(long)]
        resolve_incidents: bool,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Run the recurring-incident detector now (leads)
    Detect {
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Proposed problems (open, accepted or dismissed)
    Proposals {
        #[arg(long, default_value = "open")]
        state: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Accept a proposal: create the problem with its incidents (leads)
    Accept {
        id: i64,
        #[arg(long)]
        title: Option<String>,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Dismiss a proposal (leads)
    Dismiss {
        id: i64,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
}

pub async fn run(app: &App, cmd: ProblemCmd) -> Result<()> {
    use orion_app::itsm::detect::{AcceptInput, ProposalQuery};
    use orion_app::itsm::problems::{ProblemInput, ProblemPhaseInput, ProblemQuery};
    let line = |p: &orion_app::itsm::problems::Problem| {
        format!("{}  {:<13} {}  ({} incidents)", p.ticket.number, p.phase, p.ticket.title, p.incidents.len())
    };
    match cmd {
        ProblemCmd::List { phase, limit, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let page = app.list_problems(&actor, ProblemQuery { phase, limit: Some(limit), cursor: None }).await?;
            print_list(&page.items, json, |p| format!("{}  {:<13} {:<3} {}", p.number, p.phase, p.priority, p.title))
        }
        ProblemCmd::Show { number, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let p = app.get_problem(&actor, &number).await?;
            if json {
                return print_json(&p);
            }
            println!("{}", line(&p));
            for (label, text) in [
                ("Symptoms", &p.symptoms),
                ("Root cause", &p.root_cause),
                ("Workaround", &p.workaround),
                ("Analysis", &p.analysis),
            ] {
                if !text.is_empty() {
                    println!("\n{label}:\n{text}");
                }
            }
            for i in &p.incidents {
                println!("  {}  {:<11} {}", i.number, i.state, i.title);
            }
            Ok(())
        }
        ProblemCmd::Create { file, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let input: ProblemInput = read_json(&file)?;
            let p = app.create_problem(&actor, input).await?;
            println!("{}", line(&p));
            Ok(())
        }
        ProblemCmd::Move { number, phase, note, resolve_incidents, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let p = app.move_problem(&actor, &number, ProblemPhaseInput { phase, note, resolve_incidents }).await?;
            println!("{}", line(&p));
            Ok(())
        }
        ProblemCmd::Detect { as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let r = app.detect_recurring_now(&actor).await?;
            println!(
                "{} incidents read, {} clusters: {} new proposals, {} refreshed, {} already known",
                r.incidents, r.clusters, r.proposed, r.refreshed, r.known
            );
            Ok(())
        }
        ProblemCmd::Proposals { state, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let q = ProposalQuery { state: Some(state), cursor: None, limit: Some(200) };
            let page = app.list_proposals(&actor, q).await?;
            print_list(&page.items, json, |p| {
                let numbers: Vec<&str> = p.incidents.iter().map(|i| i.number.as_str()).collect();
                format!("#{:<5} {:<9} {}\n       {}", p.id, p.state, p.reason, numbers.join(" "))
            })
        }
        ProblemCmd::Accept { id, title, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let p = app.accept_proposal(&actor, id, AcceptInput { title, ..Default::default() }).await?;
            println!("{}", line(&p));
            Ok(())
        }
        ProblemCmd::Dismiss { id, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let p = app.dismiss_proposal(&actor, id).await?;
            println!("#{} {}", p.id, p.state);
            Ok(())
        }
    }
}
