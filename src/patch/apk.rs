//! An `.apk` as apk-tools 2 reads it: concatenated gzip streams, each a tar segment: an
//! optional signature segment (`.SIGN.RSA.*`, checked by `apksign` when keys are given), the control segment
//! (`.PKGINFO` and the scripts `.pre-install`, `.post-upgrade`, `.trigger`, ...), then the data
//! segment (a tar whose entries carry `APK-TOOLS.checksum.SHA1` PAX records). The package's
//! identity (the `C:` of an index and of `installed`) is the SHA1 of the control segment's
//! compressed bytes, as apk computes it; a `datahash` in `.PKGINFO` (the SHA256 of the data
//! segment's compressed bytes) is checked, so an index's `C:` vouches for the whole file.
//! The control segment is read into memory (at most four times `MAX_SYSTEM_FILE`); the data
//! tar is inflated into a temporary file (at most the size a layer may have) and its entries
//! go through the one entry parser every layer goes through, so `../` is refused.

use crate::error::{Error, IoContext, Result};
use crate::model::limits::MAX_SYSTEM_FILE;
use base64::Engine as _;
use sha1::Digest as _;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The scripts apk keeps and runs (`.NAME` in the control segment).
pub const SCRIPTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-deinstall",
    "post-deinstall",
    "pre-upgrade",
    "post-upgrade",
    "trigger",
];

/// An opened `.apk`: what its control segment says.
#[derive(Debug, Clone)]
pub struct Apk {
    pub path: PathBuf,
    /// The file's size (an index's `S:`).
    pub size: u64,
    /// `Q1` + base64 of the SHA1 of the control segment's compressed bytes (`C:`).
    pub identity: String,
    /// Whether a signature segment (`.SIGN.*`) came first (checked only by `verify_signature`).
    pub signed: bool,
    /// The signature segment's first entry (name, body), when there is one.
    signature: Option<(String, Vec<u8>)>,
    /// Where the control segment is in the file (offset, length): what a signature signs.
    control_at: (u64, u64),
    /// `.PKGINFO`'s `key = value` lines, in order (keys repeat: `depend`, `provides`).
    pub info: Vec<(String, String)>,
    /// The scripts by name without the dot (`post-upgrade`), with their bytes.
    pub scripts: BTreeMap<String, Vec<u8>>,
    /// Where the data segment starts in the file.
    data_offset: u64,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{}: not a valid .apk: {what}", path.display()))
}

/// `Q1` + base64 of a SHA1, as apk writes checksums.
pub fn q1(sha1: &[u8]) -> String {
    format!(
        "Q1{}",
        base64::engine::general_purpose::STANDARD.encode(sha1)
    )
}

/// The raw SHA1 of a `Q1...` checksum, if it is one.
pub fn from_q1(s: &str) -> Option<Vec<u8>> {
    let b = base64::engine::general_purpose::STANDARD
        .decode(s.strip_prefix("Q1")?)
        .ok()?;
    (b.len() == 20).then_some(b)
}

/// A `BufRead` that counts (and SHA1-hashes) the bytes its reader consumes, so a gzip member's
/// compressed length and digest are known once the decoder has read it.
struct Tap<R> {
    r: R,
    n: u64,
    h: sha1::Sha1,
}

impl<R: BufRead> Read for Tap<R> {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        let avail = self.fill_buf()?;
        let k = avail.len().min(b.len());
        b[..k].copy_from_slice(&avail[..k]);
        self.consume(k);
        Ok(k)
    }
}

impl<R: BufRead> BufRead for Tap<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.r.fill_buf()
    }
    fn consume(&mut self, k: usize) {
        if let Ok(b) = self.r.fill_buf() {
            let k = k.min(b.len());
            self.h.update(&b[..k]);
        }
        self.n += k as u64;
        self.r.consume(k);
    }
}

/// A writer into memory that refuses more than `max` bytes.
struct Bounded {
    v: Vec<u8>,
    max: usize,
}

impl Write for Bounded {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.v.len() + b.len() > self.max {
            return Err(std::io::Error::other(format!(
                "a segment inflates to more than {} bytes",
                self.max
            )));
        }
        self.v.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One gzip member from `tap`: its inflated bytes (at most `max`), its compressed length and
/// the SHA1 of its compressed bytes.
fn member<R: BufRead>(tap: &mut Tap<R>, max: usize) -> std::io::Result<(Vec<u8>, u64, Vec<u8>)> {
    tap.n = 0;
    tap.h = sha1::Sha1::new();
    let mut out = Bounded { v: Vec::new(), max };
    {
        let mut d = flate2::bufread::GzDecoder::new(&mut *tap);
        std::io::copy(&mut d, &mut out)?;
    }
    let h = std::mem::take(&mut tap.h).finalize().to_vec();
    Ok((out.v, tap.n, h))
}

/// The regular files of a tar held in memory (a segment need not end with zero blocks).
fn tar_files(path: &Path, seg: &str, bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(bytes);
    let what = |e: &dyn std::fmt::Display| bad(path, format!("{seg} segment: {e}"));
    for e in ar.entries().map_err(|e| what(&e))? {
        let mut e = e.map_err(|e| what(&e))?;
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        if e.header().entry_type() != tar::EntryType::Regular {
            out.push((name, Vec::new()));
            continue;
        }
        if e.size() > MAX_SYSTEM_FILE.value {
            return Err(MAX_SYSTEM_FILE.error(
                format!("{}: {seg} segment: {name}", path.display()),
                format!("{} bytes", e.size()),
            ));
        }
        let mut v = Vec::new();
        e.read_to_end(&mut v)
            .map_err(|x| what(&format!("{name}: {x}")))?;
        out.push((name, v));
    }
    Ok(out)
}

/// `.PKGINFO`'s `key = value` lines (comments and other lines skipped, as apk does).
pub fn pkginfo(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Apk {
    /// Reads the segments up to the data: the signature (if any) and the control segment.
    pub fn open(path: &Path) -> Result<Apk> {
        let f = File::open(path).at(path)?;
        let size = f.metadata().at(path)?.len();
        let mut tap = Tap {
            r: BufReader::new(f),
            n: 0,
            h: sha1::Sha1::new(),
        };
        let max = 4 * MAX_SYSTEM_FILE.value as usize;
        let gz = |e: std::io::Error| bad(path, format!("gzip segment: {e}"));
        let (first, len1, h1) = member(&mut tap, max).map_err(gz)?;
        let files1 = tar_files(path, "first", &first)?;
        let signed = files1
            .first()
            .is_some_and(|(n, _)| n.trim_start_matches("./").starts_with(".SIGN."));
        let mut signature = None;
        let (control, at, identity, control_at) = if signed {
            signature = files1.first().cloned();
            let (c, len2, h2) = member(&mut tap, max).map_err(gz)?;
            (
                tar_files(path, "control", &c)?,
                len1 + len2,
                h2,
                (len1, len2),
            )
        } else {
            (files1, len1, h1, (0, len1))
        };
        let mut info = None;
        let mut scripts = BTreeMap::new();
        for (name, body) in control {
            let name = name.trim_start_matches("./");
            if name == ".PKGINFO" {
                info = Some(pkginfo(&String::from_utf8_lossy(&body)));
            } else if let Some(s) = name.strip_prefix('.')
                && SCRIPTS.contains(&s)
            {
                scripts.insert(s.to_string(), body);
            }
        }
        let info = info.ok_or_else(|| bad(path, "the control segment has no .PKGINFO"))?;
        if at >= size {
            return Err(bad(path, "no data segment after the control segment"));
        }
        let apk = Apk {
            path: path.to_path_buf(),
            size,
            identity: q1(&identity),
            signed,
            signature,
            control_at,
            info,
            scripts,
            data_offset: at,
        };
        for k in ["pkgname", "pkgver"] {
            if apk.get(k).is_none_or(str::is_empty) {
                return Err(bad(path, format!(".PKGINFO has no {k}")));
            }
        }
        Ok(apk)
    }

    /// Checks the package's signature of its control segment against `keys`; the key's name.
    pub fn verify_signature(&self, keys: &super::apksign::Keys) -> Result<String> {
        let Some((entry, sig)) = &self.signature else {
            return Err(Error::Invalid(format!(
                "{}: not signed, and --keyring asks for signed packages",
                self.path.display()
            )));
        };
        use std::os::unix::fs::FileExt;
        let f = File::open(&self.path).at(&self.path)?;
        let (at, len) = self.control_at;
        let mut data = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
        f.read_exact_at(&mut data, at).at(&self.path)?;
        keys.verify(&self.path, entry, sig, &data)
    }

    /// The first value of a `.PKGINFO` key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.info
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a key (`depend`, `provides`, `replaces`), each split at spaces.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.info
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split_whitespace().map(str::to_string))
            .collect()
    }

    pub fn name(&self) -> &str {
        self.get("pkgname").unwrap_or("")
    }
    pub fn version(&self) -> &str {
        self.get("pkgver").unwrap_or("")
    }

    /// The data tar, inflated into a temporary file in `dir` (at most `max` bytes), positioned
    /// at its start; the data segment's SHA256 checked against `.PKGINFO`'s `datahash` first.
    pub fn data(&self, dir: &Path, max: u64) -> Result<File> {
        let path = &self.path;
        let mut f = File::open(path).at(path)?;
        if let Some(want) = self.get("datahash") {
            f.seek(SeekFrom::Start(self.data_offset)).at(path)?;
            let mut h = crate::model::digest::Hasher::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let k = f.read(&mut buf).at(path)?;
                if k == 0 {
                    break;
                }
                h.update(&buf[..k]);
            }
            let got = h.finish().0.hex();
            if !got.eq_ignore_ascii_case(want.trim()) {
                return Err(Error::Invalid(format!(
                    "{}: checksum mismatch: .PKGINFO's datahash is {want}, the data segment's sha256 is {got}",
                    path.display()
                )));
            }
        }
        f.seek(SeekFrom::Start(self.data_offset)).at(path)?;
        let mut out = tempfile::tempfile_in(dir).at(dir)?;
        {
            let mut w = Capped {
                w: std::io::BufWriter::new(&mut out),
                left: max,
            };
            let mut d = flate2::read::MultiGzDecoder::new(BufReader::new(f));
            std::io::copy(&mut d, &mut w).map_err(|e| {
                Error::Invalid(format!(
                    "{}: data segment: {e}{}",
                    path.display(),
                    if w.left == 0 {
                        format!(" (more than {max} bytes: --max-layer-size)")
                    } else {
                        String::new()
                    }
                ))
            })?;
            w.w.flush().at(dir)?;
        }
        out.seek(SeekFrom::Start(0)).at(dir)?;
        Ok(out)
    }
}

/// A writer that refuses more than `left` bytes in all.
struct Capped<W> {
    w: W,
    left: u64,
}

impl<W: Write> Write for Capped<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if b.len() as u64 > self.left {
            self.left = 0;
            return Err(std::io::Error::other("the data tar is too large"));
        }
        let n = self.w.write(b)?;
        self.left -= n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// The `APK-TOOLS.checksum.SHA1` record of a data tar entry (hex), if it has one.
pub fn entry_sha1<R: Read>(e: &mut tar::Entry<'_, R>) -> Option<Vec<u8>> {
    let exts = e.pax_extensions().ok()??;
    for x in exts.flatten() {
        if x.key().ok() == Some("APK-TOOLS.checksum.SHA1") {
            return hex::decode(x.value_bytes()).ok().filter(|v| v.len() == 20);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    fn tar_of(files: &[(&str, &[u8])], end: bool) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (n, d) in files {
            let mut h = tar::Header::new_ustar();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, n, *d).unwrap();
        }
        let mut v = b.into_inner().unwrap();
        if !end {
            v.truncate(v.len() - 1024);
        }
        v
    }

    #[test]
    fn segments_identity_and_pkginfo() {
        let control = gz(&tar_of(
            &[
                (
                    ".PKGINFO",
                    b"# generated\npkgname = demo\npkgver = 1.0-r0\ndepend = so:libc.musl-x86_64.so.1\ndepend = b>=2\n",
                ),
                (".post-upgrade", b"#!/bin/sh\n"),
                (".other", b"x"),
            ],
            false,
        ));
        let sig = gz(&tar_of(&[(".SIGN.RSA.key.rsa.pub", b"sig")], false));
        let data = gz(&tar_of(&[("usr/", b"")], true));
        let d = tempfile::tempdir().unwrap();
        for (name, signed) in [("a.apk", false), ("b.apk", true)] {
            let p = d.path().join(name);
            let mut all = if signed { sig.clone() } else { Vec::new() };
            all.extend_from_slice(&control);
            all.extend_from_slice(&data);
            std::fs::write(&p, &all).unwrap();
            let a = Apk::open(&p).unwrap();
            assert_eq!(a.signed, signed);
            assert_eq!(a.name(), "demo");
            assert_eq!(a.version(), "1.0-r0");
            assert_eq!(a.all("depend"), ["so:libc.musl-x86_64.so.1", "b>=2"]);
            assert_eq!(a.scripts.keys().collect::<Vec<_>>(), ["post-upgrade"]);
            assert_eq!(a.identity, q1(&sha1::Sha1::digest(&control)));
            assert_eq!(from_q1(&a.identity).unwrap().len(), 20);
            let mut t = Vec::new();
            a.data(d.path(), 1 << 20)
                .unwrap()
                .read_to_end(&mut t)
                .unwrap();
            assert_eq!(t, tar_of(&[("usr/", b"")], true));
        }
    }
}
