//! Orion as a library: the node's configuration and [`Server`], which `orion serve` runs and
//! the integration tests start (`orion-testkit`). The commands live in the binary (`cli/`).

pub mod config;
mod server;

pub use config::{DatabaseConfig, MailConfig};
pub use server::{Server, ServerConfig};
