//! What a statement says, independent of how it is drawn: one letter to
//! one practitioner about one transfer, and the French formats it prints
//! amounts, dates and the account in.

use chrono::{Datelike, NaiveDate};

/// The sender block: who writes (from the `[mutuelle]` configuration).
#[derive(Debug, Clone)]
pub struct Sender {
    pub name: String,
    pub address_line: String,
    pub postcode: String,
    pub city: String,
}

impl From<&crate::config::Mutuelle> for Sender {
    fn from(m: &crate::config::Mutuelle) -> Self {
        Sender {
            name: m.name.clone(),
            address_line: m.address_line.clone(),
            postcode: m.postcode.clone(),
            city: m.city.clone(),
        }
    }
}

/// One statement: a practitioner, the transfer, the Noémie-origin claims
/// it pays, and the Noémie-origin claims rejected since the last statement.
#[derive(Debug, Clone)]
pub struct Letter {
    pub ps_id: String,
    pub name: String,
    pub address_line: String,
    pub postcode: String,
    pub city: String,
    pub country: String,
    /// The payment reference (SEPA `EndToEndId`, RSP `071`).
    pub reference: String,
    /// Date of the letter: the run's business date (never the clock, so a
    /// re-run prints the same bytes).
    pub date: NaiveDate,
    pub execution_date: NaiveDate,
    pub iban: String,
    pub account_holder: String,
    /// The whole transfer, DRE-origin claims included.
    pub transfer_cents: i64,
    pub paid: Vec<PaidRow>,
    pub rejected: Vec<RejectedRow>,
}

#[derive(Debug, Clone)]
pub struct PaidRow {
    pub invoice_no: i64,
    pub care_date: NaiveDate,
    pub beneficiary: String,
    pub billed_cents: i64,
    pub amo_paid_cents: i64,
    pub amc_paid_cents: i64,
}

#[derive(Debug, Clone)]
pub struct RejectedRow {
    pub invoice_no: i64,
    pub care_date: NaiveDate,
    /// Absent for an R03 duplicate (its content is not kept).
    pub beneficiary: Option<String>,
    pub requested_cents: i64,
    pub code: String,
    pub label: String,
}

/// Column totals of the paid table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub billed_cents: i64,
    pub amo_paid_cents: i64,
    pub amc_paid_cents: i64,
}

impl Letter {
    pub fn totals(&self) -> Totals {
        self.paid.iter().fold(Totals::default(), |t, r| Totals {
            billed_cents: t.billed_cents + r.billed_cents,
            amo_paid_cents: t.amo_paid_cents + r.amo_paid_cents,
            amc_paid_cents: t.amc_paid_cents + r.amc_paid_cents,
        })
    }

    /// The window lines: name, street, "POSTCODE CITY" (upper case without
    /// accents, as La Poste's address norm asks for the last line), country
    /// outside France.
    pub fn address_lines(&self) -> Vec<String> {
        let mut lines = vec![self.name.clone(), self.address_line.clone()];
        let town = deunicode::deunicode(&self.city).to_uppercase();
        lines.push(format!("{} {}", self.postcode, town));
        if !self.country.is_empty() && self.country != "FR" {
            lines.push(self.country.to_uppercase());
        }
        lines
    }
}

/// "1 234,56 €": French grouping (narrow no-break space) and decimal comma.
pub fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    let units = (c / 100).to_string();
    let mut grouped = String::new();
    for (i, d) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push('\u{202F}');
        }
        grouped.push(d);
    }
    format!("{sign}{grouped},{:02}\u{A0}€", c % 100)
}

/// "01/12/2026".
pub fn short_date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// "1er décembre 2026".
pub fn long_date(d: NaiveDate) -> String {
    const MONTHS: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let day = if d.day() == 1 {
        "1er".to_owned()
    } else {
        d.day().to_string()
    };
    format!("{day} {} {}", MONTHS[d.month0() as usize], d.year())
}

/// The account with everything but its last 4 characters hidden, in the
/// groups of 4 it is printed in on paper: "**** **** … ***0 189".
pub fn masked_iban(iban: &str) -> String {
    let compact: Vec<char> = iban.chars().filter(|c| !c.is_whitespace()).collect();
    let keep = compact.len().saturating_sub(4);
    let masked: Vec<char> = compact
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep { '*' } else { *c })
        .collect();
    masked
        .chunks(4)
        .map(|g| g.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_formats() {
        assert_eq!(euros(0), "0,00\u{A0}€");
        assert_eq!(euros(5), "0,05\u{A0}€");
        assert_eq!(euros(123_456_789), "1\u{202F}234\u{202F}567,89\u{A0}€");
        assert_eq!(euros(100_000), "1\u{202F}000,00\u{A0}€");
        assert_eq!(euros(99_999), "999,99\u{A0}€");
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(short_date(d), "01/12/2026");
        assert_eq!(long_date(d), "1er décembre 2026");
        assert_eq!(
            long_date(NaiveDate::from_ymd_opt(2026, 8, 15).unwrap()),
            "15 août 2026"
        );
    }

    #[test]
    fn iban_shows_only_its_last_four_characters() {
        let m = masked_iban("FR76 3000 6000 0112 3456 7890 189");
        assert_eq!(m, "**** **** **** **** **** ***0 189");
        assert_eq!(m.chars().filter(|c| c.is_ascii_alphanumeric()).count(), 4);
    }
}
