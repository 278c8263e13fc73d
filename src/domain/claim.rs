use std::fmt;
use std::str::FromStr;

use super::{InvalidValue, InvoiceNo, PsId};

/// How the claim reached the mutuelle.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Origin {
    /// SESAM-Vitale DRE sent by the practitioner's software.
    Dre,
    /// Forwarded by the compulsory insurer over the Noémie link.
    Noemie,
}

/// Who is paid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Mode {
    /// Tiers-payant: the practitioner.
    Tp,
    /// Hors tiers-payant: the member, who already paid the practitioner.
    Htp,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ClaimStatus {
    Accepted,
    Rejected,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PayeeKind {
    Practitioner,
    Adherent,
}

macro_rules! text_enum {
    ($t:ty, $what:literal, $($s:literal => $v:expr),+) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(x if x == $v => $s,)+ _ => unreachable!() }
            }
        }
        impl FromStr for $t {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, InvalidValue> {
                match s {
                    $($s => Ok($v),)+
                    _ => Err(InvalidValue::new(format!(
                        concat!("not a ", $what, ": {:?} (expected one of: {})"),
                        super::ids::clip(s), [$($s),+].join(", ")
                    ))),
                }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(Origin, "claim origin", "DRE" => Origin::Dre, "NOEMIE" => Origin::Noemie);
text_enum!(Mode, "payment mode", "TP" => Mode::Tp, "HTP" => Mode::Htp);
text_enum!(ClaimStatus, "claim status", "accepted" => ClaimStatus::Accepted, "rejected" => ClaimStatus::Rejected);
text_enum!(PayeeKind, "payee kind", "practitioner" => PayeeKind::Practitioner, "adherent" => PayeeKind::Adherent);

/// A claim's identity: the practitioner who billed and the invoice number.
#[derive(Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct ClaimKey {
    pub ps_id: PsId,
    pub invoice_no: InvoiceNo,
}

/// Reject code, from the claims engine or our own import rules (`R01`…).
/// Letters and digits only, at most 8: it travels in fixed-width RSP fields.
#[derive(Clone, PartialEq, Eq, Hash, Debug, serde::Serialize)]
#[serde(transparent)]
pub struct RejectCode(String);

impl FromStr for RejectCode {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        let ok = (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(InvalidValue::new(format!(
                "not a reject code: {:?} (expected 1 to 8 letters or digits)",
                super::ids::clip(s)
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

impl RejectCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Health or personal data (a patient's name, say). It can be read with
/// [`Sensitive::expose`] where it is meant to go (a paper statement), but its
/// `Debug` never shows it, so it cannot leak into a log line by accident.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(v: T) -> Self {
        Self(v)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("«redacted»")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        assert_eq!("NOEMIE".parse::<Origin>().unwrap(), Origin::Noemie);
        assert_eq!(Mode::Htp.to_string(), "HTP");
        assert!("tp".parse::<Mode>().is_err());
        assert!("Accepted".parse::<ClaimStatus>().is_err());
    }

    #[test]
    fn sensitive_never_debugs() {
        let s = Sensitive::new("Jeanne Dupont".to_string());
        assert_eq!(format!("{s:?}"), "«redacted»");
        assert_eq!(s.expose(), "Jeanne Dupont");
    }
}
