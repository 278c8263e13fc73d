//! Drawing laid-out letters into a PDF with krilla.
//!
//! Nothing here reads the clock or draws random numbers: the PDF's file
//! identifier is a hash of its content, no creation date is written, so
//! the same letters give the same bytes (a re-run is byte-identical).

use krilla::color::luma;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::Font;
use krilla::{Document, SerializeSettings};

use super::face::{Face, Faces};
use super::layout::{Block, Cells, Layout, Placed, Which, closing_height, lay_out, title_height};
use super::letter::{Letter, Sender, euros, long_date, masked_iban, short_date};
use super::template::{Column, ColumnKey, PT_PER_MM, Template, fill};

/// The accent colour of titles and rules: a sober dark blue.
const ACCENT: (u8, u8, u8) = (0x1F, 0x3A, 0x5F);

#[derive(Debug, thiserror::Error)]
#[error("PDF rendering failed: {0}")]
pub struct RenderError(pub String);

/// One PDF holding `letters` one after the other; returns the bytes and
/// the page count of each letter.
pub fn render(
    t: &Template,
    sender: &Sender,
    letters: &[&Letter],
) -> Result<(Vec<u8>, Vec<usize>), RenderError> {
    let settings = SerializeSettings {
        compress_content_streams: true,
        xmp_metadata: false,
        enable_tagging: false,
        ..SerializeSettings::default()
    };
    let mut doc = Document::new_with(settings);
    let faces = Faces::get();
    let fonts = Fonts {
        regular: faces.regular.krilla_font(),
    };
    let mut counts = Vec::with_capacity(letters.len());
    for letter in letters {
        let layout = lay_out(t, letter);
        let n = layout.page_count();
        for (i, placed) in layout.pages.iter().enumerate() {
            let size = (t.page.width_mm * PT_PER_MM, t.page.height_mm * PT_PER_MM);
            let settings = PageSettings::from_wh(size.0, size.1)
                .ok_or_else(|| RenderError("bad page size".into()))?;
            let mut page = doc.start_page_with(settings);
            {
                let mut pen = Pen {
                    s: page.surface(),
                    fonts: &fonts,
                    faces,
                };
                let d = Drawing {
                    t,
                    sender,
                    letter,
                    layout: &layout,
                };
                if i == 0 {
                    d.first_page_head(&mut pen);
                } else {
                    d.continuation_head(&mut pen);
                }
                for p in placed {
                    d.block(&mut pen, p);
                }
                d.footer(&mut pen, i + 1, n);
                pen.s.finish();
            }
            page.finish();
        }
        counts.push(n);
    }
    let title = match letters {
        [one] => format!("{} {}", t.texts.title, one.reference),
        _ => format!("{} — lot d'impression", t.texts.title),
    };
    doc.set_metadata(
        Metadata::new()
            .title(title)
            .creator("tpsettle".into())
            .language("fr-FR".into()),
    );
    let bytes = doc.finish().map_err(|e| RenderError(format!("{e:?}")))?;
    Ok((bytes, counts))
}

struct Fonts {
    regular: Font,
}

/// Draws text and rules in millimetres on a page.
struct Pen<'a, 'p> {
    s: Surface<'p>,
    fonts: &'a Fonts,
    faces: &'static Faces,
}

#[derive(Clone, Copy)]
enum Ink {
    Black,
    Gray,
    Accent,
}

impl Pen<'_, '_> {
    /// The one font: bold is the regular font filled and stroked (see
    /// [`Pen::ink`]), so both weights measure alike.
    fn face(&self) -> (&'static Face, Font) {
        (&self.faces.regular, self.fonts.regular.clone())
    }

    /// Sets the paint of the next text. Bold text is the regular glyphs
    /// outlined in their own colour, widening each stroke by `size` / 28:
    /// a second embedded font would double the per-letter font work
    /// (subsetting and compressing), the dearest part of a one-page letter.
    fn ink(&mut self, ink: Ink, bold: bool, size: f32) {
        let paint = || -> krilla::paint::Paint {
            match ink {
                Ink::Black => luma::Color::new(0).into(),
                Ink::Gray => luma::Color::new(90).into(),
                Ink::Accent => rgb::Color::new(ACCENT.0, ACCENT.1, ACCENT.2).into(),
            }
        };
        self.s.set_stroke(bold.then(|| Stroke {
            paint: paint(),
            width: size / 28.0,
            line_join: krilla::paint::LineJoin::Round,
            ..Stroke::default()
        }));
        self.s.set_fill(Some(Fill {
            paint: paint(),
            opacity: NormalizedF32::ONE,
            ..Fill::default()
        }));
    }

    /// `text` with its baseline at (`x`, `y`) mm.
    fn text(&mut self, x: f32, y: f32, text: &str, size: f32, bold: bool, ink: Ink) {
        if text.is_empty() {
            return;
        }
        self.ink(ink, bold, size);
        let (face, font) = self.face();
        let glyphs = face.glyphs(text);
        self.s.draw_glyphs(
            Point::from_xy(x * PT_PER_MM, y * PT_PER_MM),
            &glyphs,
            font,
            text,
            size,
            false,
        );
    }

    /// Texts on one baseline, each starting at its own x (mm, increasing),
    /// drawn as a single glyph run: the last glyph of a text advances to
    /// the start of the next one.
    fn run(&mut self, y: f32, segments: &[(f32, &str)], size: f32, bold: bool) {
        let segments: Vec<&(f32, &str)> = segments.iter().filter(|s| !s.1.is_empty()).collect();
        let Some(&&(x0, _)) = segments.first() else {
            return;
        };
        self.ink(Ink::Black, bold, size);
        let (face, font) = self.face();
        let mut text = String::new();
        let mut glyphs: Vec<krilla::text::KrillaGlyph> = Vec::new();
        let mut pen_x = x0;
        for &&(x, s) in &segments {
            if let Some(last) = glyphs.last_mut() {
                last.x_advance += (x - pen_x) * PT_PER_MM / size;
            }
            let offset = text.len();
            text.push_str(s);
            glyphs.extend(face.glyphs(s).into_iter().map(|mut g| {
                g.text_range = g.text_range.start + offset..g.text_range.end + offset;
                g
            }));
            pen_x = x + face.width(s, size) / PT_PER_MM;
        }
        self.s.draw_glyphs(
            Point::from_xy(x0 * PT_PER_MM, y * PT_PER_MM),
            &glyphs,
            font,
            &text,
            size,
            false,
        );
    }

    fn text_right(&mut self, right: f32, y: f32, text: &str, size: f32, bold: bool, ink: Ink) {
        let (face, _) = self.face();
        let w = face.width(text, size) / PT_PER_MM;
        self.text(right - w, y, text, size, bold, ink);
    }

    fn width_mm(&self, text: &str, size: f32) -> f32 {
        self.face().0.width(text, size) / PT_PER_MM
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, gray: u8) {
        let Some(r) = Rect::from_xywh(x * PT_PER_MM, y * PT_PER_MM, w * PT_PER_MM, h * PT_PER_MM)
        else {
            return;
        };
        let mut pb = PathBuilder::new();
        pb.push_rect(r);
        if let Some(path) = pb.finish() {
            self.s.set_stroke(None);
            self.s.set_fill(Some(Fill {
                paint: luma::Color::new(gray).into(),
                ..Fill::default()
            }));
            self.s.draw_path(&path);
        }
    }

    fn hline(&mut self, x1: f32, x2: f32, y: f32, width_pt: f32, ink: Ink) {
        let mut pb = PathBuilder::new();
        pb.move_to(x1 * PT_PER_MM, y * PT_PER_MM);
        pb.line_to(x2 * PT_PER_MM, y * PT_PER_MM);
        let Some(path) = pb.finish() else { return };
        let paint = match ink {
            Ink::Accent => rgb::Color::new(ACCENT.0, ACCENT.1, ACCENT.2).into(),
            Ink::Gray => luma::Color::new(190).into(),
            Ink::Black => luma::Color::new(0).into(),
        };
        self.s.set_fill(None);
        self.s.set_stroke(Some(Stroke {
            paint,
            width: width_pt,
            ..Stroke::default()
        }));
        self.s.draw_path(&path);
    }
}

struct Drawing<'a> {
    t: &'a Template,
    sender: &'a Sender,
    letter: &'a Letter,
    layout: &'a Layout,
}

impl Drawing<'_> {
    fn left(&self) -> f32 {
        self.t.page.margin_left_mm
    }

    fn right(&self) -> f32 {
        self.t.page.width_mm - self.t.page.margin_right_mm
    }

    /// Baseline of the first line of a block whose top is `top` (mm).
    fn baseline(&self, top: f32, size: f32) -> f32 {
        top + Faces::get().regular.ascent * size / PT_PER_MM
    }

    fn first_page_head(&self, pen: &mut Pen) {
        let (t, s, l) = (self.t, self.sender, self.letter);
        let text = t.line_mm(t.sizes.text);
        // Sender, top left.
        let (x, mut y) = (t.sender.x_mm, t.sender.y_mm);
        pen.text(x, y, &s.name, t.sizes.sender_name, true, Ink::Accent);
        y += t.line_mm(t.sizes.sender_name);
        pen.text(x, y, &t.texts.service, t.sizes.text, false, Ink::Black);
        for line in [s.address_line.clone(), format!("{} {}", s.postcode, s.city)] {
            y += text;
            pen.text(x, y, &line, t.sizes.text, false, Ink::Gray);
        }
        // Recipient, in the envelope window.
        let a = &t.address;
        let room = (a.width_mm) * PT_PER_MM;
        let mut lines: Vec<String> = Vec::new();
        for (i, line) in l.address_lines().iter().enumerate() {
            let wrapped = pen.faces.regular.wrap(line, t.sizes.address, room, 2);
            lines.extend(if i == 0 {
                wrapped
            } else {
                vec![pen.faces.regular.fit(line, t.sizes.address, room)]
            });
        }
        // The last line (postcode, town) must show: keep it, drop overflow above it.
        while lines.len() > a.max_lines {
            lines.remove(lines.len() - 2);
        }
        let mut y = self.baseline(a.top_mm, t.sizes.address);
        for line in &lines {
            pen.text(a.x_mm, y, line, t.sizes.address, false, Ink::Black);
            y += t.line_mm(t.sizes.address);
        }
        // Place and date, right-aligned.
        let place_date = fill(
            &t.texts.place_date,
            &[("city", &s.city), ("date", &long_date(l.date))],
        );
        pen.text_right(
            self.right(),
            t.letter.place_date_y_mm,
            &place_date,
            t.sizes.text,
            false,
            Ink::Black,
        );
        self.title_block(pen);
    }

    fn title_block(&self, pen: &mut Pen) {
        let (t, l, h) = (self.t, self.letter, &self.layout.head);
        let text = t.line_mm(t.sizes.text);
        pen.text(
            self.left(),
            h.title_y,
            &t.texts.title,
            t.sizes.title,
            true,
            Ink::Accent,
        );
        pen.text(
            self.left(),
            h.subtitle_y,
            &t.texts.subtitle,
            t.sizes.subtitle,
            false,
            Ink::Accent,
        );
        pen.hline(
            self.left(),
            self.right(),
            h.subtitle_y + 2.2,
            0.8,
            Ink::Accent,
        );
        // Payment details in a light box.
        let top = h.info_y - text * 0.95;
        pen.rect(
            self.left(),
            top,
            self.right() - self.left(),
            text * h.info_rows as f32 + 1.6,
            242,
        );
        let totals = l.totals();
        let rows = [
            (
                &t.texts.label_practitioner,
                format!("{} — N° {}", l.name, l.ps_id),
                false,
            ),
            (&t.texts.label_reference, l.reference.clone(), true),
            (
                &t.texts.label_execution,
                short_date(l.execution_date),
                false,
            ),
            (
                &t.texts.label_account,
                format!("{} — {}", masked_iban(&l.iban), l.account_holder),
                false,
            ),
            (&t.texts.label_transfer, euros(l.transfer_cents), false),
            (&t.texts.label_noemie, euros(totals.amc_paid_cents), true),
        ];
        let value_x = self.left() + 58.0;
        let room = (self.right() - value_x - 2.0) * PT_PER_MM;
        for (i, (label, value, bold)) in rows.iter().enumerate() {
            let y = h.info_y + text * i as f32;
            pen.text(self.left() + 2.0, y, label, t.sizes.text, false, Ink::Gray);
            let value = pen.faces.regular.fit(value, t.sizes.text, room);
            pen.text(value_x, y, &value, t.sizes.text, *bold, Ink::Black);
        }
        pen.text(
            self.left(),
            h.salutation_y,
            &t.texts.salutation,
            t.sizes.text,
            false,
            Ink::Black,
        );
        for (i, line) in self.layout.intro.iter().enumerate() {
            pen.text(
                self.left(),
                h.intro_y + text * i as f32,
                line,
                t.sizes.text,
                false,
                Ink::Black,
            );
        }
    }

    fn continuation_head(&self, pen: &mut Pen) {
        let (t, l) = (self.t, self.letter);
        let values = [
            ("title", t.texts.title.as_str()),
            ("name", l.name.as_str()),
            ("ps_id", l.ps_id.as_str()),
            ("reference", l.reference.as_str()),
        ];
        let right = fill(&t.texts.continuation_right, &values);
        let right_w = pen.width_mm(&right, t.sizes.text);
        let line = fill(&t.texts.continuation, &values);
        let room = (self.right() - self.left() - right_w - 4.0) * PT_PER_MM;
        let line = pen.faces.regular.fit(&line, t.sizes.text, room);
        pen.text_right(
            self.right(),
            t.sender.y_mm + 5.0,
            &right,
            t.sizes.text,
            true,
            Ink::Accent,
        );
        pen.text(
            self.left(),
            t.sender.y_mm,
            &self.sender.name,
            t.sizes.small,
            false,
            Ink::Gray,
        );
        pen.text(
            self.left(),
            t.sender.y_mm + 5.0,
            &line,
            t.sizes.text,
            true,
            Ink::Accent,
        );
        pen.hline(
            self.left(),
            self.right(),
            t.sender.y_mm + 7.0,
            0.8,
            Ink::Accent,
        );
    }

    fn footer(&self, pen: &mut Pen, page: usize, pages: usize) {
        let (t, s) = (self.t, self.sender);
        let y = t.page.footer_y_mm;
        pen.hline(self.left(), self.right(), y - 3.5, 0.4, Ink::Gray);
        let left = fill(
            &t.texts.footer,
            &[
                ("sender", &s.name),
                ("address", &s.address_line),
                ("postcode", &s.postcode),
                ("city", &s.city),
            ],
        );
        let page = fill(
            &t.texts.page,
            &[("page", &page.to_string()), ("pages", &pages.to_string())],
        );
        let page_w = pen.width_mm(&page, t.sizes.small);
        let room = (self.right() - self.left() - page_w - 5.0) * PT_PER_MM;
        let left = pen.faces.regular.fit(&left, t.sizes.small, room);
        pen.text(self.left(), y, &left, t.sizes.small, false, Ink::Gray);
        pen.text_right(self.right(), y, &page, t.sizes.small, false, Ink::Black);
    }

    fn columns(&self, which: Which) -> &[Column] {
        match which {
            Which::Paid => &self.t.table.paid,
            Which::Rejected => &self.t.table.rejected,
        }
    }

    fn block(&self, pen: &mut Pen, p: &Placed) {
        let t = self.t;
        match p.block {
            Block::Title { table, continued } => {
                let title = match table {
                    Which::Paid => &t.texts.paid_title,
                    Which::Rejected => &t.texts.rejected_title,
                };
                let title = if continued {
                    format!("{title} {}", t.texts.continued)
                } else {
                    title.clone()
                };
                let y = p.top_mm + title_height(t) - 2.0;
                pen.text(self.left(), y, &title, t.sizes.section, true, Ink::Accent);
            }
            Block::Header(which) => self.header(pen, p.top_mm, which),
            Block::Row(which, i) => {
                let cells = match which {
                    Which::Paid => &self.layout.paid[i],
                    Which::Rejected => &self.layout.rejected[i],
                };
                self.row(pen, p.top_mm, which, cells, false);
            }
            Block::Total => self.total(pen, p.top_mm),
            Block::NoRejections => {
                let text = t.line_mm(t.sizes.text);
                for (i, line) in self.layout.no_rejections.iter().enumerate() {
                    let y = self.baseline(p.top_mm, t.sizes.text) + text * i as f32;
                    pen.text(self.left(), y, line, t.sizes.text, false, Ink::Black);
                }
            }
            Block::Closing => self.closing(pen, p.top_mm),
        }
    }

    fn header(&self, pen: &mut Pen, top: f32, which: Which) {
        let t = self.t;
        let h = t.table.header_height_mm;
        pen.rect(self.left(), top, self.right() - self.left(), h, 222);
        let y = top + h / 2.0 + t.sizes.table * 0.36 / PT_PER_MM;
        let titles: Vec<String> = self
            .columns(which)
            .iter()
            .map(|c| c.title.clone())
            .collect();
        let segments = self.cell_segments(pen, which, &titles);
        pen.run(y, &segments, t.sizes.table, true);
    }

    /// Where each cell text starts (mm): amounts right-aligned in their column.
    fn cell_segments<'s>(
        &self,
        pen: &Pen,
        which: Which,
        texts: &'s [String],
    ) -> Vec<(f32, &'s str)> {
        let (t, pad) = (self.t, self.t.table.cell_padding_mm);
        let mut x = self.left();
        let mut out = Vec::with_capacity(texts.len());
        for (c, text) in self.columns(which).iter().zip(texts) {
            let start = if c.key.is_amount() {
                x + c.width_mm - pad - pen.width_mm(text, t.sizes.table)
            } else {
                x + pad
            };
            out.push((start, text.as_str()));
            x += c.width_mm;
        }
        out
    }

    /// A row: each of its text lines is drawn as one glyph run across the
    /// columns (one text object instead of one per cell: a quarter of the
    /// content stream to write and compress).
    fn row(&self, pen: &mut Pen, top: f32, which: Which, cells: &Cells, bold: bool) {
        let t = self.t;
        let first = self.baseline(top + t.table.row_padding_mm, t.sizes.table);
        let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
        for k in 0..lines {
            let texts: Vec<String> = cells
                .iter()
                .map(|c| c.get(k).cloned().unwrap_or_default())
                .collect();
            let segments = self.cell_segments(pen, which, &texts);
            let y = first + t.table.line_height_mm * k as f32;
            pen.run(y, &segments, t.sizes.table, bold);
        }
        let bottom = top + t.row_height_mm(lines);
        pen.hline(self.left(), self.right(), bottom, 0.3, Ink::Gray);
    }

    fn total(&self, pen: &mut Pen, top: f32) {
        let t = self.t;
        let totals = self.letter.totals();
        pen.hline(self.left(), self.right(), top + 0.3, 0.8, Ink::Black);
        let cells: Cells = t
            .table
            .paid
            .iter()
            .enumerate()
            .map(|(i, c)| {
                vec![match c.key {
                    ColumnKey::Billed => euros(totals.billed_cents),
                    ColumnKey::AmoPaid => euros(totals.amo_paid_cents),
                    ColumnKey::AmcPaid => euros(totals.amc_paid_cents),
                    _ if i == 0 => t.texts.total.clone(),
                    _ => String::new(),
                }]
            })
            .collect();
        self.row(pen, top + 0.6, Which::Paid, &cells, true);
    }

    fn closing(&self, pen: &mut Pen, top: f32) {
        let t = self.t;
        let text = t.line_mm(t.sizes.text);
        let mut y = self.baseline(top, t.sizes.text);
        for line in &self.layout.closing {
            pen.text(self.left(), y, line, t.sizes.text, false, Ink::Black);
            y += text;
        }
        y += text;
        let x = self.left() + (self.right() - self.left()) * 0.55;
        pen.text(x, y, &t.texts.signature, t.sizes.text, true, Ink::Black);
        pen.text(
            x,
            y + text,
            &self.sender.name,
            t.sizes.text,
            false,
            Ink::Gray,
        );
        debug_assert!(y + text <= top + closing_height(t, self.layout.closing.len()) + text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::letter::PaidRow;
    use crate::statement::template::builtin;
    use chrono::NaiveDate;

    fn sample() -> (Sender, Letter) {
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let sender = Sender {
            name: "Mutuelle Démo".into(),
            address_line: "1 rue de la Paix".into(),
            postcode: "75002".into(),
            city: "Paris".into(),
        };
        let letter = Letter {
            ps_id: "100000001".into(),
            name: "Cabinet Noël".into(),
            address_line: "2 rue Œuvre".into(),
            postcode: "06000".into(),
            city: "Nice".into(),
            country: "FR".into(),
            reference: "RUN-20261201-P100000001".into(),
            date: d,
            execution_date: d,
            iban: "FR7630006000011234567890189".into(),
            account_holder: "Noël".into(),
            transfer_cents: 4000,
            paid: vec![PaidRow {
                invoice_no: 1,
                care_date: d,
                beneficiary: "Zoé «Test»".into(),
                billed_cents: 10000,
                amo_paid_cents: 6000,
                amc_paid_cents: 4000,
            }],
            rejected: Vec::new(),
        };
        (sender, letter)
    }

    #[test]
    fn the_same_letter_gives_the_same_bytes_and_a_small_file() {
        let (sender, letter) = sample();
        let (a, pages) = render(builtin(), &sender, &[&letter]).unwrap();
        let (b, _) = render(builtin(), &sender, &[&letter]).unwrap();
        assert_eq!(pages, vec![1]);
        assert!(a.starts_with(b"%PDF-"));
        assert!(a == b, "rendering is deterministic");
        assert!(a.len() < 40_000, "fonts are subset: {} bytes", a.len());
        let (two, pages) = render(builtin(), &sender, &[&letter, &letter]).unwrap();
        assert_eq!(pages, vec![1, 1]);
        assert!(two.len() > a.len());
    }
}
