//! Writing `/etc/ld.so.cache` as glibc 2.33+'s `ldconfig` writes it by default (the new
//! format alone, `glibc-ld.so.cache1.1`): the 48-byte header, one 24-byte entry per library
//! in ldconfig's order (`elf/cache.c` `compare`: by `_dl_cache_libcmp` of the names, highest
//! first, then by flags, highest first; equal entries in the order they were added), the
//! string table with ldconfig's tail merging (`elf/stringtable.c`: strings sorted by their
//! reversed bytes, longest first, a string that ends the previous one shares its bytes), and
//! the extension directory with the generator string. No `glibc-hwcaps` entries: the caller
//! refuses directories that would need them. `ldcache.rs` reads what this writes.

use std::cmp::Ordering;

const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const HEADER: usize = 48;
const ENTRY: usize = 24;
/// `cache_extension_magic`: (uint32_t) -358342284.
const EXTENSION_MAGIC: u32 = (-358342284i32) as u32;
/// `cache_file_new_flags_endian_little`.
const ENDIAN_LITTLE: u8 = 2;

/// One library as ldconfig adds it: its soname, `DIR/SONAME`, its flags
/// (`FLAG_ELF_LIBC6 | FLAG_X8664_LIB64` = 0x0303, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    pub flags: u32,
    pub name: String,
    pub path: String,
}

/// `_dl_cache_libcmp` (elf/dl-cache.c): runs of digits compare by value, anything else byte
/// by byte; a digit sorts after a non-digit. `char` is signed on x86, so bytes past 0x7f
/// compare below ASCII, as they do where ldconfig runs on amd64 images.
///
/// One difference, so that this is a total order (a sort may rely on it, and a hostile name
/// must not make one panic): glibc adds a digit run up in an `int`, which wraps past ten
/// digits and then orders names inconsistently; here runs compare by their exact value
/// (leading zeros aside). Every run up to nine digits, which is every real soname's, compares
/// as glibc compares it.
pub fn libcmp(a: &[u8], b: &[u8]) -> Ordering {
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let digit = |c: u8| c.is_ascii_digit();
    // The digit run at `i` of `s`, without leading zeros, and where it ends.
    let run = |s: &[u8], mut i: usize| {
        while at(s, i) == b'0' && digit(at(s, i + 1)) {
            i += 1;
        }
        let start = i;
        while digit(at(s, i)) {
            i += 1;
        }
        (start, i)
    };
    let (mut i, mut j) = (0, 0);
    while at(a, i) != 0 {
        let (c1, c2) = (at(a, i), at(b, j));
        if digit(c1) {
            if !digit(c2) {
                return Ordering::Greater;
            }
            let (s1, e1) = run(a, i);
            let (s2, e2) = run(b, j);
            let by_value = (e1 - s1)
                .cmp(&(e2 - s2))
                .then_with(|| a[s1..e1].cmp(&b[s2..e2]));
            if by_value != Ordering::Equal {
                return by_value;
            }
            (i, j) = (e1, e2);
        } else if digit(c2) {
            return Ordering::Less;
        } else if c1 != c2 {
            return (c1 as i8).cmp(&(c2 as i8));
        } else {
            i += 1;
            j += 1;
        }
    }
    (at(a, i) as i8).cmp(&(at(b, j) as i8))
}

/// The string table: each distinct string's offset, and the table's bytes.
fn string_table(strings: &[&str]) -> (std::collections::HashMap<String, u32>, Vec<u8>) {
    let mut uniq: Vec<&str> = strings.to_vec();
    uniq.sort_unstable();
    uniq.dedup();
    // finalize_compare: by the bytes from the end, the greater first; a string that is the
    // tail of another after it.
    uniq.sort_by(|l, r| {
        let (l, r) = (l.as_bytes(), r.as_bytes());
        for (lc, rc) in l.iter().rev().zip(r.iter().rev()) {
            if lc != rc {
                return rc.cmp(lc);
            }
        }
        r.len().cmp(&l.len())
    });
    let mut offsets = std::collections::HashMap::new();
    let mut prev: Option<(&str, u32)> = None;
    let mut size = 0u32;
    for s in &uniq {
        let off = match prev {
            Some((p, po)) if p.len() >= s.len() && p.ends_with(s) => {
                po + (p.len() - s.len()) as u32
            }
            Some((p, po)) => po + p.len() as u32 + 1,
            None => 0,
        };
        size = size.max(off + s.len() as u32 + 1);
        offsets.insert(s.to_string(), off);
        prev = Some((s, off));
    }
    let mut table = vec![0u8; size as usize];
    for s in &uniq {
        let o = offsets[*s] as usize;
        table[o..o + s.len()].copy_from_slice(s.as_bytes());
    }
    (offsets, table)
}

/// The cache file for `entries` given in the order ldconfig adds them (directory by
/// directory), with `generator` (ldconfig's "ldconfig (...) release version ..." string) in
/// the extension directory.
pub fn write(entries: &[NewEntry], generator: &str) -> Vec<u8> {
    let mut sorted: Vec<&NewEntry> = entries.iter().collect();
    // ldconfig inserts each entry after every entry that does not sort after it: a stable
    // sort; names descending by libcmp, then flags descending.
    sorted.sort_by(|e1, e2| {
        libcmp(e2.name.as_bytes(), e1.name.as_bytes()).then(e2.flags.cmp(&e1.flags))
    });
    let strings: Vec<&str> = sorted
        .iter()
        .flat_map(|e| [e.name.as_str(), e.path.as_str()])
        .collect();
    let (offsets, table) = string_table(&strings);
    let str_offset = (HEADER + sorted.len() * ENTRY) as u32;
    let ext_offset = (str_offset as usize + table.len()).next_multiple_of(4);
    let mut b = Vec::with_capacity(ext_offset + 24 + generator.len());
    b.extend_from_slice(NEW_MAGIC);
    b.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    b.extend_from_slice(&(table.len() as u32).to_le_bytes());
    b.push(ENDIAN_LITTLE);
    b.extend_from_slice(&[0; 3]);
    b.extend_from_slice(&(ext_offset as u32).to_le_bytes());
    b.extend_from_slice(&[0; 12]);
    for e in &sorted {
        b.extend_from_slice(&e.flags.to_le_bytes());
        b.extend_from_slice(&(str_offset + offsets[&e.name]).to_le_bytes());
        b.extend_from_slice(&(str_offset + offsets[&e.path]).to_le_bytes());
        // osversion_unused, then hwcap (u64): zero without hwcaps.
        b.extend_from_slice(&[0; 12]);
    }
    b.extend_from_slice(&table);
    b.resize(ext_offset, 0);
    // The extension directory: magic, count, one section (the generator), then its bytes.
    b.extend_from_slice(&EXTENSION_MAGIC.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // cache_extension_tag_generator
    b.extend_from_slice(&0u32.to_le_bytes()); // flags
    b.extend_from_slice(&((ext_offset + 24) as u32).to_le_bytes());
    b.extend_from_slice(&(generator.len() as u32).to_le_bytes());
    b.extend_from_slice(generator.as_bytes());
    b
}

#[cfg(test)]
mod tests {
    /// A total order on names that would wrap glibc's `int` (and on the fuzzer's find, which
    /// made the sort panic): antisymmetric and transitive on every triple, and `write` sorts
    /// them without a panic.
    #[test]
    fn libcmp_is_a_total_order_even_past_an_int() {
        let names: Vec<&[u8]> = vec![
            b"libc.so.6",
            b"libc.so.06",
            b"libc.so.10",
            b"libc.so.9",
            b"lib9999999999.so",
            b"lib4294967297.so",
            b"lib1.so",
            b"lib01.so",
            b"lib",
            b"lib\x80",
            b"lib\xff1",
            b"libz.so.1",
            b"libz.so.1.2",
            b"21474836470",
            b"2147483648",
            b"x",
            b"",
            b"0",
            b"00",
        ];
        use std::cmp::Ordering::*;
        for a in &names {
            for b in &names {
                assert_eq!(super::libcmp(a, b), super::libcmp(b, a).reverse());
                for c in &names {
                    if super::libcmp(a, b) != Greater && super::libcmp(b, c) != Greater {
                        assert_ne!(super::libcmp(a, c), Greater, "{a:?} {b:?} {c:?}");
                    }
                }
            }
        }
        let entries: Vec<super::NewEntry> = names
            .iter()
            .map(|n| super::NewEntry {
                flags: 0x0303,
                name: String::from_utf8_lossy(n).into_owned(),
                path: "/lib/x".into(),
            })
            .collect();
        assert!(!super::write(&entries, "g").is_empty());
    }

    use super::*;
    use crate::formats::ldcache::LdCache;

    #[test]
    fn libcmp_compares_numbers_by_value() {
        for (a, b, want) in [
            ("libc.so.6", "libc.so.6", Ordering::Equal),
            ("libfoo.so.10", "libfoo.so.9", Ordering::Greater),
            ("libfoo.so.1", "libfoo.so.1.2", Ordering::Less),
            ("libfoo.so.01", "libfoo.so.1", Ordering::Equal),
            ("liba.so", "libb.so", Ordering::Less),
            ("lib1", "liba", Ordering::Greater),
        ] {
            assert_eq!(libcmp(a.as_bytes(), b.as_bytes()), want, "{a} {b}");
        }
    }

    #[test]
    fn tails_are_shared_as_ldconfig_shares_them() {
        let (off, table) = string_table(&["libz.so.1", "/lib/x/libz.so.1", "libc.so.6"]);
        // "/lib/x/libz.so.1" holds "libz.so.1" as its tail.
        assert_eq!(off["libz.so.1"], off["/lib/x/libz.so.1"] + 7);
        assert_eq!(
            table.len(),
            "/lib/x/libz.so.1".len() + 1 + "libc.so.6".len() + 1
        );
    }

    #[test]
    fn what_is_written_reads_back_in_ldconfigs_order() {
        let e = |f, n: &str, d: &str| NewEntry {
            flags: f,
            name: n.into(),
            path: format!("{d}/{n}"),
        };
        let entries = [
            e(0x0303, "libz.so.1", "/lib/x86_64-linux-gnu"),
            e(0x0303, "libc.so.6", "/lib/x86_64-linux-gnu"),
            e(0x0003, "libz.so.1", "/lib/i386-linux-gnu"),
            e(0x0303, "libfoo.so.10", "/usr/lib"),
            e(0x0303, "libfoo.so.9", "/usr/lib"),
        ];
        let b = write(&entries, "ldconfig (test) release version 0");
        let c = LdCache::parse(&b).unwrap();
        let names: Vec<(&str, u32)> = c
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.flags))
            .collect();
        assert_eq!(
            names,
            [
                ("libz.so.1", 0x0303),
                ("libz.so.1", 0x0003),
                ("libfoo.so.10", 0x0303),
                ("libfoo.so.9", 0x0303),
                ("libc.so.6", 0x0303)
            ]
        );
        assert_eq!(c.entries[1].path, "/lib/i386-linux-gnu/libz.so.1");
        assert!(b.ends_with(b"ldconfig (test) release version 0"));
        assert_eq!(write(&entries, "g"), write(&entries, "g"));
    }
}
