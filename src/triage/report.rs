//! The scanner-neutral report model: findings with a vulnerability ID, a package, its installed
//! and fixed versions, a severity and the layer the scanner placed it in. `trivy` and `grype`
//! fill it from their JSON; everything after parsing works on this model only. The field
//! readers at the end are what both parsers read their JSON with.

use crate::error::{Error, Result};
use crate::model::digest::{DiffId, Digest};
use serde::Serialize;
use serde_json::Value;

/// Severities in order; the names scanners print map onto these case-insensitively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 6] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Negligible,
        Severity::Unknown,
    ];

    /// A severity as a report spells it; anything unrecognised is `Unknown`.
    pub fn from_report(s: &str) -> Severity {
        Self::parse(s).unwrap_or(Severity::Unknown)
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "UNKNOWN" => Severity::Unknown,
            "NEGLIGIBLE" => Severity::Negligible,
            "LOW" => Severity::Low,
            "MEDIUM" | "MODERATE" => Severity::Medium,
            "HIGH" => Severity::High,
            "CRITICAL" => Severity::Critical,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Negligible => "NEGLIGIBLE",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scanner {
    Trivy,
    Grype,
}

/// The form a report came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// The scanner's own JSON (`trivy -f json`, `grype -o json`).
    Json,
    /// CycloneDX JSON with `vulnerabilities` (`trivy -f cyclonedx --scanners vuln`,
    /// `grype -o cyclonedx-json`).
    CycloneDx,
    /// SARIF 2.1.0 (`trivy -f sarif`, `grype -o sarif`): lossy; no layers from Trivy, no image
    /// ID from Grype.
    Sarif,
}

/// Where the scanner says a finding's package lives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayerHint {
    pub diff_id: Option<DiffId>,
    /// The compressed blob digest (Trivy's `Layer.Digest`, registry images only).
    pub digest: Option<Digest>,
}

#[derive(Clone, Debug)]
pub struct Finding {
    pub id: String,
    pub package: String,
    pub installed: String,
    /// Versions that fix it; several when the fix landed on several branches.
    pub fixed: Vec<String>,
    pub severity: Severity,
    pub layer: LayerHint,
    /// Trivy's result `Type` (debian, alpine, jar, gobinary, ...) or Grype's artifact `type`
    /// (deb, apk, java-archive, go-module, ...).
    pub pkg_type: String,
    /// An OS package (from the package database) rather than a language package or binary.
    pub os_package: bool,
    /// Files the scanner names for the package (`PkgPath`, a lang-pkgs `Target`, locations).
    pub paths: Vec<String>,
    pub title: Option<String>,
    /// The scanner's fix status (`fixed`, `affected`, `will_not_fix`, `not-fixed`, ...).
    pub status: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Report {
    pub scanner: Scanner,
    /// The image's layers as the report lists them (Trivy `Metadata.DiffIDs`, Grype
    /// `source.target.layers[].digest`), empty when it lists none.
    pub diff_ids: Vec<DiffId>,
    /// The config digest (Trivy `Metadata.ImageID`, Grype `source.target.imageID`).
    pub image_id: Option<Digest>,
    /// The manifest digest (Grype's CycloneDX `metadata.component.version`), when the report
    /// gives one.
    pub manifest_digest: Option<Digest>,
    /// What was scanned, as the scanner names it.
    pub artifact: Option<String>,
    pub format: ReportFormat,
    pub findings: Vec<Finding>,
}

/// The field `key` of a report object; `Null` when absent, so nested reads need no copies.
pub(crate) fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    v.get(key).unwrap_or(&NULL)
}

/// The string field `key`; an empty string counts as absent, as the scanners write `""` for
/// what they do not know.
pub(crate) fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|x| !x.is_empty())
}

/// The items of the array field `key`; none when it is absent or `null`.
pub(crate) fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// The `sha256:...` string field `key`, if present; `field` names it in the report on error.
pub(crate) fn digest_at(v: &Value, key: &str, field: &str, what: &str) -> Result<Option<Digest>> {
    text(v, key)
        .map(|d| digest_field(d, field, what))
        .transpose()
}

/// Parses `sha256:...` from a report, naming the field on error.
// The digest's error becomes text: `triage --json` prints an error's Display alone (not its
// sources), and that document must keep saying what was wrong with the digest.
pub(crate) fn digest_field(s: &str, field: &str, what: &str) -> Result<Digest> {
    Digest::parse(s).map_err(|e| Error::format_from(what, field, e))
}

/// Splits Trivy's `FixedVersion` ("1.2.3, 1.3.1") into versions.
pub fn split_fixed(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_parse_and_order() {
        let table = [
            ("Negligible", Severity::Negligible),
            ("critical", Severity::Critical),
            ("HIGH", Severity::High),
            ("Medium", Severity::Medium),
            ("", Severity::Unknown),
            ("whatever", Severity::Unknown),
        ];
        for (s, want) in table {
            assert_eq!(Severity::from_report(s), want, "{s}");
        }
        assert!(Severity::Unknown < Severity::Negligible);
        assert!(Severity::Negligible < Severity::Low);
        assert!(Severity::High < Severity::Critical);
    }

    #[test]
    fn fixed_version_lists() {
        let table: [(&str, &[&str]); 4] = [
            ("", &[]),
            ("1.2.3", &["1.2.3"]),
            ("1.2.3, 1.3.1", &["1.2.3", "1.3.1"]),
            (" 2.0 ,, 3.0,", &["2.0", "3.0"]),
        ];
        for (s, want) in table {
            assert_eq!(split_fixed(s), want, "{s:?}");
        }
    }
}
