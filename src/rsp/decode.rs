//! Streaming RSP decoder that re-checks every control.
//!
//! It reads the file record by record and entity by entity, holding only the
//! running counts of the open groups, so memory does not grow with the file.
//! Anything it has not been told about is an error, reported with the entity
//! index and the byte offset: a hostile or damaged file must produce a clear
//! message, never a panic and never a silently wrong total.

use std::io::{BufReader, ErrorKind, Read, Write};

use chrono::NaiveDate;
use serde::Serialize;

use super::layout::{self, FieldKind, Layout, MAX_ENTITY_LEN, PREFIX_LEN, RECORD_LEN, TERMINATOR};
use super::{RspError, fmt_cents};
use crate::domain::{Amount, InvoiceNo, Origin, PsId, RejectCode};

/// Status of an AMC part (`199`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Paid to the practitioner by the enclosing transfer.
    #[serde(rename = "P")]
    Paid,
    /// Rejected; a `294` follows.
    #[serde(rename = "R")]
    Rejected,
    /// HTP *signalement*: paid to the member.
    #[serde(rename = "S")]
    Signalement,
}

/// One decoded entity. Serialises to one JSON object whose `"type"` is the
/// 3-digit code; amounts as strings `"12.50"`, dates as `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum Entity {
    #[serde(rename = "000")]
    Header {
        level: u8,
        sender: String,
        recipient: PsId,
        file_id: String,
        created: NaiveDate,
        norm: String,
        version: String,
    },
    #[serde(rename = "040")]
    Payee {
        level: u8,
        ps_id: PsId,
        name: String,
    },
    #[serde(rename = "071")]
    Transfer {
        level: u8,
        execution_date: NaiveDate,
        reference: String,
        amount: Amount,
    },
    #[serde(rename = "102")]
    Invoice {
        level: u8,
        invoice_no: InvoiceNo,
        #[serde(serialize_with = "origin_name")]
        origin: Origin,
        care_date: NaiveDate,
    },
    #[serde(rename = "199")]
    AmcPart {
        level: u8,
        requested: Amount,
        status: Status,
        paid: Amount,
    },
    #[serde(rename = "294")]
    Reject {
        level: u8,
        code: RejectCode,
        label: String,
    },
    #[serde(rename = "990")]
    Control {
        level: u8,
        count: u64,
        amount: Amount,
    },
    #[serde(rename = "999")]
    End {
        level: u8,
        entities: u64,
        total: Amount,
    },
}

/// `DRE` / `NOEMIE`, the words of `claims.csv`, rather than the file's
/// one-letter codes: JSON is for people and scripts.
fn origin_name<S: serde::Serializer>(o: &Origin, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(o.as_str())
}

/// Reads an RSP as a stream of entities, checking nesting and controls.
///
/// Yields each entity once it is read and consistent with what came before;
/// a control is checked when its `990`/`999` arrives, so an error may follow
/// entities already yielded. After the first error, or the end, it yields
/// `None`.
pub fn decode<R: Read>(r: R) -> Decoder<R> {
    Decoder {
        input: Physical::new(BufReader::new(r)),
        expect: Expect::Header,
        entity: 0,
        entity_offset: 0,
        file_paid: 0,
        payee: Group::default(),
        transfer: Group::default(),
        transfer_entity: 0,
        buf: [b' '; MAX_ENTITY_LEN],
        offs: [0; MAX_ENTITY_LEN],
    }
}

/// Prints every entity as one JSON object a line (`tpsettle rsp decode`).
///
/// Lines are written as entities are read; on error the lines before it are
/// already out (useful to see where a file breaks) and the error is returned.
/// Returns the number of entities printed.
pub fn decode_to_json_lines<R: Read, W: Write>(r: R, mut w: W) -> Result<u64, RspError> {
    let mut line = Vec::with_capacity(256);
    let mut n = 0;
    for entity in decode(r) {
        let entity = entity?;
        line.clear();
        serde_json::to_writer(&mut line, &entity)?;
        line.push(b'\n');
        w.write_all(&line)?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

/// What may come next: the grammar of `docs/formats-rsp.md` as states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Header,
    /// `040` or `999`.
    File,
    /// `071`, `102` (unpaid) or `990` closing the payee.
    Payee,
    /// `102` (paid) or `990` closing the transfer.
    Transfer,
    /// The `199` of a paid invoice.
    PaidPart,
    /// The `199` of an invoice under the payee.
    UnpaidPart,
    /// The `294` after a `199` status `R`.
    Reject,
    /// After the `999`: only the padding of its record, then the end.
    Trailer,
    Done,
}

impl Expect {
    /// Level of `code` in this state, or `None` when it cannot come here.
    fn level_of(self, code: &str) -> Option<u8> {
        Some(match (self, code) {
            (Expect::Header, "000") | (Expect::File, "999") => 0,
            (Expect::File, "040") | (Expect::Payee, "990") => 1,
            (Expect::Payee, "071" | "102") | (Expect::Transfer, "990") => 2,
            (Expect::Transfer, "102") | (Expect::UnpaidPart, "199") | (Expect::Reject, "294") => 3,
            (Expect::PaidPart, "199") => 4,
            _ => return None,
        })
    }

    fn describe(self) -> &'static str {
        match self {
            Expect::Header => "000",
            Expect::File => "040 or 999",
            Expect::Payee => "071, 102 or 990",
            Expect::Transfer => "102 or 990",
            Expect::PaidPart | Expect::UnpaidPart => "199",
            Expect::Reject => "294",
            Expect::Trailer | Expect::Done => "the end of the file",
        }
    }
}

/// Running count of an open group, in `u64` cents. Additions saturate: a
/// hostile file cannot make them wrap, and a saturated sum never equals an
/// 11-digit control, so it ends as a control mismatch, not a panic.
#[derive(Debug, Default, Clone, Copy)]
struct Group {
    invoices: u64,
    paid: u64,
    /// The `071` amount, for a transfer group.
    declared: u64,
}

/// The iterator [`decode`] returns; holds only the counts of the open
/// groups and one entity's bytes, whatever the size of the file.
pub struct Decoder<R: Read> {
    input: Physical<BufReader<R>>,
    expect: Expect,
    /// 1-based index of the entity being read.
    entity: u64,
    /// Byte offset where it starts.
    entity_offset: u64,
    /// Sum of the `071` amounts so far.
    file_paid: u64,
    payee: Group,
    transfer: Group,
    /// Index of the open `071`, for messages.
    transfer_entity: u64,
    /// The entity being read and the file offset of each of its bytes (an
    /// entity may straddle two records, so offsets are not contiguous).
    buf: [u8; MAX_ENTITY_LEN],
    offs: [u64; MAX_ENTITY_LEN],
}

impl<R: Read> Iterator for Decoder<R> {
    type Item = Result<Entity, RspError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.expect = Expect::Done;
                None
            }
            Err(e) => {
                self.expect = Expect::Done;
                Some(Err(e))
            }
        }
    }
}

impl<R: Read> Decoder<R> {
    fn step(&mut self) -> Result<Option<Entity>, RspError> {
        match self.expect {
            Expect::Done => return Ok(None),
            Expect::Trailer => {
                self.check_trailer()?;
                return Ok(None);
            }
            _ => {}
        }
        self.entity += 1;
        let Some((l, level)) = self.read_entity()? else {
            return Err(self.malformed(
                self.input.position(),
                format!(
                    "the file ends where {} is expected (truncated? a whole file ends with its 999)",
                    self.expect.describe()
                ),
            ));
        };
        let mut f = Fields {
            layout: l,
            bytes: &self.buf[PREFIX_LEN..l.entity_len() - 1],
            offs: &self.offs[PREFIX_LEN..l.entity_len() - 1],
            idx: 0,
            pos: 0,
            entity: self.entity,
        };
        let entity = parse(&mut f, level)?;
        self.apply(&entity)?;
        Ok(Some(entity))
    }

    /// Reads one entity into `buf`: prefix, body and terminator, checking
    /// that its type may come here, at that level. `None` at a clean end.
    fn read_entity(&mut self) -> Result<Option<(&'static Layout, u8)>, RspError> {
        self.entity_offset = self.input.position();
        let Some(first) = self.input.next_byte().map_err(|e| self.read_error(e))? else {
            return Ok(None);
        };
        self.store(0, first);
        self.read_bytes(1, PREFIX_LEN)?;
        let start = self.entity_offset;
        let code = &self.buf[..3];
        let l = layout::by_code(code).ok_or_else(|| {
            self.malformed(
                start,
                format!("unknown entity type {:?}", String::from_utf8_lossy(code)),
            )
        })?;
        let want = self.expect.level_of(l.code).ok_or_else(|| {
            self.malformed(
                start,
                format!(
                    "entity {} cannot come here: expected {}",
                    l.code,
                    self.expect.describe()
                ),
            )
        })?;
        let level = two_digits(&self.buf[3..5]);
        if level != Some(want) {
            return Err(self.malformed(
                self.offs[3],
                format!(
                    "entity {} has level {:?}, expected {want:02} here",
                    l.code,
                    String::from_utf8_lossy(&self.buf[3..5])
                ),
            ));
        }
        self.read_bytes(PREFIX_LEN, l.entity_len())?;
        self.check_terminator(l)?;
        Ok(Some((l, want)))
    }

    /// Fills `buf[from..to]`; the end of the file there is a truncation.
    fn read_bytes(&mut self, from: usize, to: usize) -> Result<(), RspError> {
        for i in from..to {
            match self.input.next_byte().map_err(|e| self.read_error(e))? {
                Some(b) => self.store(i, b),
                None => {
                    return Err(self.malformed(
                        self.input.position(),
                        format!(
                            "the file ends inside the entity that starts at byte {} (truncated)",
                            self.entity_offset
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn store(&mut self, i: usize, b: (u8, u64)) {
        if let (Some(slot), Some(off)) = (self.buf.get_mut(i), self.offs.get_mut(i)) {
            *slot = b.0;
            *off = b.1;
        }
    }

    /// `@` must end the entity and appear nowhere inside it: a misaligned
    /// field shows up here rather than as a plausible wrong value.
    fn check_terminator(&self, l: &Layout) -> Result<(), RspError> {
        let end = l.entity_len() - 1;
        if let Some(i) = self.buf[..end].iter().position(|&b| b == TERMINATOR) {
            return Err(self.malformed(
                self.offs[i],
                format!("'@' inside entity {} (ends too early?)", l.code),
            ));
        }
        if self.buf[end] != TERMINATOR {
            return Err(self.malformed(
                self.offs[end],
                format!(
                    "entity {} is {} bytes and must end with '@', found {:?}",
                    l.code,
                    l.entity_len(),
                    char::from(self.buf[end])
                ),
            ));
        }
        Ok(())
    }

    /// Updates the running counts with a parsed entity and checks the
    /// controls it closes, then moves to the next state.
    fn apply(&mut self, e: &Entity) -> Result<(), RspError> {
        self.expect = match *e {
            Entity::Header { .. } => Expect::File,
            Entity::Payee { .. } => {
                self.payee = Group::default();
                Expect::Payee
            }
            Entity::Transfer { amount, .. } => self.open_transfer(amount)?,
            Entity::Invoice { .. } => self.count_invoice(),
            Entity::AmcPart {
                requested,
                status,
                paid,
                ..
            } => self.amc_part(requested, status, paid)?,
            Entity::Reject { .. } => Expect::Payee,
            Entity::Control { count, amount, .. } => self.control(count, amount)?,
            Entity::End {
                entities, total, ..
            } => self.end(entities, total)?,
        };
        Ok(())
    }

    fn open_transfer(&mut self, amount: Amount) -> Result<Expect, RspError> {
        if amount.is_zero() {
            return Err(self.malformed(self.entity_offset, "071 amount is 0.00".into()));
        }
        let declared = cents(amount);
        self.file_paid = self
            .file_paid
            .checked_add(declared)
            .ok_or_else(|| self.malformed(self.entity_offset, "total paid overflows".into()))?;
        self.transfer = Group {
            declared,
            ..Group::default()
        };
        self.transfer_entity = self.entity;
        Ok(Expect::Transfer)
    }

    fn count_invoice(&mut self) -> Expect {
        if self.expect == Expect::Transfer {
            self.transfer.invoices += 1;
            Expect::PaidPart
        } else {
            self.payee.invoices += 1;
            Expect::UnpaidPart
        }
    }

    /// Status must fit the place: `P` under a transfer, `R`/`S` under the
    /// payee; paid never above requested, zero exactly when rejected.
    fn amc_part(
        &mut self,
        requested: Amount,
        status: Status,
        paid: Amount,
    ) -> Result<Expect, RspError> {
        let (entity, offset) = (self.entity, self.entity_offset);
        let bad = move |reason: String| {
            Err(RspError::Malformed {
                entity,
                offset,
                reason,
            })
        };
        if paid > requested {
            return bad(format!(
                "199 paid {paid} is more than requested {requested}"
            ));
        }
        match (self.expect, status) {
            (Expect::PaidPart, Status::Paid) if paid.is_zero() => {
                bad("199 status P with 0.00 paid".into())
            }
            (Expect::PaidPart, Status::Paid) => self.pay_into_transfer(paid),
            (Expect::UnpaidPart, Status::Rejected) if !paid.is_zero() => {
                bad(format!("199 status R with {paid} paid"))
            }
            (Expect::UnpaidPart, Status::Rejected) => Ok(Expect::Reject),
            (Expect::UnpaidPart, Status::Signalement) => Ok(Expect::Payee),
            (Expect::PaidPart, _) => bad("199 under a transfer must have status P".into()),
            _ => bad("199 status P outside a transfer".into()),
        }
    }

    fn pay_into_transfer(&mut self, paid: Amount) -> Result<Expect, RspError> {
        let t = &mut self.transfer;
        t.paid = t.paid.saturating_add(cents(paid));
        if t.paid > t.declared {
            let msg = format!(
                "paid invoices reach {} but the 071 (entity #{}) declares {}",
                fmt_cents(t.paid),
                self.transfer_entity,
                fmt_cents(t.declared)
            );
            return Err(self.control_error(msg));
        }
        Ok(Expect::Transfer)
    }

    /// A `990`: closes the transfer (level 02) or the payee (level 01).
    fn control(&mut self, count: u64, amount: Amount) -> Result<Expect, RspError> {
        if self.expect == Expect::Transfer {
            let t = self.transfer;
            let what = format!("the 071 (entity #{})", self.transfer_entity);
            if t.paid != t.declared {
                return Err(self.control_error(format!(
                    "paid invoices add up to {} but {what} declares {}",
                    fmt_cents(t.paid),
                    fmt_cents(t.declared)
                )));
            }
            self.check_990(&what, count, amount, t)?;
            self.payee.invoices = self.payee.invoices.saturating_add(t.invoices);
            self.payee.paid = self.payee.paid.saturating_add(t.declared);
            Ok(Expect::Payee)
        } else {
            self.check_990("the 040", count, amount, self.payee)?;
            Ok(Expect::File)
        }
    }

    fn check_990(&self, what: &str, count: u64, amount: Amount, g: Group) -> Result<(), RspError> {
        if count != g.invoices {
            return Err(self.control_error(format!(
                "990 closing {what} counts {count} invoices, found {}",
                g.invoices
            )));
        }
        if cents(amount) != g.paid {
            return Err(self.control_error(format!(
                "990 closing {what} says {amount} paid, found {}",
                fmt_cents(g.paid)
            )));
        }
        Ok(())
    }

    fn end(&mut self, entities: u64, total: Amount) -> Result<Expect, RspError> {
        if entities != self.entity {
            return Err(self.control_error(format!(
                "999 counts {entities} entities, the file has {}",
                self.entity
            )));
        }
        if cents(total) != self.file_paid {
            return Err(self.control_error(format!(
                "999 total is {total}, the 071 amounts add up to {}",
                fmt_cents(self.file_paid)
            )));
        }
        Ok(Expect::Trailer)
    }

    /// After the `999`: spaces to the end of its record, then nothing.
    fn check_trailer(&mut self) -> Result<(), RspError> {
        self.input.check_padding().map_err(|e| self.read_error(e))
    }

    fn malformed(&self, offset: u64, reason: String) -> RspError {
        RspError::Malformed {
            entity: self.entity,
            offset,
            reason,
        }
    }

    fn control_error(&self, reason: String) -> RspError {
        RspError::Control {
            entity: self.entity,
            offset: self.entity_offset,
            reason,
        }
    }

    fn read_error(&self, e: ReadError) -> RspError {
        match e {
            ReadError::Io(e) => RspError::Io(e),
            ReadError::Bad { offset, reason } => self.malformed(offset, reason),
        }
    }
}

fn cents(a: Amount) -> u64 {
    a.cents().unsigned_abs()
}

fn two_digits(b: &[u8]) -> Option<u8> {
    match b {
        [t, u] if t.is_ascii_digit() && u.is_ascii_digit() => Some((t - b'0') * 10 + (u - b'0')),
        _ => None,
    }
}

/// Builds the entity from its body; positions come from the layout table.
fn parse(f: &mut Fields, level: u8) -> Result<Entity, RspError> {
    Ok(match f.layout.code {
        "000" => {
            let e = Entity::Header {
                level,
                sender: f.ident()?,
                recipient: f.ps_id()?,
                file_id: f.ident()?,
                created: f.date()?,
                norm: f.ident()?,
                version: f.ident()?,
            };
            check_version(f, &e)?;
            e
        }
        "040" => Entity::Payee {
            level,
            ps_id: f.ps_id()?,
            name: f.text()?,
        },
        "071" => Entity::Transfer {
            level,
            execution_date: f.date()?,
            reference: f.ident()?,
            amount: f.amount()?,
        },
        "102" => Entity::Invoice {
            level,
            invoice_no: f.invoice_no()?,
            origin: f.origin()?,
            care_date: f.date()?,
        },
        "199" => Entity::AmcPart {
            level,
            requested: f.amount()?,
            status: f.status()?,
            paid: f.amount()?,
        },
        "294" => Entity::Reject {
            level,
            code: f.reject_code()?,
            label: f.text()?,
        },
        "990" => Entity::Control {
            level,
            count: f.number()?,
            amount: f.amount()?,
        },
        "999" => Entity::End {
            level,
            entities: f.number()?,
            total: f.amount()?,
        },
        other => return Err(f.error(0, format!("no parser for entity {other}"))),
    })
}

/// A later version may move fields: refuse it rather than misread it.
fn check_version(f: &Fields, e: &Entity) -> Result<(), RspError> {
    if let Entity::Header { norm, version, .. } = e
        && (norm != layout::NORM || version != layout::VERSION)
    {
        return Err(f.error(
            0,
            format!(
                "norm {norm:?} version {version:?} is not supported (expected {} {})",
                layout::NORM,
                layout::VERSION
            ),
        ));
    }
    Ok(())
}

/// Walks the fields of one entity body in layout order.
struct Fields<'a> {
    layout: &'static Layout,
    bytes: &'a [u8],
    offs: &'a [u64],
    idx: usize,
    pos: usize,
    entity: u64,
}

impl<'a> Fields<'a> {
    /// The next field's raw bytes (ASCII: the reader refused anything else).
    fn next(&mut self, kind: FieldKind) -> Result<(&'static str, &'a str, usize), RspError> {
        let field = self
            .layout
            .fields
            .get(self.idx)
            .filter(|fl| fl.kind == kind)
            .ok_or_else(|| self.error(self.pos, "internal error: layout mismatch".into()))?;
        let raw = self
            .bytes
            .get(self.pos..self.pos + field.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(|| self.error(self.pos, "internal error: short entity".into()))?;
        let at = self.pos;
        self.idx += 1;
        self.pos += field.len;
        Ok((field.name, raw, at))
    }

    fn error(&self, pos: usize, reason: String) -> RspError {
        let offset = self
            .offs
            .get(pos)
            .or(self.offs.first())
            .copied()
            .unwrap_or_default();
        RspError::Malformed {
            entity: self.entity,
            offset,
            reason,
        }
    }

    fn bad(&self, at: usize, name: &str, raw: &str, what: &str) -> RspError {
        self.error(
            at,
            format!("{} {name}: {raw:?} is not {what}", self.layout.code),
        )
    }

    fn text(&mut self) -> Result<String, RspError> {
        let (_, raw, _) = self.next(FieldKind::Text)?;
        Ok(raw.trim_end().to_owned())
    }

    fn ident(&mut self) -> Result<String, RspError> {
        let (name, raw, at) = self.next(FieldKind::Ident)?;
        let v = raw.trim_end();
        if v.is_empty() || v.starts_with(' ') {
            return Err(self.bad(at, name, raw, "a left-aligned identifier"));
        }
        Ok(v.to_owned())
    }

    fn ps_id(&mut self) -> Result<PsId, RspError> {
        let (name, raw, at) = self.next(FieldKind::Ident)?;
        raw.parse()
            .map_err(|_| self.bad(at, name, raw, "a practitioner id"))
    }

    fn reject_code(&mut self) -> Result<RejectCode, RspError> {
        let (name, raw, at) = self.next(FieldKind::Ident)?;
        raw.trim_end()
            .parse()
            .map_err(|_| self.bad(at, name, raw, "a reject code (1 to 8 letters or digits)"))
    }

    fn digits(&mut self, kind: FieldKind) -> Result<(u64, &'static str, &'a str, usize), RspError> {
        let (name, raw, at) = self.next(kind)?;
        let n = raw.bytes().try_fold(0u64, |n, b| {
            b.is_ascii_digit()
                .then(|| n.checked_mul(10)?.checked_add(u64::from(b - b'0')))
                .flatten()
        });
        match n {
            Some(n) => Ok((n, name, raw, at)),
            None => Err(self.bad(at, name, raw, "a zero-padded number")),
        }
    }

    fn number(&mut self) -> Result<u64, RspError> {
        Ok(self.digits(FieldKind::Number)?.0)
    }

    fn invoice_no(&mut self) -> Result<InvoiceNo, RspError> {
        let (n, name, raw, at) = self.digits(FieldKind::Number)?;
        u32::try_from(n)
            .ok()
            .and_then(|n| InvoiceNo::new(n).ok())
            .ok_or_else(|| self.bad(at, name, raw, "an invoice number"))
    }

    fn amount(&mut self) -> Result<Amount, RspError> {
        let (n, name, raw, at) = self.digits(FieldKind::Cents)?;
        i64::try_from(n)
            .ok()
            .and_then(|c| Amount::from_cents(c).ok())
            .ok_or_else(|| self.bad(at, name, raw, "an amount in cents"))
    }

    fn date(&mut self) -> Result<NaiveDate, RspError> {
        let (name, raw, at) = self.next(FieldKind::Date)?;
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let s = raw.get(r)?;
            s.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| s.parse().ok())
                .flatten()
        };
        num(0..4)
            .zip(num(4..6))
            .zip(num(6..8))
            .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d))
            .ok_or_else(|| self.bad(at, name, raw, "a date YYYYMMDD"))
    }

    fn origin(&mut self) -> Result<Origin, RspError> {
        let (name, raw, at) = self.next(FieldKind::Code)?;
        match raw {
            "D" => Ok(Origin::Dre),
            "N" => Ok(Origin::Noemie),
            _ => Err(self.bad(at, name, raw, "D (DRE) or N (Noemie)")),
        }
    }

    fn status(&mut self) -> Result<Status, RspError> {
        let (name, raw, at) = self.next(FieldKind::Code)?;
        match raw {
            "P" => Ok(Status::Paid),
            "R" => Ok(Status::Rejected),
            "S" => Ok(Status::Signalement),
            _ => Err(self.bad(at, name, raw, "P, R or S")),
        }
    }
}

/// A fault below the entity level, before the decoder adds the entity index.
enum ReadError {
    Io(std::io::Error),
    Bad { offset: u64, reason: String },
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// The physical layer: 128-byte records, each ended by `\n` (or `\r\n`, in
/// case a file went through a text-mode transfer), served byte by byte with
/// each byte's offset in the file.
struct Physical<R: Read> {
    inner: R,
    rec: [u8; RECORD_LEN],
    /// Next unread byte of `rec`; `RECORD_LEN` when it is used up.
    pos: usize,
    /// File offset of `rec[0]`.
    rec_offset: u64,
    /// File offset where the next record starts.
    next_offset: u64,
}

impl<R: Read> Physical<R> {
    fn new(inner: R) -> Self {
        Physical {
            inner,
            rec: [b' '; RECORD_LEN],
            pos: RECORD_LEN,
            rec_offset: 0,
            next_offset: 0,
        }
    }

    /// Offset of the next byte `next_byte` would return.
    fn position(&self) -> u64 {
        if self.pos < RECORD_LEN {
            self.rec_offset + self.pos as u64
        } else {
            self.next_offset
        }
    }

    /// The next data byte and its offset; `None` at the end of the file
    /// (only ever on a record boundary: a partial record is an error).
    fn next_byte(&mut self) -> Result<Option<(u8, u64)>, ReadError> {
        if self.pos >= RECORD_LEN && !self.load()? {
            return Ok(None);
        }
        let b = self.rec[self.pos];
        let offset = self.rec_offset + self.pos as u64;
        self.pos += 1;
        if !(b' '..=b'~').contains(&b) {
            return Err(ReadError::Bad {
                offset,
                reason: format!("byte 0x{b:02X} is not printable ASCII"),
            });
        }
        Ok(Some((b, offset)))
    }

    /// Loads the next record; `false` at a clean end of file.
    fn load(&mut self) -> Result<bool, ReadError> {
        let start = self.next_offset;
        let n = read_full(&mut self.inner, &mut self.rec)?;
        if n == 0 {
            return Ok(false);
        }
        if let Some(i) = self.rec[..n].iter().position(|&b| b == b'\n' || b == b'\r') {
            return Err(ReadError::Bad {
                offset: start + i as u64,
                reason: format!("record ends after {i} bytes: records are {RECORD_LEN} bytes"),
            });
        }
        if n < RECORD_LEN {
            return Err(ReadError::Bad {
                offset: start + n as u64,
                reason: format!(
                    "last record has {n} bytes, records are {RECORD_LEN} (truncated file?)"
                ),
            });
        }
        let sep = self.separator(start + RECORD_LEN as u64)?;
        self.rec_offset = start;
        self.next_offset = start + RECORD_LEN as u64 + sep;
        self.pos = 0;
        Ok(true)
    }

    /// Length of the line end after a record: 1 (`\n`) or 2 (`\r\n`).
    fn separator(&mut self, offset: u64) -> Result<u64, ReadError> {
        let bad = |reason: String| Err(ReadError::Bad { offset, reason });
        match self.byte()? {
            Some(b'\n') => Ok(1),
            Some(b'\r') => match self.byte()? {
                Some(b'\n') => Ok(2),
                _ => bad("carriage return not followed by a line feed".into()),
            },
            Some(b) => bad(format!(
                "a {RECORD_LEN}-byte record must end with a line feed, found byte 0x{b:02X}"
            )),
            None => bad("the last record has no line feed (truncated file?)".into()),
        }
    }

    fn byte(&mut self) -> std::io::Result<Option<u8>> {
        let mut b = [0u8; 1];
        Ok((read_full(&mut self.inner, &mut b)? == 1).then_some(b[0]))
    }

    /// After the `999`: the rest of its record must be spaces and no record
    /// may follow.
    fn check_padding(&mut self) -> Result<(), ReadError> {
        while self.pos < RECORD_LEN {
            let offset = self.rec_offset + self.pos as u64;
            if self.rec[self.pos] != b' ' {
                return Err(ReadError::Bad {
                    offset,
                    reason: "only space padding may follow the 999 entity".into(),
                });
            }
            self.pos += 1;
        }
        let offset = self.next_offset;
        if self.load()? {
            return Err(ReadError::Bad {
                offset,
                reason: "a record follows the one holding the 999 entity".into(),
            });
        }
        Ok(())
    }
}

/// Reads until `buf` is full or the input ends; the count read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::writer::tests::{amount, date, header, invoice, payee, records, transfer};
    use super::super::{Header as FileHeader, RspTotals, RspWriter};
    use super::*;

    const RECORD: usize = RECORD_LEN + 1;

    /// The worked example of `docs/formats-rsp.md`: a 2-invoice payment,
    /// one rejection, one signalement.
    pub fn sample() -> Vec<u8> {
        let mut w = RspWriter::new(Vec::new(), &header()).unwrap();
        w.begin_payee(&payee()).unwrap();
        w.begin_transfer(&transfer("TPS-20250317-000001", "80.00"))
            .unwrap();
        w.paid_invoice(&invoice(42, Origin::Dre), amount("50"), amount("50"))
            .unwrap();
        w.paid_invoice(&invoice(43, Origin::Noemie), amount("35"), amount("30"))
            .unwrap();
        w.end_transfer().unwrap();
        w.rejected_invoice(
            &invoice(7, Origin::Dre),
            amount("12.50"),
            &"R02".parse().unwrap(),
            "Pas d'accord tiers-payant à la réception",
        )
        .unwrap();
        w.signalement(&invoice(8, Origin::Noemie), amount("20"), amount("20"))
            .unwrap();
        w.end_payee().unwrap();
        w.finish().unwrap().0
    }

    fn decode_all(bytes: &[u8]) -> Result<Vec<Entity>, RspError> {
        decode(bytes).collect()
    }

    /// The entity stream without its framing, to edit entities in place.
    fn unframe(bytes: &[u8]) -> String {
        records(bytes)
            .iter()
            .map(|r| std::str::from_utf8(r).unwrap())
            .collect()
    }

    fn reframe(stream: &str) -> Vec<u8> {
        assert_eq!(stream.len() % RECORD_LEN, 0);
        let mut out = Vec::new();
        for r in stream.as_bytes().chunks(RECORD_LEN) {
            out.extend_from_slice(r);
            out.push(b'\n');
        }
        out
    }

    /// `sample()` with one same-length substring replaced.
    fn edited(from: &str, to: &str) -> Vec<u8> {
        assert_eq!(from.len(), to.len());
        let s = unframe(&sample());
        assert_eq!(s.matches(from).count(), 1, "{from}");
        reframe(&s.replacen(from, to, 1))
    }

    fn err_of(bytes: &[u8]) -> RspError {
        match decode_all(bytes) {
            Err(e) => e,
            Ok(v) => panic!("decoded {} entities without error", v.len()),
        }
    }

    fn ps(s: &str) -> PsId {
        s.parse().unwrap()
    }

    fn no(n: u32) -> InvoiceNo {
        InvoiceNo::new(n).unwrap()
    }

    #[test]
    fn round_trip_gives_back_every_value() {
        let h = FileHeader {
            sender: "MUT-0001/B".into(),
            ..header()
        };
        let mut w = RspWriter::new(Vec::new(), &h).unwrap();
        w.begin_payee(&payee()).unwrap();
        w.rejected_invoice(
            &invoice(900, Origin::Noemie),
            amount("99.99"),
            &"R04".parse().unwrap(),
            "Montant AMC > ticket modérateur : contactez gestion@mutuelle.fr",
        )
        .unwrap();
        w.begin_transfer(&transfer("TPS-A", "130.45")).unwrap();
        w.paid_invoice(&invoice(1, Origin::Dre), amount("100"), amount("100"))
            .unwrap();
        w.paid_invoice(
            &invoice(999_999_999, Origin::Noemie),
            amount("40"),
            amount("30.45"),
        )
        .unwrap();
        w.end_transfer().unwrap();
        w.signalement(&invoice(2, Origin::Dre), amount("15.10"), amount("15.10"))
            .unwrap();
        w.begin_transfer(&transfer("TPS-B", "0.01")).unwrap();
        w.paid_invoice(&invoice(0, Origin::Dre), amount("0.01"), amount("0.01"))
            .unwrap();
        w.end_transfer().unwrap();
        w.rejected_invoice(
            &invoice(3, Origin::Dre),
            amount("7"),
            &"R01".parse().unwrap(),
            "Praticien inconnu — «Cœur» d'Hôpital",
        )
        .unwrap();
        w.end_payee().unwrap();
        let (bytes, totals) = w.finish().unwrap();

        let care = date("2025-03-10");
        let exec = date("2025-03-17");
        use Entity::*;
        let part = |level, r: &str, status, p: &str| AmcPart {
            level,
            requested: amount(r),
            status,
            paid: amount(p),
        };
        let inv = |level, n, origin| Invoice {
            level,
            invoice_no: no(n),
            origin,
            care_date: care,
        };
        let expected = vec![
            Header {
                level: 0,
                sender: "MUT-0001/B".into(),
                recipient: ps("123456789"),
                file_id: "RSP-20250314-0001".into(),
                created: date("2025-03-14"),
                norm: "RSP".into(),
                version: "0100".into(),
            },
            Payee {
                level: 1,
                ps_id: ps("123456789"),
                name: "PHARMACIE DE L'EGLISE".into(),
            },
            inv(2, 900, Origin::Noemie),
            part(3, "99.99", Status::Rejected, "0"),
            Reject {
                level: 3,
                code: "R04".parse().unwrap(),
                label: "MONTANT AMC > TICKET MODERATEUR : CONTACTEZ GESTIONMUTUELLE.".into(),
            },
            Transfer {
                level: 2,
                execution_date: exec,
                reference: "TPS-A".into(),
                amount: amount("130.45"),
            },
            inv(3, 1, Origin::Dre),
            part(4, "100", Status::Paid, "100"),
            inv(3, 999_999_999, Origin::Noemie),
            part(4, "40", Status::Paid, "30.45"),
            Control {
                level: 2,
                count: 2,
                amount: amount("130.45"),
            },
            inv(2, 2, Origin::Dre),
            part(3, "15.10", Status::Signalement, "15.10"),
            Transfer {
                level: 2,
                execution_date: exec,
                reference: "TPS-B".into(),
                amount: amount("0.01"),
            },
            inv(3, 0, Origin::Dre),
            part(4, "0.01", Status::Paid, "0.01"),
            Control {
                level: 2,
                count: 1,
                amount: amount("0.01"),
            },
            inv(2, 3, Origin::Dre),
            part(3, "7", Status::Rejected, "0"),
            Reject {
                level: 3,
                code: "R01".parse().unwrap(),
                label: "PRATICIEN INCONNU -- <<COEUR>> D'HOPITAL".into(),
            },
            Control {
                level: 1,
                count: 6,
                amount: amount("130.46"),
            },
            End {
                level: 0,
                entities: 22,
                total: amount("130.46"),
            },
        ];
        assert_eq!(decode_all(&bytes).unwrap(), expected);
        assert_eq!(
            totals,
            RspTotals {
                entities: 22,
                records: (bytes.len() / RECORD) as u64,
                payees: 1,
                transfers: 2,
                paid_invoices: 3,
                rejected: 2,
                signalements: 1,
                total_paid: amount("130.46"),
            }
        );
        records(&bytes);
    }

    /// The bytes shown in `docs/formats-rsp.md`: the doc cannot go stale.
    #[test]
    fn worked_example_of_the_docs() {
        let expected = concat!(
            "00000MUTTEST0001   123456789RSP-20250314-0001   20250314RSP0100@04001123456789PHARMACIE DE L'EGLISE                   @071022025\n",
            "0317TPS-20250317-000001                00000008000@10203000000042D20250310@1990400000005000P00000005000@10203000000043N20250310@\n",
            "1990400000003500P00000003000@9900200000000200000008000@10202000000007D20250310@1990300000001250R00000000000@29403R02     PAS D'A\n",
            "CCORD TIERS-PAYANT A LA RECEPTION                    @10202000000008N20250310@1990300000002000S00000002000@990010000000040000000\n",
            "8000@9990000000001500000008000@                                                                                                 \n",
        );
        assert_eq!(String::from_utf8(sample()).unwrap(), expected);
    }

    #[test]
    fn json_lines_use_the_contract_names() {
        let mut out = Vec::new();
        let n = decode_to_json_lines(&sample()[..], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(n, 15);
        assert_eq!(
            lines,
            [
                r#"{"type":"000","level":0,"sender":"MUTTEST0001","recipient":"123456789","file_id":"RSP-20250314-0001","created":"2025-03-14","norm":"RSP","version":"0100"}"#,
                r#"{"type":"040","level":1,"ps_id":"123456789","name":"PHARMACIE DE L'EGLISE"}"#,
                r#"{"type":"071","level":2,"execution_date":"2025-03-17","reference":"TPS-20250317-000001","amount":"80.00"}"#,
                r#"{"type":"102","level":3,"invoice_no":42,"origin":"DRE","care_date":"2025-03-10"}"#,
                r#"{"type":"199","level":4,"requested":"50.00","status":"P","paid":"50.00"}"#,
                r#"{"type":"102","level":3,"invoice_no":43,"origin":"NOEMIE","care_date":"2025-03-10"}"#,
                r#"{"type":"199","level":4,"requested":"35.00","status":"P","paid":"30.00"}"#,
                r#"{"type":"990","level":2,"count":2,"amount":"80.00"}"#,
                r#"{"type":"102","level":2,"invoice_no":7,"origin":"DRE","care_date":"2025-03-10"}"#,
                r#"{"type":"199","level":3,"requested":"12.50","status":"R","paid":"0.00"}"#,
                r#"{"type":"294","level":3,"code":"R02","label":"PAS D'ACCORD TIERS-PAYANT A LA RECEPTION"}"#,
                r#"{"type":"102","level":2,"invoice_no":8,"origin":"NOEMIE","care_date":"2025-03-10"}"#,
                r#"{"type":"199","level":3,"requested":"20.00","status":"S","paid":"20.00"}"#,
                r#"{"type":"990","level":1,"count":4,"amount":"80.00"}"#,
            ]
            .iter()
            .chain([&r#"{"type":"999","level":0,"entities":15,"total":"80.00"}"#])
            .copied()
            .collect::<Vec<_>>()[..]
        );
    }

    #[test]
    fn decodes_from_a_file() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&sample()).unwrap();
        std::io::Seek::rewind(&mut f).unwrap();
        let mut out = Vec::new();
        assert_eq!(decode_to_json_lines(f, &mut out).unwrap(), 15);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 15);
    }

    #[test]
    fn every_record_is_128_bytes_and_a_line_feed() {
        let bytes = sample();
        let recs = records(&bytes);
        assert_eq!(recs.len(), 5); // 543 bytes of entities
        assert!(bytes.iter().filter(|&&b| b == b'\n').count() == recs.len());
    }

    #[test]
    fn hundred_thousand_invoices() {
        const N: u32 = 100_000;
        let paid = |i: u32| Amount::from_cents(i64::from(i % 10_000) + 1).unwrap();
        let total: Amount = (0..N).map(paid).sum();
        let mut w = RspWriter::new(Vec::new(), &header()).unwrap();
        w.begin_payee(&payee()).unwrap();
        w.begin_transfer(&super::super::Transfer {
            amount: total,
            ..transfer("TPS-BIG", "1")
        })
        .unwrap();
        for i in 0..N {
            let origin = if i % 3 == 0 {
                Origin::Noemie
            } else {
                Origin::Dre
            };
            w.paid_invoice(&invoice(i, origin), paid(i), paid(i))
                .unwrap();
        }
        w.end_transfer().unwrap();
        w.end_payee().unwrap();
        let (bytes, totals) = w.finish().unwrap();
        assert_eq!(totals.paid_invoices, u64::from(N));
        assert_eq!(totals.entities, 2 * u64::from(N) + 6);
        assert_eq!(totals.total_paid, total);
        assert_eq!(bytes.len() % RECORD, 0);

        let (mut n, mut sum, mut invoices) = (0u64, Amount::ZERO, 0u64);
        let mut last = None;
        for e in decode(&bytes[..]) {
            let e = e.unwrap();
            n += 1;
            match e {
                Entity::AmcPart { paid, .. } => sum = sum + paid,
                Entity::Invoice { .. } => invoices += 1,
                _ => {}
            }
            last = Some(e);
        }
        assert_eq!((n, invoices, sum), (totals.entities, u64::from(N), total));
        assert_eq!(
            last,
            Some(Entity::End {
                level: 0,
                entities: totals.entities,
                total
            })
        );
    }

    #[test]
    fn corrupted_controls_are_caught() {
        let cases = [
            // 990 of the transfer: count, then amount.
            (
                "9900200000000200000008000@",
                "9900200000000300000008000@",
                8,
                "counts 3 invoices, found 2",
            ),
            (
                "9900200000000200000008000@",
                "9900200000000200000008001@",
                8,
                "says 80.01 paid, found 80.00",
            ),
            // 990 of the payee.
            (
                "9900100000000400000008000@",
                "9900100000000500000008000@",
                14,
                "990 closing the 040 counts 5",
            ),
            (
                "9900100000000400000008000@",
                "9900100000000400000007000@",
                14,
                "says 70.00 paid",
            ),
            // 999.
            (
                "9990000000001500000008000@",
                "9990000000001600000008000@",
                15,
                "999 counts 16 entities, the file has 15",
            ),
            (
                "9990000000001500000008000@",
                "9990000000001500000008010@",
                15,
                "999 total is 80.10",
            ),
            // 071 no longer the sum of its invoices, 990 and 999 agreeing with it.
            (
                "TPS-20250317-000001                00000008000@",
                "TPS-20250317-000001                00000008500@",
                8,
                "add up to 80.00 but the 071 (entity #3) declares 85.00",
            ),
            // A paid amount raised past the 071.
            (
                "1990400000003500P00000003000@",
                "1990400000003500P00000003001@",
                7,
                "reach 80.01",
            ),
        ];
        for (from, to, entity, msg) in cases {
            let mut s = unframe(&sample());
            s = s.replacen(from, to, 1);
            if from.starts_with("TPS") {
                s = s
                    .replacen(
                        "9900200000000200000008000@",
                        "9900200000000200000008500@",
                        1,
                    )
                    .replacen(
                        "9900100000000400000008000@",
                        "9900100000000400000008500@",
                        1,
                    )
                    .replacen(
                        "9990000000001500000008000@",
                        "9990000000001500000008500@",
                        1,
                    );
            }
            match err_of(&reframe(&s)) {
                RspError::Control {
                    entity: e, reason, ..
                } => {
                    assert_eq!(e, entity, "{reason}");
                    assert!(reason.contains(msg), "{reason:?} lacks {msg:?}");
                }
                other => panic!("{to}: {other}"),
            }
        }
    }

    #[test]
    fn structure_errors_name_entity_and_byte() {
        let bytes = sample();
        // A non-ASCII byte at a known place: byte 130 is the 3rd of record 2.
        let mut b = bytes.clone();
        b[130] = 0xC3;
        let e = err_of(&b);
        assert!(matches!(e, RspError::Malformed { offset: 130, .. }), "{e}");
        assert!(
            e.to_string().contains("byte 0xC3 is not printable ASCII"),
            "{e}"
        );

        let cases: [(&str, &str, &str); 8] = [
            (
                "10203000000042D",
                "10204000000042D",
                "has level \"04\", expected 03",
            ),
            (
                "10203000000042D",
                "10203000000042X",
                "origin: \"X\" is not D (DRE) or N",
            ),
            (
                "1990400000005000P",
                "1990400000005000S",
                "must have status P",
            ),
            (
                "20250310@1990300000002000S",
                "20250231@1990300000002000S",
                "care_date: \"20250231\"",
            ),
            (
                "04001123456789",
                "04001123456a89",
                "is not a practitioner id",
            ),
            ("RSP0100@", "RSP0200@", "version \"0200\" is not supported"),
            ("29403R02  ", "29403R-2  ", "is not a reject code"),
            (
                "1990300000001250R00000000000@",
                "1990300000001250R00000000001@",
                "status R with 0.01 paid",
            ),
        ];
        for (from, to, msg) in cases {
            let e = err_of(&edited(from, to));
            assert!(matches!(e, RspError::Malformed { .. }), "{e}");
            assert!(e.to_string().contains(msg), "{e} lacks {msg:?}");
        }

        // An entity out of place: swap a paid 199 for an unpaid one's type.
        let e = err_of(&edited(
            "9900200000000200000008000@",
            "9990000000000200000008000@",
        ));
        assert!(
            e.to_string()
                .contains("entity 999 cannot come here: expected 102 or 990"),
            "{e}"
        );
        let e = err_of(&edited(
            "9900200000000200000008000@",
            "5550200000000200000008000@",
        ));
        assert!(e.to_string().contains("unknown entity type \"555\""), "{e}");
        // '@' inside an entity.
        let e = err_of(&edited("PHARMACIE", "PHARM@CIE"));
        assert!(e.to_string().contains("'@' inside entity 040"), "{e}");
    }

    #[test]
    fn framing_errors() {
        let bytes = sample();
        // Trailing data after the 999's record.
        let mut b = bytes.clone();
        b.extend_from_slice(&bytes[..RECORD]);
        assert!(
            err_of(&b).to_string().contains("a record follows"),
            "{}",
            err_of(&b)
        );
        // Non-space padding after the 999.
        let mut b = bytes.clone();
        let last = b.len() - 2;
        b[last] = b'X';
        assert!(err_of(&b).to_string().contains("only space padding"));
        // A short line.
        let mut b = bytes.clone();
        b.remove(10);
        let e = err_of(&b);
        assert!(e.to_string().contains("record ends after 127 bytes"), "{e}");
        // CRLF line ends are accepted and give the same entities.
        let crlf: Vec<u8> = bytes
            .iter()
            .flat_map(|&c| {
                if c == b'\n' {
                    vec![b'\r', b'\n']
                } else {
                    vec![c]
                }
            })
            .collect();
        assert_eq!(decode_all(&crlf).unwrap(), decode_all(&bytes).unwrap());
        // Empty input.
        let e = err_of(b"");
        assert!(
            e.to_string()
                .contains("the file ends where 000 is expected"),
            "{e}"
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample();
        for cut in 0..bytes.len() {
            let r = decode_all(&bytes[..cut]);
            assert!(r.is_err(), "cut at {cut} decoded");
        }
        assert!(decode_all(&bytes).is_ok());
    }

    /// SplitMix64: deterministic, dependency-free randomness for fuzzing.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        /// A byte biased towards what the format is made of.
        fn byte(&mut self) -> u8 {
            const INTERESTING: &[u8] = b"0123456789@ \n\rPRSDN9";
            match self.below(4) {
                0 => self.next() as u8,
                _ => INTERESTING[self.below(INTERESTING.len())],
            }
        }
    }

    #[test]
    fn hostile_input_never_panics() {
        let valid = sample();
        let mut rng = Rng(0x5EED_2025);
        let mut detected = 0;
        for round in 0..20_000 {
            let mut b = valid.clone();
            for _ in 0..=rng.below(3) {
                let i = rng.below(b.len());
                match rng.below(8) {
                    0 => {
                        b.remove(i);
                    }
                    1 => b.insert(i, rng.byte()),
                    _ => b[i] = rng.byte(),
                }
            }
            // Whatever happens, the iterator ends and never panics.
            let results: Vec<_> = decode(&b[..]).collect();
            assert!(results.len() <= 16, "round {round}");
            if results.iter().any(Result::is_err) {
                detected += 1;
            }
        }
        // Most single-byte damage lands on a checked field.
        assert!(detected > 15_000, "only {detected} of 20000 detected");

        // Pure garbage of every small length, and numbers at their maximum.
        for len in 0..600 {
            let g: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
            let _ = decode_all(&g);
        }
        let nines = unframe(&valid)
            .bytes()
            .map(|c| if c.is_ascii_digit() { b'9' } else { c })
            .collect::<Vec<u8>>();
        let _ = decode_all(&reframe(std::str::from_utf8(&nines).unwrap()));
    }

    #[test]
    fn iterator_stops_after_the_first_error() {
        let b = edited("9900200000000200000008000@", "9900200000000300000008000@");
        let mut it = decode(&b[..]);
        let oks = it.by_ref().take_while(Result::is_ok).count();
        assert_eq!(oks, 7);
        assert!(it.next().is_none());
    }
}
