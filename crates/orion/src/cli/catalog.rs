//! `orion catalog`: the service catalog — list items, export one as a file, import a file,
//! publish a draft.

use super::output::{print_json, print_list, read_json};
use anyhow::{Context, Result};
use clap::Subcommand;
use orion_app::App;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum CatalogCmd {
    /// List the catalog's items by name (administrators see every item)
    List {
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
        #[arg(long)]
        json: bool,
    },
    /// Write an item as one JSON file (`-` or no --out: standard output)
    Export {
        /// The item's name
        name: String,
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Import an exported item (`-` for standard input): a new item, or the item of the same name
    /// rewritten; published either way
    Import {
        file: PathBuf,
        /// Check the file and change nothing
        #[arg(long)]
        dry_run: bool,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
    /// Publish an item's draft as its next version
    Publish {
        /// The item's name
        name: String,
        #[arg(long = "as", env = "ORION_CLI_USER")]
        as_user: String,
    },
}

/// The id of the item called `name` (any case), among those the caller may see.
async fn item_id(app: &App, actor: &orion_domain::Actor, name: &str) -> Result<i64> {
    let query = orion_app::catalog::CatalogQuery { q: Some(name.to_string()), limit: Some(200), ..Default::default() };
    let page = app.catalog_items(actor, &query).await?;
    page.items
        .iter()
        .find(|i| i.name.eq_ignore_ascii_case(name.trim()))
        .map(|i| i.id)
        .with_context(|| format!("no catalog item called {name:?}"))
}

pub async fn run(app: &App, cmd: CatalogCmd) -> Result<()> {
    let line = |i: &orion_app::catalog::CatalogItem| {
        format!(
            "{:<40} {:<16} version {:<3} {:<8} {} requests",
            i.name,
            i.category,
            i.version,
            if i.active { "offered" } else { "retired" },
            i.requested
        )
    };
    match cmd {
        CatalogCmd::List { as_user, json } => {
            let actor = app.actor_for(&as_user).await?;
            let mut items = Vec::new();
            let mut cursor = None;
            loop {
                let query = orion_app::catalog::CatalogQuery { cursor, limit: Some(200), ..Default::default() };
                let page = app.catalog_items(&actor, &query).await?;
                items.extend(page.items);
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            print_list(&items, json, line)
        }
        CatalogCmd::Export { name, out, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let id = item_id(app, &actor, &name).await?;
            let file = app.export_catalog_item(&actor, id).await?;
            match out.filter(|p| p.as_os_str() != "-") {
                Some(path) => {
                    let text = serde_json::to_string_pretty(&file)?;
                    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
                    println!("wrote {}", path.display());
                    Ok(())
                }
                None => print_json(&file),
            }
        }
        CatalogCmd::Import { file, dry_run, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let input: orion_app::catalog::CatalogImport = read_json(&file)?;
            match app.import_catalog_item(&actor, input, dry_run).await? {
                Some(item) => println!("{}", line(&item)),
                None => println!("the file is fine; nothing was changed (dry run)"),
            }
            Ok(())
        }
        CatalogCmd::Publish { name, as_user } => {
            let actor = app.actor_for(&as_user).await?;
            let id = item_id(app, &actor, &name).await?;
            let item = app.publish_catalog_item(&actor, id).await?;
            println!("{}", line(&item));
            Ok(())
        }
    }
}
