//! Peer of `benches/pain001.rs`: the same pain.001.001.09 built with the
//! crates.io `sepa` crate (`Pain001Builder`), written to the path in argv[1].
//!
//!   BENCH_TRANSFERS=10000 cargo run --release -- OUT.xml
//!
//! The transfers follow the rules in the header comment of
//! `benches/pain001.rs` (keep the two in step). The crate's builder holds
//! every entry in memory (`CreditTransferGroup::add_entry` pushes into a
//! `Vec`), validates the whole message, then `write_to` streams the XML to a
//! `BufWriter<File>`. Transliteration: `CharsetPolicy::Transliterate(Epc)`,
//! the EPC one-to-one table (the crate's default is the German one; the two
//! differ only on umlauts and ß, absent here).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

use sepa::{
    CharsetPolicy, CreditTransferEntry, CreditTransferGroup, CreditTransferSchema, IsoDate,
    Pain001Builder, Transliteration, validate_bic, validate_iban,
};

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

fn french_iban(i: u64) -> String {
    let (bank, branch, account) = (30_004u64, 1 + i % 99_999, i);
    let key = 97 - (89 * bank + 15 * branch + 3 * account) % 97;
    let bban = format!("{bank:05}{branch:05}{account:011}{key:02}");
    format!("FR{:02}{bban}", iban_check("FR", &bban))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_path = std::env::args()
        .nth(1)
        .ok_or("usage: sepa-crate-pain001 OUT.xml")?;
    let n: u64 = std::env::var("BENCH_TRANSFERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let start = Instant::now();

    let debtor = validate_iban("FR7630006000011234567890189")?;
    let payee_bic = validate_bic("BNPAFRPPXXX")?;
    let mut group = CreditTransferGroup::new(
        "Mutuelle Démo des Tiers-Payants",
        &debtor,
        IsoDate::new(2026, 12, 2)?,
    )
    .payment_info_id("BENCH-20261201-1")
    .debtor_bic(validate_bic("AGRIFRPPXXX")?)
    .batch_booking(true);
    for i in 0..n {
        let mut entry = CreditTransferEntry::new(
            format!("Cabinet médical n° {i}"),
            validate_iban(&french_iban(i))?,
            cents(i),
            format!("TP-{i:09}"),
        )
        .with_description(format!("Tiers payant réf. TP-{i:09}"));
        if i % 2 == 0 {
            entry = entry.with_bic(payee_bic.clone());
        }
        group = group.add_entry(entry);
    }
    let builder = Pain001Builder::new("Mutuelle Démo", "BENCH-20261201")
        .created_at("2026-12-01T14:00:00".parse()?)
        .schema(CreditTransferSchema::IsoV9)
        .charset(CharsetPolicy::Transliterate(Transliteration::Epc))
        .add_group(group);

    let mut out = BufWriter::with_capacity(1 << 16, File::create(&out_path)?);
    builder.write_to(&mut out)?;
    out.write_all(b"\n")?;
    let file = out.into_inner()?;
    let bytes = file.metadata()?.len();
    let secs = start.elapsed().as_secs_f64();
    println!("sepa crate: {n} transfers, {bytes} bytes: {secs:.3} s wall -> {out_path}");
    Ok(())
}
