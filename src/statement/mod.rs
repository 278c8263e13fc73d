//! Paper statements ("relevés de paiement") for payments on Noémie-origin
//! claims (contract §3, issue 4).
//!
//! Claims that reach the mutuelle through the AMO's Noémie link produce no
//! electronic return for the practitioner, so each practitioner paid in a
//! run for at least one such claim gets a letter listing them, with the
//! Noémie-origin claims rejected since its previous letter. The run also
//! writes a print batch: every letter of the run in postcode order, in
//! volumes of at most [`LETTERS_PER_VOLUME`] letters, each a PDF with a CSV
//! manifest for the print shop.
//!
//! - [`letter`]: what a letter says (model, French formats);
//! - [`template`]: the layout, `reports/statement.toml`, compiled in;
//! - [`face`]: the embedded DejaVu Sans fonts and their metrics;
//! - [`layout`]: pagination ("Page n/N", repeated table headers);
//! - [`render`]: drawing with krilla;
//! - [`batch`]: the print batch (order, CSV);
//! - [`run`]: a settlement run's statements, from the database to files.

pub mod batch;
pub mod face;
pub mod layout;
pub mod letter;
pub mod render;
pub mod run;
pub mod template;

pub use letter::{Letter, PaidRow, RejectedRow, Sender};
pub use render::{RenderError, render};
pub use run::{StatementError, Statements, write_run};

/// Folder of the statements inside a run folder.
pub const DIR: &str = "statements";
/// Letters per volume of the print batch. A volume is one PDF document,
/// held in memory until it is written (krilla writes a document whole):
/// 10,000 letters are ~27 MB of PDF and ~150 MB of memory, where a national
/// day's 300,000 letters in one document took gigabytes.
pub const LETTERS_PER_VOLUME: usize = 10_000;

/// Volume `number` (from 1) of the print batch, `ext` `pdf` (the letters
/// in postcode order) or `csv` (its manifest, `ps_id,pages,postcode`):
/// `statements/print-batch-001.pdf`.
pub fn batch_volume(number: usize, ext: &str) -> String {
    format!("{DIR}/print-batch-{number:03}.{ext}")
}
