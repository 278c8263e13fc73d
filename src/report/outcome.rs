//! What became of one TP claim against the four-working-day promise
//! (contract §4), and, when it was late, why: everything derived from the
//! database and the calendar, nothing re-implemented.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::calendar::Calendar;
#[cfg(test)]
use crate::store::report::ClaimDetail;
use crate::store::report::{LedgerRun, SlaClaimRow};

/// A claim's standing on the report's status date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Paid by a run whose execution date is on or before the deadline.
    OnTime,
    /// Paid by a run whose execution date is after the deadline.
    LatePaid,
    /// Unpaid, and the last run recorded executes after the deadline: no
    /// later run can pay it on time any more.
    LateUnpaid,
    /// Unpaid, and a run could still pay it on time.
    Pending,
}

/// Why a late claim was late, the first that applies in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// A run held it: the practitioner had no bank details valid on that
    /// run's execution date (`run_holds`).
    HeldNoBankDetails,
    /// No settlement run had a business date between the receipt date
    /// (exclusive) and the deadline (inclusive).
    NoRunBeforeDeadline,
    /// Runs were made before the deadline, but the claim's file was
    /// imported after the last of them had been planned.
    ImportedAfterRun,
    /// The runs before the deadline requested execution after it (a TARGET2
    /// closing, e.g. Good Friday, pushed the transfer past the deadline).
    ExecutionAfterDeadline,
    /// None of the above is visible in the database.
    Unexplained,
}

impl Cause {
    pub const ALL: [Cause; 5] = [
        Cause::HeldNoBankDetails,
        Cause::NoRunBeforeDeadline,
        Cause::ImportedAfterRun,
        Cause::ExecutionAfterDeadline,
        Cause::Unexplained,
    ];

    /// The code written in `late_claims.csv`.
    pub fn code(self) -> &'static str {
        match self {
            Cause::HeldNoBankDetails => "held_no_bank_details",
            Cause::NoRunBeforeDeadline => "no_run_before_deadline",
            Cause::ImportedAfterRun => "imported_after_run",
            Cause::ExecutionAfterDeadline => "execution_after_deadline",
            Cause::Unexplained => "unexplained",
        }
    }

    /// A few words, for the late list.
    pub fn short_label(self) -> &'static str {
        match self {
            Cause::HeldNoBankDetails => "Held: no bank details",
            Cause::NoRunBeforeDeadline => "No run before deadline",
            Cause::ImportedAfterRun => "Loaded after the runs",
            Cause::ExecutionAfterDeadline => "Bank holiday",
            Cause::Unexplained => "Unexplained",
        }
    }

    /// Plain words for the report's page.
    pub fn label(self) -> &'static str {
        match self {
            Cause::HeldNoBankDetails => "Held: the practitioner had no valid bank details",
            Cause::NoRunBeforeDeadline => "No settlement run between receipt and deadline",
            Cause::ImportedAfterRun => "Claim loaded after the last run before its deadline",
            Cause::ExecutionAfterDeadline => {
                "Bank holiday: the run's transfer executed after the deadline"
            }
            Cause::Unexplained => "Not explained by the database",
        }
    }
}

/// The classification of one claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    /// Requested execution date of the transfer that paid it.
    pub paid_on: Option<NaiveDate>,
    /// Working days from receipt to payment, or to the status date for a
    /// claim still unpaid (`None` for a pending claim).
    pub delay_working_days: Option<i64>,
    /// Working days from the deadline to payment (or to the status date).
    pub working_days_late: Option<i64>,
    pub cause: Option<Cause>,
}

impl Status {
    pub fn is_late(self) -> bool {
        matches!(self, Status::LatePaid | Status::LateUnpaid)
    }
}

/// The runs, to look up a payment's execution date and the runs that could
/// have paid a claim on time.
pub struct RunIndex {
    /// Sorted by business date (unique per run).
    runs: Vec<LedgerRun>,
    by_date: HashMap<NaiveDate, usize>,
    /// The latest execution date of any run: unpaid claims are judged as of
    /// it, so the same database always gives the same report.
    status_date: Option<NaiveDate>,
}

impl RunIndex {
    pub fn new(mut runs: Vec<LedgerRun>) -> Self {
        runs.sort_by_key(|r| r.business_date);
        let by_date = runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.business_date, i))
            .collect();
        let status_date = runs.iter().map(|r| r.execution_date).max();
        Self {
            runs,
            by_date,
            status_date,
        }
    }

    pub fn status_date(&self) -> Option<NaiveDate> {
        self.status_date
    }

    pub fn runs(&self) -> &[LedgerRun] {
        &self.runs
    }

    pub fn by_business_date(&self, d: NaiveDate) -> Option<&LedgerRun> {
        self.by_date.get(&d).map(|&i| &self.runs[i])
    }

    /// Runs with a business date in `(received, deadline]`: the ones that
    /// could have paid the claim before its deadline.
    fn before_deadline(&self, received: NaiveDate, deadline: NaiveDate) -> &[LedgerRun] {
        let lo = self.runs.partition_point(|r| r.business_date <= received);
        let hi = self.runs.partition_point(|r| r.business_date <= deadline);
        &self.runs[lo..hi.max(lo)]
    }
}

/// Classifies `c`. `Err` names a payment by a run the database does not
/// have, which its foreign keys make impossible.
pub fn classify(c: &SlaClaimRow<'_>, runs: &RunIndex, cal: &Calendar) -> Result<Outcome, String> {
    let paid_on = match c.paid_run_date {
        Some(d) => Some(
            runs.by_business_date(d)
                .ok_or_else(|| format!("claim paid by a run of {d} that is not in the runs table"))?
                .execution_date,
        ),
        None => None,
    };
    let (status, until) = match (paid_on, runs.status_date()) {
        (Some(e), _) if e <= c.deadline => (Status::OnTime, Some(e)),
        (Some(e), _) => (Status::LatePaid, Some(e)),
        (None, Some(s)) if s > c.deadline => (Status::LateUnpaid, Some(s)),
        (None, _) => (Status::Pending, None),
    };
    let delay = until.map(|u| cal.working_days_between(c.received_date, u));
    let late = status.is_late();
    Ok(Outcome {
        status,
        paid_on,
        delay_working_days: delay,
        working_days_late: until
            .filter(|_| late)
            .map(|u| cal.working_days_between(c.deadline, u)),
        cause: late.then(|| cause(c, runs)),
    })
}

fn cause(c: &SlaClaimRow<'_>, runs: &RunIndex) -> Cause {
    if c.held {
        return Cause::HeldNoBankDetails;
    }
    let window = runs.before_deadline(c.received_date, c.deadline);
    let Some(last_planned) = window.iter().map(|r| r.created_at.as_str()).max() else {
        return Cause::NoRunBeforeDeadline;
    };
    // Both are `store::timestamp` texts (UTC, fixed width): they order as text.
    if c.detail
        .as_ref()
        .and_then(|d| d.imported_at)
        .is_some_and(|i| i > last_planned)
    {
        return Cause::ImportedAfterRun;
    }
    if window.iter().all(|r| r.execution_date > c.deadline) {
        return Cause::ExecutionAfterDeadline;
    }
    Cause::Unexplained
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::CalendarConfig;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn run(business: &str, execution: &str, created_at: &str) -> LedgerRun {
        LedgerRun {
            run_id: format!("RUN-{business}"),
            business_date: d(business),
            execution_date: d(execution),
            state: "completed".into(),
            created_at: created_at.into(),
            payments: 1,
            amount_cents: 1,
        }
    }

    fn claim<'a>(
        received: &str,
        paid_run: Option<&str>,
        held: bool,
        imported_at: Option<&'a str>,
    ) -> SlaClaimRow<'a> {
        let cal = Calendar::new(&CalendarConfig::default());
        SlaClaimRow {
            origin: "DRE",
            centre: Some("CG01"),
            received_date: d(received),
            deadline: cal.deadline(d(received)),
            paid_run_date: paid_run.map(d),
            held,
            claims: 1,
            detail: Some(ClaimDetail {
                ps_id: "100000001",
                invoice_no: 1,
                amc_due_cents: 1000,
                imported_at,
            }),
        }
    }

    #[test]
    fn statuses_delays_and_causes() {
        let cal = Calendar::new(&CalendarConfig::default());
        // Daily runs on Tue 3, Wed 4 and Mon 16 Nov 2026 (a gap in between).
        let runs = RunIndex::new(vec![
            run("2026-11-16", "2026-11-16", "2026-11-16T06:00:00.000Z"),
            run("2026-11-03", "2026-11-03", "2026-11-03T06:00:00.000Z"),
            run("2026-11-04", "2026-11-04", "2026-11-04T06:00:00.000Z"),
        ]);
        assert_eq!(runs.status_date(), Some(d("2026-11-16")));

        // Received Mon 2 Nov, deadline Fri 6, paid Tue 3: 1 working day.
        let o = classify(
            &claim("2026-11-02", Some("2026-11-03"), false, None),
            &runs,
            &cal,
        )
        .unwrap();
        assert_eq!(o.status, Status::OnTime);
        assert_eq!(
            (o.delay_working_days, o.working_days_late, o.cause),
            (Some(1), None, None)
        );

        // Received Wed 4 (deadline Tue 10: 11 Nov is later), paid on the 16th.
        let o = classify(
            &claim("2026-11-04", Some("2026-11-16"), false, None),
            &runs,
            &cal,
        )
        .unwrap();
        assert_eq!(o.status, Status::LatePaid);
        assert_eq!(o.paid_on, Some(d("2026-11-16")));
        // 5,6,9,10,12,13,16 (11 Nov off) = 7 working days; 3 after the deadline (12, 13, 16).
        assert_eq!(
            (o.delay_working_days, o.working_days_late),
            (Some(7), Some(3))
        );
        assert_eq!(o.cause, Some(Cause::NoRunBeforeDeadline));

        // Received Mon 2 Nov, paid the 16th, the 3rd and 4th runs were before
        // its import: imported after the runs.
        let late_import = claim(
            "2026-11-02",
            Some("2026-11-16"),
            false,
            Some("2026-11-05T09:00:00.000Z"),
        );
        let o = classify(&late_import, &runs, &cal).unwrap();
        assert_eq!(o.cause, Some(Cause::ImportedAfterRun));
        // Imported in time, yet paid late: nothing in the database says why.
        let odd = claim(
            "2026-11-02",
            Some("2026-11-16"),
            false,
            Some("2026-11-02T09:00:00.000Z"),
        );
        assert_eq!(
            classify(&odd, &runs, &cal).unwrap().cause,
            Some(Cause::Unexplained)
        );

        // Held, still unpaid: late as of the 16th.
        let o = classify(&claim("2026-11-02", None, true, None), &runs, &cal).unwrap();
        assert_eq!(o.status, Status::LateUnpaid);
        assert_eq!(
            (o.delay_working_days, o.working_days_late),
            (Some(9), Some(5))
        );
        assert_eq!(o.cause, Some(Cause::HeldNoBankDetails));

        // Received on the 16th, unpaid: pending.
        let o = classify(&claim("2026-11-16", None, false, None), &runs, &cal).unwrap();
        assert_eq!(o.status, Status::Pending);
        assert_eq!((o.delay_working_days, o.cause), (None, None));

        // A payment by an unknown run is a corrupt database.
        assert!(
            classify(
                &claim("2026-11-02", Some("2026-11-05"), false, None),
                &runs,
                &cal
            )
            .is_err()
        );
    }

    #[test]
    fn a_run_pushed_past_the_deadline_by_target2() {
        let cal = Calendar::new(&CalendarConfig::default());
        // Received Fri 27 Mar 2026: deadline Thu 2 Apr. The run of Thursday
        // 2 Apr executes that day; imagine it had to execute on Tue 7 Apr
        // (as the run of Good Friday 3 Apr does).
        let runs = RunIndex::new(vec![run(
            "2026-04-02",
            "2026-04-07",
            "2026-04-02T06:00:00.000Z",
        )]);
        let o = classify(
            &claim(
                "2026-03-27",
                Some("2026-04-02"),
                false,
                Some("2026-03-27T09:00:00.000Z"),
            ),
            &runs,
            &cal,
        )
        .unwrap();
        assert_eq!(o.status, Status::LatePaid);
        assert_eq!(o.cause, Some(Cause::ExecutionAfterDeadline));
    }

    #[test]
    fn no_runs_at_all_means_pending() {
        let cal = Calendar::new(&CalendarConfig::default());
        let runs = RunIndex::new(vec![]);
        let o = classify(&claim("2026-01-05", None, false, None), &runs, &cal).unwrap();
        assert_eq!(o.status, Status::Pending);
        assert_eq!(runs.status_date(), None);
    }
}
