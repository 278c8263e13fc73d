//! When jobs are due: pure decisions from the job definitions (`jobs/`), the
//! calendar, a clock and what the database says was already done.
//!
//! The daemon's cron trigger only says "look again"; everything here is a
//! function of `now`, so catch-up after downtime, holidays, DST and
//! overlapping triggers are decided the same way whatever fired, and are
//! tested with an injected clock.
//!
//! A *slot* is one local date and time of a job in its time zone. DST is
//! handled where local times meet instants ([`slot_instant`]): a local time
//! that does not exist (spring gap) runs at the first instant after the gap,
//! a local time that exists twice (autumn fold) runs at its first occurrence.
//! Slots are keyed by local date or by instant, never by "the Nth firing",
//! so a DST change can neither skip nor double one.

pub mod jobs;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{
    DateTime, Datelike, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc,
};
use chrono_tz::Tz;

use crate::calendar::Calendar;

pub use jobs::{JobError, JobSpec, load_dir};

/// Where "now" comes from: the system clock in production, a fixed instant
/// in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that says what it is told.
pub struct FixedClock(pub std::sync::Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(t: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(t))
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().expect("clock") = t;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// `settle` for each due business date, oldest first.
    Settlement,
    /// The late-payment watch and its alert e-mail.
    Watch,
    /// The auditors' SLA report of the previous calendar month.
    SlaReport,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Settlement => "settlement",
            JobKind::Watch => "watch",
            JobKind::SlaReport => "sla_report",
        }
    }

    /// Settlement and SLA report catch up every missed slot; a watch looks
    /// at "now", so one run covers all the slots it missed.
    pub fn catches_up_every_slot(self) -> bool {
        !matches!(self, JobKind::Watch)
    }
}

/// Which days a job runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Days {
    /// French working days of the configured calendar.
    Working,
    /// Every day, weekends and holidays included.
    Every,
    /// The first working day of each month.
    FirstWorkingDayOfMonth,
}

impl Days {
    pub fn includes(self, cal: &Calendar, d: NaiveDate) -> bool {
        match self {
            Days::Every => true,
            Days::Working => cal.is_working_day(d),
            Days::FirstWorkingDayOfMonth => {
                cal.is_working_day(d)
                    && d.with_day(1).is_some_and(|first| {
                        cal.add_working_days(first - Duration::days(1), 1) == d
                    })
            }
        }
    }
}

/// One occurrence of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Local date of the slot (the business date of a settlement).
    pub date: NaiveDate,
    pub local: NaiveDateTime,
    /// When it fires.
    pub at: DateTime<Utc>,
    /// What identifies it in the database (see [`slot_key`]).
    pub key: String,
}

/// The instant of local `date`/`time` in `tz`: the first instant after a
/// spring-forward gap, the first occurrence in an autumn fold.
pub fn slot_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    for shift in 0..=180 {
        let t = local + Duration::minutes(shift);
        match tz.from_local_datetime(&t) {
            LocalResult::Single(x) => return x.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            // In the gap: the wall clock jumps; the first valid minute after
            // it is the first instant after the gap.
            LocalResult::None => {}
        }
    }
    // No zone has a gap of 3 hours; read the time as UTC rather than panic.
    Utc.from_utc_datetime(&local)
}

/// The key of a slot in `job_runs`: the business date for a settlement
/// (`2026-12-01`), the reported month for an SLA report (`2026-11`), the
/// instant for a watch (`2026-12-01T13:00:00Z`).
pub fn slot_key(kind: JobKind, date: NaiveDate, at: DateTime<Utc>) -> String {
    match kind {
        JobKind::Settlement => date.to_string(),
        JobKind::SlaReport => {
            let (from, _) = sla_period(date);
            from.format("%Y-%m").to_string()
        }
        JobKind::Watch => at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// The period an SLA report run on `slot_date` covers: the previous
/// calendar month, first and last day.
pub fn sla_period(slot_date: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first_of_this = slot_date.with_day(1).expect("day 1 exists");
    let from = first_of_this - Months::new(1);
    (from, first_of_this - Duration::days(1))
}

/// Slots of `job` on local date `d` (none when the day is not one of its days).
pub fn slots_on(job: &JobSpec, cal: &Calendar, d: NaiveDate) -> Vec<Slot> {
    if !job.days.includes(cal, d) {
        return Vec::new();
    }
    let times: &[NaiveTime] = if job.kind.catches_up_every_slot() {
        // One slot a day for date-keyed jobs: the first time.
        &job.times[..job.times.len().min(1)]
    } else {
        &job.times
    };
    times
        .iter()
        .map(|t| {
            let local = d.and_time(*t);
            let at = slot_instant(job.tz, local);
            Slot {
                date: d,
                local,
                at,
                key: slot_key(job.kind, d, at),
            }
        })
        .collect()
}

/// What the database says about a job.
#[derive(Clone, Debug, Default)]
pub struct JobHistory {
    /// Slot keys that need nothing more: a completed run (settlement), a
    /// successful report, any attempt of a watch slot.
    pub done: BTreeSet<String>,
    /// Catch-up starts at this date (inclusive): the latest settlement run,
    /// the month after the latest report. `None`: nothing done yet.
    pub resume_from: Option<NaiveDate>,
    /// Last failed attempt per slot key, for retry pacing.
    pub failed_at: BTreeMap<String, DateTime<Utc>>,
    /// Slots an execution is working on right now (started recently and
    /// not finished): a second trigger must not start them again.
    pub in_progress: BTreeSet<String>,
}

/// The decision for one job at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// To run now, in this order (oldest first).
    pub due: Vec<Slot>,
    /// Missed longer ago than the catch-up limit: reported, not run.
    pub too_old: Vec<Slot>,
    /// Failed recently: retried at the given instant, and every later slot
    /// of a catching-up job waits behind it (a run never overtakes a
    /// failed one).
    pub retry_later: Option<(Slot, DateTime<Utc>)>,
}

/// How far back a watch looks for its latest missed slot.
const WATCH_LOOKBACK_DAYS: i64 = 7;

/// Decides what `job` must run at `now`.
pub fn decide(job: &JobSpec, cal: &Calendar, now: DateTime<Utc>, h: &JobHistory) -> Decision {
    let today = now.with_timezone(&job.tz).date_naive();
    let first = if job.kind.catches_up_every_slot() {
        let start = h.resume_from.or(job.start_date).unwrap_or(today);
        job.start_date.map_or(start, |s| start.max(s))
    } else {
        today - Duration::days(WATCH_LOOKBACK_DAYS)
    };
    let passed = first
        .iter_days()
        .take_while(|d| *d <= today)
        .flat_map(|d| slots_on(job, cal, d))
        .filter(|s| s.at <= now);
    let pending = |s: &Slot| !h.done.contains(&s.key) && !h.in_progress.contains(&s.key);
    let mut decision = Decision::default();
    if !job.kind.catches_up_every_slot() {
        // A watch looks at the present: its latest slot covers the earlier
        // ones, done or not.
        if let Some(last) = passed.last()
            && pending(&last)
            && !is_waiting(h, &last, job, now, &mut decision)
        {
            decision.due.push(last);
        }
        return decision;
    }
    let missed: Vec<Slot> = passed.filter(|s| pending(s)).collect();
    let limit = job.catch_up_limit as usize;
    let split = missed.len().saturating_sub(limit);
    decision.too_old = missed[..split].to_vec();
    for slot in &missed[split..] {
        if is_waiting(h, slot, job, now, &mut decision) {
            break;
        }
        decision.due.push(slot.clone());
    }
    decision
}

/// True (and recorded) when `slot` failed less than the retry delay ago.
fn is_waiting(
    h: &JobHistory,
    slot: &Slot,
    job: &JobSpec,
    now: DateTime<Utc>,
    decision: &mut Decision,
) -> bool {
    let Some(failed) = h.failed_at.get(&slot.key) else {
        return false;
    };
    let retry = *failed + Duration::minutes(i64::from(job.retry_after_minutes));
    if now < retry {
        decision.retry_later = Some((slot.clone(), retry));
        return true;
    }
    false
}

/// The business date of the next settlement run as seen at `now`: today
/// when today is a settlement day whose run is not completed (its slot may
/// be later today, or it is being retried), else the next settlement day.
pub fn next_settlement_date(
    job: &JobSpec,
    cal: &Calendar,
    now: DateTime<Utc>,
    today_completed: bool,
) -> NaiveDate {
    let today = now.with_timezone(&job.tz).date_naive();
    if job.days.includes(cal, today) && !today_completed {
        return today;
    }
    today
        .iter_days()
        .skip(1)
        .take(400)
        .find(|d| job.days.includes(cal, *d))
        .unwrap_or(today)
}

/// The first slot of `job` strictly after `now`, for logs and /health.
pub fn next_slot_after(job: &JobSpec, cal: &Calendar, now: DateTime<Utc>) -> Option<Slot> {
    let today = now.with_timezone(&job.tz).date_naive();
    today
        .iter_days()
        .take(400)
        .flat_map(|d| slots_on(job, cal, d))
        .find(|s| s.at > now)
}
