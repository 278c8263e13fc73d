//! Criterion benchmarks of the pure parts of a run: no database, no files.
//!
//!   cargo bench --bench pure                 # all
//!   cargo bench --bench pure -- sepa         # one group
//!
//! What each measures is what a 1,000,000-claim day does ~1,000,000 times:
//! a deadline, a name put into the SEPA character set, a pain.001
//! transaction, an RSP invoice. Throughput is reported per element, so the
//! figures read as "this step costs N µs of the day per million".

use std::hint::black_box;
use std::io::Write;

use chrono::{Days, NaiveDate, NaiveDateTime};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tpsettle::calendar::{Calendar, CalendarConfig};
use tpsettle::domain::{Amount, Iban, InvoiceNo, Origin, PsId};
use tpsettle::rsp::{Header, Invoice, Payee, RspWriter, Transfer};
use tpsettle::sepa::{
    CreditTransfer, Debtor, GroupHeader, PainVersion, PaymentInfo, SepaWriter, to_sepa_text,
};

fn date(s: &str) -> NaiveDate {
    s.parse().expect("bench date")
}

/// Deadlines of receipt dates spread over three years (holidays, bridges,
/// weekends), the way the importer computes one per claim.
fn calendar(c: &mut Criterion) {
    let cal = Calendar::new(&CalendarConfig::default());
    let start = date("2026-01-01");
    let days: Vec<NaiveDate> = (0..1_000).map(|i| start + Days::new(i)).collect();
    let mut g = c.benchmark_group("calendar");
    g.throughput(Throughput::Elements(days.len() as u64));
    g.bench_function("deadline", |b| {
        b.iter(|| {
            for d in &days {
                black_box(cal.deadline(black_box(*d)));
            }
        })
    });
    g.finish();
}

/// Names into the EPC character set: plain ASCII (the common case, a copy)
/// and accented or hostile text (transliteration).
fn transliteration(c: &mut Criterion) {
    let mut g = c.benchmark_group("sepa_text");
    for (name, text) in [
        ("ascii", "PHARMACIE DU MARCHE SARL"),
        ("accented", "Pharmacie de l'Église Saint-Étienne & Fils"),
        ("hostile", "Ørsted <SARL> \"Œuvre\" — Łódź ß 名前"),
    ] {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), text, |b, t| {
            b.iter(|| black_box(to_sepa_text(black_box(t), 70)))
        });
    }
    g.finish();
}

struct Payees {
    refs: Vec<String>,
    names: Vec<String>,
    remittances: Vec<String>,
    iban: Iban,
    amount: Amount,
}

fn payees(n: usize) -> Payees {
    Payees {
        refs: (0..n).map(|i| format!("RUN-20261201-P{i:09}")).collect(),
        names: (0..n)
            .map(|i| format!("Cabinet Médical de l'Étoile n° {i}"))
            .collect(),
        remittances: (0..n)
            .map(|i| format!("Tiers payant RUN-20261201-P{i:09}"))
            .collect(),
        iban: "FR7630006000011234567890189".parse().expect("bench IBAN"),
        amount: "123.45".parse().expect("bench amount"),
    }
}

/// A whole pain.001.001.09 of `n` transfers into memory: the writer's own
/// cost (checks, transliteration, escaping, XML), without the disk.
fn sepa_file(p: &Payees) -> Vec<u8> {
    let n = p.refs.len() as u64;
    let total = Amount::from_cents(12_345 * n as i64).expect("bench total");
    let created: NaiveDateTime = date("2026-12-01").and_hms_opt(14, 0, 0).expect("time");
    let header = GroupHeader {
        msg_id: "RUN-20261201".into(),
        created_at: created,
        nb_of_txs: n,
        ctrl_sum: total,
    };
    let debtor = Debtor {
        name: "Mutuelle Démo des Tiers-Payants".into(),
        iban: p.iban.clone(),
        bic: None,
        initiating_party: "Mutuelle Démo".into(),
        initiating_party_id: None,
    };
    let mut w = SepaWriter::new(
        Vec::with_capacity(700 * p.refs.len()),
        PainVersion::V09,
        &header,
        &debtor,
    )
    .expect("header");
    w.begin_payment_info(&PaymentInfo {
        pmt_inf_id: "RUN-20261201-1".into(),
        execution_date: date("2026-12-02"),
        nb_of_txs: n,
        ctrl_sum: total,
        category_purpose: None,
    })
    .expect("block");
    for i in 0..p.refs.len() {
        w.transfer(&CreditTransfer {
            end_to_end_id: &p.refs[i],
            amount: p.amount,
            creditor_name: &p.names[i],
            creditor_iban: &p.iban,
            creditor_bic: None,
            creditor_address: None,
            remittance: &p.remittances[i],
        })
        .expect("transfer");
    }
    w.end_payment_info().expect("end block");
    w.finish().expect("finish")
}

fn sepa(c: &mut Criterion) {
    let p = payees(10_000);
    let mut g = c.benchmark_group("sepa");
    g.throughput(Throughput::Elements(p.refs.len() as u64));
    g.bench_function("pain001_10k_transfers", |b| {
        b.iter(|| black_box(sepa_file(&p)))
    });
    g.finish();
}

/// One practitioner's RSP with `n` paid invoices in one transfer.
fn rsp_file(n: u32, out: &mut Vec<u8>) {
    out.clear();
    let ps_id: PsId = "100000001".parse().expect("bench ps_id");
    let header = Header {
        sender: "MUTDEMO0001".into(),
        recipient: ps_id.clone(),
        file_id: "RSP-20261201-0001".into(),
        created: date("2026-12-01"),
    };
    let each: Amount = "12.34".parse().expect("amount");
    let total = Amount::from_cents(1_234 * i64::from(n)).expect("total");
    let mut w = RspWriter::new(out, &header).expect("header");
    w.begin_payee(&Payee {
        ps_id,
        name: "Pharmacie de l'Église".into(),
    })
    .expect("payee");
    w.begin_transfer(&Transfer {
        reference: "RUN-20261201-P100000001".into(),
        execution_date: date("2026-12-02"),
        amount: total,
    })
    .expect("transfer");
    for i in 1..=n {
        let invoice = Invoice {
            invoice_no: InvoiceNo::new(i).expect("invoice"),
            origin: if i % 10 == 0 {
                Origin::Noemie
            } else {
                Origin::Dre
            },
            care_date: date("2026-11-25"),
        };
        w.paid_invoice(&invoice, each, each).expect("invoice");
    }
    w.end_transfer().expect("end transfer");
    w.end_payee().expect("end payee");
    let (out, _) = w.finish().expect("finish");
    out.flush().expect("memory");
}

fn rsp(c: &mut Criterion) {
    let mut g = c.benchmark_group("rsp");
    let mut buf = Vec::with_capacity(1 << 20);
    for n in [10u32, 1_000] {
        g.throughput(Throughput::Elements(u64::from(n)));
        g.bench_with_input(BenchmarkId::new("paid_invoices", n), &n, |b, &n| {
            b.iter(|| {
                rsp_file(n, &mut buf);
                black_box(buf.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, calendar, transliteration, sepa, rsp);
criterion_main!(benches);
