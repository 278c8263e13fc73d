//! The few XML shapes the `pain.001` writer needs, written two ways with the
//! same bytes: through quick-xml for the document's frame (prolog, group
//! header, payment-information blocks), and into a reused buffer for each
//! transfer, the part written a million times on a national day.

use std::io::{self, Write};

use quick_xml::escape::escape;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

use super::writer::euros_text;
use crate::domain::Amount;

/// Indentation: one tab a level. People read these files when a bank
/// rejects one; two-space indentation made a quarter of a national day's
/// file (140 of 549 MB for 1,000,000 transfers).
const INDENT: u8 = b'\t';

/// What writes an element tree: the file's frame ([`Xml`]) or a transfer
/// ([`Fragment`]).
pub(super) trait Emit {
    fn open(&mut self, tag: &str) -> io::Result<()>;
    fn close(&mut self, tag: &str) -> io::Result<()>;
    /// `<tag>text</tag>`, text escaped (`'` becomes `&apos;`, as the EPC
    /// guidelines list it).
    fn leaf(&mut self, tag: &str, text: &str) -> io::Result<()>;
    /// `<tag>text</tag>`, text written as it is: it must need no escaping.
    fn verbatim_leaf(&mut self, tag: &str, text: &str) -> io::Result<()>;
    /// `<InstdAmt Ccy="EUR">12.50</InstdAmt>`: euro only, two decimals.
    fn euro_amount(&mut self, tag: &str, amount: Amount) -> io::Result<()>;

    /// `<tag>text</tag>` for text already in the SEPA character set
    /// (transliterated free text, checked ids, IBANs, BICs): of XML's
    /// markup characters that set holds only `'`, so the text is written as
    /// it is unless it holds one.
    fn sepa_leaf(&mut self, tag: &str, text: &str) -> io::Result<()> {
        debug_assert!(is_sepa_text(text), "{tag} is not SEPA text: {text:?}");
        if text.as_bytes().contains(&b'\'') {
            return self.leaf(tag, text);
        }
        self.verbatim_leaf(tag, text)
    }

    fn nest(
        &mut self,
        tag: &str,
        body: impl FnOnce(&mut Self) -> io::Result<()>,
    ) -> io::Result<()> {
        self.open(tag)?;
        body(self)?;
        self.close(tag)
    }

    fn iban_account(&mut self, tag: &str, iban: &str) -> io::Result<()> {
        self.nest(tag, |x| x.nest("Id", |x| x.sepa_leaf("IBAN", iban)))
    }
}

fn is_sepa_text(text: &str) -> bool {
    !text.bytes().any(|b| matches!(b, b'<' | b'>' | b'&' | b'"'))
}

/// The file's frame, over quick-xml.
pub(super) struct Xml<W: Write> {
    pub(super) w: quick_xml::Writer<W>,
}

impl<W: Write> Xml<W> {
    pub(super) fn new(out: W) -> Self {
        Self {
            w: quick_xml::Writer::new_with_indent(out, INDENT, 1),
        }
    }

    pub(super) fn into_inner(self) -> W {
        self.w.into_inner()
    }

    /// Writes a [`Fragment`] where quick-xml would write its elements. Only
    /// after a start or an end tag (where quick-xml breaks the line, as the
    /// fragment does) and at the fragment's depth: the writer calls it for
    /// each transfer, right after a block's head or the previous transfer.
    pub(super) fn fragment(&mut self, f: &Fragment) -> io::Result<()> {
        debug_assert_eq!(f.depth, f.base, "unbalanced fragment");
        self.w.get_mut().write_all(&f.buf)
    }
}

impl<W: Write> Emit for Xml<W> {
    fn open(&mut self, tag: &str) -> io::Result<()> {
        self.w.write_event(Event::Start(BytesStart::new(tag)))
    }

    fn close(&mut self, tag: &str) -> io::Result<()> {
        self.w.write_event(Event::End(BytesEnd::new(tag)))
    }

    fn leaf(&mut self, tag: &str, text: &str) -> io::Result<()> {
        self.w
            .create_element(tag)
            .write_text_content(BytesText::new(text))
            .map(|_| ())
    }

    fn verbatim_leaf(&mut self, tag: &str, text: &str) -> io::Result<()> {
        self.w
            .create_element(tag)
            .write_text_content(BytesText::from_escaped(text))
            .map(|_| ())
    }

    fn euro_amount(&mut self, tag: &str, amount: Amount) -> io::Result<()> {
        self.w
            .create_element(tag)
            .with_attribute(("Ccy", "EUR"))
            .write_text_content(BytesText::from_escaped(euros_text(amount, &mut [0; 24])))
            .map(|_| ())
    }
}

/// One element tree written into a buffer kept from transfer to transfer,
/// then handed to [`Xml::fragment`] in one copy. quick-xml's event writing
/// (an event built, five small writes and an indentation check per tag) was
/// most of the writer's time; here a tag is a few appends to a `Vec`.
pub(super) struct Fragment {
    buf: Vec<u8>,
    /// Depth of the fragment's root element in the file.
    base: usize,
    depth: usize,
}

impl Fragment {
    pub(super) fn new(depth: usize) -> Self {
        Self {
            buf: Vec::with_capacity(2048),
            base: depth,
            depth,
        }
    }

    pub(super) fn clear(&mut self) {
        self.buf.clear();
        self.depth = self.base;
    }

    fn line(&mut self) {
        self.buf.push(b'\n');
        self.buf.extend(std::iter::repeat_n(INDENT, self.depth));
    }

    fn start(&mut self, tag: &str) {
        self.line();
        self.buf.push(b'<');
        self.buf.extend_from_slice(tag.as_bytes());
    }

    fn end(&mut self, tag: &str) {
        self.buf.extend_from_slice(b"</");
        self.buf.extend_from_slice(tag.as_bytes());
        self.buf.push(b'>');
    }

    fn text_leaf(&mut self, tag: &str, text: &[u8]) {
        self.start(tag);
        self.buf.push(b'>');
        self.buf.extend_from_slice(text);
        self.end(tag);
    }
}

impl Emit for Fragment {
    fn open(&mut self, tag: &str) -> io::Result<()> {
        self.start(tag);
        self.buf.push(b'>');
        self.depth += 1;
        Ok(())
    }

    fn close(&mut self, tag: &str) -> io::Result<()> {
        self.depth -= 1;
        self.line();
        self.end(tag);
        Ok(())
    }

    fn leaf(&mut self, tag: &str, text: &str) -> io::Result<()> {
        self.text_leaf(tag, escape(text).as_bytes());
        Ok(())
    }

    fn verbatim_leaf(&mut self, tag: &str, text: &str) -> io::Result<()> {
        self.text_leaf(tag, text.as_bytes());
        Ok(())
    }

    fn euro_amount(&mut self, tag: &str, amount: Amount) -> io::Result<()> {
        self.start(tag);
        self.buf.extend_from_slice(b" Ccy=\"EUR\">");
        self.buf
            .extend_from_slice(euros_text(amount, &mut [0; 24]).as_bytes());
        self.end(tag);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shape a transfer uses: nesting, an empty element, escaped and
    /// unescaped leaves (with and without `'`), an amount.
    fn tree<E: Emit>(x: &mut E, e2e: &str) -> io::Result<()> {
        x.nest("CdtTrfTxInf", |x| {
            x.nest("PmtId", |x| x.sepa_leaf("EndToEndId", e2e))?;
            let amount = Amount::from_cents(123_450).expect("amount");
            x.nest("Amt", |x| x.euro_amount("InstdAmt", amount))?;
            x.nest("Cdtr", |x| {
                x.sepa_leaf("Nm", "Pharmacie de l'Eglise")?;
                x.nest("PstlAdr", |x| {
                    x.leaf("TwnNm", "A & B <C> \"D\" l'E")?;
                    x.nest("Empty", |_| Ok(()))
                })
            })?;
            x.iban_account("CdtrAcct", "FR7630006000011234567890189")
        })
    }

    /// The frame around the transfers: after a start tag, after a leaf,
    /// after another transfer.
    fn file(mut transfer: impl FnMut(&mut Xml<Vec<u8>>, &str) -> io::Result<()>) -> Vec<u8> {
        let mut x = Xml::new(Vec::new());
        for tag in ["Document", "CstmrCdtTrfInitn", "PmtInf"] {
            x.open(tag).expect("open");
        }
        transfer(&mut x, "TP-1").expect("first");
        x.leaf("PmtInfId", "B-1").expect("leaf");
        transfer(&mut x, "TP-2").expect("second");
        transfer(&mut x, "TP-3").expect("third");
        for tag in ["PmtInf", "CstmrCdtTrfInitn", "Document"] {
            x.close(tag).expect("close");
        }
        x.into_inner()
    }

    #[test]
    fn a_fragment_has_the_bytes_quick_xml_writes() {
        let by_quick_xml = file(tree);
        let mut f = Fragment::new(3);
        let by_fragment = file(|x, e2e| {
            f.clear();
            tree(&mut f, e2e)?;
            x.fragment(&f)
        });
        let text = String::from_utf8(by_quick_xml.clone()).expect("utf-8");
        assert!(
            text.contains("\n\t\t\t\t<Amt>\n\t\t\t\t\t<InstdAmt Ccy=\"EUR\">1234.50</InstdAmt>")
        );
        assert!(text.contains("<TwnNm>A &amp; B &lt;C&gt; &quot;D&quot; l&apos;E</TwnNm>"));
        assert!(text.contains("<Nm>Pharmacie de l&apos;Eglise</Nm>"));
        assert_eq!(text, String::from_utf8(by_fragment).expect("utf-8"));
    }
}
