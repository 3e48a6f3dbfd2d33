//! A `.deb` as dpkg reads it: an `ar` archive of `debian-binary` (`2.0`), `control.tar[.gz|.xz|.zst]`
//! and `data.tar[.gz|.xz|.zst]`. The control members are read into memory (each at most
//! `MAX_SYSTEM_FILE`); the data tar is inflated into a temporary file and walked by the one
//! entry parser every layer goes through (`layer::entry`), so a hostile name (`../`, an
//! absolute path) is refused as it is in a layer.

use crate::error::{Error, IoContext, Result};
use crate::model::limits::MAX_SYSTEM_FILE;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A member of the `ar` archive: its name and where its bytes are.
#[derive(Debug, Clone)]
struct Member {
    name: String,
    offset: u64,
    size: u64,
}

/// An opened `.deb`.
#[derive(Debug)]
pub struct Deb {
    pub path: PathBuf,
    members: Vec<Member>,
}

/// The control archive: `control`'s fields as written, and the other members (`md5sums`,
/// `conffiles`, `shlibs`, `triggers`, maintainer scripts) by name.
#[derive(Debug, Clone, Default)]
pub struct Control {
    pub control: String,
    pub files: BTreeMap<String, Vec<u8>>,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{}: not a valid .deb: {what}", path.display()))
}

impl Deb {
    /// Reads the `ar` member headers (at most 64 members: a .deb has three).
    pub fn open(path: &Path) -> Result<Deb> {
        let mut f = File::open(path).at(path)?;
        let len = f.metadata().at(path)?.len();
        let mut magic = [0u8; 8];
        f.read_exact(&mut magic)
            .map_err(|_| bad(path, "shorter than an ar header"))?;
        if &magic != b"!<arch>\n" {
            return Err(bad(path, "no ar magic (!<arch>)"));
        }
        let mut members = Vec::new();
        let mut at = 8u64;
        while at + 60 <= len && members.len() < 64 {
            let mut h = [0u8; 60];
            f.seek(SeekFrom::Start(at)).at(path)?;
            f.read_exact(&mut h).at(path)?;
            if &h[58..60] != b"`\n" {
                return Err(bad(
                    path,
                    format!("member header at {at} has no end marker"),
                ));
            }
            let name = String::from_utf8_lossy(&h[..16])
                .trim_end()
                .trim_end_matches('/')
                .to_string();
            let size: u64 = String::from_utf8_lossy(&h[48..58])
                .trim()
                .parse()
                .map_err(|_| bad(path, format!("member {name:?}: bad size")))?;
            let offset = at + 60;
            if offset.checked_add(size).is_none_or(|e| e > len) {
                return Err(bad(
                    path,
                    format!("member {name:?} runs past the end of the file"),
                ));
            }
            members.push(Member { name, offset, size });
            at = offset + size + (size & 1);
        }
        let deb = Deb {
            path: path.to_path_buf(),
            members,
        };
        match deb.member("debian-binary") {
            Some(m) if m.size <= 16 => {
                let v = deb.read_member(m)?;
                if !v.starts_with(b"2.") {
                    return Err(bad(
                        path,
                        format!("format {:?}, not 2.x", String::from_utf8_lossy(&v).trim()),
                    ));
                }
            }
            _ => return Err(bad(path, "no debian-binary member first")),
        }
        Ok(deb)
    }

    fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The member whose name is `stem` with a compression suffix.
    fn tar_member(&self, stem: &str) -> Result<&Member> {
        self.members
            .iter()
            .find(|m| {
                m.name
                    .strip_prefix(stem)
                    .is_some_and(|s| s.is_empty() || s.starts_with('.'))
            })
            .ok_or_else(|| bad(&self.path, format!("no {stem} member")))
    }

    fn read_member(&self, m: &Member) -> Result<Vec<u8>> {
        let mut f = File::open(&self.path).at(&self.path)?;
        f.seek(SeekFrom::Start(m.offset)).at(&self.path)?;
        let mut v = Vec::new();
        f.take(m.size).read_to_end(&mut v).at(&self.path)?;
        Ok(v)
    }

    /// The decompressed bytes of a tar member, written to `out`.
    fn inflate(&self, m: &Member, out: &mut dyn Write) -> Result<()> {
        let mut f = File::open(&self.path).at(&self.path)?;
        f.seek(SeekFrom::Start(m.offset)).at(&self.path)?;
        let raw = f.take(m.size);
        let what = format!("{}: {}", self.path.display(), m.name);
        let io = |e: std::io::Error| Error::Invalid(format!("{what}: {e}"));
        let ext = m.name.rsplit_once(".tar").map_or("", |x| x.1);
        match ext {
            "" => {
                std::io::copy(&mut BufReader::new(raw), out).map_err(io)?;
            }
            ".gz" => {
                std::io::copy(
                    &mut flate2::read::MultiGzDecoder::new(BufReader::new(raw)),
                    out,
                )
                .map_err(io)?;
            }
            ".zst" => {
                let mut d = zstd::Decoder::new(raw).map_err(io)?;
                std::io::copy(&mut d, out).map_err(io)?;
            }
            ".xz" => {
                lzma_rs::xz_decompress(&mut BufReader::new(raw), &mut &mut *out)
                    .map_err(|e| Error::Invalid(format!("{what}: {e}")))?;
            }
            other => {
                return Err(bad(
                    &self.path,
                    format!(
                        "{}: compression {other:?} is not read (gz, xz, zst)",
                        m.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The control archive's members (`./control`, `./md5sums`, ...), each at most
    /// `MAX_SYSTEM_FILE`.
    pub fn control(&self) -> Result<Control> {
        let m = self.tar_member("control.tar")?;
        let mut tar = Bounded {
            v: Vec::new(),
            max: 4 * MAX_SYSTEM_FILE.value,
            what: &self.path,
        };
        self.inflate(m, &mut tar)?;
        let mut out = Control::default();
        let mut ar = tar::Archive::new(&tar.v[..]);
        for e in ar
            .entries()
            .map_err(|e| bad(&self.path, format!("control.tar: {e}")))?
        {
            let mut e = e.map_err(|e| bad(&self.path, format!("control.tar: {e}")))?;
            if e.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let name = String::from_utf8_lossy(&e.path_bytes())
                .trim_start_matches("./")
                .to_string();
            if name.contains('/') || name.is_empty() {
                continue;
            }
            if e.size() > MAX_SYSTEM_FILE.value {
                return Err(MAX_SYSTEM_FILE.error(
                    format!("{}: control.tar: {name}", self.path.display()),
                    format!("{} bytes", e.size()),
                ));
            }
            let mut v = Vec::new();
            e.read_to_end(&mut v)
                .map_err(|e| bad(&self.path, format!("control.tar: {name}: {e}")))?;
            if name == "control" {
                out.control = String::from_utf8_lossy(&v).into_owned();
            } else {
                out.files.insert(name, v);
            }
        }
        if out.control.is_empty() {
            return Err(bad(&self.path, "control.tar has no control file"));
        }
        Ok(out)
    }

    /// The data tar, inflated into a temporary file in `dir`, positioned at its start.
    pub fn data(&self, dir: &Path) -> Result<File> {
        let m = self.tar_member("data.tar")?;
        let mut f = tempfile::tempfile_in(dir).at(dir)?;
        {
            let mut w = std::io::BufWriter::new(&mut f);
            self.inflate(m, &mut w)?;
            w.flush().at(dir)?;
        }
        f.seek(SeekFrom::Start(0)).at(dir)?;
        Ok(f)
    }
}

/// A writer into memory that refuses more than `max` bytes (a control archive is kilobytes).
struct Bounded<'a> {
    v: Vec<u8>,
    max: u64,
    what: &'a Path,
}

impl Write for Bounded<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.v.len() as u64 + b.len() as u64 > self.max {
            return Err(std::io::Error::other(format!(
                "{}: control.tar inflates to more than {} bytes",
                self.what.display(),
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

/// The fields of a deb822 stanza (`control`, a `Packages` entry), names as written, values
/// with continuation lines joined by `\n`, in order.
pub fn fields(stanza: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in stanza.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push('\n');
                last.1.push_str(line);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// The value of field `name` (case-insensitive) of `fields`.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
