//! The EPC SEPA character set (EPC217-08, "basic Latin"):
//! `a-z A-Z 0-9 / - ? : ( ) . , ' +` and space.
//!
//! Banks reject, or worse silently mangle, anything outside it, while the
//! ISO 20022 XSD accepts any Unicode. So free text (names, addresses,
//! remittance) is *transliterated* here, and identifiers are *checked*, never
//! rewritten: an id travels back to us in the bank's status reports and in
//! the RSP, and must match what we stored byte for byte.

use std::fmt;

/// True for the characters the EPC allows in any SEPA text field.
pub fn is_sepa_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '/' | '-' | '?' | ':' | '(' | ')' | '.' | ',' | '\'' | '+' | ' '
        )
}

/// Transliterates any Unicode text into the SEPA character set, collapses
/// runs of whitespace, trims, and truncates to at most `max_chars` characters
/// (never leaving a trailing space).
///
/// Letters go through `deunicode` (é→e, Œ→OE, ß→ss, Ø→O, Д→D); the
/// punctuation the EPC conversion table names is mapped to its nearest
/// allowed neighbour (`&`→`+`, quotes→`'`, brackets→parentheses, `_`/dashes
/// →`-`); anything else becomes a space. The result may be empty: the caller
/// decides whether an empty field is an error.
///
/// The output is pure ASCII, so characters and bytes coincide.
pub fn to_sepa_text(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(max_chars.min(256));
    push_sepa_text(s, max_chars, &mut out);
    out
}

/// [`to_sepa_text`] into `out`, which it clears first: the writer reuses one
/// buffer per field instead of allocating two strings per transfer.
pub fn push_sepa_text(s: &str, max_chars: usize, out: &mut String) {
    out.clear();
    let mut sink = Sink {
        out,
        max: max_chars,
        space_pending: false,
        full: max_chars == 0,
    };
    // Names and references are mostly ASCII: a table lookup per byte, and
    // the full transliteration only for the few other characters.
    let bytes = s.as_bytes();
    let mut at = 0;
    while at < bytes.len() && !sink.full {
        if bytes[at].is_ascii() {
            sink.ascii(bytes[at]);
            at += 1;
        } else {
            // `at` only ever moves by whole characters: a char boundary.
            let c = s[at..].chars().next().expect("a character starts here");
            transliterate(c, &mut sink);
            at += c.len_utf8();
        }
    }
}

/// Accumulates allowed characters, folding whitespace and enforcing the limit.
struct Sink<'o> {
    out: &'o mut String,
    max: usize,
    /// A space is owed before the next visible character. Spaces are only
    /// ever written *between* two visible characters, which gives collapse,
    /// trim and "no trailing space after truncation" in one rule.
    space_pending: bool,
    full: bool,
}

impl Sink<'_> {
    fn space(&mut self) {
        self.space_pending = !self.out.is_empty();
    }

    /// `c` is a visible character of the SEPA set (ASCII, not a space).
    fn visible(&mut self, c: u8) {
        debug_assert!(is_sepa_char(char::from(c)) && c != b' ');
        let needed = if self.space_pending { 2 } else { 1 };
        if self.out.len() + needed > self.max {
            self.full = true;
            return;
        }
        if self.space_pending {
            self.out.push(' ');
            self.space_pending = false;
        }
        self.out.push(char::from(c));
    }

    /// One ASCII character, after the EPC-style punctuation mapping.
    fn ascii(&mut self, b: u8) {
        match ASCII_TO_SEPA[usize::from(b & 0x7f)] {
            b' ' => self.space(),
            m => self.visible(m),
        }
    }
}

/// Each ASCII character's image in the SEPA set; a space means "becomes a
/// space" (separators, and characters with no close relative).
static ASCII_TO_SEPA: [u8; 128] = {
    let mut t = [b' '; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = map_ascii(b as u8);
        b += 1;
    }
    t
};

/// Maps one ASCII character to the SEPA set (space: no close relative).
const fn map_ascii(c: u8) -> u8 {
    match c {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => c,
        b'/' | b'-' | b'?' | b':' | b'(' | b')' | b'.' | b',' | b'\'' | b'+' => c,
        b'&' => b'+',
        b'"' | b'`' => b'\'',
        b'<' | b'[' | b'{' => b'(',
        b'>' | b']' | b'}' => b')',
        b'_' | b'~' => b'-',
        b';' => b',',
        b'!' => b'.',
        b'\\' | b'|' => b'/',
        // `@ # $ % * = ^`, controls, tabs, newlines: no close relative.
        _ => b' ',
    }
}

fn transliterate(c: char, sink: &mut Sink<'_>) {
    if c.is_ascii() {
        return sink.ascii(c as u8);
    }
    if c.is_whitespace() {
        return sink.space();
    }
    // Mapped before deunicode, which would give `<<`, `--` or `,,`.
    match c {
        '«' | '»' | '‹' | '›' | '„' | '‚' | '“' | '”' | '‘' | '’' => {
            return sink.visible(b'\'');
        }
        '—' | '–' | '―' | '‒' | '‐' | '‑' | '−' => return sink.visible(b'-'),
        // `N° 12` would otherwise read `Ndeg 12`.
        '°' | 'º' => return sink.space(),
        _ => {}
    }
    if is_pictograph(c) {
        // deunicode spells emoji out ("grinning"): never part of a name.
        return sink.space();
    }
    match deunicode::deunicode_char(c) {
        // Combining accents and zero-width characters map to "": dropped,
        // so that `e` + U+0301 stays one letter `e`.
        Some(ascii) => ascii.bytes().for_each(|a| sink.ascii(a)),
        None => sink.space(),
    }
}

/// Emoji and pictographic blocks.
fn is_pictograph(c: char) -> bool {
    matches!(c as u32, 0x2600..=0x27BF | 0x1F000..=0x1FAFF)
}

/// Longest identifier the EPC allows (`MsgId`, `PmtInfId`, `EndToEndId`).
pub const MAX_ID_CHARS: usize = 35;

/// Why a string is not a usable SEPA identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    Empty,
    TooLong {
        chars: usize,
    },
    /// A character outside the SEPA set, or a space (our stricter rule:
    /// banks and reconciliation tools trim or split on spaces).
    BadChar {
        ch: char,
        position: usize,
    },
    SlashAtEdge,
    DoubleSlash,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::Empty => f.write_str("empty"),
            IdError::TooLong { chars } => {
                write!(f, "{chars} characters, at most {MAX_ID_CHARS} allowed")
            }
            IdError::BadChar { ch, position } => write!(
                f,
                "character {ch:?} at position {position} is outside the SEPA set \
                 (letters, digits, / - ? : ( ) . , ' + and no spaces)"
            ),
            IdError::SlashAtEdge => f.write_str("starts or ends with '/'"),
            IdError::DoubleSlash => f.write_str("contains '//'"),
        }
    }
}

impl std::error::Error for IdError {}

/// Checks an identifier against the EPC rules: 1–35 characters of the SEPA
/// set, no space, no leading or trailing `/`, no `//`.
///
/// It checks rather than converts because forming ids is the caller's job
/// and an id rewritten here would no longer match the one stored.
pub fn check_sepa_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    // Every id of every transfer passes here: bytes first, and the
    // character-by-character search below only to say what is wrong.
    let plain = |b: &u8| b.is_ascii() && *b != b' ' && ASCII_TO_SEPA[usize::from(*b)] == *b;
    if id.len() <= MAX_ID_CHARS && id.as_bytes().iter().all(plain) {
        return check_slashes(id);
    }
    let chars = id.chars().count();
    if chars > MAX_ID_CHARS {
        return Err(IdError::TooLong { chars });
    }
    if let Some((position, ch)) = id
        .chars()
        .enumerate()
        .find(|&(_, c)| c == ' ' || !is_sepa_char(c))
    {
        return Err(IdError::BadChar { ch, position });
    }
    check_slashes(id)
}

fn check_slashes(id: &str) -> Result<(), IdError> {
    if id.starts_with('/') || id.ends_with('/') {
        return Err(IdError::SlashAtEdge);
    }
    if id.as_bytes().windows(2).any(|w| w == b"//") {
        return Err(IdError::DoubleSlash);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "Ørsted & Fils <SARL> \"Œuvre\" — Saint-Étienne";

    #[test]
    fn the_brief_example() {
        assert_eq!(
            to_sepa_text(HOSTILE, 70),
            "Orsted + Fils (SARL) 'OEuvre' - Saint-Etienne"
        );
    }

    #[test]
    fn letters_and_punctuation() {
        let cases = [
            ("Müller-Lüdenscheidt", "Muller-Ludenscheidt"),
            ("Straße", "Strasse"),
            ("Œdipe cœur", "OEdipe coeur"),
            ("L’Haÿ-les-Roses", "L'Hay-les-Roses"),
            ("«Le Bon Coin»", "'Le Bon Coin'"),
            ("a_b [c] {d}", "a-b (c) (d)"),
            ("Cabinet N° 12", "Cabinet N 12"),
            ("e\u{301}te\u{301}", "ete"),
            ("  lots \t of \n\r space  ", "lots of space"),
            ("x@y#z$%", "x y z"),
            ("Dr Smile 😀 ", "Dr Smile"),
            ("Дмитрий", "Dmitrii"),
            ("", ""),
            ("   ", ""),
            ("\u{feff}BOM", "BOM"),
        ];
        for (input, want) in cases {
            assert_eq!(to_sepa_text(input, 140), want, "input {input:?}");
        }
    }

    #[test]
    fn truncation_never_leaves_a_trailing_space() {
        assert_eq!(to_sepa_text("ab cd", 3), "ab");
        assert_eq!(to_sepa_text("ab cd", 4), "ab c");
        assert_eq!(to_sepa_text("Œ", 1), "O");
        assert_eq!(to_sepa_text("abc", 0), "");
        let long = "Société Très Longue ".repeat(20);
        let out = to_sepa_text(&long, 70);
        assert!(out.len() <= 70 && !out.ends_with(' '), "{out:?}");
    }

    /// Deterministic xorshift, so failures replay.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A random string drawn mostly from "interesting" characters, with a
    /// share of arbitrary scalar values.
    fn hostile_string(rng: &mut Rng) -> String {
        const POOL: &str = "aZ09 &<>\"'«»—–_[]{}()/\\|;!?:.,+-@#%*=^~`\t\n\r\u{0}\u{7f}\u{a0}\u{200b}\u{301}\u{feff}éÉŒœßØøÆ°ºÐÞ北京Д😀\u{e000}";
        let pool: Vec<char> = POOL.chars().collect();
        let len = rng.below(300) as usize;
        (0..len)
            .map(|_| {
                if rng.below(5) == 0 {
                    char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('\u{fffd}')
                } else {
                    pool[rng.below(pool.len() as u64) as usize]
                }
            })
            .collect()
    }

    #[test]
    fn property_output_is_sepa_and_within_limit() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..20_000 {
            let input = hostile_string(&mut rng);
            let max = rng.below(160) as usize;
            let out = to_sepa_text(&input, max);
            assert!(out.len() <= max, "round {round}: {out:?} over {max}");
            assert!(out.chars().all(is_sepa_char), "round {round}: {out:?}");
            assert!(
                !out.starts_with(' ') && !out.ends_with(' '),
                "round {round}: {out:?}"
            );
            assert!(!out.contains("  "), "round {round}: {out:?}");
            // Idempotent: already-clean text passes through unchanged.
            assert_eq!(to_sepa_text(&out, max), out, "round {round}");
        }
    }

    #[test]
    fn ids_follow_the_epc_rule() {
        for ok in [
            "A",
            "PAY-2026-05-04-000001",
            "a/b",
            "X+Y:Z?(1).,'",
            &"9".repeat(35),
        ] {
            assert_eq!(check_sepa_id(ok), Ok(()), "{ok:?}");
        }
        assert_eq!(check_sepa_id(""), Err(IdError::Empty));
        assert_eq!(
            check_sepa_id(&"9".repeat(36)),
            Err(IdError::TooLong { chars: 36 })
        );
        assert_eq!(check_sepa_id("/abc"), Err(IdError::SlashAtEdge));
        assert_eq!(check_sepa_id("abc/"), Err(IdError::SlashAtEdge));
        assert_eq!(check_sepa_id("a//b"), Err(IdError::DoubleSlash));
        assert_eq!(
            check_sepa_id("a b"),
            Err(IdError::BadChar {
                ch: ' ',
                position: 1
            })
        );
        assert_eq!(
            check_sepa_id("é"),
            Err(IdError::BadChar {
                ch: 'é',
                position: 0
            })
        );
        assert!(check_sepa_id("a&b").is_err());
    }

    #[test]
    fn property_ids_accepted_only_when_clean() {
        // Mostly SEPA characters, so that both outcomes occur often.
        let pool: Vec<char> = "AZaz09/-?:().,'+ /é&_".chars().collect();
        let mut rng = Rng(42);
        let (mut accepted, mut refused) = (0, 0);
        for round in 0..20_000 {
            let len = rng.below(40) as usize;
            let s: String = (0..len)
                .map(|_| pool[rng.below(pool.len() as u64) as usize])
                .collect();
            let clean = !s.is_empty()
                && s.chars().count() <= 35
                && s.chars().all(|c| is_sepa_char(c) && c != ' ')
                && !s.starts_with('/')
                && !s.ends_with('/')
                && !s.contains("//");
            assert_eq!(check_sepa_id(&s).is_ok(), clean, "round {round}: {s:?}");
            if clean { accepted += 1 } else { refused += 1 }
        }
        assert!(accepted > 100 && refused > 100, "{accepted} / {refused}");
    }
}
