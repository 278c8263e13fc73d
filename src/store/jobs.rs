//! Job run history (`job_runs`) and alert de-duplication state
//! (`alert_state`, `alert_items`): migration 0002.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Result, Store, StoreError, on_pool, on_tx};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Ok,
    Failed,
    /// Another process held the job's lock: tried again at the next tick.
    Busy,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Ok => "ok",
            JobStatus::Failed => "failed",
            JobStatus::Busy => "busy",
        }
    }

    fn parse(s: &str) -> Result<JobStatus> {
        Ok(match s {
            "running" => JobStatus::Running,
            "ok" => JobStatus::Ok,
            "failed" => JobStatus::Failed,
            "busy" => JobStatus::Busy,
            other => return Err(StoreError::Corrupt(format!("unknown job status {other:?}"))),
        })
    }
}

/// One execution of a job.
#[derive(Clone, Debug)]
pub struct JobRun {
    pub job: String,
    pub slot: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: JobStatus,
    pub run_id: Option<String>,
    pub detail: Option<String>,
}

#[derive(FromRow)]
struct JobRunRow {
    job: String,
    slot: String,
    started_at: String,
    finished_at: Option<String>,
    status: String,
    run_id: Option<String>,
    detail: Option<String>,
}

impl TryFrom<JobRunRow> for JobRun {
    type Error = StoreError;
    fn try_from(r: JobRunRow) -> Result<JobRun> {
        Ok(JobRun {
            status: JobStatus::parse(&r.status)?,
            job: r.job,
            slot: r.slot,
            started_at: r.started_at,
            finished_at: r.finished_at,
            run_id: r.run_id,
            detail: r.detail,
        })
    }
}

const JOB_RUN_COLUMNS: &str = "job, slot, started_at, finished_at, status, run_id, detail";

/// What the last alert e-mail of a channel said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertState {
    /// `problems` (a digest) or `recovered`.
    pub state: String,
    pub fingerprint: String,
    pub problems: i64,
    pub sent_at: String,
    /// The problem keys the last digest covered.
    pub items: BTreeSet<String>,
}

impl Store {
    /// Records the start of an execution; returns its `started_at`, the
    /// handle for [`Store::finish_job_run`].
    pub async fn start_job_run(&self, job: &str, slot: &str, now: DateTime<Utc>) -> Result<String> {
        let started_at = super::timestamp(now);
        on_pool!(self, p => sqlx::query(
            "INSERT INTO job_runs (job, slot, started_at, status) VALUES ($1, $2, $3, 'running')")
            .bind(job).bind(slot).bind(&started_at).execute(p).await?.rows_affected());
        Ok(started_at)
    }

    pub async fn finish_job_run(
        &self,
        job: &str,
        slot: &str,
        started_at: &str,
        status: JobStatus,
        run_id: Option<&str>,
        detail: Option<&str>,
    ) -> Result<()> {
        on_pool!(self, p => sqlx::query(
            "UPDATE job_runs SET status = $4, finished_at = $5, run_id = $6, detail = $7 \
             WHERE job = $1 AND slot = $2 AND started_at = $3")
            .bind(job).bind(slot).bind(started_at).bind(status.as_str())
            .bind(super::timestamp(Utc::now())).bind(run_id).bind(detail)
            .execute(p).await?.rows_affected());
        Ok(())
    }

    /// Executions of `job` started at or after `since`, oldest first.
    pub async fn job_runs_since(&self, job: &str, since: DateTime<Utc>) -> Result<Vec<JobRun>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_RUN_COLUMNS} FROM job_runs WHERE job = $1 AND started_at >= $2 \
             ORDER BY started_at"
        ));
        let rows: Vec<JobRunRow> = on_pool!(self, p =>
            sqlx::query_as(sql).bind(job).bind(super::timestamp(since)).fetch_all(p).await?);
        rows.into_iter().map(JobRun::try_from).collect()
    }

    /// The greatest slot key of `job` that succeeded (slot keys of a job
    /// sort in time order: dates, months, instants).
    pub async fn last_ok_slot(&self, job: &str) -> Result<Option<String>> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT MAX(slot) FROM job_runs WHERE job = $1 AND status = 'ok'")
            .bind(job).fetch_one(p).await?))
    }

    /// The latest execution of every job, and the latest successful one.
    pub async fn latest_job_runs(&self) -> Result<Vec<(JobRun, Option<String>)>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_RUN_COLUMNS} FROM job_runs j WHERE started_at = \
             (SELECT MAX(started_at) FROM job_runs WHERE job = j.job) ORDER BY job"
        ));
        let rows: Vec<JobRunRow> = on_pool!(self, p => sqlx::query_as(sql).fetch_all(p).await?);
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let run = JobRun::try_from(row)?;
            let ok: Option<String> = on_pool!(self, p => sqlx::query_scalar(
                "SELECT MAX(finished_at) FROM job_runs WHERE job = $1 AND status = 'ok'")
                .bind(&run.job).fetch_one(p).await?);
            out.push((run, ok));
        }
        Ok(out)
    }

    pub async fn alert_state(&self, channel: &str) -> Result<Option<AlertState>> {
        let row: Option<(String, String, i64, String)> = on_pool!(self, p => sqlx::query_as(
            "SELECT state, fingerprint, problems, sent_at FROM alert_state WHERE channel = $1")
            .bind(channel).fetch_optional(p).await?);
        let Some((state, fingerprint, problems, sent_at)) = row else {
            return Ok(None);
        };
        let items: Vec<String> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT item_key FROM alert_items WHERE channel = $1")
            .bind(channel).fetch_all(p).await?);
        Ok(Some(AlertState {
            state,
            fingerprint,
            problems,
            sent_at,
            items: items.into_iter().collect(),
        }))
    }

    /// Replaces the alert state of `channel` in one transaction.
    pub async fn save_alert_state(&self, channel: &str, s: &AlertState) -> Result<()> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, c => {
            sqlx::query("DELETE FROM alert_items WHERE channel = $1")
                .bind(channel).execute(&mut **c).await?;
            sqlx::query("DELETE FROM alert_state WHERE channel = $1")
                .bind(channel).execute(&mut **c).await?;
            sqlx::query("INSERT INTO alert_state (channel, state, fingerprint, problems, sent_at) \
                         VALUES ($1, $2, $3, $4, $5)")
                .bind(channel).bind(&s.state).bind(&s.fingerprint).bind(s.problems).bind(&s.sent_at)
                .execute(&mut **c).await?;
            for item in &s.items {
                sqlx::query("INSERT INTO alert_items (channel, item_key) VALUES ($1, $2)")
                    .bind(channel).bind(item).execute(&mut **c).await?;
            }
        });
        tx.commit().await
    }
}
