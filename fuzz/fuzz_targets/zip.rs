//! A jar's (a zip's) central directory and its entries' heads, as the JVM check reads them
//! through ranges of the file: any input gives Ok or Err, never a panic, in bounded time and
//! memory (a directory that claims more entries or bytes than it has must not allocate them).
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::formats::zip;

fuzz_target!(|data: &[u8]| {
    let mut read_at = |o: u64, n: usize| -> regraft::error::Result<Vec<u8>> {
        let s = usize::try_from(o).unwrap_or(usize::MAX).min(data.len());
        Ok(data[s..s.saturating_add(n).min(data.len())].to_vec())
    };
    if let Ok(entries) = zip::entries(data.len() as u64, &mut read_at, |_| true) {
        let mut heads = zip::Heads::default();
        for e in entries {
            if let Ok(Some(h)) = heads.head(&e, 8, &mut read_at) {
                assert!(h.len() <= 8);
            }
        }
    }
});
