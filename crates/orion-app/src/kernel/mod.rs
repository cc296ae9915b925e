//! The bottom layer of orion-app: what every module needs and nothing feature-specific.
//! It imports only orion-domain, orion-store and itself (the layering test checks it).
//!
//! - `error`: the application error, single-field errors, collecting field errors;
//! - `paging`: keyset cursors and limits;
//! - `access`: who may do what, over the domain's permissions;
//! - `uploads` and `limits`: what people may attach and type;
//! - `clock`: time as a parameter;
//! - `work`: how a command's transaction commits through the event subscribers.

pub mod access;
pub mod clock;
pub mod error;
pub mod jobs;
pub mod limits;
pub mod paging;
pub mod period;
pub mod uploads;
pub mod work;

pub use error::{AppError, AppResult};
