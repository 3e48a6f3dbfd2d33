//! A Berkeley DB hash `Packages` as found in images: any bytes give Ok or Err, never a panic or
//! a hang, and what is read is no larger than the file (every page is read at most once).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(db) = regraft::formats::bdbhash::read(data) {
        let total: usize = db.records.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(total <= data.len());
    }
    let _ = regraft::packages::rpm::read_bdb(data, "Packages", true);
});
