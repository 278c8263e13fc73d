//! Field positions of every RSP entity: the single source of truth shared by
//! the writer and the decoder, so the two cannot drift apart.
//!
//! An entity is `TTT` (type) + `NN` (level) + the fields below, in order,
//! each exactly `len` bytes, + the terminator `@`. Offsets are not stored:
//! they follow from the order, which is what `docs/formats-rsp.md` tabulates.

/// Length of one physical record, before its line feed.
pub const RECORD_LEN: usize = 128;

/// Ends every entity. Never appears inside a field (the writer strips it and
/// the decoder refuses it), so a misaligned reader notices at once.
pub const TERMINATOR: u8 = b'@';

/// Type (3 digits) + level (2 digits), in front of every entity body.
pub const PREFIX_LEN: usize = 5;

/// Norm and version written in the `000` header; the decoder refuses others.
pub const NORM: &str = "RSP";
pub const VERSION: &str = "0100";

/// Width of an amount in cents: 11 digits is exactly the range of
/// `Amount` (0.00 to 999 999 999.99), so every amount in a file is a valid
/// `Amount` and nothing can be silently cut.
pub const AMOUNT_LEN: usize = 11;

/// Width of counts (`990` count, `999` entity count).
pub const COUNT_LEN: usize = 9;

/// Largest value a count field can hold.
pub const MAX_COUNT: u64 = 999_999_999;

/// `YYYYMMDD`.
pub const DATE_LEN: usize = 8;

/// How a field's bytes are encoded; drives both sides and the docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text (names, labels): transliterated to ASCII, upper-cased,
    /// left-aligned, space-padded, truncated to the width.
    Text,
    /// An identifier kept verbatim (it must match another system byte for
    /// byte): printable ASCII, left-aligned, space-padded, never truncated.
    Ident,
    /// Unsigned integer, right-aligned, zero-padded.
    Number,
    /// Amount in cents, right-aligned, zero-padded.
    Cents,
    /// Calendar date `YYYYMMDD`.
    Date,
    /// One-letter code.
    Code,
}

/// One fixed-width field of an entity body.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Also the JSON name the decoder gives the field.
    pub name: &'static str,
    pub len: usize,
    pub kind: FieldKind,
}

/// The shape of one entity type.
#[derive(Debug)]
pub struct Layout {
    pub code: &'static str,
    pub fields: &'static [Field],
}

impl Layout {
    /// Bytes between the prefix and the terminator.
    pub const fn body_len(&self) -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < self.fields.len() {
            n += self.fields[i].len;
            i += 1;
        }
        n
    }

    /// Whole entity, prefix and terminator included.
    pub const fn entity_len(&self) -> usize {
        PREFIX_LEN + self.body_len() + 1
    }
}

const fn f(name: &'static str, len: usize, kind: FieldKind) -> Field {
    Field { name, len, kind }
}

use FieldKind::{Cents, Code, Date, Ident, Number, Text};

/// File header, level 00.
pub const E000: Layout = Layout {
    code: "000",
    fields: &[
        f("sender", 14, Ident),
        f("recipient", 9, Ident),
        f("file_id", 20, Ident),
        f("created", DATE_LEN, Date),
        f("norm", 3, Ident),
        f("version", 4, Ident),
    ],
};

/// Payee (*destinataire de règlement*), level 01.
pub const E040: Layout = Layout {
    code: "040",
    fields: &[f("ps_id", 9, Ident), f("name", 40, Text)],
};

/// One bank transfer, level 02.
pub const E071: Layout = Layout {
    code: "071",
    fields: &[
        f("execution_date", DATE_LEN, Date),
        f("reference", 35, Ident),
        f("amount", AMOUNT_LEN, Cents),
    ],
};

/// One invoice: level 03 under a `071`, level 02 directly under a `040`.
pub const E102: Layout = Layout {
    code: "102",
    fields: &[
        f("invoice_no", 9, Number),
        f("origin", 1, Code),
        f("care_date", DATE_LEN, Date),
    ],
};

/// AMC part of the invoice just above it, one level below that `102`.
pub const E199: Layout = Layout {
    code: "199",
    fields: &[
        f("requested", AMOUNT_LEN, Cents),
        f("status", 1, Code),
        f("paid", AMOUNT_LEN, Cents),
    ],
};

/// Rejection of the invoice just above it, same level as its `199`.
pub const E294: Layout = Layout {
    code: "294",
    fields: &[f("code", 8, Ident), f("label", 60, Text)],
};

/// Control closing a `071` (level 02) or a `040` (level 01).
pub const E990: Layout = Layout {
    code: "990",
    fields: &[
        f("count", COUNT_LEN, Number),
        f("amount", AMOUNT_LEN, Cents),
    ],
};

/// File end, level 00.
pub const E999: Layout = Layout {
    code: "999",
    fields: &[
        f("entities", COUNT_LEN, Number),
        f("total", AMOUNT_LEN, Cents),
    ],
};

/// Every entity type, in file order of first appearance.
pub const ALL: [&Layout; 8] = [&E000, &E040, &E071, &E102, &E199, &E294, &E990, &E999];

/// The layout of a type code, `None` for a type this version does not know.
pub fn by_code(code: &[u8]) -> Option<&'static Layout> {
    ALL.into_iter().find(|l| l.code.as_bytes() == code)
}

/// Longest entity: the decoder's buffer size.
pub const MAX_ENTITY_LEN: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < ALL.len() {
        let n = ALL[i].entity_len();
        if n > max {
            max = n;
        }
        i += 1;
    }
    max
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_the_documented_ones() {
        let lens: Vec<(&str, usize)> = ALL.iter().map(|l| (l.code, l.entity_len())).collect();
        assert_eq!(
            lens,
            [
                ("000", 64),
                ("040", 55),
                ("071", 60),
                ("102", 24),
                ("199", 29),
                ("294", 74),
                ("990", 26),
                ("999", 26)
            ]
        );
        assert_eq!(MAX_ENTITY_LEN, 74);
    }

    #[test]
    fn codes_are_unique_three_digits() {
        for (i, l) in ALL.iter().enumerate() {
            assert_eq!(l.code.len(), 3);
            assert!(l.code.bytes().all(|b| b.is_ascii_digit()));
            assert!(ALL[i + 1..].iter().all(|o| o.code != l.code));
            assert!(by_code(l.code.as_bytes()).is_some());
        }
        assert!(by_code(b"123").is_none());
    }
}
