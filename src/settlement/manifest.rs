//! `manifest.json`: the run's content and the SHA-256 of its files
//! (contract §3). Written as a stream: a national day lists a million
//! claims, and memory must not grow with them.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::{SettleError, Settlement};
use crate::domain::Amount;
use crate::output::{self, OutputError, StagedFile};
use crate::store::StoreError;
use crate::store::runs::{ClaimNote, PaidPayment, PublishedFile, Run};

pub const MANIFEST: &str = "manifest.json";

#[derive(Serialize)]
struct Payment<'a> {
    reference: &'a str,
    payee_kind: &'a str,
    payee_id: &'a str,
    amount: Amount,
    /// Which bank details paid it: a change of RIB must be traceable.
    bank: Bank,
    claims: &'a [(String, i64)],
}

#[derive(Serialize)]
struct Bank {
    iban_masked: String,
    valid_from: String,
}

/// How many claims the manifest lists as rejected, held and late: the
/// run summary's counts, taken from the lists themselves.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct NoteCounts {
    pub rejected: u64,
    pub held: u64,
    pub late: u64,
}

pub(super) async fn write(
    s: &Settlement<'_>,
    run: &Run,
    run_dir: &Path,
    files: &[PublishedFile],
) -> Result<(StagedFile, NoteCounts), SettleError> {
    let (target, mut w) = output::create(run_dir, MANIFEST)?;
    let io = |e: std::io::Error| {
        SettleError::Output(OutputError {
            path: MANIFEST.into(),
            source: e,
        })
    };
    let json = |e: serde_json::Error| {
        SettleError::Output(OutputError {
            path: MANIFEST.into(),
            source: e.into(),
        })
    };
    write!(w, "{{\n  \"run_id\": {},\n  \"date\": \"{}\",\n  \"execution_date\": \"{}\",\n  \"created_at\": {},\n  \"sepa_version\": \"{}\",\n",
        serde_json::to_string(&run.run_id).map_err(json)?, run.business_date, run.execution_date,
        serde_json::to_string(&run.created_at).map_err(json)?, s.config.sepa.version).map_err(io)?;
    let mut list = JsonList::open(&mut w, "files").map_err(io)?;
    for f in files {
        list.item(f).map_err(io)?;
    }
    list.close().map_err(io)?;
    let (payments, amount_cents, claims) = payments(s, run, &mut w).await?;
    let mut counts = Vec::new();
    for (key, rows) in [("rejected", 0), ("held", 1), ("late", 2)] {
        let mut list = JsonList::open(&mut w, key).map_err(io)?;
        let mut item = |n: ClaimNote| -> Result<(), SettleError> {
            list.item(&(n.ps_id, n.invoice_no, n.note)).map_err(io)
        };
        match rows {
            0 => s.store.stream_rejected(&run.run_id, &mut item).await?,
            1 => s.store.stream_held(&run.run_id, &mut item).await?,
            _ => {
                s.store
                    .stream_late(&run.run_id, run.execution_date, &mut item)
                    .await?
            }
        }
        counts.push(list.count);
        list.close().map_err(io)?;
    }
    let amount = Amount::from_cents(amount_cents).map_err(|e| StoreError::Corrupt(e.0))?;
    write!(w, "  \"totals\": {{\"payments\": {payments}, \"amount\": \"{amount}\", \"claims\": {claims}, \"rejected\": {}, \"held\": {}, \"late\": {}}}\n}}\n",
        counts[0], counts[1], counts[2]).map_err(io)?;
    let notes = NoteCounts {
        rejected: counts[0],
        held: counts[1],
        late: counts[2],
    };
    Ok((target.seal(w)?, notes))
}

/// Streams the payments with their claims; returns (payments, cents, claims).
async fn payments<W: Write>(
    s: &Settlement<'_>,
    run: &Run,
    w: &mut W,
) -> Result<(u64, i64, u64), SettleError> {
    let io = |e: std::io::Error| {
        SettleError::Output(OutputError {
            path: MANIFEST.into(),
            source: e,
        })
    };
    let mut list = JsonList::open(w, "payments").map_err(io)?;
    let (mut cents, mut claims) = (0i64, 0u64);
    s.store
        .stream_paid_payments(&run.run_id, |p: PaidPayment| -> Result<(), SettleError> {
            cents += p.amount_cents;
            claims += p.claims.len() as u64;
            let amount =
                Amount::from_cents(p.amount_cents).map_err(|e| StoreError::Corrupt(e.0))?;
            list.item(&Payment {
                reference: &p.reference,
                payee_kind: &p.payee_kind,
                payee_id: &p.payee_id,
                amount,
                bank: Bank {
                    iban_masked: crate::domain::mask(&p.iban),
                    valid_from: p.bank_valid_from.clone(),
                },
                claims: &p.claims,
            })
            .map_err(io)
        })
        .await?;
    let n = list.count;
    list.close().map_err(io)?;
    Ok((n, cents, claims))
}

/// `"key": [` … `],` with one compact JSON item a line: readable, diffable,
/// and written without holding the list.
struct JsonList<'a, W: Write> {
    w: &'a mut W,
    count: u64,
}

impl<'a, W: Write> JsonList<'a, W> {
    fn open(w: &'a mut W, key: &str) -> std::io::Result<Self> {
        write!(w, "  \"{key}\": [")?;
        Ok(Self { w, count: 0 })
    }

    fn item<T: Serialize>(&mut self, v: &T) -> std::io::Result<()> {
        self.w.write_all(if self.count == 0 {
            b"\n    "
        } else {
            b",\n    "
        })?;
        serde_json::to_writer(&mut *self.w, v)?;
        self.count += 1;
        Ok(())
    }

    fn close(self) -> std::io::Result<()> {
        self.w.write_all(if self.count == 0 {
            b"],\n"
        } else {
            b"\n  ],\n"
        })
    }
}
