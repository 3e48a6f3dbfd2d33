//! Trivy's JSON report (`trivy image -f json`, SchemaVersion 2): `Metadata.DiffIDs` and
//! `Metadata.ImageID` name the image; each `Results[]` entry (a target: the OS, or a language
//! package file) has `Vulnerabilities` (absent or `null` when clean) with `VulnerabilityID`,
//! `PkgName`, `PkgPath`, `InstalledVersion`, `FixedVersion` (comma-separated when several
//! branches are fixed), `Status`, `Severity` and `Layer` (`DiffID`, and `Digest` for registry
//! images; `{}` or absent when Trivy cannot tell, as for some language packages).

use super::report::{Finding, LayerHint, Report, Scanner, Severity, digest_field, split_fixed};
use crate::error::{Error, Result};
use crate::model::digest::DiffId;
use serde_json::Value;

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|x| !x.is_empty())
}

pub fn parse(v: &Value, what: &str) -> Result<Report> {
    if let Some(n) = v.get("SchemaVersion").and_then(Value::as_u64)
        && n != 2
    {
        return Err(Error::format(
            what,
            format!("Trivy SchemaVersion {n}: regraft reads SchemaVersion 2"),
        ));
    }
    let meta = v.get("Metadata").cloned().unwrap_or(Value::Null);
    let mut diff_ids = Vec::new();
    for d in meta
        .get("DiffIDs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let d = d
            .as_str()
            .ok_or_else(|| Error::format(what, "Metadata.DiffIDs: not a string"))?;
        diff_ids.push(DiffId(digest_field(d, "Metadata.DiffIDs", what)?));
    }
    let image_id = s(&meta, "ImageID")
        .map(|d| digest_field(d, "Metadata.ImageID", what))
        .transpose()?;
    let mut findings = Vec::new();
    for r in v
        .get("Results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let class = s(r, "Class").unwrap_or("");
        let rtype = s(r, "Type").unwrap_or("").to_string();
        let target = s(r, "Target").unwrap_or("");
        // Before Class existed, OS results were told by their Type.
        let os = class == "os-pkgs"
            || (class.is_empty()
                && matches!(
                    rtype.as_str(),
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
                ));
        for x in r
            .get("Vulnerabilities")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(id), Some(pkg)) = (s(x, "VulnerabilityID"), s(x, "PkgName")) else {
                return Err(Error::format(
                    what,
                    format!("a finding of target {target:?} has no VulnerabilityID or PkgName"),
                ));
            };
            let layer = x.get("Layer").cloned().unwrap_or(Value::Null);
            let hint = LayerHint {
                diff_id: s(&layer, "DiffID")
                    .map(|d| digest_field(d, "Layer.DiffID", what).map(DiffId))
                    .transpose()?,
                digest: s(&layer, "Digest")
                    .map(|d| digest_field(d, "Layer.Digest", what))
                    .transpose()?,
            };
            let mut paths = Vec::new();
            if let Some(p) = s(x, "PkgPath") {
                paths.push(p.to_string());
            } else if !os && !target.is_empty() {
                paths.push(target.to_string());
            }
            findings.push(Finding {
                id: id.to_string(),
                package: pkg.to_string(),
                installed: s(x, "InstalledVersion").unwrap_or("").to_string(),
                fixed: split_fixed(s(x, "FixedVersion").unwrap_or("")),
                severity: Severity::from_report(s(x, "Severity").unwrap_or("")),
                layer: hint,
                pkg_type: rtype.clone(),
                os_package: os,
                paths,
                title: s(x, "Title").map(str::to_string),
                status: s(x, "Status").map(str::to_string),
            });
        }
    }
    Ok(Report {
        scanner: Scanner::Trivy,
        diff_ids,
        image_id,
        artifact: s(v, "ArtifactName").map(str::to_string),
        findings,
    })
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
