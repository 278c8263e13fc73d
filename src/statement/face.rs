//! The embedded fonts (DejaVu Sans Condensed, `reports/fonts/`) and their metrics.
//!
//! Text is laid out here, not by a shaper: a statement is Latin text in
//! one font, so one glyph per character with its advance width is exact
//! enough (no kerning), measures text for right-aligned amounts and
//! cutting, and is an order of magnitude cheaper than shaping 100,000
//! table rows. krilla then embeds only the glyphs used (subsetting).

use std::collections::HashMap;
use std::sync::OnceLock;

use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

static REGULAR: &[u8] = include_bytes!("../../reports/fonts/DejaVuSansCondensed.ttf");

/// One font: advance widths (in em) by character, and the font for krilla.
pub struct Face {
    data: &'static [u8],
    ascii: [(u16, f32); 128],
    others: HashMap<char, (u16, f32)>,
    notdef_advance: f32,
    /// Ascent in em (baseline below the top of a line box).
    pub ascent: f32,
}

/// The font a statement uses: one weight, bold is drawn (see `render`).
pub struct Faces {
    pub regular: Face,
}

impl Faces {
    /// Parsed once per process; shared by the rendering threads.
    pub fn get() -> &'static Faces {
        static F: OnceLock<Faces> = OnceLock::new();
        F.get_or_init(|| Faces {
            regular: Face::load(REGULAR),
        })
    }
}

impl Face {
    fn load(data: &'static [u8]) -> Face {
        let font = FontRef::new(data).expect("embedded DejaVu font parses");
        let upem = f32::from(
            font.metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        let gm = font.glyph_metrics(Size::unscaled(), LocationRef::default());
        let advance = |gid| gm.advance_width(gid).unwrap_or(0.0) / upem;
        let notdef_advance = advance(skrifa::GlyphId::NOTDEF);
        let mut ascii = [(0u16, notdef_advance); 128];
        let mut others = HashMap::new();
        for (cp, gid) in font.charmap().mappings() {
            let Ok(g) = u16::try_from(gid.to_u32()) else {
                continue;
            };
            let entry = (g, advance(gid));
            match char::from_u32(cp) {
                Some(c) if c.is_ascii() => ascii[c as usize] = entry,
                Some(c) => {
                    others.insert(c, entry);
                }
                None => {}
            }
        }
        let ascent = font
            .metrics(Size::unscaled(), LocationRef::default())
            .ascent
            / upem;
        Face {
            data,
            ascii,
            others,
            notdef_advance,
            ascent,
        }
    }

    /// A krilla font on the embedded data (cheap: the bytes are static).
    pub fn krilla_font(&self) -> Font {
        Font::new(self.data.into(), 0).expect("embedded DejaVu font loads in krilla")
    }

    fn glyph(&self, c: char) -> (u16, f32) {
        if c.is_ascii() {
            self.ascii[c as usize]
        } else {
            self.others
                .get(&c)
                .copied()
                .unwrap_or((0, self.notdef_advance))
        }
    }

    /// True when every character of `text` has a glyph.
    pub fn covers(&self, text: &str) -> bool {
        text.chars()
            .all(|c| c.is_ascii_control() || self.glyph(c).0 != 0)
    }

    /// Width of `text` in points at `size`.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.glyph(c).1).sum::<f32>() * size
    }

    /// The glyphs of `text`, each mapped back to its character so the PDF's
    /// text can be extracted (copy, search, `pdftotext`).
    pub fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(i, c)| {
                let (gid, adv) = self.glyph(c);
                KrillaGlyph::new(
                    GlyphId::new(u32::from(gid)),
                    adv,
                    0.0,
                    0.0,
                    0.0,
                    i..i + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }

    /// `text` cut to `max_pt` at `size`, ending with "…" when cut.
    pub fn fit(&self, text: &str, size: f32, max_pt: f32) -> String {
        if self.width(text, size) <= max_pt {
            return text.to_owned();
        }
        let room = max_pt - self.width("…", size);
        let mut used = 0.0;
        let mut out = String::new();
        for c in text.chars() {
            used += self.glyph(c).1 * size;
            if used > room {
                break;
            }
            out.push(c);
        }
        format!("{}…", out.trim_end())
    }

    /// Greedy word wrap of `text` into lines of at most `max_pt`; a word
    /// longer than a line is cut. At most `max_lines` lines, the last one
    /// ending with "…" when text remains.
    pub fn wrap(&self, text: &str, size: f32, max_pt: f32, max_lines: usize) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        let mut line = String::new();
        let mut words = text.split_whitespace().peekable();
        let mut dropped = false;
        for word in words.by_ref() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if self.width(&candidate, size) <= max_pt {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if lines.len() == max_lines {
                dropped = true;
                break;
            }
            line = self.fit(word, size, max_pt);
        }
        if !line.is_empty() && lines.len() < max_lines {
            lines.push(line);
            line = String::new();
        }
        let rest = dropped || !line.is_empty() || words.peek().is_some();
        if rest && let Some(last) = lines.last_mut() {
            *last = self.fit(&format!("{last} …"), size, max_pt);
            if !last.ends_with('…') {
                last.push('…');
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_text_is_covered() {
        let f = Faces::get();
        assert!(
            f.regular
                .covers("é è à ç œ Œ € « » ù ô î ï ü ÿ æ É È À Ç ’ — … ° N°")
        );
        assert!(f.regular.width("Relevé", 10.0) > 20.0);
    }

    #[test]
    fn wrap_and_fit() {
        let r = &Faces::get().regular;
        let long = "Pas d'accord tiers-payant a la date de reception de la facture";
        let lines = r.wrap(long, 8.0, 100.0, 2);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| r.width(l, 8.0) <= 100.0), "{lines:?}");
        assert!(lines[1].ends_with('…'), "{lines:?}");
        assert_eq!(r.wrap("Court", 8.0, 100.0, 2), vec!["Court"]);
        let cut = r.fit("Anne-Sophie de La Tour d'Auvergne-Lauraguais", 8.0, 60.0);
        assert!(cut.ends_with('…') && r.width(&cut, 8.0) <= 60.0, "{cut}");
    }
}
