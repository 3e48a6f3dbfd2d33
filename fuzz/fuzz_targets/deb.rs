//! A `.deb` as `regraft patch` reads one from a repository: the ar members, the control
//! archive (each member at most MAX_SYSTEM_FILE, the whole inflated at most four times that),
//! the data tar inflated and walked by the layer entry parser. Any input gives Ok or Err,
//! never a panic, in bounded time and memory.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::patch::deb::{self, Deb};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("regraft-fuzz-deb-{}.deb", std::process::id()));
    std::fs::write(&path, data).unwrap();
    if let Ok(d) = Deb::open(&path) {
        if let Ok(c) = d.control() {
            let f = deb::fields(&c.control);
            let _ = deb::field(&f, "Package");
        }
        if let Ok(file) = d.data(&dir) {
            let mut ar = tar::Archive::new(file);
            if let Ok(entries) = ar.entries() {
                for e in entries.take(10_000) {
                    let Ok(mut e) = e else { break };
                    let _ = regraft::layer::entry::parse_entry(&mut e);
                }
            }
        }
    }
});
