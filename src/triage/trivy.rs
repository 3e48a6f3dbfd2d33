//! Trivy's JSON report (`trivy image -f json`, SchemaVersion 2): `Metadata.DiffIDs` and
//! `Metadata.ImageID` name the image; each `Results[]` entry (a target: the OS, or a language
//! package file) has `Vulnerabilities` (absent or `null` when clean) with `VulnerabilityID`,
//! `PkgName`, `PkgPath`, `InstalledVersion`, `FixedVersion` (comma-separated when several
//! branches are fixed), `Status`, `Severity` and `Layer` (`DiffID`, and `Digest` for registry
//! images; `{}` or absent when Trivy cannot tell, as for some language packages).

use super::report::{
    Finding, LayerHint, Report, ReportFormat, Scanner, Severity, digest_at, digest_field, field,
    items, split_fixed, text,
};
use crate::error::{Error, Result};
use crate::model::digest::DiffId;
use serde_json::Value;

pub fn parse(v: &Value, what: &str) -> Result<Report> {
    if let Some(n) = v.get("SchemaVersion").and_then(Value::as_u64)
        && n != 2
    {
        return Err(Error::format(
            what,
            format!("Trivy SchemaVersion {n}: regraft reads SchemaVersion 2"),
        ));
    }
    let meta = field(v, "Metadata");
    let diff_ids = diff_ids(meta, what)?;
    let image_id = digest_at(meta, "ImageID", "Metadata.ImageID", what)?;
    let mut findings = Vec::new();
    for r in items(v, "Results") {
        let target = Target::of(r);
        for x in items(r, "Vulnerabilities") {
            findings.push(target.finding(x, what)?);
        }
    }
    Ok(Report {
        scanner: Scanner::Trivy,
        diff_ids,
        image_id,
        artifact: text(v, "ArtifactName").map(str::to_string),
        manifest_digest: None,
        format: ReportFormat::Json,
        findings,
    })
}

/// `Metadata.DiffIDs`: the image's layers, bottom first.
fn diff_ids(meta: &Value, what: &str) -> Result<Vec<DiffId>> {
    items(meta, "DiffIDs")
        .map(|d| {
            let d = d
                .as_str()
                .ok_or_else(|| Error::format(what, "Metadata.DiffIDs: not a string"))?;
            Ok(DiffId(digest_field(d, "Metadata.DiffIDs", what)?))
        })
        .collect()
}

/// What one `Results[]` entry says about all its findings.
struct Target<'a> {
    name: &'a str,
    /// `Type`: debian, alpine, jar, gobinary, ...
    kind: &'a str,
    os: bool,
}

impl<'a> Target<'a> {
    fn of(r: &'a Value) -> Target<'a> {
        let class = text(r, "Class").unwrap_or("");
        let kind = text(r, "Type").unwrap_or("");
        Target {
            name: text(r, "Target").unwrap_or(""),
            kind,
            // Before Class existed, OS results were told by their Type.
            os: class == "os-pkgs" || (class.is_empty() && is_os_type(kind)),
        }
    }

    /// One `Vulnerabilities[]` entry of this target.
    fn finding(&self, x: &Value, what: &str) -> Result<Finding> {
        let (Some(id), Some(pkg)) = (text(x, "VulnerabilityID"), text(x, "PkgName")) else {
            return Err(Error::format(
                what,
                format!(
                    "a finding of target {:?} has no VulnerabilityID or PkgName",
                    self.name
                ),
            ));
        };
        let layer = field(x, "Layer");
        let hint = LayerHint {
            diff_id: digest_at(layer, "DiffID", "Layer.DiffID", what)?.map(DiffId),
            digest: digest_at(layer, "Digest", "Layer.Digest", what)?,
        };
        Ok(Finding {
            id: id.to_string(),
            package: pkg.to_string(),
            installed: text(x, "InstalledVersion").unwrap_or("").to_string(),
            fixed: split_fixed(text(x, "FixedVersion").unwrap_or("")),
            severity: Severity::from_report(text(x, "Severity").unwrap_or("")),
            layer: hint,
            pkg_type: self.kind.to_string(),
            os_package: self.os,
            paths: self.paths(x),
            title: text(x, "Title").map(str::to_string),
            status: text(x, "Status").map(str::to_string),
        })
    }

    /// The finding's `PkgPath`, else a language package's target (the file it was found in).
    fn paths(&self, x: &Value) -> Vec<String> {
        match text(x, "PkgPath") {
            Some(p) => vec![p.to_string()],
            None if !self.os && !self.name.is_empty() => vec![self.name.to_string()],
            None => vec![],
        }
    }
}

/// The result `Type`s of OS package databases.
pub(crate) fn is_os_type(kind: &str) -> bool {
    matches!(
        kind,
        "debian"
            | "ubuntu"
            | "alpine"
            | "wolfi"
            | "chainguard"
            | "redhat"
            | "centos"
            | "rocky"
            | "alma"
            | "amazon"
            | "oracle"
            | "photon"
            | "suse linux enterprise server"
            | "opensuse.leap"
            | "cbl-mariner"
            | "azurelinux"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_vulnerabilities_missing_layers_and_fixed_lists() {
        let d = format!("sha256:{}", "a".repeat(64));
        let v = serde_json::json!({
            "SchemaVersion": 2,
            "ArtifactName": "x.tar",
            "Metadata": {"DiffIDs": [d], "ImageID": format!("sha256:{}", "b".repeat(64))},
            "Results": [
                {"Target": "x.tar (debian 12.4)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": null},
                {"Target": "opt/app/app.jar", "Class": "lang-pkgs", "Type": "jar", "Vulnerabilities": [
                    {"VulnerabilityID": "CVE-1", "PkgName": "g:a", "InstalledVersion": "1.0",
                     "FixedVersion": "1.2.3, 1.3.1", "Severity": "HIGH", "Layer": {}}
                ]},
                {"Target": "Python", "Class": "lang-pkgs", "Type": "python-pkg"}
            ]
        });
        let r = parse(&v, "t").unwrap();
        assert_eq!(r.diff_ids.len(), 1);
        assert_eq!(r.findings.len(), 1);
        let f = &r.findings[0];
        assert_eq!(f.fixed, ["1.2.3", "1.3.1"]);
        assert_eq!(f.layer, LayerHint::default());
        assert!(!f.os_package);
        assert_eq!(f.paths, ["opt/app/app.jar"]);
    }
}
