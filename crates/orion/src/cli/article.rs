//! `orion article`: knowledge-base articles.

use super::output::{print_json, print_list, read_body};
use anyhow::Context;
use anyhow::Result;
use clap::Subcommand;
use orion_app::App;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ArticleCmd {
    /// List articles, newest first
    List {
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        state: Option<String>,
        /// Only published articles past their review date
        #[arg(long)]
        stale: bool,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Show an article (Markdown source)
    Show {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Write a draft article from a Markdown file (`-` for standard input)
    Create {
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        title: Option<String>,
        /// The Markdown body
        #[arg(long)]
        file: Option<PathBuf>,
        /// howto, faq, known_error, runbook or training
        #[arg(long)]
        kind: Option<String>,
        /// internal or public
        #[arg(long)]
        audience: Option<String>,
        #[arg(long)]
        category: Option<String>,
        /// Comma-separated
        #[arg(long, default_value = "")]
        tags: String,
        /// YYYY-MM-DD
        #[arg(long)]
        review_by: Option<String>,
        /// Prefill title, body, category and tags from this resolved ticket
        #[arg(long)]
        from_ticket: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Save a new version of an article
    Edit {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        title: Option<String>,
        /// The new Markdown body (`-` for standard input)
        #[arg(long)]
        file: Option<PathBuf>,
        /// What changed
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Workflow: submit, publish, reject, retire or restore
    Transition {
        number: String,
        action: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Versions and workflow events
    History {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Unified diff between two versions (default: the last change)
    Diff {
        number: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        from: Option<i64>,
        #[arg(long)]
        to: Option<i64>,
    },
    /// Attach a file
    Attach {
        number: String,
        file: PathBuf,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Link an article to a ticket
    Link {
        number: String,
        #[arg(long)]
        ticket: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Suggested articles opened while writing tickets, and the tickets they deflected
    Deflections {
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long, default_value_t = 30)]
        days: i64,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(app: &App, cmd: ArticleCmd) -> Result<()> {
    use orion_app::kb::{ArticleEdit, ArticleInput, ArticleQuery, ArticleTransition};
    match cmd {
        ArticleCmd::List { as_user, state, stale, limit, json } => {
            let actor = app.actor_for(&as_user).await?;
            let q = ArticleQuery { state, stale: Some(stale), limit: Some(limit), ..Default::default() };
            let page = app.list_articles(&actor, q).await?;
            print_list(&page.items, json, |a| {
                format!(
                    "{}  {:<9} {:<11} {:<8} {}{}",
                    a.number,
                    a.state,
                    a.kind,
                    a.audience,
                    a.title,
                    if a.stale { "  (review overdue)" } else { "" }
                )
            })
        }
        ArticleCmd::Show { number, as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let a = app.get_article(&actor, &number, false).await?;
            if json {
                return print_json(&a);
            }
            println!("{}  {}  [{} · {} · {} · v{}]", a.number, a.title, a.state, a.kind, a.audience, a.version);
            println!("owner: {}   review by: {}", a.owner_name, a.review_by.as_deref().unwrap_or("-"));
            println!("\n{}", a.body);
            Ok(())
        }
        ArticleCmd::Create { as_user, title, file, kind, audience, category, tags, review_by, from_ticket, json } => {
            let actor = app.actor_for(&as_user).await?;
            let mut input = match &from_ticket {
                Some(t) => app.article_draft_from_ticket(&actor, t).await?,
                None => ArticleInput::default(),
            };
            if let Some(t) = title {
                input.title = t;
            }
            if let Some(f) = file {
                input.body = read_body(&f)?;
            }
            if input.title.is_empty() || input.body.is_empty() {
                anyhow::bail!("give --title and --file (or --from-ticket)");
            }
            input.kind = kind.or(input.kind);
            input.audience = audience.or(input.audience);
            input.category = category.or(input.category);
            input.review_by = review_by;
            if !tags.is_empty() {
                input.tags = tags.split(',').map(str::to_string).collect();
            }
            let a = app.create_article(&actor, input).await?;
            if json {
                return print_json(&a);
            }
            println!("{}", a.number);
            Ok(())
        }
        ArticleCmd::Edit { number, as_user, title, file, note } => {
            let actor = app.actor_for(&as_user).await?;
            let current = app.get_article(&actor, &number, false).await?;
            let body = file.map(|f| read_body(&f)).transpose()?;
            let edit = ArticleEdit {
                version: current.version,
                title,
                body,
                kind: None,
                audience: None,
                category: None,
                tags: None,
                review_by: None,
                owner: None,
                note: Some(note),
            };
            let a = app.edit_article(&actor, &number, edit).await?;
            println!("{} is at version {}", a.number, a.version);
            Ok(())
        }
        ArticleCmd::Transition { number, action, as_user, note } => {
            let actor = app.actor_for(&as_user).await?;
            let a =
                app.transition_article(&actor, &number, ArticleTransition { action, note, review_by: None }).await?;
            println!("{} is {}", a.number, a.state);
            Ok(())
        }
        ArticleCmd::History { number, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let (versions, events) = app.article_history(&actor, &number).await?;
            for v in versions {
                println!("v{:<4} {}  {:<20} {}  {}", v.version, v.changed_at, v.changed_by, v.title, v.note);
            }
            for e in events {
                println!("      {}  {:<20} {}  {}", e.at, e.actor.as_deref().unwrap_or("Orion"), e.action, e.note);
            }
            Ok(())
        }
        ArticleCmd::Diff { number, as_user, from, to } => {
            let actor = app.actor_for(&as_user).await?;
            let d = app.article_diff(&actor, &number, from, to).await?;
            print!("{}", d.unified);
            Ok(())
        }
        ArticleCmd::Attach { number, file, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let filename = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let upload =
                orion_app::kernel::uploads::Upload { filename, content_type: "application/octet-stream".into(), bytes };
            let a = app.attach_to_article(&actor, &number, vec![upload]).await?;
            println!("{} has {} attachment(s)", a.number, a.attachments.len());
            Ok(())
        }
        ArticleCmd::Link { number, ticket, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            app.link_article(&actor, &ticket, &number).await?;
            println!("{number} linked to {ticket}");
            Ok(())
        }
        ArticleCmd::Deflections { as_user, days, json } => {
            let actor = app.actor_for(&as_user).await?;
            let r = app.deflection_report(&actor, days).await?;
            if json {
                return print_json(&r);
            }
            println!(
                "{} suggested articles opened, {} tickets deflected ({} to {})",
                r.opened, r.deflected, r.from, r.to
            );
            for a in r.articles {
                println!("{}  opened {:>5}  deflected {:>5}  {}", a.article, a.opened, a.deflected, a.title);
            }
            Ok(())
        }
    }
}
