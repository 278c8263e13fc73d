//! `tpsettle rsp decode`: any bytes, as an RSP file.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../checks.rs");

fuzz_target!(|data: &[u8]| check_rsp(data));
