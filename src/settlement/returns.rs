//! RSP returns: one file per practitioner concerned by the run, streamed
//! from one ordered query, a row per practitioner, so that memory holds one
//! practitioner at a time.

use std::path::Path;

use super::{SettleError, Settlement};
use crate::domain::{Amount, InvoiceNo, Origin, PsId, RejectCode};
use crate::output::{self, FileTarget, FileWriter, StagedFile};
use crate::rsp::{Header, Invoice, Payee, RspWriter, Transfer};
use crate::store::StoreError;
use crate::store::claims::rule_label;
use crate::store::runs::{RspLine, RspPayee, Run};

/// What the RSP files of the run add up to.
#[derive(Debug, Default)]
pub(super) struct RspSums {
    pub transfers: i64,
    pub transfers_cents: i64,
}

/// The practitioner's file being written.
struct Open {
    target: FileTarget,
    w: RspWriter<FileWriter>,
    in_transfer: bool,
}

pub(super) async fn write(
    s: &Settlement<'_>,
    run: &Run,
    run_dir: &Path,
    staged: &mut Vec<StagedFile>,
) -> Result<RspSums, SettleError> {
    let mut sums = RspSums::default();
    s.store
        .stream_rsp_payees(
            &run.run_id,
            rule_label("R03"),
            |payee: RspPayee| -> Result<(), SettleError> {
                let mut o = start(s, run, run_dir, &payee)?;
                for line in &payee.lines {
                    add_line(&mut o, run, &payee.ps_id, line)?;
                }
                staged.push(close(o, &mut sums)?);
                Ok(())
            },
        )
        .await?;
    Ok(sums)
}

fn start(
    s: &Settlement<'_>,
    run: &Run,
    run_dir: &Path,
    payee: &RspPayee,
) -> Result<Open, SettleError> {
    let ps_id: PsId = payee
        .ps_id
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("RSP of {:?}: bad ps_id", payee.ps_id)))?;
    let (target, out) = output::create(run_dir, &format!("rsp/{ps_id}.rsp"))?;
    let header = Header {
        sender: s.config.mutuelle.id.clone(),
        recipient: ps_id.clone(),
        file_id: run.run_id.clone(),
        created: run.business_date,
    };
    let mut w = RspWriter::new(out, &header)?;
    // A practitioner unknown to us (R01) still gets its rejections back.
    let name = payee
        .ps_name
        .clone()
        .unwrap_or_else(|| "PROFESSIONNEL INCONNU".into());
    w.begin_payee(&Payee { ps_id, name })?;
    Ok(Open {
        target,
        w,
        in_transfer: false,
    })
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

fn close(mut o: Open, sums: &mut RspSums) -> Result<StagedFile, SettleError> {
    if o.in_transfer {
        o.w.end_transfer()?;
    }
    o.w.end_payee()?;
    let (out, totals) = o.w.finish()?;
    sums.transfers += totals.transfers as i64;
    sums.transfers_cents += totals.total_paid.cents();
    Ok(o.target.seal(out)?)
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
