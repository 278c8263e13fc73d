//! The `tpsettle` binary as a user runs it: exit codes, outputs, and what
//! the logs may and may not contain.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{have_command, xsd_valid};

fn tpsettle(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tpsettle"))
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "trace")
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_database_error_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/missing/x.db", dir.path().display());
    let out = tpsettle(dir.path(), &["--db", &db, "import", "claims", "x.csv"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let said = err.matches("unable to open database file").count();
    assert_eq!(said, 1, "{err}");
    assert!(err.contains(&format!("cannot open database {db}")), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(tpsettle(dir.path(), &[]).status.code(), Some(2));
    assert_eq!(
        tpsettle(
            dir.path(),
            &["settle", "--date", "2026-13-01", "--out", "o"]
        )
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        tpsettle(dir.path(), &["import", "invoices", "x.csv"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn a_refused_file_exits_1_names_the_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.csv"), "ps_id,name,profession,address_line,postcode,city,flux_agreement_from\n12345678,X,Y,Z,1,C,2020-01-01\n").unwrap();
    let out = tpsettle(dir.path(), &["import", "practitioners", "p.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("p.csv:2: ps_id: not a practitioner id"),
        "{}",
        text(&out.stderr)
    );
    // The default database was created, and holds nothing.
    let out = tpsettle(dir.path(), &["import", "practitioners", "p.csv"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "still refused: nothing was recorded as imported"
    );
}

#[test]
fn generate_import_settle_decode() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = |args: &[&str]| {
        let out = tpsettle(d, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        out
    };
    ok(&[
        "gen",
        "--practitioners",
        "50",
        "--claims",
        "2000",
        "--seed",
        "3",
        "--date",
        "2026-12-01",
        "--out",
        "data",
    ]);
    let mut logs = String::new();
    for (kind, file) in [
        ("practitioners", "practitioners.csv"),
        ("adherents", "adherents.csv"),
        ("claims", "claims.csv"),
        ("claims", "claims-resent.csv"),
    ] {
        logs += &text(&ok(&["import", kind, &format!("data/{file}")]).stderr);
    }
    let again = ok(&["import", "claims", "data/claims.csv"]);
    assert!(text(&again.stdout).contains("nothing changed"));
    let settled = ok(&["settle", "--date", "2026-12-01", "--out", "out", "--json"]);
    logs += &text(&settled.stderr);
    let manifest: serde_json::Value =
        serde_json::from_slice(&settled.stdout).expect("--json prints the manifest");
    assert_eq!(manifest["run_id"], "RUN-20261201");
    let rsp = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .find(|p| p.starts_with("rsp/"))
        .unwrap()
        .to_owned();
    let decoded = ok(&["rsp", "decode", &format!("out/RUN-20261201/{rsp}")]);
    let lines: Vec<serde_json::Value> = text(&decoded.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.first().unwrap()["type"], "000");
    assert_eq!(lines.last().unwrap()["type"], "999");

    // Privacy: no beneficiary name in any log line, even at trace level.
    let claims = std::fs::read_to_string(d.join("data/claims.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(claims.as_bytes());
    let col = rdr
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "beneficiary")
        .unwrap();
    let names: std::collections::BTreeSet<String> =
        rdr.records().map(|r| r.unwrap()[col].to_owned()).collect();
    assert!(names.len() > 100);
    for n in &names {
        assert!(!logs.contains(n.as_str()), "beneficiary {n:?} in the logs");
    }
    assert!(!logs.contains("FR76300"), "unmasked IBAN in the logs");
}

#[test]
fn demo_writes_a_real_day() {
    let dir = tempfile::tempdir().unwrap();
    let out = tpsettle(
        dir.path(),
        &["demo", "--date", "2026-12-01", "--out", "out"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Settlement run RUN-20261201"), "{stdout}");
    let run = dir.path().join("out/RUN-20261201");
    assert!(run.join("manifest.json").exists());
    assert!(std::fs::read_dir(run.join("rsp")).unwrap().count() > 10);
    assert!(
        dir.path().join("tpsettle.db").exists(),
        "the embedded SQLite default"
    );
    if have_command("xmllint") {
        xsd_valid(&run.join("sepa/RUN-20261201.xml"), "pain.001.001.09");
    }
}
