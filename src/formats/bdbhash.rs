//! A Berkeley DB hash database (rpm's `Packages` before rpm 4.16: RHEL and CentOS 7 and 8,
//! Amazon Linux 2), read by hand from Berkeley DB's on-disk format (`dbinc/db_page.h`; rpm's
//! own read-only reader, `lib/backend/bdb_ro.cc`, reads the same subset). Every number is in
//! the byte order of the machine that wrote the file, which the meta page's magic tells.
//!
//! ```text
//! page 0, the meta page       lsn(8) pgno(4) magic 0x061561(4) version(4) pagesize(4)
//!                             encrypt_alg(1) type 8(1) metaflags(1) ..(1) free(4)
//!                             last_pgno(4) ..  @72 max_bucket high_mask low_mask ..
//!                             @96 spares[32]  (bucket b is page b + spares[bits(b)])
//! any other page              lsn(8) pgno(4) prev(4) next(4) entries(u16) hf_offset(u16)
//!                             level(1) type(1), then `entries` u16 item offsets
//! hash page (type 2 or 13)    items in key, data pairs; an item's length runs to the item
//!                             before it (the first's to the page's end); its first byte:
//!                             1 H_KEYDATA (the bytes follow), 3 H_OFFPAGE (.. pgno(4)
//!                             tlen(4) at +4: the bytes are on overflow pages)
//! overflow page (type 7)      hf_offset bytes of the item from byte 26; `next` goes on
//! ```
//!
//! A bucket's pages are chained by `next`. Bounded by the file: every page is read at most
//! once (a page reached twice is a loop, an error), an item's length is checked against its
//! page and an overflow item's against the file before anything is allocated, so the work and
//! the memory are linear in the file's size.

const META_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_DUPLICATE: u8 = 2;
const H_OFFPAGE: u8 = 3;
const H_OFFDUP: u8 = 4;
/// `DBMETA_CHKSUM`: pages carry a checksum, which moves their items (rpm never set it, and its
/// own reader does not read such files either).
const DBMETA_CHKSUM: u8 = 1;

/// The records of one hash database.
#[derive(Debug, PartialEq, Eq)]
pub struct HashDb {
    /// The byte order the file (and so its keys) was written in.
    pub big_endian: bool,
    /// (key, data) in bucket order.
    pub records: Vec<(Vec<u8>, Vec<u8>)>,
}

struct File<'a> {
    b: &'a [u8],
    big: bool,
    pagesize: usize,
    last: u32,
    seen: Vec<bool>,
}

impl File<'_> {
    fn u32(&self, at: usize) -> u32 {
        let x = [self.b[at], self.b[at + 1], self.b[at + 2], self.b[at + 3]];
        if self.big {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        }
    }
    fn u16(p: &[u8], at: usize, big: bool) -> usize {
        let x = [p[at], p[at + 1]];
        usize::from(if big {
            u16::from_be_bytes(x)
        } else {
            u16::from_le_bytes(x)
        })
    }

    /// Page `n`, once: its number checked, and marked read.
    fn page(&mut self, n: u32, why: &str) -> Result<&[u8], String> {
        if n == 0 || n > self.last {
            return Err(format!("{why}: page {n}, outside pages 1..={}", self.last));
        }
        if std::mem::replace(&mut self.seen[n as usize], true) {
            return Err(format!(
                "{why}: page {n} reached twice (a loop in a page chain)"
            ));
        }
        let at = n as usize * self.pagesize;
        if self.u32(at + 8) != n {
            return Err(format!("page {n} says it is page {}", self.u32(at + 8)));
        }
        Ok(&self.b[at..at + self.pagesize])
    }

    /// The `len` bytes of an overflow item starting at page `n`.
    fn overflow(&mut self, mut n: u32, len: usize) -> Result<Vec<u8>, String> {
        // Each overflow page holds at most a page: a length the file cannot hold is a lie.
        if len > self.b.len() {
            return Err(format!(
                "an overflow item of {len} bytes in a file of {}",
                self.b.len()
            ));
        }
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let (big, pagesize) = (self.big, self.pagesize);
            let p = self.page(n, "an overflow chain")?;
            if p[25] != P_OVERFLOW {
                return Err(format!("page {n}: type {}, not an overflow page", p[25]));
            }
            let here = Self::u16(p, 22, big);
            if here == 0 || PAGE_HEADER + here > pagesize || out.len() + here > len {
                return Err(format!(
                    "overflow page {n}: {here} bytes (of {len}, {} read)",
                    out.len()
                ));
            }
            out.extend_from_slice(&p[PAGE_HEADER..PAGE_HEADER + here]);
            n = self.u32(n as usize * pagesize + 16);
            if out.len() < len && n == 0 {
                return Err(format!(
                    "an overflow chain ends after {} of its {len} bytes",
                    out.len()
                ));
            }
        }
        Ok(out)
    }

    /// The item at `off` of `len` bytes on page `n`.
    fn item(&mut self, n: u32, off: usize, len: usize) -> Result<Vec<u8>, String> {
        let at = n as usize * self.pagesize + off;
        match self.b[at] {
            H_KEYDATA => Ok(self.b[at + 1..at + len].to_vec()),
            H_OFFPAGE if len >= 12 => {
                let (pg, tlen) = (self.u32(at + 4), self.u32(at + 8));
                self.overflow(pg, tlen as usize)
                    .map_err(|e| format!("page {n}: {e}"))
            }
            H_DUPLICATE | H_OFFDUP => Err(format!(
                "page {n}: duplicate records, which rpm's Packages never has"
            )),
            t => Err(format!("page {n}: an item of type {t} ({len} bytes)")),
        }
    }
}

/// Reads a hash database: every bucket's chain of pages, every key and data item. The error
/// says what is wrong (the caller names the file).
pub fn read(b: &[u8]) -> Result<HashDb, String> {
    if b.len() < 512 {
        return Err(format!(
            "{} bytes, shorter than a Berkeley DB meta page (512)",
            b.len()
        ));
    }
    let raw = [b[12], b[13], b[14], b[15]];
    let big = if u32::from_le_bytes(raw) == META_MAGIC {
        false
    } else if u32::from_be_bytes(raw) == META_MAGIC {
        true
    } else {
        return Err("not a Berkeley DB hash database (no hash magic 0x061561)".into());
    };
    let mut f = File {
        b,
        big,
        pagesize: 0,
        last: 0,
        seen: Vec::new(),
    };
    let version = f.u32(16);
    if !(8..=10).contains(&version) {
        return Err(format!(
            "hash version {version} (Berkeley DB 4 and 5 write 8 and 9)"
        ));
    }
    let pagesize = f.u32(20) as usize;
    if !(512..=65536).contains(&pagesize) || !pagesize.is_power_of_two() {
        return Err(format!("page size {pagesize}"));
    }
    if b[25] != P_HASHMETA {
        return Err(format!("meta page of type {}, not a hash meta page", b[25]));
    }
    if b[24] != 0 {
        return Err("encrypted (not read)".into());
    }
    if b[26] & DBMETA_CHKSUM != 0 {
        return Err("pages with checksums (not read; rpm never writes them)".into());
    }
    let last = f.u32(32);
    let pages = (u64::from(last) + 1) * pagesize as u64;
    if pages > b.len() as u64 {
        return Err(format!(
            "{} pages of {pagesize} bytes, but the file has {} bytes (truncated?)",
            u64::from(last) + 1,
            b.len()
        ));
    }
    f.pagesize = pagesize;
    f.last = last;
    f.seen = vec![false; last as usize + 1];
    let max_bucket = f.u32(72);
    if max_bucket >= last {
        return Err(format!("{max_bucket} buckets in {last} pages"));
    }
    let spares: Vec<u32> = (0..32).map(|i| f.u32(96 + 4 * i)).collect();
    let mut records = Vec::new();
    for bucket in 0..=max_bucket {
        let bits = (u32::BITS - bucket.leading_zeros()) as usize;
        // bits is at most 32 only for buckets past 2^31, which `max_bucket < last` rules out.
        let first = u64::from(bucket) + u64::from(spares.get(bits).copied().unwrap_or(u32::MAX));
        let mut n = u32::try_from(first)
            .map_err(|_| format!("bucket {bucket}: page {first} past the file"))?;
        while n != 0 {
            let p = f.page(n, &format!("bucket {bucket}"))?;
            if p[25] != P_HASH && p[25] != P_HASH_UNSORTED {
                return Err(format!(
                    "bucket {bucket}: page {n} of type {}, not a hash page",
                    p[25]
                ));
            }
            let entries = File::u16(p, 20, big);
            let index_end = PAGE_HEADER + 2 * entries;
            if !entries.is_multiple_of(2) || index_end > pagesize {
                return Err(format!("page {n}: {entries} items"));
            }
            let offs: Vec<usize> = (0..entries)
                .map(|i| File::u16(p, PAGE_HEADER + 2 * i, big))
                .collect();
            let next = f.u32(n as usize * pagesize + 16);
            // Items lie below one another, down from the page's end.
            let mut end = pagesize;
            let mut spans = Vec::with_capacity(entries);
            for (i, &o) in offs.iter().enumerate() {
                if o < index_end || o >= end {
                    return Err(format!(
                        "page {n}: item {i} at {o}, outside {index_end}..{end}"
                    ));
                }
                spans.push((o, end - o));
                end = o;
            }
            for pair in spans.chunks_exact(2) {
                let key = f.item(n, pair[0].0, pair[0].1)?;
                let data = f.item(n, pair[1].0, pair[1].1)?;
                records.push((key, data));
            }
            n = next;
        }
    }
    Ok(HashDb {
        big_endian: big,
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal hash database in the given byte order: one bucket, on page 1, holding `items`
    /// (key, data) as H_KEYDATA; page 2 an overflow page for the item `big`, when given.
    fn db(big: bool, items: &[(&[u8], &[u8])], ovfl: Option<&[u8]>) -> Vec<u8> {
        let ps = 512;
        let u32b = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u16b = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let last = if ovfl.is_some() { 2 } else { 1 };
        let mut b = vec![0u8; ps * (last as usize + 1)];
        b[12..16].copy_from_slice(&u32b(META_MAGIC));
        b[16..20].copy_from_slice(&u32b(9));
        b[20..24].copy_from_slice(&u32b(ps as u32));
        b[25] = P_HASHMETA;
        b[32..36].copy_from_slice(&u32b(last));
        b[96..100].copy_from_slice(&u32b(1)); // spares[0]: bucket 0 on page 1
        let p = ps;
        b[p + 8..p + 12].copy_from_slice(&u32b(1));
        b[p + 25] = P_HASH;
        let mut end = ps;
        let mut offs = Vec::new();
        for (k, v) in items {
            for it in [k, v] {
                end -= it.len() + 1;
                b[p + end] = H_KEYDATA;
                b[p + end + 1..p + end + 1 + it.len()].copy_from_slice(it);
                offs.push(end);
            }
        }
        if let Some(o) = ovfl {
            end -= 5;
            b[p + end] = H_KEYDATA;
            b[p + end + 1..p + end + 5].copy_from_slice(b"ovfl");
            offs.push(end);
            end -= 12;
            b[p + end] = H_OFFPAGE;
            b[p + end + 4..p + end + 8].copy_from_slice(&u32b(2));
            b[p + end + 8..p + end + 12].copy_from_slice(&u32b(o.len() as u32));
            offs.push(end);
            let q = 2 * ps;
            b[q + 8..q + 12].copy_from_slice(&u32b(2));
            b[q + 22..q + 24].copy_from_slice(&u16b(o.len() as u16));
            b[q + 25] = P_OVERFLOW;
            b[q + 26..q + 26 + o.len()].copy_from_slice(o);
        }
        b[p + 20..p + 22].copy_from_slice(&u16b(offs.len() as u16));
        for (i, o) in offs.iter().enumerate() {
            b[p + 26 + 2 * i..p + 28 + 2 * i].copy_from_slice(&u16b(*o as u16));
        }
        b
    }

    #[test]
    fn both_byte_orders_read_alike() {
        for big in [false, true] {
            let d = read(&db(
                big,
                &[(b"k1", b"value one"), (b"k2", b"")],
                Some(b"spilled"),
            ))
            .unwrap();
            assert_eq!(d.big_endian, big);
            let got: Vec<(&[u8], &[u8])> = d
                .records
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_slice()))
                .collect();
            assert_eq!(
                got,
                [
                    (b"k1".as_slice(), b"value one".as_slice()),
                    (b"k2", b""),
                    (b"ovfl", b"spilled")
                ]
            );
        }
    }

    #[test]
    fn bad_files_are_errors_that_say_why() {
        let d = db(false, &[(b"k1", b"v")], Some(b"spilled"));
        let set = |at: usize, v: u32| {
            let mut b = d.clone();
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            b
        };
        let ovfl_item = 512 + 512 - 3 - 2 - 5 - 12; // the H_OFFPAGE item on page 1
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("short", d[..100].to_vec(), "shorter than"),
            ("magic", set(12, 7), "no hash magic"),
            ("version", set(16, 2), "hash version 2"),
            ("page size", set(20, 1000), "page size 1000"),
            ("truncated", d[..1100].to_vec(), "truncated"),
            ("last page lies", set(32, u32::MAX), "truncated"),
            ("buckets lie", set(72, 1 << 30), "buckets in"),
            ("spares lie", set(96, u32::MAX), "outside pages"),
            ("page number", set(512 + 8, 7), "says it is page 7"),
            ("next loops", set(512 + 16, 1), "reached twice"),
            (
                "overflow loops",
                {
                    let mut b = set(1024 + 16, 2);
                    b[ovfl_item + 8..ovfl_item + 12].copy_from_slice(&14u32.to_le_bytes());
                    b
                },
                "reached twice",
            ),
            ("overflow to meta", set(ovfl_item + 4, 0), "outside pages"),
            (
                "tlen lies",
                set(ovfl_item + 8, u32::MAX),
                "overflow item of",
            ),
            ("tlen short chain", set(ovfl_item + 8, 20), "chain ends"),
            (
                "checksums",
                {
                    let mut b = d.clone();
                    b[26] = 1;
                    b
                },
                "checksums",
            ),
            (
                "entries",
                {
                    let mut b = d.clone();
                    b[512 + 20] = 0xff;
                    b[512 + 21] = 0xff;
                    b
                },
                "items",
            ),
            (
                "item offset",
                {
                    let mut b = d.clone();
                    b[512 + 26] = 3;
                    b[512 + 27] = 0;
                    b
                },
                "outside",
            ),
            (
                "dup",
                {
                    let mut b = d.clone();
                    b[1024 - 3] = H_DUPLICATE;
                    b
                },
                "duplicate",
            ),
        ];
        for (name, bytes, want) in cases {
            let e = read(&bytes).err().unwrap_or_else(|| panic!("{name}: read"));
            assert!(e.contains(want), "{name}: {e}");
        }
    }
}
