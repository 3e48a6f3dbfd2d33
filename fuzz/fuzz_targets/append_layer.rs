//! A layer tarball as `regraft append` takes one from the user: the compression sniffed from
//! its bytes (tar, gzip, zstd), hashed (blob digest and diff_id) in one read under a
//! decompressed-size limit, then walked by the one entry walk every layer goes through (names
//! cleaned, escapes, truncation and hostile entries refused). Any input gives Ok or Err, never
//! a panic, in bounded time and memory.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!(
        "regraft-fuzz-append-{}.tar",
        std::process::id()
    ));
    std::fs::write(&path, data).unwrap();
    if let Ok(layer) = regraft::toolbox::append::layer_from_file(&path, 3, 16 << 20) {
        // What was accepted is described by its bytes: the digest is the file's sha256.
        assert_eq!(layer.desc.size, data.len() as u64);
    }
});
