use orion_domain::{FieldError, FieldErrors, TransitionError};
use orion_store::StoreError;

/// Why a command was refused or failed. The web layer maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required")]
    Unauthorized,
    /// 401 at an endpoint that takes its own kind of token (an integration's, an inventory
    /// agent's): the text says which token and where to make one.
    #[error("{0}")]
    TokenRefused(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid input: {0}")]
    Validation(FieldErrors),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidTransition(TransitionError),
    #[error("storage failure: {0}")]
    Store(StoreError),
    #[error("internal failure: {0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// The database is unavailable or busy: worth trying again later (an MTA gets a 4xx).
    pub fn is_temporary(&self) -> bool {
        matches!(self, AppError::Store(StoreError::Db(_)))
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("record"),
            StoreError::Stale => AppError::Conflict(
                "the ticket was changed by someone else at the same time; reload and try again".into(),
            ),
            StoreError::Duplicate => AppError::Conflict("a record with the same unique value already exists".into()),
            other => AppError::Store(other),
        }
    }
}

impl From<FieldErrors> for AppError {
    fn from(e: FieldErrors) -> Self {
        AppError::Validation(e)
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        AppError::Validation(e.into())
    }
}

impl From<TransitionError> for AppError {
    fn from(e: TransitionError) -> Self {
        AppError::InvalidTransition(e)
    }
}

/// A single-field validation error.
pub(crate) fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::Validation(FieldError::new(field, message).into())
}

/// A store lookup whose missing row is `what` not found (any other error passes through).
pub(crate) fn found<T>(r: Result<T, StoreError>, what: &'static str) -> AppResult<T> {
    match r {
        Err(StoreError::NotFound) => Err(AppError::NotFound(what)),
        other => Ok(other?),
    }
}

/// Records a validation failure among the other field errors and carries on;
/// any other failure (storage) stops the command.
pub(crate) fn collect<T>(errs: &mut FieldErrors, r: AppResult<T>) -> AppResult<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(AppError::Validation(e)) => {
            for f in e.iter() {
                errs.push(f.field.clone(), f.message.clone());
            }
            Ok(None)
        }
        Err(other) => Err(other),
    }
}
