//! rpm header blobs as the rpm database keeps them (one per installed package, in every backend:
//! sqlite's `Packages.blob`, ndb's and Berkeley DB's records): the "header without lead or
//! magic" of rpm's `lib/header.c`:
//!
//! ```text
//! il: u32 BE   index entries      dl: u32 BE   bytes of the data store
//! il x { tag: u32, type: u32, offset: u32, count: u32 }   (all BE)
//! dl bytes of data; entry i's value starts at `offset` in it
//! ```
//!
//! Types: 4 INT32 (`count` big-endian i32s), 6 STRING (one NUL-terminated string), 8
//! STRING_ARRAY and 9 I18NSTRING (`count` NUL-terminated strings). Tags read: NAME 1000,
//! VERSION 1001, RELEASE 1002, EPOCH 1003, LICENSE 1014, ARCH 1022, SOURCERPM 1044, and the
//! file list: DIRINDEXES 1116, BASENAMES 1117, DIRNAMES 1118 (a file is
//! `dirnames[dirindexes[i]] + basenames[i]`), or OLDFILENAMES 1027 in headers from before rpm
//! 4.0. Every other tag (the region trailers, signatures, scripts) is skipped.
//!
//! Bounded by the blob: rpm's own caps (`HEADER_TAGS_MAX` 0xffff entries, `HEADER_DATA_MAX`
//! 256 MiB), every offset and count checked against the data store before anything is read or
//! allocated, and the file list's joined paths by [`MAX_RPM_FILE_BYTES`] (dirnames shared by
//! many basenames would otherwise multiply the bytes).

use crate::model::limits::{Limit, PATH_MAX};

/// rpm's `HEADER_TAGS_MAX`: index entries in one header.
const TAGS_MAX: u32 = 0xffff;
/// rpm's `HEADER_DATA_MAX`: bytes in one header's data store.
const DATA_MAX: u32 = 256 << 20;

/// Bytes of one package's file list, joined into paths. The largest real packages (texlive
/// collections, kernel-devel) list about 100,000 files in a few MiB; a header whose 100,000
/// basenames share a 4 KiB dirname would otherwise make 400 MiB of paths.
pub const MAX_RPM_FILE_BYTES: Limit = Limit {
    name: "MAX_RPM_FILE_BYTES",
    value: 64 << 20,
    unit: "bytes",
};

const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const LICENSE: u32 = 1014;
const ARCH: u32 = 1022;
const OLDFILENAMES: u32 = 1027;
const SOURCERPM: u32 = 1044;
const DIRINDEXES: u32 = 1116;
const BASENAMES: u32 = 1117;
const DIRNAMES: u32 = 1118;

const T_INT32: u32 = 4;
const T_STRING: u32 = 6;
const T_STRING_ARRAY: u32 = 8;
const T_I18NSTRING: u32 = 9;

/// What regraft reads of one installed package's header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpmHeader {
    pub name: String,
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    /// Empty for gpg-pubkey pseudo-packages, which have none.
    pub arch: String,
    pub source_rpm: Option<String>,
    pub license: Option<String>,
    /// Absolute paths, as `rpm -ql` prints them; empty unless asked for.
    pub files: Vec<String>,
}

impl RpmHeader {
    /// `[epoch:]version-release`, as `rpm -q --qf '%{EVR}'`, Trivy and Grype write it.
    pub fn evr(&self) -> String {
        match self.epoch {
            Some(e) => format!("{e}:{}-{}", self.version, self.release),
            None => format!("{}-{}", self.version, self.release),
        }
    }
}

/// One index entry, checked against the data store.
#[derive(Clone, Copy)]
struct Entry {
    kind: u32,
    offset: usize,
    count: usize,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses one header blob; `files` asks for the file list too. The error says what is wrong
/// (the caller names the database and the record).
pub fn parse(blob: &[u8], files: bool) -> Result<RpmHeader, String> {
    if blob.len() < 8 {
        return Err(format!(
            "header of {} bytes, shorter than its 8-byte start",
            blob.len()
        ));
    }
    let (il, dl) = (be32(blob, 0), be32(blob, 4));
    if il == 0 || il > TAGS_MAX {
        return Err(format!("{il} index entries (rpm allows 1 to {TAGS_MAX})"));
    }
    if dl > DATA_MAX {
        return Err(format!("data store of {dl} bytes (rpm allows {DATA_MAX})"));
    }
    let need = 8 + il as usize * 16 + dl as usize;
    if blob.len() < need {
        return Err(format!(
            "{il} index entries and {dl} data bytes need {need} bytes; the header has {}",
            blob.len()
        ));
    }
    let data = &blob[8 + il as usize * 16..need];
    let mut h = RpmHeader::default();
    let (mut dirindexes, mut basenames, mut dirnames, mut oldnames) = (None, None, None, None);
    let (mut have_name, mut have_version) = (false, false);
    for i in 0..il as usize {
        let at = 8 + i * 16;
        let tag = be32(blob, at);
        let e = Entry {
            kind: be32(blob, at + 4),
            offset: be32(blob, at + 8) as usize,
            count: be32(blob, at + 12) as usize,
        };
        if e.offset > data.len() {
            return Err(format!(
                "tag {tag}: offset {} past the data store ({} bytes)",
                e.offset,
                data.len()
            ));
        }
        match tag {
            NAME => (h.name, have_name) = (string(data, e, tag)?, true),
            VERSION => (h.version, have_version) = (string(data, e, tag)?, true),
            RELEASE => h.release = string(data, e, tag)?,
            EPOCH => h.epoch = ints(data, e, tag)?.first().map(|&x| x as u32),
            LICENSE => h.license = Some(string(data, e, tag)?),
            ARCH => h.arch = string(data, e, tag)?,
            SOURCERPM => h.source_rpm = Some(string(data, e, tag)?),
            DIRINDEXES if files => dirindexes = Some(ints(data, e, tag)?),
            BASENAMES if files => basenames = Some(strings(data, e, tag)?),
            DIRNAMES if files => dirnames = Some(strings(data, e, tag)?),
            OLDFILENAMES if files => oldnames = Some(strings(data, e, tag)?),
            _ => {}
        }
    }
    if !have_name || !have_version {
        return Err("no NAME or VERSION tag".into());
    }
    if files {
        h.files = match (basenames, dirnames, dirindexes, oldnames) {
            (Some(b), Some(d), Some(x), _) => join_files(&b, &d, &x)?,
            (None, _, _, Some(old)) => old,
            (None, _, _, None) => Vec::new(),
            _ => return Err("BASENAMES without DIRNAMES and DIRINDEXES".into()),
        };
        for f in &h.files {
            if f.len() > PATH_MAX.get() {
                return Err(format!(
                    "a file path of {} bytes (PATH_MAX is {})",
                    f.len(),
                    PATH_MAX.value
                ));
            }
        }
    }
    Ok(h)
}

/// `dirnames[dirindexes[i]] + basenames[i]`, bounded by [`MAX_RPM_FILE_BYTES`].
fn join_files(base: &[String], dirs: &[String], idx: &[i32]) -> Result<Vec<String>, String> {
    if idx.len() != base.len() {
        return Err(format!(
            "{} BASENAMES but {} DIRINDEXES",
            base.len(),
            idx.len()
        ));
    }
    let mut total = 0usize;
    let mut out = Vec::with_capacity(base.len());
    for (b, &i) in base.iter().zip(idx) {
        let d = usize::try_from(i)
            .ok()
            .and_then(|i| dirs.get(i))
            .ok_or_else(|| format!("DIRINDEXES entry {i}, but {} DIRNAMES", dirs.len()))?;
        total += d.len() + b.len();
        if total > MAX_RPM_FILE_BYTES.get() {
            return Err(format!(
                "file list past {} bytes ({})",
                MAX_RPM_FILE_BYTES.value, MAX_RPM_FILE_BYTES.name
            ));
        }
        out.push(format!("{d}{b}"));
    }
    Ok(out)
}

/// The NUL-terminated string at `at`, lossily UTF-8.
fn cstr(data: &[u8], at: usize, tag: u32) -> Result<(String, usize), String> {
    let rest = data.get(at..).unwrap_or_default();
    let n = rest
        .iter()
        .position(|&c| c == 0)
        .ok_or_else(|| format!("tag {tag}: a string runs past the data store"))?;
    Ok((String::from_utf8_lossy(&rest[..n]).into_owned(), at + n + 1))
}

fn string(data: &[u8], e: Entry, tag: u32) -> Result<String, String> {
    match e.kind {
        T_STRING | T_STRING_ARRAY | T_I18NSTRING if e.count >= 1 => {
            Ok(cstr(data, e.offset, tag)?.0)
        }
        _ => Err(format!(
            "tag {tag}: type {} count {}, not a string",
            e.kind, e.count
        )),
    }
}

fn strings(data: &[u8], e: Entry, tag: u32) -> Result<Vec<String>, String> {
    if e.kind != T_STRING_ARRAY && e.kind != T_I18NSTRING {
        return Err(format!("tag {tag}: type {}, not a string array", e.kind));
    }
    // Each string takes at least its NUL: a count past the bytes left is a lie.
    if e.count > data.len() - e.offset {
        return Err(format!(
            "tag {tag}: {} strings in the {} bytes left",
            e.count,
            data.len() - e.offset
        ));
    }
    let mut out = Vec::with_capacity(e.count);
    let mut at = e.offset;
    for _ in 0..e.count {
        let (s, next) = cstr(data, at, tag)?;
        out.push(s);
        at = next;
    }
    Ok(out)
}

fn ints(data: &[u8], e: Entry, tag: u32) -> Result<Vec<i32>, String> {
    if e.kind != T_INT32 {
        return Err(format!("tag {tag}: type {}, not INT32", e.kind));
    }
    let end = e
        .count
        .checked_mul(4)
        .and_then(|n| n.checked_add(e.offset))
        .filter(|&end| end <= data.len())
        .ok_or_else(|| {
            format!(
                "tag {tag}: {} INT32 values run past the data store",
                e.count
            )
        })?;
    Ok(data[e.offset..end]
        .chunks_exact(4)
        .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Builds a header blob from `(tag, type, count, value bytes)`, for tests and fuzz seeds.
#[doc(hidden)]
pub fn build(entries: &[(u32, u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    for (tag, kind, count, value) in entries {
        if *kind == T_INT32 {
            while !data.len().is_multiple_of(4) {
                data.push(0);
            }
        }
        for x in [*tag, *kind, data.len() as u32, *count] {
            index.extend_from_slice(&x.to_be_bytes());
        }
        data.extend_from_slice(value);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(&index);
    out.extend_from_slice(&data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Vec<u8> {
        let mut b = v.as_bytes().to_vec();
        b.push(0);
        b
    }
    fn arr(v: &[&str]) -> Vec<u8> {
        v.iter().flat_map(|x| s(x)).collect()
    }

    fn sample() -> Vec<(u32, u32, u32, Vec<u8>)> {
        vec![
            (NAME, T_STRING, 1, s("libfoo")),
            (EPOCH, T_INT32, 1, 2i32.to_be_bytes().to_vec()),
            (VERSION, T_STRING, 1, s("1.2")),
            (RELEASE, T_STRING, 1, s("3.el9")),
            (ARCH, T_STRING, 1, s("x86_64")),
            (LICENSE, T_STRING, 1, s("MIT")),
            (SOURCERPM, T_STRING, 1, s("foo-1.2-3.el9.src.rpm")),
            (
                BASENAMES,
                T_STRING_ARRAY,
                3,
                arr(&["a", "b", "libfoo.so.1"]),
            ),
            (DIRNAMES, T_STRING_ARRAY, 2, arr(&["/etc/", "/usr/lib64/"])),
            (
                DIRINDEXES,
                T_INT32,
                3,
                [0i32, 0, 1].iter().flat_map(|x| x.to_be_bytes()).collect(),
            ),
        ]
    }

    #[test]
    fn fields_and_files() {
        let h = parse(&build(&sample()), true).unwrap();
        assert_eq!(
            (h.name.as_str(), h.epoch, h.evr(), h.arch.as_str()),
            ("libfoo", Some(2), "2:1.2-3.el9".to_string(), "x86_64")
        );
        assert_eq!(h.license.as_deref(), Some("MIT"));
        assert_eq!(h.source_rpm.as_deref(), Some("foo-1.2-3.el9.src.rpm"));
        assert_eq!(h.files, ["/etc/a", "/etc/b", "/usr/lib64/libfoo.so.1"]);
        assert!(parse(&build(&sample()), false).unwrap().files.is_empty());
    }

    /// Lying counts and offsets are errors, found before anything is allocated for them.
    #[test]
    fn lying_headers_are_refused() {
        let good = build(&sample());
        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..good.len() - 1].to_vec(), "the header has"),
            (vec![0, 0, 0, 0, 0, 0, 0, 0], "0 index entries"),
            (vec![0xff; 8], "index entries"),
        ];
        let mut many = sample();
        many[7].2 = 1_000_000_000;
        cases.push((build(&many), "strings in the"));
        let mut ints_lie = sample();
        ints_lie[9].2 = u32::MAX;
        cases.push((build(&ints_lie), "run past the data store"));
        let mut idx = sample();
        idx[9].3 = [0i32, 7, 1].iter().flat_map(|x| x.to_be_bytes()).collect();
        cases.push((build(&idx), "DIRINDEXES entry 7"));
        let mut unterminated = sample();
        unterminated.last_mut().unwrap().3.clear();
        unterminated[0].3 = b"abc".to_vec();
        unterminated.truncate(1);
        cases.push((build(&unterminated), "runs past the data store"));
        let mut offset = good.clone();
        offset[8 + 8..8 + 12].copy_from_slice(&u32::MAX.to_be_bytes());
        cases.push((offset, "past the data store"));
        for (blob, want) in cases {
            let e = parse(&blob, true).unwrap_err();
            assert!(e.contains(want), "{e} (wanted {want})");
        }
    }
}
