//! Property tests (issue 7, point 5), with proptest.
//!
//! - Random claim sets imported and settled in two runs: what is paid, held
//!   and rejected is exactly what an independent oracle (written here from
//!   the contract, not from the code) predicts; the three sets are disjoint
//!   and cover every due claim; payments = accepted − held, to the cent; no
//!   claim is paid twice across runs. Small cases on SQLite, a few on
//!   PostgreSQL.
//! - The deadline is a working day, exactly 4 working days after receipt,
//!   checked against a holiday oracle of its own (Easter by Meeus).
//! - SEPA transliteration stays in the EPC set and within its limit.
//! - `Amount` parse/display round-trips; an RSP written and decoded gives
//!   back every amount.
//!
//! Case counts keep the file under ~30 s in debug.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::LazyLock;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestCaseError, TestRunner};
use serde_json::Value;
use tpsettle::calendar::{Calendar, CalendarConfig, ExtraRule};
use tpsettle::config::Config;
use tpsettle::domain::{Amount, InvoiceNo, Origin, PsId, RejectCode};
use tpsettle::import::{Kind, import_file};
use tpsettle::rsp::{Entity, Header, Invoice, Payee, RspWriter, Status, Transfer, decode};
use tpsettle::sepa::{
    charset::{is_sepa_char, push_sepa_text},
    to_sepa_text,
};
use tpsettle::settlement::Settlement;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

// ---------------------------------------------------------------------------
// Settlement of random claim sets

#[derive(Debug, Clone)]
struct Prac {
    /// `tp_agreement_from`, `None` = no TP agreement.
    tp_from: Option<NaiveDate>,
    /// `bank_valid_from`, `None` = no bank details.
    bank_from: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
struct Adh {
    bank_from: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
struct ClaimIn {
    /// Index into the practitioners; out of range = unknown practitioner.
    ps: usize,
    adh: usize,
    tp: bool,
    /// Local date and hour written with `offset`.
    received: NaiveDate,
    hour: u32,
    offset: &'static str,
    billed: i64,
    amo: i64,
    amc: i64,
    engine_rejected: bool,
}

#[derive(Debug, Clone)]
struct Day {
    pracs: Vec<Prac>,
    adhs: Vec<Adh>,
    claims: Vec<ClaimIn>,
}

/// Dates that straddle the two runs (20 Nov, 1 Dec): before, between, after.
fn a_date(from: NaiveDate, days: i64) -> impl Strategy<Value = NaiveDate> {
    (0..days).prop_map(move |n| from + Duration::days(n))
}

fn bank_from() -> impl Strategy<Value = Option<NaiveDate>> {
    prop_oneof![
        3 => Just(Some(day(2020, 1, 1))),
        1 => Just(Some(day(2026, 11, 25))), // valid for the second run only
        1 => Just(Some(day(2027, 1, 1))),   // never valid here
        1 => Just(None),
    ]
}

fn a_day() -> impl Strategy<Value = Day> {
    let prac = (
        prop::option::weighted(0.85, a_date(day(2026, 10, 20), 50)),
        bank_from(),
    )
        .prop_map(|(tp_from, bank_from)| Prac { tp_from, bank_from });
    let adh = bank_from().prop_map(|bank_from| Adh { bank_from });
    let claim = (
        0usize..5,
        0usize..4,
        prop::bool::weighted(0.7),
        a_date(day(2026, 11, 2), 34),
        0u32..24,
        prop::sample::select(vec!["+01:00", "Z", "-05:00", "+09:00"]),
        0i64..20_000,
        0i64..20_000,
        0i64..20_000,
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(ps, adh, tp, received, hour, offset, billed, amo, amc, engine_rejected)| {
                // Mostly coherent amounts, sometimes over (R04) or zero.
                let amo = amo.min(billed);
                let amc = if amc % 7 == 0 {
                    amc
                } else {
                    amc.min(billed - amo)
                };
                ClaimIn {
                    ps,
                    adh,
                    tp,
                    received,
                    hour,
                    offset,
                    billed,
                    amo,
                    amc,
                    engine_rejected,
                }
            },
        );
    (
        prop::collection::vec(prac, 1..5),
        prop::collection::vec(adh, 1..4),
        prop::collection::vec(claim, 0..30),
    )
        .prop_map(|(pracs, adhs, claims)| Day {
            pracs,
            adhs,
            claims,
        })
}

fn ps_id(i: usize) -> String {
    format!("10000000{i}")
}

fn cents(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

impl ClaimIn {
    fn received_at(&self) -> String {
        format!("{}T{:02}:30:00{}", self.received, self.hour, self.offset)
    }

    /// Europe/Paris date, computed with chrono-tz directly.
    fn paris_date(&self) -> NaiveDate {
        chrono::DateTime::parse_from_rfc3339(&self.received_at())
            .unwrap()
            .with_timezone(&chrono_tz::Europe::Paris)
            .date_naive()
    }
}

const IBAN: &str = "FR7630006000011234567890189";

impl Day {
    fn files(&self) -> [(Kind, &'static str, String); 3] {
        let mut p = String::from(
            "ps_id,name,profession,address_line,postcode,city,flux_agreement_from,tp_agreement_from,iban,bank_valid_from\n",
        );
        for (i, x) in self.pracs.iter().enumerate() {
            let tp = x.tp_from.map(|d| d.to_string()).unwrap_or_default();
            let (iban, from) = match x.bank_from {
                Some(d) => (IBAN, d.to_string()),
                None => ("", String::new()),
            };
            p += &format!(
                "{},Cabinet {i},infirmier,1 rue A,75001,Paris,2020-01-01,{tp},{iban},{from}\n",
                ps_id(i)
            );
        }
        let mut a = String::from("adherent_id,name,centre,iban,bank_valid_from\n");
        for (i, x) in self.adhs.iter().enumerate() {
            let (iban, from) = match x.bank_from {
                Some(d) => (IBAN, d.to_string()),
                None => ("", String::new()),
            };
            a += &format!("A{i},Membre {i},CG01,{iban},{from}\n");
        }
        let mut c = String::from(
            "ps_id,invoice_no,origin,mode,received_at,care_date,adherent_id,beneficiary,billed,amo_paid,amc_due,status,reject_code,reject_label\n",
        );
        for (n, x) in self.claims.iter().enumerate() {
            let ps = if x.ps < self.pracs.len() {
                ps_id(x.ps)
            } else {
                "999999999".into()
            };
            let adh = if x.adh < self.adhs.len() {
                format!("A{}", x.adh)
            } else {
                "AX".into()
            };
            let status = if x.engine_rejected {
                "rejected,E99,Refus moteur"
            } else {
                "accepted,,"
            };
            c += &format!(
                "{ps},{},DRE,{},{},2026-10-01,{adh},Patient {n},{},{},{},{status}\n",
                n + 1,
                if x.tp { "TP" } else { "HTP" },
                x.received_at(),
                cents(x.billed),
                cents(x.amo),
                cents(x.amc),
            );
        }
        [
            (Kind::Practitioners, "p.csv", p),
            (Kind::Adherents, "a.csv", a),
            (Kind::Claims, "c.csv", c),
        ]
    }

    /// The oracle: the contract's rules (§2) in their documented order.
    fn verdict(&self, x: &ClaimIn) -> Result<(), &'static str> {
        if x.engine_rejected {
            return Err("E99");
        }
        let received = x.paris_date();
        let Some(p) = self.pracs.get(x.ps) else {
            return Err("R01");
        };
        if x.tp && p.tp_from.is_none_or(|d| d > received) {
            return Err("R02");
        }
        if !x.tp && x.adh >= self.adhs.len() {
            return Err("R05");
        }
        if x.amc == 0 || x.amc > x.billed - x.amo {
            return Err("R04");
        }
        Ok(())
    }

    /// Whether the payee of an accepted claim can be paid on `exec`.
    fn payable(&self, x: &ClaimIn, exec: NaiveDate) -> bool {
        let from = if x.tp {
            self.pracs[x.ps].bank_from
        } else {
            self.adhs[x.adh].bank_from
        };
        from.is_some_and(|d| d <= exec)
    }
}

type Key = (String, i64);

/// What a run's manifest says, as sets of claim keys.
#[derive(Debug, Default)]
struct RunOutcome {
    paid: BTreeMap<Key, String>,
    held: BTreeSet<Key>,
    rejected: BTreeMap<Key, String>,
    payments_cents: i64,
}

fn key_of(v: &Value) -> Key {
    (v[0].as_str().unwrap().to_owned(), v[1].as_i64().unwrap())
}

fn money(v: &Value) -> i64 {
    v.as_str().unwrap().parse::<Amount>().unwrap().cents()
}

fn read_run(run_dir: &Path, amounts: &BTreeMap<Key, i64>) -> RunOutcome {
    let m: Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("manifest.json")).unwrap()).unwrap();
    let mut out = RunOutcome::default();
    for p in m["payments"].as_array().unwrap() {
        let reference = p["reference"].as_str().unwrap().to_owned();
        let mut sum = 0;
        for c in p["claims"].as_array().unwrap() {
            let k = key_of(c);
            sum += amounts[&k];
            assert!(
                out.paid.insert(k, reference.clone()).is_none(),
                "a claim in two payments"
            );
        }
        assert_eq!(money(&p["amount"]), sum, "payment {reference} = its claims");
        out.payments_cents += sum;
    }
    assert_eq!(money(&m["totals"]["amount"]), out.payments_cents);
    for h in m["held"].as_array().unwrap() {
        assert!(out.held.insert(key_of(h)));
    }
    for r in m["rejected"].as_array().unwrap() {
        out.rejected
            .insert(key_of(r), r[2].as_str().unwrap().to_owned());
    }
    out
}

/// Imports `d`, settles 20 November then 1 December, checks both runs.
async fn settle_and_check(db: &common::TestDb, d: &Day) {
    let cal = Calendar::default();
    for (kind, name, text) in d.files() {
        let path = db.path(name);
        std::fs::write(&path, text).unwrap();
        import_file(&db.store, &cal, kind, &path).await.unwrap();
    }
    let config = Config::default();
    let settlement = Settlement {
        store: &db.store,
        config: &config,
        calendar: &cal,
    };
    let amounts: BTreeMap<Key, i64> = d
        .claims
        .iter()
        .enumerate()
        .map(|(n, x)| {
            let ps = if x.ps < d.pracs.len() {
                ps_id(x.ps)
            } else {
                "999999999".into()
            };
            ((ps, n as i64 + 1), x.amc)
        })
        .collect();
    let keys: Vec<Key> = amounts.keys().cloned().collect();
    let mut paid_before: BTreeSet<Key> = BTreeSet::new();
    let mut returned_before: BTreeSet<Key> = BTreeSet::new();
    for date in [day(2026, 11, 20), day(2026, 12, 1)] {
        let out_dir = db.path("out");
        let report = settlement.settle(date, &out_dir).await.unwrap();
        let exec = report.run.execution_date;
        let run = read_run(&report.run_dir, &amounts);
        // The oracle's view of this run.
        let (mut paid, mut held, mut rejected) =
            (BTreeSet::new(), BTreeSet::new(), BTreeMap::new());
        let (mut accepted_cents, mut held_cents) = (0, 0);
        for (n, x) in d.claims.iter().enumerate() {
            let k = keys.iter().find(|k| k.1 == n as i64 + 1).unwrap().clone();
            if x.paris_date() >= date {
                continue;
            }
            match d.verdict(x) {
                Err(code) if !returned_before.contains(&k) => {
                    rejected.insert(k, code.to_owned());
                }
                Err(_) => {}
                Ok(()) if paid_before.contains(&k) => {}
                Ok(()) => {
                    accepted_cents += x.amc;
                    if d.payable(x, exec) {
                        paid.insert(k);
                    } else {
                        held_cents += x.amc;
                        held.insert(k);
                    }
                }
            }
        }
        let got_paid: BTreeSet<Key> = run.paid.keys().cloned().collect();
        assert_eq!(got_paid, paid, "{date}: paid");
        assert_eq!(run.held, held, "{date}: held");
        assert_eq!(run.rejected, rejected, "{date}: rejected");
        assert!(got_paid.is_disjoint(&run.held));
        assert!(
            run.rejected
                .keys()
                .all(|k| !got_paid.contains(k) && !run.held.contains(k))
        );
        assert_eq!(
            run.payments_cents,
            accepted_cents - held_cents,
            "{date}: payments = accepted − held"
        );
        assert!(
            got_paid.is_disjoint(&paid_before),
            "{date}: a claim paid twice"
        );
        paid_before.extend(got_paid);
        returned_before.extend(run.rejected.into_keys());
    }
}

fn run_settlement_cases(cases: u32, postgres: bool) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(PtConfig {
        cases,
        failure_persistence: None,
        ..PtConfig::default()
    });
    runner
        .run(&a_day(), |d| {
            rt.block_on(async {
                let db = if postgres {
                    match common::TestDb::postgres().await {
                        Some(db) => db,
                        None => return,
                    }
                } else {
                    common::TestDb::sqlite().await
                };
                settle_and_check(&db, &d).await;
                db.cleanup().await;
            });
            Ok(())
        })
        .unwrap();
}

// Found by the property above: a run with nothing to publish (no claim, or
// every claim held) failed, because no file had created its folder.
both!(a_day_with_nothing_to_pay_is_settled, |db| async move {
    let nobody_payable = Day {
        pracs: vec![Prac {
            tp_from: Some(day(2020, 1, 1)),
            bank_from: None,
        }],
        adhs: vec![Adh { bank_from: None }],
        claims: vec![],
    };
    settle_and_check(&db, &nobody_payable).await;
    let all_held = Day {
        claims: vec![ClaimIn {
            ps: 0,
            adh: 0,
            tp: true,
            received: day(2026, 11, 16),
            hour: 10,
            offset: "+01:00",
            billed: 3000,
            amo: 2100,
            amc: 900,
            engine_rejected: false,
        }],
        ..nobody_payable
    };
    let second = if db.url.starts_with("postgres") {
        common::TestDb::postgres()
            .await
            .expect("PostgreSQL answered a moment ago")
    } else {
        common::TestDb::sqlite().await
    };
    settle_and_check(&second, &all_held).await;
    second.cleanup().await;
    db.cleanup().await;
});

#[test]
fn settlement_pays_accepted_minus_held_sqlite() {
    run_settlement_cases(24, false);
}

#[test]
fn settlement_pays_accepted_minus_held_postgres() {
    run_settlement_cases(3, true);
}

// ---------------------------------------------------------------------------
// The four-working-day deadline, against an oracle of its own

/// Easter Sunday (Meeus/Jones/Butcher, Gregorian).
fn easter(y: i32) -> NaiveDate {
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let dd = (h + l - 7 * m + 114) % 31 + 1;
    day(y, month as u32, dd as u32)
}

fn oracle_working(d: NaiveDate, alsace: bool, extra: &[NaiveDate]) -> bool {
    if matches!(d.weekday(), Weekday::Sat | Weekday::Sun) || extra.contains(&d) {
        return false;
    }
    let fixed = [
        (1, 1),
        (5, 1),
        (5, 8),
        (7, 14),
        (8, 15),
        (11, 1),
        (11, 11),
        (12, 25),
    ];
    if fixed.contains(&(d.month(), d.day())) || (alsace && (d.month(), d.day()) == (12, 26)) {
        return false;
    }
    let offset = (d - easter(d.year())).num_days();
    !(offset == 1 || offset == 39 || offset == 50 || (alsace && offset == -2))
}

/// Building a calendar precomputes its day table: the plain ones once.
static PLAIN: LazyLock<Calendar> = LazyLock::new(Calendar::default);
static ALSACE: LazyLock<Calendar> = LazyLock::new(|| {
    Calendar::new(&CalendarConfig {
        extra_rules: vec![ExtraRule::AlsaceMoselle],
        ..CalendarConfig::default()
    })
});

fn check_deadline(
    cal: &Calendar,
    received: NaiveDate,
    alsace: bool,
    extra: &[NaiveDate],
) -> Result<(), TestCaseError> {
    let deadline = cal.deadline(received);
    prop_assert!(deadline > received, "never on or before receipt");
    prop_assert!(
        oracle_working(deadline, alsace, extra),
        "{} is not a working day",
        deadline
    );
    let between = received
        .iter_days()
        .skip(1)
        .take_while(|d| *d <= deadline)
        .filter(|d| oracle_working(*d, alsace, extra))
        .count();
    prop_assert_eq!(between, 4, "working days in ({}, {}]", received, deadline);
    prop_assert_eq!(cal.working_days_between(received, deadline), 4);
    Ok(())
}

proptest! {
    #![proptest_config(PtConfig { cases: 5000, failure_persistence: None, ..PtConfig::default() })]

    #[test]
    fn deadline_is_the_fourth_working_day_after_receipt(days in 0i64..(100 * 366), alsace in any::<bool>()) {
        let received = day(2000, 1, 1) + Duration::days(days);
        check_deadline(if alsace { &ALSACE } else { &PLAIN }, received, alsace, &[])?;
    }
}

proptest! {
    #![proptest_config(PtConfig { cases: 64, failure_persistence: None, ..PtConfig::default() })]

    /// With configured closing days, clustered near the receipt so that
    /// they matter (each case builds its own calendar, hence fewer cases).
    #[test]
    fn deadline_skips_configured_days(
        days in 0i64..(100 * 366),
        alsace in any::<bool>(),
        extra in prop::collection::vec(0i64..20, 0..8),
    ) {
        let received = day(2000, 1, 1) + Duration::days(days);
        let extra: Vec<NaiveDate> = extra.into_iter().map(|n| received + Duration::days(n)).collect();
        let cal = Calendar::new(&CalendarConfig {
            extra_days: extra.clone(),
            extra_rules: if alsace { vec![ExtraRule::AlsaceMoselle] } else { vec![] },
        });
        check_deadline(&cal, received, alsace, &extra)?;
    }
}

proptest! {
    #![proptest_config(PtConfig { cases: 2000, failure_persistence: None, ..PtConfig::default() })]

    #[test]
    fn deadline_of_a_timestamp_counts_from_the_paris_date(
        secs in 946_684_800i64..4_102_444_800, // 2000–2100
        offset_min in -14 * 60i32..=14 * 60,
    ) {
        let tz = chrono::FixedOffset::east_opt(offset_min * 60).unwrap();
        let t = chrono::DateTime::from_timestamp(secs, 0).unwrap().with_timezone(&tz);
        let paris = t.with_timezone(&chrono_tz::Europe::Paris).date_naive();
        prop_assert_eq!(PLAIN.received_local_date(t), paris);
        prop_assert_eq!(PLAIN.deadline_of(t), PLAIN.deadline(paris));
    }
}

// ---------------------------------------------------------------------------
// SEPA transliteration

/// Mostly the characters that matter, some arbitrary Unicode.
fn hostile_text() -> impl Strategy<Value = String> {
    let pool: Vec<char> =
        "aZ09 &<>\"'«»—–_[]{}()/\\|;!?:.,+-=@#%*^~`\t\n\r\u{0}\u{7f}\u{a0}\u{200b}\u{301}\u{feff}éÉŒœßØøÆ°ºÐÞ北京Д😀\u{e000}"
            .chars()
            .collect();
    prop::collection::vec(
        prop_oneof![4 => prop::sample::select(pool), 1 => any::<char>()],
        0..200,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(PtConfig { cases: 2000, failure_persistence: None, ..PtConfig::default() })]

    #[test]
    fn transliteration_stays_in_the_sepa_set_and_the_limit(s in hostile_text(), max in 0usize..160) {
        let out = to_sepa_text(&s, max);
        prop_assert!(out.chars().count() <= max, "{:?} is over {}", out, max);
        prop_assert!(out.len() <= max, "bytes: pure ASCII, so bytes = characters");
        prop_assert!(out.chars().all(is_sepa_char), "{:?}", out);
        prop_assert!(!out.starts_with(' ') && !out.ends_with(' ') && !out.contains("  "));
        prop_assert_eq!(to_sepa_text(&out, max), out.clone(), "idempotent");
        // A longer limit only ever adds at the end.
        prop_assert!(to_sepa_text(&s, max + 10).starts_with(out.trim_end()));
    }

    #[test]
    fn transliteration_into_a_used_buffer_is_the_same(s in hostile_text(), old in hostile_text(), max in 0usize..160) {
        // The writer reuses one buffer per field from transfer to transfer.
        let mut buf = old;
        push_sepa_text(&s, max, &mut buf);
        prop_assert_eq!(buf, to_sepa_text(&s, max));
    }

    #[test]
    fn ascii_text_reads_the_same_on_the_fast_path(s in "[ -~\t\n]{0,150}", max in 0usize..160) {
        // ASCII goes through a byte table, anything else through
        // transliteration: a combining accent (dropped) must change nothing.
        let slow = format!("{s}\u{301}");
        prop_assert_eq!(to_sepa_text(&s, max), to_sepa_text(&slow, max));
    }

    #[test]
    fn sepa_limits_of_the_real_fields(s in hostile_text()) {
        for limit in [tpsettle::sepa::MAX_NAME_CHARS, tpsettle::sepa::MAX_REMITTANCE_CHARS, 35, 16] {
            prop_assert!(to_sepa_text(&s, limit).len() <= limit);
        }
    }
}

// ---------------------------------------------------------------------------
// Amounts

proptest! {
    #![proptest_config(PtConfig { cases: 3000, failure_persistence: None, ..PtConfig::default() })]

    #[test]
    fn amount_cents_display_parse_round_trip(c in 0i64..=99_999_999_999) {
        let a = Amount::from_cents(c).unwrap();
        let shown = a.to_string();
        prop_assert_eq!(shown.split_once('.').map(|(_, f)| f.len()), Some(2));
        let back: Amount = shown.parse().unwrap();
        prop_assert_eq!(back, a);
        prop_assert_eq!(back.cents(), c);
    }

    #[test]
    fn amount_text_parse_display_round_trip(int in 0u64..1_000_000_000, frac in prop::option::of(0u32..100), one_digit in any::<bool>()) {
        let text = match frac {
            None => int.to_string(),
            Some(f) if one_digit => format!("{int}.{}", f % 10),
            Some(f) => format!("{int}.{f:02}"),
        };
        let a: Amount = text.parse().unwrap();
        let cents = int as i64 * 100 + match frac {
            None => 0,
            Some(f) if one_digit => i64::from(f % 10) * 10,
            Some(f) => i64::from(f),
        };
        prop_assert_eq!(a.cents(), cents);
        prop_assert_eq!(a.to_string().parse::<Amount>().unwrap(), a);
    }

    /// Any text at all: never a panic, and accepted only in the one shape.
    #[test]
    fn amount_parse_accepts_only_plain_decimals(s in prop::collection::vec(
        prop::sample::select("0123456789.-+eExXaNnIf ,_".chars().collect::<Vec<char>>()), 0..16)
        .prop_map(|v| v.into_iter().collect::<String>()))
    {
        let plain = {
            let (i, f) = s.split_once('.').map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
            let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            digits(i) && i.len() <= 12 && f.is_none_or(|f| digits(f) && f.len() <= 2)
        };
        match s.parse::<Amount>() {
            Ok(a) => {
                prop_assert!(plain, "{:?} accepted", s);
                prop_assert!(a.cents() <= 99_999_999_999);
            }
            Err(_) => prop_assert!(!plain || s.split('.').next().unwrap().trim_start_matches('0').len() > 9, "{:?} refused", s),
        }
    }
}

// ---------------------------------------------------------------------------
// RSP: what is written is what is read back

#[derive(Debug, Clone)]
struct RspTransfer {
    /// (requested, paid) per invoice, paid <= requested, paid > 0.
    invoices: Vec<(i64, i64)>,
}

fn rsp_input() -> impl Strategy<Value = (Vec<RspTransfer>, Vec<i64>, Vec<(i64, i64)>)> {
    let invoice = (1i64..50_000_000_000).prop_flat_map(|req| (Just(req), 1i64..=req));
    let transfer =
        prop::collection::vec(invoice, 1..6).prop_map(|invoices| RspTransfer { invoices });
    let signalement = (0i64..1_000_000).prop_flat_map(|req| (Just(req), 0i64..=req));
    (
        prop::collection::vec(transfer, 0..4),
        prop::collection::vec(0i64..1_000_000, 0..4),
        prop::collection::vec(signalement, 0..4),
    )
}

fn amt(c: i64) -> Amount {
    Amount::from_cents(c).unwrap()
}

proptest! {
    #![proptest_config(PtConfig { cases: 1500, failure_persistence: None, ..PtConfig::default() })]

    #[test]
    fn rsp_amounts_round_trip((transfers, rejected, signalements) in rsp_input()) {
        let total: i64 = transfers.iter().flat_map(|t| &t.invoices).map(|i| i.1).sum();
        // A file total must fit the 11-digit field, as in a real run.
        prop_assume!(total <= 99_999_999_999);
        let ps: PsId = "100000001".parse().unwrap();
        let header = Header { sender: "MUT00042".into(), recipient: ps.clone(), file_id: "RUN-20261201".into(), created: day(2026, 12, 1) };
        let mut w = RspWriter::new(Vec::new(), &header).unwrap();
        w.begin_payee(&Payee { ps_id: ps, name: "Cabinet".into() }).unwrap();
        let mut n = 0u32;
        let mut invoice = || {
            n += 1;
            Invoice { invoice_no: InvoiceNo::new(n).unwrap(), origin: Origin::Dre, care_date: day(2026, 11, 30) }
        };
        let mut expected = Vec::new();
        for (i, t) in transfers.iter().enumerate() {
            let sum: i64 = t.invoices.iter().map(|i| i.1).sum();
            w.begin_transfer(&Transfer { reference: format!("RUN-20261201-P{i}"), execution_date: day(2026, 12, 1), amount: amt(sum) }).unwrap();
            expected.push(("071", sum, 0));
            for &(req, paid) in &t.invoices {
                w.paid_invoice(&invoice(), amt(req), amt(paid)).unwrap();
                expected.push(("199P", req, paid));
            }
            w.end_transfer().unwrap();
            expected.push(("990", sum, t.invoices.len() as i64));
        }
        let code: RejectCode = "R04".parse().unwrap();
        for &req in &rejected {
            w.rejected_invoice(&invoice(), amt(req), &code, "Part AMC nulle").unwrap();
            expected.push(("199R", req, 0));
        }
        for &(req, paid) in &signalements {
            w.signalement(&invoice(), amt(req), amt(paid)).unwrap();
            expected.push(("199S", req, paid));
        }
        w.end_payee().unwrap();
        let invoices = (transfers.iter().map(|t| t.invoices.len()).sum::<usize>() + rejected.len() + signalements.len()) as i64;
        expected.push(("990", total, invoices));
        let (bytes, totals) = w.finish().unwrap();
        expected.push(("999", total, 0));
        prop_assert_eq!(totals.total_paid, amt(total));

        let mut got = Vec::new();
        for e in decode(bytes.as_slice()) {
            match e.unwrap() {
                Entity::Transfer { amount, .. } => got.push(("071", amount.cents(), 0)),
                Entity::AmcPart { requested, status, paid, .. } => got.push((match status {
                    Status::Paid => "199P", Status::Rejected => "199R", Status::Signalement => "199S",
                }, requested.cents(), paid.cents())),
                Entity::Control { count, amount, .. } => got.push(("990", amount.cents(), count as i64)),
                Entity::End { total, .. } => got.push(("999", total.cents(), 0)),
                _ => {}
            }
        }
        prop_assert_eq!(got, expected);
    }
}
