//! Types that can only be built valid. Parsing happens once, at the edge
//! (CSV import, configuration); everything behind it trusts these types.

mod amount;
mod bank;
mod claim;
pub(crate) mod ids;

pub use amount::Amount;
pub use bank::{Bic, Iban, mask};
pub use claim::{ClaimKey, ClaimStatus, Mode, Origin, PayeeKind, RejectCode, Sensitive};
pub use ids::{AdherentId, CountryCode, InvoiceNo, PsId};

/// Why a value was refused at the edge. The caller adds file, line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl InvalidValue {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// Lets configuration files (TOML) hold validated types directly.
macro_rules! deserialize_from_str {
    ($($t:ty),+) => {$(
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )+};
}
deserialize_from_str!(Amount, Iban, Bic, PsId, CountryCode);
