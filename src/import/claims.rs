//! claims.csv: streamed in batches into a staging table, so a file of a
//! million claims is validated and loaded in bounded memory.

use csv::ByteRecord;
use sha2::{Digest, Sha256};

use super::csvfile::{CsvFile, Row, Spec};
use super::{ImportError, ImportOutcome, Kind, Problem, Problems, Source};
use crate::calendar::Calendar;
use crate::domain::{
    AdherentId, Amount, ClaimStatus, InvoiceNo, Mode, Origin, PsId, RejectCode, Sensitive,
};
use crate::store::Tx;
use crate::store::claims::StagedClaim;

pub(super) const CLAIMS: Spec = Spec {
    required: &[
        "ps_id",
        "invoice_no",
        "origin",
        "mode",
        "received_at",
        "care_date",
        "adherent_id",
        "beneficiary",
        "billed",
        "amo_paid",
        "amc_due",
        "status",
    ],
    optional: &["reject_code", "reject_label"],
};

/// Rows staged per round trip: large enough to amortise it, small enough to
/// keep memory flat.
const STAGE_BATCH: usize = 10_000;

pub(super) async fn import_claims(
    tx: &mut Tx,
    cal: &Calendar,
    src: &Source<'_>,
) -> Result<ImportOutcome, ImportError> {
    let mut problems = Problems::default();
    let Some(csv) = CsvFile::open(src, &CLAIMS, &mut problems)? else {
        return Err(ImportError::Refused(problems));
    };
    tx.create_claim_stage().await?;
    let Parsed { rows, mut problems } = stage_file(tx, csv, cal.clone(), problems, src).await?;
    if problems.is_empty() {
        for (line, ps_id, invoice_no, first) in
            tx.staged_duplicate_keys(Problems::KEPT as i64).await?
        {
            problems.push(Problem {
                file: src.name.clone(),
                line: line as u64,
                column: "invoice_no".into(),
                message: format!(
                    "duplicate key ({ps_id}, {invoice_no}) in the file: also on line {first}"
                ),
            });
        }
    }
    if !problems.is_empty() {
        return Err(ImportError::Refused(problems));
    }
    crash_point!("import.after_stage");
    let counts = tx.apply_claim_stage(&src.sha256).await?;
    let record = src.record(
        Kind::Claims,
        rows,
        counts.accepted,
        counts.rejected + counts.duplicates,
        counts.ignored,
    );
    tx.record_import(&record).await?;
    Ok(ImportOutcome::Imported {
        record,
        claims: Some(counts),
        bank_details_changed: 0,
    })
}

/// What reading the whole file gave: rows read, and the problems found.
struct Parsed {
    rows: i64,
    problems: Problems,
}

/// Stages the file's valid rows while the next batch is being parsed: the
/// parser runs on a blocking thread, the database on its own, so both cores
/// work (parsing and hashing were a third of a million-claim import, spent
/// while the database waited). At most [`PARSED_AHEAD`] batches wait.
async fn stage_file(
    tx: &mut Tx,
    csv: CsvFile,
    cal: Calendar,
    problems: Problems,
    src: &Source<'_>,
) -> Result<Parsed, ImportError> {
    let (send, mut parsed) = tokio::sync::mpsc::channel(PARSED_AHEAD);
    let parser = tokio::task::spawn_blocking(move || parse_batches(csv, &cal, problems, &send));
    // A staging error returns here; dropping the receiver stops the parser.
    let mut stager = tx.claim_stager().await?;
    while let Some(batch) = parsed.recv().await {
        stager.stage(&batch).await?;
    }
    stager.finish().await?;
    super::parser_result(parser.await, src)
}

/// Batches of parsed rows waiting for the database.
const PARSED_AHEAD: usize = 2;

fn parse_batches(
    mut csv: CsvFile,
    cal: &Calendar,
    mut problems: Problems,
    send: &tokio::sync::mpsc::Sender<Vec<StagedClaim>>,
) -> Result<Parsed, ImportError> {
    let mut batch = Vec::with_capacity(STAGE_BATCH);
    let mut rec = ByteRecord::new();
    while let Some(line) = csv.next(&mut rec, &mut problems)? {
        let mut row = csv.row(line, &rec, &mut problems);
        let Some(claim) = claim_row(&mut row, cal) else {
            continue;
        };
        // Once the file is known to be refused, keep reading only to report.
        if problems.is_empty() {
            batch.push(claim);
            if batch.len() == STAGE_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(STAGE_BATCH));
                if send.blocking_send(full).is_err() {
                    break; // the database side failed, and reports why
                }
            }
        }
    }
    if problems.is_empty() && !batch.is_empty() {
        // An error here is the database side's, reported there.
        let _ = send.blocking_send(batch);
    }
    Ok(Parsed {
        rows: csv.rows,
        problems,
    })
}

/// [`super::validate`] for claims: (rows read, valid rows).
pub(super) fn validate(
    csv: Option<CsvFile>,
    cal: &Calendar,
    problems: &mut Problems,
) -> Result<(i64, usize), ImportError> {
    let Some(mut csv) = csv else {
        return Ok((0, 0));
    };
    let (mut rec, mut valid) = (ByteRecord::new(), 0);
    while let Some(line) = csv.next(&mut rec, problems)? {
        let mut row = csv.row(line, &rec, problems);
        valid += usize::from(claim_row(&mut row, cal).is_some());
    }
    Ok((csv.rows, valid))
}

fn claim_row(r: &mut Row<'_>, cal: &Calendar) -> Option<StagedClaim> {
    let ps_id = r.req::<PsId>("ps_id");
    let invoice_no = r.req::<InvoiceNo>("invoice_no");
    let origin = r.req::<Origin>("origin");
    let mode = r.req::<Mode>("mode");
    let received_at = r.timestamp("received_at");
    let care_date = r.date("care_date");
    let adherent_id = r.req::<AdherentId>("adherent_id");
    let beneficiary = r.text("beneficiary", 140);
    let billed = r.req::<Amount>("billed");
    let amo_paid = r.req::<Amount>("amo_paid");
    let amc_due = r.req::<Amount>("amc_due");
    let status = r.req::<ClaimStatus>("status");
    let reject = reject(r, status);
    let received_date = received_at.map(|t| cal.received_local_date(t));
    let claim = StagedClaim {
        line: r.line as i64,
        ps_id: ps_id?,
        invoice_no: invoice_no?,
        origin: origin?,
        mode: mode?,
        received_at: received_at?.to_rfc3339(),
        received_date: received_date?,
        deadline: cal.deadline(received_date?),
        care_date: care_date?,
        adherent_id: adherent_id?,
        beneficiary: Sensitive::new(beneficiary?),
        billed: billed?,
        amo_paid: amo_paid?,
        amc_due: amc_due?,
        status: status?,
        reject: reject.ok()?,
        content_sha256: String::new(),
    };
    r.ok.then(|| with_content_hash(claim))
}

/// `reject_code` and `reject_label` are present exactly when rejected.
fn reject(
    r: &mut Row<'_>,
    status: Option<ClaimStatus>,
) -> Result<Option<(RejectCode, String)>, ()> {
    let code = r.opt::<RejectCode>("reject_code");
    let label = r.opt_text("reject_label", 140);
    match (status, code?, label?) {
        (Some(ClaimStatus::Rejected), Some(c), Some(l)) => Ok(Some((c, l))),
        (Some(ClaimStatus::Rejected), code, _) => {
            let col = if code.is_none() {
                "reject_code"
            } else {
                "reject_label"
            };
            r.problem(col, "required when status is rejected");
            Err(())
        }
        (Some(ClaimStatus::Accepted), None, None) => Ok(None),
        (Some(ClaimStatus::Accepted), code, _) => {
            let col = if code.is_some() {
                "reject_code"
            } else {
                "reject_label"
            };
            r.problem(col, "must be empty when status is accepted");
            Err(())
        }
        (None, _, _) => Err(()),
    }
}

/// Hash of the claim's normalised content: an identical re-send hashes the
/// same even if the sender wrote `30.0` instead of `30.00`.
fn with_content_hash(mut c: StagedClaim) -> StagedClaim {
    let (code, label) = c
        .reject
        .as_ref()
        .map(|(c, l)| (c.as_str(), l.as_str()))
        .unzip();
    let fields = [
        c.ps_id.as_str(),
        &c.invoice_no.to_string(),
        c.origin.as_str(),
        c.mode.as_str(),
        &c.received_at,
        &c.care_date.to_string(),
        c.adherent_id.as_str(),
        c.beneficiary.expose(),
        &c.billed.cents().to_string(),
        &c.amo_paid.cents().to_string(),
        &c.amc_due.cents().to_string(),
        c.status.as_str(),
        code.unwrap_or(""),
        label.unwrap_or(""),
    ];
    let mut h = Sha256::new();
    for f in fields {
        h.update(f.as_bytes());
        h.update([0x1f]);
    }
    c.content_sha256 = hex::encode(h.finalize());
    c
}
