//! Pagination: where each block of a letter goes, before anything is drawn,
//! so that every page can say "Page n/N".
//!
//! Page 1 carries the letter head (sender, window address, date, title,
//! payment details, introduction); the flow then runs through the paid
//! table, its total, the rejected table and the closing. A table that
//! continues on the next page repeats its title ("(suite)") and its header;
//! a title is never left alone at the bottom of a page; the closing
//! paragraph is never split.

use super::face::Faces;
use super::letter::{Letter, RejectedRow, euros, short_date};
use super::template::{Column, ColumnKey, PT_PER_MM, Template};

/// Which of the two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Paid,
    Rejected,
}

/// A block of the flow, placed on a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    Title { table: Which, continued: bool },
    Header(Which),
    Row(Which, usize),
    Total,
    NoRejections,
    Closing,
}

#[derive(Debug, Clone, Copy)]
pub struct Placed {
    /// Top of the block, mm from the top of the page.
    pub top_mm: f32,
    pub block: Block,
}

/// The cells of one row: per column, its text lines.
pub type Cells = Vec<Vec<String>>;

/// Vertical positions of page 1's head (baselines, mm).
#[derive(Debug, Clone, Copy)]
pub struct Head {
    pub title_y: f32,
    pub subtitle_y: f32,
    pub info_y: f32,
    pub info_rows: usize,
    pub salutation_y: f32,
    pub intro_y: f32,
    pub flow_top: f32,
}

/// A letter laid out: its pages and the texts of every row.
#[derive(Debug)]
pub struct Layout {
    pub head: Head,
    pub intro: Vec<String>,
    pub closing: Vec<String>,
    pub no_rejections: Vec<String>,
    pub paid: Vec<Cells>,
    pub rejected: Vec<Cells>,
    pub pages: Vec<Vec<Placed>>,
}

/// Rows in the info box of page 1.
pub const INFO_ROWS: usize = 6;

impl Layout {
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }
}

pub fn head(t: &Template, intro_lines: usize) -> Head {
    let text = t.line_mm(t.sizes.text);
    let title_y = t.letter.title_y_mm;
    let subtitle_y = title_y + t.line_mm(t.sizes.subtitle) + 1.0;
    let info_y = subtitle_y + 3.0 + text * 1.5;
    let salutation_y = info_y + text * INFO_ROWS as f32 + 5.0;
    let intro_y = salutation_y + text * 1.6;
    let flow_top = intro_y + text * intro_lines as f32 + 2.0;
    Head {
        title_y,
        subtitle_y,
        info_y,
        info_rows: INFO_ROWS,
        salutation_y,
        intro_y,
        flow_top,
    }
}

fn paragraph(t: &Template, text: &str) -> Vec<String> {
    let width = t.content_width_mm() * PT_PER_MM;
    Faces::get()
        .regular
        .wrap(text, t.sizes.text, width, usize::MAX)
}

/// The text lines of each cell of a row.
fn cells(t: &Template, columns: &[Column], value: impl Fn(ColumnKey) -> String) -> Cells {
    let faces = Faces::get();
    columns
        .iter()
        .map(|c| {
            let room = (c.width_mm - 2.0 * t.table.cell_padding_mm) * PT_PER_MM;
            let text = value(c.key);
            if c.key.is_amount() {
                vec![faces.regular.fit(&text, t.sizes.table, room)]
            } else {
                faces
                    .regular
                    .wrap(&text, t.sizes.table, room, t.table.max_lines)
            }
        })
        .collect()
}

fn rejected_value(r: &RejectedRow, key: ColumnKey) -> String {
    match key {
        ColumnKey::InvoiceNo => r.invoice_no.to_string(),
        ColumnKey::CareDate => short_date(r.care_date),
        ColumnKey::Beneficiary => r.beneficiary.clone().unwrap_or_else(|| "—".into()),
        ColumnKey::AmcRequested | ColumnKey::AmcPaid => euros(r.requested_cents),
        ColumnKey::Reason => format!("{} — {}", r.code, r.label),
        ColumnKey::Billed | ColumnKey::AmoPaid => String::new(),
    }
}

/// Lays `letter` out on pages.
pub fn lay_out(t: &Template, letter: &Letter) -> Layout {
    let intro = paragraph(t, &t.texts.intro);
    let paid = letter
        .paid
        .iter()
        .map(|r| {
            cells(t, &t.table.paid, |k| match k {
                ColumnKey::InvoiceNo => r.invoice_no.to_string(),
                ColumnKey::CareDate => short_date(r.care_date),
                ColumnKey::Beneficiary => r.beneficiary.clone(),
                ColumnKey::Billed => euros(r.billed_cents),
                ColumnKey::AmoPaid => euros(r.amo_paid_cents),
                ColumnKey::AmcPaid | ColumnKey::AmcRequested => euros(r.amc_paid_cents),
                ColumnKey::Reason => String::new(),
            })
        })
        .collect();
    let rejected = letter
        .rejected
        .iter()
        .map(|r| cells(t, &t.table.rejected, |k| rejected_value(r, k)))
        .collect();
    let mut layout = Layout {
        head: head(t, intro.len()),
        intro,
        closing: paragraph(t, &t.texts.closing),
        no_rejections: paragraph(t, &t.texts.no_rejections),
        paid,
        rejected,
        pages: vec![Vec::new()],
    };
    let mut p = Paginator {
        t,
        pages: vec![Vec::new()],
        y: layout.head.flow_top,
    };
    p.table(Which::Paid, &layout.paid, true);
    p.gap();
    if layout.rejected.is_empty() {
        let h = title_height(t) + layout.no_rejections.len() as f32 * t.line_mm(t.sizes.text);
        p.keep(h);
        p.place(
            Block::Title {
                table: Which::Rejected,
                continued: false,
            },
            title_height(t),
        );
        p.place(
            Block::NoRejections,
            h - title_height(t) + t.line_mm(t.sizes.text) * 0.3,
        );
    } else {
        p.table(Which::Rejected, &layout.rejected, false);
    }
    p.gap();
    p.keep(closing_height(t, layout.closing.len()));
    p.place(Block::Closing, closing_height(t, layout.closing.len()));
    layout.pages = p.pages;
    layout
}

pub fn title_height(t: &Template) -> f32 {
    t.line_mm(t.sizes.section) + 1.0
}

pub fn closing_height(t: &Template, lines: usize) -> f32 {
    t.line_mm(t.sizes.text) * (lines as f32 + 3.0)
}

pub fn total_height(t: &Template) -> f32 {
    t.row_height_mm(1) + 0.6
}

/// How many one-line rows the paid table holds on page 1 and on a
/// following page (the closing and the other table left aside).
pub fn single_line_capacity(t: &Template) -> (usize, usize) {
    let intro = paragraph(t, &t.texts.intro).len();
    let first = t.page.body_bottom_mm - head(t, intro).flow_top - title_height(t);
    let next = t.page.body_bottom_mm - t.page.continuation_top_mm - title_height(t);
    let per = |room: f32| ((room - t.table.header_height_mm) / t.row_height_mm(1)).floor() as usize;
    (per(first), per(next))
}

fn row_lines(cells: &Cells) -> usize {
    cells.iter().map(Vec::len).max().unwrap_or(1).max(1)
}

struct Paginator<'t> {
    t: &'t Template,
    pages: Vec<Vec<Placed>>,
    y: f32,
}

impl Paginator<'_> {
    fn room(&self) -> f32 {
        self.t.page.body_bottom_mm - self.y
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = self.t.page.continuation_top_mm;
    }

    /// Starts a new page unless `h` fits on this one.
    fn keep(&mut self, h: f32) {
        if self.room() < h - 1e-3 {
            self.new_page();
        }
    }

    fn place(&mut self, block: Block, h: f32) {
        let top_mm = self.y;
        self.pages
            .last_mut()
            .expect("a page")
            .push(Placed { top_mm, block });
        self.y += h;
    }

    fn gap(&mut self) {
        self.y += self.t.table.gap_mm;
    }

    fn heading(&mut self, table: Which, continued: bool) {
        self.place(Block::Title { table, continued }, title_height(self.t));
        self.place(Block::Header(table), self.t.table.header_height_mm);
    }

    fn table(&mut self, table: Which, rows: &[Cells], total: bool) {
        let t = self.t;
        let head = title_height(t) + t.table.header_height_mm;
        let first = rows
            .first()
            .map(|r| t.row_height_mm(row_lines(r)))
            .unwrap_or(0.0);
        self.keep(head + first);
        self.heading(table, false);
        for (i, r) in rows.iter().enumerate() {
            let h = t.row_height_mm(row_lines(r));
            if self.room() < h - 1e-3 {
                self.new_page();
                self.heading(table, true);
            }
            self.place(Block::Row(table, i), h);
        }
        if total {
            if self.room() < total_height(t) - 1e-3 {
                self.new_page();
                self.heading(table, true);
            }
            self.place(Block::Total, total_height(t));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::statement::letter::PaidRow;
    use crate::statement::template::builtin;
    use chrono::NaiveDate;

    pub(crate) fn letter(paid: usize, rejected: usize) -> Letter {
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        Letter {
            ps_id: "100000001".into(),
            name: "Pharmacie de l'Église".into(),
            address_line: "1 place du Marché".into(),
            postcode: "42000".into(),
            city: "Saint-Étienne".into(),
            country: "FR".into(),
            reference: "RUN-20261201-P100000001".into(),
            date: d,
            execution_date: d,
            iban: "FR7630006000011234567890189".into(),
            account_holder: "Pharmacie".into(),
            transfer_cents: 1,
            paid: (0..paid)
                .map(|i| PaidRow {
                    invoice_no: i as i64 + 1,
                    care_date: d,
                    beneficiary: "Zoé Martin".into(),
                    billed_cents: 1000,
                    amo_paid_cents: 600,
                    amc_paid_cents: 400,
                })
                .collect(),
            rejected: (0..rejected)
                .map(|i| RejectedRow {
                    invoice_no: 1000 + i as i64,
                    care_date: d,
                    beneficiary: None,
                    requested_cents: 100,
                    code: "R04".into(),
                    label: "Part AMC nulle ou superieure au reste apres AMO".into(),
                })
                .collect(),
        }
    }

    fn rows(l: &Layout, page: usize) -> usize {
        l.pages[page]
            .iter()
            .filter(|p| matches!(p.block, Block::Row(Which::Paid, _)))
            .count()
    }

    #[test]
    fn a_short_letter_is_one_page() {
        let l = lay_out(builtin(), &letter(3, 1));
        assert_eq!(l.page_count(), 1);
        let blocks: Vec<Block> = l.pages[0].iter().map(|p| p.block).collect();
        assert_eq!(blocks.last(), Some(&Block::Closing));
        assert!(blocks.contains(&Block::Total));
    }

    #[test]
    fn pages_are_filled_and_headers_repeated() {
        let t = builtin();
        let (first, next) = single_line_capacity(t);
        assert!(first >= 10 && next > first, "{first} {next}");
        let l = lay_out(t, &letter(300, 0));
        let pages = l.page_count();
        assert!(pages >= 2);
        assert_eq!(rows(&l, 0), first);
        for p in 1..pages - 1 {
            assert_eq!(rows(&l, p), next, "page {p}");
        }
        for page in &l.pages[1..] {
            if page.iter().any(|p| matches!(p.block, Block::Row(..))) {
                assert_eq!(
                    page[0].block,
                    Block::Title {
                        table: Which::Paid,
                        continued: true
                    }
                );
                assert_eq!(page[1].block, Block::Header(Which::Paid));
            }
        }
        let all: usize = (0..pages).map(|p| rows(&l, p)).sum();
        assert_eq!(all, 300);
        for page in &l.pages {
            for p in page {
                assert!(p.top_mm < t.page.body_bottom_mm, "{p:?}");
            }
        }
    }

    #[test]
    fn a_title_is_never_alone_at_the_bottom() {
        let t = builtin();
        let (first, _) = single_line_capacity(t);
        for n in first.saturating_sub(3)..first + 3 {
            let l = lay_out(t, &letter(n, 5));
            for page in &l.pages {
                if let Some(last) = page.last() {
                    assert!(
                        !matches!(last.block, Block::Title { .. } | Block::Header(_)),
                        "{n} rows: page ends with {last:?}"
                    );
                }
            }
        }
    }
}
