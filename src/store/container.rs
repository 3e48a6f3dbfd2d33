//! Where an image's files live: an OCI layout directory, or a tar archive (docker save, OCI
//! archive) indexed once so that each member can be opened on its own by seeking. A tar that
//! was compressed as a whole is inflated once into a temporary file first. Member names coming
//! from untrusted JSON are cleaned and may never leave the container.

use crate::error::{Error, IoContext, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// A regular file inside a tar: where its data starts and how long it is.
#[derive(Clone, Debug)]
struct Member {
    offset: u64,
    size: u64,
}

#[derive(Clone, Debug)]
enum TarEntry {
    File(Member),
    Link(String),
}

pub struct Container {
    kind: Kind,
    /// What the user named, for messages (never written into images).
    display: String,
}

enum Kind {
    Dir(PathBuf),
    Tar {
        file: PathBuf,
        entries: HashMap<String, TarEntry>,
        /// Keeps an inflated copy of a compressed outer tar alive.
        _inflated: Option<tempfile::NamedTempFile>,
    },
}

/// Cleans a member name from a manifest or tar header: strips `./` and leading `/`, collapses
/// `.` components and refuses `..`, NUL and empty names.
pub fn clean_member(name: &str) -> Option<String> {
    if name.contains('\0') {
        return None;
    }
    let mut parts = Vec::new();
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

impl Container {
    pub fn open_dir(path: &Path) -> Result<Container> {
        Ok(Container {
            kind: Kind::Dir(path.to_path_buf()),
            display: path.display().to_string(),
        })
    }

    /// Indexes a tar file; a gzip- or zstd-compressed tar is inflated to a temporary file first.
    pub fn open_tar(path: &Path) -> Result<Container> {
        let mut f = File::open(path).at(path)?;
        let mut head = [0u8; 4];
        let n = read_up_to(&mut f, &mut head).at(path)?;
        let comp = crate::codec::compress::sniff(&head[..n], &path.display().to_string())?;
        let (file, inflated) = if comp == crate::codec::compress::Compression::None {
            (path.to_path_buf(), None)
        } else {
            f.seek(SeekFrom::Start(0)).at(path)?;
            let mut dec = crate::codec::compress::decoder(f, &path.display().to_string())?;
            let mut tmp = tempfile::Builder::new()
                .prefix(".regraft-inflate-")
                .tempfile()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            std::io::copy(&mut dec, tmp.as_file_mut())
                .map_err(|e| Error::format_from(path.display(), "cannot decompress", e))?;
            (tmp.path().to_path_buf(), Some(tmp))
        };
        let entries = index_tar(&file, &path.display().to_string())?;
        Ok(Container {
            kind: Kind::Tar {
                file,
                entries,
                _inflated: inflated,
            },
            display: path.display().to_string(),
        })
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir(_))
    }

    pub fn dir_path(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Dir(p) => Some(p),
            _ => None,
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.locate(name).ok().flatten().is_some()
    }

    /// The size of a member, or None if it is absent.
    pub fn size_of(&self, name: &str) -> Result<Option<u64>> {
        Ok(self.locate(name)?.map(|l| l.1))
    }

    /// Resolves a name to (path on disk, size, offset).
    pub fn locate(&self, name: &str) -> Result<Option<(PathBuf, u64, u64)>> {
        let clean = clean_member(name).ok_or_else(|| {
            Error::format(
                &self.display,
                format!("unsafe member name {:?}", crate::text::sanitize(name)),
            )
        })?;
        match &self.kind {
            Kind::Dir(root) => {
                let p = root.join(&clean);
                match std::fs::symlink_metadata(&p) {
                    Ok(m) if m.file_type().is_file() => Ok(Some((p, m.len(), 0))),
                    Ok(_) => Err(Error::format(
                        &self.display,
                        format!("{clean} is not a regular file (symlinks are refused)"),
                    )),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(Error::io(p, e)),
                }
            }
            Kind::Tar { file, entries, .. } => {
                let mut cur = clean;
                for _ in 0..16 {
                    match entries.get(&cur) {
                        None => return Ok(None),
                        Some(TarEntry::File(m)) => {
                            return Ok(Some((file.clone(), m.size, m.offset)));
                        }
                        Some(TarEntry::Link(target)) => {
                            cur = resolve_link(&cur, target).ok_or_else(|| {
                                Error::format(
                                    &self.display,
                                    format!("{cur}: link target {target:?} leaves the archive"),
                                )
                            })?;
                        }
                    }
                }
                Err(Error::format(
                    &self.display,
                    format!("{name}: too many levels of links"),
                ))
            }
        }
    }

    /// Opens a member for reading (unverified: callers wrap it in a `VerifyingReader`).
    pub fn open(&self, name: &str) -> Result<Box<dyn Read + Send>> {
        let (path, size, offset) = self.locate(name)?.ok_or_else(|| Error::MissingBlob {
            container: self.display.clone(),
            name: name.to_string(),
        })?;
        let mut f = File::open(&path).at(&path)?;
        if offset > 0 {
            f.seek(SeekFrom::Start(offset)).at(&path)?;
        }
        Ok(Box::new(f.take(size)))
    }

    /// Reads a small member whole (JSON documents), refusing anything over `max` bytes.
    pub fn read_small(&self, name: &str, max: u64) -> Result<Vec<u8>> {
        let size = self.size_of(name)?.ok_or_else(|| Error::MissingBlob {
            container: self.display.clone(),
            name: name.to_string(),
        })?;
        if size > max {
            return Err(Error::format(
                &self.display,
                format!("{name} is {size} bytes, more than the {max} allowed for a JSON document"),
            ));
        }
        let mut v = Vec::with_capacity(size as usize);
        self.open(name)?
            .read_to_end(&mut v)
            .map_err(|e| Error::format_from(&self.display, name, e))?;
        Ok(v)
    }

    /// Names of all members (tar) or None for a directory.
    pub fn member_names(&self) -> Vec<String> {
        match &self.kind {
            Kind::Dir(_) => vec![],
            Kind::Tar { entries, .. } => {
                let mut v: Vec<String> = entries.keys().cloned().collect();
                v.sort();
                v
            }
        }
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Resolves a link target found at member `from`, relative to its directory (absolute targets
/// are relative to the archive root). None if it would leave the archive.
fn resolve_link(from: &str, target: &str) -> Option<String> {
    let base = if target.starts_with('/') {
        String::new()
    } else {
        match from.rsplit_once('/') {
            Some((dir, _)) => dir.to_string(),
            None => String::new(),
        }
    };
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

/// Whether a 512-byte block is a tar header: its checksum field (octal) equals the sum of its
/// bytes with that field counted as spaces. An all-zero block (an empty archive) is not.
fn tar_header_ok(b: &[u8; 512]) -> bool {
    let field = &b[148..156];
    let text: String = field
        .iter()
        .map(|&c| c as char)
        .filter(|c| !matches!(c, ' ' | '\0'))
        .collect();
    let Ok(want) = u32::from_str_radix(&text, 8) else {
        return false;
    };
    let sum: u32 = b
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(c)
            }
        })
        .sum();
    sum == want
}

fn index_tar(file: &Path, display: &str) -> Result<HashMap<String, TarEntry>> {
    let mut f = File::open(file).at(file)?;
    let mut head = [0u8; 512];
    let n = read_up_to(&mut f, &mut head).at(file)?;
    let other = [
        (&b"\xfd7zXZ\x00"[..], "xz", "xz -d"),
        (&b"BZh"[..], "bzip2", "bunzip2"),
    ];
    if let Some((_, name, undo)) = other.iter().find(|(m, _, _)| head[..n].starts_with(m)) {
        return Err(Error::format(
            display,
            format!(
                "{name}-compressed: regraft reads archives plain, gzip- or zstd-compressed; \
                 decompress it first ({undo})"
            ),
        ));
    }
    if n < 512 || !tar_header_ok(&head) {
        return Err(Error::format(
            display,
            "not an image: not a tar archive (its first 512 bytes are not a tar header) and not \
             an OCI layout directory; regraft reads docker-archive and oci-archive tars, plain \
             or compressed, and OCI layout directories",
        ));
    }
    f.seek(SeekFrom::Start(0)).at(file)?;
    let mut ar = tar::Archive::new(std::io::BufReader::new(f));
    let mut out = HashMap::new();
    // Headers only: member data is seeked over (a docker save is mostly layer bytes).
    let entries = ar
        .entries_with_seek()
        .map_err(|e| Error::format_from(display, "not a tar archive", e))?;
    for e in entries {
        let e = e.map_err(|e| {
            Error::format_from(display, "corrupt tar archive", crate::error::quiet_tar(e))
        })?;
        let raw = e.path_bytes();
        let name = String::from_utf8_lossy(&raw).to_string();
        let Some(clean) = clean_member(&name) else {
            continue;
        };
        let kind = e.header().entry_type();
        if kind.is_file() {
            out.insert(
                clean,
                TarEntry::File(Member {
                    offset: e.raw_file_position(),
                    size: e.size(),
                }),
            );
        } else if (kind.is_symlink() || kind.is_hard_link())
            && let Ok(Some(t)) = e.link_name()
        {
            let t = t.to_string_lossy().to_string();
            // A hardlink target is relative to the archive root, a symlink's to its directory.
            let t = if kind.is_hard_link() {
                format!("/{t}")
            } else {
                t
            };
            out.insert(clean, TarEntry::Link(t));
        }
    }
    // A truncated archive: tar stops quietly at EOF; check the last member is complete.
    let len = std::fs::metadata(file).at(file)?.len();
    for v in out.values() {
        if let TarEntry::File(m) = v
            && m.offset + m.size > len
        {
            return Err(Error::format(display, "truncated tar archive"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_cleaned_or_refused() {
        assert_eq!(
            clean_member("./blobs/sha256/x").as_deref(),
            Some("blobs/sha256/x")
        );
        assert_eq!(
            clean_member("/manifest.json").as_deref(),
            Some("manifest.json")
        );
        assert_eq!(clean_member("a//b/./c").as_deref(), Some("a/b/c"));
        assert_eq!(clean_member("../etc/passwd"), None);
        assert_eq!(clean_member("a/../../b"), None);
        assert_eq!(clean_member(""), None);
        assert_eq!(clean_member("./"), None);
    }

    #[test]
    fn links_resolve_inside_only() {
        assert_eq!(
            resolve_link("b/layer.tar", "../a/layer.tar").as_deref(),
            Some("a/layer.tar")
        );
        assert_eq!(
            resolve_link("b/layer.tar", "/a/layer.tar").as_deref(),
            Some("a/layer.tar")
        );
        assert_eq!(resolve_link("layer.tar", "../../x"), None);
    }
}
