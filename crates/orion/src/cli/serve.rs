//! `orion serve`: build the node, say where it answers (and how to sign in to the demo), and
//! serve until SIGINT or SIGTERM.

use anyhow::Result;
use clap::Args;
use orion::{DatabaseConfig, MailConfig, Server, ServerConfig};
use orion_app::demo::{DEMO_ADMIN, DEMO_AGENT, DEMO_PASSWORD, DEMO_REQUESTER};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "ORION_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Seed a demo organisation (once) and print how to sign in
    #[arg(long)]
    demo: bool,
    /// Also take mail by SMTP/LMTP on this address (e.g. 127.0.0.1:2525), for the helpdesk addresses
    /// in the mail settings; no TLS: keep it on loopback behind your MTA
    #[arg(long, env = "ORION_SMTP_LISTEN")]
    smtp_listen: Option<String>,
}

pub async fn run(database: DatabaseConfig, mail: MailConfig, args: ServeArgs) -> Result<()> {
    let ServeArgs { listen, demo, smtp_listen } = args;
    let server = Server::build(ServerConfig { listen, database, mail, smtp_listen, demo, background: true }).await?;
    let addr = server.local_addr();
    if demo {
        let app = server.app();
        let admin = app.create_token_for(DEMO_ADMIN, "demo").await?;
        let agent = app.create_token_for(DEMO_AGENT, "demo").await?;
        let requester = app.create_token_for(DEMO_REQUESTER, "demo").await?;
        println!("Orion demo is running: open http://{addr}/ and sign in as");
        println!("  admin      {DEMO_ADMIN}");
        println!("  L1 agent   {DEMO_AGENT}");
        println!("  requester  {DEMO_REQUESTER}  (the self-service portal)");
        println!("with the password {DEMO_PASSWORD}");
        println!();
        println!("API tokens for the same accounts (new ones are made at every start):");
        println!("  admin      {}", admin.token);
        println!("  L1 agent   {}", agent.token);
        println!("  requester  {}", requester.token);
        println!();
        println!("Try:  curl -H 'Authorization: Bearer {}' http://{addr}/api/v1/tickets?state=open", agent.token);
        println!("API description: http://{addr}/api/v1/openapi.json");
    } else {
        println!("Orion is listening on http://{addr}");
    }
    if let Some(smtp) = server.smtp_addr() {
        println!("Orion takes mail by SMTP/LMTP on {smtp}");
    }
    server.run_until_stopped().await
}
