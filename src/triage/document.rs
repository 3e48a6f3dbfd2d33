//! The triage as a document: what `--json` prints and the text is written from. Every choice
//! the document records (which part, how a finding was located, how the report was matched,
//! which route) is an enum here, serialized under the names the schema has always used.

use super::report::{ReportFormat, Scanner, Severity};
use crate::error::{Error, Result};
use crate::oldbase::OldBaseSummary;
use serde::Serialize;
use std::collections::BTreeMap;

pub const SCHEMA: &str = "regraft.triage/v1";

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
    pub const ALL: [Part; 3] = [Part::Base, Part::Application, Part::Unlocated];

    /// The part of layer `layer` when the old base is the bottom `split` layers.
    pub fn of(layer: Option<usize>, split: usize) -> Part {
        match layer {
            Some(i) if i < split => Part::Base,
            Some(_) => Part::Application,
            None => Part::Unlocated,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Part::Base => "base",
            Part::Application => "application",
            Part::Unlocated => "unlocated",
        }
    }
}

/// What tied the report to the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// The report lists the image's layers.
    DiffIds,
    /// The report lists no layers, and its image ID is the image's config digest.
    ImageId,
    /// The report lists neither the image's layers nor its config digest, and its manifest
    /// digest is the image's (Grype's CycloneDX).
    ManifestDigest,
    /// The report's findings name layers (Grype's SARIF), all of them the image's: a partial
    /// tie (an image built on the same layers would match too), said as a warning.
    FindingLayers,
}

impl MatchedBy {
    pub fn name(self) -> &'static str {
        match self {
            MatchedBy::DiffIds => "diff_ids",
            MatchedBy::ImageId => "image_id",
            MatchedBy::ManifestDigest => "manifest_digest",
            MatchedBy::FindingLayers => "finding_layers",
        }
    }
}

/// How a finding's layer was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LocatedBy {
    /// The scanner named the layer.
    Report,
    /// The image's package database placed the package.
    PackageDb,
    /// The layer that put the file the finding names into the merged filesystem.
    File,
}

/// What kind of ELF file an application file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElfKind {
    /// An executable without a program interpreter.
    Static,
    /// An executable loaded by its interpreter.
    Dynamic,
    /// A library.
    SharedObject,
}

impl ElfKind {
    pub fn is_executable(self) -> bool {
        matches!(self, ElfKind::Static | ElfKind::Dynamic)
    }
}

/// What to do about a group of findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteKind {
    /// Base findings with a fixed version.
    GraftOntoUpdatedBase,
    /// Base findings without one.
    AnotherBaseFamily,
    /// Findings in the application's layers.
    NewerVendorImageOrRebuild,
    /// Findings without a layer.
    CheckByHand,
}

impl RouteKind {
    pub fn name(self) -> &'static str {
        match self {
            RouteKind::GraftOntoUpdatedBase => "graft-onto-updated-base",
            RouteKind::AnotherBaseFamily => "another-base-family",
            RouteKind::NewerVendorImageOrRebuild => "newer-vendor-image-or-rebuild",
            RouteKind::CheckByHand => "check-by-hand",
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
    pub format: ReportFormat,
    pub artifact: Option<String>,
    pub matched_by: MatchedBy,
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
    /// Absent when nothing placed the finding.
    pub located_by: Option<LocatedBy>,
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

impl PackageFindings {
    /// `name installed -> fixed (SEVERITY: ids)`, as routes and the text list packages.
    pub fn line(&self) -> String {
        let fixed = if self.fixed_versions.is_empty() {
            "no fix".to_string()
        } else {
            self.fixed_versions.join(", ")
        };
        format!(
            "{} {} -> {} ({}: {})",
            self.package,
            self.installed_version,
            fixed,
            self.max_severity.name(),
            self.ids.join(", ")
        )
    }
}

/// An application file, as the merged filesystem shows it.
#[derive(Clone, Debug, Serialize)]
pub struct AppFile {
    pub path: String,
    pub layer: usize,
    /// Absent for a non-ELF file.
    pub elf: Option<ElfKind>,
    pub interpreter: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Route {
    pub route: RouteKind,
    pub part: Part,
    pub findings: usize,
    pub max_severity: Severity,
    pub advice: String,
    /// Commands to run, in order.
    pub commands: Vec<String>,
    /// `name installed -> fixed` of the packages involved.
    pub packages: Vec<String>,
    /// Files involved: what the findings name, and the application's executables.
    pub files: Vec<String>,
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
    pub routes: Vec<Route>,
    pub fail_on: Option<Severity>,
    pub failed: bool,
    pub exit_code: u8,
    pub warnings: Vec<String>,
}

impl Triage {
    /// The JSON printed for `--json`.
    pub fn json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::json("serialising the triage", e))
    }
}

/// Appends the items `into` does not hold yet, in order.
pub(crate) fn extend_new<T: PartialEq>(into: &mut Vec<T>, items: impl IntoIterator<Item = T>) {
    for x in items {
        if !into.contains(&x) {
            into.push(x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How a value serializes, as a JSON string.
    fn named<T: Serialize>(x: T) -> String {
        serde_json::to_value(x)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The enums keep the names the schema used when they were strings.
    #[test]
    fn enums_serialize_under_their_schema_names() {
        assert_eq!(named(MatchedBy::DiffIds), "diff_ids");
        assert_eq!(named(MatchedBy::ImageId), "image_id");
        assert_eq!(named(LocatedBy::Report), "report");
        assert_eq!(named(LocatedBy::PackageDb), "package-db");
        assert_eq!(named(LocatedBy::File), "file");
        assert_eq!(named(ElfKind::Static), "static");
        assert_eq!(named(ElfKind::Dynamic), "dynamic");
        assert_eq!(named(ElfKind::SharedObject), "shared-object");
        assert_eq!(
            named(RouteKind::GraftOntoUpdatedBase),
            "graft-onto-updated-base"
        );
        assert_eq!(named(RouteKind::AnotherBaseFamily), "another-base-family");
        assert_eq!(
            named(RouteKind::NewerVendorImageOrRebuild),
            "newer-vendor-image-or-rebuild"
        );
        assert_eq!(named(RouteKind::CheckByHand), "check-by-hand");
        // Text and JSON spell them alike.
        for r in [
            RouteKind::GraftOntoUpdatedBase,
            RouteKind::AnotherBaseFamily,
            RouteKind::NewerVendorImageOrRebuild,
            RouteKind::CheckByHand,
        ] {
            assert_eq!(named(r), r.name());
        }
        for m in [
            MatchedBy::DiffIds,
            MatchedBy::ImageId,
            MatchedBy::ManifestDigest,
            MatchedBy::FindingLayers,
        ] {
            assert_eq!(named(m), m.name());
        }
        for p in Part::ALL {
            assert_eq!(named(p), p.name());
        }
    }

    #[test]
    fn parts_by_layer_and_split() {
        for (layer, split, want) in [
            (Some(0), 1, Part::Base),
            (Some(1), 1, Part::Application),
            (Some(0), 0, Part::Application),
            (None, 3, Part::Unlocated),
        ] {
            assert_eq!(Part::of(layer, split), want, "{layer:?} {split}");
        }
    }
}
