//! `orion group`: create and list groups.

use super::operator;
use super::output::{print_json, print_list};
use anyhow::Result;
use clap::Subcommand;
use orion_app::App;
use orion_app::GroupInput;

#[derive(Subcommand)]
pub enum GroupCmd {
    /// Create a group
    Create {
        #[arg(long)]
        name: String,
        /// 1 service desk, 2 specialists, 3 experts
        #[arg(long)]
        tier: i64,
        /// Group that tickets escalate to
        #[arg(long)]
        escalates_to: Option<String>,
        /// Lead's e-mail
        #[arg(long)]
        lead: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// Ask for the time spent before a ticket of the group is resolved
        #[arg(long)]
        time_required: bool,
        #[arg(long)]
        json: bool,
    },
    /// List groups
    List {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(app: &App, cmd: GroupCmd) -> Result<()> {
    match cmd {
        GroupCmd::Create { name, tier, escalates_to, lead, description, time_required, json } => {
            let g = app
                .create_group(
                    &operator(),
                    GroupInput {
                        name: Some(name),
                        tier: Some(tier),
                        escalates_to,
                        lead,
                        description: Some(description),
                        active: None,
                        time_required: Some(time_required),
                    },
                )
                .await?;
            if json {
                print_json(&g)
            } else {
                println!("created group {} (tier {}) id {}", g.name, g.tier, g.id);
                Ok(())
            }
        }
        GroupCmd::List { json } => {
            let gs = app.list_groups(&operator()).await?;
            print_list(&gs, json, |g| {
                let up = g.escalates_to.as_deref().unwrap_or("-");
                format!(
                    "{:>4}  tier {}  {:<24} escalates to {up:<24} {} members",
                    g.id,
                    g.tier,
                    g.name,
                    g.members.len()
                )
            })
        }
    }
}
