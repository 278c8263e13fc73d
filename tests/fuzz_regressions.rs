//! Replays what the fuzzers found (`tests/fixtures/fuzz-regressions/`) and
//! their seed inputs through the very checks the fuzz targets run
//! (`fuzz/checks.rs`), so a crash found once stays a test of the normal
//! suite, with or without cargo-fuzz.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

use tpsettle::calendar::Calendar;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'));
    out.sort();
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn import_csv_findings_and_seeds() {
    let cal = Calendar::default();
    let findings = files(&root().join("tests/fixtures/fuzz-regressions/import_csv"));
    for f in &findings {
        checks::check_import(&std::fs::read(f).unwrap(), &cal);
    }
    // The seeds: every hostile fixture, as each kind of file.
    let seeds = files(&root().join("tests/fixtures/bad"));
    assert!(seeds.len() >= 40);
    for f in &seeds {
        let body = std::fs::read(f).unwrap();
        for kind in 0u8..3 {
            checks::check_import(&[&[kind], body.as_slice()].concat(), &cal);
        }
    }
}

#[test]
fn rsp_decode_findings_and_seeds() {
    let mut inputs = files(&root().join("tests/fixtures/fuzz-regressions/rsp_decode"));
    let seeds = files(&root().join("fuzz/seeds/rsp_decode"));
    assert!(!seeds.is_empty(), "the RSP seed corpus is missing");
    inputs.extend(seeds.iter().cloned());
    for f in &inputs {
        checks::check_rsp(&std::fs::read(f).unwrap());
    }
    // Every prefix and a byte flipped at every position of one seed: the
    // decoder must refuse each cleanly (or accept it consistently).
    let seed = std::fs::read(&seeds[0]).unwrap();
    for n in 0..seed.len() {
        checks::check_rsp(&seed[..n]);
        let mut flipped = seed.clone();
        flipped[n] ^= 0x5a;
        checks::check_rsp(&flipped);
    }
}
