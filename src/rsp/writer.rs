//! Streaming RSP writer.
//!
//! One call per entity group, a four-state machine (file, payee, transfer,
//! poisoned) and running counts: the writer emits the `990` and `999`
//! controls itself, so a caller cannot get them wrong, and memory stays the
//! same for ten invoices or ten million.

use std::io::Write;

use chrono::{Datelike, NaiveDate};

use super::RspError;
use super::layout::{self, AMOUNT_LEN, COUNT_LEN, FieldKind, Layout, MAX_COUNT, RECORD_LEN};
use crate::domain::{Amount, InvoiceNo, Origin, PsId, RejectCode};

/// What the `000` header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The mutuelle's identifier (configuration), 1 to 14 printable ASCII
    /// characters, no `@`, no leading or trailing space.
    pub sender: String,
    /// The practitioner the file is for.
    pub recipient: PsId,
    /// The caller's identifier of this file, 1 to 20 characters as `sender`.
    pub file_id: String,
    /// Creation date: given, not read from the clock, so that a rerun of the
    /// same settlement rewrites byte-identical files.
    pub created: NaiveDate,
}

/// The *destinataire de règlement* of a `040`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payee {
    pub ps_id: PsId,
    /// Free text: transliterated, upper-cased, cut to 40 characters.
    pub name: String,
}

/// One bank transfer (`071`), declared before its invoices so the writer
/// can hold them to its amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The SEPA `EndToEndId`, 1 to 35 characters, kept verbatim because the
    /// practitioner's software matches it against the bank statement.
    pub reference: String,
    pub execution_date: NaiveDate,
    /// At least 0.01: a zero transfer is never sent.
    pub amount: Amount,
}

/// The identity of one invoice (`102`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invoice {
    pub invoice_no: InvoiceNo,
    pub origin: Origin,
    pub care_date: NaiveDate,
}

/// What [`RspWriter::finish`] wrote, for the run manifest and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RspTotals {
    /// All entities, `000` and `999` included (the `999` count).
    pub entities: u64,
    /// Physical 128-byte records.
    pub records: u64,
    pub payees: u64,
    pub transfers: u64,
    pub paid_invoices: u64,
    pub rejected: u64,
    pub signalements: u64,
    /// Sum of the `071` amounts (the `999` total).
    pub total_paid: Amount,
}

/// Where the writer is in the nesting `000 (040 (071 … 990)* … 990)* 999`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// After the `000` or a closed `040`: a payee may begin, or the file end.
    File,
    /// Inside a `040`, outside any transfer.
    Payee,
    /// Inside a `071`.
    Transfer,
    /// A call failed: the bytes already written may be half an entity group.
    Poisoned,
}

impl State {
    fn describe(self) -> &'static str {
        match self {
            State::File => "no payee is open",
            State::Payee => "a payee is open outside any transfer",
            State::Transfer => "a transfer is open",
            State::Poisoned => "the writer is poisoned",
        }
    }
}

/// The `071` being streamed: what it declared and what has come so far.
#[derive(Debug)]
struct OpenTransfer {
    reference: String,
    declared: Amount,
    invoices: u64,
    paid_cents: i64,
}

/// Streams one RSP file into `W`.
///
/// Every error poisons the writer: the output then holds a partial file that
/// must be discarded. `W` should be buffered (`BufWriter`) when it is a file:
/// the writer issues one `write_all` per 128-byte record.
#[derive(Debug)]
pub struct RspWriter<W: Write> {
    framer: Framer<W>,
    state: State,
    /// Reused for every entity: no allocation per invoice.
    buf: Vec<u8>,
    totals: RspTotals,
    /// Sum of the `071` amounts so far, in cents.
    file_paid_cents: i64,
    payee_invoices: u64,
    payee_paid_cents: i64,
    transfer: Option<OpenTransfer>,
}

impl<W: Write> RspWriter<W> {
    /// Starts a file: writes the `000` header.
    pub fn new(out: W, header: &Header) -> Result<Self, RspError> {
        let mut w = RspWriter {
            framer: Framer::new(out),
            state: State::File,
            buf: Vec::with_capacity(layout::MAX_ENTITY_LEN),
            totals: RspTotals::default(),
            file_paid_cents: 0,
            payee_invoices: 0,
            payee_paid_cents: 0,
            transfer: None,
        };
        w.emit(
            &layout::E000,
            0,
            &[
                Value::Ident(&header.sender),
                Value::Ident(header.recipient.as_str()),
                Value::Ident(&header.file_id),
                Value::Date(header.created),
                Value::Ident(layout::NORM),
                Value::Ident(layout::VERSION),
            ],
        )?;
        Ok(w)
    }

    /// Opens a `040` group.
    pub fn begin_payee(&mut self, payee: &Payee) -> Result<(), RspError> {
        self.guarded("begin_payee", State::File, |w| {
            w.emit(
                &layout::E040,
                1,
                &[Value::Ident(payee.ps_id.as_str()), Value::Text(&payee.name)],
            )?;
            w.payee_invoices = 0;
            w.payee_paid_cents = 0;
            w.totals.payees += 1;
            w.state = State::Payee;
            Ok(())
        })
    }

    /// Opens a `071` group; its paid invoices must then add up to
    /// `transfer.amount` exactly.
    pub fn begin_transfer(&mut self, transfer: &Transfer) -> Result<(), RspError> {
        self.guarded("begin_transfer", State::Payee, |w| {
            if transfer.amount.is_zero() {
                return Err(invalid("amount", "a transfer of 0.00 is never sent"));
            }
            w.file_paid_cents = add_cents(w.file_paid_cents, transfer.amount, "total paid")?;
            w.emit(
                &layout::E071,
                2,
                &[
                    Value::Date(transfer.execution_date),
                    Value::Ident(&transfer.reference),
                    Value::Cents(transfer.amount),
                ],
            )?;
            w.transfer = Some(OpenTransfer {
                reference: transfer.reference.clone(),
                declared: transfer.amount,
                invoices: 0,
                paid_cents: 0,
            });
            w.state = State::Transfer;
            Ok(())
        })
    }

    /// One invoice paid by the open transfer: `102` + `199` status `P`.
    /// `paid` may be less than `requested` (partial payment), never more,
    /// and never zero (that is a rejection).
    pub fn paid_invoice(
        &mut self,
        invoice: &Invoice,
        requested: Amount,
        paid: Amount,
    ) -> Result<(), RspError> {
        self.guarded("paid_invoice", State::Transfer, |w| {
            if paid.is_zero() {
                return Err(invalid(
                    "paid",
                    format!(
                        "invoice {} paid 0.00: report it as a rejection",
                        invoice.invoice_no
                    ),
                ));
            }
            check_not_above(invoice, "paid", paid, requested)?;
            w.count_into_transfer(paid)?;
            w.emit_invoice(invoice, 3)?;
            w.emit_amc_part(4, requested, b'P', paid)?;
            w.totals.paid_invoices += 1;
            Ok(())
        })
    }

    /// Closes the `071` with its `990`, after checking the money invariant.
    pub fn end_transfer(&mut self) -> Result<(), RspError> {
        self.guarded("end_transfer", State::Transfer, |w| {
            let t = w.transfer.take().ok_or(RspError::Nesting {
                call: "end_transfer",
                state: "no transfer is open",
            })?;
            if t.paid_cents != t.declared.cents() {
                return Err(RspError::TransferSum {
                    reference: t.reference,
                    declared: t.declared,
                    streamed: super::fmt_cents(t.paid_cents),
                });
            }
            w.emit(
                &layout::E990,
                2,
                &[Value::Number(t.invoices), Value::Cents(t.declared)],
            )?;
            w.payee_invoices += t.invoices;
            w.payee_paid_cents = add_cents(w.payee_paid_cents, t.declared, "total paid")?;
            w.totals.transfers += 1;
            w.state = State::Payee;
            Ok(())
        })
    }

    /// An invoice not paid: `102` + `199` status `R` (paid 0.00) + `294`.
    /// `label` is free text, transliterated and cut to 60 characters.
    pub fn rejected_invoice(
        &mut self,
        invoice: &Invoice,
        requested: Amount,
        code: &RejectCode,
        label: &str,
    ) -> Result<(), RspError> {
        self.guarded("rejected_invoice", State::Payee, |w| {
            w.emit_invoice(invoice, 2)?;
            w.emit_amc_part(3, requested, b'R', Amount::ZERO)?;
            w.emit(
                &layout::E294,
                3,
                &[Value::Ident(code.as_str()), Value::Text(label)],
            )?;
            w.payee_invoices += 1;
            w.totals.rejected += 1;
            Ok(())
        })
    }

    /// An HTP *signalement*: the mutuelle paid the member, not the
    /// practitioner. `102` + `199` status `S`, `paid` = paid to the member;
    /// it counts as an invoice of the `040` but not in any amount paid.
    pub fn signalement(
        &mut self,
        invoice: &Invoice,
        requested: Amount,
        paid_to_member: Amount,
    ) -> Result<(), RspError> {
        self.guarded("signalement", State::Payee, |w| {
            check_not_above(invoice, "paid", paid_to_member, requested)?;
            w.emit_invoice(invoice, 2)?;
            w.emit_amc_part(3, requested, b'S', paid_to_member)?;
            w.payee_invoices += 1;
            w.totals.signalements += 1;
            Ok(())
        })
    }

    /// Closes the `040` with its `990`.
    pub fn end_payee(&mut self) -> Result<(), RspError> {
        self.guarded("end_payee", State::Payee, |w| {
            let paid = cents_amount(w.payee_paid_cents, "total paid to the payee")?;
            w.emit(
                &layout::E990,
                1,
                &[Value::Number(w.payee_invoices), Value::Cents(paid)],
            )?;
            w.state = State::File;
            Ok(())
        })
    }

    /// Writes the `999`, pads the last record, flushes, and hands back the
    /// output with what was written.
    pub fn finish(mut self) -> Result<(W, RspTotals), RspError> {
        self.check_state("finish", State::File)?;
        let total = cents_amount(self.file_paid_cents, "total paid")?;
        // The 999 counts itself, hence the + 1.
        let entities = self.totals.entities + 1;
        self.emit(
            &layout::E999,
            0,
            &[Value::Number(entities), Value::Cents(total)],
        )?;
        let (out, records) = self.framer.finish()?;
        let mut totals = self.totals;
        totals.records = records;
        totals.total_paid = total;
        Ok((out, totals))
    }

    /// Runs `body` if the writer is in `allowed`, and poisons it on any error.
    fn guarded(
        &mut self,
        call: &'static str,
        allowed: State,
        body: impl FnOnce(&mut Self) -> Result<(), RspError>,
    ) -> Result<(), RspError> {
        let result = self.check_state(call, allowed).and_then(|()| body(self));
        if result.is_err() {
            self.state = State::Poisoned;
        }
        result
    }

    fn check_state(&self, call: &'static str, allowed: State) -> Result<(), RspError> {
        match self.state {
            State::Poisoned => Err(RspError::Poisoned),
            s if s == allowed => Ok(()),
            s => Err(RspError::Nesting {
                call,
                state: s.describe(),
            }),
        }
    }

    /// Adds one paid invoice to the open transfer, refusing as soon as the
    /// invoices overshoot the declared amount.
    fn count_into_transfer(&mut self, paid: Amount) -> Result<(), RspError> {
        let t = self.transfer.as_mut().ok_or(RspError::Nesting {
            call: "paid_invoice",
            state: "no transfer is open",
        })?;
        let sum = t.paid_cents.saturating_add(paid.cents());
        if sum > t.declared.cents() {
            return Err(RspError::TransferSum {
                reference: t.reference.clone(),
                declared: t.declared,
                streamed: format!("at least {}", super::fmt_cents(sum)),
            });
        }
        t.paid_cents = sum;
        t.invoices += 1;
        Ok(())
    }

    fn emit_invoice(&mut self, invoice: &Invoice, level: u8) -> Result<(), RspError> {
        let origin = match invoice.origin {
            Origin::Dre => b'D',
            Origin::Noemie => b'N',
        };
        self.emit(
            &layout::E102,
            level,
            &[
                Value::Number(u64::from(invoice.invoice_no.get())),
                Value::Code(origin),
                Value::Date(invoice.care_date),
            ],
        )
    }

    fn emit_amc_part(
        &mut self,
        level: u8,
        requested: Amount,
        status: u8,
        paid: Amount,
    ) -> Result<(), RspError> {
        self.emit(
            &layout::E199,
            level,
            &[
                Value::Cents(requested),
                Value::Code(status),
                Value::Cents(paid),
            ],
        )
    }

    /// Encodes one entity and hands it to the framer.
    fn emit(&mut self, l: &'static Layout, level: u8, values: &[Value]) -> Result<(), RspError> {
        if self.totals.entities >= MAX_COUNT {
            return Err(RspError::Overflow {
                what: "the entity count",
                width: COUNT_LEN,
            });
        }
        encode(&mut self.buf, l, level, values)?;
        self.framer.push(&self.buf)?;
        self.totals.entities += 1;
        Ok(())
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> RspError {
    RspError::InvalidField {
        field,
        reason: reason.into(),
    }
}

fn check_not_above(
    invoice: &Invoice,
    field: &'static str,
    paid: Amount,
    requested: Amount,
) -> Result<(), RspError> {
    if paid > requested {
        return Err(invalid(
            field,
            format!(
                "invoice {}: {paid} is more than the {requested} requested",
                invoice.invoice_no
            ),
        ));
    }
    Ok(())
}

/// `sum + amount` in cents, refused once it no longer fits an amount field.
fn add_cents(sum: i64, amount: Amount, what: &'static str) -> Result<i64, RspError> {
    let s = sum.saturating_add(amount.cents());
    cents_amount(s, what)?;
    Ok(s)
}

fn cents_amount(cents: i64, what: &'static str) -> Result<Amount, RspError> {
    Amount::from_cents(cents).map_err(|_| RspError::Overflow {
        what,
        width: AMOUNT_LEN,
    })
}

/// One field value, in the encoding its layout field expects.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Text(&'a str),
    Ident(&'a str),
    Number(u64),
    Cents(Amount),
    Date(NaiveDate),
    Code(u8),
}

impl Value<'_> {
    fn kind(&self) -> FieldKind {
        match self {
            Value::Text(_) => FieldKind::Text,
            Value::Ident(_) => FieldKind::Ident,
            Value::Number(_) => FieldKind::Number,
            Value::Cents(_) => FieldKind::Cents,
            Value::Date(_) => FieldKind::Date,
            Value::Code(_) => FieldKind::Code,
        }
    }
}

/// Type + level + each field at its width + `@`, into `buf` (cleared).
fn encode(buf: &mut Vec<u8>, l: &Layout, level: u8, values: &[Value]) -> Result<(), RspError> {
    buf.clear();
    buf.extend_from_slice(l.code.as_bytes());
    push_number(buf, "level", u64::from(level), 2)?;
    if values.len() != l.fields.len() {
        return Err(internal(l, "wrong number of fields"));
    }
    for (field, value) in l.fields.iter().zip(values) {
        if field.kind != value.kind() {
            return Err(internal(l, field.name));
        }
        push_value(buf, field.name, field.len, *value)?;
    }
    buf.push(layout::TERMINATOR);
    Ok(())
}

/// A writer that disagrees with its own layout table: a bug, reported
/// rather than written as a malformed file.
fn internal(l: &Layout, what: &str) -> RspError {
    invalid(
        "layout",
        format!(
            "internal error: entity {} does not match its layout ({what})",
            l.code
        ),
    )
}

fn push_value(
    buf: &mut Vec<u8>,
    name: &'static str,
    width: usize,
    value: Value,
) -> Result<(), RspError> {
    match value {
        Value::Text(s) => push_padded(buf, &clean_text(s, width), width),
        Value::Ident(s) => {
            check_ident(name, s, width)?;
            push_padded(buf, s, width);
        }
        Value::Number(n) => push_number(buf, name, n, width)?,
        Value::Cents(a) => push_number(buf, name, a.cents().unsigned_abs(), width)?,
        Value::Date(d) => push_date(buf, name, d)?,
        Value::Code(c) => buf.push(c),
    }
    Ok(())
}

fn push_padded(buf: &mut Vec<u8>, s: &str, width: usize) {
    let bytes = &s.as_bytes()[..s.len().min(width)];
    buf.extend_from_slice(bytes);
    buf.resize(buf.len() + (width - bytes.len()), b' ');
}

fn push_number(
    buf: &mut Vec<u8>,
    name: &'static str,
    n: u64,
    width: usize,
) -> Result<(), RspError> {
    let digits = n.checked_ilog10().map_or(1, |l| l as usize + 1);
    if digits > width {
        return Err(RspError::Overflow { what: name, width });
    }
    // Writing into a Vec cannot fail.
    write!(buf, "{n:0width$}")?;
    Ok(())
}

fn push_date(buf: &mut Vec<u8>, name: &'static str, d: NaiveDate) -> Result<(), RspError> {
    if !(0..=9999).contains(&d.year()) {
        return Err(invalid(name, format!("year of {d} does not fit YYYYMMDD")));
    }
    write!(buf, "{:04}{:02}{:02}", d.year(), d.month(), d.day())?;
    Ok(())
}

/// Identifiers are matched byte for byte by other systems, so they are
/// refused, never altered: 1 to `width` printable ASCII characters, no `@`,
/// no leading or trailing space (padding would swallow it).
fn check_ident(name: &'static str, s: &str, width: usize) -> Result<(), RspError> {
    let shown: String = s.chars().take(40).collect();
    if s.is_empty() || s.len() > width {
        return Err(invalid(
            name,
            format!("{shown:?} must be 1 to {width} characters"),
        ));
    }
    let printable = s.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'@');
    if !printable || s.starts_with(' ') || s.ends_with(' ') {
        return Err(invalid(
            name,
            format!("{shown:?} must be printable ASCII without '@' nor edge spaces"),
        ));
    }
    Ok(())
}

/// Free text as the format carries it: ASCII (accents dropped by
/// transliteration, `?` for what has no transliteration), upper case like
/// NOEMIE, `@` removed (it is the terminator), control characters and runs
/// of white space folded into one space, at most `width` bytes.
fn clean_text(s: &str, width: usize) -> String {
    let ascii = deunicode::deunicode_with_tofu(s, "?");
    let mut out = String::with_capacity(width);
    let mut space = false;
    for c in ascii.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if c == '@' || !c.is_ascii_graphic() {
            continue;
        }
        if space && out.len() < width {
            out.push(' ');
        }
        space = false;
        if out.len() >= width {
            break;
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Cuts the entity stream into 128-byte records, each followed by `\n`.
#[derive(Debug)]
struct Framer<W: Write> {
    out: W,
    record: [u8; RECORD_LEN],
    fill: usize,
    records: u64,
}

impl<W: Write> Framer<W> {
    fn new(out: W) -> Self {
        Framer {
            out,
            record: [b' '; RECORD_LEN],
            fill: 0,
            records: 0,
        }
    }

    fn push(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let n = (RECORD_LEN - self.fill).min(bytes.len());
            self.record[self.fill..self.fill + n].copy_from_slice(&bytes[..n]);
            self.fill += n;
            bytes = &bytes[n..];
            if self.fill == RECORD_LEN {
                self.write_record()?;
            }
        }
        Ok(())
    }

    fn write_record(&mut self) -> std::io::Result<()> {
        self.out.write_all(&self.record)?;
        self.out.write_all(b"\n")?;
        self.fill = 0;
        self.records += 1;
        Ok(())
    }

    /// Pads the last record with spaces (none is added when the `999` ends
    /// exactly on a record boundary) and flushes.
    fn finish(mut self) -> std::io::Result<(W, u64)> {
        if self.fill > 0 {
            self.record[self.fill..].fill(b' ');
            self.write_record()?;
        }
        self.out.flush()?;
        Ok((self.out, self.records))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    pub fn amount(s: &str) -> Amount {
        s.parse().unwrap()
    }

    pub fn header() -> Header {
        Header {
            sender: "MUTTEST0001".into(),
            recipient: "123456789".parse().unwrap(),
            file_id: "RSP-20250314-0001".into(),
            created: date("2025-03-14"),
        }
    }

    pub fn payee() -> Payee {
        Payee {
            ps_id: "123456789".parse().unwrap(),
            name: "Pharmacie de l'Église".into(),
        }
    }

    pub fn transfer(reference: &str, amt: &str) -> Transfer {
        Transfer {
            reference: reference.into(),
            execution_date: date("2025-03-17"),
            amount: amount(amt),
        }
    }

    pub fn invoice(n: u32, origin: Origin) -> Invoice {
        Invoice {
            invoice_no: InvoiceNo::new(n).unwrap(),
            origin,
            care_date: date("2025-03-10"),
        }
    }

    fn writer() -> RspWriter<Vec<u8>> {
        RspWriter::new(Vec::new(), &header()).unwrap()
    }

    /// The data of every record, after checking each is 128 bytes + `\n`.
    pub fn records(bytes: &[u8]) -> Vec<&[u8]> {
        assert_eq!(bytes.len() % (RECORD_LEN + 1), 0, "not whole records");
        bytes
            .chunks(RECORD_LEN + 1)
            .map(|r| {
                assert_eq!(r[RECORD_LEN], b'\n');
                assert!(r[..RECORD_LEN].iter().all(|b| (b' '..=b'~').contains(b)));
                &r[..RECORD_LEN]
            })
            .collect()
    }

    #[test]
    fn empty_file_is_header_and_end_in_one_record() {
        let (out, totals) = writer().finish().unwrap();
        let recs = records(&out);
        assert_eq!(recs.len(), 1);
        let text = std::str::from_utf8(recs[0]).unwrap();
        assert_eq!(
            &text[..64],
            "00000MUTTEST0001   123456789RSP-20250314-0001   20250314RSP0100@"
        );
        assert_eq!(&text[64..90], "9990000000000200000000000@");
        assert!(text[90..].bytes().all(|b| b == b' '));
        assert_eq!(totals.entities, 2);
        assert_eq!(totals.records, 1);
        assert_eq!(totals.total_paid, Amount::ZERO);
    }

    #[test]
    fn payment_group_bytes_and_totals() {
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        w.begin_transfer(&transfer("TPS-20250317-000001", "80.00"))
            .unwrap();
        w.paid_invoice(&invoice(42, Origin::Dre), amount("50"), amount("50"))
            .unwrap();
        w.paid_invoice(&invoice(43, Origin::Noemie), amount("35"), amount("30"))
            .unwrap();
        w.end_transfer().unwrap();
        w.end_payee().unwrap();
        let (out, t) = w.finish().unwrap();
        let stream: Vec<u8> = records(&out).concat();
        let s = std::str::from_utf8(&stream).unwrap();
        let expected = concat!(
            "04001123456789PHARMACIE DE L'EGLISE                   @",
            "0710220250317TPS-20250317-000001                00000008000@",
            "10203000000042D20250310@",
            "1990400000005000P00000005000@",
            "10203000000043N20250310@",
            "1990400000003500P00000003000@",
            "9900200000000200000008000@",
            "9900100000000200000008000@",
            "9990000000001000000008000@",
        );
        assert_eq!(s[64..].trim_end(), expected);
        assert_eq!(t.entities, 10);
        assert_eq!(t.transfers, 1);
        assert_eq!(t.paid_invoices, 2);
        assert_eq!(t.total_paid, amount("80"));
        assert_eq!(t.records, 3);
    }

    #[test]
    fn unpaid_invoices_sit_under_the_payee() {
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        let code: RejectCode = "R02".parse().unwrap();
        w.rejected_invoice(
            &invoice(7, Origin::Dre),
            amount("12.5"),
            &code,
            "Pas d'accord tiers-payant @ réception",
        )
        .unwrap();
        w.signalement(&invoice(8, Origin::Noemie), amount("20"), amount("20"))
            .unwrap();
        w.end_payee().unwrap();
        let (out, t) = w.finish().unwrap();
        let stream: Vec<u8> = records(&out).concat();
        let s = std::str::from_utf8(&stream).unwrap();
        let expected = concat!(
            "10202000000007D20250310@",
            "1990300000001250R00000000000@",
            "29403R02     PAS D'ACCORD TIERS-PAYANT RECEPTION                         @",
            "10202000000008N20250310@",
            "1990300000002000S00000002000@",
            "9900100000000200000000000@",
            "9990000000000900000000000@",
        );
        assert_eq!(s[64 + 55..].trim_end(), expected);
        assert_eq!(
            (t.rejected, t.signalements, t.total_paid),
            (1, 1, Amount::ZERO)
        );
    }

    /// Every writer call, to script sequences in tests.
    #[derive(Debug, Clone, Copy)]
    enum Call {
        Payee,
        Transfer,
        Paid,
        EndTransfer,
        Reject,
        Signal,
        EndPayee,
    }

    fn apply(w: &mut RspWriter<Vec<u8>>, c: Call) -> Result<(), RspError> {
        let inv = invoice(1, Origin::Dre);
        let one = amount("1");
        match c {
            Call::Payee => w.begin_payee(&payee()),
            Call::Transfer => w.begin_transfer(&transfer("R1", "1")),
            Call::Paid => w.paid_invoice(&inv, one, one),
            Call::EndTransfer => w.end_transfer(),
            Call::Reject => w.rejected_invoice(&inv, one, &"R01".parse().unwrap(), "x"),
            Call::Signal => w.signalement(&inv, one, one),
            Call::EndPayee => w.end_payee(),
        }
    }

    #[test]
    fn wrong_nesting_is_refused_and_poisons() {
        use Call::*;
        let cases: &[(&[Call], &str)] = &[
            (&[Transfer], "begin_transfer"),
            (&[EndPayee], "end_payee"),
            (&[EndTransfer], "end_transfer"),
            (&[Signal], "signalement"),
            (&[Reject], "rejected_invoice"),
            (&[Paid], "paid_invoice"),
            (&[Payee, Paid], "paid_invoice"),
            (&[Payee, Payee], "begin_payee"),
            (&[Payee, EndTransfer], "end_transfer"),
            (&[Payee, Transfer, Reject], "rejected_invoice"),
            (&[Payee, Transfer, Signal], "signalement"),
            (&[Payee, Transfer, Transfer], "begin_transfer"),
            (&[Payee, Transfer, Payee], "begin_payee"),
            (&[Payee, Transfer, EndPayee], "end_payee"),
            (&[Payee, EndPayee, EndPayee], "end_payee"),
            (
                &[Payee, Transfer, Paid, EndTransfer, EndTransfer],
                "end_transfer",
            ),
        ];
        for (steps, call) in cases {
            let mut w = writer();
            let (last, before) = steps.split_last().unwrap();
            for s in before {
                apply(&mut w, *s).unwrap();
            }
            match apply(&mut w, *last) {
                Err(RspError::Nesting { call: c, .. }) => assert_eq!(c, *call, "{steps:?}"),
                other => panic!("{steps:?}: {other:?}"),
            }
            assert!(matches!(w.begin_payee(&payee()), Err(RspError::Poisoned)));
            assert!(matches!(w.finish(), Err(RspError::Poisoned)));
        }
        for open in [&[Payee][..], &[Payee, Transfer]] {
            let mut w = writer();
            for s in open {
                apply(&mut w, *s).unwrap();
            }
            assert!(matches!(
                w.finish(),
                Err(RspError::Nesting { call: "finish", .. })
            ));
        }
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        assert_eq!(
            w.finish().unwrap_err().to_string(),
            "RSP writer: finish() is not allowed while a payee is open outside any transfer"
        );
    }

    #[test]
    fn several_payees_and_transfers_are_allowed() {
        use Call::*;
        let mut w = writer();
        for c in [
            Payee,
            Transfer,
            Paid,
            EndTransfer,
            Reject,
            Transfer,
            Paid,
            EndTransfer,
            Signal,
            EndPayee,
            Payee,
            EndPayee,
        ] {
            apply(&mut w, c).unwrap();
        }
        let (_, t) = w.finish().unwrap();
        assert_eq!((t.payees, t.transfers, t.total_paid), (2, 2, amount("2")));
    }

    #[test]
    fn transfer_must_equal_its_invoices() {
        // Short: the 990 is refused at end_transfer.
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        w.begin_transfer(&transfer("REF1", "100.00")).unwrap();
        w.paid_invoice(&invoice(1, Origin::Dre), amount("60"), amount("60"))
            .unwrap();
        let err = w.end_transfer().unwrap_err();
        assert_eq!(
            err.to_string(),
            "RSP writer: transfer REF1: paid invoices add up to 60.00, but the 071 declares 100.00"
        );
        assert!(matches!(w.end_payee(), Err(RspError::Poisoned)));

        // Over: refused at the invoice that overshoots.
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        w.begin_transfer(&transfer("REF2", "100.00")).unwrap();
        w.paid_invoice(&invoice(1, Origin::Dre), amount("60"), amount("60"))
            .unwrap();
        let err = w
            .paid_invoice(&invoice(2, Origin::Dre), amount("60"), amount("40.01"))
            .unwrap_err();
        assert!(matches!(err, RspError::TransferSum { .. }), "{err}");

        // Empty transfer.
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        w.begin_transfer(&transfer("REF3", "1.00")).unwrap();
        assert!(matches!(
            w.end_transfer(),
            Err(RspError::TransferSum { .. })
        ));
    }

    #[test]
    fn amounts_are_checked() {
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        assert!(matches!(
            w.begin_transfer(&transfer("R", "0")),
            Err(RspError::InvalidField {
                field: "amount",
                ..
            })
        ));
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        w.begin_transfer(&transfer("R", "5")).unwrap();
        let err = w
            .paid_invoice(&invoice(9, Origin::Dre), amount("4"), amount("5"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "RSP writer: paid: invoice 9: 5.00 is more than the 4.00 requested"
        );
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        w.begin_transfer(&transfer("R", "5")).unwrap();
        assert!(
            w.paid_invoice(&invoice(9, Origin::Dre), amount("4"), Amount::ZERO)
                .is_err()
        );
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        assert!(
            w.signalement(&invoice(9, Origin::Dre), amount("4"), amount("4.01"))
                .is_err()
        );
    }

    #[test]
    fn file_total_cannot_overflow_its_field() {
        let max = Amount::from_cents(99_999_999_999).unwrap();
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        w.begin_transfer(&Transfer {
            amount: max,
            ..transfer("BIG1", "1")
        })
        .unwrap();
        w.paid_invoice(&invoice(1, Origin::Dre), max, max).unwrap();
        w.end_transfer().unwrap();
        let err = w
            .begin_transfer(&Transfer {
                amount: amount("0.01"),
                ..transfer("BIG2", "1")
            })
            .unwrap_err();
        assert!(matches!(err, RspError::Overflow { width: 11, .. }), "{err}");
    }

    #[test]
    fn identifiers_are_refused_not_altered() {
        for (sender, file_id) in [
            ("", "F1"),
            ("MUT@1", "F1"),
            ("MUTUELLE-TROP-LONGUE", "F1"),
            ("MUT", "F\u{e9}1"),
            ("MUT", " F1"),
            ("MUT", "F1\n"),
            ("MUT", &"F".repeat(21)),
        ] {
            let h = Header {
                sender: sender.into(),
                file_id: file_id.into(),
                ..header()
            };
            assert!(
                matches!(
                    RspWriter::new(Vec::new(), &h),
                    Err(RspError::InvalidField { .. })
                ),
                "{sender:?} {file_id:?}"
            );
        }
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        let long = "X".repeat(36);
        let err = w.begin_transfer(&transfer(&long, "1")).unwrap_err();
        assert!(
            err.to_string().starts_with("RSP writer: reference: "),
            "{err}"
        );
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        assert!(w.begin_transfer(&transfer(&"X".repeat(35), "1")).is_ok());
    }

    #[test]
    fn free_text_is_ascii_upper_and_fits() {
        assert_eq!(
            clean_text("Élodie Œuvre-Straße", 40),
            "ELODIE OEUVRE-STRASSE"
        );
        assert_eq!(clean_text("  a@b\t\n  c\u{7}d ", 40), "AB C D");
        assert_eq!(clean_text("＠full width", 40), "FULL WIDTH");
        assert_eq!(clean_text("abcdef", 4), "ABCD");
        assert_eq!(clean_text("abc def", 4), "ABC ");
        assert!(clean_text("漢字 €", 60).is_ascii());
        assert_eq!(clean_text("", 10), "");
        for s in ["\u{0}\u{1f600}@@\r\n", "é".repeat(100).as_str()] {
            let c = clean_text(s, 60);
            assert!(c.len() <= 60 && c.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'@'));
        }
    }

    /// Accepts `room` bytes, then fails like a full disk.
    struct FullDisk {
        room: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::other("disk full"));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn io_errors_surface_and_poison() {
        let mut w = RspWriter::new(FullDisk { room: 129 }, &header()).unwrap();
        w.begin_payee(&payee()).unwrap();
        // The first record (000 + 040 + 9 bytes of 071) fits; the second not.
        w.begin_transfer(&transfer("R", "200")).unwrap();
        let mut err = None;
        for n in 0..10 {
            if let Err(e) = w.paid_invoice(&invoice(n, Origin::Dre), amount("20"), amount("20")) {
                err = Some(e);
                break;
            }
        }
        assert!(matches!(err, Some(RspError::Io(_))), "{err:?}");
        assert!(matches!(w.end_transfer(), Err(RspError::Poisoned)));
    }

    #[test]
    fn same_input_same_bytes() {
        let run = || {
            let mut w = writer();
            w.begin_payee(&payee()).unwrap();
            w.begin_transfer(&transfer("R", "3")).unwrap();
            for n in 1..=3 {
                w.paid_invoice(&invoice(n, Origin::Dre), amount("1"), amount("1"))
                    .unwrap();
            }
            w.end_transfer().unwrap();
            w.end_payee().unwrap();
            w.finish().unwrap().0
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn entity_ending_on_a_record_boundary_adds_no_blank_record() {
        // 000 (64) + 040 (55) = 119; + 1 signalement (24 + 29) = 172 …
        // Find a count of signalements that makes the stream end at 128·k.
        let base = 64 + 55 + 26 + 26;
        let n = (0..128)
            .find(|n| (base + n * 53) % RECORD_LEN == 0)
            .unwrap();
        let mut w = writer();
        w.begin_payee(&payee()).unwrap();
        for i in 0..n {
            w.signalement(&invoice(i as u32, Origin::Dre), amount("1"), amount("1"))
                .unwrap();
        }
        w.end_payee().unwrap();
        let (out, t) = w.finish().unwrap();
        let recs = records(&out);
        assert_eq!(recs.len() as u64, t.records);
        assert_eq!(recs.len(), (base + n * 53) / RECORD_LEN);
        assert_eq!(recs.last().unwrap()[RECORD_LEN - 1], b'@');
    }
}
