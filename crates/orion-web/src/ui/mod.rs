//! The web UI: server-rendered pages (askama) for agents, requesters and admins, with htmx for
//! the few partial updates (live ticket refresh, requester type-ahead, priority preview). Every
//! page calls the same services as the REST API; permissions are checked there.
//!
//! The pages are grouped by audience: [`agent`] (the console support staff work in), [`portal`]
//! (requesters) and [`admin`]. An audience's pages never import another audience's; what more
//! than one of them needs lives in the common modules here — the page frame and error page
//! ([`layout`]), who is asking ([`session`], with the [`StaffUser`](session::StaffUser) extractor),
//! form helpers ([`form`]), shared view models ([`views`]), what pickers offer ([`pickers`]), the pages every signed-in person uses
//! ([`auth`], [`links`], [`kb`]) and the static files ([`assets`]). `layering` checks it.
//!
//! Sessions live in the database (see `orion_app::security`); the browser holds only a random
//! id in an HttpOnly, SameSite=Lax cookie. Every state-changing request must come from this
//! site (Fetch Metadata, else `Origin`), see [`guard`].

mod admin;
mod agent;
mod approvals;
mod assets;
mod auth;
mod form;
mod guard;
mod kb;
#[cfg(test)]
mod layering;
mod layout;
mod links;
mod pickers;
mod portal;
mod session;
mod survey;
mod views;

pub(crate) use guard::guard;

use crate::AppState;
use axum::Router;

/// Every page and form of the UI.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(assets::routes())
        .merge(auth::routes())
        .merge(links::routes())
        .merge(kb::routes())
        .merge(survey::routes())
        .merge(approvals::routes())
        .merge(agent::routes())
        .merge(portal::routes())
        .merge(admin::routes())
}
