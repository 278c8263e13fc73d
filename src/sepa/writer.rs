//! Streaming `pain.001` writer: the file goes straight to the caller's
//! `io::Write` (pass a `BufWriter`), one transfer at a time (each assembled
//! in a reused buffer, `xml::Fragment`), so memory stays flat whatever the
//! number of transfers, and the same inputs always give the same bytes.

use std::io::{self, Write};

use quick_xml::events::{BytesDecl, BytesStart, Event};

use super::model::{PreparedAddress, PreparedDebtor, PreparedTransfer, TextBuffers, clip};
use super::xml::{Emit, Fragment, Xml};
use super::{CreditTransfer, Debtor, GroupHeader, PainVersion, PaymentInfo, SepaError};
use crate::domain::Amount;

/// Writes one `pain.001` file, one call per element group, in file order:
///
/// ```text
/// new (group header) → { begin_payment_info → transfer* → end_payment_info }+ → finish
/// ```
///
/// Counts and sums are declared up front (they come first in the file) and
/// checked against what is streamed, at each payment-information block and
/// for the whole file: a transfer that would exceed a declaration is refused
/// before it is written, and a shortfall is an error at the block's end or at
/// [`finish`](Self::finish). Any error poisons the writer: later calls fail
/// with [`SepaError::Poisoned`], because the output is incomplete and must
/// never reach the bank.
///
/// What the writer does *not* check, because it would need memory growing
/// with the file: that `EndToEndId`s are unique (the store's job).
pub struct SepaWriter<W: Write> {
    xml: Xml<W>,
    /// Each transfer is written here first (see [`Fragment`]).
    transfer: Fragment,
    version: PainVersion,
    debtor: PreparedDebtor,
    group: Tally,
    open_block: Option<OpenBlock>,
    /// `PmtInfId`s already used in this file; a handful per file.
    block_ids: Vec<String>,
    text: TextBuffers,
    failed: bool,
}

/// `Document` > `CstmrCdtTrfInitn` > `PmtInf` > `CdtTrfTxInf`, in both
/// versions.
const TRANSFER_DEPTH: usize = 3;

struct OpenBlock {
    id: String,
    tally: Tally,
}

impl<W: Write> SepaWriter<W> {
    /// Checks the header and debtor, then writes the XML prolog and the whole
    /// group header.
    pub fn new(
        out: W,
        version: PainVersion,
        header: &GroupHeader,
        debtor: &Debtor,
    ) -> Result<Self, SepaError> {
        header.check()?;
        let debtor = PreparedDebtor::new(debtor, version)?;
        let mut xml = Xml::new(out);
        write_prolog(&mut xml, version)?;
        write_group_header(&mut xml, header, &debtor)?;
        Ok(Self {
            xml,
            transfer: Fragment::new(TRANSFER_DEPTH),
            version,
            debtor,
            group: Tally::new(header.nb_of_txs, header.ctrl_sum),
            open_block: None,
            block_ids: Vec::new(),
            text: TextBuffers::default(),
            failed: false,
        })
    }

    /// Opens a `PmtInf` block: one requested execution date, one debit
    /// (batch booking).
    pub fn begin_payment_info(&mut self, info: &PaymentInfo) -> Result<(), SepaError> {
        self.usable()?;
        let result = self.begin_block(info);
        self.poison_on_error(result)
    }

    /// Writes one `CdtTrfTxInf` into the open block.
    pub fn transfer(&mut self, tx: &CreditTransfer<'_>) -> Result<(), SepaError> {
        self.usable()?;
        let result = self.write_one(tx);
        self.poison_on_error(result)
    }

    /// Closes the open block after checking its declared count and sum.
    pub fn end_payment_info(&mut self) -> Result<(), SepaError> {
        self.usable()?;
        let result = self.end_block();
        self.poison_on_error(result)
    }

    /// Checks the group's declared count and sum, closes the document,
    /// flushes, and hands the output back (e.g. to `sync_all` a file).
    pub fn finish(mut self) -> Result<W, SepaError> {
        self.usable()?;
        self.check_group_complete()?;
        self.xml.close("CstmrCdtTrfInitn")?;
        self.xml.close("Document")?;
        let mut out = self.xml.into_inner();
        out.write_all(b"\n")?;
        // Flushing here surfaces a write error as an error, where dropping a
        // `BufWriter` would swallow it.
        out.flush()?;
        Ok(out)
    }

    fn usable(&self) -> Result<(), SepaError> {
        if self.failed {
            return Err(SepaError::Poisoned);
        }
        Ok(())
    }

    fn poison_on_error<T>(&mut self, result: Result<T, SepaError>) -> Result<T, SepaError> {
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn begin_block(&mut self, info: &PaymentInfo) -> Result<(), SepaError> {
        if let Some(open) = &self.open_block {
            return Err(SepaError::OutOfOrder(format!(
                "begin_payment_info({}) while {} is still open",
                clip(&info.pmt_inf_id),
                open.id
            )));
        }
        info.check()?;
        if self.block_ids.contains(&info.pmt_inf_id) {
            return Err(SepaError::Refused {
                at: format!("payment information {}", info.pmt_inf_id),
                reason: "PmtInfId already used in this file".to_owned(),
            });
        }
        write_block_head(&mut self.xml, self.version, info, &self.debtor)?;
        self.block_ids.push(info.pmt_inf_id.clone());
        self.open_block = Some(OpenBlock {
            id: info.pmt_inf_id.clone(),
            tally: Tally::new(info.nb_of_txs, info.ctrl_sum),
        });
        Ok(())
    }

    fn write_one(&mut self, tx: &CreditTransfer<'_>) -> Result<(), SepaError> {
        let Some(block) = &mut self.open_block else {
            return Err(SepaError::OutOfOrder(format!(
                "transfer({}) outside a payment information block",
                clip(tx.end_to_end_id)
            )));
        };
        let prepared = tx.prepare(self.version, &mut self.text)?;
        let cents = prepared.amount.cents();
        let block_at = || format!("payment information {}", block.id);
        block.tally.admit(cents, block_at)?;
        self.group.admit(cents, || "group header".to_owned())?;
        self.transfer.clear();
        write_transfer(&mut self.transfer, self.version, &prepared)?;
        self.xml.fragment(&self.transfer)?;
        block.tally.record(cents);
        self.group.record(cents);
        Ok(())
    }

    fn end_block(&mut self) -> Result<(), SepaError> {
        let Some(block) = self.open_block.take() else {
            return Err(SepaError::OutOfOrder(
                "end_payment_info without an open payment information block".to_owned(),
            ));
        };
        block
            .tally
            .check_complete(&format!("payment information {}", block.id))?;
        self.xml.close("PmtInf")?;
        Ok(())
    }

    fn check_group_complete(&self) -> Result<(), SepaError> {
        if let Some(open) = &self.open_block {
            return Err(SepaError::OutOfOrder(format!(
                "finish while payment information {} is still open",
                open.id
            )));
        }
        self.group.check_complete("group header")
    }
}

/// Declared versus streamed, for one level (group or block). Sums are in
/// integer cents: exact, and no float anywhere near money.
struct Tally {
    declared_nb: u64,
    declared_sum: Amount,
    nb: u64,
    cents: i128,
}

impl Tally {
    fn new(declared_nb: u64, declared_sum: Amount) -> Self {
        Self {
            declared_nb,
            declared_sum,
            nb: 0,
            cents: 0,
        }
    }

    /// Refuses, before anything is written, the transfer that would take
    /// this level past its declaration.
    fn admit(&self, cents: i64, at: impl FnOnce() -> String) -> Result<(), SepaError> {
        if self.nb >= self.declared_nb {
            return Err(SepaError::Mismatch {
                at: at(),
                field: "NbOfTxs",
                declared: self.declared_nb.to_string(),
                streamed: format!("{} so far", self.nb + 1),
            });
        }
        let total = self.cents + i128::from(cents);
        if total > i128::from(self.declared_sum.cents()) {
            return Err(SepaError::Mismatch {
                at: at(),
                field: "CtrlSum",
                declared: self.declared_sum.to_string(),
                streamed: format!("{} so far", euros(total)),
            });
        }
        Ok(())
    }

    fn record(&mut self, cents: i64) {
        self.nb += 1;
        self.cents += i128::from(cents);
    }

    fn check_complete(&self, at: &str) -> Result<(), SepaError> {
        if self.nb != self.declared_nb {
            return Err(SepaError::Mismatch {
                at: at.to_owned(),
                field: "NbOfTxs",
                declared: self.declared_nb.to_string(),
                streamed: self.nb.to_string(),
            });
        }
        if self.cents != i128::from(self.declared_sum.cents()) {
            return Err(SepaError::Mismatch {
                at: at.to_owned(),
                field: "CtrlSum",
                declared: self.declared_sum.to_string(),
                streamed: euros(self.cents),
            });
        }
        Ok(())
    }
}

/// `1234.50` from non-negative cents, for error messages.
fn euros(cents: i128) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// `1234.50` (as `Amount` displays it) into `buf`: the amount of every
/// transfer, so formatted without `fmt` or an allocation.
pub(super) fn euros_text(amount: Amount, buf: &mut [u8; 24]) -> &str {
    // Amounts are never negative: the `Amount` type refuses them.
    let mut n = amount.cents().unsigned_abs();
    let mut at = buf.len();
    let mut put = |b: u8| {
        at -= 1;
        buf[at] = b;
    };
    put(b'0' + (n % 10) as u8);
    n /= 10;
    put(b'0' + (n % 10) as u8);
    n /= 10;
    put(b'.');
    loop {
        put(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).expect("ASCII digits")
}

fn bic_tag(version: PainVersion) -> &'static str {
    match version {
        PainVersion::V03 => "BIC",
        PainVersion::V09 => "BICFI",
    }
}

fn write_prolog<W: Write>(x: &mut Xml<W>, version: PainVersion) -> io::Result<()> {
    x.w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let root = BytesStart::new("Document").with_attributes([("xmlns", version.namespace())]);
    x.w.write_event(Event::Start(root))?;
    x.open("CstmrCdtTrfInitn")
}

fn write_group_header<W: Write>(
    x: &mut Xml<W>,
    h: &GroupHeader,
    d: &PreparedDebtor,
) -> io::Result<()> {
    x.nest("GrpHdr", |x| {
        x.leaf("MsgId", &h.msg_id)?;
        let created = h.created_at.format("%Y-%m-%dT%H:%M:%S").to_string();
        x.leaf("CreDtTm", &created)?;
        x.leaf("NbOfTxs", &h.nb_of_txs.to_string())?;
        x.leaf("CtrlSum", &h.ctrl_sum.to_string())?;
        x.nest("InitgPty", |x| {
            x.leaf("Nm", &d.initiating_party)?;
            match &d.initiating_party_id {
                Some(id) => x.nest("Id", |x| {
                    x.nest("OrgId", |x| x.nest("Othr", |x| x.leaf("Id", id)))
                }),
                None => Ok(()),
            }
        })
    })
}

/// Everything of a `PmtInf` before its first `CdtTrfTxInf`.
fn write_block_head<W: Write>(
    x: &mut Xml<W>,
    version: PainVersion,
    info: &PaymentInfo,
    d: &PreparedDebtor,
) -> io::Result<()> {
    x.open("PmtInf")?;
    x.leaf("PmtInfId", &info.pmt_inf_id)?;
    x.leaf("PmtMtd", "TRF")?;
    // One debit for the block: the debtor reconciles one line per block
    // (PmtInfId, CtrlSum), each payee still gets their own credit.
    x.leaf("BtchBookg", "true")?;
    x.leaf("NbOfTxs", &info.nb_of_txs.to_string())?;
    x.leaf("CtrlSum", &info.ctrl_sum.to_string())?;
    x.nest("PmtTpInf", |x| {
        x.nest("SvcLvl", |x| x.leaf("Cd", "SEPA"))?;
        match &info.category_purpose {
            Some(code) => x.nest("CtgyPurp", |x| x.leaf("Cd", code)),
            None => Ok(()),
        }
    })?;
    let date = info.execution_date.format("%Y-%m-%d").to_string();
    match version {
        PainVersion::V03 => x.leaf("ReqdExctnDt", &date)?,
        PainVersion::V09 => x.nest("ReqdExctnDt", |x| x.leaf("Dt", &date))?,
    }
    x.nest("Dbtr", |x| x.leaf("Nm", &d.name))?;
    x.iban_account("DbtrAcct", &d.iban)?;
    x.nest("DbtrAgt", |x| {
        x.nest("FinInstnId", |x| match &d.bic {
            Some(bic) => x.leaf(bic_tag(version), bic),
            // EPC: without a BIC the debtor agent is still required, as
            // "not provided".
            None => x.nest("Othr", |x| x.leaf("Id", "NOTPROVIDED")),
        })
    })?;
    x.leaf("ChrgBr", "SLEV")
}

fn write_transfer<E: Emit>(
    x: &mut E,
    version: PainVersion,
    t: &PreparedTransfer<'_>,
) -> io::Result<()> {
    x.nest("CdtTrfTxInf", |x| {
        x.nest("PmtId", |x| x.sepa_leaf("EndToEndId", t.end_to_end_id))?;
        x.nest("Amt", |x| x.euro_amount("InstdAmt", t.amount))?;
        // No BIC: no creditor agent at all (optional in both XSDs; the
        // bank derives it from the IBAN).
        if let Some(bic) = t.bic {
            x.nest("CdtrAgt", |x| {
                x.nest("FinInstnId", |x| x.sepa_leaf(bic_tag(version), bic))
            })?;
        }
        x.nest("Cdtr", |x| {
            x.sepa_leaf("Nm", t.name)?;
            match &t.address {
                Some(a) => write_address(x, version, a),
                None => Ok(()),
            }
        })?;
        x.iban_account("CdtrAcct", t.iban)?;
        x.nest("RmtInf", |x| x.sepa_leaf("Ustrd", t.remittance))
    })
}

/// `.09`: hybrid address (PstCd, TwnNm, Ctry, up to 2 AdrLine), the form
/// the EPC keeps accepting after November 2026. `.03`: Ctry and 2 AdrLine,
/// as the EPC's `.03` guidelines allow.
fn write_address<E: Emit>(x: &mut E, version: PainVersion, a: &PreparedAddress) -> io::Result<()> {
    x.nest("PstlAdr", |x| match version {
        PainVersion::V09 => {
            if let Some(pc) = &a.postcode {
                x.leaf("PstCd", pc)?;
            }
            x.leaf("TwnNm", &a.town)?;
            x.leaf("Ctry", a.country.as_str())?;
            a.lines.iter().try_for_each(|l| x.leaf("AdrLine", l))
        }
        PainVersion::V03 => {
            x.leaf("Ctry", a.country.as_str())?;
            a.v03_lines().iter().try_for_each(|l| x.leaf("AdrLine", l))
        }
    })
}
