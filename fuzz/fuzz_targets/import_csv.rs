//! CSV import parsing and validation (`tpsettle::import::validate`), no
//! database: first byte = kind of file, the rest = the file.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

include!("../checks.rs");

static CAL: LazyLock<Calendar> = LazyLock::new(Calendar::default);

fuzz_target!(|data: &[u8]| check_import(data, &CAL));
