//! `/etc/ld.so.cache`, as glibc's loader reads it at run time: the new format
//! (`glibc-ld.so.cache1.1`), standalone or after the old `ld.so-1.7.0` table. glibc never
//! reads `ld.so.conf` at run time, so this cache is what counts. Its strings are read as
//! `formats::strings` bounds them: entries that share one long tail cost what the file costs.

use super::strings::Strings;
use crate::error::{Error, Result};

const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;
const OLD_ENTRY: usize = 12;

/// `FLAG_ELF_LIBC6`: an entry for a glibc ELF library.
const FLAG_ELF_LIBC6: u32 = 0x0003;
const FLAG_TYPE_MASK: u32 = 0x00ff;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    pub flags: u32,
    pub name: String,
    pub path: String,
}

#[derive(Clone, Debug, Default)]
pub struct LdCache {
    pub entries: Vec<CacheEntry>,
}

fn u32_at(b: &[u8], off: usize) -> Result<u32> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| Error::Invalid("ld.so.cache: truncated".into()))
}

/// The architecture bits (`FLAG_X8664_LIB64`, ...) glibc requires for a class and machine.
pub fn arch_flags(class: u8, machine: u16) -> Option<u32> {
    use super::elf::*;
    match (class, machine) {
        (64, EM_X86_64) => Some(0x0300),
        (64, EM_AARCH64) => Some(0x0a00),
        (32, EM_386) | (32, EM_ARM) => Some(0),
        _ => None,
    }
}

impl LdCache {
    pub fn parse(b: &[u8]) -> Result<LdCache> {
        let mut start = 0;
        if b.starts_with(OLD_MAGIC) {
            let n = u32_at(b, 12)? as usize;
            start = 16usize.saturating_add(n.saturating_mul(OLD_ENTRY));
            start = start.saturating_add(7) & !7;
            if !b.get(start..).is_some_and(|s| s.starts_with(NEW_MAGIC)) {
                // An old-format-only cache: modern glibc ignores it.
                return Ok(LdCache::default());
            }
        } else if !b.starts_with(NEW_MAGIC) {
            return Err(Error::Invalid(
                "ld.so.cache: not a glibc-ld.so.cache1.1 file".into(),
            ));
        }
        let nlibs = u32_at(b, start + 20)? as usize;
        let strings = Strings::new(b, "ld.so.cache");
        let mut entries = Vec::new();
        for i in 0..nlibs {
            let e = start + NEW_HEADER + i * NEW_ENTRY;
            let flags = u32_at(b, e)?;
            let key = u32_at(b, e + 4)? as usize;
            let value = u32_at(b, e + 8)? as usize;
            // String offsets count from the start of the new-format part.
            entries.push(CacheEntry {
                flags,
                name: strings.at((start + key) as u64)?,
                path: strings.at((start + value) as u64)?,
            });
        }
        Ok(LdCache { entries })
    }

    /// The paths the cache gives for `name`, for a glibc object of this class and machine,
    /// in the cache's order.
    pub fn lookup(&self, name: &str, class: u8, machine: u16) -> Vec<&str> {
        let want = arch_flags(class, machine);
        self.entries
            .iter()
            .filter(|e| e.name == name)
            .filter(|e| e.flags & FLAG_TYPE_MASK == FLAG_ELF_LIBC6)
            .filter(|e| match want {
                Some(a) => e.flags & 0xff00 == a,
                None => true,
            })
            .map(|e| e.path.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(entries: &[(u32, &str, &str)]) -> Vec<u8> {
        let mut strings = Vec::new();
        let strbase = NEW_HEADER + entries.len() * NEW_ENTRY;
        let mut ents = Vec::new();
        for (f, n, p) in entries {
            let k = strbase + strings.len();
            strings.extend_from_slice(n.as_bytes());
            strings.push(0);
            let v = strbase + strings.len();
            strings.extend_from_slice(p.as_bytes());
            strings.push(0);
            ents.push((*f, k as u32, v as u32));
        }
        let mut b = NEW_MAGIC.to_vec();
        b.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        b.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        b.resize(NEW_HEADER, 0);
        for (f, k, v) in ents {
            b.extend_from_slice(&f.to_le_bytes());
            b.extend_from_slice(&k.to_le_bytes());
            b.extend_from_slice(&v.to_le_bytes());
            b.extend_from_slice(&[0; 12]);
        }
        b.extend_from_slice(&strings);
        b
    }

    #[test]
    fn finds_by_name_and_arch() {
        let b = build(&[
            (0x0303, "libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"),
            (0x0003, "libz.so.1", "/lib/i386-linux-gnu/libz.so.1"),
            (0x0303, "libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
        ]);
        let c = LdCache::parse(&b).unwrap();
        assert_eq!(c.entries.len(), 3);
        assert_eq!(
            c.lookup("libz.so.1", 64, crate::formats::elf::EM_X86_64),
            vec!["/lib/x86_64-linux-gnu/libz.so.1"]
        );
        assert_eq!(
            c.lookup("libz.so.1", 32, crate::formats::elf::EM_386),
            vec!["/lib/i386-linux-gnu/libz.so.1"]
        );
        assert!(c.lookup("libnope.so", 64, 62).is_empty());
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        assert!(LdCache::parse(b"nonsense").is_err());
        let b = build(&[(0x0303, "libz.so.1", "/x")]);
        assert!(LdCache::parse(&b[..60]).is_err());
    }

    /// Regression: 2,000 entries into one 1 MB tail took 3.9 GB.
    #[test]
    fn entries_sharing_one_long_tail_stop_at_the_limits() {
        let tail = |n: usize| {
            let mut b = build(&[(0x0303, "x", "y"); 20_000]);
            let at = b.len() as u32;
            b.extend(std::iter::repeat_n(b'l', n));
            b.push(0);
            for i in 0..20_000 {
                let e = NEW_HEADER + i * NEW_ENTRY;
                b[e + 8..e + 12].copy_from_slice(&at.to_le_bytes());
            }
            LdCache::parse(&b).unwrap_err().to_string()
        };
        assert!(tail(10 << 20).ends_with("(PATH_MAX)"), "{}", tail(10 << 20));
        assert!(tail(4000).ends_with("(STRINGS_PER_FILE)"), "{}", tail(4000));
    }

    #[test]
    fn reads_the_hosts_cache() {
        let b = std::fs::read("/etc/ld.so.cache").expect("the test host has an ld.so.cache");
        let c = LdCache::parse(&b).unwrap();
        assert!(
            !c.lookup("libc.so.6", 64, crate::formats::elf::EM_X86_64)
                .is_empty()
        );
    }
}
