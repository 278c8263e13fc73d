//! tpsettle: the daily tiers-payant settlement of a French mutuelle.
//!
//! Claims come in as CSV ([`import`]), live in the [`store`] (SQLite or
//! PostgreSQL), and each business day a settlement run pays them per payee.
//! See `docs/architecture.md` for how a claim flows through the modules.

/// A place where the crash tests stop the process (cargo feature
/// `failpoints`, driven by the `FAILPOINTS` environment variable); compiled
/// to nothing otherwise, so production binaries carry no fail points.
macro_rules! crash_point {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name);
    };
}

pub mod alert;
pub mod calendar;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod domain;
pub mod generator;
pub mod http;
pub mod import;
pub mod metrics;
pub mod output;
pub mod redact;
pub mod report;
pub mod rsp;
pub mod schedule;
pub mod sepa;
pub mod settlement;
pub mod spreadsheet;
pub mod statement;
pub mod store;
pub mod telemetry;
pub mod watch;
