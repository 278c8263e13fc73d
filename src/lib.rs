//! tpsettle: the daily tiers-payant settlement of a French mutuelle.
//!
//! Claims come in as CSV ([`import`]), live in the [`store`] (SQLite or
//! PostgreSQL), and each business day a settlement run pays them per payee.
//! See `docs/architecture.md` for how a claim flows through the modules.

pub mod calendar;
pub mod config;
pub mod demo;
pub mod domain;
pub mod generator;
pub mod import;
pub mod output;
pub mod rsp;
pub mod sepa;
pub mod settlement;
pub mod store;
pub mod telemetry;
