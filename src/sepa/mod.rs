//! SEPA credit-transfer initiation files (ISO 20022 `pain.001`), the file
//! the mutuelle sends its bank to pay practitioners and members.
//!
//! - [`charset`]: the EPC character set; free text is transliterated into it,
//!   identifiers are checked against it.
//! - [`SepaWriter`]: a streaming writer, `pain.001.001.09` (default) or
//!   `pain.001.001.03`. Memory does not grow with the number of transfers.
//!
//! The XSD accepts files a bank will refuse (USD, three decimals, any
//! Unicode, a wrong `CtrlSum`), so the EPC rules are enforced here, in code:
//! see `docs/formats-sepa.md` for the element-by-element description.
//!
//! Any error means the output is incomplete and must be discarded: write to
//! a temporary file and publish it only after [`SepaWriter::finish`]
//! succeeds.

pub mod charset;
mod model;
mod writer;
mod xml;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use charset::{IdError, check_sepa_id, to_sepa_text};
pub use model::{
    CreditTransfer, Debtor, GroupHeader, MAX_NAME_CHARS, MAX_REMITTANCE_CHARS, PaymentInfo,
    PostalAddress,
};
pub use writer::SepaWriter;

/// Which `pain.001` schema to write.
///
/// `.09` is what the EPC rulebook requires since November 2023; `.03` is kept
/// for banks that have not migrated yet (chosen in the configuration).
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, serde::Serialize, serde::Deserialize,
)]
pub enum PainVersion {
    #[serde(rename = "pain.001.001.03")]
    V03,
    #[default]
    #[serde(rename = "pain.001.001.09")]
    V09,
}

impl PainVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            PainVersion::V03 => "pain.001.001.03",
            PainVersion::V09 => "pain.001.001.09",
        }
    }

    /// The default XML namespace of the `Document` element.
    pub fn namespace(self) -> &'static str {
        match self {
            PainVersion::V03 => "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03",
            PainVersion::V09 => "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09",
        }
    }
}

impl FromStr for PainVersion {
    type Err = crate::domain::InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pain.001.001.03" => Ok(PainVersion::V03),
            "pain.001.001.09" => Ok(PainVersion::V09),
            _ => Err(crate::domain::InvalidValue(format!(
                "not a supported SEPA version: {:?} (expected pain.001.001.09 or pain.001.001.03)",
                s.chars().take(40).collect::<String>()
            ))),
        }
    }
}

impl fmt::Display for PainVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a SEPA file could not be written. Every variant says where (`at`:
/// the group header, a `PmtInfId`, an `EndToEndId`) and what.
#[derive(Debug, thiserror::Error)]
pub enum SepaError {
    #[error("writing the pain.001 file: {0}")]
    Io(#[from] std::io::Error),

    #[error("{at}: {field} {value:?} is not a valid SEPA identifier: {reason}")]
    InvalidId {
        at: String,
        field: &'static str,
        value: String,
        reason: IdError,
    },

    /// An EPC rule the XSD does not check (amount range, empty name, BIC
    /// form of `.03`, too many address lines, remittance too long…).
    #[error("{at}: {reason}")]
    Refused { at: String, reason: String },

    /// The money invariant: what was declared up front (`NbOfTxs`,
    /// `CtrlSum`) is not what was streamed.
    #[error("{at}: {field} declared {declared} but {streamed} streamed")]
    Mismatch {
        at: String,
        field: &'static str,
        declared: String,
        streamed: String,
    },

    #[error("call out of order: {0}")]
    OutOfOrder(String),

    #[error("the SEPA writer failed earlier; its output is incomplete and must be discarded")]
    Poisoned,
}
