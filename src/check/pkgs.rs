//! Shadowed OS packages: application entries, whiteouts and opaque markers over files the
//! base's package manager owns. Ownership comes from dpkg (`info/*.list` with `status`),
//! distroless dpkg (`status.d/NAME` with `status.d/NAME.md5sums`) and apk
//! (`lib/apk/db/installed`, `F:`/`R:` lines); records and version order from
//! [`crate::packages`]. rpm databases are not read. One finding per base package: an error when
//! the application carries an older version of that package (its own database says so), a
//! warning otherwise.

use super::{Finding, Severity};
use crate::error::Result;
use crate::layer::entry::Kind;
use crate::packages::{self, Db};
use crate::view::MergedView;
use crate::view::fs::{AppEntry, AppOp, Fs};
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
    let stem = s.split('.').next()?;
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
    let mut o = Owned::default();
    let data = |p: &[u8]| -> Result<Option<Vec<u8>>> {
        match view.get(p) {
            Some(n) if n.kind == Kind::File && from(n.layer) => fs.data(n),
            _ => Ok(None),
        }
    };
    if let Some(b) = data(b"var/lib/dpkg/status")? {
        o.db = Some(Db::Dpkg);
        for (p, _) in packages::parse_dpkg(&b, Db::Dpkg) {
            o.versions.insert(p.name, p.version);
        }
        for (k, n) in view.subtree(b"var/lib/dpkg/info") {
            if !k.ends_with(b".list") || n.kind != Kind::File || !from(n.layer) {
                continue;
            }
            let (Some(pkg), Some(b)) = (info_package(k), fs.data(n)?) else {
                continue;
            };
            for line in String::from_utf8_lossy(&b).lines() {
                if line.is_empty() || line == "/." {
                    continue;
                }
                o.owner.insert(canon(view, line), pkg.clone());
            }
        }
    }
    for (k, n) in view.subtree(b"var/lib/dpkg/status.d") {
        let Some(name) = k.strip_prefix(STATUS_D) else {
            continue;
        };
        if n.kind != Kind::File || !from(n.layer) || name.contains(&b'/') {
            continue;
        }
        let Some(b) = fs.data(n)? else { continue };
        if let Some(pkg) = name.strip_suffix(b".md5sums") {
            let pkg = String::from_utf8_lossy(pkg).into_owned();
            for line in String::from_utf8_lossy(&b).lines() {
                if let Some((_, path)) = line.split_once(char::is_whitespace) {
                    o.owner.insert(canon(view, path.trim()), pkg.clone());
                }
            }
        } else {
            o.db.get_or_insert(Db::DpkgStatusD);
            for (p, _) in packages::parse_dpkg(&b, Db::DpkgStatusD) {
                o.versions.insert(p.name, p.version);
            }
        }
    }
    if let Some(b) = data(b"lib/apk/db/installed")? {
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
                o.owner.insert(canon(view, &p), pkg.clone());
            }
        }
    }
    Ok(o)
}

fn is_db_path(p: &[u8]) -> bool {
    p.starts_with(b"var/lib/dpkg/")
        || p.starts_with(b"lib/apk/db/")
        || p.starts_with(b"var/lib/rpm/")
}

/// One finding per base package whose files the application replaces or deletes.
pub fn shadowed(fs: &Fs, app: &[AppEntry]) -> Result<Vec<Finding>> {
    let boundary = fs.boundary;
    let base = read_db(fs, &fs.base, &|_| true)?;
    if base.db.is_none() || base.owner.is_empty() {
        return Ok(Vec::new());
    }
    // The application's own database: the result's, where an application layer wrote it.
    let vendor = read_db(fs, &fs.result, &|l| l >= boundary)?;
    // package -> (replaced paths, deleted paths)
    let mut hits: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for e in app {
        if is_db_path(&e.path) {
            continue;
        }
        let at = fs
            .base
            .resolve_parent(&e.path)
            .unwrap_or_else(|_| e.path.clone());
        match &e.op {
            AppOp::Put(Kind::Dir) => {}
            AppOp::Put(_) | AppOp::Link => {
                if let Some(p) = base.owner.get(&at) {
                    hits.entry(p.clone()).or_default().0.push(super::abs(&at));
                }
            }
            AppOp::Whiteout => {
                for (k, p) in &base.owner {
                    if super::under(k, &at) {
                        hits.entry(p.clone()).or_default().1.push(super::abs(k));
                    }
                }
            }
            AppOp::Opaque => {
                for (k, p) in &base.owner {
                    if k.starts_with(&at) && k.get(at.len()) == Some(&b'/') {
                        hits.entry(p.clone()).or_default().1.push(super::abs(k));
                    }
                }
            }
        }
    }
    let db = base.db.unwrap_or(Db::Dpkg);
    let mut out = Vec::new();
    for (pkg, (mut replaced, mut deleted)) in hits {
        replaced.sort();
        replaced.dedup();
        deleted.sort();
        deleted.dedup();
        let bver = base
            .versions
            .get(&pkg)
            .cloned()
            .unwrap_or_else(|| "?".into());
        let vver = vendor.versions.get(&pkg);
        let list = |v: &[String]| {
            let mut s = v.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
            if v.len() > 3 {
                s.push_str(&format!(" and {} more", v.len() - 3));
            }
            s
        };
        let first = replaced
            .first()
            .or(deleted.first())
            .cloned()
            .unwrap_or_default();
        let mut what = Vec::new();
        if !replaced.is_empty() {
            what.push(format!(
                "replaces {} file(s): {}",
                replaced.len(),
                list(&replaced)
            ));
        }
        if !deleted.is_empty() {
            what.push(format!(
                "deletes {} file(s): {}",
                deleted.len(),
                list(&deleted)
            ));
        }
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
        out.push(Finding::new(
            sev,
            check,
            &first,
            needs,
            format!(
                "the application {} owned by the base's {} package {pkg} {bver}",
                what.join("; "),
                db.name()
            ),
        ));
    }
    Ok(out)
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
        assert_eq!(info_package(b"var/lib/dpkg/info/x/y.list"), None);
        assert_eq!(info_package(b"var/lib/dpkg/status"), None);
    }
}
