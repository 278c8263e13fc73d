//! pain.001 writer benchmark: one SEPA credit-transfer file of
//! `BENCH_TRANSFERS` transfers (default 1,000,000), streamed through
//! [`SepaWriter`] into a `BufWriter<File>`, nothing held in memory.
//!
//!   cargo bench --no-default-features --bench pain001
//!   BENCH_TRANSFERS=10000 BENCH_OUT=/tmp/ours.xml cargo bench --no-default-features --bench pain001
//!   BENCH_MODE=gen cargo bench --no-default-features --bench pain001   # the input data alone
//!
//! `BENCH_OUT` is where the file goes (default: a temporary file, removed
//! afterwards). Prints wall time, CPU time, transfers and bytes; run it under
//! `/usr/bin/time -v` for the peak RSS. `benches/peers.sh` runs it beside the
//! Python `sepaxml` package and the Rust `sepa` crate building the same file,
//! and validates all three against the XSD. Nothing is asserted.
//!
//! # The data (the peers build exactly the same transfers)
//!
//! `benches/peers/sepaxml_pain001.py` and `benches/peers/sepa-crate` follow
//! these rules; change them together.
//!
//! - File: pain.001.001.09, `MsgId` `BENCH-20261201`, `CreDtTm`
//!   2026-12-01T14:00:00, one payment-information block `BENCH-20261201-1`,
//!   execution date 2026-12-02, batch booking, service level SEPA, `SLEV`.
//! - Debtor: "Mutuelle Démo des Tiers-Payants", IBAN
//!   FR7630006000011234567890189, BIC AGRIFRPPXXX; initiating party
//!   "Mutuelle Démo".
//! - Transfer `i`, for `i` in `0..N`:
//!   - `EndToEndId`: `TP-` and `i` on 9 digits (`TP-000000042`);
//!   - amount in cents: `1000 + (i * 7919) % 100000` (10.00 to 1009.99 EUR);
//!   - creditor name: `Cabinet médical n° {i}` (transliterated by each writer);
//!   - creditor IBAN: French, bank 30004, branch `1 + i % 99999` (5 digits),
//!     account `i` (11 digits), RIB key `97 - (89·bank + 15·branch +
//!     3·account) mod 97` (2 digits); BBAN = bank‖branch‖account‖key; check
//!     digits `98 - (BBAN ‖ "FR00", letters as A=10…Z=35) mod 97` (ISO 7064
//!     mod 97-10, as `src/generator/ids.rs` computes them);
//!   - creditor BIC: `BNPAFRPPXXX` when `i` is even, none when odd;
//!   - remittance (`Ustrd`): `Tiers payant réf. TP-{i:09}`.
//! - `NbOfTxs` = N, `CtrlSum` = the sum of the amounts (declared up front:
//!   the writer streams, so they are computed from the rules first).

use std::fmt::Write as _;
use std::fs::File;
use std::hint::black_box;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use tpsettle::domain::{Amount, Bic, Iban};
use tpsettle::sepa::{CreditTransfer, Debtor, GroupHeader, PainVersion, PaymentInfo, SepaWriter};

mod common;
use common::{cpu_secs, env_usize};

/// Amount of transfer `i`, in cents.
fn cents(i: u64) -> i64 {
    1000 + ((i * 7919) % 100_000) as i64
}

/// ISO 13616 check digits of `country` + `bban` (digits and capital letters).
fn iban_check(country: &str, bban: &str) -> u32 {
    let mut rem = 0u32;
    for b in bban.bytes().chain(country.bytes()).chain(*b"00") {
        rem = if b.is_ascii_digit() {
            (rem * 10 + u32::from(b - b'0')) % 97
        } else {
            (rem * 100 + u32::from(b - b'A') + 10) % 97
        };
    }
    98 - rem
}

/// The French IBAN of payee `i`, electronic form, into `out`.
fn french_iban(i: u64, bban: &mut String, out: &mut String) {
    let (bank, branch, account) = (30_004u64, 1 + i % 99_999, i);
    let key = 97 - (89 * bank + 15 * branch + 3 * account) % 97;
    bban.clear();
    write!(bban, "{bank:05}{branch:05}{account:011}{key:02}").expect("string");
    out.clear();
    write!(out, "FR{:02}{bban}", iban_check("FR", bban)).expect("string");
}

/// Buffers reused from one transfer to the next: building the inputs
/// allocates nothing per transfer beyond what the writer itself does.
#[derive(Default)]
struct Inputs {
    end_to_end_id: String,
    name: String,
    remittance: String,
    bban: String,
    iban_text: String,
}

impl Inputs {
    /// Fills the text fields of transfer `i` and returns its parsed IBAN and
    /// amount, as a caller reading its store would.
    fn fill(&mut self, i: u64) -> (Iban, Amount) {
        self.end_to_end_id.clear();
        write!(self.end_to_end_id, "TP-{i:09}").expect("string");
        self.name.clear();
        write!(self.name, "Cabinet médical n° {i}").expect("string");
        self.remittance.clear();
        write!(self.remittance, "Tiers payant réf. TP-{i:09}").expect("string");
        french_iban(i, &mut self.bban, &mut self.iban_text);
        let iban = self.iban_text.parse().expect("bench IBAN");
        let amount = Amount::from_cents(cents(i)).expect("bench amount");
        (iban, amount)
    }
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("bench date")
}

/// Streams the whole file; returns the bytes written.
fn write_file(n: u64, path: &PathBuf) -> u64 {
    let total = Amount::from_cents((0..n).map(cents).sum()).expect("bench total");
    let header = GroupHeader {
        msg_id: "BENCH-20261201".into(),
        created_at: date("2026-12-01").and_hms_opt(14, 0, 0).expect("time"),
        nb_of_txs: n,
        ctrl_sum: total,
    };
    let debtor = Debtor {
        name: "Mutuelle Démo des Tiers-Payants".into(),
        iban: "FR7630006000011234567890189".parse().expect("debtor IBAN"),
        bic: Some("AGRIFRPPXXX".parse().expect("debtor BIC")),
        initiating_party: "Mutuelle Démo".into(),
        initiating_party_id: None,
    };
    let payee_bic: Bic = "BNPAFRPPXXX".parse().expect("payee BIC");
    let file = File::create(path).expect("create BENCH_OUT");
    let out = BufWriter::with_capacity(1 << 16, file);
    let mut w = SepaWriter::new(out, PainVersion::V09, &header, &debtor).expect("header");
    w.begin_payment_info(&PaymentInfo {
        pmt_inf_id: "BENCH-20261201-1".into(),
        execution_date: date("2026-12-02"),
        nb_of_txs: n,
        ctrl_sum: total,
        category_purpose: None,
    })
    .expect("block");
    let mut inputs = Inputs::default();
    for i in 0..n {
        let (iban, amount) = inputs.fill(i);
        w.transfer(&CreditTransfer {
            end_to_end_id: &inputs.end_to_end_id,
            amount,
            creditor_name: &inputs.name,
            creditor_iban: &iban,
            creditor_bic: (i % 2 == 0).then_some(&payee_bic),
            creditor_address: None,
            remittance: &inputs.remittance,
        })
        .expect("transfer");
    }
    w.end_payment_info().expect("end block");
    let out = w.finish().expect("finish");
    // No fsync: the peers do not sync either, and the disk is not the writer.
    let file = out.into_inner().expect("flush");
    file.metadata().expect("metadata").len()
}

/// The inputs alone, without the writer: what of the time is the bench's
/// own data making (formatting, IBAN check digits and parsing).
fn generate_only(n: u64) -> u64 {
    let mut inputs = Inputs::default();
    let mut sum = 0i64;
    for i in 0..n {
        let (iban, amount) = inputs.fill(i);
        black_box((&iban, &inputs.name, &inputs.remittance));
        sum += amount.cents();
    }
    sum as u64
}

fn main() {
    let n = env_usize("BENCH_TRANSFERS", 1_000_000) as u64;
    let mode = std::env::var("BENCH_MODE").unwrap_or_default();
    let (start, cpu) = (Instant::now(), cpu_secs());
    if mode == "gen" {
        let sum = generate_only(n);
        let (secs, cpu) = (start.elapsed().as_secs_f64(), cpu_secs() - cpu);
        println!(
            "pain001 inputs only: {n} transfers ({}.{:02} EUR): {secs:.3} s wall, {cpu:.2} s CPU",
            sum / 100,
            sum % 100
        );
        return;
    }
    let (path, temporary) = match std::env::var_os("BENCH_OUT") {
        Some(p) => (PathBuf::from(p), false),
        None => (
            std::env::temp_dir().join(format!("tpsettle-pain001-{}.xml", std::process::id())),
            true,
        ),
    };
    let bytes = write_file(n, &path);
    let (secs, cpu) = (start.elapsed().as_secs_f64(), cpu_secs() - cpu);
    println!(
        "pain001: {n} transfers, {bytes} bytes: {secs:.3} s wall, {cpu:.2} s CPU \
         ({:.0} transfers/s, {:.0} MB/s) -> {}",
        n as f64 / secs,
        bytes as f64 / 1e6 / secs,
        path.display()
    );
    if temporary {
        std::fs::remove_file(&path).expect("remove temporary file");
    }
}
