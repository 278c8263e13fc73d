//! practitioners.csv and adherents.csv.

use std::collections::HashMap;

use chrono::NaiveDate;
use csv::ByteRecord;

use super::csvfile::{CsvFile, Row, Spec};
use super::{ImportError, ImportOutcome, Kind, Problems, Source};
use crate::domain::{AdherentId, Bic, CountryCode, Iban, PayeeKind, PsId};
use crate::store::Tx;
use crate::store::parties::{AdherentRow, BankRow, PractitionerRow};

const NAME_MAX: usize = 140;
const ADDRESS_MAX: usize = 140;

const PRACTITIONERS: Spec = Spec {
    required: &[
        "ps_id",
        "name",
        "profession",
        "address_line",
        "postcode",
        "city",
        "flux_agreement_from",
    ],
    optional: &[
        "rpps",
        "country",
        "email",
        "tp_agreement_from",
        "iban",
        "bic",
        "account_holder",
        "bank_valid_from",
    ],
};

const ADHERENTS: Spec = Spec {
    required: &["adherent_id", "name", "centre"],
    optional: &[
        "iban",
        "bic",
        "account_holder",
        "bank_valid_from",
        "address_line",
        "postcode",
        "city",
        "country",
    ],
};

pub(super) async fn import_practitioners(
    tx: &mut Tx,
    src: &Source<'_>,
) -> Result<ImportOutcome, ImportError> {
    let mut problems = Problems::default();
    let (rows, banks, read) = read_all(src, &PRACTITIONERS, &mut problems, practitioner_row)?;
    if !problems.is_empty() {
        return Err(ImportError::Refused(problems));
    }
    tx.upsert_practitioners(&rows, &src.sha256).await?;
    finish(tx, src, Kind::Practitioners, &banks, read, rows.len()).await
}

pub(super) async fn import_adherents(
    tx: &mut Tx,
    src: &Source<'_>,
) -> Result<ImportOutcome, ImportError> {
    let mut problems = Problems::default();
    let (rows, banks, read) = read_all(src, &ADHERENTS, &mut problems, adherent_row)?;
    if !problems.is_empty() {
        return Err(ImportError::Refused(problems));
    }
    tx.upsert_adherents(&rows, &src.sha256).await?;
    finish(tx, src, Kind::Adherents, &banks, read, rows.len()).await
}

async fn finish(
    tx: &mut Tx,
    src: &Source<'_>,
    kind: Kind,
    banks: &[BankRow],
    read: i64,
    accepted: usize,
) -> Result<ImportOutcome, ImportError> {
    let bank_details_changed = tx.upsert_bank_details(banks, &src.sha256).await?;
    let record = src.record(kind, read, accepted as i64, 0, 0);
    tx.record_import(&record).await?;
    Ok(ImportOutcome::Imported {
        record,
        claims: None,
        bank_details_changed,
    })
}

/// A validated row: its key (for the in-file duplicate check), the party,
/// and its bank details if any.
type Parsed<T> = (String, T, Option<BankRow>);

/// Reads every row; parties files are small enough (tens of thousands of
/// practitioners, a few hundred thousand members) to validate in memory.
fn read_all<T>(
    src: &Source<'_>,
    spec: &Spec,
    problems: &mut Problems,
    parse: fn(&mut Row<'_>) -> Option<Parsed<T>>,
) -> Result<(Vec<T>, Vec<BankRow>, i64), ImportError> {
    let Some(csv) = CsvFile::open(src, spec, problems)? else {
        return Ok((Vec::new(), Vec::new(), 0));
    };
    read_rows(csv, spec, problems, parse)
}

fn read_rows<T>(
    mut csv: CsvFile,
    spec: &Spec,
    problems: &mut Problems,
    parse: fn(&mut Row<'_>) -> Option<Parsed<T>>,
) -> Result<(Vec<T>, Vec<BankRow>, i64), ImportError> {
    let (mut rows, mut banks) = (Vec::new(), Vec::new());
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut rec = ByteRecord::new();
    while let Some(line) = csv.next(&mut rec, problems)? {
        let mut row = csv.row(line, &rec, problems);
        let Some((key, party, bank)) = parse(&mut row) else {
            continue;
        };
        if let Some(first) = seen.insert(key.clone(), line) {
            row.problem(
                spec.required[0],
                format!("duplicate key {key:?}: also on line {first}"),
            );
            continue;
        }
        rows.push(party);
        banks.extend(bank);
    }
    Ok((rows, banks, csv.rows))
}

/// [`super::validate`] for practitioners and adherents: (rows read, valid rows).
pub(super) fn validate(
    kind: Kind,
    csv: Option<CsvFile>,
    problems: &mut Problems,
) -> Result<(i64, usize), ImportError> {
    let Some(csv) = csv else { return Ok((0, 0)) };
    let spec = spec(kind);
    Ok(match kind {
        Kind::Practitioners => {
            let (rows, _, read) = read_rows(csv, spec, problems, practitioner_row)?;
            (read, rows.len())
        }
        _ => {
            let (rows, _, read) = read_rows(csv, spec, problems, adherent_row)?;
            (read, rows.len())
        }
    })
}

pub(super) fn spec(kind: Kind) -> &'static Spec {
    match kind {
        Kind::Practitioners => &PRACTITIONERS,
        _ => &ADHERENTS,
    }
}

fn practitioner_row(r: &mut Row<'_>) -> Option<Parsed<PractitionerRow>> {
    let ps_id = r.req::<PsId>("ps_id");
    let rpps = r.opt_text("rpps", 11);
    if let Ok(Some(n)) = &rpps
        && (n.len() != 11 || !n.bytes().all(|b| b.is_ascii_digit()))
    {
        r.problem("rpps", "not an RPPS number (expected 11 digits)");
    }
    let name = r.text("name", NAME_MAX);
    let profession = r.text("profession", NAME_MAX);
    let address = postal(r, true);
    let email = r.opt_text("email", 254);
    if let Ok(Some(e)) = &email
        && !e.contains('@')
    {
        r.problem("email", "not an e-mail address");
    }
    let flux = r.date("flux_agreement_from");
    let tp = r.opt_date("tp_agreement_from");
    let bank = bank_details(
        r,
        PayeeKind::Practitioner,
        ps_id.as_ref().map(|p| p.to_string()),
        name.as_deref(),
    );
    let (ps_id, name, profession, (address_line, postcode, city, country), flux) =
        (ps_id?, name?, profession?, address?, flux?);
    let row = PractitionerRow {
        ps_id: ps_id.clone(),
        rpps: rpps.ok()?,
        name,
        profession,
        address_line: address_line?,
        postcode: postcode?,
        city: city?,
        country: country.unwrap_or(CountryCode::FR),
        email: email.ok()?,
        flux_agreement_from: flux,
        tp_agreement_from: tp.ok()?,
    };
    let bank = bank.ok()?;
    r.ok.then(|| (ps_id.to_string(), row, bank))
}

fn adherent_row(r: &mut Row<'_>) -> Option<Parsed<AdherentRow>> {
    let id = r.req::<AdherentId>("adherent_id");
    let name = r.text("name", NAME_MAX);
    let centre = r.text("centre", 20);
    let address = postal(r, false);
    let bank = bank_details(
        r,
        PayeeKind::Adherent,
        id.as_ref().map(|i| i.to_string()),
        name.as_deref(),
    );
    let (id, name, centre, (address_line, postcode, city, country)) =
        (id?, name?, centre?, address?);
    let row = AdherentRow {
        adherent_id: id.clone(),
        name,
        centre,
        address_line,
        postcode,
        city,
        country,
    };
    let bank = bank.ok()?;
    r.ok.then(|| (id.to_string(), row, bank))
}

type Postal = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<CountryCode>,
);

/// Address columns; `required` for practitioners, whose statements are mailed.
fn postal(r: &mut Row<'_>, required: bool) -> Option<Postal> {
    let mut field = |col, max| {
        if required {
            Ok(r.text(col, max))
        } else {
            r.opt_text(col, max)
        }
    };
    let line = field("address_line", ADDRESS_MAX);
    let postcode = field("postcode", 10);
    let city = field("city", 70);
    let country = r.opt::<CountryCode>("country");
    Some((line.ok()?, postcode.ok()?, city.ok()?, country.ok()?))
}

/// The optional bank columns: all or nothing around `iban`.
fn bank_details(
    r: &mut Row<'_>,
    kind: PayeeKind,
    holder_id: Option<String>,
    name: Option<&str>,
) -> Result<Option<BankRow>, ()> {
    let iban = r.opt::<Iban>("iban");
    let bic = r.opt::<Bic>("bic");
    let holder = r.opt_text("account_holder", NAME_MAX);
    let from: Result<Option<NaiveDate>, ()> = r.opt_date("bank_valid_from");
    let (iban, bic, holder, from) = (iban?, bic?, holder?, from?);
    match (iban, from) {
        (None, None) => {
            if bic.is_some() || holder.is_some() {
                r.problem("iban", "bank details without an IBAN");
                return Err(());
            }
            Ok(None)
        }
        (Some(_), None) => {
            r.problem("bank_valid_from", "required with an IBAN");
            Err(())
        }
        (None, Some(_)) => {
            r.problem("iban", "bank_valid_from given without an IBAN");
            Err(())
        }
        (Some(iban), Some(valid_from)) => {
            let (Some(holder_id), Some(name)) = (holder_id, name) else {
                return Err(());
            };
            let account_holder = holder.unwrap_or_else(|| name.to_owned());
            Ok(Some(BankRow {
                holder_kind: kind,
                holder_id,
                valid_from,
                iban,
                bic,
                account_holder,
            }))
        }
    }
}
