//! The statement's layout template, `reports/statement.toml`, compiled in.
//!
//! Kept out of the code so that a finance department's wording or an
//! envelope supplier's window can change without touching the renderer;
//! [`Template::validate`] refuses a template whose blocks would overlap,
//! leave the page or the envelope window.

use std::sync::OnceLock;

use serde::Deserialize;

use super::face::Faces;

const TEMPLATE_TOML: &str = include_str!("../../reports/statement.toml");

/// Points per millimetre (PDF user space unit = 1/72 inch).
pub const PT_PER_MM: f32 = 72.0 / 25.4;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub page: Page,
    pub sizes: Sizes,
    pub sender: Position,
    pub address: AddressZone,
    pub letter: LetterPositions,
    pub table: Table,
    pub texts: Texts,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub width_mm: f32,
    pub height_mm: f32,
    pub margin_left_mm: f32,
    pub margin_right_mm: f32,
    pub continuation_top_mm: f32,
    pub body_bottom_mm: f32,
    pub footer_y_mm: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sizes {
    pub sender_name: f32,
    pub text: f32,
    pub small: f32,
    pub address: f32,
    pub title: f32,
    pub subtitle: f32,
    pub section: f32,
    pub table: f32,
    pub line_spacing: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub x_mm: f32,
    pub y_mm: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressZone {
    pub x_mm: f32,
    pub top_mm: f32,
    pub width_mm: f32,
    pub height_mm: f32,
    pub max_lines: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterPositions {
    pub place_date_y_mm: f32,
    pub title_y_mm: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub line_height_mm: f32,
    pub row_padding_mm: f32,
    pub header_height_mm: f32,
    pub cell_padding_mm: f32,
    pub max_lines: usize,
    pub gap_mm: f32,
    pub paid: Vec<Column>,
    pub rejected: Vec<Column>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub key: ColumnKey,
    pub title: String,
    pub width_mm: f32,
}

/// What a column shows. Amounts are right-aligned, the rest left-aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKey {
    InvoiceNo,
    CareDate,
    Beneficiary,
    Billed,
    AmoPaid,
    AmcPaid,
    AmcRequested,
    Reason,
}

impl ColumnKey {
    pub fn is_amount(self) -> bool {
        matches!(
            self,
            ColumnKey::Billed | ColumnKey::AmoPaid | ColumnKey::AmcPaid | ColumnKey::AmcRequested
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub service: String,
    pub place_date: String,
    pub title: String,
    pub subtitle: String,
    pub label_practitioner: String,
    pub label_reference: String,
    pub label_execution: String,
    pub label_account: String,
    pub label_transfer: String,
    pub label_noemie: String,
    pub salutation: String,
    pub intro: String,
    pub paid_title: String,
    pub rejected_title: String,
    pub continued: String,
    pub total: String,
    pub no_rejections: String,
    pub closing: String,
    pub signature: String,
    pub continuation: String,
    pub continuation_right: String,
    pub footer: String,
    pub page: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("reports/statement.toml: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("reports/statement.toml: {0}")]
    Invalid(String),
}

/// The compiled-in template, parsed and validated once.
pub fn builtin() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(|| {
        let t = Template::parse(TEMPLATE_TOML).expect("reports/statement.toml parses");
        t.validate(Faces::get())
            .expect("reports/statement.toml is valid (checked by the template tests)");
        t
    })
}

/// Fills `{key}` placeholders; an unknown one is left for [`Template::validate`] to catch.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        Ok(toml::from_str(text)?)
    }

    pub fn content_width_mm(&self) -> f32 {
        self.page.width_mm - self.page.margin_left_mm - self.page.margin_right_mm
    }

    /// Height of one table row of `lines` text lines.
    pub fn row_height_mm(&self, lines: usize) -> f32 {
        self.table.line_height_mm * lines as f32 + 2.0 * self.table.row_padding_mm
    }

    pub fn line_mm(&self, size_pt: f32) -> f32 {
        size_pt * self.sizes.line_spacing / PT_PER_MM
    }

    /// Checks geometry and texts; `faces` measures the column titles.
    pub fn validate(&self, faces: &Faces) -> Result<(), TemplateError> {
        let bad = |m: String| Err(TemplateError::Invalid(m));
        let p = &self.page;
        if !(p.width_mm > 0.0 && p.height_mm > 0.0) {
            return bad("page size must be positive".into());
        }
        if !(p.continuation_top_mm < p.body_bottom_mm
            && p.body_bottom_mm < p.footer_y_mm
            && p.footer_y_mm < p.height_mm)
        {
            return bad(
                "continuation_top < body_bottom < footer_y < page height is required".into(),
            );
        }
        let a = &self.address;
        if a.x_mm + a.width_mm > p.width_mm - p.margin_right_mm + 0.01
            || a.top_mm + a.height_mm >= self.letter.place_date_y_mm
        {
            return bad("the address zone leaves the page or overlaps the date line".into());
        }
        let address_lines = (a.height_mm / self.line_mm(self.sizes.address)).floor() as usize;
        if address_lines < a.max_lines.min(5) {
            return bad(format!(
                "the address zone holds {address_lines} lines at {} pt: at least 5 are needed",
                self.sizes.address
            ));
        }
        if self.letter.place_date_y_mm >= self.letter.title_y_mm {
            return bad("the date line must be above the title".into());
        }
        if self.table.max_lines == 0 || self.row_height_mm(self.table.max_lines) * 2.0 > 60.0 {
            return bad("table.max_lines must be 1–a few lines".into());
        }
        let width = self.content_width_mm();
        for (name, cols) in [
            ("paid", &self.table.paid),
            ("rejected", &self.table.rejected),
        ] {
            let sum: f32 = cols.iter().map(|c| c.width_mm).sum();
            if (sum - width).abs() > 0.01 {
                return bad(format!(
                    "table.{name}: columns add up to {sum} mm, the text width is {width} mm"
                ));
            }
            for c in cols {
                let room = (c.width_mm - 2.0 * self.table.cell_padding_mm) * PT_PER_MM;
                let need = faces.regular.width(&c.title, self.sizes.table);
                if need > room {
                    return bad(format!(
                        "table.{name}: title {:?} needs {:.1} mm, column has {:.1} mm",
                        c.title,
                        need / PT_PER_MM,
                        room / PT_PER_MM
                    ));
                }
            }
        }
        self.validate_texts()
    }

    fn validate_texts(&self) -> Result<(), TemplateError> {
        let t = &self.texts;
        let allowed: [(&str, &str, &[&str]); 5] = [
            ("place_date", &t.place_date, &["city", "date"]),
            (
                "continuation",
                &t.continuation,
                &["title", "name", "ps_id", "reference"],
            ),
            (
                "continuation_right",
                &t.continuation_right,
                &["title", "name", "ps_id", "reference"],
            ),
            (
                "footer",
                &t.footer,
                &["sender", "address", "postcode", "city"],
            ),
            ("page", &t.page, &["page", "pages"]),
        ];
        for (field, text, keys) in allowed {
            let values: Vec<(&str, &str)> = keys.iter().map(|k| (*k, "")).collect();
            let rest = fill(text, &values);
            if rest.contains('{') || rest.contains('}') {
                return Err(TemplateError::Invalid(format!(
                    "texts.{field}: unknown placeholder in {text:?} (allowed: {keys:?})"
                )));
            }
        }
        for (field, text) in [
            ("intro", &t.intro),
            ("closing", &t.closing),
            ("title", &t.title),
            ("paid_title", &t.paid_title),
        ] {
            if text.contains('{') || text.trim().is_empty() {
                return Err(TemplateError::Invalid(format!(
                    "texts.{field} must be plain, non-empty text"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_template_parses_and_is_valid() {
        let t = Template::parse(TEMPLATE_TOML).unwrap();
        t.validate(Faces::get()).unwrap();
        assert_eq!((t.page.width_mm, t.page.height_mm), (210.0, 297.0), "A4");
        // Inside the window of a French DL / C5-6 envelope (x 100–200, y 45–95 mm).
        assert!(t.address.x_mm >= 100.0 && t.address.x_mm + t.address.width_mm <= 200.0);
        assert!(t.address.top_mm >= 45.0 && t.address.top_mm + t.address.height_mm <= 95.0);
        assert_eq!(t.texts.title, "Relevé de paiement");
        let _ = builtin();
    }

    #[test]
    fn columns_that_overflow_are_refused() {
        let text = TEMPLATE_TOML.replacen("width_mm = 54.0", "width_mm = 60.0", 1);
        let e = Template::parse(&text)
            .unwrap()
            .validate(Faces::get())
            .unwrap_err();
        assert!(e.to_string().contains("columns add up to"), "{e}");
    }

    #[test]
    fn an_address_outside_the_window_or_page_is_refused() {
        let text = TEMPLATE_TOML.replacen("x_mm = 110.0", "x_mm = 150.0", 1);
        let e = Template::parse(&text)
            .unwrap()
            .validate(Faces::get())
            .unwrap_err();
        assert!(e.to_string().contains("address zone"), "{e}");
    }

    #[test]
    fn unknown_placeholders_and_keys_are_refused() {
        let text = TEMPLATE_TOML.replacen("Page {page}/{pages}", "Page {page}/{total}", 1);
        let e = Template::parse(&text)
            .unwrap()
            .validate(Faces::get())
            .unwrap_err();
        assert!(e.to_string().contains("unknown placeholder"), "{e}");
        let text = TEMPLATE_TOML.replacen("key = \"billed\"", "key = \"fees\"", 1);
        assert!(Template::parse(&text).is_err());
        let text = format!("{TEMPLATE_TOML}\n[extra]\nx = 1\n");
        assert!(Template::parse(&text).is_err());
    }

    #[test]
    fn a_column_title_wider_than_its_column_is_refused() {
        let text = TEMPLATE_TOML.replacen(
            "title = \"Part AMO\"",
            "title = \"Part de l'Assurance Maladie obligatoire\"",
            1,
        );
        let e = Template::parse(&text)
            .unwrap()
            .validate(Faces::get())
            .unwrap_err();
        assert!(e.to_string().contains("needs"), "{e}");
    }
}
