//! `claims.csv`, streamed row by row, and the small `claims-resent.csv`.
//!
//! Nothing proportional to the number of claims is kept in memory: the rows
//! that need remembering (anomalies and re-sends, a few per thousand) are
//! planned up front by index, everything else is drawn and written at once.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{Datelike, FixedOffset, NaiveDate, NaiveTime, Offset, TimeDelta, TimeZone};
use chrono_tz::Europe::Paris;
use rand::Rng;

use super::adherents::{Members, unknown_id};
use super::csv_out::CsvOut;
use super::names::{ENGINE_REJECTS, FIRST_NAMES, LAST_NAMES, pick, pick_weighted};
use super::practitioners::{PsLite, days_before};
use super::profession::{Bill, Profession};
use super::{AnomalyCounts, GenError};
use crate::calendar::Calendar;

pub(super) const FILE: &str = "claims.csv";
pub(super) const RESENT_FILE: &str = "claims-resent.csv";

/// Contract §2 column order.
pub(super) const HEADER: &[&str] = &[
    "ps_id",
    "invoice_no",
    "origin",
    "mode",
    "received_at",
    "care_date",
    "adherent_id",
    "beneficiary",
    "billed",
    "amo_paid",
    "amc_due",
    "status",
    "reject_code",
    "reject_label",
];

const NOEMIE_SHARE: f64 = 0.10;
const HTP_SHARE: f64 = 0.05;
const REJECTED_SHARE: f64 = 0.03;

/// Weight (per 10,000) of a receipt `k` working days before the run date,
/// `k = 1..=15`: most arrived the last one or two working days, about 3 %
/// are five or more working days old and so already past their deadline.
const RECEIPT_WEIGHTS: [u32; 15] = [
    5800, 2700, 850, 365, 60, 45, 35, 30, 25, 20, 20, 15, 15, 10, 10,
];

/// Anomalies per 100,000 claims (0.05–0.15 %), at least one each from
/// [`ANOMALY_MIN_CLAIMS`] claims on.
const R01_PER_100K: usize = 100;
const R02_PER_100K: usize = 100;
const R04_ZERO_PER_100K: usize = 75;
const R04_OVER_PER_100K: usize = 75;
const R05_PER_100K: usize = 50;
const ANOMALY_MIN_CLAIMS: usize = 100;
/// Re-sent claims exist from this many claims on.
const RESEND_MIN_CLAIMS: usize = 20;

/// What a planned row must be, by its index in `claims.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// R01: a `ps_id` absent from `practitioners.csv`.
    UnknownPractitioner,
    /// R02: TP claim from a practitioner without TP agreement.
    TpWithoutAgreement,
    /// R04: `amc_due` = 0.
    AmcZero,
    /// R04: `amc_due` > `billed − amo_paid`.
    AmcOver,
    /// R05: HTP claim for a member absent from `adherents.csv`.
    UnknownAdherent,
    /// Written again, byte for byte, in the re-sent file (ignored on import).
    ResendSame,
    /// Written again with other amounts in the re-sent file (R03).
    ResendChanged,
}

/// One possible receipt day and its Paris offsets.
struct ReceiptDay {
    date: NaiveDate,
    /// `YYYY-MM-DD`, formatted once.
    text: String,
    /// Europe/Paris offset at each hour of that day (DST only changes on
    /// Sundays, never a working day, but exactness costs nothing here).
    offsets: [FixedOffset; 24],
    past_deadline: bool,
}

/// Counts of `claims.csv` for the summary.
#[derive(Default)]
pub(super) struct ClaimCounts {
    pub rows: usize,
    pub noemie: usize,
    pub htp: usize,
    pub rejected: usize,
    pub past_deadline: usize,
    pub first_received: Option<NaiveDate>,
    pub last_received: Option<NaiveDate>,
    pub resent_rows: usize,
    pub resent_identical: usize,
}

/// Everything the claims need besides the RNG.
pub(super) struct World<'a> {
    pub claims: usize,
    pub date: NaiveDate,
    pub cal: &'a Calendar,
    pub practitioners: &'a mut [PsLite],
    pub members: &'a Members,
}

/// Writes both claim files.
pub(super) fn write<R: Rng>(
    rng: &mut R,
    world: World<'_>,
    dir: &Path,
) -> Result<(ClaimCounts, AnomalyCounts), GenError> {
    let days = receipt_days(world.cal, world.date);
    let all = Sampler::new(world.practitioners, |_| true);
    let tp_capable = Sampler::new(world.practitioners, |p| p.has_tp);
    let no_tp: Vec<usize> = (0..world.practitioners.len())
        .filter(|&i| !world.practitioners[i].has_tp)
        .collect();
    let plans = plan_rows(rng, world.claims, !no_tp.is_empty());

    let mut state = State {
        days: &days,
        all: &all,
        tp_capable: &tp_capable,
        no_tp: &no_tp,
        members: world.members,
        unknown_ps: 0,
    };
    let mut out = CsvOut::create(dir, FILE, HEADER)?;
    let mut counts = ClaimCounts::default();
    let mut anomalies = AnomalyCounts::default();
    let mut row = Row::default();
    let mut kept = Vec::new();
    let mut next_plan = plans.iter().peekable();
    for i in 0..world.claims {
        let plan = next_plan.next_if(|(at, _)| **at == i).map(|(_, p)| *p);
        state.fill(rng, world.practitioners, plan, &mut row);
        out.row(row.fields())?;
        count(&mut counts, &mut anomalies, &row, plan, &days);
        if matches!(plan, Some(Plan::ResendSame | Plan::ResendChanged)) {
            kept.push((plan, row.clone()));
        }
    }
    out.finish()?;
    write_resent(rng, &kept, &days, dir, &mut counts, &mut anomalies)?;
    Ok((counts, anomalies))
}

/// The 15 working days before `date`, newest first.
fn receipt_days(cal: &Calendar, date: NaiveDate) -> Vec<ReceiptDay> {
    (1..=RECEIPT_WEIGHTS.len() as u32)
        .map(|k| {
            let day = cal.sub_working_days(date, k);
            ReceiptDay {
                date: day,
                text: ymd(day),
                offsets: std::array::from_fn(|h| paris_offset(day, h as u32)),
                past_deadline: cal.deadline(day) < date,
            }
        })
        .collect()
}

/// Europe/Paris offset at `hour:30` local time on `day`. In a spring-forward
/// gap (a Sunday night, never a receipt day) the offset in force at that
/// instant taken as UTC is close enough.
fn paris_offset(day: NaiveDate, hour: u32) -> FixedOffset {
    let local = day.and_time(NaiveTime::MIN) + TimeDelta::minutes(i64::from(hour) * 60 + 30);
    Paris.from_local_datetime(&local).earliest().map_or_else(
        || Paris.offset_from_utc_datetime(&local).fix(),
        |t| t.offset().fix(),
    )
}

fn ymd(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// Chooses which row indices are anomalies or re-sends. The map is ordered,
/// so streaming visits the plans in row order.
fn plan_rows<R: Rng>(rng: &mut R, claims: usize, have_no_tp: bool) -> BTreeMap<usize, Plan> {
    let anomalies = |per_100k: usize| {
        if claims < ANOMALY_MIN_CLAIMS {
            0
        } else {
            (claims * per_100k / 100_000).max(1)
        }
    };
    let resends = |per: usize, lo: usize, hi: usize| {
        if claims < RESEND_MIN_CLAIMS {
            0
        } else {
            (claims / per).clamp(lo, hi)
        }
    };
    let wanted = [
        (Plan::UnknownPractitioner, anomalies(R01_PER_100K)),
        (
            Plan::TpWithoutAgreement,
            if have_no_tp {
                anomalies(R02_PER_100K)
            } else {
                0
            },
        ),
        (Plan::AmcZero, anomalies(R04_ZERO_PER_100K)),
        (Plan::AmcOver, anomalies(R04_OVER_PER_100K)),
        (Plan::UnknownAdherent, anomalies(R05_PER_100K)),
        (Plan::ResendSame, resends(2000, 2, 100)),
        (Plan::ResendChanged, resends(4000, 1, 50)),
    ];
    let mut plans = BTreeMap::new();
    for (plan, n) in wanted {
        let mut placed = 0;
        // The total is at most ~0.6 % of `claims` (or a few rows of a tiny
        // file), so free indices are always found quickly.
        while placed < n && plans.len() < claims {
            let at = rng.random_range(0..claims);
            if let std::collections::btree_map::Entry::Vacant(e) = plans.entry(at) {
                e.insert(plan);
                placed += 1;
            }
        }
    }
    plans
}

/// Weighted choice among practitioners: cumulative integer weights and a
/// binary search, so a million draws over 100,000 practitioners stay cheap.
struct Sampler {
    cumulative: Vec<u64>,
    index: Vec<usize>,
}

impl Sampler {
    fn new(ps: &[PsLite], keep: impl Fn(&PsLite) -> bool) -> Self {
        let (mut cumulative, mut index, mut total) = (Vec::new(), Vec::new(), 0u64);
        for (i, p) in ps.iter().enumerate().filter(|(_, p)| keep(p)) {
            total += u64::from(p.weight.max(1));
            cumulative.push(total);
            index.push(i);
        }
        Self { cumulative, index }
    }

    fn sample<R: Rng>(&self, rng: &mut R) -> Option<usize> {
        let total = *self.cumulative.last()?;
        let r = rng.random_range(0..total);
        let pos = self.cumulative.partition_point(|c| *c <= r);
        self.index.get(pos).copied()
    }
}

/// A claim row being built; its strings are reused from row to row.
#[derive(Default, Clone)]
struct Row {
    ps_id: String,
    invoice_no: String,
    noemie: bool,
    htp: bool,
    /// Index into the receipt days, and seconds since local midnight.
    day: usize,
    seconds: u32,
    received_at: String,
    care_date: String,
    adherent_id: String,
    beneficiary: String,
    bill: Bill,
    billed: String,
    amo_paid: String,
    amc_due: String,
    reject: Option<(&'static str, &'static str)>,
}

impl Row {
    fn fields(&self) -> [&str; 14] {
        let (code, label) = self.reject.unwrap_or(("", ""));
        [
            &self.ps_id,
            &self.invoice_no,
            if self.noemie { "NOEMIE" } else { "DRE" },
            if self.htp { "HTP" } else { "TP" },
            &self.received_at,
            &self.care_date,
            &self.adherent_id,
            &self.beneficiary,
            &self.billed,
            &self.amo_paid,
            &self.amc_due,
            if self.reject.is_some() {
                "rejected"
            } else {
                "accepted"
            },
            code,
            label,
        ]
    }

    fn set_received_at(&mut self, day: &ReceiptDay) {
        let (h, m, s) = (
            self.seconds / 3600,
            self.seconds / 60 % 60,
            self.seconds % 60,
        );
        let offset = day.offsets[(h as usize).min(23)];
        self.received_at.clear();
        let _ = write!(
            self.received_at,
            "{}T{h:02}:{m:02}:{s:02}{offset}",
            day.text
        );
    }

    fn set_bill(&mut self, bill: Bill) {
        self.bill = bill;
        set_cents(&mut self.billed, bill.billed);
        set_cents(&mut self.amo_paid, bill.amo_paid);
        set_cents(&mut self.amc_due, bill.amc_due);
    }
}

/// `1234.50` from 123450: the form every file uses, never through f64.
fn set_cents(s: &mut String, cents: i64) {
    s.clear();
    let _ = write!(s, "{}.{:02}", cents / 100, cents % 100);
}

struct State<'a> {
    days: &'a [ReceiptDay],
    all: &'a Sampler,
    tp_capable: &'a Sampler,
    no_tp: &'a [usize],
    members: &'a Members,
    /// Unknown practitioners invented so far (each gets its own id).
    unknown_ps: usize,
}

impl State<'_> {
    /// Draws one claim into `row`, honouring its plan.
    fn fill<R: Rng>(&mut self, rng: &mut R, ps: &mut [PsLite], plan: Option<Plan>, row: &mut Row) {
        row.htp = match plan {
            Some(Plan::UnknownAdherent) => true,
            Some(Plan::UnknownPractitioner | Plan::TpWithoutAgreement) => false,
            _ => rng.random_bool(HTP_SHARE),
        };
        let profession = self.practitioner(rng, ps, plan, row);
        row.noemie = rng.random_bool(NOEMIE_SHARE);
        self.receipt(rng, row);
        self.care_date(rng, row, profession);
        self.member(rng, plan, row);
        let mut bill = profession.bill(rng);
        match plan {
            Some(Plan::AmcZero) => bill.amc_due = 0,
            Some(Plan::AmcOver) => {
                bill.amc_due = bill.billed - bill.amo_paid + rng.random_range(1..=2000)
            }
            _ => {}
        }
        row.set_bill(bill);
        row.reject = match plan {
            None | Some(Plan::ResendSame) if rng.random_bool(REJECTED_SHARE) => {
                Some(*pick_weighted(rng, ENGINE_REJECTS))
            }
            _ => None,
        };
    }

    /// Sets `ps_id` and `invoice_no`; returns what the practitioner bills.
    fn practitioner<R: Rng>(
        &mut self,
        rng: &mut R,
        ps: &mut [PsLite],
        plan: Option<Plan>,
        row: &mut Row,
    ) -> Profession {
        let chosen = match plan {
            Some(Plan::UnknownPractitioner) => None,
            Some(Plan::TpWithoutAgreement) => Some(*pick(rng, self.no_tp)),
            _ if row.htp => self.all.sample(rng),
            _ => self.tp_capable.sample(rng).or_else(|| {
                // Nobody has a TP agreement: the claim can only be HTP.
                row.htp = true;
                self.all.sample(rng)
            }),
        };
        row.ps_id.clear();
        row.invoice_no.clear();
        match chosen.and_then(|i| ps.get_mut(i)) {
            Some(p) => {
                row.ps_id.push_str(&p.ps_id);
                let _ = write!(row.invoice_no, "{}", p.next_invoice);
                // Invoices to other insurers take numbers in between.
                p.next_invoice += rng.random_range(1..=3);
                p.profession
            }
            None => {
                // `99` is no French department: never a generated ps_id.
                self.unknown_ps += 1;
                let _ = write!(row.ps_id, "990{:06}", self.unknown_ps % 1_000_000);
                let _ = write!(row.invoice_no, "{}", rng.random_range(1..=999_999_999u32));
                Profession::MedecinGeneraliste
            }
        }
    }

    /// Receipt day and time: Noémie arrives in the night batch (02:00–06:59),
    /// DREs mostly in office hours, often in the evening, some at night.
    fn receipt<R: Rng>(&self, rng: &mut R, row: &mut Row) {
        row.day = weighted_index(rng, &RECEIPT_WEIGHTS);
        let hour = if row.noemie {
            rng.random_range(2..7)
        } else {
            match rng.random_range(0..100) {
                0..72 => rng.random_range(8..20),
                72..92 => rng.random_range(20..24),
                _ => rng.random_range(0..8),
            }
        };
        row.seconds = hour * 3600 + rng.random_range(0..3600);
        row.set_received_at(&self.days[row.day]);
    }

    /// Care precedes receipt: by the practitioner's usual delay, plus the
    /// AMO's processing for Noémie claims.
    fn care_date<R: Rng>(&self, rng: &mut R, row: &mut Row, profession: Profession) {
        let mut back = u64::from(rng.random_range(0..=profession.max_care_delay_days()));
        if row.noemie {
            back += rng.random_range(3..=12);
        }
        let care = days_before(self.days[row.day].date, back);
        row.care_date.clear();
        let _ = write!(
            row.care_date,
            "{:04}-{:02}-{:02}",
            care.year(),
            care.month(),
            care.day()
        );
    }

    /// Member and patient: the member or someone of their family.
    fn member<R: Rng>(&self, rng: &mut R, plan: Option<Plan>, row: &mut Row) {
        row.adherent_id.clear();
        row.beneficiary.clear();
        if plan == Some(Plan::UnknownAdherent) || self.members.len() == 0 {
            row.adherent_id.push_str(&unknown_id(rng));
            let _ = write!(
                row.beneficiary,
                "{} {}",
                pick(rng, FIRST_NAMES),
                pick(rng, LAST_NAMES)
            );
            return;
        }
        let m = rng.random_range(0..self.members.len());
        let _ = write!(row.adherent_id, "A{}", self.members.number(m));
        let first = if rng.random_bool(0.55) {
            self.members.first_name(m)
        } else {
            pick(rng, FIRST_NAMES)
        };
        let _ = write!(row.beneficiary, "{first} {}", self.members.last_name(m));
    }
}

/// Index drawn by integer weights.
fn weighted_index<R: Rng>(rng: &mut R, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut r = rng.random_range(0..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if r < *w {
            return i;
        }
        r -= w;
    }
    weights.len() - 1
}

fn count(
    counts: &mut ClaimCounts,
    anomalies: &mut AnomalyCounts,
    row: &Row,
    plan: Option<Plan>,
    days: &[ReceiptDay],
) {
    let day = &days[row.day];
    counts.rows += 1;
    counts.noemie += usize::from(row.noemie);
    counts.htp += usize::from(row.htp);
    counts.rejected += usize::from(row.reject.is_some());
    counts.past_deadline += usize::from(day.past_deadline);
    counts.first_received = Some(counts.first_received.map_or(day.date, |d| d.min(day.date)));
    counts.last_received = Some(counts.last_received.map_or(day.date, |d| d.max(day.date)));
    match plan {
        Some(Plan::UnknownPractitioner) => anomalies.r01_unknown_practitioner += 1,
        Some(Plan::TpWithoutAgreement) => anomalies.r02_tp_without_agreement += 1,
        Some(Plan::AmcZero) => anomalies.r04_amc_due_zero += 1,
        Some(Plan::AmcOver) => anomalies.r04_amc_due_over += 1,
        Some(Plan::UnknownAdherent) => anomalies.r05_unknown_adherent += 1,
        _ => {}
    }
}

/// The practitioner's software sending some claims again later: identical
/// rows (to be ignored) and corrected ones, with an extra act billed and a
/// later receipt time on the same day (R03 duplicates).
fn write_resent<R: Rng>(
    rng: &mut R,
    kept: &[(Option<Plan>, Row)],
    days: &[ReceiptDay],
    dir: &Path,
    counts: &mut ClaimCounts,
    anomalies: &mut AnomalyCounts,
) -> Result<(), GenError> {
    let mut out = CsvOut::create(dir, RESENT_FILE, HEADER)?;
    for (plan, original) in kept {
        let mut row = original.clone();
        if *plan == Some(Plan::ResendChanged) {
            let extra = 100 * rng.random_range(1..=20);
            row.set_bill(Bill {
                billed: row.bill.billed + extra,
                amo_paid: row.bill.amo_paid,
                amc_due: row.bill.amc_due + extra,
            });
            row.seconds = (row.seconds + rng.random_range(600..=10_800)).min(86_399);
            row.set_received_at(&days[row.day]);
            anomalies.r03_duplicate_changed += 1;
        } else {
            counts.resent_identical += 1;
        }
        out.row(row.fields())?;
        counts.resent_rows += 1;
    }
    out.finish()
}
