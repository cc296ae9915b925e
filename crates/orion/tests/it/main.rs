//! Orion's integration suite: the real server (and the real binary) on both engines.

mod admin;
mod api;
mod assets;
pub(crate) mod browser;
mod catalog;
pub(crate) mod cli;
mod defects;
mod desk;
pub(crate) mod identity;
mod itsm;
mod kb;
mod mail;
pub(crate) mod mail_servers;
mod monitoring;
mod reports;
mod server;
pub(crate) mod web;
pub(crate) mod webhooks;
mod workflows;
