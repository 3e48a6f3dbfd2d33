//! rpm's ndb package database, `Packages.db` (SUSE and openSUSE, rpm 4.15 and later), read by
//! hand from its on-disk format as rpm's `lib/backend/ndb/rpmpkg.c` defines it. All numbers
//! are little-endian u32s; a block is 16 bytes, a page 4,096.
//!
//! ```text
//! header (the first 32 bytes)  "RpmP" | version 0 | generation | slotnpages | nextpkgidx | 0..
//! slots (pages 0..slotnpages, after the header): 16 bytes each
//!                              "Slot" | pkgidx | blkoff | blkcnt     (blkoff 0: a free slot)
//! blob at blkoff * 16, blkcnt blocks:
//!   head                       "BlbS" | pkgidx | generation | bloblen
//!   bloblen bytes              the header blob (`formats::rpmheader`)
//!   zeros                      padding to the block
//!   tail (the last 12 bytes)   adler32 of head, blob and padding | bloblen | "BlbE"
//! ```
//!
//! Bounded by the file: the slot pages must lie inside it, every slot's blocks too (past the
//! slot pages, as rpm requires), and a blob is a range of the file, never a copy; so the work
//! is linear in the file's size, whatever its counts say. Each check that rpm makes when it
//! reads the file is made here, and the adler32 that `rpm --verifydb` checks too.

const PAGE: usize = 4096;
const BLK: usize = 16;
const SLOT: usize = 16;
const HEADER: usize = 32;
const BLOB_HEAD: usize = 16;
const BLOB_TAIL: usize = 12;

const MAGIC: &[u8; 4] = b"RpmP";
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const HEAD_MAGIC: &[u8; 4] = b"BlbS";
const TAIL_MAGIC: &[u8; 4] = b"BlbE";

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Adler-32 (RFC 1950), as rpm checksums a blob.
pub fn adler32(bytes: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5,552 bytes is the most that cannot overflow `b` before the modulo.
    for chunk in bytes.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// One package's record: its index (rpm's header number) and its header blob, a range of the
/// file.
#[derive(Debug, PartialEq, Eq)]
pub struct Blob<'a> {
    pub pkgidx: u32,
    pub blob: &'a [u8],
}

/// The packages of one `Packages.db`, sorted by package index. The error says what is wrong
/// (the caller names the file).
pub fn read(file: &[u8]) -> Result<Vec<Blob<'_>>, String> {
    if file.len() < HEADER {
        return Err(format!(
            "{} bytes, shorter than the 32-byte ndb header",
            file.len()
        ));
    }
    if &file[..4] != MAGIC {
        return Err("not an rpm ndb database (no \"RpmP\" magic)".into());
    }
    let version = le32(file, 4);
    if version != 0 {
        return Err(format!("ndb version {version} (rpm writes 0)"));
    }
    if !file.len().is_multiple_of(BLK) {
        return Err(format!(
            "{} bytes, not a whole number of 16-byte blocks (a truncated file)",
            file.len()
        ));
    }
    let slotnpages = le32(file, 12) as usize;
    if slotnpages == 0 || slotnpages > file.len() / PAGE {
        return Err(format!(
            "{slotnpages} slot pages, but the file has room for {}",
            file.len() / PAGE
        ));
    }
    let fileblks = file.len() / BLK;
    let minblk = slotnpages * (PAGE / BLK);
    let mut slots: Vec<(u32, usize, usize)> = Vec::new();
    for (n, s) in file[..slotnpages * PAGE].chunks_exact(SLOT).enumerate() {
        if n < HEADER / SLOT {
            continue;
        }
        if &s[..4] != SLOT_MAGIC {
            return Err(format!("slot {n}: no \"Slot\" magic"));
        }
        let (pkgidx, blkoff, blkcnt) = (le32(s, 4), le32(s, 8) as usize, le32(s, 12) as usize);
        if blkoff == 0 {
            continue; // a free slot
        }
        if pkgidx == 0 || blkcnt == 0 {
            return Err(format!(
                "slot {n}: package index {pkgidx}, {blkcnt} blocks (neither may be 0)"
            ));
        }
        if blkoff < minblk || blkoff.saturating_add(blkcnt) > fileblks {
            return Err(format!(
                "slot {n}: blocks {blkoff}..+{blkcnt} outside the blob area (blocks {minblk}..{fileblks})"
            ));
        }
        slots.push((pkgidx, blkoff, blkcnt));
    }
    // Two slots of one package, or two blobs over the same blocks, is a broken database.
    slots.sort_by_key(|s| s.1);
    for w in slots.windows(2) {
        if w[0].1 + w[0].2 > w[1].1 {
            return Err(format!(
                "the blobs of packages {} and {} overlap",
                w[0].0, w[1].0
            ));
        }
    }
    slots.sort_by_key(|s| s.0);
    if let Some(w) = slots.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("package index {} in two slots", w[0].0));
    }
    slots
        .into_iter()
        .map(|(pkgidx, blkoff, blkcnt)| {
            blob(&file[blkoff * BLK..(blkoff + blkcnt) * BLK], pkgidx)
                .map(|blob| Blob { pkgidx, blob })
                .map_err(|e| format!("package {pkgidx} (block {blkoff}): {e}"))
        })
        .collect()
}

/// The header blob in one slot's blocks.
fn blob(b: &[u8], pkgidx: u32) -> Result<&[u8], String> {
    if b.len() < BLOB_HEAD + BLOB_TAIL {
        return Err(format!("{} bytes, too short for a blob", b.len()));
    }
    if &b[..4] != HEAD_MAGIC {
        return Err("no \"BlbS\" magic".into());
    }
    if le32(b, 4) != pkgidx {
        return Err(format!("the blob says package {}", le32(b, 4)));
    }
    let len = le32(b, 12) as usize;
    let blocks = (BLOB_HEAD + len + BLOB_TAIL).div_ceil(BLK);
    if blocks != b.len() / BLK {
        return Err(format!(
            "a blob of {len} bytes takes {blocks} blocks, but its slot has {}",
            b.len() / BLK
        ));
    }
    let tail = &b[b.len() - BLOB_TAIL..];
    if &tail[8..] != TAIL_MAGIC {
        return Err("no \"BlbE\" magic".into());
    }
    if le32(tail, 4) as usize != len {
        return Err(format!(
            "the head says {len} bytes, the tail {}",
            le32(tail, 4)
        ));
    }
    let sum = adler32(&b[..b.len() - BLOB_TAIL]);
    if sum != le32(tail, 0) {
        return Err(format!(
            "adler32 {sum:08x}, but the tail says {:08x}",
            le32(tail, 0)
        ));
    }
    Ok(&b[BLOB_HEAD..BLOB_HEAD + len])
}

/// A `Packages.db` holding `blobs` (package index, header blob), laid out as rpm lays out a
/// fresh database: one slot page and the blobs one after another. For tests and benches;
/// the fixtures are written by `fixtures/tools/rpmdb_write.py`, not by this.
pub fn write(blobs: &[(u32, &[u8])]) -> Vec<u8> {
    let slotnpages = (HEADER / SLOT + blobs.len()).div_ceil(PAGE / SLOT).max(1);
    let mut out = vec![0u8; slotnpages * PAGE];
    out[..4].copy_from_slice(MAGIC);
    out[8..12].copy_from_slice(&1u32.to_le_bytes());
    out[12..16].copy_from_slice(&(slotnpages as u32).to_le_bytes());
    let next = blobs.iter().map(|b| b.0).max().unwrap_or(0) + 1;
    out[16..20].copy_from_slice(&next.to_le_bytes());
    for s in (HEADER..slotnpages * PAGE).step_by(SLOT) {
        out[s..s + 4].copy_from_slice(SLOT_MAGIC);
    }
    for (i, (pkgidx, blob)) in blobs.iter().enumerate() {
        let blkoff = out.len() / BLK;
        let mut b = Vec::new();
        b.extend_from_slice(HEAD_MAGIC);
        b.extend_from_slice(&pkgidx.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        b.extend_from_slice(blob);
        b.resize(
            (BLOB_HEAD + blob.len() + BLOB_TAIL).div_ceil(BLK) * BLK - BLOB_TAIL,
            0,
        );
        let sum = adler32(&b);
        b.extend_from_slice(&sum.to_le_bytes());
        b.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        b.extend_from_slice(TAIL_MAGIC);
        let s = HEADER + i * SLOT;
        out[s + 4..s + 8].copy_from_slice(&pkgidx.to_le_bytes());
        out[s + 8..s + 12].copy_from_slice(&(blkoff as u32).to_le_bytes());
        out[s + 12..s + 16].copy_from_slice(&((b.len() / BLK) as u32).to_le_bytes());
        out.extend_from_slice(&b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Vec<u8> {
        write(&[(3, b"three".as_slice()), (1, b"one-and-more-bytes")])
    }

    fn set(b: &mut [u8], at: usize, v: u32) {
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn adler32_of_known_strings() {
        // RFC 1950's algorithm; the values as zlib computes them.
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32(&[0xff; 100_000]), {
            let (mut a, mut b) = (1u64, 0u64);
            for _ in 0..100_000 {
                a = (a + 255) % 65521;
                b = (b + a) % 65521;
            }
            ((b << 16) | a) as u32
        });
    }

    #[test]
    fn blobs_come_out_by_package_index() {
        let d = db();
        let got = read(&d).unwrap();
        assert_eq!(
            got,
            [
                Blob {
                    pkgidx: 1,
                    blob: b"one-and-more-bytes"
                },
                Blob {
                    pkgidx: 3,
                    blob: b"three"
                }
            ]
        );
        assert_eq!(read(&write(&[])).unwrap(), []);
    }

    /// Each lie a file can tell about itself, and the error it gets.
    #[test]
    fn bad_files_are_errors_that_say_why() {
        let d = db();
        let slot0 = HEADER; // the slot of package 3, whose blob is first
        let blob0 = PAGE;
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty", vec![], "shorter than the 32-byte"),
            ("magic", [b"RpmX", &d[4..]].concat(), "no \"RpmP\""),
            (
                "version",
                {
                    let mut b = d.clone();
                    set(&mut b, 4, 1);
                    b
                },
                "ndb version 1",
            ),
            (
                "truncated",
                d[..d.len() - 5].to_vec(),
                "not a whole number of 16-byte blocks",
            ),
            (
                "cut at a block",
                d[..d.len() - 16].to_vec(),
                "outside the blob area",
            ),
            (
                "slot pages",
                {
                    let mut b = d.clone();
                    set(&mut b, 12, 1 << 30);
                    b
                },
                "slot pages",
            ),
            (
                "no slot pages",
                {
                    let mut b = d.clone();
                    set(&mut b, 12, 0);
                    b
                },
                "0 slot pages",
            ),
            (
                "slot magic",
                {
                    let mut b = d.clone();
                    b[slot0 + 16] = b'x';
                    b
                },
                "slot 3: no \"Slot\"",
            ),
            (
                "blkcnt lies",
                {
                    let mut b = d.clone();
                    set(&mut b, slot0 + 12, u32::MAX);
                    b
                },
                "outside the blob area",
            ),
            (
                "blkoff in slots",
                {
                    let mut b = d.clone();
                    set(&mut b, slot0 + 8, 3);
                    b
                },
                "outside the blob area",
            ),
            (
                "pkgidx 0",
                {
                    let mut b = d.clone();
                    set(&mut b, slot0 + 4, 0);
                    b
                },
                "package index 0",
            ),
            (
                "two slots",
                {
                    let mut b = d.clone();
                    set(&mut b, slot0 + 4, 1);
                    b
                },
                "in two slots",
            ),
            (
                "overlap",
                {
                    let mut b = d.clone();
                    set(&mut b, slot0 + 16 + 8, (PAGE / BLK) as u32);
                    b
                },
                "overlap",
            ),
            (
                "head magic",
                {
                    let mut b = d.clone();
                    b[blob0] = 0;
                    b
                },
                "no \"BlbS\"",
            ),
            (
                "head pkgidx",
                {
                    let mut b = d.clone();
                    set(&mut b, blob0 + 4, 9);
                    b
                },
                "the blob says package 9",
            ),
            (
                "bloblen lies",
                {
                    let mut b = d.clone();
                    set(&mut b, blob0 + 12, 4000);
                    b
                },
                "takes 252 blocks",
            ),
            (
                "checksum",
                {
                    let mut b = d.clone();
                    b[blob0 + 17] ^= 1;
                    b
                },
                "adler32",
            ),
        ];
        for (name, bytes, want) in cases {
            let e = read(&bytes).err().unwrap_or_else(|| panic!("{name}: read"));
            assert!(e.contains(want), "{name}: {e}");
        }
    }
}
