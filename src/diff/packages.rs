//! The packages two images' databases list: added, removed, and changed in version, ordered
//! by the ecosystem's own version order.

use crate::packages::{Db, Package, PackageDb};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Serialize)]
pub struct VersionChange {
    pub name: String,
    pub arch: String,
    pub db: Db,
    pub old_version: String,
    pub new_version: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PackageChanges {
    pub added: Vec<Package>,
    pub removed: Vec<Package>,
    pub upgraded: Vec<VersionChange>,
    pub downgraded: Vec<VersionChange>,
    /// Same name, different ecosystems (dpkg in one image, apk in the other): no order.
    pub unknown_order: Vec<VersionChange>,
}

pub fn package_changes(old: &PackageDb, new: &PackageDb) -> PackageChanges {
    let key = |p: &Package| (p.name.clone(), p.arch.clone());
    let o: BTreeMap<_, &Package> = old.packages.iter().map(|p| (key(p), p)).collect();
    let n: BTreeMap<_, &Package> = new.packages.iter().map(|p| (key(p), p)).collect();
    let mut out = PackageChanges::default();
    for (k, p) in &o {
        let Some(q) = n.get(k) else {
            out.removed.push((*p).clone());
            continue;
        };
        if p.version == q.version {
            continue;
        }
        let c = VersionChange {
            name: p.name.clone(),
            arch: p.arch.clone(),
            db: q.db,
            old_version: p.version.clone(),
            new_version: q.version.clone(),
        };
        if !p.db.same_ecosystem(q.db) {
            out.unknown_order.push(c);
            continue;
        }
        match q.db.compare(&p.version, &q.version) {
            Ordering::Less => out.upgraded.push(c),
            Ordering::Greater => out.downgraded.push(c),
            // Equal in order, different in spelling (1.0 and 1.0-0): not a change worth a line.
            Ordering::Equal => {}
        }
    }
    for (k, q) in &n {
        if !o.contains_key(k) {
            out.added.push((*q).clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_changes_by_version_order() {
        let p = |n: &str, v: &str| Package {
            name: n.into(),
            version: v.into(),
            arch: "amd64".into(),
            source_package: None,
            license: None,
            source_version: None,
            source_layer: Some(0),
            db: Db::Dpkg,
        };
        let old = PackageDb {
            packages: vec![
                p("a", "1.0-1"),
                p("b", "2:1.0"),
                p("c", "1"),
                p("d", "1.0~rc1"),
            ],
            ..Default::default()
        };
        let new = PackageDb {
            packages: vec![p("a", "1.0-2"), p("b", "1:9.0"), p("d", "1.0"), p("e", "1")],
            ..Default::default()
        };
        let c = package_changes(&old, &new);
        let names = |v: &[VersionChange]| v.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&c.upgraded), ["a", "d"]);
        assert_eq!(names(&c.downgraded), ["b"]);
        assert_eq!(c.removed[0].name, "c");
        assert_eq!(c.added[0].name, "e");
    }
}
