//! Shadowed OS packages: application entries, whiteouts and opaque markers over files the
//! base's package manager owns. Ownership comes from dpkg (`info/*.list` with `status`),
//! distroless dpkg (`status.d/NAME` with `status.d/NAME.md5sums`) and apk
//! (`lib/apk/db/installed`, `F:`/`R:` lines) and rpm's sqlite database (each header's file
//! list); records and version order from [`crate::packages`]. One finding per base package: an error when
//! the application carries an older version of that package (its own database says so), a
//! warning otherwise.

use super::{Finding, Severity};
use crate::error::Result;
use crate::layer::entry::{Kind, Shape};
use crate::model::limits::{MAX_PACKAGE_DB, MAX_SYSTEM_FILE};
use crate::packages::{self, Db};
use crate::view::MergedView;
use crate::view::fs::{AppEntry, AppOp, BaseIndex, Fs};
use std::collections::{BTreeMap, HashMap};

const INFO: &[u8] = b"var/lib/dpkg/info/";
const STATUS_D: &[u8] = b"var/lib/dpkg/status.d/";

/// The package a dpkg `info/` file belongs to: `libzstd1:amd64.list` -> `libzstd1`.
pub fn info_package(file: &[u8]) -> Option<String> {
    let name = file.strip_prefix(INFO)?;
    if name.contains(&b'/') {
        return None;
    }
    let s = String::from_utf8_lossy(name);
    // The suffix is the last dot's: package names may hold dots (`libapt-pkg6.0`).
    let stem = s.rsplit_once('.')?.0;
    let pkg = stem.split(':').next()?;
    (!pkg.is_empty()).then(|| pkg.to_string())
}

/// A package database as seen in one view: versions, and which package owns which path.
#[derive(Default)]
pub struct Owned {
    pub db: Option<Db>,
    pub versions: HashMap<String, String>,
    /// Canonical path (resolved through the view's symlinks) -> package.
    pub owner: HashMap<Vec<u8>, String>,
}

fn canon(view: &MergedView, p: &str) -> Vec<u8> {
    let p = p.trim_start_matches("./").trim_start_matches('/');
    view.resolve_parent(p.as_bytes())
        .unwrap_or_else(|_| p.as_bytes().to_vec())
}

/// Reads the package database of `view` (the base's, or the result's), only from nodes whose
/// layer passes `from`.
pub fn read_db(fs: &Fs, view: &MergedView, from: &dyn Fn(usize) -> bool) -> Result<Owned> {
    let r = DbReader { fs, view, from };
    let mut o = Owned::default();
    r.dpkg(&mut o)?;
    r.status_d(&mut o)?;
    r.apk(&mut o)?;
    r.rpm(&mut o)?;
    Ok(o)
}

/// The base's package database, for `Fs::set_owned_paths`: the application entries are
/// recorded by the paths it lists, and `shadowed` takes it back instead of reading it again.
pub fn owned_paths(fs: &Fs) -> Result<Box<dyn BaseIndex>> {
    Ok(Box::new(read_db(fs, &fs.base, &|_| true)?))
}

impl BaseIndex for Owned {
    fn lists(&self, path: &[u8]) -> bool {
        self.owner.contains_key(path)
    }
}

/// Reads one view's package database files.
struct DbReader<'a> {
    fs: &'a Fs,
    view: &'a MergedView,
    from: &'a dyn Fn(usize) -> bool,
}

impl DbReader<'_> {
    /// The bytes of the package database file at `p`, when it comes from a layer that counts.
    fn data(&self, p: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.view.get(p) {
            Some(n) if n.kind == Kind::File && (self.from)(n.layer()) => {
                self.fs.data_within(n, p, MAX_PACKAGE_DB)
            }
            _ => Ok(None),
        }
    }

    /// dpkg: `status` (streamed a stanza at a time: it can be large), and each package's
    /// files in `info/PACKAGE.list`.
    fn dpkg(&self, o: &mut Owned) -> Result<()> {
        let p = b"var/lib/dpkg/status";
        let Some(n) = self.view.get(&p[..]) else {
            return Ok(());
        };
        if n.kind != Kind::File || !(self.from)(n.layer()) {
            return Ok(());
        }
        self.fs.within(n, p, MAX_PACKAGE_DB)?;
        let versions = &mut o.versions;
        let mut stanzas = packages::Stanzas::new(|s: &[u8]| {
            for (p, _) in packages::parse_dpkg(s, Db::Dpkg) {
                versions.insert(p.name, p.version);
            }
        });
        if !self.fs.stream(n, &mut stanzas)? {
            return Ok(());
        }
        stanzas.finish();
        o.db = Some(Db::Dpkg);
        for (k, n) in self.view.subtree(b"var/lib/dpkg/info") {
            if !k.ends_with(b".list") || n.kind != Kind::File || !(self.from)(n.layer()) {
                continue;
            }
            let Some(pkg) = info_package(k) else {
                continue;
            };
            let Some(b) = self.fs.data_within(n, k, MAX_SYSTEM_FILE)? else {
                continue;
            };
            for line in String::from_utf8_lossy(&b).lines() {
                if line.is_empty() || line == "/." {
                    continue;
                }
                o.owner.insert(canon(self.view, line), pkg.clone());
            }
        }
        Ok(())
    }

    /// Distroless dpkg: `status.d/NAME` records and `status.d/NAME.md5sums` file lists.
    fn status_d(&self, o: &mut Owned) -> Result<()> {
        for (k, n) in self.view.subtree(b"var/lib/dpkg/status.d") {
            let Some(name) = k.strip_prefix(STATUS_D) else {
                continue;
            };
            if n.kind != Kind::File || !(self.from)(n.layer()) || name.contains(&b'/') {
                continue;
            }
            let Some(b) = self.fs.data_within(n, k, MAX_SYSTEM_FILE)? else {
                continue;
            };
            if let Some(pkg) = name.strip_suffix(b".md5sums") {
                let pkg = String::from_utf8_lossy(pkg).into_owned();
                for line in String::from_utf8_lossy(&b).lines() {
                    if let Some((_, path)) = line.split_once(char::is_whitespace) {
                        o.owner.insert(canon(self.view, path.trim()), pkg.clone());
                    }
                }
            } else {
                o.db.get_or_insert(Db::DpkgStatusD);
                for (p, _) in packages::parse_dpkg(&b, Db::DpkgStatusD) {
                    o.versions.insert(p.name, p.version);
                }
            }
        }
        Ok(())
    }

    /// apk: `installed`, `P:` a package, `F:` a directory, `R:` a file in it.
    fn apk(&self, o: &mut Owned) -> Result<()> {
        let Some(b) = self.data(b"lib/apk/db/installed")? else {
            return Ok(());
        };
        o.db.get_or_insert(Db::Apk);
        for (p, _) in packages::parse_apk(&b) {
            o.versions.insert(p.name, p.version);
        }
        let text = String::from_utf8_lossy(&b);
        let (mut pkg, mut dir) = (String::new(), String::new());
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("P:") {
                pkg = v.to_string();
            } else if let Some(v) = line.strip_prefix("F:") {
                dir = v.to_string();
            } else if let Some(v) = line.strip_prefix("R:") {
                let p = if dir.is_empty() {
                    v.to_string()
                } else {
                    format!("{dir}/{v}")
                };
                o.owner.insert(canon(self.view, &p), pkg.clone());
            }
        }
        Ok(())
    }
}

impl DbReader<'_> {
    /// rpm: the database rpm reads (sqlite with its `-wal`, ndb or Berkeley DB, the first
    /// found as `packages` finds it), each header's name, EVR and files.
    fn rpm(&self, o: &mut Owned) -> Result<()> {
        for d in packages::rpm::DBS {
            let Some(b) = self.data(d.path)? else {
                continue;
            };
            let w = match d.wal {
                Some(p) => self.data(p)?,
                None => None,
            };
            let what = format!("/{}", String::from_utf8_lossy(d.path));
            o.db.get_or_insert(Db::Rpm);
            for r in packages::rpm::read(d.backend, &b, w.as_deref(), &what, true)? {
                for f in &r.header.files {
                    o.owner.insert(canon(self.view, f), r.header.name.clone());
                }
                o.versions.insert(r.header.name.clone(), r.header.evr());
            }
            return Ok(());
        }
        Ok(())
    }
}

fn is_db_path(p: &[u8]) -> bool {
    p.starts_with(b"var/lib/dpkg/")
        || p.starts_with(b"lib/apk/db/")
        || p.starts_with(b"var/lib/rpm/")
        || p.starts_with(b"usr/lib/sysimage/rpm/")
}

/// The base's files one package loses to the application.
#[derive(Default)]
struct Hits {
    replaced: Vec<String>,
    deleted: Vec<String>,
}

/// One finding per base package whose files the application replaces or deletes.
pub fn shadowed(fs: &Fs, app: &[&AppEntry]) -> Result<Vec<Finding>> {
    let boundary = fs.boundary;
    let kept = fs
        .base_index()
        .and_then(|b| (b as &dyn std::any::Any).downcast_ref::<Owned>());
    let read;
    let base = match kept {
        Some(o) => o,
        None => {
            read = read_db(fs, &fs.base, &|_| true)?;
            &read
        }
    };
    if base.db.is_none() || base.owner.is_empty() {
        return Ok(Vec::new());
    }
    // The application's own database: the result's, where an application layer wrote it.
    let vendor = read_db(fs, &fs.result, &|l| l >= boundary)?;
    let db = base.db.unwrap_or(Db::Dpkg);
    Ok(hits(fs, base, app)
        .into_iter()
        .map(|(pkg, h)| finding(db, &pkg, h, base, &vendor))
        .collect())
}

/// The base's owned files each application entry replaces (a file, link or symlink over it)
/// or deletes (a whiteout of it or a parent, an opaque marker of a parent), by package.
fn hits(fs: &Fs, base: &Owned, app: &[&AppEntry]) -> BTreeMap<String, Hits> {
    let mut hits: BTreeMap<String, Hits> = BTreeMap::new();
    for e in app {
        if is_db_path(&e.path) {
            continue;
        }
        let at = fs
            .base
            .resolve_parent(&e.path)
            .unwrap_or_else(|_| e.path.to_vec());
        match &e.op {
            AppOp::Put(Shape::Dir) => {}
            AppOp::Put(_) | AppOp::Link => {
                if let Some(p) = base.owner.get(&at) {
                    let h = hits.entry(p.clone()).or_default();
                    h.replaced.push(super::abs(&at));
                }
            }
            AppOp::Whiteout => deleted(&mut hits, fs, base, |k| super::under(k, &at)),
            AppOp::Opaque => deleted(&mut hits, fs, base, |k| {
                k.starts_with(&at) && k.get(at.len()) == Some(&b'/')
            }),
        }
    }
    hits
}

/// Records the base's owned files `inside` picks as deleted.
///
/// A directory counts only through the packaged files in it: deleting one that holds none
/// (apt's `/var/lib/apt/lists/partial` and `/var/cache/apt/archives/partial`, which the
/// `rm -rf /var/lib/apt/lists/*` idiom of every apt-based Dockerfile deletes) removes nothing a
/// package ships. dpkg lists such directories only as places for run-time state; `dpkg
/// --verify` and `apk audit` check files, not directories, and apk's database names no
/// directory as a file.
fn deleted(
    hits: &mut BTreeMap<String, Hits>,
    fs: &Fs,
    base: &Owned,
    inside: impl Fn(&[u8]) -> bool,
) {
    for (k, p) in &base.owner {
        let dir = fs.base.get(k).is_some_and(|n| n.kind == Kind::Dir);
        if inside(k) && !dir {
            hits.entry(p.clone())
                .or_default()
                .deleted
                .push(super::abs(k));
        }
    }
}

/// The finding for one package: an error when the application carries an older version of
/// it, a warning otherwise.
fn finding(db: Db, pkg: &str, mut h: Hits, base: &Owned, vendor: &Owned) -> Finding {
    for v in [&mut h.replaced, &mut h.deleted] {
        v.sort();
        v.dedup();
    }
    let bver = base
        .versions
        .get(pkg)
        .cloned()
        .unwrap_or_else(|| "?".into());
    let first = h
        .replaced
        .first()
        .or(h.deleted.first())
        .cloned()
        .unwrap_or_default();
    let mut what = Vec::new();
    if !h.replaced.is_empty() {
        what.push(format!("replaces {}", some_files(&h.replaced)));
    }
    if !h.deleted.is_empty() {
        what.push(format!("deletes {}", some_files(&h.deleted)));
    }
    let vver = vendor.versions.get(pkg);
    let older = vver.is_some_and(|v| db.compare(v, &bver) == std::cmp::Ordering::Less);
    let (sev, check, needs) = match vver {
        Some(v) if older => (
            Severity::Error,
            "vendor-package-older",
            format!("its own {pkg} {v}, older than the base's {pkg} {bver}"),
        ),
        Some(v) => (
            Severity::Warning,
            "shadowed-package",
            format!("its own {pkg} {v} (the base has {bver})"),
        ),
        None => (
            Severity::Warning,
            "shadowed-package",
            format!("files of the base's package {pkg} {bver}"),
        ),
    };
    Finding::new(
        sev,
        check,
        &first,
        needs,
        format!(
            "the application {} owned by the base's {} package {pkg} {bver}",
            what.join("; "),
            db.name()
        ),
    )
}

/// `N file(s): a, b, c and M more`.
fn some_files(v: &[String]) -> String {
    let mut s = format!("{} file(s): ", v.len());
    s.push_str(&v.iter().take(3).cloned().collect::<Vec<_>>().join(", "));
    if v.len() > 3 {
        s.push_str(&format!(" and {} more", v.len() - 3));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_names() {
        assert_eq!(
            info_package(b"var/lib/dpkg/info/libzstd1:amd64.list").as_deref(),
            Some("libzstd1")
        );
        assert_eq!(
            info_package(b"var/lib/dpkg/info/tree.md5sums").as_deref(),
            Some("tree")
        );
        assert_eq!(
            info_package(b"var/lib/dpkg/info/libapt-pkg6.0:amd64.list").as_deref(),
            Some("libapt-pkg6.0")
        );
        assert_eq!(
            info_package(b"var/lib/dpkg/info/python3.11-minimal.md5sums").as_deref(),
            Some("python3.11-minimal")
        );
        assert_eq!(info_package(b"var/lib/dpkg/info/x/y.list"), None);
        assert_eq!(info_package(b"var/lib/dpkg/status"), None);
    }
}
