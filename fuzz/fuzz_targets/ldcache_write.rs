//! The `ld.so.cache` writer against the reader: any entries (names and paths without NUL,
//! flags) written and read back give the same entries, in ldconfig's order, and the same
//! entries give the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::formats::ldcache::LdCache;
use regraft::formats::ldcache_write::{NewEntry, libcmp, write};

fuzz_target!(|data: &[u8]| {
    // Records split at 0xff: flags byte, then NAME \n PATH.
    let entries: Vec<NewEntry> = data
        .split(|&b| b == 0xff)
        .filter_map(|r| {
            let (&f, rest) = r.split_first()?;
            let text = String::from_utf8(rest.iter().copied().filter(|&b| b != 0).collect()).ok()?;
            let (name, path) = text.split_once('\n')?;
            Some(NewEntry {
                flags: u32::from(f) | 0x0300,
                name: name.to_string(),
                path: path.to_string(),
            })
        })
        .take(200)
        .collect();
    let b = write(&entries, "ldconfig (fuzz) release version 0");
    assert_eq!(b, write(&entries, "ldconfig (fuzz) release version 0"));
    let c = LdCache::parse(&b).expect("the writer's output reads back");
    assert_eq!(c.entries.len(), entries.len());
    for w in c.entries.windows(2) {
        assert!(libcmp(w[0].name.as_bytes(), w[1].name.as_bytes()) != std::cmp::Ordering::Less);
    }
    let mut got: Vec<(u32, &str, &str)> =
        c.entries.iter().map(|e| (e.flags, e.name.as_str(), e.path.as_str())).collect();
    let mut want: Vec<(u32, &str, &str)> =
        entries.iter().map(|e| (e.flags, e.name.as_str(), e.path.as_str())).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
});
