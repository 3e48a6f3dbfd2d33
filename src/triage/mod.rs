//! Triage: a scanner report joined with the image it was made from. Every finding lands in the
//! image's old base, its application, or nowhere the report can say, with the layer and
//! history entry that made it; the groups then get their route (graft onto an updated base,
//! another base family, a newer vendor image or a rebuild).
//!
//! The floors, bottom up: `report` (the scanner-neutral model and the field readers), the
//! parsers `trivy` and `grype` (their JSON), `cyclonedx` and `sarif` (both scanners' forms of
//! those), `parse` (which picks one); `document` (the triage as `--json`
//! prints it); `place` (the report joined to the image), `ignore`, `route` and `text`; this
//! file runs the phases and tallies the result.
//!
//! The old base is found exactly as a graft finds it (`oldbase::find_split`).

pub mod cyclonedx;
pub mod document;
pub mod grype;
pub mod ignore;
pub mod parse;
pub mod place;
pub mod report;
pub mod route;
pub mod sarif;
pub mod sarif_out;
pub mod text;
pub mod trivy;
pub mod vex;

use crate::error::{Result, exit};
use crate::model::image::Image;
use crate::model::reference::ImageRef;
use crate::model::spec::Platform;
use crate::oldbase::{OldBase, OldBaseSummary, find_split};
use crate::packages::{self, PackageDb};
use crate::source::Source;
use crate::view::contents::{self, Contents, Elf, Wanted};
pub use document::{
    AppFile, ElfKind, IgnoredFinding, ImageInfo, LayerInfo, LocatedBy, MatchedBy, PackageFindings,
    Part, ReportInfo, Route, RouteKind, SCHEMA, Triage, TriagedFinding,
};
use ignore::{IgnoreList, Unfixed};
pub use ignore::{parse_ignore, read_ignore_file};
use place::Evidence;
pub use place::check_belongs;
pub use report::{Finding, Report, ReportFormat, Scanner, Severity};
use std::cmp::Reverse;
use std::collections::BTreeMap;
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
    /// `--vex` files (OpenVEX or CycloneDX VEX).
    pub vex: Vec<PathBuf>,
    pub fail_on: Option<Severity>,
}

/// The image, its old base and its contents: everything a report is joined with, and the
/// warnings so far.
struct Inputs {
    img: Image,
    matched_by: MatchedBy,
    old_base: OldBaseSummary,
    contents: Contents,
    packages: PackageDb,
    warnings: Vec<String>,
}

/// Runs a triage.
pub fn triage(plan: &TriagePlan) -> Result<Triage> {
    let rep = parse::read(&plan.report)?;
    let ignore = match &plan.ignore_file {
        Some(p) => read_ignore_file(p)?,
        None => IgnoreList::new(),
    };
    let mut inputs = Inputs::read(plan, &rep)?;
    let placed = Evidence {
        img: &inputs.img,
        packages: &inputs.packages,
        contents: &inputs.contents,
        split: inputs.old_base.layers,
    }
    .place(&rep, &mut inputs.warnings)?;
    let unfixed = if plan.ignore_unfixed {
        Unfixed::LeaveOut
    } else {
        Unfixed::Keep
    };
    let vex = inputs.vex_statements(plan)?;
    let kept = ignore::apply(placed.findings, &ignore, &vex, unfixed);
    let mut t = inputs.document(plan, &rep, placed.duplicates, kept);
    t.routes = route::routes(
        &t,
        &route::Invocation {
            image: &plan.image_arg,
            old_base: plan.old_base_arg.as_deref(),
            report: &plan.report,
        },
    );
    Ok(t)
}

impl Inputs {
    /// Opens the image, checks that `rep` is about it, finds its old base and reads its
    /// contents.
    fn read(plan: &TriagePlan, rep: &Report) -> Result<Inputs> {
        let mut warnings = Vec::new();
        let src = Source::open(&plan.image)?;
        let img = src.image(plan.platform.as_ref())?;
        for w in &img.warnings {
            warnings.push(format!("{}: {w}", img.name));
        }
        let matched_by = check_belongs(rep, &img, &mut warnings)?;
        let platform = plan
            .platform
            .clone()
            .unwrap_or_else(|| img.view.platform.clone());
        let given = OldBase::from_flags(plan.old_base.clone(), plan.old_base_layers);
        let old_base = find_split(&given, &src, &img, &platform, &mut warnings)?.summary;
        let split = old_base.layers;
        // One pass over the layers: package databases, and the ELF kind of application files.
        let contents = contents::read(
            &img,
            plan.max_layer_size,
            &Wanted {
                probe_elf: &|i| i >= split,
                ..packages::wanted()
            },
        )?;
        let packages = packages::from_contents(&contents)?;
        warnings.extend(packages.warnings.iter().cloned());
        Ok(Inputs {
            img,
            matched_by,
            old_base,
            contents,
            packages,
            warnings,
        })
    }

    /// The statements of the `--vex` files, each file checked to be about this image.
    fn vex_statements(&self, plan: &TriagePlan) -> Result<Vec<vex::Statement>> {
        let (m, c) = (
            self.img.manifest_digest.hex(),
            self.img.config_desc.digest.hex(),
        );
        let ids = vex::ImageIds {
            manifest_hex: &m,
            config_hex: &c,
        };
        let pkgs: Vec<(String, String)> = self
            .packages
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        let mut out = Vec::new();
        for f in &plan.vex {
            out.extend(vex::read_vex(f, &ids, &pkgs)?);
        }
        Ok(out)
    }

    /// The triage document of the kept findings, without its routes.
    fn document(
        self,
        plan: &TriagePlan,
        rep: &Report,
        duplicates_merged: usize,
        kept: ignore::Kept,
    ) -> Triage {
        let split = self.old_base.layers;
        let mut findings = kept.findings;
        findings.sort_by(|a, b| {
            (a.part, Reverse(a.severity), &a.package, &a.id).cmp(&(
                b.part,
                Reverse(b.severity),
                &b.package,
                &b.id,
            ))
        });
        let fail_on = plan.fail_on;
        let failed = fail_on.is_some_and(|t| findings.iter().any(|f| f.severity >= t));
        let img = &self.img;
        Triage {
            schema: SCHEMA,
            image: ImageInfo {
                name: img.name.clone(),
                config_digest: img.config_desc.digest.to_string(),
                manifest_digest: img.manifest_digest.to_string(),
                layers: img.layers.len(),
            },
            report: ReportInfo {
                file: plan.report.display().to_string(),
                scanner: rep.scanner,
                format: rep.format,
                artifact: rep.artifact.clone(),
                matched_by: self.matched_by,
                findings_in_report: rep.findings.len(),
            },
            layers: layer_infos(img, split, &findings),
            counts: counts_by(&findings, |f| Some(f.part)),
            packages: group_packages(&findings),
            base_libc: base_libc(&self.packages, split).map(str::to_string),
            application_files: app_files(&self.contents, split),
            old_base: self.old_base,
            findings,
            ignored: kept.ignored,
            unfixed_skipped: kept.unfixed_skipped,
            duplicates_merged,
            routes: vec![],
            fail_on,
            failed,
            exit_code: if failed { exit::FINDINGS } else { exit::OK },
            warnings: self.warnings,
        }
    }
}

/// Findings per key (a part, a layer) and severity; findings without a key are not counted.
fn counts_by<K: Ord>(
    findings: &[TriagedFinding],
    key: impl Fn(&TriagedFinding) -> Option<K>,
) -> BTreeMap<K, BTreeMap<Severity, usize>> {
    let mut out: BTreeMap<K, BTreeMap<Severity, usize>> = BTreeMap::new();
    for f in findings {
        if let Some(k) = key(f) {
            *out.entry(k).or_default().entry(f.severity).or_default() += 1;
        }
    }
    out
}

/// Every layer of the image with its part, its history entry and its findings.
fn layer_infos(img: &Image, split: usize, findings: &[TriagedFinding]) -> Vec<LayerInfo> {
    let mut per_layer = counts_by(findings, |f| f.layer);
    img.layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let h = img.history_of(i);
            LayerInfo {
                index: i,
                diff_id: l.diff_id.to_string(),
                digest: l.desc.digest.to_string(),
                part: Part::of(Some(i), split),
                created_by: h.and_then(|h| h.created_by.clone()),
                comment: h.and_then(|h| h.comment.clone()),
                findings: per_layer.remove(&i).unwrap_or_default(),
            }
        })
        .collect()
}

/// The C library of the base: glibc when `libc6` sits in a base layer, musl for `musl`;
/// else what the whole image's packages show.
fn base_libc(db: &PackageDb, split: usize) -> Option<&'static str> {
    packages::libc_among(
        db.packages
            .iter()
            .filter(|p| p.source_layer.is_some_and(|l| l < split)),
    )
    .or_else(|| db.libc())
}

fn group_packages(findings: &[TriagedFinding]) -> Vec<PackageFindings> {
    let mut m: BTreeMap<(Part, String, String, Option<usize>), PackageFindings> = BTreeMap::new();
    for f in findings {
        let key = (
            f.part,
            f.package.clone(),
            f.installed_version.clone(),
            f.layer,
        );
        let e = m.entry(key).or_insert_with(|| PackageFindings {
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
        document::extend_new(&mut e.fixed_versions, f.fixed_versions.iter().cloned());
    }
    let mut v: Vec<PackageFindings> = m.into_values().collect();
    v.sort_by(|a, b| {
        (a.part, Reverse(a.max_severity), &a.package).cmp(&(
            b.part,
            Reverse(b.max_severity),
            &b.package,
        ))
    });
    v
}

/// The files the application layers put in the merged filesystem (directories left out).
fn app_files(c: &Contents, split: usize) -> Vec<AppFile> {
    let mut out = Vec::new();
    for (p, n) in &c.view.nodes {
        if n.layer() < split || n.kind == crate::layer::entry::Kind::Dir {
            continue;
        }
        let (elf, interpreter) = match c.elf.get(&n.origin(p)) {
            Some(Elf::Static) => (Some(ElfKind::Static), None),
            Some(Elf::SharedObject) => (Some(ElfKind::SharedObject), None),
            Some(Elf::Dynamic(i)) => (Some(ElfKind::Dynamic), Some(i.clone())),
            None => (None, None),
        };
        out.push(AppFile {
            path: format!("/{}", String::from_utf8_lossy(p)),
            layer: n.layer(),
            elf,
            interpreter,
        });
    }
    out
}

impl Triage {
    pub fn text(&self) -> String {
        text::text(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, part: Part, layer: Option<usize>, sev: Severity) -> TriagedFinding {
        TriagedFinding {
            id: id.into(),
            package: "p".into(),
            installed_version: "1".into(),
            fixed_versions: vec![],
            severity: sev,
            part,
            layer,
            located_by: None,
            package_type: String::new(),
            os_package: true,
            paths: vec![],
            title: None,
            status: None,
        }
    }

    #[test]
    fn counts_per_part_and_per_layer() {
        let f = [
            finding("a", Part::Base, Some(0), Severity::High),
            finding("b", Part::Base, Some(0), Severity::High),
            finding("c", Part::Application, Some(2), Severity::Low),
            finding("d", Part::Unlocated, None, Severity::Low),
        ];
        let by_part = counts_by(&f, |f| Some(f.part));
        assert_eq!(by_part[&Part::Base][&Severity::High], 2);
        assert_eq!(by_part[&Part::Unlocated][&Severity::Low], 1);
        let by_layer = counts_by(&f, |f| f.layer);
        assert_eq!(by_layer.len(), 2);
        assert_eq!(by_layer[&2][&Severity::Low], 1);
    }

    #[test]
    fn packages_group_per_part_version_and_layer() {
        let mut a = finding("CVE-1", Part::Base, Some(0), Severity::Low);
        a.fixed_versions = vec!["2".into()];
        let mut b = finding("CVE-2", Part::Base, Some(0), Severity::Critical);
        b.fixed_versions = vec!["2".into(), "3".into()];
        let c = finding("CVE-3", Part::Application, Some(1), Severity::High);
        let g = group_packages(&[a, b, c]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].ids, ["CVE-1", "CVE-2"]);
        assert_eq!(g[0].fixed_versions, ["2", "3"]);
        assert_eq!(g[0].max_severity, Severity::Critical);
        assert_eq!(g[1].part, Part::Application);
    }
}
