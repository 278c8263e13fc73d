use std::fmt;
use std::str::FromStr;

use super::InvalidValue;

/// Practitioner's Assurance-Maladie or FINESS number: 9 characters, digits
/// or capital letters (Corsican FINESS numbers start `2A`/`2B`). The narrow
/// alphabet also makes it safe as a file name (`rsp/<ps_id>.rsp`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize)]
#[serde(transparent)]
pub struct PsId(String);

impl FromStr for PsId {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        let ok = s.len() == 9
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        if !ok {
            return Err(InvalidValue::new(format!(
                "not a practitioner id: {:?} (expected 9 digits or capital letters)",
                clip(s)
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

impl PsId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Invoice number: 1 to 9 digits, as in the B2/DRE norm.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize)]
#[serde(transparent)]
pub struct InvoiceNo(u32);

impl InvoiceNo {
    pub const MAX: u32 = 999_999_999;

    pub fn new(n: u32) -> Result<Self, InvalidValue> {
        if n > Self::MAX {
            return Err(InvalidValue::new(format!(
                "invoice number over 9 digits: {n}"
            )));
        }
        Ok(Self(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl FromStr for InvoiceNo {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidValue::new(format!(
                "not an invoice number: {:?} (expected 1 to 9 digits)",
                clip(s)
            )));
        }
        Ok(Self(s.parse().expect("9 digits fit in u32")))
    }
}

impl fmt::Display for InvoiceNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Member number: 1 to 20 letters or digits. Kept short and plain because it
/// goes into payment references (`EndToEndId` is at most 35 characters).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize)]
#[serde(transparent)]
pub struct AdherentId(String);

impl FromStr for AdherentId {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        let ok = (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(InvalidValue::new(format!(
                "not a member id: {:?} (expected 1 to 20 letters or digits)",
                clip(s)
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

impl AdherentId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AdherentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// ISO 3166-1 alpha-2 country code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub const FR: CountryCode = CountryCode(*b"FR");

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII by construction")
    }
}

impl FromStr for CountryCode {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(Self([*a, *b])),
            _ => Err(InvalidValue::new(format!(
                "not a country code: {:?} (expected 2 capital letters)",
                clip(s)
            ))),
        }
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(super) fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_id() {
        assert!("123456789".parse::<PsId>().is_ok());
        assert!("2A0012345".parse::<PsId>().is_ok());
        for bad in [
            "12345678",
            "1234567890",
            "12345678a",
            "../../etc",
            "12345/789",
            "",
        ] {
            assert!(bad.parse::<PsId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn invoice_no() {
        assert_eq!("000000042".parse::<InvoiceNo>().unwrap().get(), 42);
        for bad in ["", "1234567890", "-1", "1e3", "0x10", " 1"] {
            assert!(bad.parse::<InvoiceNo>().is_err(), "{bad}");
        }
    }

    #[test]
    fn adherent_and_country() {
        assert!("A0012345".parse::<AdherentId>().is_ok());
        assert!("a/b".parse::<AdherentId>().is_err());
        assert!("x".repeat(21).parse::<AdherentId>().is_err());
        assert_eq!("FR".parse::<CountryCode>().unwrap(), CountryCode::FR);
        assert!("fr".parse::<CountryCode>().is_err());
    }
}
