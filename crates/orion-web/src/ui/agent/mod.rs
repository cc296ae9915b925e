//! The agent console: what support staff work in — queues, the ticket page, logging a call,
//! search and the knowledge they write, monitoring and backups, assets and licences, problems,
//! changes and approvals. Every handler takes a [`StaffUser`](super::session::StaffUser): a
//! requester who lands here is sent to the portal (or, on a knowledge page, to the help pages).

mod answer_report;
mod asset_form;
mod cmdb;
mod itsm;
mod kb;
mod licence_form;
mod macros;
mod monitoring;
mod new_ticket;
mod notifications;
mod queue;
mod reports;
mod sla;
mod tag_report;
mod ticket;
mod workflows;

use crate::AppState;
use axum::Router;
use axum::routing::{get, post};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent", get(queue::queue))
        .merge(notifications::routes())
        .route("/agent/tags", get(tag_report::page))
        .route("/agent/catalog/{id}/answers", get(answer_report::page))
        .route("/agent/people", get(new_ticket::people))
        .route("/agent/priority", get(new_ticket::priority))
        .route("/agent/new", get(new_ticket::new_page).post(new_ticket::create))
        .route("/agent/tickets/{number}", get(ticket::ticket))
        .route("/agent/tickets/{number}/live", get(ticket::live))
        .route("/agent/tickets/{number}/replying", post(ticket::replying))
        .route("/agent/tickets/{number}/macro-preview", get(ticket::macro_preview))
        .merge(macros::routes())
        .route(
            "/agent/tickets/{number}/{action}",
            post(ticket::act)
                .layer(axum::extract::DefaultBodyLimit::max(orion_app::kernel::uploads::MAX_FILES_TOTAL + 1024 * 1024)),
        )
        .merge(kb::routes())
        .merge(monitoring::routes())
        .merge(asset_form::routes())
        .merge(licence_form::routes())
        .merge(cmdb::routes())
        .merge(itsm::routes())
        .merge(reports::routes())
        .merge(workflows::routes())
}
