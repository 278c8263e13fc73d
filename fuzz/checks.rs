// The properties the fuzz targets check, shared with the regression test
// that replays their findings (`tests/fuzz_regressions.rs`): a crash found
// by the fuzzer stays a test case of the normal suite.

use tpsettle::calendar::Calendar;
use tpsettle::import::{Kind, Problems, validate};

/// The first byte picks the kind of file, the rest is the file.
pub fn check_import(data: &[u8], cal: &Calendar) {
    let Some((k, body)) = data.split_first() else {
        return;
    };
    let kind = match k % 3 {
        0 => Kind::Claims,
        1 => Kind::Practitioners,
        _ => Kind::Adherents,
    };
    let v = validate(kind, "fuzz.csv", body, cal);
    assert!(
        v.valid_rows <= v.rows,
        "{} valid of {} rows",
        v.valid_rows,
        v.rows
    );
    assert!(v.problems.kept.len() <= Problems::KEPT);
    assert!(v.problems.kept.len() <= v.problems.total);
    if v.problems.is_empty() {
        assert_eq!(v.valid_rows, v.rows, "rows dropped without a problem");
    }
    for p in &v.problems.kept {
        // FILE:LINE: COLUMN: message, with a real line and bounded size.
        assert!(p.line >= 1, "problem without a line: {p}");
        assert!(!p.column.is_empty() && !p.message.is_empty(), "{p}");
        let shown = p.to_string();
        assert!(shown.starts_with(&format!("fuzz.csv:{}: {}: ", p.line, p.column)));
        assert!(shown.len() < 600, "a problem of {} bytes", shown.len());
    }
}

/// Decoding never panics, stops at the first error, and what it prints as
/// JSON is what it yields.
pub fn check_rsp(data: &[u8]) {
    let mut decoder = tpsettle::rsp::decode(data);
    let mut entities = 0u64;
    let mut failed = false;
    for e in decoder.by_ref() {
        match e {
            Ok(_) => entities += 1,
            Err(err) => {
                assert!(!err.to_string().is_empty());
                failed = true;
                break;
            }
        }
    }
    assert!(
        decoder.next().is_none(),
        "an entity after the end or an error"
    );
    let printed = tpsettle::rsp::decode_to_json_lines(data, std::io::sink());
    match printed {
        Ok(n) => assert!(!failed && n == entities, "{n} printed, {entities} decoded"),
        Err(_) => assert!(failed, "JSON printing failed where decoding did not"),
    }
}
