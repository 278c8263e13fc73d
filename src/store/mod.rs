//! The database, SQLite or PostgreSQL, behind one code path.
//!
//! Every query is written once. A [`Store`] or [`Tx`] is an enum over the two
//! sqlx backends, and the [`on_pool!`]/[`on_tx!`] macros expand the same body
//! for each arm, so the compiler type-checks that body against both drivers.
//! (`sqlx::Any` would also give one path, but it has no DATE, no Decimal and
//! no access to PostgreSQL's `COPY`, which the import needs for speed; a
//! generic `DB: Database` repository drowns in trait bounds.) The only
//! dialect-specific code is the bulk load in [`claims`] and the job lock in
//! [`lock`].

pub mod claims;
pub mod jobs;
pub mod lock;
pub mod parties;
pub mod report;
pub mod runs;
pub mod statements;
pub mod watch;

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};

/// The schema: one portable set of migrations for both databases.
static PORTABLE: Migrator = sqlx::migrate!("./migrations");

/// What PostgreSQL alone needs on top of it (a check SQLite does at a set's
/// cost and PostgreSQL row by row, done there by statement). Its versions
/// are taken from the same sequence as the portable ones and never reused.
static POSTGRES_ONLY: Migrator = sqlx::migrate!("./migrations/postgres");

/// All the migrations a database of `backend` runs, in version order.
fn migrator(backend: Backend) -> Migrator {
    let extra = match backend {
        Backend::Sqlite => &[][..],
        Backend::Postgres => &POSTGRES_ONLY.migrations[..],
    };
    Migrator::with_migrations(PORTABLE.iter().chain(extra).cloned().collect())
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or postgres://…")]
    Url(String),
    /// The database holds something our own writes can never produce.
    #[error("inconsistent data in the database: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub enum Store {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A transaction on either backend.
pub enum Tx {
    Postgres(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
}

/// Runs `$body` with `$p` bound to the backend's pool.
macro_rules! on_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Postgres($p) => $body,
            $crate::store::Store::Sqlite($p) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the backend's `&mut Transaction`.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Postgres($c) => $body,
            $crate::store::Tx::Sqlite($c) => $body,
        }
    };
}

/// Streams `$sql` bound to `$binds`, calling `$f` on each row of type `$row`
/// (the caller imports `futures_util::TryStreamExt`).
macro_rules! stream_rows {
    ($store:expr, $row:ty, $sql:expr, [$($bind:expr),*], $f:expr) => {{
        let f = &mut $f;
        $crate::store::on_pool!($store, p => {
            let mut rows = sqlx::query_as::<_, $row>($sql)$(.bind($bind))*.fetch(p);
            while let Some(row) = rows.try_next().await.map_err($crate::store::StoreError::from)? {
                f(row)?;
            }
        });
        Ok(())
    }};
}

#[allow(unused_imports)]
pub(crate) use {on_pool, on_tx, stream_rows};

/// Bound values per multi-row statement: under SQLite's limit of 32,766
/// (PostgreSQL's is 65,535).
const MAX_BINDS: usize = 32_000;

/// Rows per multi-row statement binding `values` values a row: as many as
/// the limit allows. Fewer, larger statements: at 1,000 rows a statement
/// PostgreSQL took 11-12 s to import 250,000 members and their bank
/// details, 6-8 s at 4,000.
const fn rows_per_statement(values: usize) -> usize {
    MAX_BINDS / values
}

impl Store {
    /// Opens the database named by `url` and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Store> {
        let store = if url.starts_with("sqlite:") {
            Store::Sqlite(connect_sqlite(url).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store::Postgres(connect_postgres(url).await?)
        } else {
            return Err(StoreError::Url(crate::redact::database_url(url)));
        };
        let migrator = migrator(store.backend());
        on_pool!(&store, p => migrator.run(p).await?);
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Postgres(_) => Backend::Postgres,
            Store::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that upgrades later can
    /// fail with SQLITE_BUSY instead of waiting for the other writer.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Store::Postgres(p) => Tx::Postgres(p.begin().await?),
            Store::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        on_tx!(self, t => t.commit().await?);
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        on_tx!(self, t => t.rollback().await?);
        Ok(())
    }
}

async fn connect_sqlite(url: &str) -> Result<SqlitePool> {
    let opts = SqliteConnectOptions::from_str(url)?;
    create_private(opts.get_filename());
    let opts = opts
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(60))
        // A settlement day touches a million-row index: SQLite's default
        // 2 MB page cache would re-read it from disk for every insert. 64 MB
        // per connection, 4 connections: the cache stays within the day's
        // memory budget (docs/performance.md).
        .pragma("cache_size", "-65536")
        // Temporary tables (an import's staged file, a run's due claims)
        // and large sorts go to a temporary file, read through a page cache
        // of their own. Kept in memory they grew with the file: 3 GB for a
        // 10,000,000-claim import. The file is SQLite's, unlinked as soon
        // as it is opened, in SQLITE_TMPDIR (else TMPDIR, else /var/tmp or
        // /tmp; docs/operations.md).
        .pragma("temp_store", "file")
        .pragma("temp.cache_size", "-65536");
    Ok(SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(opts)
        .await?)
}

/// The database holds health data: create its file owner read/write, group
/// read, like the run files, instead of SQLite's world-readable default
/// under the usual umask. SQLite gives its `-wal` and `-shm` files the mode
/// of the database file.
fn create_private(path: &std::path::Path) {
    #[cfg(unix)]
    if !path.as_os_str().is_empty() && !path.to_string_lossy().starts_with(':') {
        use std::os::unix::fs::OpenOptionsExt;
        // Fails when the file exists (keep its mode) or its folder does not
        // (SQLite reports that when it opens it).
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o640)
            .open(path);
    }
}

async fn connect_postgres(url: &str) -> Result<PgPool> {
    let opts = PgConnectOptions::from_str(url)?;
    Ok(PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(opts)
        .await?)
}

/// Timestamps are stored as RFC 3339 text in UTC on both backends: portable,
/// readable, and ordered correctly as text.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::{Backend, PORTABLE, POSTGRES_ONLY, Store, migrator};

    /// The two folders share one sequence of versions: a version in both
    /// would be run once on PostgreSQL (the first found) and its twin
    /// never, and a database could not tell which it has.
    #[test]
    fn postgres_only_versions_are_their_own() {
        let portable: Vec<i64> = PORTABLE.iter().map(|m| m.version).collect();
        assert!(!POSTGRES_ONLY.migrations.is_empty());
        for m in POSTGRES_ONLY.iter() {
            assert!(
                !portable.contains(&m.version),
                "version {} twice",
                m.version
            );
        }
        let versions = |b| migrator(b).iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(Backend::Sqlite), portable);
        let mut all = [portable, POSTGRES_ONLY.iter().map(|m| m.version).collect()].concat();
        all.sort();
        assert_eq!(versions(Backend::Postgres), all);
    }

    /// Temporary tables hold whole files (the claims stage) and whole runs
    /// (`run_due`): in memory they would make a large day's memory grow
    /// with its claims. Each connection must put them in a temporary file
    /// behind a bounded cache.
    #[tokio::test]
    async fn sqlite_temporary_tables_live_in_a_file_with_a_bounded_cache() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("temp.db").display());
        let Store::Sqlite(pool) = Store::connect(&url).await.expect("store") else {
            unreachable!("a SQLite store")
        };
        for _ in 0..2 {
            let mut c = pool.acquire().await.expect("connection");
            let store: i64 = sqlx::query_scalar("PRAGMA temp_store")
                .fetch_one(&mut *c)
                .await
                .expect("temp_store");
            assert_eq!(store, 1, "temp_store = FILE");
            let cache: i64 = sqlx::query_scalar("PRAGMA temp.cache_size")
                .fetch_one(&mut *c)
                .await
                .expect("temp cache");
            assert_eq!(cache, -65536, "temp page cache of 64 MiB");
        }
    }
}
