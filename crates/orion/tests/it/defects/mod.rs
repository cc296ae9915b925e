//! Regressions for defects found by outside testing (issue 21), each on SQLite and PostgreSQL.

mod openapi;
mod requesters;
