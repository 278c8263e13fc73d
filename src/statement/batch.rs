//! The print batch: what goes to the print shop. All letters of a run in
//! one PDF, sorted by postcode (the order La Poste's pre-sorting rates ask
//! for), and a CSV giving each letter's page count so that the shop can
//! cut the stream back into letters (`ps_id,pages,postcode`; a postcode
//! that a spreadsheet would take for a formula is defused).

use super::letter::Letter;
use crate::spreadsheet::defuse;

/// Indices of `letters` in print order: postcode, then `ps_id`.
pub fn print_order(letters: &[Letter]) -> Vec<usize> {
    print_order_by(letters, |l| (l.postcode.as_str(), l.ps_id.as_str()))
}

/// Indices of `items` in print order, `key` giving each one's (postcode,
/// `ps_id`).
pub fn print_order_by<T>(items: &[T], key: impl Fn(&T) -> (&str, &str)) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| key(&items[a]).cmp(&key(&items[b])));
    order
}

/// The CSV manifest, one line per letter in print order.
pub fn manifest_csv(letters: &[&Letter], pages: &[usize]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(["ps_id", "pages", "postcode"])
        .expect("writing to memory");
    for (l, n) in letters.iter().zip(pages) {
        let postcode = defuse(l.postcode.as_str());
        w.write_record([l.ps_id.as_str(), &n.to_string(), &postcode])
            .expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

#[cfg(test)]
mod tests {
    use super::manifest_csv;
    use crate::statement::layout::tests::letter;

    #[test]
    fn a_formula_in_a_postcode_is_defused() {
        let mut l = letter(1, 0);
        l.postcode = "=HYPERLINK(\"x\")".into();
        let csv = String::from_utf8(manifest_csv(&[&l], &[2])).unwrap();
        assert_eq!(
            csv,
            "ps_id,pages,postcode\n100000001,2,\"'=HYPERLINK(\"\"x\"\")\"\n"
        );
    }
}
