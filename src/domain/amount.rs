use std::fmt;
use std::iter::Sum;
use std::ops::Add;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::InvalidValue;

/// A non-negative euro amount with at most two decimals.
///
/// Stored as integer cents in the database (exact on SQLite and PostgreSQL
/// alike); carried as `Decimal` in code so that nothing ever goes through f64.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(Decimal);

/// EPC ceiling for one credit transfer; also a sane ceiling for one claim.
const MAX_CENTS: i64 = 99_999_999_999;

impl Amount {
    pub const ZERO: Amount = Amount(Decimal::ZERO);

    /// From integer cents, as stored. Negative or out-of-range cents are a
    /// corrupted store, not user input, hence the error rather than a clamp.
    pub fn from_cents(cents: i64) -> Result<Self, InvalidValue> {
        if !(0..=MAX_CENTS).contains(&cents) {
            return Err(InvalidValue::new(format!(
                "amount out of range: {cents} cents"
            )));
        }
        Ok(Self(Decimal::new(cents, 2)))
    }

    pub fn cents(self) -> i64 {
        let mut d = self.0;
        d.rescale(2);
        // Invariant of construction: at most 2 decimals and <= MAX_CENTS.
        i64::try_from(d.mantissa()).expect("amount fits in i64 cents")
    }

    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// `self - other`, or `None` when it would be negative.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        let d = self.0 - other.0;
        (d >= Decimal::ZERO).then_some(Amount(d))
    }
}

impl Add for Amount {
    type Output = Amount;
    fn add(self, rhs: Amount) -> Amount {
        Amount(self.0 + rhs.0)
    }
}

impl Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        iter.fold(Amount::ZERO, Add::add)
    }
}

impl FromStr for Amount {
    type Err = InvalidValue;

    /// Accepts only `digits[.d[d]]`: no sign, exponent, hex, spaces or
    /// thousands separators, because each of those has been seen to be
    /// misread somewhere along a payment chain.
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) {
            return Err(InvalidValue::new(format!(
                "not an amount: {:?} (expected digits with '.' and at most 2 decimals)",
                truncate(s)
            )));
        }
        if let Some(f) = frac {
            if !digits(f) {
                return Err(InvalidValue::new(format!(
                    "not an amount: {:?}",
                    truncate(s)
                )));
            }
            if f.len() > 2 {
                return Err(InvalidValue::new(format!(
                    "more than 2 decimals: {:?}",
                    truncate(s)
                )));
            }
        }
        if int.len() > 12 {
            return Err(InvalidValue::new(format!(
                "amount too large: {:?}",
                truncate(s)
            )));
        }
        let d = Decimal::from_str(s).map_err(|e| InvalidValue::new(e.to_string()))?;
        let a = Amount(d.normalize());
        if a.cents() > MAX_CENTS {
            return Err(InvalidValue::new(format!("amount too large: {s}")));
        }
        Ok(a)
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

impl fmt::Display for Amount {
    /// Always two decimals: `1234.50`, the form of every file we write.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.cents();
        write!(f, "{}.{:02}", c / 100, c % 100)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({self})")
    }
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_decimals() {
        assert_eq!("12.5".parse::<Amount>().unwrap().cents(), 1250);
        assert_eq!("0".parse::<Amount>().unwrap().cents(), 0);
        assert_eq!("007.01".parse::<Amount>().unwrap().to_string(), "7.01");
        assert_eq!("999999999.99".parse::<Amount>().unwrap().cents(), MAX_CENTS);
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "-1",
            "+1",
            "1.234",
            "1e9",
            "NaN",
            "inf",
            "0x10",
            " 1",
            "1 ",
            "1,5",
            "1.",
            ".5",
            "1.2.3",
            "1000000000000",
            "1000000000.00",
        ] {
            assert!(bad.parse::<Amount>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cents_round_trip_and_display() {
        let a = Amount::from_cents(123_450).unwrap();
        assert_eq!(a.to_string(), "1234.50");
        assert_eq!(a.cents(), 123_450);
        assert!(Amount::from_cents(-1).is_err());
        let s: Amount = ["0.10", "0.20"]
            .iter()
            .map(|s| s.parse::<Amount>().unwrap())
            .sum();
        assert_eq!(s.to_string(), "0.30");
    }
}
