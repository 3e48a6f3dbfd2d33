//! An `.apk` and an `APKINDEX.tar.gz` as `regraft patch` reads them from a repository: the gzip
//! segments (signature, control at most four times MAX_SYSTEM_FILE inflated), `.PKGINFO`, the
//! data tar inflated (capped) and walked by the layer entry parser with its PAX checksums; the
//! index's blocks, their dependency tokens, and the same text read as an `installed` database.
//! Any input gives Ok or Err, never a panic, in bounded time and memory.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::patch::{apk, apkdb, apkplan, apkrepo};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("regraft-fuzz-apk-{}.apk", std::process::id()));
    std::fs::write(&path, data).unwrap();
    if let Ok(a) = apk::Apk::open(&path) {
        let _ = apkrepo::fields_of(&a);
        let _ = apkplan::deps(Some(a.all("depend").join(" ")));
        if let Ok(file) = a.data(&dir, 64 << 20) {
            let mut ar = tar::Archive::new(file);
            if let Ok(entries) = ar.entries() {
                for e in entries.take(10_000) {
                    let Ok(mut e) = e else { break };
                    let _ = apk::entry_sha1(&mut e);
                    let _ = regraft::layer::entry::parse_entry(&mut e);
                }
            }
        }
    }
    if let Ok((text, _)) = apkrepo::read_apkindex(&path) {
        for i in apkplan::installed(&text) {
            for d in apkplan::deps(apkrepo::letter(&i.fields, "D")) {
                let _ = apkplan::satisfies(&i.version, &d.op);
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    for b in apkdb::blocks(&text) {
        let _ = b.files();
    }
});
