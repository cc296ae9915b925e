//! `orion ticket`: log, list and show tickets (for scripts).

use super::output::print_json;
use anyhow::Result;
use clap::Subcommand;
use orion_app::App;
use orion_app::NewTicketInput;

#[derive(Subcommand)]
pub enum TicketCmd {
    /// Log a ticket as a staff member
    Create {
        /// E-mail of the staff member logging it
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long, default_value = "incident")]
        kind: String,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value_t = 3)]
        impact: i64,
        #[arg(long, default_value_t = 3)]
        urgency: i64,
        /// Requester's e-mail
        #[arg(long)]
        requester: Option<String>,
        #[arg(long, default_value = "phone")]
        channel: String,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List tickets, newest first
    List {
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Show one ticket and its timeline
    Show {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(app: &App, cmd: TicketCmd) -> Result<()> {
    match cmd {
        TicketCmd::Create {
            as_user,
            kind,
            title,
            description,
            impact,
            urgency,
            requester,
            channel,
            category,
            group,
            json,
        } => {
            let actor = app.actor_for(&as_user).await?;
            let t = app
                .create_ticket(
                    &actor,
                    NewTicketInput {
                        kind: Some(kind),
                        title: Some(title),
                        description: Some(description),
                        impact: Some(impact),
                        urgency: Some(urgency),
                        requester,
                        channel: Some(channel),
                        category,
                        assignment_group: group,
                        ..Default::default()
                    },
                )
                .await?;
            if json {
                print_json(&t)
            } else {
                println!("{}", t.number);
                Ok(())
            }
        }
        TicketCmd::List { as_user, state, group, kind, limit, json } => {
            let actor = app.actor_for(&as_user).await?;
            let page = app
                .list_tickets(
                    &actor,
                    orion_app::tickets::TicketQuery {
                        state,
                        assignment_group: group,
                        kind,
                        limit: Some(limit),
                        ..Default::default()
                    },
                )
                .await?;
            if json {
                return print_json(&page);
            }
            for t in page.items {
                println!(
                    "{}  {}  {:<11}  {:<18}  {:<24}  {}",
                    t.number,
                    t.priority,
                    t.state,
                    t.assignment_group,
                    t.assignee.as_deref().unwrap_or("-"),
                    t.title
                );
            }
            Ok(())
        }
        TicketCmd::Show { number, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let t = app.get_ticket(&actor, &number).await?;
            let tl = app.timeline(&actor, &number, None, Some(200)).await?;
            if json {
                return print_json(&serde_json::json!({"ticket": t, "timeline": tl.items}));
            }
            println!("{}  {}  {}  [{}]", t.number, t.priority, t.title, t.state);
            println!(
                "requester: {} <{}>   group: {} (tier {})   assignee: {}",
                t.requester_name,
                t.requester,
                t.assignment_group,
                t.assignment_group_tier,
                t.assignee.as_deref().unwrap_or("-")
            );
            if !t.description.is_empty() {
                println!("\n{}\n", t.description);
            }
            for e in tl.items {
                println!(
                    "{}  {:<14} {:<8} {}  {}",
                    e.at,
                    e.kind,
                    e.visibility,
                    e.actor.as_deref().unwrap_or("Orion"),
                    e.body.replace('\n', " ")
                );
            }
            Ok(())
        }
    }
}
