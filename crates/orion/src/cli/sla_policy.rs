//! `orion sla-policy`: SLA policies, in matching order.

use super::operator;
use super::output::print_list;
use anyhow::Result;
use clap::Subcommand;
use orion_app::App;

// Parsed once per process; the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum PolicyCmd {
    /// List active policies in matching order
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create or replace a policy
    Set {
        #[arg(long)]
        name: String,
        /// Matching order, lower first (the shipped defaults use 10..50)
        #[arg(long, default_value_t = 100)]
        position: i64,
        /// Comma-separated, e.g. P1,P2 (default: any)
        #[arg(long, value_delimiter = ',')]
        priorities: Vec<String>,
        /// Comma-separated: incident, service_request (default: any)
        #[arg(long, value_delimiter = ',')]
        kinds: Vec<String>,
        /// Category path; matches everything below it too
        #[arg(long)]
        category: Option<String>,
        #[arg(long, default_value = "Business hours")]
        calendar: String,
        /// First response target in working minutes
        #[arg(long)]
        first_response: Option<i64>,
        /// Resolution target in working minutes
        #[arg(long)]
        resolution: Option<i64>,
        /// A public update at least every N working minutes while open
        #[arg(long)]
        update_interval: Option<i64>,
        /// The requester's department
        #[arg(long)]
        department: Option<String>,
        /// Comma-separated pending reasons that pause the clocks (default: user,vendor)
        #[arg(long, value_delimiter = ',')]
        pause_on: Option<Vec<String>>,
        /// Comma-separated warning percentages (default: 50,75,90)
        #[arg(long, value_delimiter = ',')]
        warnings: Option<Vec<i64>>,
        /// What a priority change does: retarget (default) or restart
        #[arg(long)]
        on_priority_change: Option<String>,
        /// Escalation rules as a JSON list (see docs/sla.md); replaces the defaults
        #[arg(long)]
        rules: Option<String>,
        /// Do not escalate on a resolution breach (with the default rules)
        #[arg(long)]
        no_escalate: bool,
        /// Save the policy switched off
        #[arg(long)]
        inactive: bool,
    },
}

pub async fn run(app: &App, cmd: PolicyCmd) -> Result<()> {
    match cmd {
        PolicyCmd::List { json } => {
            let ps = app.list_policies(&operator()).await?;
            let mins = |m: Option<i64>| m.map_or("-".to_string(), |m| format!("{m} min"));
            print_list(&ps, json, |p| {
                let priorities = if p.priorities.is_empty() { "any".to_string() } else { p.priorities.join(",") };
                format!(
                    "{:>4}  {:<24} {priorities:<12} {:<16} first response {:<10} resolution {:<10} update {:<8} {}",
                    p.position,
                    p.name,
                    p.calendar,
                    mins(p.first_response_minutes),
                    mins(p.resolution_minutes),
                    mins(p.update_interval_minutes),
                    p.on_priority_change
                )
            })
        }
        PolicyCmd::Set {
            name,
            position,
            priorities,
            kinds,
            category,
            calendar,
            first_response,
            resolution,
            update_interval,
            department,
            pause_on,
            warnings,
            on_priority_change,
            rules,
            no_escalate,
            inactive,
        } => {
            let escalation_rules =
                match rules {
                    Some(json) => Some(serde_json::from_str(&json).map_err(|e| {
                        anyhow::anyhow!("--rules: not a list of escalation rules: {e} (see docs/sla.md)")
                    })?),
                    None => None,
                };
            let p = app
                .put_policy(
                    &operator(),
                    &name,
                    orion_app::sla::PolicyInput {
                        position: Some(position),
                        priorities,
                        kinds,
                        category,
                        department,
                        calendar: Some(calendar),
                        first_response_minutes: first_response,
                        resolution_minutes: resolution,
                        update_interval_minutes: update_interval,
                        pause_on,
                        warnings_percent: warnings,
                        breach_escalates: Some(!no_escalate),
                        on_priority_change,
                        escalation_rules,
                        active: Some(!inactive),
                    },
                )
                .await?;
            println!("policy {} saved (position {})", p.name, p.position);
            Ok(())
        }
    }
}
