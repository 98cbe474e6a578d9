//! Database connection, migrations and transactions, for SQLite and PostgreSQL alike.
//!
//! Domain code talks to [`Conn`] (`state.db.conn`) through sea-orm's `ConnectionTrait` and to a
//! transaction from [`Db::begin`]. `Conn` is the sqlx pool, except that on a SQLite file a
//! read-only statement outside a transaction runs inline through [`sqlite_reader`].
//!
//! Every write this process makes moves the *write generation* on (after a statement that is not
//! a `SELECT`, and when a transaction ends, committed or not). The credential cache
//! (`auth::cache`) keeps an entry only while the generation it was read under is current, so no
//! entry outlives a local write that could have changed it.

mod sqlite_reader;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use sqlite_reader::SqliteReader;

/// The connection pool.
#[derive(Clone)]
pub struct Db {
    pub conn: Conn,
    bookkeeping: Conn,
    /// SQL statements run through this pool since it opened (tests count them to prove that
    /// nested GraphQL lists are batched).
    statements: Arc<AtomicU64>,
}

/// A counter that moves on after every write this process makes (see the module comment).
#[derive(Clone, Default)]
pub struct WriteGeneration(Arc<AtomicU64>);

impl WriteGeneration {
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    pub fn advance(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

impl Db {
    /// Opens the pool: SQLite in WAL mode with a busy timeout and several reader connections;
    /// PostgreSQL with `max_connections` connections.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, DbErr> {
        let sqlite = url.starts_with("sqlite:");
        if sqlite {
            ensure_sqlite_dir(url);
        }
        let mut opts = ConnectOptions::new(url.to_string());
        opts.max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            // sqlx pings a pooled connection on every checkout by default: one more round trip
            // per statement (on PostgreSQL a whole extra network exchange). Only connections
            // idle long enough to have been dropped by the server or a proxy are pinged.
            .test_before_acquire_if_idle_for(Duration::from_secs(30))
            .sqlx_logging(false);
        if sqlite {
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        }
        let mut pool = Database::connect(opts).await?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        pool.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let reader = if sqlite { SqliteReader::for_url(url, statements.clone()).map(Arc::new) } else { None };
        let conn = Conn { pool, reader, generation: WriteGeneration::default() };
        let bookkeeping = Conn { generation: WriteGeneration::default(), ..conn.clone() };
        Ok(Db { conn, bookkeeping, statements })
    }

    /// Closes the pool (shutdown).
    pub async fn close(&self) {
        let _ = self.conn.pool.clone().close().await;
    }

    /// How many SQL statements this pool has run.
    pub fn statement_count(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// How many of them ran inline on the SQLite read path (always 0 on PostgreSQL).
    pub fn inline_statement_count(&self) -> u64 {
        self.conn.reader.as_ref().map_or(0, |r| r.inline_count())
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Begins a transaction for a change. On SQLite it is `BEGIN IMMEDIATE`: SQLite has one
    /// writer at a time, and a deferred transaction that reads before it writes fails with
    /// `SQLITE_BUSY` (instead of waiting) when another connection wrote first; an immediate one
    /// takes the write lock up front and waits its turn under the busy timeout.
    pub async fn begin(&self) -> Result<Txn, DbErr> {
        let inner = self
            .conn
            .pool
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        Ok(Txn { inner: Some(inner), generation: self.conn.generation.clone() })
    }

    /// The connection for tables that no cached read depends on (rate-limit counters, the mail
    /// outbox): its writes leave the write generation alone, so counting a request or sending
    /// an email does not empty the credential cache.
    pub fn bookkeeping(&self) -> &Conn {
        &self.bookkeeping
    }

    /// The write generation (moves on after every write of this process).
    pub fn write_generation(&self) -> &WriteGeneration {
        &self.conn.generation
    }

    /// Applies pending migrations. Several instances may start at once against one PostgreSQL:
    /// they serialize on an advisory lock held on one dedicated connection, so exactly one
    /// migrates and the others find nothing left to do.
    pub async fn migrate(url: &str) -> Result<(), DbErr> {
        Self::with_migration_lock(url, |conn| async move { Migrator::up(&conn, None).await }).await
    }

    /// Runs `f` on a single connection holding the migration lock (PostgreSQL) or on a fresh
    /// single connection (SQLite, where the database file lock already serializes DDL).
    pub async fn with_migration_lock<F, Fut, T>(url: &str, f: F) -> Result<T, DbErr>
    where
        F: FnOnce(DatabaseConnection) -> Fut,
        Fut: std::future::Future<Output = Result<T, DbErr>>,
    {
        let db = Db::connect(url, 1).await?;
        let conn = db.conn.pool.clone();
        let pg = db.backend() == DbBackend::Postgres;
        // An arbitrary constant that names "Gatehouse schema migrations" for pg_advisory_lock.
        const LOCK_KEY: i64 = 0x6761_7465_686f_7573;
        if pg {
            conn.execute_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT pg_advisory_lock({LOCK_KEY})"),
            ))
            .await?;
        }
        let result = f(conn.clone()).await;
        if pg {
            conn.execute_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT pg_advisory_unlock({LOCK_KEY})"),
            ))
            .await?;
        }
        conn.close().await?;
        result
    }

    /// True when a trivial query succeeds (readiness).
    pub async fn ping(&self) -> bool {
        tokio::time::timeout(Duration::from_secs(2), self.conn.pool.ping()).await.map(|r| r.is_ok()).unwrap_or(false)
    }
}

/// The application's connection: the sqlx pool, plus the inline reader on a SQLite file.
#[derive(Clone)]
pub struct Conn {
    pool: DatabaseConnection,
    reader: Option<Arc<SqliteReader>>,
    generation: WriteGeneration,
}

impl Conn {
    /// Reads inline when the reader takes the statement (`None`: use the pool).
    fn read_inline(&self, stmt: &Statement, first_only: bool) -> Result<Option<Vec<QueryResult>>, DbErr> {
        match &self.reader {
            Some(reader) => reader.query(stmt, first_only),
            None => Ok(None),
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Conn {
    fn get_database_backend(&self) -> DbBackend {
        self.pool.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let _written = Advance(&self.generation);
        self.pool.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let _written = Advance(&self.generation);
        self.pool.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self.read_inline(&stmt, true)? {
            Some(rows) => Ok(rows.into_iter().next()),
            None => {
                let _written = (!is_select(&stmt.sql)).then(|| Advance(&self.generation));
                self.pool.query_one_raw(stmt).await
            }
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self.read_inline(&stmt, false)? {
            Some(rows) => Ok(rows),
            None => {
                let _written = (!is_select(&stmt.sql)).then(|| Advance(&self.generation));
                self.pool.query_all_raw(stmt).await
            }
        }
    }

    fn support_returning(&self) -> bool {
        self.pool.support_returning()
    }
}

/// `INSERT ... RETURNING` and friends arrive as queries; only a `SELECT` is a read (also a
/// parenthesized one, as a `UNION ALL` of pages begins).
fn is_select(sql: &str) -> bool {
    sql.trim_start_matches(|c: char| c == '(' || c.is_whitespace())
        .get(..6)
        .is_some_and(|w| w.eq_ignore_ascii_case("select"))
}

/// Moves the write generation on when dropped: after the write finished (or failed, or its
/// future was dropped), never before it, so a reader that saw the old generation cannot keep
/// what it read past the write.
struct Advance<'a>(&'a WriteGeneration);

impl Drop for Advance<'_> {
    fn drop(&mut self) {
        self.0.advance();
    }
}

/// A transaction from [`Db::begin`]: sea-orm's, plus a move of the write generation when it ends
/// (commit, rollback, or drop).
pub struct Txn {
    inner: Option<DatabaseTransaction>,
    generation: WriteGeneration,
}

impl Txn {
    fn inner(&self) -> &DatabaseTransaction {
        self.inner.as_ref().expect("a transaction is used only until it ends")
    }

    pub async fn commit(mut self) -> Result<(), DbErr> {
        let inner = self.inner.take().expect("a transaction ends once");
        let result = inner.commit().await;
        self.generation.advance();
        result
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        // An uncommitted transaction rolls back as `DatabaseTransaction` drops; either way the
        // generation moves on once it is over.
        drop(self.inner.take());
        self.generation.advance();
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Txn {
    fn get_database_backend(&self) -> DbBackend {
        self.inner().get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.inner().execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.inner().execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.inner().query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.inner().query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.inner().support_returning()
    }
}

/// A raw statement written with PostgreSQL's `$1, $2...` placeholders, for either engine (SQLite
/// reads them as `?1, ?2...`).
pub fn statement(backend: DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => sql.to_string(),
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// The SQL text of a hot statement, rendered by sea-query once per backend and *shape* (which
/// optional clauses it has) instead of on every request: building a select of a whole entity
/// with a join and a subquery cost as much CPU as running it (bench/README.md).
///
/// The caller hands over the values in placeholder order together with a closure that builds
/// the statement the ordinary way. Debug builds (every test run, on both engines) build it every
/// time and assert that the cached text and the caller's values are exactly what sea-query
/// produces, so the two cannot drift apart unnoticed.
pub struct SqlByShape(std::sync::RwLock<Vec<(DbBackend, u32, Arc<str>)>>);

impl SqlByShape {
    pub const fn new() -> Self {
        SqlByShape(std::sync::RwLock::new(Vec::new()))
    }

    /// The statement of `shape`: the cached text with `values`. The first call of a shape
    /// renders the text with `build`; a release build caches it only if `values` are exactly
    /// the values sea-query bound, and otherwise answers with the built statement.
    pub fn statement(
        &self,
        backend: DbBackend,
        shape: u32,
        values: Vec<sea_orm::Value>,
        build: impl Fn() -> Statement,
    ) -> Statement {
        let cached = self
            .0
            .read()
            .ok()
            .and_then(|v| v.iter().find(|(b, s, _)| *b == backend && *s == shape).map(|(_, _, sql)| sql.clone()));
        let sql = match cached {
            Some(sql) => sql,
            None => {
                let built = build();
                if built.values.as_ref().map(|v| v.0.as_slice()).unwrap_or_default() != values.as_slice() {
                    debug_assert!(false, "values of shape {shape}: sea-query {:?}, given {values:?}", built.values);
                    return built;
                }
                let sql: Arc<str> = built.sql.as_str().into();
                if let Ok(mut v) = self.0.write() {
                    v.push((backend, shape, sql.clone()));
                }
                sql
            }
        };
        let stmt = Statement::from_sql_and_values(backend, sql.to_string(), values);
        if cfg!(debug_assertions) {
            // The tests run what a release build runs, checked against a fresh build.
            let built = build();
            assert_eq!(stmt.sql, built.sql, "SQL of shape {shape}");
            assert_eq!(stmt.values, built.values, "values of shape {shape}");
        }
        stmt
    }
}

/// The file of a `sqlite:` URL; `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let memory = path.is_empty() || path.starts_with(':') || query.split('&').any(|p| p == "mode=memory");
    (!memory).then_some(path)
}

/// `sqlite://data/gatehouse.db?mode=rwc` needs `data/` to exist before SQLite can create the file.
fn ensure_sqlite_dir(url: &str) {
    let Some(path) = sqlite_path(url) else {
        return;
    };
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            let _ = std::fs::create_dir_all(parent);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_selects_are_reads() {
        assert!(super::is_select("SELECT 1"));
        assert!(super::is_select("  ( select a FROM t LIMIT 1) UNION ALL (SELECT a FROM t LIMIT 1)"));
        assert!(!super::is_select("INSERT INTO t VALUES (1) RETURNING id"));
        assert!(!super::is_select("WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d"));
        assert!(!super::is_select("UPDATE t SET a = 1"));
        assert!(!super::is_select("SEL"));
    }
}
