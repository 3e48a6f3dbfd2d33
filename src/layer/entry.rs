//! One layer's tar entries: names cleaned and classified (whiteouts, opaque markers), headers
//! parsed into entries with their attributes. Pure code over headers; the merged view of a
//! stack of layers (`crate::view`) is built from these entries.

use crate::error::{Error, Result};
use crate::model::limits::{self, MAX_PATH_DEPTH, PATH_MAX};

/// Attributes carried from a tar header. Kept small (it is in every node of every merged
/// view): names are interned, the rare PAX extras are boxed.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Meta {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub uname: Name,
    pub gname: Name,
    /// The exact PAX mtime, the xattrs and a device's numbers, when there are any (None
    /// otherwise: never an empty box, so that equal attributes compare equal). Set through
    /// `set_pax_mtime`, `set_xattrs` and `set_device`; public only so that
    /// `Meta { mode, ..Default::default() }` can be written.
    pub extra: Option<Box<Extra>>,
}

/// The rare attributes of a `Meta`, out of line.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Extra {
    pax_mtime: Option<String>,
    xattrs: Vec<(String, Vec<u8>)>,
    /// A character or block device's major and minor numbers.
    device: (u32, u32),
}

impl Meta {
    /// The PAX `mtime` record exactly as written, when there was one (sub-second precision).
    pub fn pax_mtime(&self) -> Option<&str> {
        self.extra.as_ref()?.pax_mtime.as_deref()
    }
    pub fn set_pax_mtime(&mut self, v: Option<String>) {
        self.extra.get_or_insert_default().pax_mtime = v;
        self.tidy();
    }
    /// `SCHILY.xattr.*` records, sorted by name.
    pub fn xattrs(&self) -> &[(String, Vec<u8>)] {
        self.extra.as_ref().map_or(&[], |e| &e.xattrs)
    }
    /// Sets the xattrs (sorted by name here, one record a name: the first).
    pub fn set_xattrs(&mut self, mut v: Vec<(String, Vec<u8>)>) {
        v.sort();
        v.dedup_by(|a, b| a.0 == b.0);
        self.extra.get_or_insert_default().xattrs = v;
        self.tidy();
    }
    /// A device's (major, minor) numbers as the header gives them ((0, 0) otherwise).
    pub fn device(&self) -> (u32, u32) {
        self.extra.as_ref().map_or((0, 0), |e| e.device)
    }
    pub fn set_device(&mut self, major: u32, minor: u32) {
        self.extra.get_or_insert_default().device = (major, minor);
        self.tidy();
    }
    fn tidy(&mut self) {
        if self
            .extra
            .as_ref()
            .is_some_and(|e| e.pax_mtime.is_none() && e.xattrs.is_empty() && e.device == (0, 0))
        {
            self.extra = None;
        }
    }
}

/// A user or group name from a tar header, interned: an index into one table of the names
/// seen in this process, so that a node costs 4 bytes for it and no allocation (images have a
/// handful of names; each distinct name is stored once for the life of the process, within
/// `MAX_OWNER_NAME` bytes and `MAX_OWNER_NAMES` names, so no layer can grow the table
/// without bound).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Name(u32);

struct Names {
    list: Vec<&'static [u8]>,
    index: std::collections::HashMap<&'static [u8], u32>,
}

static NAMES: std::sync::RwLock<Option<Names>> = std::sync::RwLock::new(None);

impl Name {
    /// The name for `b`, interned. For names regraft makes itself (tests, fixed owners); a
    /// name read from a layer goes through `read`, which holds it to the limits.
    pub fn new(b: &[u8]) -> Name {
        Name::intern(b).unwrap_or_default()
    }

    /// A name read from a tar header of `raw`: within `MAX_OWNER_NAME` bytes, and a new one
    /// only while the table holds fewer than `MAX_OWNER_NAMES`.
    fn read(b: &[u8], raw: &[u8]) -> Result<Name> {
        if b.len() > limits::MAX_OWNER_NAME.get() {
            return Err(limits::MAX_OWNER_NAME.error(
                format!("{}: user or group name", shown(raw)),
                format!("{} bytes", b.len()),
            ));
        }
        Name::intern(b).ok_or_else(|| {
            limits::MAX_OWNER_NAMES.error(
                format!("{}: user or group name", shown(raw)),
                "one more distinct name",
            )
        })
    }

    /// None when the table is full (checked before anything is kept).
    fn intern(b: &[u8]) -> Option<Name> {
        if b.is_empty() {
            return Some(Name(0));
        }
        if let Ok(g) = NAMES.read()
            && let Some(i) = g.as_ref().and_then(|n| n.index.get(b))
        {
            return Some(Name(*i));
        }
        let mut g = NAMES.write().unwrap_or_else(|e| e.into_inner());
        let n = g.get_or_insert_with(|| Names {
            list: vec![b""],
            index: std::collections::HashMap::new(),
        });
        if let Some(i) = n.index.get(b) {
            return Some(Name(*i));
        }
        if n.list.len() > limits::MAX_OWNER_NAMES.get() {
            return None;
        }
        let i = n.list.len() as u32;
        let kept: &'static [u8] = Box::leak(b.to_vec().into_boxed_slice());
        n.list.push(kept);
        n.index.insert(kept, i);
        Some(Name(i))
    }

    pub fn as_bytes(self) -> &'static [u8] {
        if self.0 == 0 {
            return b"";
        }
        let g = NAMES.read().unwrap_or_else(|e| e.into_inner());
        g.as_ref()
            .and_then(|n| n.list.get(self.0 as usize).copied())
            .unwrap_or(b"")
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl From<&[u8]> for Name {
    fn from(b: &[u8]) -> Name {
        Name::new(b)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// The target, boxed twice so that a `Kind` is two words, not three.
    Symlink(Box<Box<[u8]>>),
    Char,
    Block,
    Fifo,
}

impl Kind {
    pub fn symlink(target: impl Into<Box<[u8]>>) -> Kind {
        Kind::Symlink(Box::new(target.into()))
    }

    /// The kind without a symlink's target: one byte, for records kept per entry.
    pub fn shape(&self) -> Shape {
        match self {
            Kind::File => Shape::File,
            Kind::Dir => Shape::Dir,
            Kind::Symlink(_) => Shape::Symlink,
            Kind::Char => Shape::Char,
            Kind::Block => Shape::Block,
            Kind::Fifo => Shape::Fifo,
        }
    }

    /// The short name listings and documents use (`ls --json`, `diff`).
    pub fn short_name(&self) -> &'static str {
        self.shape().short_name()
    }

    /// The name messages use.
    pub fn name(&self) -> &'static str {
        self.shape().name()
    }
}

/// A `Kind` without its symlink target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    File,
    Dir,
    Symlink,
    Char,
    Block,
    Fifo,
}

impl Shape {
    /// The short name listings and documents use (`ls --json`, `diff`).
    pub fn short_name(self) -> &'static str {
        match self {
            Shape::File => "file",
            Shape::Dir => "dir",
            Shape::Symlink => "symlink",
            Shape::Char => "char",
            Shape::Block => "block",
            Shape::Fifo => "fifo",
        }
    }

    /// The name messages use.
    pub fn name(self) -> &'static str {
        match self {
            Shape::File => "file",
            Shape::Dir => "directory",
            Shape::Symlink => "symlink",
            Shape::Char => "character device",
            Shape::Block => "block device",
            Shape::Fifo => "fifo",
        }
    }
}

/// Where an entry's file bytes are (`Op::Put`): an offset the caller defines; the length is
/// the entry's size. One word, where a `DataRef` is two and its `Option` three: a layer's
/// entries are all held before they apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataAt(std::num::NonZeroU64);

impl DataAt {
    pub fn new(offset: u64) -> DataAt {
        DataAt(
            std::num::NonZeroU64::new(offset.wrapping_add(1)).expect("a data offset of 2^64 - 1"),
        )
    }
    pub fn offset(self) -> u64 {
        self.0.get() - 1
    }
    /// The bytes at it, `len` of them.
    pub fn of(self, len: u64) -> DataRef {
        DataRef {
            offset: self.offset(),
            len,
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
        data: Option<DataAt>,
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
    pub path: Box<[u8]>,
    pub op: Op,
}

/// A layer's entries in tar order, in chunks of at most `Entries::CHUNK`, so that a consumer
/// (`MergedView::apply_layer`) frees them chunk by chunk as the view grows: a layer's entries
/// and its view are not both held whole.
#[derive(Clone, Debug, Default)]
pub struct Entries {
    chunks: Vec<Vec<LayerEntry>>,
    len: usize,
}

impl Entries {
    pub const CHUNK: usize = 4096;

    pub fn new() -> Entries {
        Entries::default()
    }

    pub fn push(&mut self, e: LayerEntry) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < Self::CHUNK => c.push(e),
            _ => self.chunks.push(vec![e]),
        }
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = &LayerEntry> {
        self.chunks.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut LayerEntry> {
        self.chunks.iter_mut().flatten()
    }

    /// The chunks, in order; each is freed once it is passed.
    pub fn into_chunks(self) -> impl Iterator<Item = Vec<LayerEntry>> {
        self.chunks.into_iter()
    }
}

impl IntoIterator for Entries {
    type Item = LayerEntry;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<LayerEntry>>>;
    /// Consumes the entries in order; each chunk is freed once it is passed.
    fn into_iter(self) -> Self::IntoIter {
        self.chunks.into_iter().flatten()
    }
}

impl From<Vec<LayerEntry>> for Entries {
    fn from(v: Vec<LayerEntry>) -> Entries {
        v.into_iter().collect()
    }
}

impl FromIterator<LayerEntry> for Entries {
    fn from_iter<I: IntoIterator<Item = LayerEntry>>(it: I) -> Entries {
        let mut e = Entries::new();
        for x in it {
            e.push(x);
        }
        e
    }
}
/// Cleans a tar name. Ok(None) for the root; Err for `..`, NUL or empty names, and for a
/// name longer than `PATH_MAX` or deeper than `MAX_PATH_DEPTH` once cleaned.
pub fn clean_path(raw: &[u8]) -> Result<Option<Vec<u8>>> {
    let out = clean_components(raw)?;
    if out.len() > PATH_MAX.get() {
        let what = format!("tar entry {}", limits::shown(raw));
        return Err(PATH_MAX.error(what, format!("{} bytes", out.len())));
    }
    let depth = out.iter().filter(|&&b| b == b'/').count() + 1;
    if depth > MAX_PATH_DEPTH.get() {
        let what = format!("tar entry {}", limits::shown(raw));
        return Err(MAX_PATH_DEPTH.error(what, format!("{depth} components")));
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

/// `clean_path` without the limits: the components of `raw` without `.` and empty ones.
fn clean_components(raw: &[u8]) -> Result<Vec<u8>> {
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
    Ok(out)
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
    let mut meta = header_meta(e.header(), &raw)?;
    let mut xattrs = Vec::new();
    if let Some(exts) = e
        .pax_extensions()
        .map_err(|x| Error::io_while(format!("{}: bad PAX header", shown(&raw)), x))?
    {
        for ext in exts {
            let ext =
                ext.map_err(|x| Error::io_while(format!("{}: bad PAX record", shown(&raw)), x))?;
            let key = ext
                .key()
                .map_err(|_| Error::Invalid(format!("{}: PAX key is not UTF-8", shown(&raw))))?;
            apply_pax(&mut meta, &mut xattrs, key, ext.value_bytes(), &raw)?;
        }
    }
    if !xattrs.is_empty() {
        meta.set_xattrs(xattrs);
    }
    let Some(path) = clean_path(&raw)? else {
        return Ok(LayerEntry {
            path: Box::default(),
            op: Op::Skip,
        });
    };
    let (path, special) = classify(path)?;
    let op = match special {
        Some(op) => op,
        None => entry_op(e, meta, &raw)?,
    };
    Ok(LayerEntry {
        path: path.into(),
        op,
    })
}

/// A tar name as messages show it.
fn shown(raw: &[u8]) -> String {
    crate::text::sanitize_bytes(raw)
}

/// The attributes a ustar header carries (PAX records may override them).
fn header_meta(h: &tar::Header, raw: &[u8]) -> Result<Meta> {
    let mode = h
        .mode()
        .map_err(|x| Error::io_while(format!("{}: bad mode", shown(raw)), x))?;
    let mut meta = Meta {
        mode: mode & 0o7777,
        uid: h.uid().unwrap_or(0),
        gid: h.gid().unwrap_or(0),
        mtime: h.mtime().unwrap_or(0),
        uname: Name::read(h.username_bytes().unwrap_or_default(), raw)?,
        gname: Name::read(h.groupname_bytes().unwrap_or_default(), raw)?,
        extra: None,
    };
    let major = h.device_major().ok().flatten().unwrap_or(0);
    let minor = h.device_minor().ok().flatten().unwrap_or(0);
    if (major, minor) != (0, 0) {
        meta.set_device(major, minor);
    }
    Ok(meta)
}

/// Applies one PAX record to the entry's attributes: xattrs, the exact mtime, large ids and
/// long user and group names. Sparse-file records are refused; others are ignored.
fn apply_pax(
    meta: &mut Meta,
    xattrs: &mut Vec<(String, Vec<u8>)>,
    key: &str,
    val: &[u8],
    raw: &[u8],
) -> Result<()> {
    let number = || {
        std::str::from_utf8(val)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
    };
    if let Some(x) = key.strip_prefix("SCHILY.xattr.") {
        xattrs.push((x.to_string(), val.to_vec()));
    } else if key.starts_with("GNU.sparse") {
        return Err(sparse(raw));
    }
    match key {
        "mtime" => {
            let s = String::from_utf8_lossy(val).to_string();
            if let Some(secs) = s.split('.').next().and_then(|v| v.parse::<u64>().ok()) {
                meta.mtime = secs;
            }
            meta.set_pax_mtime(Some(s));
        }
        "uid" => meta.uid = number().unwrap_or(meta.uid),
        "gid" => meta.gid = number().unwrap_or(meta.gid),
        "uname" => meta.uname = Name::read(val, raw)?,
        "gname" => meta.gname = Name::read(val, raw)?,
        _ => {}
    }
    Ok(())
}

fn sparse(raw: &[u8]) -> Error {
    Error::Unsupported(format!("{}: sparse files are not supported", shown(raw)))
}

/// What a plain (not whiteout or opaque) entry does, by its tar entry type.
fn entry_op<R: std::io::Read>(e: &tar::Entry<'_, R>, meta: Meta, raw: &[u8]) -> Result<Op> {
    let put = |kind: Kind, meta: Meta, size: u64| Op::Put {
        kind,
        meta,
        size,
        data: None,
    };
    let link = || -> Result<Vec<u8>> {
        e.link_name_bytes()
            .map(|c| c.into_owned())
            .ok_or_else(|| Error::Invalid(format!("{}: link without a target", shown(raw))))
    };
    Ok(match e.header().entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => put(Kind::File, meta, e.size()),
        tar::EntryType::Directory => put(Kind::Dir, meta, 0),
        tar::EntryType::Symlink => {
            let t = link()?;
            if t.is_empty() || t.contains(&0) {
                return Err(Error::Invalid(format!(
                    "{}: bad symlink target",
                    shown(raw)
                )));
            }
            if t.len() > PATH_MAX.get() {
                let what = format!("{}: symlink target", limits::shown(raw));
                return Err(PATH_MAX.error(what, format!("{} bytes", t.len())));
            }
            put(Kind::symlink(t), meta, 0)
        }
        tar::EntryType::Link => {
            let target = clean_path(&link()?)?
                .ok_or_else(|| Error::Invalid(format!("{}: hardlink to the root", shown(raw))))?;
            Op::Link { target, meta }
        }
        tar::EntryType::Char => put(Kind::Char, meta, 0),
        tar::EntryType::Block => put(Kind::Block, meta, 0),
        tar::EntryType::Fifo => put(Kind::Fifo, meta, 0),
        tar::EntryType::GNUSparse => return Err(sparse(raw)),
        other => {
            return Err(Error::Unsupported(format!(
                "{}: unsupported tar entry type {:?}",
                shown(raw),
                other
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    /// Interned names: equal bytes, equal names; the empty name is the default; the bytes come
    /// back; and a `Meta` whose extras were set and cleared equals one that never had any.
    #[test]
    fn names_intern_and_extras_tidy() {
        use super::{Meta, Name};
        let a = Name::new(b"daemon");
        assert_eq!(a, Name::new(String::from("daemon").as_bytes()));
        assert_ne!(a, Name::new(b"daemon2"));
        assert_eq!(a.as_bytes(), b"daemon");
        assert_eq!(Name::new(b""), Name::default());
        assert!(Name::default().as_bytes().is_empty());
        let mut m = Meta::default();
        m.set_pax_mtime(Some("1.5".into()));
        m.set_xattrs(vec![
            ("user.b".into(), vec![2]),
            ("user.a".into(), vec![1]),
            ("user.a".into(), vec![3]),
        ]);
        assert_eq!(
            m.xattrs(),
            [
                ("user.a".to_string(), vec![1]),
                ("user.b".to_string(), vec![2])
            ]
        );
        m.set_pax_mtime(None);
        assert_ne!(m, Meta::default());
        m.set_xattrs(vec![]);
        assert_eq!(m, Meta::default());
        assert!(
            std::mem::size_of::<Meta>() <= 48,
            "{}",
            std::mem::size_of::<Meta>()
        );
    }

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

    #[test]
    fn names_past_path_max_or_too_deep_are_refused_naming_the_limit() {
        let at_max = "a/".repeat(MAX_PATH_DEPTH.get() - 1) + &"b".repeat(PATH_MAX.get() - 510);
        assert_eq!(at_max.len(), PATH_MAX.get());
        assert!(clean_path(at_max.as_bytes()).is_ok());
        let long = "a".repeat(PATH_MAX.get() + 1);
        let e = clean_path(long.as_bytes()).unwrap_err().to_string();
        assert!(
            e.ends_with("4096 bytes, over the limit of 4095 bytes (PATH_MAX)"),
            "{e}"
        );
        // Padding that cleaning drops does not count.
        assert!(clean_path(format!("{}{at_max}", "./".repeat(100)).as_bytes()).is_ok());
        let deep = "a/".repeat(MAX_PATH_DEPTH.get()) + "f";
        let e = clean_path(deep.as_bytes()).unwrap_err().to_string();
        assert!(
            e.ends_with("257 components, over the limit of 256 components (MAX_PATH_DEPTH)"),
            "{e}"
        );
        // The 40 KB name of a deep hostile entry is not printed whole.
        assert!(e.len() < 200, "{e}");
    }

    /// Parses every entry of a tar built by `build`.
    fn parse_all(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<Result<LayerEntry>> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        let bytes = b.into_inner().unwrap();
        let mut ar = tar::Archive::new(&bytes[..]);
        ar.entries()
            .unwrap()
            .map(|e| parse_entry(&mut e.unwrap()))
            .collect()
    }

    /// A header with the names exactly as given (the tar crate's setters clean them).
    fn header(name: &str, t: tar::EntryType, link: Option<&str>) -> tar::Header {
        // The tar crate reads sparse entries only from GNU headers.
        let mut h = if t == tar::EntryType::GNUSparse {
            tar::Header::new_gnu()
        } else {
            tar::Header::new_ustar()
        };
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        if let Some(gnu) = h.as_gnu_mut() {
            gnu.set_real_size(0);
        }
        h.set_entry_type(t);
        h.set_mode(0o100755);
        h.set_size(0);
        h.set_cksum();
        h
    }

    #[test]
    fn an_owner_name_past_its_limit_is_an_error_naming_the_limit() {
        let long = vec![b'u'; crate::model::limits::MAX_OWNER_NAME.get() + 1];
        let got = parse_all(|b| {
            b.append_pax_extensions([("uname", &long[..])]).unwrap();
            let h = header("f", tar::EntryType::Regular, None);
            b.append(&h, &[][..]).unwrap();
        });
        let e = got[0].as_ref().unwrap_err().to_string();
        assert!(
            e.contains("MAX_OWNER_NAME") && e.contains("f: user or group name"),
            "{e}"
        );
    }

    #[test]
    fn pax_records_override_the_ustar_fields_and_sparse_files_are_refused() {
        let got = parse_all(|b| {
            b.append_pax_extensions([
                ("uid", &b"4000000"[..]),
                ("gid", b"not a number"),
                ("uname", b"a-rather-long-user-name-beyond-32-bytes"),
                ("gname", b"g"),
                ("mtime", b"1700000000.25"),
                ("SCHILY.xattr.user.b", b"2"),
                ("SCHILY.xattr.user.a", b"1"),
                ("comment", b"ignored"),
            ])
            .unwrap();
            let h = header("f", tar::EntryType::Regular, None);
            b.append(&h, &[][..]).unwrap();
            b.append_pax_extensions([("GNU.sparse.major", &b"1"[..])])
                .unwrap();
            b.append(&h, &[][..]).unwrap();
        });
        let Ok(LayerEntry {
            op: Op::Put { meta, .. },
            ..
        }) = &got[0]
        else {
            panic!("{got:?}")
        };
        assert_eq!((meta.mode, meta.uid, meta.gid), (0o755, 4_000_000, 0));
        assert_eq!(
            meta.uname.as_bytes(),
            b"a-rather-long-user-name-beyond-32-bytes"
        );
        assert_eq!(meta.gname.as_bytes(), b"g");
        assert_eq!(meta.mtime, 1_700_000_000);
        assert_eq!(meta.pax_mtime(), Some("1700000000.25"));
        assert_eq!(
            meta.xattrs(),
            [
                ("user.a".into(), b"1".to_vec()),
                ("user.b".into(), b"2".to_vec())
            ]
        );
        let e = got[1].as_ref().unwrap_err();
        assert!(matches!(e, Error::Unsupported(_)), "{e}");
    }

    #[test]
    fn entry_types() {
        use tar::EntryType as T;
        let got = parse_all(|b| {
            for (name, t, link) in [
                ("./", T::Directory, None),
                ("d/", T::Directory, None),
                ("c", T::Char, None),
                ("k", T::Block, None),
                ("p", T::Fifo, None),
                ("s", T::Symlink, Some("../t")),
                ("h", T::Link, Some("./d/../x")),
                ("d/.wh.gone", T::Regular, None),
                ("d/.wh..wh..opq", T::Regular, None),
                ("d/.wh..wh.plnk", T::Regular, None),
                ("bad-symlink", T::Symlink, Some("")),
                ("link-to-root", T::Link, Some("./")),
                ("sparse", T::GNUSparse, None),
                ("volume", T::new(b'V'), None),
            ] {
                b.append(&header(name, t, link), &[][..]).unwrap();
            }
        });
        let shown: Vec<String> = got
            .iter()
            .map(|r| match r {
                Ok(e) => {
                    let p = String::from_utf8_lossy(&e.path).to_string();
                    match &e.op {
                        Op::Put { kind, size, .. } => format!("{p} {} {size}", kind.name()),
                        Op::Link { target, .. } => {
                            format!("{p} link {}", String::from_utf8_lossy(target))
                        }
                        op => format!("{p} {op:?}"),
                    }
                }
                Err(e) => format!("error: {e}"),
            })
            .collect();
        assert_eq!(
            shown,
            [
                " Skip",
                "d directory 0",
                "c character device 0",
                "k block device 0",
                "p fifo 0",
                "s symlink 0",
                "error: tar entry \"./d/../x\" has a '..' component",
                "d/gone Whiteout",
                "d Opaque",
                "d/.wh..wh.plnk Skip",
                "error: bad-symlink: link without a target",
                "error: link-to-root: hardlink to the root",
                "error: sparse: sparse files are not supported",
                &format!(
                    "error: volume: unsupported tar entry type {:?}",
                    T::new(b'V')
                ),
            ]
        );
    }
}
