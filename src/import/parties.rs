//! practitioners.csv and adherents.csv.

use std::collections::HashMap;

use chrono::NaiveDate;
use csv::ByteRecord;

use super::csvfile::{CsvFile, Row, Spec};
use super::{ImportError, ImportOutcome, Kind, Problems, Source};
use crate::domain::{AdherentId, Bic, CountryCode, Iban, PayeeKind, PsId};
use crate::store::parties::{
    ADHERENTS_PER_STATEMENT, AdherentRow, BankRow, PRACTITIONERS_PER_STATEMENT, PractitionerRow,
};
use crate::store::{StoreError, Tx};

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
    import_parties::<PractitionerRow>(tx, src).await
}

pub(super) async fn import_adherents(
    tx: &mut Tx,
    src: &Source<'_>,
) -> Result<ImportOutcome, ImportError> {
    import_parties::<AdherentRow>(tx, src).await
}

/// A row type of a parties file, and how it reaches the database.
trait Party: Send + Sized + 'static {
    const KIND: Kind;
    const SPEC: &'static Spec;
    /// Rows handed to the database at a time: one upsert statement.
    const BATCH: usize;
    fn parse(r: &mut Row<'_>) -> Option<Parsed<Self>>;
    async fn upsert(tx: &mut Tx, rows: &[Self], sha: &str) -> Result<(), StoreError>;
}

impl Party for PractitionerRow {
    const KIND: Kind = Kind::Practitioners;
    const SPEC: &'static Spec = &PRACTITIONERS;
    const BATCH: usize = PRACTITIONERS_PER_STATEMENT;
    fn parse(r: &mut Row<'_>) -> Option<Parsed<Self>> {
        practitioner_row(r)
    }
    async fn upsert(tx: &mut Tx, rows: &[Self], sha: &str) -> Result<(), StoreError> {
        tx.upsert_practitioners(rows, sha).await
    }
}

impl Party for AdherentRow {
    const KIND: Kind = Kind::Adherents;
    const SPEC: &'static Spec = &ADHERENTS;
    const BATCH: usize = ADHERENTS_PER_STATEMENT;
    fn parse(r: &mut Row<'_>) -> Option<Parsed<Self>> {
        adherent_row(r)
    }
    async fn upsert(tx: &mut Tx, rows: &[Self], sha: &str) -> Result<(), StoreError> {
        tx.upsert_adherents(rows, sha).await
    }
}

/// Streams the file into the database in batches while the parser reads
/// ahead on a blocking thread, like the claims import: memory holds a few
/// batches and the keys seen so far, not the file (2,500,000 members held
/// whole took 1.5 GB). All or nothing still: the caller's transaction is
/// rolled back when a problem is found, however many batches went in.
async fn import_parties<P: Party>(
    tx: &mut Tx,
    src: &Source<'_>,
) -> Result<ImportOutcome, ImportError> {
    let mut problems = Problems::default();
    let Some(csv) = CsvFile::open(src, P::SPEC, &mut problems)? else {
        return Err(ImportError::Refused(problems));
    };
    let (send, mut parsed) = tokio::sync::mpsc::channel(PARSED_AHEAD);
    let parser = tokio::task::spawn_blocking(move || parse_batches::<P>(csv, problems, &send));
    let (mut accepted, mut bank_details_changed) = (0, 0);
    // A database error returns here; dropping the receiver stops the parser.
    while let Some(batch) = parsed.recv().await {
        P::upsert(tx, &batch.parties, &src.sha256).await?;
        bank_details_changed += tx.upsert_bank_details(&batch.banks, &src.sha256).await?;
        accepted += batch.parties.len();
    }
    let (read, problems) = super::parser_result(parser.await, src)?;
    if !problems.is_empty() {
        return Err(ImportError::Refused(problems));
    }
    let record = src.record(P::KIND, read, accepted as i64, 0, 0);
    tx.record_import(&record).await?;
    Ok(ImportOutcome::Imported {
        record,
        claims: None,
        bank_details_changed,
    })
}

/// Batches of parsed rows waiting for the database.
const PARSED_AHEAD: usize = 2;

/// Valid rows of a parties file, in file order, with their bank details.
struct Batch<T> {
    parties: Vec<T>,
    banks: Vec<BankRow>,
}

impl<T> Batch<T> {
    fn with_capacity(n: usize) -> Self {
        Self {
            parties: Vec::with_capacity(n),
            banks: Vec::with_capacity(n),
        }
    }
}

/// A validated row: its key (for the in-file duplicate check), the party,
/// and its bank details if any.
type Parsed<T> = (String, T, Option<BankRow>);

/// Reads the whole file, sending full batches while it has no problem;
/// returns the rows read and the problems found.
fn parse_batches<P: Party>(
    mut csv: CsvFile,
    mut problems: Problems,
    send: &tokio::sync::mpsc::Sender<Batch<P>>,
) -> Result<(i64, Problems), ImportError> {
    let mut batch = Batch::with_capacity(P::BATCH);
    let mut keys = Keys::default();
    let mut rec = ByteRecord::new();
    while let Some(line) = csv.next(&mut rec, &mut problems)? {
        let mut row = csv.row(line, &rec, &mut problems);
        let Some((party, bank)) = keys.first_of(P::SPEC, &mut row, P::parse) else {
            continue;
        };
        // Once the file is known to be refused, keep reading only to report.
        if problems.is_empty() {
            batch.parties.push(party);
            batch.banks.extend(bank);
            if batch.parties.len() == P::BATCH {
                let full = std::mem::replace(&mut batch, Batch::with_capacity(P::BATCH));
                if send.blocking_send(full).is_err() {
                    break; // the database side failed, and reports why
                }
            }
        }
    }
    if problems.is_empty() && !batch.parties.is_empty() {
        // An error here is the database side's, reported there.
        let _ = send.blocking_send(batch);
    }
    Ok((csv.rows, problems))
}

/// The keys of a file's valid rows so far, with their line: a key twice in
/// a file is a problem of the second line. (The one structure that grows
/// with the file: ~60 bytes a key.)
#[derive(Default)]
struct Keys(HashMap<Box<str>, u64>);

impl Keys {
    /// Parses `row`; its party and bank details if it is valid and its key
    /// is new.
    fn first_of<T>(
        &mut self,
        spec: &Spec,
        row: &mut Row<'_>,
        parse: fn(&mut Row<'_>) -> Option<Parsed<T>>,
    ) -> Option<(T, Option<BankRow>)> {
        let (key, party, bank) = parse(row)?;
        if let Some(first) = self.0.insert(key.clone().into_boxed_str(), row.line) {
            row.problem(
                spec.required[0],
                format!("duplicate key {key:?}: also on line {first}"),
            );
            return None;
        }
        Some((party, bank))
    }
}

/// [`super::validate`] for practitioners and adherents: (rows read, valid rows).
pub(super) fn validate(
    kind: Kind,
    csv: Option<CsvFile>,
    problems: &mut Problems,
) -> Result<(i64, usize), ImportError> {
    let Some(csv) = csv else { return Ok((0, 0)) };
    match kind {
        Kind::Practitioners => count_valid::<PractitionerRow>(csv, problems),
        _ => count_valid::<AdherentRow>(csv, problems),
    }
}

fn count_valid<P: Party>(
    mut csv: CsvFile,
    problems: &mut Problems,
) -> Result<(i64, usize), ImportError> {
    let (mut keys, mut rec, mut valid) = (Keys::default(), ByteRecord::new(), 0);
    while let Some(line) = csv.next(&mut rec, problems)? {
        let mut row = csv.row(line, &rec, problems);
        valid += usize::from(keys.first_of(P::SPEC, &mut row, P::parse).is_some());
    }
    Ok((csv.rows, valid))
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
