//! One layer's tar entries: names cleaned and classified (whiteouts, opaque markers), headers
//! parsed into entries with their attributes. Pure code over headers; the merged view of a
//! stack of layers (`crate::view`) is built from these entries.

use crate::error::{Error, Result};

/// Attributes carried from a tar header.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Meta {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    /// The PAX `mtime` record exactly as written, when there was one (sub-second precision).
    pub pax_mtime: Option<String>,
    pub uname: Vec<u8>,
    pub gname: Vec<u8>,
    /// `SCHILY.xattr.*` records, sorted by name.
    pub xattrs: Vec<(String, Vec<u8>)>,
    pub dev_major: u32,
    pub dev_minor: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink(Vec<u8>),
    Char,
    Block,
    Fifo,
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "directory",
            Kind::Symlink(_) => "symlink",
            Kind::Char => "character device",
            Kind::Block => "block device",
            Kind::Fifo => "fifo",
        }
    }
}

/// Where a regular file's bytes can be found: a caller-defined location.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataRef {
    pub offset: u64,
    pub len: u64,
}

/// What one tar entry of a layer says, after cleaning.
#[derive(Clone, Debug)]
pub enum Op {
    /// Add or replace `path`.
    Put {
        kind: Kind,
        meta: Meta,
        size: u64,
        data: Option<DataRef>,
    },
    /// A hardlink to `target` (a cleaned path).
    Link { target: Vec<u8>, meta: Meta },
    /// `.wh.X`: delete `path` from lower layers.
    Whiteout,
    /// `.wh..wh..opq` in directory `path`.
    Opaque,
    /// Skipped (the root, other `.wh..wh.` meta entries).
    Skip,
}

#[derive(Clone, Debug)]
pub struct LayerEntry {
    pub path: Vec<u8>,
    pub op: Op,
}
/// Cleans a tar name. Ok(None) for the root; Err for `..`, NUL or empty names.
pub fn clean_path(raw: &[u8]) -> Result<Option<Vec<u8>>> {
    if raw.is_empty() {
        return Err(Error::Invalid("tar entry with an empty name".into()));
    }
    if raw.contains(&0) {
        return Err(Error::Invalid(format!(
            "tar entry name {:?} contains NUL",
            crate::text::sanitize_bytes(raw)
        )));
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                return Err(Error::Invalid(format!(
                    "tar entry {:?} has a '..' component",
                    crate::text::sanitize_bytes(raw)
                )));
            }
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

pub(crate) fn split_parent(p: &[u8]) -> (&[u8], &[u8]) {
    match p.iter().rposition(|&b| b == b'/') {
        Some(i) => (&p[..i], &p[i + 1..]),
        None => (&[], p),
    }
}

pub const OPAQUE: &[u8] = b".wh..wh..opq";
pub const WH_PREFIX: &[u8] = b".wh.";

/// Classifies a cleaned name: whiteout target, opaque directory, meta entry, or plain.
pub fn classify(path: Vec<u8>) -> Result<(Vec<u8>, Option<Op>)> {
    let (dir, base) = split_parent(&path);
    if base == OPAQUE {
        return Ok((dir.to_vec(), Some(Op::Opaque)));
    }
    if base.starts_with(b".wh..wh.") {
        return Ok((path.clone(), Some(Op::Skip)));
    }
    if let Some(name) = base.strip_prefix(WH_PREFIX) {
        if name.is_empty() || name == b"." || name == b".." {
            return Err(Error::Invalid(format!(
                "invalid whiteout {:?}",
                crate::text::sanitize_bytes(&path)
            )));
        }
        let mut target = dir.to_vec();
        if !target.is_empty() {
            target.push(b'/');
        }
        target.extend_from_slice(name);
        return Ok((target, Some(Op::Whiteout)));
    }
    Ok((path, None))
}

/// Reads the entry's header into a `LayerEntry` (data untouched). Sparse files are refused.
pub fn parse_entry<R: std::io::Read>(e: &mut tar::Entry<'_, R>) -> Result<LayerEntry> {
    let raw = e.path_bytes().into_owned();
    let name = || crate::text::sanitize_bytes(&raw);
    let h = e.header();
    let et = h.entry_type();
    let mut meta = Meta {
        mode: h
            .mode()
            .map_err(|x| Error::Invalid(format!("{}: bad mode: {x}", name())))?
            & 0o7777,
        uid: h.uid().unwrap_or(0),
        gid: h.gid().unwrap_or(0),
        mtime: h.mtime().unwrap_or(0),
        pax_mtime: None,
        uname: h.username_bytes().map(<[u8]>::to_vec).unwrap_or_default(),
        gname: h.groupname_bytes().map(<[u8]>::to_vec).unwrap_or_default(),
        xattrs: vec![],
        dev_major: h.device_major().ok().flatten().unwrap_or(0),
        dev_minor: h.device_minor().ok().flatten().unwrap_or(0),
    };
    if let Some(exts) = e
        .pax_extensions()
        .map_err(|x| Error::Invalid(format!("{}: bad PAX header: {x}", name())))?
    {
        for ext in exts {
            let ext =
                ext.map_err(|x| Error::Invalid(format!("{}: bad PAX record: {x}", name())))?;
            let key = ext
                .key()
                .map_err(|_| Error::Invalid(format!("{}: PAX key is not UTF-8", name())))?;
            let val = ext.value_bytes();
            if let Some(x) = key.strip_prefix("SCHILY.xattr.") {
                meta.xattrs.push((x.to_string(), val.to_vec()));
            } else if key == "mtime" {
                let s = String::from_utf8_lossy(val).to_string();
                if let Some(secs) = s.split('.').next().and_then(|v| v.parse::<u64>().ok()) {
                    meta.mtime = secs;
                }
                meta.pax_mtime = Some(s);
            } else if key == "uid" || key == "gid" {
                let v = std::str::from_utf8(val)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok());
                if let Some(v) = v {
                    if key == "uid" {
                        meta.uid = v
                    } else {
                        meta.gid = v
                    }
                }
            } else if key == "uname" {
                meta.uname = val.to_vec();
            } else if key == "gname" {
                meta.gname = val.to_vec();
            } else if key.starts_with("GNU.sparse") {
                return Err(Error::Unsupported(format!(
                    "{}: sparse files are not supported",
                    name()
                )));
            }
        }
    }
    meta.xattrs.sort();
    meta.xattrs.dedup_by(|a, b| a.0 == b.0);
    let Some(path) = clean_path(&raw)? else {
        return Ok(LayerEntry {
            path: vec![],
            op: Op::Skip,
        });
    };
    let (path, special) = classify(path)?;
    if let Some(op) = special {
        return Ok(LayerEntry { path, op });
    }
    let link = || -> Result<Vec<u8>> {
        e.link_name_bytes()
            .map(|c| c.into_owned())
            .ok_or_else(|| Error::Invalid(format!("{}: link without a target", name())))
    };
    let op = match et {
        tar::EntryType::Regular | tar::EntryType::Continuous => Op::Put {
            kind: Kind::File,
            meta,
            size: e.size(),
            data: None,
        },
        tar::EntryType::Directory => Op::Put {
            kind: Kind::Dir,
            meta,
            size: 0,
            data: None,
        },
        tar::EntryType::Symlink => {
            let t = link()?;
            if t.is_empty() || t.contains(&0) {
                return Err(Error::Invalid(format!("{}: bad symlink target", name())));
            }
            Op::Put {
                kind: Kind::Symlink(t),
                meta,
                size: 0,
                data: None,
            }
        }
        tar::EntryType::Link => {
            let t = link()?;
            let target = clean_path(&t)?
                .ok_or_else(|| Error::Invalid(format!("{}: hardlink to the root", name())))?;
            Op::Link { target, meta }
        }
        tar::EntryType::Char => Op::Put {
            kind: Kind::Char,
            meta,
            size: 0,
            data: None,
        },
        tar::EntryType::Block => Op::Put {
            kind: Kind::Block,
            meta,
            size: 0,
            data: None,
        },
        tar::EntryType::Fifo => Op::Put {
            kind: Kind::Fifo,
            meta,
            size: 0,
            data: None,
        },
        tar::EntryType::GNUSparse => {
            return Err(Error::Unsupported(format!(
                "{}: sparse files are not supported",
                name()
            )));
        }
        other => {
            return Err(Error::Unsupported(format!(
                "{}: unsupported tar entry type {:?}",
                name(),
                other
            )));
        }
    };
    Ok(LayerEntry { path, op })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_names() {
        let c =
            |s: &str| clean_path(s.as_bytes()).map(|o| o.map(|v| String::from_utf8(v).unwrap()));
        assert_eq!(c("./a/b/").unwrap().as_deref(), Some("a/b"));
        assert_eq!(c("/a//./b").unwrap().as_deref(), Some("a/b"));
        assert_eq!(c("./").unwrap(), None);
        assert!(c("a/../b").is_err());
        assert!(c("").is_err());
        assert!(classify(b"a/.wh.".to_vec()).is_err());
    }
}
