//! A settlement run's statements: read from the database, rendered in
//! parallel, written through [`crate::output`] (temporary name, SHA-256),
//! and added up for the run's checks before anything is published.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::batch::{manifest_csv, print_order, print_order_by};
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
    write_run_in_volumes(store, sender, run, run_dir, LETTERS_PER_VOLUME).await
}

/// [`write_run`] with `per_volume` letters a print-batch volume. Only who
/// gets a letter (`ps_id`, postcode) is held for the whole run; a volume's
/// letters, heads and lines, are read from the database while the volume
/// before is rendered, so memory follows the volume and not the day (a
/// national day has 300,000 letters).
pub async fn write_run_in_volumes(
    store: &Store,
    sender: Sender,
    run: &Run,
    run_dir: &Path,
    per_volume: usize,
) -> Result<Statements, StatementError> {
    let started = Instant::now();
    let mut keys = store.statement_keys(&run.run_id).await?;
    // By `ps_id`: the letters' files come in this order (the manifest's).
    keys.sort_unstable();
    let mut out = Statements {
        letters: keys.len(),
        ..Statements::default()
    };
    if keys.is_empty() {
        return Ok(out);
    }
    let mut done = Rendered::new(keys.len());
    let volumes = Volumes {
        store,
        sender,
        run,
        run_dir,
        keys: &keys,
    };
    if let Err(e) = volumes.render(per_volume, &mut done).await {
        done.discard();
        return Err(e);
    }
    let with_id = |v: &[(i64, i64)]| -> Vec<(String, i64, i64)> {
        keys.iter()
            .zip(v)
            .map(|((ps_id, _), &(claims, cents))| (ps_id.clone(), claims, cents))
            .collect()
    };
    out.printed = with_id(&done.printed);
    out.expected = with_id(&done.expected);
    (out.files, out.pages) = done.into_files();
    tracing::info!(
        statements = out.letters,
        pages = out.pages,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "statements written"
    );
    Ok(out)
}

/// Everything a run's volumes are read and rendered from.
struct Volumes<'a> {
    store: &'a Store,
    sender: Sender,
    run: &'a Run,
    run_dir: &'a Path,
    /// Who gets a letter: (`ps_id`, postcode), by `ps_id`.
    keys: &'a [(String, String)],
}

type Rendering = tokio::task::JoinHandle<Result<RenderedVolume, StatementError>>;

impl Volumes<'_> {
    /// Reads volume n+1 while volume n renders on a blocking thread.
    async fn render(&self, per_volume: usize, done: &mut Rendered) -> Result<(), StatementError> {
        let order = print_order_by(self.keys, |(ps_id, postcode)| {
            (postcode.as_str(), ps_id.as_str())
        });
        let mut rendering: Option<(&[usize], Rendering)> = None;
        for (n, volume) in order.chunks(per_volume.max(1)).enumerate() {
            let loaded = self.load(volume).await;
            // The volume before is collected first, so that its files are
            // the caller's to discard whatever happens next.
            if let Some((v, r)) = rendering.take() {
                done.add(v, joined(r).await?);
            }
            let (loaded, expected) = loaded?;
            for ((&i, l), e) in volume.iter().zip(&loaded).zip(expected) {
                done.printed[i] = (l.paid.len() as i64, l.totals().amc_paid_cents);
                done.expected[i] = e;
            }
            let (sender, dir) = (self.sender.clone(), self.run_dir.to_path_buf());
            let r = tokio::task::spawn_blocking(move || {
                let refs: Vec<&Letter> = loaded.iter().collect();
                render_volume(builtin(), &sender, &refs, n + 1, &dir)
            });
            rendering = Some((volume, r));
        }
        if let Some((v, r)) = rendering {
            done.add(v, joined(r).await?);
        }
        Ok(())
    }

    /// The letters `volume` (indices of `keys`, in print order) with their
    /// lines, and what the database adds up for each: (NOEMIE claims of
    /// the transfer, NOEMIE part in cents).
    async fn load(&self, volume: &[usize]) -> Result<(Vec<Letter>, Vec<(i64, i64)>), StoreError> {
        let at: HashMap<&str, usize> = volume
            .iter()
            .enumerate()
            .map(|(k, &i)| (self.keys[i].0.as_str(), k))
            .collect();
        let find = |ps_id: &str| {
            at.get(ps_id).copied().ok_or_else(|| {
                StoreError::Corrupt(format!("statement line of unknown letter {ps_id}"))
            })
        };
        let ids: Vec<&str> = at.keys().copied().collect();
        let (mut loaded, expected) = self.heads(volume, &ids, find).await?;
        self.lines(&ids, &mut loaded, find).await?;
        Ok((loaded, expected))
    }

    /// The volume's letters without lines, in the volume's order (`find`
    /// gives a `ps_id`'s place in it), and their expected figures.
    async fn heads(
        &self,
        volume: &[usize],
        ids: &[&str],
        find: impl Fn(&str) -> Result<usize, StoreError>,
    ) -> Result<(Vec<Letter>, Vec<(i64, i64)>), StoreError> {
        let mut slots: Vec<Option<(Letter, (i64, i64))>> =
            (0..volume.len()).map(|_| None).collect();
        for h in self.store.statement_heads(&self.run.run_id, ids).await? {
            let k = find(&h.ps_id)?;
            let expected = (h.noemie_claims, h.noemie_cents);
            slots[k] = Some((letter(h, self.run)?, expected));
        }
        let heads = slots
            .into_iter()
            .zip(volume)
            .map(|(slot, &i)| {
                slot.ok_or_else(|| {
                    StoreError::Corrupt(format!("no statement head for {}", self.keys[i].0))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(heads.into_iter().unzip())
    }

    /// Fills the letters with their paid claims and rejections.
    async fn lines(
        &self,
        ids: &[&str],
        letters: &mut [Letter],
        find: impl Fn(&str) -> Result<usize, StoreError>,
    ) -> Result<(), StoreError> {
        let run = self.run;
        self.store
            .stream_statement_paid(&run.run_id, ids, |r: StatementPaid| {
                letters[find(&r.ps_id)?].paid.push(PaidRow {
                    invoice_no: r.invoice_no,
                    care_date: r.care_date,
                    beneficiary: r.beneficiary,
                    billed_cents: r.billed_cents,
                    amo_paid_cents: r.amo_paid_cents,
                    amc_paid_cents: r.paid_cents,
                });
                Ok::<_, StoreError>(())
            })
            .await?;
        let r03 = crate::store::claims::rule_label("R03");
        self.store
            .stream_statement_rejected(
                &run.run_id,
                run.business_date,
                r03,
                ids,
                |r: StatementRejected| {
                    letters[find(&r.ps_id)?].rejected.push(RejectedRow {
                        invoice_no: r.invoice_no,
                        care_date: r.care_date,
                        beneficiary: r.beneficiary,
                        requested_cents: r.requested_cents,
                        code: r.code,
                        label: r.label,
                    });
                    Ok::<_, StoreError>(())
                },
            )
            .await
    }
}

async fn joined(r: Rendering) -> Result<RenderedVolume, StatementError> {
    r.await
        .map_err(|e| RenderError(format!("rendering task failed: {e}")))?
}

fn letter(h: StatementHead, run: &Run) -> Result<Letter, StoreError> {
    // The ps_id names a file: it must be what the schema promises.
    if h.ps_id.len() != 9 || !h.ps_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(StoreError::Corrupt(format!(
            "practitioner id {:?} cannot name a statement file",
            h.ps_id
        )));
    }
    Ok(Letter {
        ps_id: h.ps_id,
        name: h.name,
        address_line: h.address_line,
        postcode: h.postcode,
        city: h.city,
        country: h.country,
        reference: h.reference,
        date: run.business_date,
        execution_date: run.execution_date,
        iban: h.iban,
        account_holder: h.account_holder,
        transfer_cents: h.amount_cents,
        paid: Vec::new(),
        rejected: Vec::new(),
    })
}

/// What the volumes rendered so far left, by letter (the caller's order).
struct Rendered {
    singles: Vec<Option<StagedFile>>,
    /// Each volume's PDF and CSV, volume after volume.
    batch: Vec<StagedFile>,
    pages: usize,
    /// Per letter: claims listed and total printed in cents.
    printed: Vec<(i64, i64)>,
    /// Per letter, from the database: NOEMIE claims of the transfer and
    /// NOEMIE part in cents.
    expected: Vec<(i64, i64)>,
}

impl Rendered {
    fn new(letters: usize) -> Self {
        Self {
            singles: (0..letters).map(|_| None).collect(),
            batch: Vec::new(),
            pages: 0,
            printed: vec![(0, 0); letters],
            expected: vec![(0, 0); letters],
        }
    }

    /// Volume `volume` (indices of the caller's letters) rendered as `r`.
    fn add(&mut self, volume: &[usize], r: RenderedVolume) {
        for (&i, f) in volume.iter().zip(r.singles) {
            self.singles[i] = Some(f);
        }
        self.batch.extend(r.batch);
        self.pages += r.pages.iter().sum::<usize>();
    }

    fn discard(self) {
        self.singles
            .into_iter()
            .flatten()
            .for_each(StagedFile::discard);
        self.batch.into_iter().for_each(StagedFile::discard);
    }

    /// The letters' files in the caller's order, then the volumes'; the
    /// pages of the print batch.
    fn into_files(self) -> (Vec<StagedFile>, usize) {
        let mut files: Vec<StagedFile> = self.singles.into_iter().flatten().collect();
        files.extend(self.batch);
        (files, self.pages)
    }
}

/// Renders every letter to its own file and the print batch (the same
/// letters, in postcode order, in volumes of [`LETTERS_PER_VOLUME`]).
/// Returns the staged files (letters in `letters` order, then each volume's
/// PDF and CSV) and the total pages.
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
    let mut done = Rendered::new(letters.len());
    for (n, volume) in print_order(letters).chunks(per_volume.max(1)).enumerate() {
        let refs: Vec<&Letter> = volume.iter().map(|&i| &letters[i]).collect();
        match render_volume(t, sender, &refs, n + 1, run_dir) {
            Ok(r) => done.add(volume, r),
            Err(e) => {
                done.discard();
                return Err(e);
            }
        }
    }
    Ok(done.into_files())
}

/// One volume rendered: its letters' own files and their pages (in the
/// volume's order), and the volume's PDF and CSV.
struct RenderedVolume {
    singles: Vec<StagedFile>,
    pages: Vec<usize>,
    batch: Vec<StagedFile>,
}

/// Renders each letter of a volume (in print order) to its own file on
/// worker threads while one more thread renders them together as volume
/// `number` of the print batch; checks that both agree on every letter's
/// pages. On error, nothing of the volume stays staged.
fn render_volume(
    t: &Template,
    sender: &Sender,
    letters: &[&Letter],
    number: usize,
    run_dir: &Path,
) -> Result<RenderedVolume, StatementError> {
    // The single letters cost more than the batch (each embeds its own
    // fonts), so they get a thread per core; the batch thread shares them.
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let next = AtomicUsize::new(0);
    let (batch, mut singles) = std::thread::scope(|scope| {
        let batch = scope.spawn(|| write_volume(t, sender, letters, number, run_dir));
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= letters.len() {
                            break;
                        }
                        done.push((i, write_single(t, sender, letters[i], run_dir)));
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
    singles.sort_by_key(|(i, _)| *i);
    let mut files = Vec::with_capacity(letters.len());
    let mut pages = Vec::with_capacity(letters.len());
    let mut first_error = None;
    for (_, r) in singles {
        match r {
            Ok((f, p)) => {
                files.push(f);
                pages.push(p);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let (batch, batch_pages) = batch.unwrap_or_else(|e| {
        first_error.get_or_insert(e);
        (Vec::new(), Vec::new())
    });
    if first_error.is_none() && batch_pages != pages {
        first_error =
            Some(RenderError("print batch and letters disagree on page counts".into()).into());
    }
    if let Some(e) = first_error {
        files.into_iter().chain(batch).for_each(StagedFile::discard);
        return Err(e);
    }
    Ok(RenderedVolume {
        singles: files,
        pages,
        batch,
    })
}

fn write_single(
    t: &Template,
    sender: &Sender,
    letter: &Letter,
    run_dir: &Path,
) -> Result<(StagedFile, usize), StatementError> {
    let (bytes, pages) = render(t, sender, &[letter])?;
    let f = output::write_whole(run_dir, &format!("{DIR}/{}.pdf", letter.ps_id), &bytes)?;
    Ok((f, pages[0]))
}

/// One volume's PDF and CSV (krilla builds a document whole: one volume in
/// memory at a time); returns the pages of its letters, in its order.
fn write_volume(
    t: &Template,
    sender: &Sender,
    letters: &[&Letter],
    number: usize,
    run_dir: &Path,
) -> Result<(Vec<StagedFile>, Vec<usize>), StatementError> {
    let (bytes, pages) = render(t, sender, letters)?;
    let pdf = output::write_whole(run_dir, &batch_volume(number, "pdf"), &bytes)?;
    drop(bytes);
    let csv = output::write_whole(
        run_dir,
        &batch_volume(number, "csv"),
        &manifest_csv(letters, &pages),
    );
    match csv {
        Ok(csv) => Ok((vec![pdf, csv], pages)),
        Err(e) => {
            pdf.discard();
            Err(e.into())
        }
    }
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
