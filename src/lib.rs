//! tpsettle: the daily tiers-payant settlement of a French mutuelle.
//!
//! Claims come in as CSV ([`import`]), live in the [`store`] (SQLite or
//! PostgreSQL), and each business day a settlement run pays them per payee.
//! See `docs/architecture.md` for how a claim flows through the modules.

pub mod calendar;
pub mod config;
pub mod domain;
pub mod import;
pub mod store;
