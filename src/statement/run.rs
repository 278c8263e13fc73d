//! A settlement run's statements: read from the database, rendered in
//! parallel, written through [`crate::output`] (temporary name, SHA-256),
//! and added up for the run's checks before anything is published.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::batch::{manifest_csv, print_order};
use super::letter::{Letter, PaidRow, RejectedRow, Sender};
use super::render::{RenderError, render};
use super::template::{Template, builtin};
use super::{DIR, LETTERS_PER_VOLUME, batch_volume};
use crate::output::{self, OutputError, StagedFile};
use crate::store::runs::Run;
use crate::store::statements::{StatementHead, StatementPaid, StatementRejected};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// The statements of a run, written under their temporary names.
#[derive(Debug, Default)]
pub struct Statements {
    /// `statements/<ps_id>.pdf` by `ps_id`, then the print batch PDF and CSV.
    pub files: Vec<StagedFile>,
    pub letters: usize,
    /// Pages of the print batch (= sum of the letters' pages).
    pub pages: usize,
    /// Per letter: (`ps_id`, claims listed, total printed in cents).
    pub printed: Vec<(String, i64, i64)>,
    /// Per letter, from the database (SQL aggregates, not the rows the
    /// letter printed): (`ps_id`, NOEMIE claims of the transfer, NOEMIE
    /// part of the transfer in cents).
    pub expected: Vec<(String, i64, i64)>,
}

impl Statements {
    /// Why the statements disagree with the database, if they do.
    pub fn mismatch(&self) -> Option<String> {
        for (p, e) in self.printed.iter().zip(&self.expected) {
            if p != e {
                return Some(format!(
                    "statement of {} lists {} claims for {} cents, the transfer's Noémie part is {} claims for {} cents",
                    p.0, p.1, p.2, e.1, e.2
                ));
            }
        }
        if self.printed.len() != self.expected.len() {
            return Some(format!(
                "{} statements for {} practitioner payments with Noémie claims",
                self.printed.len(),
                self.expected.len()
            ));
        }
        None
    }
}

/// Writes the statements of `run` under `run_dir`. Nothing is written when
/// no practitioner was paid for a Noémie-origin claim.
pub async fn write_run(
    store: &Store,
    sender: Sender,
    run: &Run,
    run_dir: &Path,
) -> Result<Statements, StatementError> {
    let started = Instant::now();
    let heads = store.statement_heads(&run.run_id).await?;
    let expected = heads
        .iter()
        .map(|h| (h.ps_id.clone(), h.noemie_claims, h.noemie_cents))
        .collect();
    let mut letters = heads
        .iter()
        .map(|h| letter(h, run))
        .collect::<Result<Vec<_>, _>>()?;
    load_rows(store, run, &mut letters).await?;
    let printed = letters
        .iter()
        .map(|l| {
            (
                l.ps_id.clone(),
                l.paid.len() as i64,
                l.totals().amc_paid_cents,
            )
        })
        .collect();
    let mut out = Statements {
        letters: letters.len(),
        printed,
        expected,
        ..Statements::default()
    };
    let read_ms = started.elapsed().as_millis() as u64;
    if letters.is_empty() {
        return Ok(out);
    }
    let dir = run_dir.to_path_buf();
    let (files, pages) =
        tokio::task::spawn_blocking(move || render_all(builtin(), &sender, &letters, &dir))
            .await
            .map_err(|e| RenderError(format!("rendering task failed: {e}")))??;
    out.files = files;
    out.pages = pages;
    tracing::info!(
        statements = out.letters,
        pages,
        read_ms,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "statements written"
    );
    Ok(out)
}

fn letter(h: &StatementHead, run: &Run) -> Result<Letter, StoreError> {
    // The ps_id names a file: it must be what the schema promises.
    if h.ps_id.len() != 9 || !h.ps_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(StoreError::Corrupt(format!(
            "practitioner id {:?} cannot name a statement file",
            h.ps_id
        )));
    }
    Ok(Letter {
        ps_id: h.ps_id.clone(),
        name: h.name.clone(),
        address_line: h.address_line.clone(),
        postcode: h.postcode.clone(),
        city: h.city.clone(),
        country: h.country.clone(),
        reference: h.reference.clone(),
        date: run.business_date,
        execution_date: run.execution_date,
        iban: h.iban.clone(),
        account_holder: h.account_holder.clone(),
        transfer_cents: h.amount_cents,
        paid: Vec::new(),
        rejected: Vec::new(),
    })
}

/// Fills the letters (sorted by `ps_id`) from the two ordered streams.
async fn load_rows(store: &Store, run: &Run, letters: &mut [Letter]) -> Result<(), StoreError> {
    let find = |letters: &[Letter], ps_id: &str| {
        letters
            .binary_search_by(|l| l.ps_id.as_str().cmp(ps_id))
            .map_err(|_| StoreError::Corrupt(format!("statement line of unknown letter {ps_id}")))
    };
    store
        .stream_statement_paid(&run.run_id, |r: StatementPaid| -> Result<(), StoreError> {
            let i = find(letters, &r.ps_id)?;
            letters[i].paid.push(PaidRow {
                invoice_no: r.invoice_no,
                care_date: r.care_date,
                beneficiary: r.beneficiary,
                billed_cents: r.billed_cents,
                amo_paid_cents: r.amo_paid_cents,
                amc_paid_cents: r.paid_cents,
            });
            Ok(())
        })
        .await?;
    store
        .stream_statement_rejected(
            &run.run_id,
            run.business_date,
            crate::store::claims::rule_label("R03"),
            |r: StatementRejected| -> Result<(), StoreError> {
                // Rejections of a practitioner paid for DRE claims only wait
                // for its first letter.
                let Ok(i) = find(letters, &r.ps_id) else {
                    return Ok(());
                };
                letters[i].rejected.push(RejectedRow {
                    invoice_no: r.invoice_no,
                    care_date: r.care_date,
                    beneficiary: r.beneficiary,
                    requested_cents: r.requested_cents,
                    code: r.code,
                    label: r.label,
                });
                Ok(())
            },
        )
        .await
}

/// Renders every letter to its own file on worker threads while one more
/// thread renders the print batch (the same letters, in postcode order, in
/// volumes of [`LETTERS_PER_VOLUME`]). Returns the staged files (letters
/// in `letters` order, then each volume's PDF and CSV) and the total pages.
pub fn render_all(
    t: &Template,
    sender: &Sender,
    letters: &[Letter],
    run_dir: &Path,
) -> Result<(Vec<StagedFile>, usize), StatementError> {
    render_all_in_volumes(t, sender, letters, run_dir, LETTERS_PER_VOLUME)
}

/// [`render_all`] with `per_volume` letters a print-batch volume.
pub fn render_all_in_volumes(
    t: &Template,
    sender: &Sender,
    letters: &[Letter],
    run_dir: &Path,
    per_volume: usize,
) -> Result<(Vec<StagedFile>, usize), StatementError> {
    // The single letters cost more than the batch (each embeds its own
    // fonts), so they get a thread per core; the batch thread shares them.
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let next = AtomicUsize::new(0);
    let (batch, singles) = std::thread::scope(|scope| {
        let batch = scope.spawn(|| write_batch(t, sender, letters, run_dir, per_volume));
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= letters.len() {
                            break;
                        }
                        done.push((i, write_single(t, sender, &letters[i], run_dir)));
                    }
                    done
                })
            })
            .collect();
        let singles: Vec<_> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("statement worker panicked"))
            .collect();
        (batch.join().expect("print batch worker panicked"), singles)
    });
    let mut singles = singles;
    singles.sort_by_key(|(i, _)| *i);
    let mut files = Vec::with_capacity(letters.len() + 2);
    let mut first_error = None;
    let mut single_pages = vec![0; letters.len()];
    for (i, r) in singles {
        match r {
            Ok((f, pages)) => {
                single_pages[i] = pages;
                files.push(f);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let (batch_files, batch_pages) = match batch {
        Ok(b) => b,
        Err(e) => {
            first_error.get_or_insert(e);
            (Vec::new(), Vec::new())
        }
    };
    files.extend(batch_files);
    if first_error.is_none() && batch_pages != single_pages {
        first_error =
            Some(RenderError("print batch and letters disagree on page counts".into()).into());
    }
    if let Some(e) = first_error {
        files.into_iter().for_each(StagedFile::discard);
        return Err(e);
    }
    Ok((files, single_pages.iter().sum()))
}

fn write_single(
    t: &Template,
    sender: &Sender,
    letter: &Letter,
    run_dir: &Path,
) -> Result<(StagedFile, usize), StatementError> {
    let (bytes, pages) = render(t, sender, &[letter])?;
    let f = write_file(run_dir, &format!("{DIR}/{}.pdf", letter.ps_id), &bytes)?;
    Ok((f, pages[0]))
}

/// The print batch, volume after volume (one in memory at a time); returns
/// the page count of each letter (in `letters` order, for the cross-check
/// with the single letters).
fn write_batch(
    t: &Template,
    sender: &Sender,
    letters: &[Letter],
    run_dir: &Path,
    per_volume: usize,
) -> Result<(Vec<StagedFile>, Vec<usize>), StatementError> {
    let order = print_order(letters);
    let mut files = Vec::new();
    let mut by_letter = vec![0; letters.len()];
    for (n, volume) in order.chunks(per_volume.max(1)).enumerate() {
        match write_volume(t, sender, letters, volume, n + 1, run_dir) {
            Ok((staged, pages)) => {
                files.extend(staged);
                for (&i, p) in volume.iter().zip(pages) {
                    by_letter[i] = p;
                }
            }
            Err(e) => {
                files.into_iter().for_each(StagedFile::discard);
                return Err(e);
            }
        }
    }
    Ok((files, by_letter))
}

/// One volume's PDF and CSV; returns the pages of its letters, in its order.
fn write_volume(
    t: &Template,
    sender: &Sender,
    letters: &[Letter],
    volume: &[usize],
    number: usize,
    run_dir: &Path,
) -> Result<(Vec<StagedFile>, Vec<usize>), StatementError> {
    let ordered: Vec<&Letter> = volume.iter().map(|&i| &letters[i]).collect();
    let (bytes, pages) = render(t, sender, &ordered)?;
    let pdf = write_file(run_dir, &batch_volume(number, "pdf"), &bytes)?;
    drop(bytes);
    let csv = write_file(
        run_dir,
        &batch_volume(number, "csv"),
        &manifest_csv(&ordered, &pages),
    );
    match csv {
        Ok(csv) => Ok((vec![pdf, csv], pages)),
        Err(e) => {
            pdf.discard();
            Err(e)
        }
    }
}

fn write_file(run_dir: &Path, rel: &str, bytes: &[u8]) -> Result<StagedFile, StatementError> {
    Ok(output::write_whole(run_dir, rel, bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(printed: i64) -> Statements {
        Statements {
            printed: vec![("100000001".into(), 2, printed)],
            expected: vec![("100000001".into(), 2, 6550)],
            ..Statements::default()
        }
    }

    #[test]
    fn a_letter_that_disagrees_with_the_database_is_a_mismatch() {
        assert_eq!(statements(6550).mismatch(), None);
        let m = statements(6549).mismatch().unwrap();
        assert!(m.contains("100000001") && m.contains("6549"), "{m}");
        let mut missing = statements(6550);
        missing.expected.push(("100000002".into(), 1, 100));
        assert!(missing.mismatch().is_some(), "a letter not written");
    }
}
