//! `orion search`: tickets and articles as a user sees them.

use super::output::print_json;
use anyhow::Result;
use clap::Args;
use orion_app::App;

#[derive(Args)]
pub struct SearchArgs {
    /// Words, "a phrase", -exclude, a OR b, prefix*
    query: String,
    #[arg(long = "as", env = "ORION_CLI_USER")]
    as_user: String,
    /// ticket, article or all
    #[arg(long = "type", default_value = "all")]
    kind_of: String,
    #[arg(long, default_value_t = 20)]
    limit: i64,
    #[arg(long)]
    json: bool,
}

pub async fn run(app: &App, args: SearchArgs) -> Result<()> {
    let SearchArgs { query, as_user, kind_of, limit, json } = args;
    let actor = app.actor_for(&as_user).await?;
    let q =
        orion_app::search::SearchQuery { q: query, kind_of: Some(kind_of), limit: Some(limit), ..Default::default() };
    let r = app.search(&actor, q).await?;
    if json {
        return print_json(&r);
    }
    let plain = |h: &str| {
        h.replace("<mark>", "*")
            .replace("</mark>", "*")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    };
    for t in &r.tickets {
        println!("{}  {:<9} {}  {}", t.number, t.state, t.priority, plain(&t.title_html));
        println!("    {}: {}", t.snippet_from, plain(&t.snippet_html));
    }
    for a in &r.articles {
        println!("{}  {:<9} {:<11} {}", a.number, a.state, a.kind, plain(&a.title_html));
        println!("    {}", plain(&a.snippet_html));
    }
    if r.tickets.is_empty() && r.articles.is_empty() {
        println!("nothing found");
    }
    Ok(())
}
