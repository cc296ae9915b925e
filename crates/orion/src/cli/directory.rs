//! `orion directory`: LDAP and Active Directory sources, their sync runs, "sync now".

use super::operator;
use super::output::{print_json, print_list, read_password};
use anyhow::{Context, Result};
use clap::Subcommand;
use orion_app::App;
use orion_app::identity::config::DirectorySourceInput;
use orion_app::identity::{DirectoryRun, DirectorySource, SyncRequest};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DirectoryCmd {
    /// The sources, in the order they are synchronised
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a source from a JSON file with the fields of POST /api/v1/directory/sources
    Add {
        /// The settings (`-` for standard input)
        #[arg(long)]
        file: PathBuf,
        /// Read the bind password from standard input (instead of "secret" in the file)
        #[arg(long)]
        secret_stdin: bool,
    },
    /// Change a source: the fields in the file change, the others (and the password) are kept
    Update {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        secret_stdin: bool,
    },
    /// Remove a source; its users stay, as local accounts
    Remove {
        #[arg(long)]
        id: i64,
    },
    /// Synchronise a source now (or with --dry-run, only say what would change)
    Sync {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        dry_run: bool,
        /// Go ahead although more users would be deactivated than the source allows
        #[arg(long)]
        confirm_mass_deactivation: bool,
        /// Print the whole run (every change sampled) as JSON
        #[arg(long)]
        json: bool,
    },
    /// The last runs of a source, newest first
    Runs {
        #[arg(long)]
        id: i64,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

fn read_input(file: &PathBuf, secret_stdin: bool) -> Result<DirectorySourceInput> {
    let text = if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    let de = &mut serde_json::Deserializer::from_str(&text);
    let mut input: DirectorySourceInput = serde_path_to_error::deserialize(de)
        .map_err(|e| anyhow::anyhow!("{}: field {}: {}", file.display(), e.path(), e.inner()))?;
    if secret_stdin {
        input.secret = Some(read_password()?);
    }
    Ok(input)
}

fn line(s: &DirectorySource) -> String {
    format!(
        "{:>4}  {:<20} {} {}  base {}  {} users  {}{}",
        s.id,
        s.name,
        s.kind,
        s.url,
        s.base_dn,
        s.users,
        match (s.enabled, s.sync_minutes) {
            (false, _) => "disabled".to_string(),
            (true, 0) => "by hand only".to_string(),
            (true, m) => format!("every {m} min"),
        },
        s.last_error.as_deref().map(|e| format!("  [last run: {e}]")).unwrap_or_default()
    )
}

fn run_line(r: &DirectoryRun) -> String {
    format!("{:>5}  {}  {:<9} {:<8} {}", r.id, r.started_at, r.outcome, r.started_by, r.message)
}

pub async fn run(app: &App, cmd: DirectoryCmd) -> Result<()> {
    match cmd {
        DirectoryCmd::List { json } => print_list(&app.list_directory_sources(&operator()).await?, json, line),
        DirectoryCmd::Add { file, secret_stdin } => {
            let s = app.create_directory_source(&operator(), read_input(&file, secret_stdin)?).await?;
            println!("{}", line(&s));
            Ok(())
        }
        DirectoryCmd::Update { id, file, secret_stdin } => {
            let s = app.update_directory_source(&operator(), id, read_input(&file, secret_stdin)?).await?;
            println!("{}", line(&s));
            Ok(())
        }
        DirectoryCmd::Remove { id } => {
            app.delete_directory_source(&operator(), id).await?;
            println!("directory source {id} removed; its users stay as local accounts");
            Ok(())
        }
        DirectoryCmd::Sync { id, dry_run, confirm_mass_deactivation, json } => {
            let req =
                SyncRequest { dry_run: Some(dry_run), confirm_mass_deactivation: Some(confirm_mass_deactivation) };
            let r = app.sync_directory_now(&operator(), id, req).await?;
            if json {
                print_json(&r)?;
            } else {
                println!("{}", r.message);
                for (label, list) in [
                    ("create", &r.diff.create),
                    ("update", &r.diff.update),
                    ("deactivate", &r.diff.disable),
                    ("re-enable", &r.diff.reenable),
                    ("skip", &r.diff.skipped),
                ] {
                    for c in &list.samples {
                        println!("  {label:<10} {} ({}): {}", c.email, c.name, c.details.join("; "));
                    }
                    if list.count > list.samples.len() as i64 {
                        println!("  {label:<10} … and {} more", list.count - list.samples.len() as i64);
                    }
                }
            }
            match r.outcome.as_str() {
                "failed" | "refused" => Err(anyhow::anyhow!("the run was {}", r.outcome)),
                _ => Ok(()),
            }
        }
        DirectoryCmd::Runs { id, limit, json } => {
            let page = app.list_directory_runs(&operator(), id, None, Some(limit)).await?;
            print_list(&page.items, json, run_line)
        }
    }
}
