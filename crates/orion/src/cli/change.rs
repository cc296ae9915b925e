//! `orion change`: changes, their approvals and the change calendar.

use super::output::{print_json, print_list, read_json};
use anyhow::Result;
use clap::Subcommand;
use orion_app::App;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ChangeCmd {
    /// List changes, newest first
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
    /// Show a change with its approvals, tasks and conflicts
    Show {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Log a change from a JSON file (`-` for standard input), the body of POST /api/v1/changes
    Create {
        file: PathBuf,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Move a change to another phase
    Move {
        number: String,
        phase: String,
        #[arg(long)]
        note: Option<String>,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Approve a change as one of its approvers
    Approve {
        number: String,
        #[arg(long)]
        comment: Option<String>,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Reject a change as one of its approvers (a comment is required)
    Reject {
        number: String,
        #[arg(long)]
        comment: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Changes awaiting your approval
    Approvals {
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// The change calendar with its conflicts
    Calendar {
        /// YYYY-MM-DD (default today)
        #[arg(long)]
        from: Option<String>,
        /// YYYY-MM-DD (default seven days later)
        #[arg(long)]
        to: Option<String>,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(app: &App, cmd: ChangeCmd) -> Result<()> {
    use orion_app::itsm::changes::{CalendarQuery, ChangeInput, ChangePhaseInput, ChangeQuery, DecisionInput};
    let line = |c: &orion_app::itsm::changes::Change| {
        format!(
            "{}  {:<9} {:<12} risk {:<6} {}{}",
            c.ticket.number,
            c.change_type,
            c.phase,
            c.risk.as_deref().unwrap_or("-"),
            c.ticket.title,
            if c.conflicts.is_empty() { String::new() } else { format!("  ({} conflicts)", c.conflicts.len()) }
        )
    };
    match cmd {
        ChangeCmd::List { phase, limit, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let page = app.list_changes(&actor, ChangeQuery { phase, limit: Some(limit), cursor: None }).await?;
            print_list(&page.items, json, |c| format!("{}  {:<12} {:<3} {}", c.number, c.phase, c.priority, c.title))
        }
        ChangeCmd::Show { number, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let c = app.get_change(&actor, &number).await?;
            if json {
                return print_json(&c);
            }
            println!("{}", line(&c));
            println!(
                "planned {} .. {}",
                c.planned_start.as_deref().unwrap_or("-"),
                c.planned_end.as_deref().unwrap_or("-")
            );
            for a in &c.approvals {
                println!("  round {}  {:<30} {}", a.round, a.approver, a.decision.as_deref().unwrap_or("waiting"));
            }
            for k in &c.conflicts {
                println!("  conflict ({}): {}", k.kind, k.message);
            }
            Ok(())
        }
        ChangeCmd::Create { file, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let input: ChangeInput = read_json(&file)?;
            let c = app.create_change(&actor, input).await?;
            println!("{}", line(&c));
            Ok(())
        }
        ChangeCmd::Move { number, phase, note, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let c = app.move_change(&actor, &number, ChangePhaseInput { phase, note }).await?;
            println!("{}", line(&c));
            Ok(())
        }
        ChangeCmd::Approve { number, comment, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let c = app.decide_change(&actor, &number, DecisionInput { decision: "approved".into(), comment }).await?;
            println!("{}", line(&c));
            Ok(())
        }
        ChangeCmd::Reject { number, comment, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let input = DecisionInput { decision: "rejected".into(), comment: Some(comment) };
            let c = app.decide_change(&actor, &number, input).await?;
            println!("{}", line(&c));
            Ok(())
        }
        ChangeCmd::Approvals { as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let list = app.my_approvals(&actor).await?;
            print_list(&list, json, |a| {
                format!("{}  {:<9} risk {:<6} {}", a.number, a.change_type, a.risk.as_deref().unwrap_or("-"), a.title)
            })
        }
        ChangeCmd::Calendar { from, to, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let cal = app.change_calendar(&actor, CalendarQuery { from, to }).await?;
            if json {
                return print_json(&cal);
            }
            for f in &cal.freezes {
                println!("FREEZE {} .. {}  {}", f.starts_at, f.ends_at, f.name);
            }
            for c in &cal.changes {
                println!("{} .. {}  {}  {:<12} {}", c.planned_start, c.planned_end, c.number, c.phase, c.title);
                for k in &c.conflicts {
                    println!("    ! {}", k.message);
                }
            }
            Ok(())
        }
    }
}
