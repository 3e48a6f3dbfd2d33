//! A Python venv's `pyvenv.cfg` as found in images: `home` and `version` read, the X.Y taken.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::formats::pyvenv;

fuzz_target!(|data: &[u8]| {
    let v = pyvenv::parse(&String::from_utf8_lossy(data));
    if let Some(mm) = v.major_minor() {
        assert!(mm.bytes().all(|c| c.is_ascii_digit() || c == b'.'), "{mm:?}");
    }
});
