//! Addresses every signed-in person follows: the home page, a ticket's link in notification mail,
//! and a ticket's attachments. Staff and requesters land on their own pages.

use super::form::encode;
use super::layout::error_page;
use super::session::WebUser;
use crate::AppState;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/tickets/{number}", get(any_ticket))
        .route("/attachments/{id}", get(attachment))
}

/// Staff land on their queue, requesters on the portal.
async fn home(user: Option<WebUser>) -> Response {
    match user {
        Some(u) if u.me.staff => Redirect::to("/agent").into_response(),
        Some(_) => Redirect::to("/portal").into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

/// The address in notification mail: staff get the console, requesters the portal.
async fn any_ticket(user: WebUser, Path(number): Path<String>) -> Response {
    let base = if user.me.staff { "/agent/tickets" } else { "/portal/tickets" };
    Redirect::to(&format!("{base}/{}", encode(&number))).into_response()
}

/// A file attached to a ticket the person may see. Served as a download (images inline), never
/// as a page of this site.
async fn attachment(State(s): State<AppState>, user: WebUser, Path(id): Path<i64>) -> Response {
    match s.app.attachment(&user.actor, id).await {
        Ok(f) => crate::file_response(f),
        Err(e) => error_page(Some(&user), &e),
    }
}
