//! rpm's ndb `Packages.db` as found in images: any bytes give Ok or Err, never a panic or a
//! hang, and the blobs read are ranges of the file (together no larger than it).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(blobs) = regraft::formats::rpmndb::read(data) {
        let total: usize = blobs.iter().map(|b| b.blob.len()).sum();
        assert!(total <= data.len());
    }
    let _ = regraft::packages::rpm::read_ndb(data, "Packages.db", true);
});
