//! `orion token`: API tokens.

use anyhow::Result;
use clap::Subcommand;
use orion_app::App;

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create an API token; prints only the token
    Create {
        /// The user's e-mail
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

pub async fn run(app: &App, cmd: TokenCmd) -> Result<()> {
    match cmd {
        TokenCmd::Create { user, name } => {
            app.create_token_for(&user, &name).await.map(|t| println!("{}", t.token)).map_err(Into::into)
        }
    }
}
