//! `orion user`: create, list, reset and unlock users.

use super::operator;
use super::output::{print_json, print_list, read_password};
use anyhow::Result;
use clap::Subcommand;
use orion_app::App;
use orion_app::NewUserInput;

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create a user
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// requester, agent, lead or admin
        #[arg(long, default_value = "requester")]
        role: String,
        /// Group to join (repeatable)
        #[arg(long = "group")]
        groups: Vec<String>,
        #[arg(long)]
        phone: Option<String>,
        /// Department (SLA policies can match on it)
        #[arg(long)]
        department: Option<String>,
        /// Read the password from standard input
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// List users
    List {
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password, read from standard input (the password policy applies; the
    /// lockout is lifted and the user's web sessions end)
    ResetPassword {
        #[arg(long)]
        email: String,
    },
    /// Lift a lockout after too many failed sign-ins
    Unlock {
        #[arg(long)]
        email: String,
    },
}

pub async fn run(app: &App, cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::Create { email, name, role, groups, phone, department, password_stdin, json } => {
            let password = if password_stdin { Some(read_password()?) } else { None };
            let u = app
                .create_user(
                    &operator(),
                    NewUserInput {
                        email: Some(email),
                        name: Some(name),
                        role: Some(role),
                        phone,
                        department,
                        groups,
                        password,
                        vip: None,
                    },
                )
                .await?;
            if json {
                print_json(&u)
            } else {
                println!("created user {} <{}> ({}) id {}", u.name, u.email, u.role, u.id);
                Ok(())
            }
        }
        UserCmd::List { role, json } => {
            let mut cursor = None;
            let mut all = Vec::new();
            loop {
                let page = app.list_users(&operator(), role.as_deref(), None, cursor.as_deref(), Some(200)).await?;
                all.extend(page.items);
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            print_list(&all, json, |u| {
                let inactive = if u.active { "" } else { "  (deactivated)" };
                format!("{:>6}  {:<9}  {:<40}  {}{inactive}", u.id, u.role, u.email, u.name)
            })
        }
        UserCmd::ResetPassword { email } => {
            app.set_password(&email, read_password()?).await?;
            println!("password of {email} changed; their sessions were ended");
            Ok(())
        }
        UserCmd::Unlock { email } => {
            let page = app.list_users(&operator(), None, Some(&email), None, Some(10)).await?;
            let Some(u) = page.items.into_iter().find(|u| u.email.eq_ignore_ascii_case(email.trim())) else {
                anyhow::bail!("no user with e-mail {email}");
            };
            app.unlock_user(&operator(), u.id).await?;
            println!("{} unlocked", u.email);
            Ok(())
        }
    }
}
