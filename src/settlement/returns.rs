//! RSP returns: one file per practitioner concerned by the run, streamed
//! from one ordered query, a row per practitioner, so that memory holds one
//! practitioner at a time (and the few files waiting to be written).
//!
//! Each file is built in memory on the task reading the rows and written by
//! a thread of its own: creating ~60,000 files on a national day (the
//! file system's inode and directory work) no longer waits for the rows,
//! nor the rows for it.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::{SettleError, Settlement};
use crate::domain::{Amount, InvoiceNo, Origin, PsId, RejectCode};
use crate::output::{self, OutputError, StagedFile};
use crate::rsp::{Header, Invoice, Payee, RspWriter, Transfer};
use crate::store::StoreError;
use crate::store::claims::rule_label;
use crate::store::runs::{RspLine, RspPayee, Run};

/// Files built and not yet written: bounds memory (an RSP is a few KB, a
/// large pharmacy's a few hundred).
const FILES_IN_FLIGHT: usize = 64;

/// What the RSP files of the run add up to.
#[derive(Debug, Default)]
pub(super) struct RspSums {
    pub transfers: i64,
    pub transfers_cents: i64,
}

/// The practitioner's file being built.
struct Open {
    w: RspWriter<Vec<u8>>,
    in_transfer: bool,
}

/// A practitioner's file, complete, on its way to the file thread.
struct Built {
    rel_path: String,
    bytes: Vec<u8>,
}

pub(super) async fn write(
    s: &Settlement<'_>,
    run: &Run,
    run_dir: &Path,
    staged: &mut Vec<StagedFile>,
) -> Result<RspSums, SettleError> {
    let mut sums = RspSums::default();
    let (tx, rx) = sync_channel(FILES_IN_FLIGHT);
    let writer = spawn_file_thread(run_dir, rx)?;
    let streamed = s
        .store
        .stream_rsp_payees(&run.run_id, rule_label("R03"), |payee: RspPayee| {
            send(&tx, build(s, run, &payee, &mut sums)?, run_dir)
        })
        .await;
    drop(tx);
    let (written, write_error) = writer.join().expect("RSP file thread panicked");
    staged.extend(written);
    // The file thread's own error explains a refused send: it comes first.
    if let Some(e) = write_error {
        return Err(e.into());
    }
    streamed?;
    Ok(sums)
}

type Written = (Vec<StagedFile>, Option<OutputError>);

/// Writes every file it is sent, in order, until the sender is dropped or a
/// write fails; hands back the files written (staged, for the caller to
/// publish or discard) and the failure.
fn spawn_file_thread(
    run_dir: &Path,
    rx: Receiver<Built>,
) -> Result<JoinHandle<Written>, SettleError> {
    let dir = run_dir.to_owned();
    std::thread::Builder::new()
        .name("rsp-files".into())
        .spawn(move || {
            let mut written = Vec::new();
            for built in rx {
                match output::write_whole(&dir, &built.rel_path, &built.bytes) {
                    Ok(f) => written.push(f),
                    Err(e) => return (written, Some(e)),
                }
            }
            (written, None)
        })
        .map_err(|source| folder_error(run_dir, source))
}

fn send(tx: &SyncSender<Built>, built: Built, run_dir: &Path) -> Result<(), SettleError> {
    // Refused only when the file thread has stopped on an error, which the
    // caller reports instead of this one.
    tx.send(built).map_err(|_| {
        folder_error(
            run_dir,
            std::io::Error::other("the RSP file thread stopped"),
        )
    })
}

fn folder_error(run_dir: &Path, source: std::io::Error) -> SettleError {
    OutputError {
        path: run_dir.display().to_string(),
        source,
    }
    .into()
}

fn build(
    s: &Settlement<'_>,
    run: &Run,
    payee: &RspPayee,
    sums: &mut RspSums,
) -> Result<Built, SettleError> {
    let (rel_path, mut o) = start(s, run, payee)?;
    for line in &payee.lines {
        add_line(&mut o, run, &payee.ps_id, line)?;
    }
    let bytes = close(o, sums)?;
    Ok(Built { rel_path, bytes })
}

fn start(s: &Settlement<'_>, run: &Run, payee: &RspPayee) -> Result<(String, Open), SettleError> {
    let ps_id: PsId = payee
        .ps_id
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("RSP of {:?}: bad ps_id", payee.ps_id)))?;
    let rel_path = format!("rsp/{ps_id}.rsp");
    let header = Header {
        sender: s.config.mutuelle.id.clone(),
        recipient: ps_id.clone(),
        file_id: run.run_id.clone(),
        created: run.business_date,
    };
    // Records are 128 bytes: a header, the payee, its lines, a few totals.
    let out = Vec::with_capacity(128 * (payee.lines.len() + 8));
    let mut w = RspWriter::new(out, &header)?;
    // A practitioner unknown to us (R01) still gets its rejections back.
    let name = payee
        .ps_name
        .clone()
        .unwrap_or_else(|| "PROFESSIONNEL INCONNU".into());
    w.begin_payee(&Payee { ps_id, name })?;
    let open = Open {
        w,
        in_transfer: false,
    };
    Ok((rel_path, open))
}

fn add_line(o: &mut Open, run: &Run, ps_id: &str, line: &RspLine) -> Result<(), SettleError> {
    let corrupt = |what: &str| corrupt(ps_id, line, what);
    let invoice = Invoice {
        invoice_no: InvoiceNo::new(
            u32::try_from(line.invoice_no).map_err(|_| corrupt("invoice_no"))?,
        )
        .map_err(|_| corrupt("invoice_no"))?,
        origin: line
            .origin
            .parse::<Origin>()
            .map_err(|_| corrupt("origin"))?,
        care_date: line.care_date,
    };
    let requested = amount(ps_id, line, line.requested_cents)?;
    let paid = amount(ps_id, line, line.paid_cents)?;
    if line.section == 1 {
        if !o.in_transfer {
            let reference = line.reference.clone().ok_or_else(|| corrupt("reference"))?;
            let amount = amount(
                ps_id,
                line,
                line.transfer_cents
                    .ok_or_else(|| corrupt("transfer amount"))?,
            )?;
            o.w.begin_transfer(&Transfer {
                reference,
                execution_date: run.execution_date,
                amount,
            })?;
            o.in_transfer = true;
        }
        o.w.paid_invoice(&invoice, requested, paid)?;
        return Ok(());
    }
    if o.in_transfer {
        o.w.end_transfer()?;
        o.in_transfer = false;
    }
    if line.section == 2 {
        let code: RejectCode = line
            .code
            .as_deref()
            .unwrap_or("")
            .parse()
            .map_err(|_| corrupt("reject code"))?;
        o.w.rejected_invoice(
            &invoice,
            requested,
            &code,
            line.label.as_deref().unwrap_or(""),
        )?;
    } else {
        o.w.signalement(&invoice, requested, paid)?;
    }
    Ok(())
}

fn close(mut o: Open, sums: &mut RspSums) -> Result<Vec<u8>, SettleError> {
    if o.in_transfer {
        o.w.end_transfer()?;
    }
    o.w.end_payee()?;
    let (out, totals) = o.w.finish()?;
    sums.transfers += totals.transfers as i64;
    sums.transfers_cents += totals.total_paid.cents();
    Ok(out)
}

fn amount(ps_id: &str, line: &RspLine, cents: i64) -> Result<Amount, SettleError> {
    Amount::from_cents(cents).map_err(|_| corrupt(ps_id, line, "amount"))
}

fn corrupt(ps_id: &str, line: &RspLine, what: &str) -> SettleError {
    StoreError::Corrupt(format!(
        "RSP line of {ps_id} invoice {}: bad {what}",
        line.invoice_no
    ))
    .into()
}
