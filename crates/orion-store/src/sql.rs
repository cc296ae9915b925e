//! A small builder for SQL whose shape depends on the request (filters, keyset
//! cursors). Placeholders are `$n` on both engines; values are always bound.

/// A value to bind.
#[derive(Debug, Clone)]
pub enum Bind {
    I64(i64),
    Text(String),
    OptI64(Option<i64>),
    OptText(Option<String>),
    F64(f64),
    OptF64(Option<f64>),
}

/// SQL text plus its binds, in order.
#[derive(Debug, Default, Clone)]
pub struct Sql {
    text: String,
    binds: Vec<Bind>,
    /// Planned for its values on every run (not a cached prepared statement).
    one_off: bool,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self { text: text.to_string(), binds: Vec::new(), one_off: false }
    }

    /// Runs the statement unprepared, so that PostgreSQL plans it for the values bound each
    /// time. A cached statement gets a generic plan after five runs, blind to the values —
    /// wrong for full-text queries, whose best plan depends on how common the words are.
    pub fn plan_each_time(&mut self) -> &mut Self {
        self.one_off = true;
        self
    }

    pub fn is_one_off(&self) -> bool {
        self.one_off
    }

    /// Appends literal SQL (never user input).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        self.text.push('$');
        self.text.push_str(&self.binds.len().to_string());
        self
    }

    pub fn bind_i64(&mut self, v: i64) -> &mut Self {
        self.bind(Bind::I64(v))
    }

    pub fn bind_text(&mut self, v: impl Into<String>) -> &mut Self {
        self.bind(Bind::Text(v.into()))
    }

    /// Appends `(p1, p2, …)` with a placeholder for each of `values` (never empty: callers check).
    pub fn bind_list<T: Clone>(&mut self, values: &[T], bind: impl Fn(T) -> Bind) -> &mut Self {
        self.push("(");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(bind(v.clone()));
        }
        self.push(")")
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn binds(&self) -> &[Bind] {
        &self.binds
    }
}

/// Binds every value of a built [`Sql`] to a query of either engine, in order.
#[macro_export]
#[doc(hidden)]
macro_rules! bind_sql {
    ($q:expr, $sql:expr) => {{
        let mut q = $q;
        for b in $sql.binds() {
            q = match b {
                $crate::sql::Bind::I64(v) => q.bind(*v),
                $crate::sql::Bind::Text(v) => q.bind(v.clone()),
                $crate::sql::Bind::OptI64(v) => q.bind(*v),
                $crate::sql::Bind::OptText(v) => q.bind(v.clone()),
                $crate::sql::Bind::F64(v) => q.bind(*v),
                $crate::sql::Bind::OptF64(v) => q.bind(*v),
            };
        }
        q
    }};
}

/// Runs a `query_as::<_, $row>` over a built [`Sql`] with `fetch_all` on a `&mut Conn`.
#[macro_export]
macro_rules! fetch_all_sql {
    ($conn:expr, $row:ty, $sql:expr) => {{
        let sql: &$crate::sql::Sql = $sql;
        $crate::with_conn!($conn, |c| {
            let q = $crate::sqlx::query_as::<_, $row>($crate::sqlx::AssertSqlSafe(sql.text().to_string()))
                .persistent(!sql.is_one_off());
            let q = $crate::bind_sql!(q, sql);
            q.fetch_all(c).await
        })
    }};
}

/// Executes a built [`Sql`] on a `&mut Conn`; evaluates to the rows affected.
#[macro_export]
macro_rules! execute_sql {
    ($conn:expr, $sql:expr) => {{
        let sql: &$crate::sql::Sql = $sql;
        $crate::with_conn!($conn, |c| {
            let q = $crate::sqlx::query($crate::sqlx::AssertSqlSafe(sql.text().to_string()));
            let q = $crate::bind_sql!(q, sql);
            q.execute(c).await.map(|r| r.rows_affected())
        })
    }};
}

/// Whether the rows `select` writes (a `SELECT` without `LIMIT`, into the builder it is given) are
/// fewer than `cap`, reading at most `cap` of them: a bounded look at how long a walk would be,
/// for the places that choose between walking an index and looking up a few rows.
pub(crate) async fn fewer_than(
    conn: &mut crate::Conn<'_>,
    cap: i64,
    select: impl FnOnce(&mut Sql),
) -> crate::Result<bool> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM (");
    select(&mut sql);
    sql.push(" LIMIT ").bind_i64(cap).push(") AS p");
    let n: Vec<(i64,)> = crate::fetch_all_sql!(conn, (i64,), &sql)?;
    Ok(n.first().is_some_and(|(n,)| *n < cap))
}
