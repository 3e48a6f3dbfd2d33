//! The OS packages an image's package database lists, each with the layer that last wrote its
//! record, read from the layers without unpacking: dpkg (`var/lib/dpkg/status`), distroless
//! dpkg (`var/lib/dpkg/status.d/*`, one file per package), apk (`lib/apk/db/installed`) and
//! rpm's databases (`var/lib/rpm/` or `usr/lib/sysimage/rpm/`: `rpmdb.sqlite`, ndb's
//! `Packages.db`, Berkeley DB's `Packages`; `rpm.rs`). The distribution (`/etc/os-release`)
//! comes with them, for package URLs.
//!
//! Version ordering per ecosystem ([`compare_dpkg`], [`compare_apk`], [`compare_rpm`]) lives
//! in `version.rs`.
//!
//! "The layer that last wrote it": dpkg and apk rewrite their whole database file on every
//! install, so the file's layer says nothing about one package. A package's layer is the last
//! layer after which its own record (its stanza) differs from what the layer below left.

mod distro;
pub mod purl;
pub mod rpm;
pub mod version;

use crate::error::Result;
use crate::model::image::Image;
use crate::view::contents::{self, Contents, Origin, Wanted};
pub use distro::Distro;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
pub use version::{compare_apk, compare_dpkg, compare_rpm};

pub const DPKG_STATUS: &[u8] = b"var/lib/dpkg/status";
pub const DPKG_STATUS_D: &[u8] = b"var/lib/dpkg/status.d";
pub const APK_INSTALLED: &[u8] = b"lib/apk/db/installed";
/// apk 3 and merged-/usr Alpine keep the database here.
pub const APK_INSTALLED_USR: &[u8] = b"usr/lib/apk/db/installed";
/// Where the distribution says what it is; `etc/os-release` is often a symlink to the other.
pub const OS_RELEASE: &[&[u8]] = &[b"etc/os-release", b"usr/lib/os-release"];

/// Which database a package record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Db {
    /// `var/lib/dpkg/status`.
    Dpkg,
    /// `var/lib/dpkg/status.d/NAME` (distroless).
    #[serde(rename = "dpkg-status.d")]
    DpkgStatusD,
    /// `lib/apk/db/installed`.
    Apk,
    /// rpm's database, any backend (`var/lib/rpm/rpmdb.sqlite`, `Packages.db`, `Packages`).
    Rpm,
}

impl Db {
    pub fn name(self) -> &'static str {
        match self {
            Db::Dpkg => "dpkg",
            Db::DpkgStatusD => "dpkg-status.d",
            Db::Apk => "apk",
            Db::Rpm => "rpm",
        }
    }
    /// The packages one text file of this database lists, each with its record's text (rpm's
    /// database is no text file: `rpm.rs` reads it).
    pub fn parse(self, bytes: &[u8]) -> Vec<(Package, String)> {
        match self {
            Db::Dpkg | Db::DpkgStatusD => parse_dpkg(bytes, self),
            Db::Apk => parse_apk(bytes),
            Db::Rpm => Vec::new(),
        }
    }
    /// Version ordering of this database's ecosystem.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Db::Dpkg | Db::DpkgStatusD => compare_dpkg(a, b),
            Db::Apk => compare_apk(a, b),
            Db::Rpm => compare_rpm(a, b),
        }
    }
    /// Whether versions of `self` and `other` can be compared (the same ecosystem).
    pub fn same_ecosystem(self, other: Db) -> bool {
        let family = |d: Db| match d {
            Db::Dpkg | Db::DpkgStatusD => 0,
            Db::Apk => 1,
            Db::Rpm => 2,
        };
        family(self) == family(other)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Package {
    pub name: String,
    /// As the ecosystem writes it: dpkg `[epoch:]upstream[-revision]`, apk `1.2.3-r0`, rpm
    /// `[epoch:]version-release`.
    pub version: String,
    pub arch: String,
    /// The source package (dpkg `Source`, apk `o:` origin, rpm `SOURCERPM`'s name), when it
    /// differs from the name.
    pub source_package: Option<String>,
    /// The source package's version, when the database says it and it differs from `version`
    /// (dpkg `Source: name (version)`; rpm `SOURCERPM`'s `version-release`, without epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// The license the database records (apk `L:`, rpm `LICENSE`); dpkg's come from
    /// `/usr/share/doc/PKG/copyright`, read by `sbom`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Index of the layer that last wrote this package's record; None when unknown.
    pub source_layer: Option<usize>,
    pub db: Db,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PackageDb {
    /// Sorted by name, then architecture.
    pub packages: Vec<Package>,
    /// The database files read, as paths in the image.
    pub databases: Vec<String>,
    /// The distribution, from `/etc/os-release`.
    pub distro: Option<Distro>,
    pub warnings: Vec<String>,
}

impl PackageDb {
    /// The package called `name` (and of `arch`, when given).
    pub fn find(&self, name: &str, arch: Option<&str>) -> Option<&Package> {
        self.packages
            .iter()
            .find(|p| p.name == name && arch.is_none_or(|a| a == p.arch))
    }
    /// The libc family the packages show: "glibc", "musl" or None.
    pub fn libc(&self) -> Option<&'static str> {
        libc_among(&self.packages)
    }
}

/// The libc family `packages` show: "glibc" when `libc6` is among them, else "musl" when
/// `musl` is, else None.
pub fn libc_among<'a>(packages: impl IntoIterator<Item = &'a Package>) -> Option<&'static str> {
    let mut musl = false;
    for p in packages {
        match p.name.as_str() {
            "libc6" => return Some("glibc"),
            "musl" => musl = true,
            _ => {}
        }
    }
    musl.then_some("musl")
}

/// The records of one database file: (name, arch) -> (package, its stanza's text).
type Records = BTreeMap<(String, String), (Package, String)>;

/// What `contents::read` must collect for [`from_contents`].
pub fn wanted_paths(p: &[u8]) -> bool {
    p == DPKG_STATUS
        || p == APK_INSTALLED
        || p == APK_INSTALLED_USR
        || rpm::is_db_file(p)
        || OS_RELEASE.contains(&p)
        || (p.starts_with(DPKG_STATUS_D) && p.get(DPKG_STATUS_D.len()) == Some(&b'/'))
}

pub const WATCH: &[&[u8]] = &[
    DPKG_STATUS,
    APK_INSTALLED,
    APK_INSTALLED_USR,
    rpm::DBS[0].path,
    RPM_WALS[0],
    rpm::DBS[1].path,
    rpm::DBS[2].path,
    rpm::DBS[3].path,
    RPM_WALS[1],
    rpm::DBS[4].path,
    rpm::DBS[5].path,
];
const RPM_WALS: [&[u8]; 2] = [
    b"var/lib/rpm/rpmdb.sqlite-wal",
    b"usr/lib/sysimage/rpm/rpmdb.sqlite-wal",
];
/// The watched database files, each with its format.
const WATCHED_DBS: &[(&[u8], Db)] = &[
    (DPKG_STATUS, Db::Dpkg),
    (APK_INSTALLED, Db::Apk),
    (APK_INSTALLED_USR, Db::Apk),
];

/// What `contents::read` must collect for [`from_contents`]: the database files kept, their
/// paths watched, nothing hashed or probed (a caller that wants more says so by struct update).
pub fn wanted() -> Wanted<'static> {
    Wanted {
        hash: false,
        keep: &wanted_paths,
        keep_max: crate::model::limits::MAX_PACKAGE_DB,
        probe_elf: &|_| false,
        watch: WATCH,
    }
}

/// Reads the package databases of `img` (one pass over its layers).
pub fn read_packages(img: &Image, max_layer_size: u64) -> Result<PackageDb> {
    let c = contents::read(img, max_layer_size, &wanted())?;
    from_contents(&c)
}

/// The package databases of an image whose contents were read with [`wanted`]. An rpm database
/// that cannot be read is an error (dpkg's and apk's text is read as far as it parses).
pub fn from_contents(c: &Contents) -> Result<PackageDb> {
    let mut db = PackageDb::default();
    let mut seen_origins: Vec<&Origin> = Vec::new();
    for &(path, kind) in WATCHED_DBS {
        let Some(final_origin) = c.watched.last().and_then(|w| w.get(path)) else {
            continue;
        };
        if seen_origins.contains(&final_origin) {
            continue; // the same file reached by two names
        }
        seen_origins.push(final_origin);
        db.databases
            .push(String::from_utf8_lossy(path).into_owned());
        let packages = DbHistory::new(c, path, kind).packages(&mut db.warnings);
        db.packages.extend(packages);
    }
    read_status_d(c, &mut db);
    let mut read_dirs: Vec<(&[u8], &[u8])> = Vec::new();
    for d in rpm::DBS {
        let Some(final_origin) = c.watched.last().and_then(|w| w.get(d.path)) else {
            continue;
        };
        let dir = rpm::dir_of(d.path);
        if let Some((_, first)) = read_dirs.iter().find(|(r, _)| *r == dir) {
            // rpm reads one backend in a directory: the other file is a leftover.
            db.warnings.push(format!(
                "rpm database /{} not read: /{} is the one rpm reads there",
                String::from_utf8_lossy(d.path),
                String::from_utf8_lossy(first)
            ));
            continue;
        }
        if seen_origins.contains(&final_origin) {
            continue; // the same file reached by two names
        }
        seen_origins.push(final_origin);
        read_dirs.push((dir, d.path));
        db.databases
            .push(String::from_utf8_lossy(d.path).into_owned());
        db.packages.extend(rpm_history(c, d)?);
    }
    db.distro = OS_RELEASE
        .iter()
        .find_map(|p| c.kept_at(p).and_then(Distro::parse));
    db.packages.sort_by(|a, b| {
        (&a.name, &a.arch, a.db, &a.version).cmp(&(&b.name, &b.arch, b.db, &b.version))
    });
    Ok(db)
}

/// The rpm package of one header.
pub fn rpm_package(h: &crate::formats::rpmheader::RpmHeader) -> Package {
    Package {
        name: h.name.clone(),
        version: h.evr(),
        arch: h.arch.clone(),
        source_package: h
            .source_rpm
            .as_deref()
            .and_then(rpm::source_name)
            .filter(|s| *s != h.name)
            .map(str::to_string),
        license: h.license.clone(),
        source_version: h
            .source_rpm
            .as_deref()
            .and_then(rpm::source_version)
            .filter(|v| *v != format!("{}-{}", h.version, h.release))
            .map(str::to_string),
        source_layer: None,
        db: Db::Rpm,
    }
}

/// rpm's database layer by layer, as [`DbHistory`] reads a text one: a package's layer is the
/// last one after which its header blob differs from what the layer below left (rpm rewrites
/// the file, and often moves records, on every transaction). A layer that leaves the database
/// unreadable is an error naming the layer.
fn rpm_history(c: &Contents, d: &rpm::DbFile) -> Result<Vec<Package>> {
    let path = d.path;
    type Key = (String, String, String);
    let mut prev: BTreeMap<Key, (Package, String)> = BTreeMap::new();
    let mut prev_origins = (None, None);
    let mut changed_at: HashMap<Key, usize> = HashMap::new();
    for (layer, w) in c.watched.iter().enumerate() {
        let origins = (w.get(path), d.wal.and_then(|p| w.get(p)));
        if origins == prev_origins {
            continue;
        }
        prev_origins = origins;
        let mut now = BTreeMap::new();
        if let Some(o) = origins.0 {
            let what = format!("layer {layer}: /{}", String::from_utf8_lossy(path));
            let bytes = c.kept.get(o).ok_or_else(|| {
                crate::error::Error::format(&what, "a hardlink or special file, not read")
            })?;
            let wal_bytes = origins.1.and_then(|o| c.kept.get(o)).map(Vec::as_slice);
            for r in rpm::read(d.backend, bytes, wal_bytes, &what, false)? {
                let p = rpm_package(&r.header);
                now.insert(
                    (p.name.clone(), p.arch.clone(), p.version.clone()),
                    (p, r.blob_sha256),
                );
            }
        }
        for (k, (_, blob)) in &now {
            if prev.get(k).map(|(_, b)| b) != Some(blob) {
                changed_at.insert(k.clone(), layer);
            }
        }
        prev = now;
    }
    Ok(prev
        .into_iter()
        .map(|(k, (mut p, _))| {
            p.source_layer = changed_at.get(&k).copied();
            p
        })
        .collect())
}

/// One whole-file database (dpkg `status`, apk `installed`) layer by layer: each package's
/// layer is the last one after which its record differs from what the layer below left.
struct DbHistory<'a> {
    c: &'a Contents,
    path: &'a [u8],
    kind: Db,
    /// Parsed once per version of the file.
    parsed: HashMap<&'a Origin, Records>,
}

impl<'a> DbHistory<'a> {
    fn new(c: &'a Contents, path: &'a [u8], kind: Db) -> Self {
        DbHistory {
            c,
            path,
            kind,
            parsed: HashMap::new(),
        }
    }

    /// The packages the file lists after the last layer, each with its layer.
    fn packages(mut self, warnings: &mut Vec<String>) -> Vec<Package> {
        let mut prev: Records = BTreeMap::new();
        let mut prev_origin: Option<&Origin> = None;
        let mut changed_at: HashMap<(String, String), usize> = HashMap::new();
        for (layer, w) in self.c.watched.iter().enumerate() {
            let o = w.get(self.path);
            if o == prev_origin {
                continue;
            }
            prev_origin = o;
            let now = self.records(layer, o, warnings);
            for (k, (_, stanza)) in &now {
                if prev.get(k).map(|(_, s)| s) != Some(stanza) {
                    changed_at.insert(k.clone(), layer);
                }
            }
            prev = now;
        }
        prev.into_iter()
            .map(|(k, (mut p, _))| {
                p.source_layer = changed_at.get(&k).copied();
                p
            })
            .collect()
    }

    /// The records of the file as `layer` leaves it (`o`, its visible version; none: gone).
    fn records(
        &mut self,
        layer: usize,
        o: Option<&'a Origin>,
        warnings: &mut Vec<String>,
    ) -> Records {
        let Some(o) = o else {
            return BTreeMap::new();
        };
        let Some(bytes) = self.c.kept.get(o) else {
            warnings.push(format!(
                "{}: layer {layer} has it as a hardlink or special file; not read",
                String::from_utf8_lossy(self.path)
            ));
            return BTreeMap::new();
        };
        let kind = self.kind;
        self.parsed
            .entry(o)
            .or_insert_with(|| {
                kind.parse(bytes)
                    .into_iter()
                    .map(|(p, s)| ((p.name.clone(), p.arch.clone()), (p, s)))
                    .collect()
            })
            .clone()
    }
}

/// distroless: one file per package under `status.d`, whose layer is the one that last wrote
/// the file.
fn read_status_d(c: &Contents, db: &mut PackageDb) {
    let dir = DPKG_STATUS_D;
    let mut any_status_d = false;
    for (path, node) in c.view.subtree(dir) {
        if path.as_bytes() == dir || node.kind != crate::layer::entry::Kind::File {
            continue;
        }
        let name = &path[dir.len() + 1..];
        if name.contains(&b'/') || name.ends_with(b".md5sums") {
            continue;
        }
        any_status_d = true;
        match c.kept.get(&node.origin(path)) {
            Some(bytes) => {
                for (mut p, _) in parse_dpkg(bytes, Db::DpkgStatusD) {
                    p.source_layer = Some(node.layer());
                    db.packages.push(p);
                }
            }
            None => db.warnings.push(format!(
                "{}: not read (a hardlink to a file outside status.d)",
                String::from_utf8_lossy(path)
            )),
        }
    }
    if any_status_d {
        db.databases
            .push(format!("{}/", String::from_utf8_lossy(DPKG_STATUS_D)));
    }
}

/// Splits a deb822-style file into stanzas of (lowercased field, value) pairs, with each
/// stanza's text. Continuation lines belong to the field above and are not kept.
fn stanzas(text: &str) -> Vec<(Vec<(String, String)>, String)> {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut raw = String::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if !fields.is_empty() {
                out.push((std::mem::take(&mut fields), std::mem::take(&mut raw)));
            }
            raw.clear();
            continue;
        }
        raw.push_str(line);
        raw.push('\n');
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    out
}

/// dpkg `status` (or one `status.d` file): the installed packages, with each one's stanza.
/// A package counts when its `Status` state is neither `not-installed` nor `config-files`
/// (what `dpkg-query -W` calls installed); distroless stanzas have no `Status` at all.
pub fn parse_dpkg(bytes: &[u8], db: Db) -> Vec<(Package, String)> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for (f, raw) in stanzas(&text) {
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let (Some(name), Some(version)) = (get("package"), get("version")) else {
            continue;
        };
        if let Some(st) = get("status") {
            let state = st.split_whitespace().nth(2).unwrap_or("");
            if state == "not-installed" || state == "config-files" {
                continue;
            }
        }
        // `Source: name (version)` names the source package, with its version when it differs.
        let source = get("source")
            .and_then(|s| s.split_whitespace().next())
            .filter(|s| *s != name)
            .map(str::to_string);
        let source_version = get("source")
            .and_then(|s| s.split_once('('))
            .and_then(|(_, v)| v.split_once(')'))
            .map(|(v, _)| v.trim().to_string())
            .filter(|v| !v.is_empty() && v != version);
        out.push((
            Package {
                name: name.to_string(),
                version: version.to_string(),
                arch: get("architecture").unwrap_or("").to_string(),
                source_package: source,
                license: None,
                source_version,
                source_layer: None,
                db,
            },
            raw,
        ));
    }
    out
}

/// Takes a deb822-style file (dpkg `status`) as it is written to it and hands `each` one
/// stanza at a time, so that a large file is never held whole: at most one stanza. The file
/// is at most `MAX_PACKAGE_DB` (its callers check), and so is a stanza: `packages` reads one
/// of that size whole too, and no stanza cap of its own makes `check` refuse what `packages`
/// reads. `finish` hands over the last.
pub struct Stanzas<F: FnMut(&[u8])> {
    each: F,
    /// The stanza so far, then the start of a line not ended yet (from `line`).
    buf: Vec<u8>,
    line: usize,
}

impl<F: FnMut(&[u8])> Stanzas<F> {
    pub fn new(each: F) -> Self {
        Stanzas {
            each,
            buf: Vec::new(),
            line: 0,
        }
    }

    /// Hands over the last stanza.
    pub fn finish(mut self) {
        if !self.buf.is_empty() {
            (self.each)(&self.buf);
        }
    }
}

impl<F: FnMut(&[u8])> std::io::Write for Stanzas<F> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        // Only the new bytes are searched: a long line written in pieces is scanned once.
        let mut from = self.buf.len();
        self.buf.extend_from_slice(data);
        // A blank line (as `str::trim` sees it, like `stanzas`) ends a stanza.
        while let Some(n) = self.buf[from..].iter().position(|&b| b == b'\n') {
            let end = from + n + 1;
            let blank = String::from_utf8_lossy(&self.buf[self.line..end])
                .trim()
                .is_empty();
            if blank {
                (self.each)(&self.buf[..end]);
                self.buf.drain(..end);
                (self.line, from) = (0, 0);
            } else {
                (self.line, from) = (end, end);
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// apk `installed`: `P:` name, `V:` version, `A:` arch, `o:` origin; stanzas end at a blank
/// line. Field letters are case-sensitive, so the generic parser is not used.
pub fn parse_apk(bytes: &[u8]) -> Vec<(Package, String)> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut cur: HashMap<char, String> = HashMap::new();
    let mut raw = String::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.is_empty() {
            if let (Some(n), Some(v)) = (cur.get(&'P'), cur.get(&'V')) {
                out.push((
                    Package {
                        name: n.clone(),
                        version: v.clone(),
                        arch: cur.get(&'A').cloned().unwrap_or_default(),
                        source_package: cur.get(&'o').filter(|o| *o != n).cloned(),
                        license: cur.get(&'L').cloned(),
                        source_version: None,
                        source_layer: None,
                        db: Db::Apk,
                    },
                    std::mem::take(&mut raw),
                ));
            }
            cur.clear();
            raw.clear();
            continue;
        }
        raw.push_str(line);
        raw.push('\n');
        let mut cs = line.chars();
        if let (Some(k), Some(':')) = (cs.next(), cs.next()) {
            // Only the first of each field counts (`F:`/`R:` repeat per file).
            cur.entry(k).or_insert_with(|| cs.as_str().to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libc_family_from_package_names() {
        let p = |n: &str| Package {
            name: n.into(),
            version: "1".into(),
            arch: String::new(),
            source_package: None,
            license: None,
            source_version: None,
            source_layer: None,
            db: Db::Dpkg,
        };
        let table: [(&[&str], Option<&str>); 5] = [
            (&[], None),
            (&["bash", "zlib1g"], None),
            (&["musl"], Some("musl")),
            (&["musl", "libc6"], Some("glibc")),
            (&["libc6", "musl"], Some("glibc")),
        ];
        for (names, want) in table {
            let pkgs: Vec<Package> = names.iter().map(|n| p(n)).collect();
            assert_eq!(libc_among(&pkgs), want, "{names:?}");
        }
    }

    fn name_version_source(p: &[(Package, String)]) -> Vec<(&str, &str, Option<&str>)> {
        p.iter()
            .map(|(p, _)| {
                (
                    p.name.as_str(),
                    p.version.as_str(),
                    p.source_package.as_deref(),
                )
            })
            .collect()
    }

    #[test]
    fn stanzas_streamed_in_pieces_parse_as_the_whole_file() {
        use std::io::Write;
        let text = "Package: a\nVersion: 1\n\n  \nPackage: b\nVersion: 2\nDescription: x\n y\n\r\n\nPackage: c\nVersion: 3";
        let whole: Vec<String> = parse_dpkg(text.as_bytes(), Db::Dpkg)
            .into_iter()
            .map(|(p, raw)| format!("{} {} {raw:?}", p.name, p.version))
            .collect();
        assert_eq!(whole.len(), 3);
        for piece in [1, 2, 3, 7, 100] {
            let mut got = Vec::new();
            let mut s = Stanzas::new(|st: &[u8]| {
                got.extend(
                    parse_dpkg(st, Db::Dpkg)
                        .into_iter()
                        .map(|(p, raw)| format!("{} {} {raw:?}", p.name, p.version)),
                )
            });
            for c in text.as_bytes().chunks(piece) {
                s.write_all(c).unwrap();
            }
            s.finish();
            assert_eq!(got, whole, "pieces of {piece}");
        }
    }

    /// Regression: a stanza past `MAX_SYSTEM_FILE` (16 MiB) was an error in `check` ("a
    /// stanza without its end", naming no file) while `packages` read the same status fine.
    /// A stanza is bounded by its file (`MAX_PACKAGE_DB`), and a long line written in small
    /// pieces is scanned once.
    #[test]
    fn one_long_stanza_in_small_pieces_is_one_stanza() {
        use std::io::Write;
        let text = format!(
            "Package: big\nVersion: 1\nDescription: {}\n\nPackage: b\nVersion: 2\n",
            "x".repeat(18 << 20)
        );
        let mut got = Vec::new();
        let mut s = Stanzas::new(|st: &[u8]| {
            got.extend(parse_dpkg(st, Db::Dpkg).into_iter().map(|(p, _)| p.name));
        });
        for c in text.as_bytes().chunks(4096) {
            s.write_all(c).unwrap();
        }
        s.finish();
        assert_eq!(got, ["big", "b"]);
    }

    #[test]
    fn dpkg_status_keeps_installed_and_source() {
        let s = b"Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\nDescription: x\n more\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n";
        let p = parse_dpkg(s, Db::Dpkg);
        assert_eq!(
            name_version_source(&p),
            [
                ("libssl3", "3.0.11-1~deb12u2", Some("openssl")),
                ("libc6", "2.36-9", None)
            ]
        );
    }

    #[test]
    fn apk_installed_fields() {
        let s = b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\no:musl\nF:lib\nR:libc.musl-x86_64.so.1\n\nP:libcrypto3\nV:3.1.4-r1\nA:x86_64\no:openssl\n";
        let p = parse_apk(s);
        assert_eq!(
            name_version_source(&p),
            [
                ("musl", "1.2.4-r2", None),
                ("libcrypto3", "3.1.4-r1", Some("openssl"))
            ]
        );
    }
}
