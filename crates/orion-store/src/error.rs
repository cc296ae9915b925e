use sqlx::error::ErrorKind;

/// What went wrong in storage, classified by kind (SQLite names no constraints).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("the row was changed by someone else in the meantime")]
    Stale,
    #[error("a row with the same unique value already exists")]
    Duplicate,
    #[error("a referenced row does not exist")]
    ForeignKey,
    #[error("a value breaks a check constraint")]
    Check,
    #[error("invalid database URL: {0}")]
    Url(String),
    #[error("database schema: {0}")]
    Schema(String),
    #[error("unexpected value {value:?} in column {column}")]
    Corrupt { column: &'static str, value: String },
    #[error(transparent)]
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(d) => match d.kind() {
                ErrorKind::UniqueViolation => StoreError::Duplicate,
                ErrorKind::ForeignKeyViolation => StoreError::ForeignKey,
                ErrorKind::CheckViolation | ErrorKind::NotNullViolation => StoreError::Check,
                _ => StoreError::Db(e),
            },
            _ => StoreError::Db(e),
        }
    }
}
