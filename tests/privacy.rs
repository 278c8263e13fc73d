//! Privacy of logs and files (issue 7, point 4), through the real binary.
//!
//! A generated day is imported and settled with `RUST_LOG=trace`, in human
//! and in JSON log format; then every log line, the SEPA file, every RSP
//! file, the manifest and the print batch's CSV are searched for the
//! patients' names and for NIR-like numbers, the paper statements (which
//! name the patients by design) for NIRs and IBANs in clear, logs for
//! unmasked IBANs, and the files' modes are checked. Database passwords must not appear in logs or error messages,
//! also when the connection fails.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{TestDb, have_command, pdftotext};
use tpsettle::rsp::decode;
use tpsettle::sepa::to_sepa_text;

fn tpsettle(dir: &Path, db: &str, json_logs: bool, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tpsettle"));
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "trace")
        .arg("--db")
        .arg(db)
        .args(args);
    if json_logs {
        cmd.env("LOG_FORMAT", "json");
    } else {
        cmd.env_remove("LOG_FORMAT");
    }
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Column `col` of every row of a CSV file.
fn column(path: &Path, col: &str) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let i = r.headers().unwrap().iter().position(|h| h == col).unwrap();
    r.records().map(|x| x.unwrap()[i].to_owned()).collect()
}

/// NIR-like numbers: a run of exactly 13 or 15 digits starting with 1 or 2
/// (sex digit), once 64-hex SHA-256 digests are set aside.
fn nir_like(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let hex = |c: u8| c.is_ascii_hexdigit() && !c.is_ascii_uppercase();
    let mut masked = b.to_vec();
    let mut i = 0;
    while i < b.len() {
        let j = (i..b.len()).find(|&j| !hex(b[j])).unwrap_or(b.len());
        // Digests and protocol payloads (SHA-256, trace-level hex dumps):
        // long hex runs with letters, whose digit stretches mean nothing.
        if j - i >= 32 && b[i..j].iter().any(u8::is_ascii_alphabetic) {
            masked[i..j].fill(b'x');
        }
        i = j.max(i + 1);
    }
    let mut i = 0;
    while i < masked.len() {
        if masked[i].is_ascii_digit() {
            let j = (i..masked.len())
                .find(|&j| !masked[j].is_ascii_digit())
                .unwrap_or(masked.len());
            if matches!(j - i, 13 | 15) && matches!(masked[i], b'1' | b'2') {
                return Some(String::from_utf8_lossy(&masked[i..j]).into_owned());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    None
}

/// An IBAN in clear: 2 capitals, 2 digits, then at least 11 capitals or
/// digits (spaces allowed between groups of 4, the paper form).
fn unmasked_iban(s: &str) -> Option<String> {
    let b = s.as_bytes();
    for i in 0..b.len().saturating_sub(4) {
        let shape = b[i].is_ascii_uppercase()
            && b[i + 1].is_ascii_uppercase()
            && b[i + 2].is_ascii_digit()
            && b[i + 3].is_ascii_digit();
        if !shape || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let body: String = s[i + 4..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == ' ')
            .filter(|c| *c != ' ')
            .collect();
        if body.len() >= 11 {
            return Some(String::from_utf8_lossy(&b[i..(i + 40).min(b.len())]).into_owned());
        }
    }
    None
}

#[test]
fn the_detectors_detect() {
    assert_eq!(
        nir_like("x 1850578006084 y").as_deref(),
        Some("1850578006084")
    );
    assert_eq!(
        nir_like("nir=285057800608491;").as_deref(),
        Some("285057800608491")
    );
    assert_eq!(
        nir_like("12345678901234 3850578006084"),
        None,
        "14 digits, starts with 3"
    );
    assert_eq!(
        nir_like(&format!(
            "sha {}",
            "1234567890123".repeat(5)[..64].to_owned()
        )),
        None
    );
    assert!(unmasked_iban("iban FR7630006000011234567890189 x").is_some());
    assert!(unmasked_iban("iban FR76 3000 6000 0112 3456 7890 189").is_some());
    assert_eq!(unmasked_iban("iban FR76 **** 0189, run RUN-20261201"), None);
}

/// A patient's name, in the forms our outputs would give it.
struct Name {
    raw: String,
    forms: Vec<String>,
    words: BTreeSet<String>,
}

impl Name {
    fn new(raw: &str) -> Name {
        let mut forms = vec![
            raw.to_owned(),
            to_sepa_text(raw, 140),
            deunicode::deunicode(raw).to_uppercase(),
        ];
        forms.dedup();
        Name {
            raw: raw.to_owned(),
            forms,
            words: words(raw),
        }
    }
}

/// What a file or a log must not contain, built from the generated input.
struct Secrets {
    names: Vec<Name>,
    /// Names also found in the parties files: a patient is often the member
    /// paid by an HTP transfer, legitimately named in the bank file. These
    /// are checked in the logs only.
    party_names: Vec<Name>,
    ibans: BTreeSet<String>,
}

fn secrets(data: &Path) -> Secrets {
    let mut beneficiaries: BTreeSet<String> = BTreeSet::new();
    for f in ["claims.csv", "claims-resent.csv"] {
        beneficiaries.extend(column(&data.join(f), "beneficiary"));
    }
    let parties = [
        std::fs::read_to_string(data.join("practitioners.csv")).unwrap(),
        std::fs::read_to_string(data.join("adherents.csv")).unwrap(),
    ]
    .concat();
    let parties_forms = [
        parties.clone(),
        to_sepa_text(&parties, usize::MAX),
        deunicode::deunicode(&parties).to_uppercase(),
    ]
    .concat();
    let parties_words = words(&parties);
    let (party_names, names): (Vec<Name>, Vec<Name>) =
        beneficiaries.iter().map(|b| Name::new(b)).partition(|n| {
            n.words.is_subset(&parties_words)
                && n.forms.iter().any(|f| parties_forms.contains(f.as_str()))
        });
    let mut ibans = BTreeSet::new();
    for f in ["practitioners.csv", "adherents.csv"] {
        for iban in column(&data.join(f), "iban")
            .into_iter()
            .filter(|i| !i.is_empty())
        {
            ibans.insert(iban.replace(' ', ""));
        }
    }
    Secrets {
        names,
        party_names,
        ibans,
    }
}

/// Words of a text, in the upper-case ASCII form every output would use.
fn words(text: &str) -> BTreeSet<String> {
    deunicode::deunicode(text)
        .to_uppercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn assert_clean(what: &str, text: &str, s: &Secrets, check_party_names: bool) {
    // Logs at trace level are large: look closely only at the names whose
    // every word occurs in the text.
    let present = words(text);
    let upper = text.to_uppercase();
    let all = s.names.iter().chain(
        check_party_names
            .then_some(&s.party_names)
            .into_iter()
            .flatten(),
    );
    for n in all.filter(|n| n.words.is_subset(&present)) {
        for f in &n.forms {
            assert!(
                !text.contains(f.as_str()) && !upper.contains(&f.to_uppercase()),
                "{what}: contains the patient name {:?} (as {f:?})",
                n.raw
            );
        }
    }
    if let Some(n) = nir_like(text) {
        let at = text.find(&n).unwrap_or(0);
        let line = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        panic!("{what}: NIR-like number {n} in: {}", &text[line..end]);
    }
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[cfg(unix)]
fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode & !0o640,
        0,
        "{}: mode {mode:o} gives more than 0640",
        path.display()
    );
    assert_eq!(mode & 0o600, 0o600, "{}: mode {mode:o}", path.display());
}

/// Imports the generated day in `data` and settles it; returns all the logs.
fn import_and_settle(dir: &Path, db: &str, json: bool) -> String {
    let mut logs = String::new();
    let mut run = |args: &[&str]| {
        let out = tpsettle(dir, db, json, args);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        logs += &stderr;
        logs += &text(&out.stdout);
    };
    for (kind, file) in [
        ("practitioners", "practitioners.csv"),
        ("adherents", "adherents.csv"),
        ("claims", "claims.csv"),
        ("claims", "claims-resent.csv"),
    ] {
        run(&["import", kind, &format!("data/{file}")]);
    }
    run(&["settle", "--date", "2026-12-01", "--out", "out"]);
    // Again: the resume path logs other things.
    run(&["settle", "--date", "2026-12-01", "--out", "out", "--json"]);
    logs
}

/// The generated day's files: SEPA, RSP (raw and decoded), manifest,
/// statements and the print batch's CSV.
fn check_run_files(run_dir: &Path, s: &Secrets) {
    let files = all_files(run_dir);
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "xml"))
    );
    let (mut rsp_files, mut pdfs) = (0, 0);
    for f in &files {
        let name = f.strip_prefix(run_dir).unwrap().display().to_string();
        #[cfg(unix)]
        assert_private(f);
        assert!(!name.ends_with(".partial"), "{name}: temporary file left");
        let bytes = std::fs::read(f).unwrap();
        if name.ends_with(".pdf") {
            pdfs += 1;
            if have_command("pdftotext") {
                check_statement(&name, &pdftotext(f));
            }
        } else if name.ends_with(".csv") {
            assert!(
                name.starts_with("statements/print-batch-"),
                "{name}: a new CSV output: test it"
            );
            let mut r = csv::Reader::from_path(f).unwrap();
            for cell in r.records().flat_map(|r| {
                r.unwrap()
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            }) {
                assert!(!cell.starts_with(['=', '+', '-', '@']), "{name}: {cell:?}");
            }
            assert_clean(&name, &String::from_utf8(bytes).unwrap(), s, false);
        } else if name.ends_with(".rsp") {
            rsp_files += 1;
            // Entities flow across 128-byte records: unframe before searching.
            let stream: Vec<u8> = bytes
                .chunks(129)
                .flat_map(|r| &r[..128.min(r.len())])
                .copied()
                .collect();
            let stream = String::from_utf8(stream).unwrap();
            assert_clean(
                &name,
                &stream.replace(|c: char| c.is_ascii_digit(), " "),
                s,
                false,
            );
            // Numeric fields sit side by side in the raw stream: look for
            // NIR-like numbers in the decoded entities, field by field.
            let mut fields = String::new();
            for e in decode(bytes.as_slice()) {
                let v = serde_json::to_value(e.unwrap()).unwrap();
                for field in v.as_object().unwrap().values().filter_map(|x| x.as_str()) {
                    fields += field;
                    fields.push('\n');
                }
            }
            assert_clean(&name, &fields, s, false);
        } else {
            assert_clean(&name, &String::from_utf8(bytes).unwrap(), s, false);
        }
    }
    assert!(rsp_files > 10, "{rsp_files} RSP files");
    assert!(
        pdfs > 0,
        "the generated day has Noémie-origin payments: statements"
    );
}

/// A paper statement is a letter to the practitioner who treated the
/// patients it lists, so beneficiaries' names are its content (issue 4);
/// what it must not carry is a NIR or the practitioner's IBAN in clear.
fn check_statement(name: &str, text: &str) {
    if let Some(n) = nir_like(text) {
        panic!("{name}: NIR-like number {n}");
    }
    if let Some(i) = unmasked_iban(text) {
        panic!("{name}: an unmasked IBAN: {i}");
    }
}

both!(a_generated_day_leaks_nothing, |db| async move {
    // A password in the URL: trust authentication ignores it, so the run
    // works, and it must never be printed.
    let url = if db.url.starts_with("postgres") {
        db.url.replacen("postgres@", "postgres:Pa55-in-the-URL@", 1)
    } else {
        db.url.clone()
    };
    let second = if db.url.starts_with("postgres") {
        TestDb::postgres()
            .await
            .expect("PostgreSQL answered a moment ago")
    } else {
        TestDb::sqlite().await
    };
    let second_url = second
        .url
        .replacen("postgres@", "postgres:Pa55-in-the-URL@", 1);
    for (json, db_url, base) in [
        (false, &url, db.dir.path()),
        (true, &second_url, second.dir.path()),
    ] {
        let generated = tpsettle(
            base,
            db_url,
            json,
            &[
                "gen",
                "--practitioners",
                "60",
                "--claims",
                "1500",
                "--seed",
                "11",
                "--date",
                "2026-12-01",
                "--out",
                "data",
            ],
        );
        assert!(generated.status.success(), "{}", text(&generated.stderr));
        let s = secrets(&base.join("data"));
        assert!(
            s.names.len() > 300,
            "{} patient names to look for",
            s.names.len()
        );
        // Our generated CSVs carry no formula-looking cell either.
        for f in ["practitioners.csv", "adherents.csv", "claims.csv"] {
            let mut r = csv::Reader::from_path(base.join("data").join(f)).unwrap();
            for rec in r.records() {
                for cell in rec.unwrap().iter() {
                    assert!(!cell.starts_with(['=', '+', '-', '@']), "{f}: {cell:?}");
                }
            }
        }
        let logs = import_and_settle(base, db_url, json);
        assert!(logs.contains("run completed"), "{logs}");
        if json {
            for line in logs
                .lines()
                .filter(|l| l.starts_with('{') && l.contains("\"level\""))
            {
                serde_json::from_str::<serde_json::Value>(line).expect("a JSON log line");
            }
            assert!(
                logs.contains("\"level\":\"TRACE\"") || logs.contains("\"level\":\"DEBUG\""),
                "trace level is on"
            );
        }
        assert_clean(if json { "JSON logs" } else { "logs" }, &logs, &s, true);
        let log_words = words(&logs);
        for iban in s.ibans.iter().filter(|i| !i.contains(' ')) {
            assert!(
                !log_words.contains(iban.as_str()),
                "IBAN {iban} in the logs"
            );
        }
        if let Some(i) = unmasked_iban(&logs) {
            panic!("an unmasked IBAN in the logs: {i}");
        }
        assert!(
            !logs.contains("Pa55-in-the-URL"),
            "the database password is in the logs"
        );
        check_run_files(&base.join("out/RUN-20261201"), &s);
        if db_url.starts_with("sqlite://") {
            #[cfg(unix)]
            assert_private(&base.join(db_url.trim_start_matches("sqlite://")));
        }
    }
    second.cleanup().await;
    db.cleanup().await;
});

/// Failing connections: the message says which database, never the password.
#[test]
fn database_passwords_never_appear_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    // (URL, also with JSON logs): nothing listens on port 1, and the pool
    // waits its 30 s acquire timeout before giving up, so that one runs once.
    for (url, both_formats) in [
        // unreachable; a raw '@' and ':' in the password
        (
            "postgres://tpsettle:Pw@Raw:At-2@127.0.0.1:1/tpsettle",
            false,
        ),
        // the real server, a role that does not exist; percent-encoded
        (
            "postgres://no_such_role:Pw%40Encoded-3@127.0.0.1:5432/no_such_db",
            true,
        ),
        // the real server, a database that does not exist
        (
            "postgres://postgres:Pw-NoDb-1@127.0.0.1:5432/no_such_db",
            true,
        ),
        // not a port
        (
            "postgres://tpsettle:Pw-BadPort-4@127.0.0.1:notaport/tpsettle",
            true,
        ),
        // an unsupported scheme
        ("mysql://root:Pw-Mysql-5@127.0.0.1/tpsettle", true),
    ] {
        for json in [false, true]
            .into_iter()
            .take(if both_formats { 2 } else { 1 })
        {
            let out = tpsettle(dir.path(), url, json, &["import", "claims", "nothing.csv"]);
            assert_eq!(out.status.code(), Some(1), "{url}");
            let all = format!("{}{}", text(&out.stderr), text(&out.stdout));
            assert!(all.contains("cannot open database"), "{url}: {all}");
            for secret in [
                "Pw-",
                "Pw@",
                "Pw%40",
                "Raw:At",
                "Encoded",
                "NoDb-1",
                "BadPort-4",
                "Mysql-5",
            ] {
                assert!(!all.contains(secret), "{url}: {secret:?} printed:\n{all}");
            }
            assert!(
                all.contains(":***@"),
                "{url}: the redacted URL is shown: {all}"
            );
        }
    }
}
