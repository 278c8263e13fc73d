//! What the caller hands the writer, and the EPC checks that turn it into
//! text ready to be written (transliterated, within limits).
//!
//! Checks live here rather than in the writer so that the caller can run
//! them *before* declaring counts and sums ([`CreditTransfer::check`]): a
//! payee whose data would be refused is held, not discovered half-way
//! through a file.

use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveDateTime};

use super::charset::{check_sepa_id, push_sepa_text, to_sepa_text};
use super::{PainVersion, SepaError};
use crate::domain::{Amount, Bic, CountryCode, Iban};

/// EPC limit for party names (the XSD allows 140).
pub const MAX_NAME_CHARS: usize = 70;
/// EPC limit for the single unstructured remittance line.
pub const MAX_REMITTANCE_CHARS: usize = 140;
const MAX_ADDRESS_LINES: usize = 2;
const MAX_ADDRESS_LINE_CHARS: usize = 70;
const MAX_TOWN_CHARS: usize = 35;
const MAX_POSTCODE_CHARS: usize = 16;
/// `NbOfTxs` is `Max15NumericText`.
const MAX_NB_OF_TXS: u64 = 999_999_999_999_999;
/// EPC ceiling for one transfer: 999,999,999.99 EUR.
const MAX_TRANSFER_CENTS: i64 = 99_999_999_999;

/// The mutuelle: who pays, from which account.
#[derive(Clone, Debug)]
pub struct Debtor {
    /// Account holder's name (`Dbtr/Nm`); transliterated, cut to 70.
    pub name: String,
    pub iban: Iban,
    /// Optional in SEPA; without it the debtor agent is `NOTPROVIDED`.
    pub bic: Option<Bic>,
    /// Who sends the file (`InitgPty/Nm`), often the same as `name`.
    pub initiating_party: String,
    /// Identifier the bank gave the sender (`InitgPty/Id/OrgId/Othr/Id`),
    /// e.g. a French *numéro national d'émetteur*; checked as a SEPA id.
    pub initiating_party_id: Option<String>,
}

/// The group header. `NbOfTxs` and `CtrlSum` come first in the file, so the
/// caller declares them; the writer checks them against what it streams.
#[derive(Clone, Debug)]
pub struct GroupHeader {
    /// Unique per file (the caller's job); checked against the id rule.
    pub msg_id: String,
    /// Local time, written without offset as `CreDtTm`. Passed in, not read
    /// from the clock, so that rewriting a run gives identical bytes.
    pub created_at: NaiveDateTime,
    pub nb_of_txs: u64,
    pub ctrl_sum: Amount,
}

/// One payment-information block: one execution date, one debit.
#[derive(Clone, Debug)]
pub struct PaymentInfo {
    pub pmt_inf_id: String,
    pub execution_date: NaiveDate,
    pub nb_of_txs: u64,
    pub ctrl_sum: Amount,
    /// ISO category purpose code (4 capital letters), e.g. `SUPP`.
    pub category_purpose: Option<String>,
}

/// A payee's postal address, hybrid form: free lines plus town and country.
#[derive(Clone, Debug)]
pub struct PostalAddress {
    /// At most 2 lines (street, building…); more is an error, not a cut.
    pub lines: Vec<String>,
    pub postcode: Option<String>,
    pub town: String,
    pub country: CountryCode,
}

/// One credit transfer, borrowing the caller's records: building one copies
/// nothing, so transfers can be streamed straight from a query.
///
/// `Debug` shows the reference, amount and masked IBAN only: payee names and
/// addresses are personal data and stay out of logs.
#[derive(Clone, Copy)]
pub struct CreditTransfer<'a> {
    /// The payment reference; checked, never rewritten.
    pub end_to_end_id: &'a str,
    pub amount: Amount,
    pub creditor_name: &'a str,
    pub creditor_iban: &'a Iban,
    pub creditor_bic: Option<&'a Bic>,
    pub creditor_address: Option<&'a PostalAddress>,
    /// One `Ustrd` line; transliterated, refused (not cut) beyond 140
    /// because it carries the reference the payee reconciles on.
    pub remittance: &'a str,
}

impl fmt::Debug for CreditTransfer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreditTransfer")
            .field("end_to_end_id", &self.end_to_end_id)
            .field("amount", &self.amount)
            .field("creditor_iban", &self.creditor_iban)
            .field("creditor_bic", &self.creditor_bic)
            .finish_non_exhaustive()
    }
}

impl CreditTransfer<'_> {
    /// Runs every check the writer runs on this transfer, without writing.
    pub fn check(&self, version: PainVersion) -> Result<(), SepaError> {
        self.prepare(version, &mut TextBuffers::default())
            .map(|_| ())
    }

    /// Checks and transliterates into `buf`, which the writer keeps from one
    /// transfer to the next: no allocation per transfer.
    pub(super) fn prepare<'a>(
        &'a self,
        version: PainVersion,
        buf: &'a mut TextBuffers,
    ) -> Result<PreparedTransfer<'a>, SepaError> {
        let at = || format!("transfer {}", clip(self.end_to_end_id));
        check_id(&at, "EndToEndId", self.end_to_end_id)?;
        check_transfer_amount(&at, self.amount)?;
        let bic = self.creditor_bic.map(Bic::as_str);
        if let Some(b) = bic {
            check_bic_for_version(&at, "creditor BIC", b, version)?;
        }
        let address = self
            .creditor_address
            .map(|a| PreparedAddress::new(&at, a))
            .transpose()?;
        Ok(PreparedTransfer {
            end_to_end_id: self.end_to_end_id,
            amount: self.amount,
            name: name_into(&at, "creditor name", self.creditor_name, &mut buf.name)?,
            iban: self.creditor_iban.electronic(),
            bic,
            address,
            remittance: remittance_into(&at, self.remittance, &mut buf.remittance)?,
        })
    }
}

/// The transliterated free text of the transfer being written.
#[derive(Default)]
pub(super) struct TextBuffers {
    name: String,
    remittance: String,
}

/// A transfer ready to be written: every string already in the SEPA set.
pub(super) struct PreparedTransfer<'a> {
    pub end_to_end_id: &'a str,
    pub amount: Amount,
    pub name: &'a str,
    pub iban: &'a str,
    pub bic: Option<&'a str>,
    pub address: Option<PreparedAddress>,
    pub remittance: &'a str,
}

pub(super) struct PreparedAddress {
    pub lines: Vec<String>,
    pub postcode: Option<String>,
    pub town: String,
    pub country: CountryCode,
}

impl PreparedAddress {
    fn new(at: &dyn Fn() -> String, a: &PostalAddress) -> Result<Self, SepaError> {
        if a.lines.len() > MAX_ADDRESS_LINES {
            return Err(refused(
                at,
                format!(
                    "creditor address has {} lines, at most {MAX_ADDRESS_LINES} allowed",
                    a.lines.len()
                ),
            ));
        }
        let town = to_sepa_text(&a.town, MAX_TOWN_CHARS);
        if town.is_empty() {
            // Town and country are the minimum of a structured or hybrid
            // address, the only kinds the EPC accepts from November 2026.
            return Err(refused(at, "creditor address has no town".to_owned()));
        }
        Ok(Self {
            lines: a
                .lines
                .iter()
                .map(|l| to_sepa_text(l, MAX_ADDRESS_LINE_CHARS))
                .filter(|l| !l.is_empty())
                .collect(),
            postcode: a
                .postcode
                .as_deref()
                .map(|p| to_sepa_text(p, MAX_POSTCODE_CHARS))
                .filter(|p| !p.is_empty()),
            town,
            country: a.country,
        })
    }

    /// The two `AdrLine`s of `.03`, which has no room for a hybrid address:
    /// the free lines joined, then `postcode town` (the part a bank needs).
    pub fn v03_lines(&self) -> Vec<String> {
        let street = to_sepa_text(&self.lines.join(", "), MAX_ADDRESS_LINE_CHARS);
        let town = match &self.postcode {
            Some(p) => format!("{p} {}", self.town),
            None => self.town.clone(),
        };
        [street, to_sepa_text(&town, MAX_ADDRESS_LINE_CHARS)]
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect()
    }
}

/// The debtor, checked and transliterated once for the whole file.
pub(super) struct PreparedDebtor {
    pub name: String,
    pub iban: String,
    pub bic: Option<String>,
    pub initiating_party: String,
    pub initiating_party_id: Option<String>,
}

impl PreparedDebtor {
    pub fn new(d: &Debtor, version: PainVersion) -> Result<Self, SepaError> {
        let at = || "debtor".to_owned();
        if let Some(b) = &d.bic {
            check_bic_for_version(&at, "debtor BIC", b.as_str(), version)?;
        }
        if let Some(id) = &d.initiating_party_id {
            check_id(&at, "initiating party id", id)?;
        }
        Ok(Self {
            name: name_text(&at, "debtor name", &d.name)?,
            iban: d.iban.electronic().to_owned(),
            bic: d.bic.as_ref().map(|b| b.as_str().to_owned()),
            initiating_party: name_text(&at, "initiating party name", &d.initiating_party)?,
            initiating_party_id: d.initiating_party_id.clone(),
        })
    }
}

impl GroupHeader {
    pub(super) fn check(&self) -> Result<(), SepaError> {
        let at = || format!("group header {}", clip(&self.msg_id));
        check_id(&at, "MsgId", &self.msg_id)?;
        check_year(&at, "CreDtTm", self.created_at.year())?;
        check_declared(&at, self.nb_of_txs, self.ctrl_sum)
    }
}

impl PaymentInfo {
    pub(super) fn check(&self) -> Result<(), SepaError> {
        let at = || format!("payment information {}", clip(&self.pmt_inf_id));
        check_id(&at, "PmtInfId", &self.pmt_inf_id)?;
        check_year(&at, "ReqdExctnDt", self.execution_date.year())?;
        if let Some(code) = &self.category_purpose {
            let ok = code.len() == 4 && code.bytes().all(|b| b.is_ascii_uppercase());
            if !ok {
                return Err(refused(
                    &at,
                    format!("category purpose {code:?} is not an ISO code (4 capital letters)"),
                ));
            }
        }
        check_declared(&at, self.nb_of_txs, self.ctrl_sum)
    }
}

/// The XSD requires at least one transfer per block; a declared zero sum
/// with transfers is impossible since each is at least 0.01.
fn check_declared(at: &dyn Fn() -> String, nb: u64, sum: Amount) -> Result<(), SepaError> {
    if nb > MAX_NB_OF_TXS {
        return Err(refused(at, format!("NbOfTxs {nb} is over 15 digits")));
    }
    if nb == 0 {
        return Err(refused(
            at,
            "NbOfTxs declared 0: a SEPA file or block needs at least one transfer".to_owned(),
        ));
    }
    if sum.is_zero() {
        return Err(refused(at, "CtrlSum declared 0.00".to_owned()));
    }
    Ok(())
}

/// Keeps `%Y` four digits wide, as `xs:date`/`xs:dateTime` require.
fn check_year(at: &dyn Fn() -> String, field: &str, year: i32) -> Result<(), SepaError> {
    if !(1000..=9999).contains(&year) {
        return Err(refused(at, format!("{field} year {year} is out of range")));
    }
    Ok(())
}

fn check_id(at: &dyn Fn() -> String, field: &'static str, id: &str) -> Result<(), SepaError> {
    check_sepa_id(id).map_err(|reason| SepaError::InvalidId {
        at: at(),
        field,
        value: clip(id),
        reason,
    })
}

fn check_transfer_amount(at: &dyn Fn() -> String, amount: Amount) -> Result<(), SepaError> {
    if !(1..=MAX_TRANSFER_CENTS).contains(&amount.cents()) {
        return Err(refused(
            at,
            format!("amount {amount} EUR is outside 0.01–999999999.99"),
        ));
    }
    Ok(())
}

/// `pain.001.001.03` restricts BICs further than the `Bic` type does
/// (ISO 9362 before 2014: location code not starting with 0 or 1, second
/// location character not `O`). `.09` accepts every `Bic`.
fn check_bic_for_version(
    at: &dyn Fn() -> String,
    what: &str,
    bic: &str,
    version: PainVersion,
) -> Result<(), SepaError> {
    let b = bic.as_bytes();
    let v03_ok = b.len() >= 8
        && (b[6].is_ascii_uppercase() || (b'2'..=b'9').contains(&b[6]))
        && (b[7].is_ascii_digit() || (b[7].is_ascii_uppercase() && b[7] != b'O'));
    if version == PainVersion::V03 && !v03_ok {
        return Err(refused(
            at,
            format!(
                "{what} {bic} is not accepted by pain.001.001.03 (location code); omit it or use pain.001.001.09"
            ),
        ));
    }
    Ok(())
}

/// A name in the SEPA set, cut to 70. The EPC requires a name, so one with
/// no letter or digit left after transliteration (`""`, `".."`) is an error.
fn name_text(at: &dyn Fn() -> String, what: &str, name: &str) -> Result<String, SepaError> {
    let mut text = String::new();
    name_into(at, what, name, &mut text)?;
    Ok(text)
}

/// [`name_text`] into a reused buffer.
fn name_into<'b>(
    at: &dyn Fn() -> String,
    what: &str,
    name: &str,
    text: &'b mut String,
) -> Result<&'b str, SepaError> {
    push_sepa_text(name, MAX_NAME_CHARS, text);
    if !text.bytes().any(|b| b.is_ascii_alphanumeric()) {
        return Err(refused(
            at,
            format!("{what} has no letter or digit in the SEPA character set"),
        ));
    }
    Ok(text)
}

fn remittance_into<'b>(
    at: &dyn Fn() -> String,
    remittance: &str,
    text: &'b mut String,
) -> Result<&'b str, SepaError> {
    // One character of headroom tells "fits" from "was cut".
    push_sepa_text(remittance, MAX_REMITTANCE_CHARS + 1, text);
    if text.is_empty() {
        return Err(refused(at, "remittance information is empty".to_owned()));
    }
    if text.len() > MAX_REMITTANCE_CHARS {
        return Err(refused(
            at,
            format!("remittance information is over {MAX_REMITTANCE_CHARS} characters"),
        ));
    }
    Ok(text)
}

fn refused(at: &dyn Fn() -> String, reason: String) -> SepaError {
    SepaError::Refused { at: at(), reason }
}

/// Bounds what an invalid id can put into an error message.
pub(super) fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}
