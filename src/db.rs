//! Database connection setup for SQLite and Postgres.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use sea_orm::{
    sea_query::{Expr, Func, IntoColumnRef, SimpleExpr},
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
};

use crate::{
    config::Config,
    error::{AppError, AppResult},
};

/// Longest one database round of a background loop may take (an outbox relay batch, a job
/// lease, a heartbeat). Requests have `REQUEST_TIMEOUT_MS`; these loops had no deadline, so a
/// statement sent on a connection whose packets are dropped (a network black hole) waited for
/// good and the loop stopped until a restart. Dropping the round at the deadline releases its
/// connection (closed by the pool's liveness check) and the loop carries on with its backoff.
pub const BACKGROUND_DEADLINE: Duration = Duration::from_secs(10);

/// `round` bounded by [`BACKGROUND_DEADLINE`]: SERVICE_UNAVAILABLE when it takes longer.
pub async fn within_deadline<T>(
    what: &str,
    round: impl std::future::Future<Output = AppResult<T>>,
) -> AppResult<T> {
    match tokio::time::timeout(BACKGROUND_DEADLINE, round).await {
        Ok(r) => r,
        Err(_) => Err(AppError::Unavailable(format!(
            "{what}: no answer from the database within {BACKGROUND_DEADLINE:?}"
        ))),
    }
}

/// Serializes the transactions that call this with the same `key` until `txn` ends: a
/// count-then-insert limit (e.g. runs per organization per day) stays exact under concurrent
/// requests. Call it as the transaction's **first** statement.
///
/// PostgreSQL: a transaction-scoped advisory lock on the key's 64-bit hash; a waiter's later
/// statements see what the holder committed (read committed takes a snapshot per statement).
/// SQLite: a write that matches no row on `table`, which takes the database's write lock at
/// once. A deferred transaction that read first would fail its later write with
/// SQLITE_BUSY_SNAPSHOT when another writer committed in between; this one waits its turn.
pub async fn lock_key(
    txn: &impl ConnectionTrait,
    table: &'static str,
    key: &str,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let stmt = match backend {
        DatabaseBackend::Postgres => sea_orm::Statement::from_sql_and_values(
            backend,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [format!("{table}:{key}").into()],
        ),
        _ => {
            sea_orm::Statement::from_string(backend, format!("DELETE FROM \"{table}\" WHERE 0 = 1"))
        }
    };
    txn.execute_raw(stmt).await?;
    Ok(())
}

/// `select` (ordered, without a limit of its own) as a statement ending in `LIMIT n`, written
/// as a literal rather than a bind parameter.
///
/// PostgreSQL's plan cache costs the generic plan of a prepared statement with an unknown
/// `LIMIT $n` as reading a tenth of the table, so it keeps choosing a custom plan and plans the
/// statement again on every execution. For the compiled figure (a) statement that was as much
/// work as running it (pgbench `-M prepared`: 1,855/s with the parameter, 2,813/s with the
/// literal; docs/BENCHMARKS.md). Page sizes are validated integers, so nothing is interpolated
/// that came from a client as text; each page size gets its own prepared statement.
pub fn with_literal_limit<E: sea_orm::EntityTrait>(
    backend: DatabaseBackend,
    select: sea_orm::Select<E>,
    n: u64,
) -> sea_orm::Statement {
    use sea_orm::{QuerySelect, QueryTrait};
    let mut stmt = select.limit(None).build(backend);
    stmt.sql.push_str(&format!(" LIMIT {n}"));
    stmt
}

/// A numbered bind placeholder for raw SQL: `$i` on Postgres, `?i` on SQLite (numbered, so one
/// value can be used twice).
pub fn placeholder(backend: DatabaseBackend, i: usize) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("${i}"),
        _ => format!("?{i}"),
    }
}

/// An SQL expression for the epoch seconds of timestamp column `col` (a number; null stays null).
pub fn epoch_seconds(backend: DatabaseBackend, col: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("EXTRACT(EPOCH FROM {col})"),
        _ => format!("CAST(strftime('%s', {col}) AS INTEGER)"),
    }
}

/// An SQL expression for the text of top-level `key` of JSON column `col` (`key` is a fixed
/// identifier of the caller's, never input).
pub fn json_text(backend: DatabaseBackend, col: &str, key: &'static str) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("({col} ->> '{key}')"),
        _ => format!("json_extract({col}, '$.{key}')"),
    }
}

/// Placeholders `from .. from + n`, comma-separated (an `IN (…)` list).
pub fn placeholders(backend: DatabaseBackend, from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| placeholder(backend, i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `search` text of a list filter, trimmed: `None` when absent or blank, BAD_USER_INPUT
/// naming `filter.search` when longer than `max` characters.
pub fn search_text(search: Option<&str>, max: usize) -> AppResult<Option<&str>> {
    match search.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > max => Err(AppError::invalid(
            "filter.search",
            format!("must be at most {max} characters"),
        )),
        s => Ok(s),
    }
}

/// A `LIKE` pattern for values containing `s` (lowercased; `%` and `_` are dropped from `s`, so
/// the client's text never acts as a wildcard).
pub fn contains_pattern(s: &str) -> String {
    format!("%{}%", s.to_lowercase().replace(['%', '_'], ""))
}

/// `lower(column) LIKE '%s%'`: a case-insensitive "contains" on a text column.
pub fn lower_contains(column: impl IntoColumnRef, s: &str) -> SimpleExpr {
    use sea_orm::sea_query::ExprTrait as _;
    Expr::expr(Func::lower(Expr::col(column))).like(contains_pattern(s))
}

/// Records executed SQL when enabled (tests count statements per request with it).
#[derive(Clone, Default)]
pub struct StatementLog(Option<Arc<Mutex<Vec<String>>>>);

impl StatementLog {
    /// A log that records (`enabled`) or ignores statements.
    pub fn new(enabled: bool) -> Self {
        StatementLog(enabled.then(|| Arc::new(Mutex::new(Vec::new()))))
    }

    fn push(&self, sql: &str) {
        if let Some(v) = &self.0 {
            if let Ok(mut v) = v.lock() {
                v.push(sql.to_string());
            }
        }
    }

    /// Takes the recorded statements, leaving the log empty.
    pub fn take(&self) -> Vec<String> {
        self.0
            .as_ref()
            .and_then(|v| v.lock().ok().map(|mut v| std::mem::take(&mut *v)))
            .unwrap_or_default()
    }
}

/// Connects and tunes the pool. SQLite (embedded mode) uses one connection in WAL mode: SQLite
/// serializes writers anyway, and a single connection rules out `database is locked` errors.
pub async fn connect(config: &Config, log: StatementLog) -> Result<DatabaseConnection, DbErr> {
    if config.is_sqlite() {
        let _ = std::fs::create_dir_all(&config.data_dir);
        if let Some(path) = sqlite_path(&config.database_url) {
            if let Some(parent) = std::path::Path::new(&path).parent() {
                let _ = std::fs::create_dir_all(parent);
            }
        }
    }
    let mut opts = ConnectOptions::new(config.database_url.clone());
    opts.sqlx_logging(false)
        .connect_timeout(config.database_acquire_timeout)
        .acquire_timeout(config.database_acquire_timeout);
    if config.is_sqlite() {
        opts.max_connections(1).min_connections(1);
    } else {
        let max = config.database_max_connections.max(1);
        // sqlx pings every connection it hands out by default: a round trip and a server-side
        // ReadyForQuery per statement, ~9 % of the server's CPU on the figure (a) load (perf
        // call graph, docs/BENCHMARKS.md). Only connections idle long enough to have been
        // dropped by the server or a proxy are pinged now; a hot connection that broke anyway
        // fails its statement and is discarded by the pool.
        // Every ping has a deadline ([`Liveness`]): a connection whose peer went silent is
        // closed instead of being kept (and its permit held) forever.
        let live = Liveness::new(config.database_ping_timeout, Duration::from_secs(30));
        let (on_acquire, on_release) = (live.clone(), live);
        opts.test_before_acquire(false)
            .map_sqlx_postgres_before_acquire(move |conn, meta| {
                on_acquire.before_acquire(conn, meta)
            })
            .map_sqlx_postgres_pool_opts(move |pool| {
                let live = on_release.clone();
                pool.after_release(move |conn, _| live.after_release(conn))
            });
        opts.max_connections(max)
            .min_connections(config.database_min_connections.clamp(1, max));
    }
    let mut db = Database::connect(opts).await?;
    db.set_metric_callback(move |info| {
        metrics::counter!("db_statements_total", "failed" => if info.failed { "true" } else { "false" }).increment(1);
        metrics::histogram!("db_statement_duration_seconds").record(info.elapsed.as_secs_f64());
        log.push(&info.statement.sql);
    });
    if config.is_sqlite() {
        db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
        db.execute_unprepared("PRAGMA synchronous=NORMAL").await?;
        db.execute_unprepared("PRAGMA foreign_keys=ON").await?;
    }
    Ok(db)
}

/// Keeps the PostgreSQL pool free of connections whose peer went silent (a black hole: a dead
/// host, a dropped NAT entry, a partition; packets dropped, no FIN, no RST ever comes).
///
/// sqlx pings a connection when it goes back to the pool (`return_to_pool`: it drains what a
/// cancelled statement left, e.g. after `REQUEST_TIMEOUT_MS` dropped the request) and waits for
/// the answer without a deadline, holding the connection's pool permit meanwhile. On a silent
/// peer that wait never ends: one by one every permit is held by a ping that hangs, and after
/// the network heals every acquire still times out. The server never recovered without a
/// restart (the fault suite's postgres/blackhole). So every release pings first here with
/// `DATABASE_PING_TIMEOUT_MS`; past it the connection is closed and its permit freed (sqlx's own
/// ping follows only on an answered one: one more Sync round trip, off the request path).
///
/// A connection is pinged (with the same deadline) before it is handed out only when it sat
/// idle for `idle_ping_after`, or went idle before the last failed ping of the pool: after a
/// black hole every idle connection is suspect once, a hot path pays nothing.
#[derive(Clone)]
struct Liveness(Arc<LivenessInner>);

struct LivenessInner {
    ping_timeout: Duration,
    idle_ping_after: Duration,
    started: std::time::Instant,
    /// Milliseconds after `started` of the last failed ping, plus one (0: none yet).
    last_failure_ms: std::sync::atomic::AtomicU64,
}

type HookResult<'c> = futures::future::BoxFuture<'c, Result<bool, sea_orm::sqlx::Error>>;

impl Liveness {
    fn new(ping_timeout: Duration, idle_ping_after: Duration) -> Self {
        Liveness(Arc::new(LivenessInner {
            ping_timeout,
            idle_ping_after,
            started: std::time::Instant::now(),
            last_failure_ms: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.0.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether a connection idle for `idle_for` went idle before the last failed ping.
    fn idle_since_last_failure(&self, idle_for: Duration) -> bool {
        use std::sync::atomic::Ordering;
        let failed = self.0.last_failure_ms.load(Ordering::Relaxed);
        let idle_ms = u64::try_from(idle_for.as_millis()).unwrap_or(u64::MAX);
        failed > 0 && self.now_ms().saturating_sub(idle_ms) < failed
    }

    /// A ping with a deadline; a failure is remembered (idle connections get pinged once).
    async fn ping(
        &self,
        conn: &mut sea_orm::sqlx::PgConnection,
    ) -> Result<(), sea_orm::sqlx::Error> {
        use sea_orm::sqlx::Connection as _;
        let outcome = match tokio::time::timeout(self.0.ping_timeout, conn.ping()).await {
            Ok(r) => r,
            Err(_) => Err(sea_orm::sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer to a ping within DATABASE_PING_TIMEOUT_MS",
            ))),
        };
        if let Err(e) = &outcome {
            self.0
                .last_failure_ms
                .store(self.now_ms() + 1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(error = %e, "database connection dropped: its ping failed");
        }
        outcome
    }

    fn before_acquire<'c>(
        &self,
        conn: &'c mut sea_orm::sqlx::PgConnection,
        meta: sea_orm::sqlx::pool::PoolConnectionMetadata,
    ) -> HookResult<'c> {
        let live = self.clone();
        Box::pin(async move {
            if meta.idle_for >= live.0.idle_ping_after
                || live.idle_since_last_failure(meta.idle_for)
            {
                live.ping(conn).await?;
            }
            Ok(true)
        })
    }

    /// An `Err` makes sqlx close the connection hard (no goodbye on a dead socket).
    fn after_release<'c>(&self, conn: &'c mut sea_orm::sqlx::PgConnection) -> HookResult<'c> {
        let live = self.clone();
        Box::pin(async move { live.ping(conn).await.map(|()| true) })
    }
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

/// The backend's name for health and logs.
pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "postgres",
        sea_orm::DatabaseBackend::Sqlite => "sqlite",
        _ => "other",
    }
}

/// Refreshes PostgreSQL's planner statistics of `table` after a job added `added` rows to it,
/// when that is past autovacuum's own analyze threshold (50 rows plus 10 % of the rows the
/// statistics know of; any number when the table was never analyzed). Returns whether it ran.
///
/// Autovacuum would do the same, but only on its next round (a minute by default). Until then a
/// table that grew from nothing keeps the planner's guesses for an empty one: it scanned all of
/// an organization's leads to find 32 of them by email (0.6–0.9 ms a lookup against 0.18 ms
/// through the unique index once analyzed; docs/BENCHMARKS.md, figure g). `table` is a name
/// from the code, never from input. Other backends have nothing to do.
pub async fn analyze_if_grown(
    db: &DatabaseConnection,
    table: &'static str,
    added: u64,
) -> Result<bool, DbErr> {
    if db.get_database_backend() != DatabaseBackend::Postgres || added == 0 {
        return Ok(false);
    }
    let row = db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass($1)",
            [table.into()],
        ))
        .await?;
    let Some(known) = row.map(|r| r.try_get::<f64>("", "n")).transpose()? else {
        return Ok(false);
    };
    // reltuples is -1 until the table is first vacuumed or analyzed.
    #[allow(clippy::cast_precision_loss)]
    let grown = known < 0.0 || added as f64 > 50.0 + 0.1 * known;
    if grown {
        db.execute_unprepared(&format!("ANALYZE {table}")).await?;
    }
    Ok(grown)
}

/// [`analyze_if_grown`] in the background (a failure is only logged: statistics are an
/// optimization, and autovacuum catches up anyway).
pub fn spawn_analyze_if_grown(db: &DatabaseConnection, table: &'static str, added: u64) {
    if db.get_database_backend() != DatabaseBackend::Postgres || added == 0 {
        return;
    }
    let db = db.clone();
    tokio::spawn(async move {
        if let Err(e) = analyze_if_grown(&db, table, added).await {
            tracing::warn!(table, error = %e, "refreshing planner statistics failed");
        }
    });
}

pub mod buckets;
pub mod fast;
pub mod wire;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_limit_ends_the_statement() {
        use sea_orm::{EntityTrait, QueryOrder, QuerySelect};
        let select = entity::lead::Entity::find()
            .order_by_desc(entity::lead::Column::Id)
            .limit(7);
        for backend in [DatabaseBackend::Postgres, DatabaseBackend::Sqlite] {
            let stmt = with_literal_limit(backend, select.clone(), 51);
            assert!(stmt.sql.ends_with("DESC LIMIT 51"), "{}", stmt.sql);
            assert_eq!(stmt.sql.matches("LIMIT").count(), 1, "{}", stmt.sql);
        }
    }

    #[tokio::test]
    async fn a_database_that_accepts_and_never_answers_fails_within_the_acquire_timeout() {
        // Accepts TCP connections and never says a word (a hung server, a black hole).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                open.push(s);
            }
        });
        let url = format!("postgres://app@127.0.0.1:{port}/db");
        let env = [
            ("DATABASE_URL", url.as_str()),
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "500"),
        ];
        let config = Config::from_lookup(|k| {
            env.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        let started = std::time::Instant::now();
        let err = connect(&config, StatementLog::default()).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        let app_err = crate::error::AppError::from(err);
        assert_eq!(
            app_err.code(),
            crate::error::ErrorCode::Unavailable,
            "{app_err:?}"
        );
        held.abort();
    }

    #[test]
    fn search_text_is_trimmed_and_bounded() {
        assert_eq!(search_text(None, 5).ok(), Some(None));
        assert_eq!(search_text(Some("  "), 5).ok(), Some(None));
        assert_eq!(search_text(Some(" ab "), 5).ok(), Some(Some("ab")));
        assert_eq!(search_text(Some("ééééé"), 5).ok(), Some(Some("ééééé")));
        match search_text(Some("abcdef"), 5) {
            Err(AppError::BadUserInput { fields, .. }) => {
                assert_eq!(fields[0].field, "filter.search");
                assert_eq!(fields[0].message, "must be at most 5 characters");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(contains_pattern("A%b_C"), "%abc%");
    }

    #[test]
    fn placeholders_follow_the_backend() {
        assert_eq!(placeholders(DatabaseBackend::Postgres, 2, 3), "$2, $3, $4");
        assert_eq!(placeholders(DatabaseBackend::Sqlite, 1, 2), "?1, ?2");
        assert_eq!(placeholders(DatabaseBackend::Sqlite, 1, 0), "");
        assert_eq!(placeholder(DatabaseBackend::Postgres, 7), "$7");
    }
}
