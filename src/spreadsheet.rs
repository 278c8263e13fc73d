//! CSV files we write are opened in spreadsheets by finance staff and print
//! shops. A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage
//! return is read as a formula there (CSV injection), and practitioner
//! names, centres and postcodes come from files we do not control. Such a
//! text cell gets a leading apostrophe, which spreadsheets show as text and
//! which a human reader sees at once. Numbers are written as numbers, never
//! passed through here: a negative amount stays `-12.00`.

use std::borrow::Cow;

/// `cell`, made inert for a spreadsheet.
pub fn defuse(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::defuse;

    #[test]
    fn formulas_become_text_and_the_rest_is_untouched() {
        for bad in ["=1+2", "+33 1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(defuse(bad), format!("'{bad}"));
        }
        for good in ["75011", "Dr Martin", "", "1=1", "'quoted"] {
            assert_eq!(defuse(good), good);
        }
    }
}
