use std::fmt;
use std::str::FromStr;

use iban::IbanLike;

use super::InvalidValue;
use super::ids::clip;

/// Countries of the SEPA credit-transfer scheme (EPC409 list). A valid IBAN
/// outside it cannot be paid by a SEPA transfer, so it is refused at the edge.
/// Sorted: looked up by binary search for every IBAN read.
const SEPA_COUNTRIES: &[&str] = &[
    "AD", "AL", "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GI",
    "GR", "HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MC", "MD", "ME", "MK", "MT", "NL",
    "NO", "PL", "PT", "RO", "SE", "SI", "SK", "SM", "VA",
];

/// A checksum-valid IBAN of the SEPA zone, held in electronic form.
///
/// `Debug` masks it, so an `Iban` that slips into a log line shows only its
/// country and last four characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Iban(iban::Iban);

impl FromStr for Iban {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        let parsed = iban::Iban::from_str(s)
            .map_err(|e| InvalidValue::new(format!("not a valid IBAN ({e})")))?;
        if SEPA_COUNTRIES
            .binary_search(&parsed.country_code())
            .is_err()
        {
            return Err(InvalidValue::new(format!(
                "IBAN country {} is outside the SEPA zone",
                parsed.country_code()
            )));
        }
        Ok(Self(parsed))
    }
}

impl Iban {
    /// The full IBAN, for the bank file only.
    pub fn electronic(&self) -> &str {
        self.0.electronic_str()
    }

    /// `FR76 **** 1234`: what logs, statements and support screens show.
    pub fn masked(&self) -> String {
        mask(self.electronic())
    }
}

/// Masks any account-like string, valid or not, keeping country and the last 4.
pub fn mask(s: &str) -> String {
    let n = s.chars().count();
    if n <= 8 {
        return "*".repeat(n);
    }
    let head: String = s.chars().take(4).collect();
    let tail: String = s.chars().skip(n - 4).collect();
    format!("{head} **** {tail}")
}

impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iban({})", self.masked())
    }
}

/// Business Identifier Code: 4 letters (bank), 2 letters (country),
/// 2 letters or digits (location), optional 3 letters or digits (branch).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Bic(String);

impl FromStr for Bic {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        let b = s.as_bytes();
        let alnum = |r: &[u8]| {
            r.iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        };
        let ok = matches!(b.len(), 8 | 11)
            && b[..6].iter().all(u8::is_ascii_uppercase)
            && alnum(&b[6..]);
        if !ok {
            return Err(InvalidValue::new(format!(
                "not a BIC: {:?} (expected 8 or 11 characters, e.g. BNPAFRPPXXX)",
                clip(s)
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

impl Bic {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Bic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sepa_countries_are_sorted_for_binary_search() {
        assert!(SEPA_COUNTRIES.windows(2).all(|w| w[0] < w[1]));
        for c in ["AD", "FR", "VA", "SM"] {
            assert!(SEPA_COUNTRIES.binary_search(&c).is_ok(), "{c}");
        }
    }

    #[test]
    fn iban_checksum_and_zone() {
        let i: Iban = "FR7630006000011234567890189".parse().unwrap();
        assert_eq!(i.electronic(), "FR7630006000011234567890189");
        assert_eq!(i.masked(), "FR76 **** 0189");
        assert_eq!(format!("{i:?}"), "Iban(FR76 **** 0189)");
        assert!("FR7630006000011234567890188".parse::<Iban>().is_err());
        // Valid Brazilian IBAN: checksum right, but not payable by SEPA.
        assert!("BR1800360305000010009795493C1".parse::<Iban>().is_err());
    }

    #[test]
    fn bic_shape() {
        assert!("BNPAFRPP".parse::<Bic>().is_ok());
        assert!("BNPAFRPPXXX".parse::<Bic>().is_ok());
        for bad in ["BNPAFRP", "bnpafrpp", "BNPAFRPPXX", "1NPAFRPP"] {
            assert!(bad.parse::<Bic>().is_err(), "{bad}");
        }
    }
}
