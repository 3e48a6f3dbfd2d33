//! Triage: a scanner report joined with the image it was made from. Every finding lands in the
//! image's old base, its application, or nowhere the report can say, with the layer and
//! history entry that made it; the groups then get their route (graft onto an updated base,
//! another base family, a newer vendor image or a rebuild). `route` writes the advice and
//! the text; this file does the joining.
//!
//! The old base is found exactly as a graft finds it (`oldbase::find_split`). A report
//! belongs to the image when its diff_ids are the image's (or, when it lists none, its image
//! ID is the config digest); anything else is an error, since a finding's layer means nothing
//! against another image.

pub mod grype;
pub mod report;
pub mod route;
pub mod trivy;

use crate::error::{Error, IoContext, Result};
use crate::model::image::Image;
use crate::model::reference::ImageRef;
use crate::model::spec::Platform;
use crate::oldbase::{OldBase, OldBaseSummary, find_split};
use crate::packages::{self, PackageDb};
use crate::source::Source;
use crate::view::contents::{self, Elf, Wanted};
pub use report::{Finding, Report, Scanner, Severity};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// `regraft triage`, validated.
#[derive(Clone, Debug)]
pub struct TriagePlan {
    pub report: PathBuf,
    pub image: ImageRef,
    /// How the user spelled the image and the old base, for the commands we print.
    pub image_arg: String,
    pub old_base: Option<ImageRef>,
    pub old_base_arg: Option<String>,
    pub old_base_layers: Option<usize>,
    pub platform: Option<Platform>,
    pub max_layer_size: u64,
    pub ignore_unfixed: bool,
    pub ignore_file: Option<PathBuf>,
    pub fail_on: Option<Severity>,
}

/// Which part of the image a finding is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Base,
    Application,
    /// The report gives no layer and the package database does not place the package.
    Unlocated,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Base => "base",
            Part::Application => "application",
            Part::Unlocated => "unlocated",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ImageInfo {
    pub name: String,
    pub config_digest: String,
    pub manifest_digest: String,
    pub layers: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReportInfo {
    pub file: String,
    pub scanner: Scanner,
    pub artifact: Option<String>,
    /// `diff_ids` or `image_id`: what tied the report to the image.
    pub matched_by: String,
    pub findings_in_report: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct LayerInfo {
    pub index: usize,
    pub diff_id: String,
    pub digest: String,
    pub part: Part,
    /// The history entry that made the layer.
    pub created_by: Option<String>,
    pub comment: Option<String>,
    pub findings: BTreeMap<Severity, usize>,
}

/// One finding, counted once per (ID, package, version, layer).
#[derive(Clone, Debug, Serialize)]
pub struct TriagedFinding {
    pub id: String,
    pub package: String,
    pub installed_version: String,
    pub fixed_versions: Vec<String>,
    pub severity: Severity,
    pub part: Part,
    pub layer: Option<usize>,
    /// `report` (the scanner named the layer); for a finding the report left without one,
    /// `package-db` (the image's package database placed the package) or `file` (the layer
    /// that put the file the finding names into the merged filesystem).
    pub located_by: Option<String>,
    pub package_type: String,
    pub os_package: bool,
    pub paths: Vec<String>,
    pub title: Option<String>,
    pub status: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct IgnoredFinding {
    pub id: String,
    pub package: String,
    pub installed_version: String,
    pub severity: Severity,
    pub part: Part,
    pub reason: String,
}

/// Findings of one package version in one part.
#[derive(Clone, Debug, Serialize)]
pub struct PackageFindings {
    pub part: Part,
    pub package: String,
    pub installed_version: String,
    pub fixed_versions: Vec<String>,
    pub layer: Option<usize>,
    pub max_severity: Severity,
    pub ids: Vec<String>,
}

/// An application file, as the merged filesystem shows it.
#[derive(Clone, Debug, Serialize)]
pub struct AppFile {
    pub path: String,
    pub layer: usize,
    /// `static`, `dynamic`, `shared-object` (a library), or absent for a non-ELF file.
    pub elf: Option<String>,
    pub interpreter: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Triage {
    pub schema: &'static str,
    pub image: ImageInfo,
    pub report: ReportInfo,
    pub old_base: OldBaseSummary,
    pub layers: Vec<LayerInfo>,
    /// part -> severity -> count, over the findings that remain (not ignored).
    pub counts: BTreeMap<Part, BTreeMap<Severity, usize>>,
    pub findings: Vec<TriagedFinding>,
    pub packages: Vec<PackageFindings>,
    pub ignored: Vec<IgnoredFinding>,
    /// Findings left out by --ignore-unfixed.
    pub unfixed_skipped: usize,
    /// Findings the report listed more than once (same ID, package, version and layer).
    pub duplicates_merged: usize,
    /// The base's C library, from its package database.
    pub base_libc: Option<String>,
    pub application_files: Vec<AppFile>,
    pub routes: Vec<route::Route>,
    pub fail_on: Option<Severity>,
    pub failed: bool,
    pub exit_code: u8,
    pub warnings: Vec<String>,
}

pub const SCHEMA: &str = "regraft.triage/v1";

/// Reads `--ignore FILE`: one ID per line followed by its reason; `#` starts a comment line.
pub fn read_ignore_file(path: &std::path::Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).at(path)?;
    parse_ignore(&text, &path.display().to_string())
}

pub fn parse_ignore(text: &str, what: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, reason) = match line.split_once(char::is_whitespace) {
            Some((id, r)) => (id, r.trim().trim_start_matches('#').trim()),
            None => (line, ""),
        };
        if reason.is_empty() {
            return Err(Error::format(
                what,
                format!(
                    "line {}: {} has no reason; write `ID  why it is ignored`",
                    n + 1,
                    crate::text::sanitize(id)
                ),
            ));
        }
        out.insert(id.to_string(), reason.to_string());
    }
    Ok(out)
}

/// Checks that `report` was made from `img`; returns what matched.
pub fn check_belongs(report: &Report, img: &Image, warnings: &mut Vec<String>) -> Result<String> {
    let config = &img.config_desc.digest;
    if !report.diff_ids.is_empty() {
        let mine = &img.view.diff_ids;
        if report.diff_ids != *mine {
            let at = (0..report.diff_ids.len().max(mine.len()))
                .find(|&i| report.diff_ids.get(i) != mine.get(i))
                .unwrap_or(0);
            let show = |d: Option<&crate::model::digest::DiffId>| {
                d.map(|d| d.to_string()).unwrap_or_else(|| "nothing".into())
            };
            return Err(Error::Invalid(format!(
                "the report is not about {}: it lists {} layer(s), the image has {}; at layer {at} the report has {}, the image {}",
                img.name,
                report.diff_ids.len(),
                mine.len(),
                show(report.diff_ids.get(at)),
                show(mine.get(at))
            )));
        }
        if let Some(id) = &report.image_id
            && id != config
        {
            warnings.push(format!(
                "the report's image ID {id} is not the image's config digest {config}; the layers match, so the findings apply"
            ));
        }
        return Ok("diff_ids".into());
    }
    match &report.image_id {
        Some(id) if id == config => Ok("image_id".into()),
        Some(id) => Err(Error::Invalid(format!(
            "the report is not about {}: its image ID is {id}, the image's config digest {config}",
            img.name
        ))),
        None => Err(Error::Invalid(
            "the report names neither the image's layers nor its ID, so it cannot be checked against the image".into(),
        )),
    }
}

/// The layer index a finding's hint names; Err when it names a layer the image lacks.
fn layer_of(f: &Finding, img: &Image, warnings: &mut Vec<String>) -> Result<Option<usize>> {
    if let Some(d) = &f.layer.diff_id {
        return match img.view.diff_ids.iter().position(|x| x == d) {
            Some(i) => Ok(Some(i)),
            None => Err(Error::Invalid(format!(
                "the report places {} ({}) in layer {d}, which {} does not have",
                crate::text::sanitize(&f.id),
                crate::text::sanitize(&f.package),
                img.name
            ))),
        };
    }
    if let Some(d) = &f.layer.digest {
        if let Some(i) = img.layers.iter().position(|l| &l.desc.digest == d) {
            return Ok(Some(i));
        }
        // A registry blob digest means nothing for an image stored compressed differently.
        warnings.push(format!(
            "{} ({}): layer digest {d} is not a blob of this image (recompressed?); placed by the package database if possible",
            crate::text::sanitize(&f.id),
            crate::text::sanitize(&f.package)
        ));
    }
    Ok(None)
}

/// Runs a triage.
pub fn triage(plan: &TriagePlan) -> Result<Triage> {
    let mut warnings = Vec::new();
    let file = plan.report.display().to_string();
    let bytes = std::fs::read(&plan.report).at(&plan.report)?;
    let rep = report::parse(&bytes, &file)?;
    let ignore = match &plan.ignore_file {
        Some(p) => read_ignore_file(p)?,
        None => BTreeMap::new(),
    };
    let src = Source::open(&plan.image)?;
    let img = src.image(plan.platform.as_ref())?;
    for w in &img.warnings {
        warnings.push(format!("{}: {w}", img.name));
    }
    let matched_by = check_belongs(&rep, &img, &mut warnings)?;
    let platform = plan
        .platform
        .clone()
        .unwrap_or_else(|| img.view.platform.clone());
    let given = OldBase::from_flags(plan.old_base.clone(), plan.old_base_layers);
    let old_base = find_split(&given, &src, &img, &platform, &mut warnings)?.summary;
    let split = old_base.layers;
    let part_of = |l: Option<usize>| match l {
        Some(i) if i < split => Part::Base,
        Some(_) => Part::Application,
        None => Part::Unlocated,
    };

    // One pass over the layers: package databases, and the ELF kind of application files.
    let c = contents::read(
        &img,
        plan.max_layer_size,
        &Wanted {
            hash: false,
            keep: &packages::wanted_paths,
            keep_max: packages::MAX_DB_SIZE,
            probe_elf: &|i| i >= split,
            watch: packages::WATCH,
        },
    )?;
    let pkgs = packages::from_contents(&c);
    warnings.extend(pkgs.warnings.iter().cloned());

    // Place, deduplicate, ignore.
    let mut seen: BTreeMap<(String, String, String, Option<usize>), usize> = BTreeMap::new();
    let mut findings: Vec<TriagedFinding> = Vec::new();
    let mut ignored = Vec::new();
    let mut unfixed_skipped = 0;
    let mut duplicates = 0;
    for f in &rep.findings {
        let mut layer = layer_of(f, &img, &mut warnings)?;
        let mut located_by = layer.map(|_| "report".to_string());
        if layer.is_none()
            && f.os_package
            && let Some(p) = locate_in_db(&pkgs, f)
        {
            layer = Some(p);
            located_by = Some("package-db".into());
        }
        if layer.is_none()
            && let Some(l) = f.paths.iter().find_map(|p| {
                c.view
                    .get(p.trim_start_matches('/').as_bytes())
                    .map(|n| n.layer)
            })
        {
            layer = Some(l);
            located_by = Some("file".into());
        }
        let key = (f.id.clone(), f.package.clone(), f.installed.clone(), layer);
        if let Some(&k) = seen.get(&key) {
            // Duplicates across targets (the same jar found twice, OS and language results
            // naming one package): merge what they add.
            duplicates += 1;
            let t: &mut TriagedFinding = &mut findings[k];
            t.severity = t.severity.max(f.severity);
            for v in &f.fixed {
                if !t.fixed_versions.contains(v) {
                    t.fixed_versions.push(v.clone());
                }
            }
            for p in &f.paths {
                if !t.paths.contains(p) {
                    t.paths.push(p.clone());
                }
            }
            continue;
        }
        seen.insert(key, findings.len());
        findings.push(TriagedFinding {
            id: f.id.clone(),
            package: f.package.clone(),
            installed_version: f.installed.clone(),
            fixed_versions: f.fixed.clone(),
            severity: f.severity,
            part: part_of(layer),
            layer,
            located_by,
            package_type: f.pkg_type.clone(),
            os_package: f.os_package,
            paths: f.paths.clone(),
            title: f.title.clone(),
            status: f.status.clone(),
        });
    }
    findings.retain(|f| {
        if let Some(reason) = ignore.get(&f.id) {
            ignored.push(IgnoredFinding {
                id: f.id.clone(),
                package: f.package.clone(),
                installed_version: f.installed_version.clone(),
                severity: f.severity,
                part: f.part,
                reason: reason.clone(),
            });
            return false;
        }
        if plan.ignore_unfixed && f.fixed_versions.is_empty() {
            unfixed_skipped += 1;
            return false;
        }
        true
    });
    findings.sort_by(|a, b| {
        (a.part, std::cmp::Reverse(a.severity), &a.package, &a.id).cmp(&(
            b.part,
            std::cmp::Reverse(b.severity),
            &b.package,
            &b.id,
        ))
    });

    let mut counts: BTreeMap<Part, BTreeMap<Severity, usize>> = BTreeMap::new();
    let mut per_layer: BTreeMap<usize, BTreeMap<Severity, usize>> = BTreeMap::new();
    for f in &findings {
        *counts
            .entry(f.part)
            .or_default()
            .entry(f.severity)
            .or_default() += 1;
        if let Some(l) = f.layer {
            *per_layer
                .entry(l)
                .or_default()
                .entry(f.severity)
                .or_default() += 1;
        }
    }
    let layers = img
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let h = img.history_of(i);
            LayerInfo {
                index: i,
                diff_id: l.diff_id.to_string(),
                digest: l.desc.digest.to_string(),
                part: part_of(Some(i)),
                created_by: h.and_then(|h| h.created_by.clone()),
                comment: h.and_then(|h| h.comment.clone()),
                findings: per_layer.remove(&i).unwrap_or_default(),
            }
        })
        .collect();
    let packages = group_packages(&findings);
    let application_files = app_files(&c, split);
    let fail_on = plan.fail_on;
    let failed = fail_on.is_some_and(|t| findings.iter().any(|f| f.severity >= t));
    let mut t = Triage {
        schema: SCHEMA,
        image: ImageInfo {
            name: img.name.clone(),
            config_digest: img.config_desc.digest.to_string(),
            manifest_digest: img.manifest_digest.to_string(),
            layers: img.layers.len(),
        },
        report: ReportInfo {
            file,
            scanner: rep.scanner,
            artifact: rep.artifact.clone(),
            matched_by,
            findings_in_report: rep.findings.len(),
        },
        old_base,
        layers,
        counts,
        findings,
        packages,
        ignored,
        unfixed_skipped,
        duplicates_merged: duplicates,
        base_libc: base_libc(&pkgs, split).map(str::to_string),
        application_files,
        routes: vec![],
        fail_on,
        failed,
        exit_code: if failed { 4 } else { 0 },
        warnings,
    };
    t.routes = route::routes(&t, plan);
    Ok(t)
}

/// The layer of an OS package the report left unplaced, from the image's package database.
fn locate_in_db(db: &PackageDb, f: &Finding) -> Option<usize> {
    db.packages
        .iter()
        .find(|p| p.name == f.package && p.version == f.installed)
        .or_else(|| db.find(&f.package, None))
        .and_then(|p| p.source_layer)
}

/// The C library of the base: glibc when `libc6` sits in a base layer, musl for `musl`.
fn base_libc(db: &PackageDb, split: usize) -> Option<&'static str> {
    let in_base = |n: &str| {
        db.packages
            .iter()
            .any(|p| p.name == n && p.source_layer.is_some_and(|l| l < split))
    };
    if in_base("libc6") {
        Some("glibc")
    } else if in_base("musl") {
        Some("musl")
    } else {
        db.libc()
    }
}

fn group_packages(findings: &[TriagedFinding]) -> Vec<PackageFindings> {
    let mut m: BTreeMap<(Part, String, String, Option<usize>), PackageFindings> = BTreeMap::new();
    for f in findings {
        let e = m
            .entry((
                f.part,
                f.package.clone(),
                f.installed_version.clone(),
                f.layer,
            ))
            .or_insert_with(|| PackageFindings {
                part: f.part,
                package: f.package.clone(),
                installed_version: f.installed_version.clone(),
                fixed_versions: vec![],
                layer: f.layer,
                max_severity: f.severity,
                ids: vec![],
            });
        e.max_severity = e.max_severity.max(f.severity);
        e.ids.push(f.id.clone());
        for v in &f.fixed_versions {
            if !e.fixed_versions.contains(v) {
                e.fixed_versions.push(v.clone());
            }
        }
    }
    let mut v: Vec<PackageFindings> = m.into_values().collect();
    v.sort_by(|a, b| {
        (a.part, std::cmp::Reverse(a.max_severity), &a.package).cmp(&(
            b.part,
            std::cmp::Reverse(b.max_severity),
            &b.package,
        ))
    });
    v
}

/// The files the application layers put in the merged filesystem (directories left out).
fn app_files(c: &contents::Contents, split: usize) -> Vec<AppFile> {
    let mut out = Vec::new();
    let mut dirs = BTreeSet::new();
    for (p, n) in &c.view.nodes {
        if n.layer < split {
            continue;
        }
        if n.kind == crate::layer::entry::Kind::Dir {
            dirs.insert(p.clone());
            continue;
        }
        let (elf, interp) = match c.elf.get(&n.origin) {
            Some(Elf::Static) => (Some("static".to_string()), None),
            Some(Elf::SharedObject) => (Some("shared-object".to_string()), None),
            Some(Elf::Dynamic(i)) => (Some("dynamic".to_string()), Some(i.clone())),
            None => (None, None),
        };
        out.push(AppFile {
            path: format!("/{}", String::from_utf8_lossy(p)),
            layer: n.layer,
            elf,
            interpreter: interp,
        });
    }
    out
}

impl Triage {
    /// The JSON printed for `--json`.
    pub fn json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::Invalid(format!("serialising the triage: {e}")))
    }
    pub fn text(&self) -> String {
        route::text(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_file_needs_a_reason_per_id() {
        let ok = parse_ignore(
            "# accepted risks\nCVE-2011-3374  apt-key is not used at runtime\n\nGHSA-xxxx-yyyy # dev dependency only\n",
            "f",
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok["GHSA-xxxx-yyyy"], "dev dependency only");
        let err = parse_ignore("CVE-1 reason\nCVE-2\n", "f").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
