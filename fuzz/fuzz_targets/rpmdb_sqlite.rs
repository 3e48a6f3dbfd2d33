//! rpm's sqlite database as found in images: any bytes give Ok or Err, within the step budget,
//! never a panic or a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = regraft::packages::rpm::read_sqlite(data, None, "rpmdb.sqlite", true);
});
