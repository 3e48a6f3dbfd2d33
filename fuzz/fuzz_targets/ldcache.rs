//! The `ld.so.cache` reader: any input gives Ok or Err, never a panic, in bounded time and
//! memory; entries that share one long tail must not multiply it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::formats::ldcache::LdCache;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = LdCache::parse(data) {
        let total: usize = c.entries.iter().map(|e| e.name.len() + e.path.len()).sum();
        assert!(total <= (2 * data.len()).max(64 << 10));
        if let Some(e) = c.entries.first() {
            let _ = c.lookup(&e.name, 64, regraft::formats::elf::EM_X86_64);
        }
    }
});
