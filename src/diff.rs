//! `regraft diff OLD NEW`: two images compared from their layers, nothing unpacked to disk.
//! Packages (added, removed, upgraded, downgraded, by each ecosystem's version order), files of
//! the merged filesystems (type, mode, owner, size, content digest, symlink target; mtimes are
//! left out, since any rebuild changes them all), and the config fields that changed. With a
//! scanner report made from OLD it says which findings NEW no longer carries because the
//! package was upgraded past the fixed version or removed, and which remain.

use crate::error::{Error, Result};
use crate::layer::entry::Kind;
use crate::model::image::Image;
use crate::model::reference::ImageRef;
use crate::model::spec::Platform;
use crate::packages::{self, Package, PackageDb};
use crate::source::Source;
use crate::triage::{self, Report, Severity};
use crate::view::Node;
use crate::view::contents::{self, Contents, Wanted};
use serde::Serialize;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

pub const SCHEMA: &str = "regraft.diff/v1";

#[derive(Clone, Debug)]
pub struct DiffPlan {
    pub old: ImageRef,
    pub new: ImageRef,
    /// A Trivy or Grype report made from OLD.
    pub report: Option<PathBuf>,
    pub platform: Option<Platform>,
    pub max_layer_size: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Side {
    pub name: String,
    pub config_digest: String,
    pub layers: usize,
    pub packages: usize,
    pub files: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct VersionChange {
    pub name: String,
    pub arch: String,
    pub db: packages::Db,
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

/// One entry of a merged filesystem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Permission bits in octal, setuid/setgid/sticky included (`0755`, `4755`).
    pub mode: String,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub digest: Option<String>,
    pub link: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FileChange {
    pub path: String,
    /// Which of type, mode, owner, size, digest, link changed.
    pub changed: Vec<&'static str>,
    pub old: FileEntry,
    pub new: FileEntry,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FileChanges {
    pub added: Vec<FileEntry>,
    pub removed: Vec<FileEntry>,
    pub changed: Vec<FileChange>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConfigChange {
    /// `architecture`, `config.Entrypoint`, `config.Env.PATH`, `config.Labels.KEY`, ...
    pub field: String,
    pub old: Value,
    pub new: Value,
}

#[derive(Clone, Debug, Serialize)]
pub struct FindingOutcome {
    pub id: String,
    pub package: String,
    pub installed_version: String,
    pub fixed_versions: Vec<String>,
    pub severity: Severity,
    /// The package's version in NEW; None when NEW does not have it.
    pub new_version: Option<String>,
    pub reason: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FindingChanges {
    pub report: String,
    /// NEW carries the package at or past every fixed version.
    pub fixed: Vec<FindingOutcome>,
    /// NEW no longer has the package.
    pub removed: Vec<FindingOutcome>,
    pub remaining: Vec<FindingOutcome>,
    /// regraft cannot tell: no version order for the ecosystem, a fix on several branches, or
    /// a language package in a layer NEW does not share.
    pub unknown: Vec<FindingOutcome>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ImageDiff {
    pub schema: &'static str,
    pub old: Side,
    pub new: Side,
    pub packages: PackageChanges,
    pub files: FileChanges,
    pub config: Vec<ConfigChange>,
    pub findings: Option<FindingChanges>,
    pub warnings: Vec<String>,
}

fn read_side(img: &Image, max: u64) -> Result<(Contents, PackageDb)> {
    let c = contents::read(
        img,
        max,
        &Wanted {
            hash: true,
            keep: &packages::wanted_paths,
            keep_max: packages::MAX_DB_SIZE,
            probe_elf: &|_| false,
            watch: packages::WATCH,
        },
    )?;
    let db = packages::from_contents(&c);
    Ok((c, db))
}

pub fn diff(plan: &DiffPlan) -> Result<ImageDiff> {
    let old = Source::open(&plan.old)?.image(plan.platform.as_ref())?;
    let platform = plan
        .platform
        .clone()
        .unwrap_or_else(|| old.view.platform.clone());
    let new = Source::open(&plan.new)?.image(Some(&platform))?;
    let mut warnings = Vec::new();
    for img in [&old, &new] {
        for w in &img.warnings {
            warnings.push(format!("{}: {w}", img.name));
        }
    }
    // Read the report first: a report of another image should fail before minutes of reading.
    let rep = match &plan.report {
        Some(p) => {
            let r = triage::parse::read(p)?;
            triage::check_belongs(&r, &old, &mut warnings)?;
            Some((p.display().to_string(), r))
        }
        None => None,
    };
    let (oc, odb) = read_side(&old, plan.max_layer_size)?;
    let (nc, ndb) = read_side(&new, plan.max_layer_size)?;
    for (img, db) in [(&old, &odb), (&new, &ndb)] {
        for w in &db.warnings {
            warnings.push(format!("{}: {w}", img.name));
        }
    }
    let side = |img: &Image, c: &Contents, db: &PackageDb| Side {
        name: img.name.clone(),
        config_digest: img.config_desc.digest.to_string(),
        layers: img.layers.len(),
        packages: db.packages.len(),
        files: c.view.nodes.len(),
    };
    let findings = rep.map(|(f, r)| findings(&f, &r, &ndb, &new));
    Ok(ImageDiff {
        schema: SCHEMA,
        old: side(&old, &oc, &odb),
        new: side(&new, &nc, &ndb),
        packages: package_changes(&odb, &ndb),
        files: file_changes(&oc, &nc),
        config: config_changes(&old.config, &new.config),
        findings,
        warnings,
    })
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
        let same_family = matches!(
            (p.db, q.db),
            (
                packages::Db::Dpkg | packages::Db::DpkgStatusD,
                packages::Db::Dpkg | packages::Db::DpkgStatusD
            ) | (packages::Db::Apk, packages::Db::Apk)
        );
        if !same_family {
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

fn entry(path: &[u8], n: &Node, c: &Contents) -> FileEntry {
    FileEntry {
        path: format!("/{}", String::from_utf8_lossy(path)),
        kind: match n.kind {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink(_) => "symlink",
            Kind::Char => "char",
            Kind::Block => "block",
            Kind::Fifo => "fifo",
        },
        mode: format!("{:04o}", n.meta.mode & 0o7777),
        uid: n.meta.uid,
        gid: n.meta.gid,
        size: if n.kind == Kind::File { n.size } else { 0 },
        digest: if n.kind == Kind::File {
            c.digests.get(&n.origin).map(|d| d.to_string())
        } else {
            None
        },
        link: match &n.kind {
            Kind::Symlink(t) => Some(String::from_utf8_lossy(t).into_owned()),
            _ => None,
        },
    }
}

pub fn file_changes(old: &Contents, new: &Contents) -> FileChanges {
    let mut out = FileChanges::default();
    for (p, n) in &old.view.nodes {
        let a = entry(p, n, old);
        match new.view.nodes.get(p) {
            None => out.removed.push(a),
            Some(m) => {
                let b = entry(p, m, new);
                let mut changed = Vec::new();
                if a.kind != b.kind {
                    changed.push("type");
                }
                if a.mode != b.mode {
                    changed.push("mode");
                }
                if (a.uid, a.gid) != (b.uid, b.gid) {
                    changed.push("owner");
                }
                if a.size != b.size {
                    changed.push("size");
                }
                if a.digest != b.digest {
                    changed.push("digest");
                }
                if a.link != b.link {
                    changed.push("link");
                }
                if !changed.is_empty() {
                    out.changed.push(FileChange {
                        path: a.path.clone(),
                        changed,
                        old: a,
                        new: b,
                    });
                }
            }
        }
    }
    for (p, m) in &new.view.nodes {
        if !old.view.nodes.contains_key(p) {
            out.added.push(entry(p, m, new));
        }
    }
    out
}

/// `Env` as name -> value (a name without `=` maps to Null).
fn env_map(v: Option<&Value>) -> BTreeMap<String, Value> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), Value::String(v.to_string())),
            None => (e.to_string(), Value::Null),
        })
        .collect()
}

fn obj_map(v: Option<&Value>) -> BTreeMap<String, Value> {
    v.and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn compare_maps(
    prefix: &str,
    a: &BTreeMap<String, Value>,
    b: &BTreeMap<String, Value>,
    out: &mut Vec<ConfigChange>,
) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        if x != y {
            out.push(ConfigChange {
                field: format!("{prefix}{k}"),
                old: x.cloned().unwrap_or(Value::Null),
                new: y.cloned().unwrap_or(Value::Null),
            });
        }
    }
}

/// The config fields that differ; `Env` and `Labels` compared per variable and label.
pub fn config_changes(old: &Value, new: &Value) -> Vec<ConfigChange> {
    let mut out = Vec::new();
    let mut top_a = obj_map(Some(old));
    let mut top_b = obj_map(Some(new));
    let ca = top_a.remove("config");
    let cb = top_b.remove("config");
    let (ra, rb) = (top_a.remove("rootfs"), top_b.remove("rootfs"));
    compare_maps("", &top_a, &top_b, &mut out);
    compare_maps(
        "rootfs.",
        &obj_map(ra.as_ref()),
        &obj_map(rb.as_ref()),
        &mut out,
    );
    let mut a = obj_map(ca.as_ref());
    let mut b = obj_map(cb.as_ref());
    let (ea, eb) = (a.remove("Env"), b.remove("Env"));
    let (la, lb) = (a.remove("Labels"), b.remove("Labels"));
    compare_maps("config.", &a, &b, &mut out);
    compare_maps(
        "config.Env.",
        &env_map(ea.as_ref()),
        &env_map(eb.as_ref()),
        &mut out,
    );
    compare_maps(
        "config.Labels.",
        &obj_map(la.as_ref()),
        &obj_map(lb.as_ref()),
        &mut out,
    );
    out
}

fn findings(file: &str, r: &Report, new_db: &PackageDb, new: &Image) -> FindingChanges {
    let mut out = FindingChanges {
        report: file.to_string(),
        ..Default::default()
    };
    let mut seen = BTreeSet::new();
    for f in &r.findings {
        if !seen.insert((f.id.clone(), f.package.clone(), f.installed.clone())) {
            continue;
        }
        let mut o = FindingOutcome {
            id: f.id.clone(),
            package: f.package.clone(),
            installed_version: f.installed.clone(),
            fixed_versions: f.fixed.clone(),
            severity: f.severity,
            new_version: None,
            reason: String::new(),
        };
        if !f.os_package {
            let shared = f
                .layer
                .diff_id
                .as_ref()
                .is_some_and(|d| new.view.diff_ids.contains(d));
            if shared {
                o.reason = "not an OS package; its layer is in NEW unchanged".into();
                out.remaining.push(o);
            } else {
                o.reason = format!(
                    "a {} package, which regraft does not track; rescan NEW",
                    if f.pkg_type.is_empty() {
                        "language"
                    } else {
                        &f.pkg_type
                    }
                );
                out.unknown.push(o);
            }
            continue;
        }
        let Some(p) = new_db.find(&f.package, None) else {
            o.reason = "NEW does not have the package".into();
            out.removed.push(o);
            continue;
        };
        o.new_version = Some(p.version.clone());
        if p.version == f.installed {
            o.reason = "NEW has the same version".into();
            out.remaining.push(o);
            continue;
        }
        if f.fixed.is_empty() {
            o.reason = format!(
                "no fixed version is known; NEW has {} instead of {}",
                p.version, f.installed
            );
            out.unknown.push(o);
            continue;
        }
        let at_or_past = f
            .fixed
            .iter()
            .filter(|v| p.db.compare(&p.version, v) != Ordering::Less)
            .count();
        if at_or_past == f.fixed.len() {
            o.reason = format!("{} is at or past {}", p.version, f.fixed.join(", "));
            out.fixed.push(o);
        } else if at_or_past == 0 {
            o.reason = format!("{} is older than {}", p.version, f.fixed.join(", "));
            out.remaining.push(o);
        } else {
            o.reason = format!(
                "{} is past some of the fixed versions {} (fixes on several branches; which branch NEW follows is not known)",
                p.version,
                f.fixed.join(", ")
            );
            out.unknown.push(o);
        }
    }
    out
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::Null => "(none)".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.len() > 4 => format!("[{} entries]", a.len()),
        other => other.to_string(),
    };
    if s.chars().count() > 100 {
        format!("{}...", s.chars().take(100).collect::<String>())
    } else {
        s
    }
}

impl ImageDiff {
    pub fn json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::Invalid(format!("serialising the diff: {e}")))
    }

    pub fn text(&self) -> String {
        let z = crate::text::sanitize;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "old: {} ({} layers, {} packages, {} paths)\nnew: {} ({} layers, {} packages, {} paths)",
            z(&self.old.name),
            self.old.layers,
            self.old.packages,
            self.old.files,
            z(&self.new.name),
            self.new.layers,
            self.new.packages,
            self.new.files
        );
        let p = &self.packages;
        let _ = writeln!(
            o,
            "\nPackages: {} upgraded, {} downgraded, {} added, {} removed{}",
            p.upgraded.len(),
            p.downgraded.len(),
            p.added.len(),
            p.removed.len(),
            if p.unknown_order.is_empty() {
                String::new()
            } else {
                format!(", {} of unknown order", p.unknown_order.len())
            }
        );
        for (tag, list) in [
            ("upgraded", &p.upgraded),
            ("downgraded", &p.downgraded),
            ("?", &p.unknown_order),
        ] {
            for c in list {
                let _ = writeln!(
                    o,
                    "  {tag:<10} {} {} -> {}",
                    z(&c.name),
                    z(&c.old_version),
                    z(&c.new_version)
                );
            }
        }
        for (tag, list) in [("added", &p.added), ("removed", &p.removed)] {
            for q in list {
                let _ = writeln!(o, "  {tag:<10} {} {}", z(&q.name), z(&q.version));
            }
        }
        let f = &self.files;
        let _ = writeln!(
            o,
            "\nFiles: {} changed, {} added, {} removed (first 20 of each; --json lists all)",
            f.changed.len(),
            f.added.len(),
            f.removed.len()
        );
        for c in f.changed.iter().take(20) {
            let _ = writeln!(o, "  changed  {} ({})", z(&c.path), c.changed.join(", "));
        }
        for e in f.added.iter().take(20) {
            let _ = writeln!(o, "  added    {} ({})", z(&e.path), e.kind);
        }
        for e in f.removed.iter().take(20) {
            let _ = writeln!(o, "  removed  {} ({})", z(&e.path), e.kind);
        }
        let _ = writeln!(o, "\nConfig: {} field(s) changed", self.config.len());
        for c in &self.config {
            let _ = writeln!(
                o,
                "  {}: {} -> {}",
                z(&c.field),
                z(&short(&c.old)),
                z(&short(&c.new))
            );
        }
        if let Some(fc) = &self.findings {
            let _ = writeln!(
                o,
                "\nFindings of {}: {} fixed, {} gone with their package, {} remain, {} unknown",
                z(&fc.report),
                fc.fixed.len(),
                fc.removed.len(),
                fc.remaining.len(),
                fc.unknown.len()
            );
            for (tag, list) in [
                ("fixed", &fc.fixed),
                ("removed", &fc.removed),
                ("remains", &fc.remaining),
                ("unknown", &fc.unknown),
            ] {
                for x in list {
                    let _ = writeln!(
                        o,
                        "  {tag:<8} {} {} {} {}: {}",
                        x.severity.name(),
                        z(&x.id),
                        z(&x.package),
                        z(&x.installed_version),
                        z(&x.reason)
                    );
                }
            }
        }
        for w in &self.warnings {
            let _ = writeln!(o, "warning: {}", z(w));
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_changes_per_field_env_and_label() {
        let a = json!({"architecture": "amd64", "config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["bash"], "Labels": {"x": "1"}}});
        let b = json!({"architecture": "amd64", "config": {"Env": ["PATH=/usr/bin", "B=2"], "Cmd": ["bash"], "Labels": {"x": "2"}}});
        let got: Vec<String> = config_changes(&a, &b)
            .into_iter()
            .map(|c| c.field)
            .collect();
        assert_eq!(
            got,
            [
                "config.Env.A",
                "config.Env.B",
                "config.Env.PATH",
                "config.Labels.x"
            ]
        );
    }

    #[test]
    fn package_changes_by_version_order() {
        let p = |n: &str, v: &str| Package {
            name: n.into(),
            version: v.into(),
            arch: "amd64".into(),
            source_package: None,
            source_layer: Some(0),
            db: packages::Db::Dpkg,
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
