//! The live schema as data, so a test can prove both engines agree.

use crate::{Conn, Result, with_conn};
use std::collections::BTreeMap;

/// A column as both engines can describe it: name, type class, NOT NULL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub name: String,
    pub class: &'static str,
    pub not_null: bool,
}

/// Maps the many spellings of a type to one class: int, text, bool, real.
fn class_of(declared: &str) -> &'static str {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") {
        "int"
    } else if t.contains("bool") {
        "bool"
    } else if t.contains("char") || t.contains("text") {
        "text"
    } else if t.contains("real") || t.contains("double") || t.contains("numeric") || t.contains("float") {
        "real"
    } else {
        "other"
    }
}

/// Every user table and its columns (sorted), excluding engine internals and the full-text
/// indexes (`fts_*`: an FTS5 virtual table and a tsvector table cannot look alike).
pub async fn describe(conn: &mut Conn<'_>) -> Result<BTreeMap<String, Vec<Column>>> {
    let rows: Vec<(String, String, String, bool)> = match conn.engine() {
        crate::Engine::Sqlite => with_conn!(conn, |c| {
            sqlx::query_as(
                "SELECT m.name, p.name, p.type, p.\"notnull\" OR p.pk > 0
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'fts_%'",
            )
            .fetch_all(c)
            .await
        })?,
        crate::Engine::Postgres => with_conn!(conn, |c| {
            sqlx::query_as(
                "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'NO'
                 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT LIKE 'fts_%'",
            )
            .fetch_all(c)
            .await
        })?,
    };
    let mut out: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    for (table, name, declared, not_null) in rows {
        out.entry(table).or_default().push(Column { name, class: class_of(&declared), not_null });
    }
    for cols in out.values_mut() {
        cols.sort();
    }
    Ok(out)
}
