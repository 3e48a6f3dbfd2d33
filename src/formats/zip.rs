//! Zip archives (jars, wars, ears): the entries their central directory lists and the first
//! bytes of an entry, read through `read_at` (a range of the file) so a large jar is never
//! held whole. Bounded: the directory at most `MAX_ZIP_DIRECTORY` bytes and
//! `MAX_ZIP_ENTRIES` entries; an entry's head is inflated from at most a few hundred bytes.
//! Zip64 end records are followed; encrypted entries and methods other than stored and
//! deflate are skipped (a JVM cannot load those classes either).

use crate::error::{Error, Result};
use crate::model::limits::{MAX_ZIP_DIRECTORY, MAX_ZIP_ENTRIES};

/// An entry of the central directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: Vec<u8>,
    method: u16,
    flags: u16,
    compressed: u64,
    local: u64,
}

/// Reads `len` bytes at `offset` of the archive (fewer only at its end).
pub type ReadAt<'a> = dyn FnMut(u64, usize) -> Result<Vec<u8>> + 'a;

const EOCD: u32 = 0x0605_4b50;
const EOCD64_LOCATOR: u32 = 0x0706_4b50;
const EOCD64: u32 = 0x0606_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const LOCAL: u32 = 0x0403_4b50;

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

fn bad(what: &str) -> Error {
    Error::Invalid(format!("zip: {what}"))
}

/// Where the central directory is: (its offset, its size, the bytes in front of the archive).
/// The end record is the last one whose comment length reaches exactly to the end of the file
/// (a record inside a comment does not); offsets are taken relative to where the archive
/// starts, as Java's `ZipFile` takes them: a launch script in front of a jar (Spring Boot's
/// fully executable jars) shifts every offset the archive records.
fn directory(len: u64, read_at: &mut ReadAt<'_>) -> Result<(u64, u64, u64)> {
    // The end record is 22 bytes plus a comment of at most 65,535.
    let tail_len = len.min(22 + 65_535);
    let tail = read_at(len - tail_len, tail_len as usize)?;
    // Candidates from the end; the first whose directory starts with an entry's signature
    // wins (an empty archive's end record, when none does).
    let mut fallback = None;
    let mut first_error = None;
    for at in (0..tail.len().saturating_sub(21)).rev() {
        let exact = u32_at(&tail, at) == Some(EOCD)
            && u16_at(&tail, at + 20).is_some_and(|c| at + 22 + usize::from(c) == tail.len());
        if !exact {
            continue;
        }
        let found = match end_record(&tail, at, len - tail_len, read_at) {
            Ok(found) => found,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        if found.1 > 0 && u32_at(&read_at(found.0, 4)?, 0) == Some(CENTRAL) {
            return Ok(found);
        }
        fallback.get_or_insert(at);
    }
    let Some(at) = fallback else {
        return Err(first_error
            .unwrap_or_else(|| bad("no end of central directory record (not a zip archive)")));
    };
    end_record(&tail, at, len - tail_len, read_at)
}

/// The directory an end record at `at` of `tail` (which starts at `tail_at` in the file) gives.
fn end_record(
    tail: &[u8],
    at: usize,
    tail_at: u64,
    read_at: &mut ReadAt<'_>,
) -> Result<(u64, u64, u64)> {
    let e = &tail[at..];
    let short = || bad("short end record");
    let count = u64::from(u16_at(e, 10).ok_or_else(short)?);
    let mut size = u64::from(u32_at(e, 12).ok_or_else(short)?);
    let mut offset = u64::from(u32_at(e, 16).ok_or_else(short)?);
    let eocd_at = tail_at + at as u64;
    let mut dir_end = eocd_at;
    if (count == 0xffff || size == 0xffff_ffff || offset == 0xffff_ffff) && eocd_at >= 20 {
        let loc = read_at(eocd_at - 20, 20)?;
        if u32_at(&loc, 0) == Some(EOCD64_LOCATOR) {
            let at64 = u64_at(&loc, 8).ok_or_else(|| bad("short zip64 locator"))?;
            let r = read_at(at64, 56)?;
            if u32_at(&r, 0) != Some(EOCD64) {
                return Err(bad("the zip64 locator points at no zip64 end record"));
            }
            size = u64_at(&r, 40).ok_or_else(|| bad("short zip64 end record"))?;
            offset = u64_at(&r, 48).ok_or_else(|| bad("short zip64 end record"))?;
            dir_end = at64;
        }
    }
    let Some(prefix) = offset
        .checked_add(size)
        .and_then(|end| dir_end.checked_sub(end))
    else {
        return Err(bad(&format!(
            "the central directory ({size} bytes at {offset}) lies past the end of the archive ({dir_end} bytes before its end record)"
        )));
    };
    if size > MAX_ZIP_DIRECTORY.value {
        return Err(MAX_ZIP_DIRECTORY.error("zip: its central directory", format!("{size} bytes")));
    }
    Ok((offset + prefix, size, prefix))
}

/// The entries of the archive (`len` bytes) whose names `keep` takes, in directory order.
/// Every entry the directory holds is read, whatever count the end record gives (a count
/// that wrapped past 65,535, or one set to zero, hides nothing): at most `MAX_ZIP_ENTRIES`.
pub fn entries(
    len: u64,
    read_at: &mut ReadAt<'_>,
    keep: impl Fn(&[u8]) -> bool,
) -> Result<Vec<Entry>> {
    let (offset, size, prefix) = directory(len, read_at)?;
    let dir = read_at(offset, size as usize)?;
    let mut out = Vec::new();
    let mut p = 0usize;
    let mut seen = 0u64;
    while p < dir.len() {
        if u32_at(&dir, p) != Some(CENTRAL) {
            return Err(bad(&format!(
                "central directory entry at {} has no signature",
                offset + p as u64
            )));
        }
        seen += 1;
        if seen > MAX_ZIP_ENTRIES.value {
            return Err(MAX_ZIP_ENTRIES.error(
                "zip: its central directory",
                format!("more than {} entries", MAX_ZIP_ENTRIES.value),
            ));
        }
        let short = || bad("a central directory entry runs past the directory");
        let flags = u16_at(&dir, p + 8).ok_or_else(short)?;
        let method = u16_at(&dir, p + 10).ok_or_else(short)?;
        let mut compressed = u64::from(u32_at(&dir, p + 20).ok_or_else(short)?);
        let name_len = usize::from(u16_at(&dir, p + 28).ok_or_else(short)?);
        let extra_len = usize::from(u16_at(&dir, p + 30).ok_or_else(short)?);
        let comment_len = usize::from(u16_at(&dir, p + 32).ok_or_else(short)?);
        let mut local = u64::from(u32_at(&dir, p + 42).ok_or_else(short)?);
        let name = dir.get(p + 46..p + 46 + name_len).ok_or_else(short)?;
        let extra = dir
            .get(p + 46 + name_len..p + 46 + name_len + extra_len)
            .ok_or_else(short)?;
        if keep(name) {
            zip64_sizes(extra, &mut compressed, &mut local, &dir[p + 20..p + 46]);
            out.push(Entry {
                name: name.to_vec(),
                method,
                flags,
                compressed,
                local: local.saturating_add(prefix),
            });
        }
        p += 46 + name_len + extra_len + comment_len;
    }
    Ok(out)
}

/// Takes the 64-bit sizes and offset from a zip64 extra field (id 1) where the 32-bit ones
/// are saturated; `fixed` is the entry's fields from offset 20.
fn zip64_sizes(mut extra: &[u8], compressed: &mut u64, local: &mut u64, fixed: &[u8]) {
    let uncompressed_full = u32_at(fixed, 4) == Some(0xffff_ffff);
    while let (Some(id), Some(n)) = (u16_at(extra, 0), u16_at(extra, 2)) {
        let Some(body) = extra.get(4..4 + usize::from(n)) else {
            return;
        };
        if id == 1 {
            let mut at = 0;
            let mut next = |b: &[u8]| {
                let v = u64_at(b, at);
                at += 8;
                v
            };
            if uncompressed_full {
                next(body);
            }
            if *compressed == 0xffff_ffff
                && let Some(v) = next(body)
            {
                *compressed = v;
            }
            if *local == 0xffff_ffff
                && let Some(v) = next(body)
            {
                *local = v;
            }
            return;
        }
        extra = &extra[4 + usize::from(n)..];
    }
}

/// Reads the first bytes of entries, with one inflater for all of them.
pub struct Heads {
    inflate: flate2::Decompress,
}

impl Default for Heads {
    fn default() -> Heads {
        Heads {
            inflate: flate2::Decompress::new(false),
        }
    }
}

impl Heads {
    /// The first `k` bytes (at most) of an entry's content; None when it is encrypted or
    /// compressed by a method other than stored or deflate. One read takes the local header,
    /// its name and a short extra field, and the first compressed bytes (a few hundred give
    /// far more than a class header).
    pub fn head(
        &mut self,
        e: &Entry,
        k: usize,
        read_at: &mut ReadAt<'_>,
    ) -> Result<Option<Vec<u8>>> {
        if e.flags & 1 != 0 || !matches!(e.method, 0 | 8) {
            return Ok(None);
        }
        let name = || String::from_utf8_lossy(&e.name).into_owned();
        let want = (if e.method == 0 { k } else { 512 })
            .min(usize::try_from(e.compressed).unwrap_or(usize::MAX));
        let buf = read_at(e.local, 30 + e.name.len() + 32 + want)?;
        if u32_at(&buf, 0) != Some(LOCAL) {
            return Err(bad(&format!("{}: no local header at {}", name(), e.local)));
        }
        let skip = 30
            + usize::from(u16_at(&buf, 26).unwrap_or(0))
            + usize::from(u16_at(&buf, 28).unwrap_or(0));
        let again;
        let data = match buf.get(skip..skip + want) {
            Some(d) => d,
            None => {
                again = read_at(e.local + skip as u64, want)?;
                &again[..]
            }
        };
        if e.method == 0 {
            return Ok(Some(data[..k.min(data.len())].to_vec()));
        }
        self.inflate.reset(false);
        let mut out = vec![0u8; k];
        self.inflate
            .decompress(data, &mut out, flate2::FlushDecompress::None)
            .map_err(|x| bad(&format!("{}: {x}", name())))?;
        out.truncate(self.inflate.total_out() as usize);
        Ok(Some(out))
    }
}

#[cfg(test)]
/// A zip written by hand for tests: (name, content, deflated) entries, then the directory.
pub(crate) fn for_tests(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut dir = Vec::new();
    for (name, data, deflate) in entries {
        let body = if *deflate {
            use std::io::Write;
            let mut z =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(data).unwrap();
            z.finish().unwrap()
        } else {
            data.to_vec()
        };
        let method: u16 = if *deflate { 8 } else { 0 };
        let local = out.len() as u32;
        out.extend(LOCAL.to_le_bytes());
        out.extend([20, 0, 0, 0]);
        out.extend(method.to_le_bytes());
        out.extend([0; 8]); // time, date, crc (unchecked here)
        out.extend((body.len() as u32).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend((name.len() as u16).to_le_bytes());
        out.extend([0, 0]);
        out.extend(name.as_bytes());
        out.extend(&body);
        dir.extend(CENTRAL.to_le_bytes());
        dir.extend([20, 0, 20, 0, 0, 0]);
        dir.extend(method.to_le_bytes());
        dir.extend([0; 8]);
        dir.extend((body.len() as u32).to_le_bytes());
        dir.extend((data.len() as u32).to_le_bytes());
        dir.extend((name.len() as u16).to_le_bytes());
        dir.extend([0; 12]);
        dir.extend(local.to_le_bytes());
        dir.extend(name.as_bytes());
    }
    let at = out.len() as u32;
    out.extend(&dir);
    out.extend(EOCD.to_le_bytes());
    out.extend([0; 4]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((dir.len() as u32).to_le_bytes());
    out.extend(at.to_le_bytes());
    out.extend([0, 0]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(b: &[u8]) -> impl FnMut(u64, usize) -> Result<Vec<u8>> + '_ {
        |o, n| {
            let s = (o as usize).min(b.len());
            Ok(b[s..(s + n).min(b.len())].to_vec())
        }
    }

    #[test]
    fn lists_kept_entries_and_reads_stored_and_deflated_heads() {
        let class = [0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 61, 1, 2, 3];
        let z = for_tests(&[
            ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n", true),
            ("a/A.class", &class, true),
            ("b/B.class", &class, false),
        ]);
        let mut r = reader(&z);
        let es = entries(z.len() as u64, &mut r, |n| n.ends_with(b".class")).unwrap();
        assert_eq!(es.len(), 2);
        assert_eq!(es[0].name, b"a/A.class");
        let mut heads = Heads::default();
        for e in &es {
            assert_eq!(heads.head(e, 8, &mut r).unwrap().unwrap(), class[..8]);
        }
    }

    #[test]
    fn a_script_in_front_a_lying_count_and_an_end_record_in_a_comment() {
        let class = [0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 65];
        let z = for_tests(&[("a/A.class", &class, true), ("b/B.class", &class, false)]);
        let n = z.len();
        let names = |z: &[u8]| {
            let mut r = reader(z);
            let es = entries(z.len() as u64, &mut r, |_| true).unwrap();
            let mut heads = Heads::default();
            for e in &es {
                assert_eq!(heads.head(e, 8, &mut r).unwrap().unwrap(), class);
            }
            es.len()
        };
        // A launch script in front (a fully executable jar): offsets shift, classes are read.
        let mut with_script = b"#!/bin/sh\nexec java -jar \"$0\" \"$@\"\n".to_vec();
        with_script.extend(&z);
        assert_eq!(names(&with_script), 2);
        // End-record counts of zero hide nothing.
        let mut zero = z.clone();
        zero[n - 14..n - 10].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(names(&zero), 2);
        // An end record inside the comment of the real one is not taken for it.
        let mut commented = z.clone();
        let mut fake = EOCD.to_le_bytes().to_vec();
        fake.extend([0u8; 18]);
        commented[n - 2..].copy_from_slice(&(fake.len() as u16).to_le_bytes());
        commented.extend(&fake);
        assert_eq!(names(&commented), 2);
    }

    #[test]
    fn refuses_what_is_not_a_zip_or_lies_about_its_directory() {
        let mut r = reader(b"not a zip at all");
        assert!(entries(16, &mut r, |_| true).is_err());
        let mut z = for_tests(&[("a.class", b"x", false)]);
        let n = z.len();
        // The directory's offset points past the end.
        z[n - 6..n - 2].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut r = reader(&z);
        let e = entries(n as u64, &mut r, |_| true).unwrap_err().to_string();
        assert!(e.contains("past the end"), "{e}");
        // A directory size that reaches into the entries before it lands on no signature.
        let mut z = for_tests(&[("a.class", b"x", false)]);
        let size = u32::from_le_bytes(z[n - 10..n - 6].try_into().unwrap());
        z[n - 10..n - 6].copy_from_slice(&(size + 8).to_le_bytes());
        let off = u32::from_le_bytes(z[n - 6..n - 2].try_into().unwrap()) - 8;
        z[n - 6..n - 2].copy_from_slice(&off.to_le_bytes());
        let mut r = reader(&z);
        assert!(entries(n as u64, &mut r, |_| true).is_err());
    }
}
