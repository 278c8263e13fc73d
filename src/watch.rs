//! The late-payment watch (contract §4): accepted claims not paid that are
//! *late* (deadline passed) or *at risk* (deadline on or before the next
//! scheduled run's execution date), each with its cause.
//!
//! Only identifiers, amounts, dates and causes: nothing about patients.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use chrono_tz::Europe::Paris;
use serde_json::{Value, json};

use crate::calendar::Calendar;
use crate::domain::Amount;
use crate::schedule::{self, JobSpec};
use crate::store::jobs::JobStatus;
use crate::store::watch::{RunStamp, UnpaidClaim};
use crate::store::{Store, StoreError};

/// Why a claim is still unpaid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A run held it: the payee has no bank details valid on its execution date.
    Held { reason: String },
    /// No settlement run took place since it was received although one was
    /// scheduled: the daemon or the run did not run.
    NoRunSince { last_run: Option<NaiveDate> },
    /// Its file was imported after the run that should have paid it.
    ImportedAfterRun { run_id: String },
    /// Not yet due for a run: the next one takes it.
    AwaitingRun { date: NaiveDate },
    /// A run that should have taken it did not, without a hold: investigate.
    Unexplained { run_id: String },
}

impl Cause {
    pub fn code(&self) -> &'static str {
        match self {
            Cause::Held { .. } => "held",
            Cause::NoRunSince { .. } => "no_run_since",
            Cause::ImportedAfterRun { .. } => "imported_after_run",
            Cause::AwaitingRun { .. } => "awaiting_run",
            Cause::Unexplained { .. } => "unexplained",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Held { reason } => write!(f, "held: {reason}"),
            Cause::NoRunSince { last_run: Some(d) } => {
                write!(f, "no settlement run since receipt (last run {d})")
            }
            Cause::NoRunSince { last_run: None } => write!(f, "no settlement run ever"),
            Cause::ImportedAfterRun { run_id } => write!(f, "imported after {run_id}"),
            Cause::AwaitingRun { date } => write!(f, "awaiting the run of {date}"),
            Cause::Unexplained { run_id } => write!(f, "not in {run_id} nor held: investigate"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    AtRisk,
    Late,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::AtRisk => "at_risk",
            Severity::Late => "late",
        }
    }
}

/// One claim of the watch.
#[derive(Clone, Debug)]
pub struct Problem {
    pub severity: Severity,
    pub ps_id: String,
    pub invoice_no: i64,
    pub mode: String,
    pub deadline: NaiveDate,
    /// Working days from the deadline to today (0 for at-risk claims).
    pub working_days_late: i64,
    pub amount: Amount,
    pub cause: Cause,
}

impl Problem {
    /// Identity for alert de-duplication: a claim turning from at risk to
    /// late is a new problem.
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{}",
            self.severity.as_str(),
            self.ps_id,
            self.invoice_no
        )
    }
}

/// A job whose latest execution failed.
#[derive(Clone, Debug)]
pub struct FailedJob {
    pub job: String,
    pub slot: String,
    pub at: String,
    pub detail: String,
}

impl FailedJob {
    pub fn key(&self) -> String {
        format!("job:{}:{}", self.job, self.slot)
    }
}

#[derive(Clone, Debug)]
pub struct WatchReport {
    pub at: DateTime<FixedOffset>,
    pub next_run: NaiveDate,
    pub next_execution: NaiveDate,
    pub at_risk: Vec<Problem>,
    pub late: Vec<Problem>,
    pub failed_jobs: Vec<FailedJob>,
}

impl WatchReport {
    pub fn is_clear(&self) -> bool {
        self.at_risk.is_empty() && self.late.is_empty() && self.failed_jobs.is_empty()
    }

    pub fn problem_count(&self) -> usize {
        self.at_risk.len() + self.late.len() + self.failed_jobs.len()
    }

    /// Every problem's key, for de-duplication.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .late
            .iter()
            .chain(&self.at_risk)
            .map(Problem::key)
            .collect();
        keys.extend(self.failed_jobs.iter().map(FailedJob::key));
        keys.sort();
        keys
    }

    /// The contract §4 shape, plus details per claim.
    pub fn to_json(&self) -> Value {
        let detail = |p: &Problem| {
            json!({
                "ps_id": p.ps_id, "invoice_no": p.invoice_no, "status": p.severity.as_str(),
                "mode": p.mode, "deadline": p.deadline.to_string(),
                "working_days_late": p.working_days_late, "amount": p.amount.to_string(),
                "cause": p.cause.code(), "cause_detail": p.cause.to_string(),
            })
        };
        json!({
            "at": self.at.to_rfc3339(),
            "at_risk": self.at_risk.iter()
                .map(|p| json!([p.ps_id, p.invoice_no, p.deadline.to_string()])).collect::<Vec<_>>(),
            "late": self.late.iter()
                .map(|p| json!([p.ps_id, p.invoice_no, p.deadline.to_string(), p.working_days_late]))
                .collect::<Vec<_>>(),
            "next_run": {"date": self.next_run.to_string(), "execution_date": self.next_execution.to_string()},
            "claims": self.late.iter().chain(&self.at_risk).map(detail).collect::<Vec<_>>(),
            "failed_jobs": self.failed_jobs.iter().map(|j| json!({
                "job": j.job, "slot": j.slot, "at": j.at, "detail": j.detail})).collect::<Vec<_>>(),
        })
    }
}

impl std::fmt::Display for WatchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "watch at {}: {} late, {} at risk (next run {}, execution {})",
            self.at.to_rfc3339(),
            self.late.len(),
            self.at_risk.len(),
            self.next_run,
            self.next_execution
        )?;
        for p in self.late.iter().chain(&self.at_risk) {
            writeln!(
                f,
                "  {:<7} {} {:>9}  deadline {}  {:>2} wd late  {:>10}  {}",
                p.severity.as_str(),
                p.ps_id,
                p.invoice_no,
                p.deadline,
                p.working_days_late,
                p.amount,
                p.cause
            )?;
        }
        for j in &self.failed_jobs {
            writeln!(
                f,
                "  job {} failed for {} at {}: {}",
                j.job, j.slot, j.at, j.detail
            )?;
        }
        Ok(())
    }
}

/// Everything the watch needs.
pub struct Watch<'a> {
    pub store: &'a Store,
    pub calendar: &'a Calendar,
    /// The settlement job: when the next run is.
    pub settlement: &'a JobSpec,
    /// Job names whose failures are reported.
    pub jobs: &'a [JobSpec],
}

impl Watch<'_> {
    pub async fn run(&self, now: DateTime<Utc>) -> Result<WatchReport, StoreError> {
        let today = now.with_timezone(&Paris).date_naive();
        let today_done = self
            .store
            .find_run(today)
            .await?
            .is_some_and(|r| r.state == crate::store::runs::RunState::Completed);
        let next_run =
            schedule::next_settlement_date(self.settlement, self.calendar, now, today_done);
        let next_execution = self
            .calendar
            .next_target2_business_day_on_or_after(next_run);
        let unpaid = self.store.unpaid_due_by(next_execution.max(today)).await?;
        let oldest = unpaid
            .iter()
            .map(|c| c.received_date)
            .min()
            .unwrap_or(today);
        let runs = self
            .store
            .runs_after(oldest - chrono::Duration::days(1))
            .await?;
        let last_run = self
            .store
            .recent_runs(1)
            .await?
            .first()
            .map(|r| r.business_date);
        let ctx = CauseContext {
            runs: &runs,
            last_run,
            settlement: self.settlement,
            calendar: self.calendar,
            now,
            next_run,
        };
        let (mut at_risk, mut late) = (Vec::new(), Vec::new());
        for c in unpaid {
            let severity = if c.deadline < today {
                Severity::Late
            } else {
                Severity::AtRisk
            };
            let problem = Problem {
                severity,
                working_days_late: match severity {
                    Severity::Late => self.calendar.working_days_between(c.deadline, today),
                    Severity::AtRisk => 0,
                },
                amount: Amount::from_cents(c.amc_due_cents).map_err(|e| {
                    StoreError::Corrupt(format!("claim {} {}: {e}", c.ps_id, c.invoice_no))
                })?,
                cause: ctx.cause(&c),
                ps_id: c.ps_id,
                invoice_no: c.invoice_no,
                mode: c.mode,
                deadline: c.deadline,
            };
            match severity {
                Severity::Late => late.push(problem),
                Severity::AtRisk => at_risk.push(problem),
            }
        }
        Ok(WatchReport {
            at: now.with_timezone(&Paris).fixed_offset(),
            next_run,
            next_execution,
            at_risk,
            late,
            failed_jobs: self.failed_jobs().await?,
        })
    }

    async fn failed_jobs(&self) -> Result<Vec<FailedJob>, StoreError> {
        let latest = self.store.latest_job_runs().await?;
        Ok(latest
            .into_iter()
            .filter(|(r, _)| {
                r.status == JobStatus::Failed && self.jobs.iter().any(|j| j.name == r.job)
            })
            .map(|(r, _)| FailedJob {
                at: r.finished_at.unwrap_or(r.started_at),
                detail: r.detail.unwrap_or_default(),
                job: r.job,
                slot: r.slot,
            })
            .collect())
    }
}

struct CauseContext<'a> {
    /// Runs after the oldest unpaid claim's receipt, oldest first.
    runs: &'a [RunStamp],
    last_run: Option<NaiveDate>,
    settlement: &'a JobSpec,
    calendar: &'a Calendar,
    now: DateTime<Utc>,
    next_run: NaiveDate,
}

impl CauseContext<'_> {
    fn cause(&self, c: &UnpaidClaim) -> Cause {
        if let Some(reason) = &c.hold_reason {
            return Cause::Held {
                reason: reason.clone(),
            };
        }
        // A run of business date D pays what was received before D.
        let mut after = self
            .runs
            .iter()
            .filter(|r| r.business_date > c.received_date);
        if let Some(first) = after.clone().next() {
            let imported = c.imported_at.as_deref().unwrap_or("");
            return match after.find(|r| r.created_at.as_str() > imported) {
                Some(r) => Cause::Unexplained {
                    run_id: r.run_id.clone(),
                },
                None => Cause::ImportedAfterRun {
                    run_id: self
                        .runs
                        .iter()
                        .rev()
                        .find(|r| r.business_date > c.received_date)
                        .unwrap_or(first)
                        .run_id
                        .clone(),
                },
            };
        }
        if self.missed_a_run_since(c.received_date) {
            Cause::NoRunSince {
                last_run: self.last_run,
            }
        } else {
            Cause::AwaitingRun {
                date: self.next_run,
            }
        }
    }

    /// True when a settlement slot after `received` has passed without a run.
    fn missed_a_run_since(&self, received: NaiveDate) -> bool {
        let today = self.now.with_timezone(&self.settlement.tz).date_naive();
        received
            .iter_days()
            .skip(1)
            .take_while(|d| *d <= today)
            .flat_map(|d| schedule::slots_on(self.settlement, self.calendar, d))
            .any(|s| s.at <= self.now)
    }
}
