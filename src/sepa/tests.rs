//! Whole-file tests: every file written here is also validated against the
//! official XSD with `xmllint`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

use super::charset::is_sepa_char;
use super::*;
use crate::domain::{Amount, Bic, CountryCode, Iban};

const HOSTILE: &str = "Ørsted & Fils <SARL> \"Œuvre\" — Saint-Étienne";

fn iban(s: &str) -> Iban {
    s.parse().expect("test IBAN")
}

fn bic(s: &str) -> Bic {
    s.parse().expect("test BIC")
}

fn amount(s: &str) -> Amount {
    s.parse().expect("test amount")
}

fn debtor(with_bic: bool) -> Debtor {
    Debtor {
        name: "Mutuelle Générale de l'Étoile".to_owned(),
        iban: iban("FR7630006000011234567890189"),
        bic: with_bic.then(|| bic("AGRIFRPPXXX")),
        initiating_party: "Mutuelle Générale de l'Étoile".to_owned(),
        initiating_party_id: with_bic.then(|| "NNE123456".to_owned()),
    }
}

fn created_at() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 5, 4)
        .and_then(|d| d.and_hms_opt(6, 30, 0))
        .expect("valid test time")
}

fn header(nb_of_txs: u64, ctrl_sum: Amount) -> GroupHeader {
    GroupHeader {
        msg_id: "TPS-20260504-01".to_owned(),
        created_at: created_at(),
        nb_of_txs,
        ctrl_sum,
    }
}

fn block(id: &str, nb_of_txs: u64, ctrl_sum: Amount, purpose: Option<&str>) -> PaymentInfo {
    PaymentInfo {
        pmt_inf_id: id.to_owned(),
        execution_date: NaiveDate::from_ymd_opt(2026, 5, 5).expect("valid test date"),
        nb_of_txs,
        ctrl_sum,
        category_purpose: purpose.map(str::to_owned),
    }
}

/// Owned data behind the borrowed `CreditTransfer`s of the tests.
struct Payee {
    e2e: String,
    amount: Amount,
    name: String,
    iban: Iban,
    bic: Option<Bic>,
    address: Option<PostalAddress>,
    remittance: String,
}

impl Payee {
    fn tx(&self) -> CreditTransfer<'_> {
        CreditTransfer {
            end_to_end_id: &self.e2e,
            amount: self.amount,
            creditor_name: &self.name,
            creditor_iban: &self.iban,
            creditor_bic: self.bic.as_ref(),
            creditor_address: self.address.as_ref(),
            remittance: &self.remittance,
        }
    }
}

fn payee(e2e: &str, amt: &str, name: &str) -> Payee {
    Payee {
        e2e: e2e.to_owned(),
        amount: amount(amt),
        name: name.to_owned(),
        iban: iban("DE89370400440532013000"),
        bic: None,
        address: None,
        remittance: format!("Tiers payant ref {e2e}"),
    }
}

/// Hostile names, with and without BIC and address.
fn sample_payees() -> Vec<Payee> {
    let mut hostile = payee("PAY-000001", "1234.50", HOSTILE);
    hostile.iban = iban("FR1420041010050500013M02606");
    hostile.bic = Some(bic("BNPAFRPPXXX"));
    hostile.address = Some(PostalAddress {
        lines: vec![
            "12, rue de l'Église".to_owned(),
            "Bâtiment « B »".to_owned(),
        ],
        postcode: Some("42000".to_owned()),
        town: "Saint-Étienne".to_owned(),
        country: CountryCode::FR,
    });
    let long = payee(
        "PAY-000002",
        "0.01",
        &"Cabinet Médical Pluridisciplinaire ".repeat(6),
    );
    let mut apostrophes = payee("PAY-000003", "999999999.99", "L'Haÿ d'Artagnan & O'Brien");
    apostrophes.iban = iban("BE68539007547034");
    apostrophes.bic = Some(bic("GEBABEBB"));
    apostrophes.address = Some(PostalAddress {
        lines: vec![],
        postcode: None,
        town: "Bruxelles / Brussel".to_owned(),
        country: "BE".parse().expect("country"),
    });
    vec![hostile, long, apostrophes]
}

fn sum(payees: &[Payee]) -> Amount {
    payees.iter().map(|p| p.amount).sum()
}

/// A file of two blocks: the sample payees, then one plain transfer.
fn sample_file(version: PainVersion, debtor_bic: bool) -> Vec<u8> {
    let first = sample_payees();
    let second = [payee("PAY-000004", "75.00", "Pharmacie du Marché")];
    let total = sum(&first) + sum(&second);
    let mut w = SepaWriter::new(Vec::new(), version, &header(4, total), &debtor(debtor_bic))
        .expect("header");
    w.begin_payment_info(&block("BLK-1", 3, sum(&first), Some("SUPP")))
        .expect("block 1");
    for p in &first {
        w.transfer(&p.tx()).expect("transfer");
    }
    w.end_payment_info().expect("end block 1");
    w.begin_payment_info(&block("BLK-2", 1, amount("75.00"), None))
        .expect("block 2");
    w.transfer(&second[0].tx()).expect("transfer");
    w.end_payment_info().expect("end block 2");
    w.finish().expect("finish")
}

// ---- reading back ---------------------------------------------------------

/// `(path, text)` of every leaf element, e.g. `("…/Cdtr/Nm", "Orsted…")`,
/// entities resolved.
fn leaves(xml: &[u8]) -> Vec<(String, String)> {
    use quick_xml::events::Event;
    let text = std::str::from_utf8(xml).expect("UTF-8 output");
    let mut reader = quick_xml::Reader::from_str(text);
    let (mut path, mut buf, mut out) = (Vec::<String>::new(), String::new(), Vec::new());
    let mut leaf = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                path.push(e.name().as_ref().to_owned());
                buf.clear();
                leaf = true;
            }
            Event::Text(t) => buf.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => buf.push(match &*r.xml10_content() {
                "apos" => '\'',
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                other => panic!("unexpected entity {other}"),
            }),
            Event::End(_) => {
                if leaf {
                    out.push((path.join("/"), std::mem::take(&mut buf)));
                }
                path.pop();
                leaf = false;
            }
            Event::Eof => return out,
            _ => {}
        }
    }
}

fn values<'a>(leaves: &'a [(String, String)], suffix: &str) -> Vec<&'a str> {
    leaves
        .iter()
        .filter(|(p, _)| p.ends_with(suffix))
        .map(|(_, v)| v.as_str())
        .collect()
}

// ---- XSD validation -------------------------------------------------------

/// `shared/xsd`, found by walking up from the crate, so the tests run from
/// the main crate and from a scratch crate alike.
fn xsd_dir() -> Option<PathBuf> {
    let start = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .map(|dir| dir.join("shared").join("xsd"))
        .find(|dir| dir.is_dir())
}

/// Skipping is loud, and forbidden on CI: a silent pass would claim a
/// validation that never happened.
fn skip_or_fail(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("XSD validation impossible on CI: {why}");
    }
    eprintln!("NOTICE: XSD validation SKIPPED: {why} (install libxml2-utils; fails when CI=true)");
}

fn assert_xsd_valid(xml: &[u8], version: PainVersion) {
    let Some(dir) = xsd_dir() else {
        return skip_or_fail("no shared/xsd above CARGO_MANIFEST_DIR");
    };
    let xsd = dir.join(format!("{}.xsd", version.as_str()));
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(xml).expect("write temp file");
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(file.path())
        .output();
    match output {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => skip_or_fail("xmllint not found"),
        Err(e) => panic!("running xmllint: {e}"),
        Ok(out) => assert!(
            out.status.success(),
            "xmllint refused the {version} file:\n{}\n--- file ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(xml)
        ),
    }
}

// ---- tests ----------------------------------------------------------------

#[test]
fn sample_files_are_valid_against_both_xsds() {
    for version in [PainVersion::V09, PainVersion::V03] {
        for debtor_bic in [true, false] {
            let xml = sample_file(version, debtor_bic);
            assert_xsd_valid(&xml, version);
        }
    }
}

#[test]
fn text_is_transliterated_and_within_epc_limits() {
    for version in [PainVersion::V09, PainVersion::V03] {
        let xml = sample_file(version, true);
        let leaves = leaves(&xml);
        for (path, value) in &leaves {
            assert!(value.chars().all(is_sepa_char), "{path}: {value:?}");
            if path.ends_with("/Nm") || path.ends_with("/AdrLine") {
                assert!(value.len() <= 70, "{path}: {value:?}");
            }
        }
        let names = values(&leaves, "Cdtr/Nm");
        assert_eq!(names[0], "Orsted + Fils (SARL) 'OEuvre' - Saint-Etienne");
        // 200 characters cut at 70, where the 70th is a space: 69.
        assert_eq!(
            names[1],
            "Cabinet Medical Pluridisciplinaire Cabinet Medical Pluridisciplinaire"
        );
        assert_eq!(names[2], "L'Hay d'Artagnan + O'Brien");
        assert_eq!(
            values(&leaves, "Dbtr/Nm"),
            ["Mutuelle Generale de l'Etoile"; 2]
        );
    }
}

#[test]
fn element_shapes_differ_by_version() {
    let v09 = leaves(&sample_file(PainVersion::V09, true));
    assert_eq!(values(&v09, "PmtInf/ReqdExctnDt/Dt"), ["2026-05-05"; 2]);
    assert_eq!(
        values(&v09, "CdtrAgt/FinInstnId/BICFI"),
        ["BNPAFRPPXXX", "GEBABEBB"]
    );
    assert_eq!(
        values(&v09, "PstlAdr/TwnNm"),
        ["Saint-Etienne", "Bruxelles / Brussel"]
    );
    assert_eq!(values(&v09, "PstlAdr/PstCd"), ["42000"]);
    assert_eq!(
        values(&v09, "PstlAdr/AdrLine"),
        ["12, rue de l'Eglise", "Batiment ' B '"]
    );
    assert_eq!(values(&v09, "GrpHdr/CreDtTm"), ["2026-05-04T06:30:00"]);
    assert_eq!(values(&v09, "InitgPty/Id/OrgId/Othr/Id"), ["NNE123456"]);

    let v03 = leaves(&sample_file(PainVersion::V03, true));
    assert_eq!(values(&v03, "PmtInf/ReqdExctnDt"), ["2026-05-05"; 2]);
    assert_eq!(
        values(&v03, "CdtrAgt/FinInstnId/BIC"),
        ["BNPAFRPPXXX", "GEBABEBB"]
    );
    assert_eq!(
        values(&v03, "PstlAdr/AdrLine"),
        [
            "12, rue de l'Eglise, Batiment ' B '",
            "42000 Saint-Etienne",
            "Bruxelles / Brussel"
        ]
    );
    assert!(values(&v03, "TwnNm").is_empty());
}

#[test]
fn missing_bics_and_addresses() {
    for version in [PainVersion::V09, PainVersion::V03] {
        let xml = sample_file(version, false);
        let text = String::from_utf8(xml.clone()).expect("UTF-8");
        let leaves = leaves(&xml);
        // Debtor agent without BIC: NOTPROVIDED, once per block.
        assert_eq!(
            values(&leaves, "DbtrAgt/FinInstnId/Othr/Id"),
            ["NOTPROVIDED"; 2]
        );
        // Creditor without BIC: no CdtrAgt at all (4 transfers, 2 with BIC).
        assert_eq!(text.matches("<CdtrAgt>").count(), 2);
        // Two transfers have no address.
        assert_eq!(text.matches("<PstlAdr>").count(), 2);
        assert!(values(&leaves, "InitgPty/Id/OrgId/Othr/Id").is_empty());
    }
}

#[test]
fn fixed_epc_codes() {
    let leaves = leaves(&sample_file(PainVersion::V09, true));
    assert_eq!(values(&leaves, "PmtInf/PmtMtd"), ["TRF"; 2]);
    assert_eq!(values(&leaves, "PmtInf/BtchBookg"), ["true"; 2]);
    assert_eq!(values(&leaves, "PmtTpInf/SvcLvl/Cd"), ["SEPA"; 2]);
    assert_eq!(values(&leaves, "PmtTpInf/CtgyPurp/Cd"), ["SUPP"]);
    assert_eq!(values(&leaves, "PmtInf/ChrgBr"), ["SLEV"; 2]);
    assert_eq!(
        values(&leaves, "Amt/InstdAmt"),
        ["1234.50", "0.01", "999999999.99", "75.00"]
    );
    assert_eq!(values(&leaves, "GrpHdr/CtrlSum"), ["1000001309.50"]);
    assert_eq!(
        values(&leaves, "PmtInf/CtrlSum"),
        ["1000001234.50", "75.00"]
    );
    let xml = String::from_utf8(sample_file(PainVersion::V09, true)).expect("UTF-8");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09\">"));
    assert!(xml.contains("<InstdAmt Ccy=\"EUR\">1234.50</InstdAmt>"));
}

#[test]
fn same_inputs_same_bytes() {
    for version in [PainVersion::V09, PainVersion::V03] {
        assert_eq!(sample_file(version, true), sample_file(version, true));
        assert_eq!(sample_file(version, false), sample_file(version, false));
    }
}

/// Deterministic amounts between 0.01 and 9999.99.
fn generated_payees(n: u64) -> Vec<Payee> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let cents = (state % 999_999 + 1) as i64;
            let mut p = payee(&format!("PAY-{i:09}"), "1", "Dr Hélène Dupré-Lévêque");
            p.amount = Amount::from_cents(cents).expect("in range");
            p
        })
        .collect()
}

#[test]
fn large_batch_ctrl_sum_equals_streamed_amounts() {
    let payees = generated_payees(10_000);
    let total = sum(&payees);
    let (half_a, half_b) = payees.split_at(4_000);
    for version in [PainVersion::V09, PainVersion::V03] {
        let mut w = SepaWriter::new(Vec::new(), version, &header(10_000, total), &debtor(true))
            .expect("header");
        for (id, part) in [("BLK-A", half_a), ("BLK-B", half_b)] {
            let info = block(id, part.len() as u64, sum(part), Some("SUPP"));
            w.begin_payment_info(&info).expect("block");
            for p in part {
                w.transfer(&p.tx()).expect("transfer");
            }
            w.end_payment_info().expect("end block");
        }
        let xml = w.finish().expect("finish");
        let leaves = leaves(&xml);
        let amounts = values(&leaves, "Amt/InstdAmt");
        assert_eq!(amounts.len(), 10_000);
        // Summed independently of `Amount`, from the text of the file.
        let streamed: Decimal = amounts
            .iter()
            .map(|a| a.parse::<Decimal>().expect("decimal"))
            .sum();
        let ctrl: Decimal = values(&leaves, "GrpHdr/CtrlSum")[0]
            .parse()
            .expect("decimal");
        assert_eq!(streamed, ctrl);
        assert_eq!(ctrl, total.as_decimal());
        assert_eq!(values(&leaves, "GrpHdr/NbOfTxs"), ["10000"]);
        assert_xsd_valid(&xml, version);
    }
}

fn one_block_writer(nb: u64, ctrl: &str) -> SepaWriter<Vec<u8>> {
    let ctrl = amount(ctrl);
    let mut w = SepaWriter::new(
        Vec::new(),
        PainVersion::V09,
        &header(nb, ctrl),
        &debtor(true),
    )
    .expect("header");
    w.begin_payment_info(&block("BLK-1", nb, ctrl, None))
        .expect("block");
    w
}

#[test]
fn declared_count_too_high_fails_at_end_and_finish() {
    let mut w = one_block_writer(3, "20.00");
    w.transfer(&payee("P1", "10.00", "A").tx()).expect("1");
    w.transfer(&payee("P2", "10.00", "B").tx()).expect("2");
    let err = w.end_payment_info().expect_err("2 of 3 streamed");
    assert!(
        matches!(
            &err,
            SepaError::Mismatch {
                field: "NbOfTxs",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "payment information BLK-1: NbOfTxs declared 3 but 2 streamed"
    );
    assert!(matches!(w.finish(), Err(SepaError::Poisoned)));
}

#[test]
fn declared_sum_too_high_fails() {
    let mut w = one_block_writer(2, "20.00");
    w.transfer(&payee("P1", "10.00", "A").tx()).expect("1");
    w.transfer(&payee("P2", "9.99", "B").tx()).expect("2");
    let err = w.end_payment_info().expect_err("19.99 of 20.00");
    assert_eq!(
        err.to_string(),
        "payment information BLK-1: CtrlSum declared 20.00 but 19.99 streamed"
    );
    assert!(w.finish().is_err());
}

#[test]
fn group_mismatch_fails_at_finish() {
    // The block is consistent with itself but the group declared more.
    let mut w = SepaWriter::new(
        Vec::new(),
        PainVersion::V09,
        &header(2, amount("20.00")),
        &debtor(true),
    )
    .expect("header");
    w.begin_payment_info(&block("BLK-1", 1, amount("10.00"), None))
        .expect("block");
    w.transfer(&payee("P1", "10.00", "A").tx()).expect("1");
    w.end_payment_info().expect("block consistent");
    let err = w.finish().expect_err("group declared 2");
    assert_eq!(
        err.to_string(),
        "group header: NbOfTxs declared 2 but 1 streamed"
    );

    let mut w = SepaWriter::new(
        Vec::new(),
        PainVersion::V03,
        &header(1, amount("10.01")),
        &debtor(true),
    )
    .expect("header");
    w.begin_payment_info(&block("BLK-1", 1, amount("10.00"), None))
        .expect("block");
    w.transfer(&payee("P1", "10.00", "A").tx()).expect("1");
    w.end_payment_info().expect("block consistent");
    let err = w.finish().expect_err("group declared 10.01");
    assert!(
        matches!(
            err,
            SepaError::Mismatch {
                field: "CtrlSum",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn excess_is_refused_before_it_is_written() {
    let mut w = one_block_writer(1, "10.00");
    w.transfer(&payee("P1", "10.00", "A").tx()).expect("1");
    let err = w
        .transfer(&payee("P2", "0.01", "B").tx())
        .expect_err("2 of 1");
    assert!(
        matches!(
            err,
            SepaError::Mismatch {
                field: "NbOfTxs",
                ..
            }
        ),
        "{err}"
    );

    let mut w = one_block_writer(2, "10.00");
    w.transfer(&payee("P1", "9.00", "A").tx()).expect("1");
    let err = w
        .transfer(&payee("P2", "1.01", "B").tx())
        .expect_err("over the sum");
    assert_eq!(
        err.to_string(),
        "payment information BLK-1: CtrlSum declared 10.00 but 10.01 so far streamed"
    );
    // Poisoned: nothing more goes into this file.
    assert!(matches!(
        w.transfer(&payee("P3", "1.00", "C").tx()),
        Err(SepaError::Poisoned)
    ));
}

#[test]
fn end_to_end_id_of_36_chars_is_refused() {
    let p = payee(&"A".repeat(36), "10.00", "A");
    let err = p.tx().check(PainVersion::V09).expect_err("36 chars");
    assert!(
        matches!(
            &err,
            SepaError::InvalidId {
                field: "EndToEndId",
                reason: IdError::TooLong { chars: 36 },
                ..
            }
        ),
        "{err}"
    );
    let mut w = one_block_writer(1, "10.00");
    assert!(w.transfer(&p.tx()).is_err());
    assert!(
        payee(&"A".repeat(35), "10.00", "A")
            .tx()
            .check(PainVersion::V09)
            .is_ok()
    );
    for bad in ["/P1", "P1/", "P//1", "P 1", "P_1", ""] {
        assert!(
            payee(bad, "1.00", "A")
                .tx()
                .check(PainVersion::V03)
                .is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn zero_amount_is_refused() {
    let err = payee("P1", "0.00", "A")
        .tx()
        .check(PainVersion::V09)
        .expect_err("0.00");
    assert_eq!(
        err.to_string(),
        "transfer P1: amount 0.00 EUR is outside 0.01–999999999.99"
    );
    let mut over = payee("P1", "1", "A");
    over.amount = amount("999999999.99") + amount("0.01");
    assert!(over.tx().check(PainVersion::V09).is_err());
}

#[test]
fn other_epc_rules() {
    let v = PainVersion::V09;
    assert!(
        payee("P1", "1.00", "北").tx().check(v).is_ok(),
        "transliterated: Bei"
    );
    assert!(
        payee("P1", "1.00", "😀 @#").tx().check(v).is_err(),
        "empty name"
    );
    assert!(
        payee("P1", "1.00", "!!").tx().check(v).is_err(),
        "name without letters"
    );
    let mut p = payee("P1", "1.00", "A");
    p.remittance = "x".repeat(141);
    assert!(p.tx().check(v).is_err(), "remittance over 140");
    p.remittance = "x".repeat(140);
    assert!(p.tx().check(v).is_ok());
    p.remittance = " ".to_owned();
    assert!(p.tx().check(v).is_err(), "empty remittance");
    p.remittance = "ok".to_owned();
    p.address = Some(PostalAddress {
        lines: vec!["a".into(), "b".into(), "c".into()],
        postcode: None,
        town: "Lyon".into(),
        country: CountryCode::FR,
    });
    assert!(p.tx().check(v).is_err(), "3 address lines");
    p.address = Some(PostalAddress {
        lines: vec![],
        postcode: Some("69001".into()),
        town: "  ".into(),
        country: CountryCode::FR,
    });
    assert!(p.tx().check(v).is_err(), "no town");
}

#[test]
fn v03_refuses_bics_its_schema_does_not_know() {
    // Valid `Bic`, valid for .09, but location code "01" is outside the
    // pre-2014 BIC pattern of pain.001.001.03.
    let mut p = payee("P1", "10.00", "A");
    p.bic = Some(bic("ABCDFR01"));
    assert!(p.tx().check(PainVersion::V03).is_err());
    assert!(p.tx().check(PainVersion::V09).is_ok());
    let mut w = one_block_writer(1, "10.00");
    w.transfer(&p.tx()).expect("valid in .09");
    w.end_payment_info().expect("end");
    assert_xsd_valid(&w.finish().expect("finish"), PainVersion::V09);

    let mut d = debtor(true);
    d.bic = Some(bic("ABCDFR1A"));
    assert!(SepaWriter::new(Vec::new(), PainVersion::V03, &header(1, amount("1.00")), &d).is_err());
}

#[test]
fn header_and_block_checks() {
    let d = debtor(true);
    let mut h = header(0, amount("1.00"));
    assert!(
        SepaWriter::new(Vec::new(), PainVersion::V09, &h, &d).is_err(),
        "0 transfers"
    );
    h = header(1, amount("0.00"));
    assert!(
        SepaWriter::new(Vec::new(), PainVersion::V09, &h, &d).is_err(),
        "0.00 sum"
    );
    h = header(1, amount("1.00"));
    h.msg_id = "MSG//1".to_owned();
    let err = SepaWriter::new(Vec::new(), PainVersion::V09, &h, &d).err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("group header MSG//1: MsgId \"MSG//1\" is not a valid SEPA identifier: contains '//'")
    );

    let mut w = SepaWriter::new(Vec::new(), PainVersion::V09, &header(2, amount("2.00")), &d)
        .expect("header");
    assert!(
        w.begin_payment_info(&block("BLK 1", 1, amount("1.00"), None))
            .is_err()
    );
    let mut w = SepaWriter::new(Vec::new(), PainVersion::V09, &header(2, amount("2.00")), &d)
        .expect("header");
    assert!(
        w.begin_payment_info(&block("BLK-1", 1, amount("1.00"), Some("supp")))
            .is_err()
    );
    let mut w = SepaWriter::new(Vec::new(), PainVersion::V09, &header(2, amount("2.00")), &d)
        .expect("header");
    w.begin_payment_info(&block("BLK-1", 1, amount("1.00"), None))
        .expect("block");
    w.transfer(&payee("P1", "1.00", "A").tx()).expect("1");
    w.end_payment_info().expect("end");
    let err = w
        .begin_payment_info(&block("BLK-1", 1, amount("1.00"), None))
        .expect_err("dup");
    assert!(err.to_string().contains("PmtInfId already used"), "{err}");
}

#[test]
fn calls_out_of_order() {
    let d = debtor(true);
    let new = || {
        SepaWriter::new(Vec::new(), PainVersion::V09, &header(1, amount("1.00")), &d).expect("h")
    };
    let mut w = new();
    assert!(matches!(
        w.transfer(&payee("P1", "1.00", "A").tx()),
        Err(SepaError::OutOfOrder(_))
    ));
    let mut w = new();
    assert!(matches!(
        w.end_payment_info(),
        Err(SepaError::OutOfOrder(_))
    ));
    let mut w = new();
    w.begin_payment_info(&block("BLK-1", 1, amount("1.00"), None))
        .expect("block");
    assert!(matches!(
        w.begin_payment_info(&block("BLK-2", 1, amount("1.00"), None)),
        Err(SepaError::OutOfOrder(_))
    ));
    let mut w = new();
    w.begin_payment_info(&block("BLK-1", 1, amount("1.00"), None))
        .expect("block");
    w.transfer(&payee("P1", "1.00", "A").tx()).expect("1");
    assert!(matches!(w.finish(), Err(SepaError::OutOfOrder(_))));
    // No block at all: the group declared 1 transfer, none streamed.
    assert!(matches!(new().finish(), Err(SepaError::Mismatch { .. })));
}

#[test]
fn debug_keeps_personal_data_out() {
    let p = sample_payees().remove(0);
    let shown = format!("{:?}", p.tx());
    assert_eq!(
        shown,
        "CreditTransfer { end_to_end_id: \"PAY-000001\", amount: Amount(1234.50), \
         creditor_iban: Iban(FR14 **** 2606), creditor_bic: Some(Bic(\"BNPAFRPPXXX\")), .. }"
    );
}

#[test]
fn version_names() {
    assert_eq!(PainVersion::default(), PainVersion::V09);
    assert_eq!(
        "pain.001.001.03".parse::<PainVersion>().ok(),
        Some(PainVersion::V03)
    );
    assert_eq!(
        "pain.001.001.09".parse::<PainVersion>().ok(),
        Some(PainVersion::V09)
    );
    assert!("pain.001.001.08".parse::<PainVersion>().is_err());
    assert_eq!(PainVersion::V03.to_string(), "pain.001.001.03");
    let json = serde_json::to_string(&PainVersion::V09).expect("json");
    assert_eq!(json, "\"pain.001.001.09\"");
    let back: PainVersion = serde_json::from_str("\"pain.001.001.03\"").expect("json");
    assert_eq!(back, PainVersion::V03);
}

/// The worked example of `docs/formats-sepa.md` §5 is, byte for byte, what
/// the writer produces, so the page cannot drift from the code.
#[test]
fn docs_example_is_what_the_writer_writes() {
    let doc = include_str!("../../docs/formats-sepa.md");
    let section = doc
        .split("## 5. Example")
        .nth(1)
        .expect("section 5 in formats-sepa.md");
    let example = section
        .split("```xml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("xml block in section 5");

    let mut d = debtor(false);
    d.name = "Mutuelle de l'Étoile".to_owned();
    d.initiating_party = d.name.clone();
    d.initiating_party_id = Some("NNE123".to_owned());
    let mut h = header(1, amount("1234.50"));
    h.msg_id = "TPS-1".to_owned();
    let mut p = payee("PAY-000001", "1234.50", HOSTILE);
    p.iban = iban("FR1420041010050500013M02606");
    p.bic = Some(bic("BNPAFRPPXXX"));
    p.address = Some(PostalAddress {
        lines: vec!["12, rue de l'Église".to_owned()],
        postcode: Some("42000".to_owned()),
        town: "Saint-Étienne".to_owned(),
        country: CountryCode::FR,
    });
    p.remittance = "Tiers payant PAY-000001".to_owned();
    let mut w = SepaWriter::new(Vec::new(), PainVersion::V09, &h, &d).expect("header");
    w.begin_payment_info(&block("B1", 1, amount("1234.50"), Some("SUPP")))
        .expect("block");
    w.transfer(&p.tx()).expect("transfer");
    w.end_payment_info().expect("end");
    let xml = w.finish().expect("finish");
    assert_eq!(String::from_utf8(xml.clone()).expect("UTF-8"), example);
    assert_xsd_valid(&xml, PainVersion::V09);
}

/// Timing only, never asserted:
/// `cargo test --release -- --ignored --nocapture one_million`.
#[test]
#[ignore = "timing: run by hand in release mode"]
fn one_million_transfers_into_sink() {
    const N: u64 = 1_000_000;
    let p = payee("PAY-000000001", "123.45", HOSTILE);
    let total = Amount::from_cents(12_345 * N as i64).expect("in range");
    for version in [PainVersion::V09, PainVersion::V03] {
        let start = std::time::Instant::now();
        let out = std::io::BufWriter::new(std::io::sink());
        let mut w =
            SepaWriter::new(out, version, &header(N, total), &debtor(true)).expect("header");
        w.begin_payment_info(&block("BLK-1", N, total, Some("SUPP")))
            .expect("block");
        for _ in 0..N {
            w.transfer(&p.tx()).expect("transfer");
        }
        w.end_payment_info().expect("end");
        w.finish().expect("finish");
        eprintln!(
            "{version}: {N} transfers into sink in {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn amounts_are_formatted_as_amount_displays_them() {
    for cents in [0, 1, 9, 10, 99, 100, 101, 1_050, 123_456, 99_999_999_999] {
        let a = Amount::from_cents(cents).expect("amount");
        assert_eq!(super::writer::euros_text(a, &mut [0; 24]), a.to_string());
    }
}
