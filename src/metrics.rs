//! `/metrics` in the Prometheus text exposition format (version 0.0.4).
//!
//! Every value is read from the database at scrape time (cached a few
//! seconds), so any process — the daemon, a manual `settle` — is reflected,
//! and a restart loses nothing. All values are integers: amounts in cents,
//! times in Unix seconds; no money ever goes through a float.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::calendar::Calendar;
use crate::schedule::JobSpec;
use crate::store::jobs::JobStatus;
use crate::store::runs::RunState;
use crate::store::{Store, StoreError};
use crate::watch::Watch;

/// Content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What one scrape reports.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub pending: i64,
    pub pending_cents: i64,
    pub at_risk: i64,
    pub at_risk_cents: i64,
    pub late: i64,
    pub late_cents: i64,
    pub jobs: Vec<JobMetric>,
    pub last_run: Option<LastRun>,
    pub gathered_at: i64,
}

#[derive(Clone, Debug)]
pub struct JobMetric {
    pub job: String,
    pub kind: String,
    pub last_started: Option<i64>,
    pub last_status: Option<JobStatus>,
    pub last_success: Option<i64>,
    pub next_slot: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct LastRun {
    pub business_date: i64,
    pub completed: bool,
    pub completed_at: Option<i64>,
    pub payments: i64,
    pub amount_cents: i64,
}

fn unix(rfc3339: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp())
}

/// Reads everything a scrape shows.
pub async fn gather(
    store: &Store,
    calendar: &Calendar,
    jobs: &[JobSpec],
    settlement: &JobSpec,
    now: DateTime<Utc>,
) -> Result<Snapshot, StoreError> {
    let pending = store.pending_claims().await?;
    let watch = Watch {
        store,
        calendar,
        settlement,
        jobs,
    }
    .run(now)
    .await?;
    let sum = |v: &[crate::watch::Problem]| v.iter().map(|p| p.amount.cents()).sum::<i64>();
    let latest = store.latest_job_runs().await?;
    let job_metrics = jobs
        .iter()
        .map(|j| {
            let last = latest.iter().find(|(r, _)| r.job == j.name);
            JobMetric {
                job: j.name.clone(),
                kind: j.kind.as_str().into(),
                last_started: last.and_then(|(r, _)| unix(&r.started_at)),
                last_status: last.map(|(r, _)| r.status),
                last_success: last.and_then(|(_, ok)| ok.as_deref().and_then(unix)),
                next_slot: crate::schedule::next_slot_after(j, calendar, now)
                    .map(|s| s.at.timestamp()),
            }
        })
        .collect();
    let last_run = store
        .recent_runs(1)
        .await?
        .into_iter()
        .next()
        .map(|r| LastRun {
            business_date: r
                .business_date
                .and_hms_opt(0, 0, 0)
                .map_or(0, |d| d.and_utc().timestamp()),
            completed: r.state == RunState::Completed,
            completed_at: r.completed_at.as_deref().and_then(unix),
            payments: r.payments,
            amount_cents: r.amount_cents,
        });
    Ok(Snapshot {
        pending: pending.claims,
        pending_cents: pending.amount_cents,
        at_risk: watch.at_risk.len() as i64,
        at_risk_cents: sum(&watch.at_risk),
        late: watch.late.len() as i64,
        late_cents: sum(&watch.late),
        jobs: job_metrics,
        last_run,
        gathered_at: now.timestamp(),
    })
}

/// One metric family being written.
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: i64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn gauge(&mut self, name: &str, help: &str, value: i64) {
        self.family(name, "gauge", help);
        self.sample(name, &[], value);
    }
}

/// Label values escape `\`, `"` and newlines (text format 0.0.4).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A per-job value: `None` leaves the job's sample out.
type PerJob = fn(&JobMetric) -> Option<i64>;

/// The text exposition of a snapshot.
pub fn encode(s: &Snapshot) -> String {
    let mut t = Text(String::with_capacity(4096));
    t.family(
        "tpsettle_build_info",
        "gauge",
        "Build of the running tpsettle.",
    );
    t.sample(
        "tpsettle_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );
    t.gauge(
        "tpsettle_claims_pending",
        "Accepted claims not yet in a payment.",
        s.pending,
    );
    t.gauge(
        "tpsettle_claims_pending_amount_cents",
        "AMC amount of the pending claims, in cents.",
        s.pending_cents,
    );
    t.gauge(
        "tpsettle_claims_at_risk",
        "Unpaid claims whose deadline is on or before the next run's execution date.",
        s.at_risk,
    );
    t.gauge(
        "tpsettle_claims_at_risk_amount_cents",
        "Amount of the at-risk claims, in cents.",
        s.at_risk_cents,
    );
    t.gauge(
        "tpsettle_claims_late",
        "Unpaid claims whose deadline has passed.",
        s.late,
    );
    t.gauge(
        "tpsettle_claims_late_amount_cents",
        "Amount of the late claims, in cents.",
        s.late_cents,
    );
    let per_job: [(&str, &str, PerJob); 4] = [
        (
            "tpsettle_job_last_run_timestamp_seconds",
            "Start of the job's latest execution (Unix time).",
            |j| j.last_started,
        ),
        (
            "tpsettle_job_last_success_timestamp_seconds",
            "End of the job's latest successful execution (Unix time).",
            |j| j.last_success,
        ),
        (
            "tpsettle_job_last_run_success",
            "1 when the job's latest finished execution succeeded, 0 when it failed or was refused (lock busy).",
            |j| {
                j.last_status.and_then(|s| match s {
                    JobStatus::Ok => Some(1),
                    JobStatus::Failed | JobStatus::Busy => Some(0),
                    JobStatus::Running => None,
                })
            },
        ),
        (
            "tpsettle_job_next_run_timestamp_seconds",
            "Next scheduled slot of the job (Unix time).",
            |j| j.next_slot,
        ),
    ];
    for (name, help, value) in per_job {
        t.family(name, "gauge", help);
        for j in &s.jobs {
            if let Some(v) = value(j) {
                t.sample(name, &[("job", &j.job), ("kind", &j.kind)], v);
            }
        }
    }
    t.family(
        "tpsettle_job_running",
        "gauge",
        "1 while an execution of the job is in progress.",
    );
    for j in &s.jobs {
        let running = i64::from(j.last_status == Some(JobStatus::Running));
        t.sample(
            "tpsettle_job_running",
            &[("job", &j.job), ("kind", &j.kind)],
            running,
        );
    }
    if let Some(r) = &s.last_run {
        t.gauge(
            "tpsettle_settlement_last_run_business_date_seconds",
            "Business date of the latest settlement run (Unix time of its midnight UTC).",
            r.business_date,
        );
        t.gauge(
            "tpsettle_settlement_last_run_completed",
            "1 when the latest settlement run is completed.",
            i64::from(r.completed),
        );
        if let Some(at) = r.completed_at {
            t.gauge(
                "tpsettle_settlement_last_run_completed_timestamp_seconds",
                "When the latest settlement run completed (Unix time).",
                at,
            );
        }
        t.gauge(
            "tpsettle_settlement_last_run_payments",
            "Credit transfers of the latest settlement run.",
            r.payments,
        );
        t.gauge(
            "tpsettle_settlement_last_run_amount_cents",
            "Total of the latest settlement run, in cents.",
            r.amount_cents,
        );
    }
    t.gauge(
        "tpsettle_metrics_gathered_timestamp_seconds",
        "When these values were read from the database (Unix time).",
        s.gathered_at,
    );
    t.0
}
