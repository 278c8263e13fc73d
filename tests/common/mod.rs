//! Test databases: a fresh SQLite file, or a fresh PostgreSQL schema on the
//! server named by `TEST_DATABASE_URL` (default: the local server).
//!
//! Without a reachable PostgreSQL, the PostgreSQL variant of a test prints a
//! notice and returns, except when `CI=true`, where it fails: a missing
//! server must never pass silently.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tpsettle::calendar::{Calendar, CalendarConfig};
use tpsettle::import::{Kind, import_file};
use tpsettle::store::Store;

pub mod audit;

pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct TestDb {
    pub url: String,
    pub store: Store,
    pub dir: tempfile::TempDir,
    pg_schema: Option<(String, String)>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::connect(&url)
            .await
            .expect("open SQLite test database");
        TestDb {
            url,
            store,
            dir,
            pg_schema: None,
        }
    }

    /// `None` (after a visible notice) when no PostgreSQL server is reachable.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG.into());
        let admin = match sqlx::PgPool::connect(&admin_url).await {
            Ok(p) => p,
            Err(e) => {
                require_tool("PostgreSQL", &format!("{admin_url}: {e}"));
                return None;
            }
        };
        sweep_old_schemas(&admin).await;
        let schema = format!("t_{}_{}", now_secs(), rand_suffix());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("create test schema");
        admin.close().await;
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{sep}options=-c%20search_path%3D{schema}");
        let store = Store::connect(&url)
            .await
            .expect("open PostgreSQL test schema");
        let dir = tempfile::tempdir().unwrap();
        Some(TestDb {
            url,
            store,
            dir,
            pg_schema: Some((admin_url, schema)),
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Drops the PostgreSQL schema (SQLite files go with the temp dir).
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some((admin_url, schema)) = &self.pg_schema
            && let Ok(admin) = sqlx::PgPool::connect(admin_url).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await;
        }
    }
}

/// Schemas of crashed test runs older than an hour.
async fn sweep_old_schemas(admin: &sqlx::PgPool) {
    let cutoff = now_secs() - 3600;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'")
            .fetch_all(admin)
            .await
            .unwrap_or_default();
    for n in names {
        let stamp = n.split('_').nth(1).and_then(|s| s.parse::<u64>().ok());
        if stamp.is_some_and(|s| s < cutoff) {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {n} CASCADE"
            )))
            .execute(admin)
            .await;
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A test needs an outside tool that is missing: fail under CI, else say so.
pub fn require_tool(tool: &str, detail: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{tool} is required under CI=true but is not available: {detail}");
    }
    eprintln!("NOTICE: skipping the {tool} part of this test ({tool} not available: {detail})");
}

/// True when `cmd` runs; otherwise reports it via [`require_tool`].
pub fn have_command(cmd: &str) -> bool {
    let ok = std::process::Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok();
    if !ok {
        require_tool(cmd, "command not found");
    }
    ok
}

/// A generated day (`tpsettle gen`) in `dir/data`; returns that folder.
pub fn gen_day(
    dir: &Path,
    practitioners: usize,
    claims: usize,
    seed: u64,
    date: chrono::NaiveDate,
) -> PathBuf {
    let data = dir.join("data");
    let spec = tpsettle::generator::GenSpec {
        practitioners,
        claims,
        seed,
        date,
    };
    let cal = Calendar::new(&CalendarConfig::default());
    tpsettle::generator::generate(&spec, &cal, &data).unwrap();
    data
}

/// Imports the generated files of `data` listed in `files`, in order
/// (`practitioners.csv`, `adherents.csv`, `claims*.csv`).
pub async fn import_day(store: &Store, data: &Path, files: &[&str]) {
    let cal = Calendar::new(&CalendarConfig::default());
    for f in files {
        let kind = match *f {
            "practitioners.csv" => Kind::Practitioners,
            "adherents.csv" => Kind::Adherents,
            _ => Kind::Claims,
        };
        import_file(store, &cal, kind, &data.join(f)).await.unwrap();
    }
}

/// Cuts `data/claims.csv` in two halves, `first.csv` and `second.csv`, each
/// with the header (an import racing another step); returns their paths.
pub fn split_claims(data: &Path) -> [PathBuf; 2] {
    let text = std::fs::read_to_string(data.join("claims.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let (a, b) = rows.split_at(rows.len() / 2);
    [("first.csv", a), ("second.csv", b)].map(|(name, part)| {
        let path = data.join(name);
        std::fs::write(&path, format!("{header}\n{}\n", part.join("\n"))).unwrap();
        path
    })
}

/// Every file `tpsettle gen` writes, in import order.
pub const WHOLE_DAY: [&str; 4] = [
    "practitioners.csv",
    "adherents.csv",
    "claims.csv",
    "claims-resent.csv",
];

/// `GET path` over plain HTTP/1.1: (status, body).
pub fn http_get(addr: impl std::net::ToSocketAddrs, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// The text of a PDF as poppler's `pdftotext -layout` reads it.
pub fn pdftotext(pdf: &Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success(), "pdftotext {}", pdf.display());
    String::from_utf8(out.stdout).unwrap()
}

pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// Runs a test body on SQLite and on PostgreSQL:
/// `both!(name, |db| async move { … });` gives `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both {
    ($name:ident, |$db:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $db = $crate::common::TestDb::sqlite().await;
                $body.await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($db) = $crate::common::TestDb::postgres().await else {
                    return;
                };
                $body.await;
            }
        }
    };
}

/// Validates `xml` against `shared/xsd/<schema>.xsd` with xmllint. Returns
/// false (after a notice, or a panic under CI) when xmllint or the schema
/// is missing.
pub fn xsd_valid(xml: &Path, schema: &str) -> bool {
    let Some(xsd) = xsd_dir().map(|d| d.join(format!("{schema}.xsd"))) else {
        require_tool("the ISO 20022 XSDs", "shared/xsd not found above the crate");
        return false;
    };
    if !have_command("xmllint") {
        return false;
    }
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(xml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} is not valid against {}:\n{}",
        xml.display(),
        xsd.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

fn xsd_dir() -> Option<PathBuf> {
    let mut dir = Some(Path::new(env!("CARGO_MANIFEST_DIR")));
    while let Some(d) = dir {
        let candidate = d.join("shared/xsd");
        if candidate.is_dir() {
            return Some(candidate);
        }
        let sibling = d.join("../shared/xsd");
        if sibling.is_dir() {
            return Some(sibling);
        }
        dir = d.parent();
    }
    None
}

pub fn sha256_file(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// (NbOfTxs, CtrlSum of the group header, sum of every InstdAmt) of a pain.001.
pub fn sepa_sums(path: &Path) -> (u64, rust_decimal::Decimal, rust_decimal::Decimal) {
    use quick_xml::events::Event;
    let text = std::fs::read_to_string(path).unwrap();
    let mut r = quick_xml::Reader::from_str(&text);
    let (mut stack, mut nb, mut ctrl, mut sum) = (
        Vec::<String>::new(),
        0u64,
        None,
        rust_decimal::Decimal::ZERO,
    );
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) => stack.push(e.name().0.to_owned()),
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                let v: String = AsRef::<str>::as_ref(&t).to_owned();
                match (
                    stack.iter().rev().nth(1).map(String::as_str),
                    stack.last().map(String::as_str),
                ) {
                    (Some("GrpHdr"), Some("NbOfTxs")) => nb = v.parse().unwrap(),
                    (Some("GrpHdr"), Some("CtrlSum")) => ctrl = Some(v.parse().unwrap()),
                    (_, Some("InstdAmt")) => sum += v.parse::<rust_decimal::Decimal>().unwrap(),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (nb, ctrl.expect("GrpHdr/CtrlSum"), sum)
}
