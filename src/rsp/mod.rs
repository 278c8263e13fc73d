//! RSP returns (*rejets, signalements, paiements*), modelled on NOEMIE-PS.
//!
//! Practitioners' software already reconciles NOEMIE-PS returns, so an RSP
//! has their shape: a stream of entities (3-digit type, 2-digit level,
//! fixed-position fields, `@`), cut into 128-byte physical records, each
//! followed by a line feed. `docs/formats-rsp.md` gives every byte.
//!
//! - [`RspWriter`] streams one file with constant memory and refuses, as an
//!   error, wrong nesting and a transfer whose invoices do not add up to it.
//! - [`decode`] streams it back as [`Entity`] values and re-checks every
//!   control, so a file we cannot read back is never one we accept.

pub mod layout;

mod decode;
mod writer;

pub use decode::{Decoder, Entity, Status, decode, decode_to_json_lines};
pub use writer::{Header, Invoice, Payee, RspTotals, RspWriter, Transfer};

use crate::domain::Amount;

/// Everything that can go wrong writing or reading an RSP.
///
/// Decoder errors carry the 1-based index of the entity being read and a
/// byte offset (from 0, in the file as stored, line feeds included): of the
/// faulty byte or field for [`RspError::Malformed`], of the control entity
/// for [`RspError::Control`], so support can open the file at the right place.
#[derive(Debug, thiserror::Error)]
pub enum RspError {
    #[error("I/O error on the RSP stream: {0}")]
    Io(#[from] std::io::Error),

    /// A writer call in a state where it would break the nesting.
    #[error("RSP writer: {call}() is not allowed while {state}")]
    Nesting {
        call: &'static str,
        state: &'static str,
    },

    /// The money invariant of a `071`: its invoices must add up to it.
    #[error(
        "RSP writer: transfer {reference}: paid invoices add up to {streamed}, \
         but the 071 declares {declared}"
    )]
    TransferSum {
        reference: String,
        declared: Amount,
        streamed: String,
    },

    /// A value the writer cannot put in its field without changing it.
    #[error("RSP writer: {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },

    /// A count or a total that no longer fits its fixed-width field.
    #[error("RSP writer: {what} exceeds the {width}-digit field of the format")]
    Overflow { what: &'static str, width: usize },

    /// An earlier error left the file half-written.
    #[error(
        "RSP writer: an earlier call failed; the half-written file must be \
         discarded, not completed"
    )]
    Poisoned,

    /// Bytes that are not a well-formed RSP.
    #[error("RSP entity #{entity}, byte {offset}: {reason}")]
    Malformed {
        entity: u64,
        offset: u64,
        reason: String,
    },

    /// Well-formed, but a `990`/`999` control (or a `071` amount) disagrees
    /// with what it closes.
    #[error("RSP entity #{entity}, byte {offset}: control mismatch: {reason}")]
    Control {
        entity: u64,
        offset: u64,
        reason: String,
    },

    #[error("cannot print an RSP entity as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Cents as `1234.50`, for messages about sums that may not fit an
/// [`Amount`] (an overshooting transfer, a hostile file).
fn fmt_cents(cents: impl Into<i128>) -> String {
    let cents: i128 = cents.into();
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}
