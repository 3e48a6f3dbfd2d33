//! The ELF reader: any input gives Ok or Err, never a panic, and in bounded time and memory
//! (`fuzz/run.sh` flags a run over its `-timeout` or `-rss_limit_mb`): strings, version
//! chains and dynamic entries that point at the same bytes over and over must not multiply.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::formats::elf;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = elf::parse(data) {
        let _ = (e.is_program(), e.libc());
        let strings: usize = e.needed.iter().chain(&e.version_defs).map(String::len).sum();
        let versions: usize = e.version_needs.iter().map(|v| v.file.len() + v.version.len()).sum();
        // What a file yields is bounded by the file (twice its size, or 64 KiB).
        assert!(strings + versions <= (2 * data.len()).max(64 << 10));
    }
    // A Node addon's symbols: read through the section headers, not the dynamic section.
    if let Ok(names) = elf::defined_symbols_starting(data, b"node_register_module_v") {
        let bytes: usize = names.iter().map(String::len).sum();
        assert!(bytes <= (2 * data.len()).max(64 << 10));
    }
});
