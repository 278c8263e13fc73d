//! Columnar batches: claims stream out of the database row by row, are
//! classified against the calendar, and are appended to column builders;
//! every [`BATCH_ROWS`] rows the builders become a polars `DataFrame` chunk.
//! Only the late claims keep their keys and details, so memory grows by
//! about 40 bytes per claim of the period and not with its text.

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;

use super::outcome::{Outcome, Status};
use super::penalty::PenaltyScale;
use crate::store::report::{ClaimDetail, SlaClaimRow};

/// Rows per chunk: large enough for polars to work on, small enough that the
/// builders stay in cache-friendly sizes.
pub const BATCH_ROWS: usize = 65_536;

/// Shown for a claim whose member is not in the adherents table (a TP claim
/// does not need one); parenthesised so it cannot pass for a centre code.
pub const UNKNOWN_CENTRE: &str = "(unknown)";

/// `NaiveDate::num_days_from_ce` of 1970-01-01: polars dates count from it.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

pub fn date_to_days(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

pub fn days_to_date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days + EPOCH_DAYS_FROM_CE)
}

/// Every claim of the period (for the aggregates) and the late ones (for
/// the list), as polars frames of many chunks.
pub struct Collected {
    pub claims: DataFrame,
    pub late: DataFrame,
    /// Claims whose recorded deadline is not the calendar's deadline for
    /// their receipt date (the calendar configuration changed since import).
    pub deadline_mismatches: u64,
}

pub struct Batcher<'a> {
    penalties: Option<&'a PenaltyScale>,
    claims: ClaimColumns,
    late: LateColumns,
    out: Collected,
}

impl<'a> Batcher<'a> {
    pub fn new(penalties: Option<&'a PenaltyScale>) -> Self {
        Self {
            penalties,
            claims: ClaimColumns::new(),
            late: LateColumns::new(),
            out: Collected {
                claims: ClaimColumns::new().finish().expect("empty frame"),
                late: LateColumns::new().finish().expect("empty frame"),
                deadline_mismatches: 0,
            },
        }
    }

    pub fn push(
        &mut self,
        c: &SlaClaimRow<'_>,
        o: &Outcome,
        calendar_deadline: NaiveDate,
    ) -> PolarsResult<()> {
        let Ok(n) = u64::try_from(c.claims) else {
            polars_bail!(ComputeError:
                "{} claims received {} counted as one row", c.claims, c.received_date);
        };
        if calendar_deadline != c.deadline {
            self.out.deadline_mismatches += n;
        }
        // A counted row becomes as many claim rows: the aggregates (medians
        // and quantiles among them) then see every claim, as they always did.
        for _ in 0..n {
            self.claims.push(c, o);
            if self.claims.len >= BATCH_ROWS {
                self.flush()?;
            }
        }
        if o.status.is_late() {
            // The query gives the detail of every claim not paid on time.
            let (Some(d), 1) = (&c.detail, n) else {
                polars_bail!(ComputeError:
                    "late claims received {} without their detail", c.received_date);
            };
            let penalty = self
                .penalties
                .map(|s| s.penalty_cents(o.delay_working_days.unwrap_or(0), d.amc_due_cents));
            self.late.push(c, d, o, penalty);
        }
        Ok(())
    }

    fn flush(&mut self) -> PolarsResult<()> {
        let claims = std::mem::replace(&mut self.claims, ClaimColumns::new()).finish()?;
        self.out.claims.vstack_mut_owned(claims)?;
        let late = std::mem::replace(&mut self.late, LateColumns::new()).finish()?;
        self.out.late.vstack_mut_owned(late)?;
        Ok(())
    }

    pub fn finish(mut self) -> PolarsResult<Collected> {
        self.flush()?;
        Ok(self.out)
    }
}

fn date_column(name: &str, days: Vec<i32>) -> PolarsResult<Column> {
    Ok(Series::new(name.into(), days).cast(&DataType::Date)?.into())
}

fn opt_date_column(name: &str, days: Vec<Option<i32>>) -> PolarsResult<Column> {
    Ok(Series::new(name.into(), days).cast(&DataType::Date)?.into())
}

/// What the aggregates need about every claim.
struct ClaimColumns {
    len: usize,
    received_date: Vec<i32>,
    origin: StringChunkedBuilder,
    centre: StringChunkedBuilder,
    paid: Vec<bool>,
    on_time: Vec<bool>,
    late: Vec<bool>,
    pending: Vec<bool>,
    /// Working days from receipt to payment; null while unpaid.
    delay: Vec<Option<i32>>,
}

impl ClaimColumns {
    fn new() -> Self {
        Self {
            len: 0,
            received_date: Vec::with_capacity(BATCH_ROWS),
            origin: StringChunkedBuilder::new("origin".into(), BATCH_ROWS),
            centre: StringChunkedBuilder::new("centre".into(), BATCH_ROWS),
            paid: Vec::with_capacity(BATCH_ROWS),
            on_time: Vec::with_capacity(BATCH_ROWS),
            late: Vec::with_capacity(BATCH_ROWS),
            pending: Vec::with_capacity(BATCH_ROWS),
            delay: Vec::with_capacity(BATCH_ROWS),
        }
    }

    fn push(&mut self, c: &SlaClaimRow<'_>, o: &Outcome) {
        self.len += 1;
        self.received_date.push(date_to_days(c.received_date));
        self.origin.append_value(c.origin);
        self.centre.append_value(c.centre.unwrap_or(UNKNOWN_CENTRE));
        let paid = o.paid_on.is_some();
        self.paid.push(paid);
        self.on_time.push(o.status == Status::OnTime);
        self.late.push(o.status.is_late());
        self.pending.push(o.status == Status::Pending);
        self.delay.push(
            o.delay_working_days
                .filter(|_| paid)
                .map(|d| d.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32),
        );
    }

    fn finish(self) -> PolarsResult<DataFrame> {
        DataFrame::new(
            self.len,
            vec![
                date_column("received_date", self.received_date)?,
                self.origin.finish().into_column(),
                self.centre.finish().into_column(),
                Column::new("paid".into(), self.paid),
                Column::new("on_time".into(), self.on_time),
                Column::new("late".into(), self.late),
                Column::new("pending".into(), self.pending),
                Column::new("delay".into(), self.delay),
            ],
        )
    }
}

/// Everything the late list shows about a late claim.
struct LateColumns {
    len: usize,
    ps_id: StringChunkedBuilder,
    invoice_no: Vec<i64>,
    origin: StringChunkedBuilder,
    centre: StringChunkedBuilder,
    received_date: Vec<i32>,
    deadline: Vec<i32>,
    paid_on: Vec<Option<i32>>,
    delay: Vec<Option<i64>>,
    working_days_late: Vec<Option<i64>>,
    cause: StringChunkedBuilder,
    amc_due_cents: Vec<i64>,
    penalty_cents: Vec<Option<i64>>,
}

impl LateColumns {
    fn new() -> Self {
        Self {
            len: 0,
            ps_id: StringChunkedBuilder::new("ps_id".into(), 0),
            invoice_no: Vec::new(),
            origin: StringChunkedBuilder::new("origin".into(), 0),
            centre: StringChunkedBuilder::new("centre".into(), 0),
            received_date: Vec::new(),
            deadline: Vec::new(),
            paid_on: Vec::new(),
            delay: Vec::new(),
            working_days_late: Vec::new(),
            cause: StringChunkedBuilder::new("cause".into(), 0),
            amc_due_cents: Vec::new(),
            penalty_cents: Vec::new(),
        }
    }

    fn push(
        &mut self,
        c: &SlaClaimRow<'_>,
        d: &ClaimDetail<'_>,
        o: &Outcome,
        penalty_cents: Option<i64>,
    ) {
        self.len += 1;
        self.ps_id.append_value(d.ps_id);
        self.invoice_no.push(d.invoice_no);
        self.origin.append_value(c.origin);
        self.centre.append_value(c.centre.unwrap_or(UNKNOWN_CENTRE));
        self.received_date.push(date_to_days(c.received_date));
        self.deadline.push(date_to_days(c.deadline));
        self.paid_on.push(o.paid_on.map(date_to_days));
        self.delay.push(o.delay_working_days);
        self.working_days_late.push(o.working_days_late);
        self.cause.append_value(o.cause.map_or("", |c| c.code()));
        self.amc_due_cents.push(d.amc_due_cents);
        self.penalty_cents.push(penalty_cents);
    }

    fn finish(self) -> PolarsResult<DataFrame> {
        DataFrame::new(
            self.len,
            vec![
                self.ps_id.finish().into_column(),
                Column::new("invoice_no".into(), self.invoice_no),
                self.origin.finish().into_column(),
                self.centre.finish().into_column(),
                date_column("received_date", self.received_date)?,
                date_column("deadline", self.deadline)?,
                opt_date_column("paid_on", self.paid_on)?,
                Column::new("delay_working_days".into(), self.delay),
                Column::new("working_days_late".into(), self.working_days_late),
                self.cause.finish().into_column(),
                Column::new("amc_due_cents".into(), self.amc_due_cents),
                Column::new("penalty_cents".into(), self.penalty_cents),
            ],
        )
    }
}
