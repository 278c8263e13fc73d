//! One runner per job, across processes and machines: a lock in the
//! database, never a lock file.
//!
//! - PostgreSQL: a session advisory lock, on a connection taken out of the
//!   pool. If the process dies, the server closes the session and the lock
//!   goes with it.
//! - SQLite: a lease row in `job_locks` naming `host:pid`, refreshed by a
//!   heartbeat. A lease whose process is gone (same host) or whose
//!   heartbeat is older than [`LEASE_STALE_SECS`] is taken over.

use std::time::Duration;

use chrono::Utc;
use sqlx::Connection;
use sqlx::pool::PoolConnection;
use tokio::task::JoinHandle;

use super::{Result, Store, timestamp};

/// A lease not refreshed for this long belongs to a hung or dead process.
pub const LEASE_STALE_SECS: i64 = 120;
const HEARTBEAT: Duration = Duration::from_secs(20);

/// Held lock; release it with [`JobLock::release`].
pub struct JobLock {
    inner: Inner,
}

enum Inner {
    Postgres(sqlx::PgConnection),
    Sqlite {
        store: Store,
        name: String,
        holder: String,
        heartbeat: JoinHandle<()>,
    },
}

/// Who holds a lock we could not take.
#[derive(Debug, Clone)]
pub struct Holder {
    pub holder: String,
    pub since: String,
}

impl Store {
    /// Takes the lock named `job` without waiting: `Err(holder)` when busy.
    pub async fn try_lock(&self, job: &str) -> Result<std::result::Result<JobLock, Holder>> {
        match self {
            Store::Postgres(pool) => {
                let mut conn = PoolConnection::detach(pool.acquire().await?);
                let got: bool = sqlx::query_scalar(
                    "SELECT pg_try_advisory_lock(hashtext(current_database() || ':' || current_schema() || ':' || $1))")
                    .bind(job).fetch_one(&mut conn).await?;
                if got {
                    return Ok(Ok(JobLock {
                        inner: Inner::Postgres(conn),
                    }));
                }
                conn.close().await?;
                Ok(Err(Holder {
                    holder: "another PostgreSQL session".into(),
                    since: "unknown".into(),
                }))
            }
            Store::Sqlite(_) => self.try_lease(job).await,
        }
    }

    async fn try_lease(&self, job: &str) -> Result<std::result::Result<JobLock, Holder>> {
        let Store::Sqlite(pool) = self else {
            unreachable!("lease is the SQLite lock")
        };
        let me = holder_id();
        let now = Utc::now();
        let stale = timestamp(now - chrono::Duration::seconds(LEASE_STALE_SECS));
        let current: Option<(String, String)> =
            sqlx::query_as("SELECT holder, acquired_at FROM job_locks WHERE name = $1")
                .bind(job)
                .fetch_optional(pool)
                .await?;
        let dead = current.as_ref().is_some_and(|(h, _)| holder_is_dead(h));
        let taken = sqlx::query(
            "INSERT INTO job_locks (name, holder, acquired_at, heartbeat_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
               acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at \
             WHERE job_locks.heartbeat_at < $4 OR job_locks.holder = $5")
            .bind(job).bind(&me).bind(timestamp(now)).bind(&stale)
            .bind(if dead { current.as_ref().map_or("", |c| c.0.as_str()) } else { "" })
            .execute(pool).await?.rows_affected() == 1;
        if !taken {
            let (holder, since) = current.unwrap_or_default();
            return Ok(Err(Holder { holder, since }));
        }
        if dead {
            tracing::warn!(job, previous = %current.map(|c| c.0).unwrap_or_default(), "took over the lock of a process that no longer exists");
        }
        let heartbeat = tokio::spawn(heartbeat(pool.clone(), job.to_owned(), me.clone()));
        Ok(Ok(JobLock {
            inner: Inner::Sqlite {
                store: self.clone(),
                name: job.to_owned(),
                holder: me,
                heartbeat,
            },
        }))
    }
}

impl JobLock {
    pub async fn release(self) -> Result<()> {
        match self.inner {
            Inner::Postgres(conn) => conn.close().await?,
            Inner::Sqlite {
                store,
                name,
                holder,
                heartbeat,
            } => {
                heartbeat.abort();
                if let Store::Sqlite(pool) = &store {
                    sqlx::query("DELETE FROM job_locks WHERE name = $1 AND holder = $2")
                        .bind(name)
                        .bind(holder)
                        .execute(pool)
                        .await?;
                }
            }
        }
        Ok(())
    }
}

async fn heartbeat(pool: sqlx::SqlitePool, name: String, holder: String) {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let r =
            sqlx::query("UPDATE job_locks SET heartbeat_at = $3 WHERE name = $1 AND holder = $2")
                .bind(&name)
                .bind(&holder)
                .bind(timestamp(Utc::now()))
                .execute(&pool)
                .await;
        if let Err(e) = r {
            tracing::warn!(job = %name, error = %e, "could not refresh the job lease");
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// `host:pid`, unique for this process; the random suffix tells two
/// processes apart across a pid reuse.
fn holder_id() -> String {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{}:{}:{nonce:08x}", hostname(), std::process::id())
    })
    .clone()
}

/// True when `holder` is a process of this host that no longer runs.
fn holder_is_dead(holder: &str) -> bool {
    let mut parts = holder.split(':');
    let (Some(host), Some(pid)) = (
        parts.next(),
        parts.next().and_then(|p| p.parse::<u32>().ok()),
    ) else {
        return false;
    };
    host == hostname()
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}
