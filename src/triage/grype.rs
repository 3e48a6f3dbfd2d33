//! Grype's JSON report (`grype -o json`): `source.target.layers[].digest` are the image's
//! diff_ids and `source.target.imageID` its config digest; each `matches[]` entry pairs a
//! `vulnerability` (`id`, `severity`, `fix.versions`, `fix.state`) with an `artifact` (`name`,
//! `version`, `type`, `locations[]` with `path` and `layerID`, a diff_id). A package's primary
//! location (`annotations.evidence = primary`, else the first) gives its layer.

use super::report::{
    Finding, LayerHint, Report, ReportFormat, Scanner, Severity, digest_at, digest_field, field,
    items, text,
};
use crate::error::{Error, Result};
use crate::model::digest::DiffId;
use serde_json::Value;

/// Artifact types of OS package databases.
pub(crate) const OS_TYPES: &[&str] = &["deb", "apk", "rpm", "alpm", "portage"];

pub fn parse(v: &Value, what: &str) -> Result<Report> {
    let target = field(field(v, "source"), "target");
    let diff_ids = diff_ids(target, what)?;
    let image_id = digest_at(target, "imageID", "source.target.imageID", what)?;
    let findings = items(v, "matches")
        .map(|m| finding(m, what))
        .collect::<Result<_>>()?;
    Ok(Report {
        scanner: Scanner::Grype,
        diff_ids,
        image_id,
        artifact: text(target, "userInput").map(str::to_string),
        manifest_digest: None,
        format: ReportFormat::Json,
        findings,
    })
}

/// `source.target.layers[].digest`: the image's layers, bottom first.
fn diff_ids(target: &Value, what: &str) -> Result<Vec<DiffId>> {
    items(target, "layers")
        .map(|l| {
            let d = text(l, "digest")
                .ok_or_else(|| Error::format(what, "source.target.layers[]: no digest"))?;
            Ok(DiffId(digest_field(
                d,
                "source.target.layers[].digest",
                what,
            )?))
        })
        .collect()
}

/// One `matches[]` entry.
fn finding(m: &Value, what: &str) -> Result<Finding> {
    let vuln = field(m, "vulnerability");
    let art = field(m, "artifact");
    let (Some(id), Some(name)) = (text(vuln, "id"), text(art, "name")) else {
        return Err(Error::format(
            what,
            "a match has no vulnerability.id or artifact.name",
        ));
    };
    let locs: Vec<&Value> = items(art, "locations").collect();
    let diff_id = match primary(&locs) {
        Some(l) => digest_at(l, "layerID", "artifact.locations[].layerID", what)?.map(DiffId),
        None => None,
    };
    let fix = field(vuln, "fix");
    let ptype = text(art, "type").unwrap_or("");
    Ok(Finding {
        id: id.to_string(),
        package: name.to_string(),
        installed: text(art, "version").unwrap_or("").to_string(),
        fixed: items(fix, "versions")
            .filter_map(Value::as_str)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
        severity: Severity::from_report(text(vuln, "severity").unwrap_or("")),
        layer: LayerHint {
            diff_id,
            digest: None,
        },
        os_package: OS_TYPES.contains(&ptype),
        pkg_type: ptype.to_string(),
        paths: locs
            .iter()
            .filter_map(|l| text(l, "path"))
            .map(|p| p.trim_start_matches('/').to_string())
            .collect(),
        title: text(vuln, "description").map(|d| d.chars().take(120).collect()),
        status: text(fix, "state").map(str::to_string),
    })
}

/// The package's primary location (`annotations.evidence = primary`), else its first.
fn primary<'a>(locs: &[&'a Value]) -> Option<&'a Value> {
    locs.iter()
        .find(|l| {
            field(l, "annotations")
                .get("evidence")
                .and_then(Value::as_str)
                == Some("primary")
        })
        .or_else(|| locs.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_location_gives_the_layer() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let v = serde_json::json!({
            "matches": [{
                "vulnerability": {"id": "CVE-2", "severity": "Negligible",
                                  "fix": {"versions": ["1.1", "2.1"], "state": "fixed"}},
                "artifact": {"name": "libx", "version": "1.0", "type": "deb", "locations": [
                    {"path": "/usr/share/doc/libx/copyright", "layerID": b,
                     "annotations": {"evidence": "supporting"}},
                    {"path": "/var/lib/dpkg/status", "layerID": a,
                     "annotations": {"evidence": "primary"}}
                ]}
            }],
            "source": {"type": "image", "target": {"layers": [{"digest": a}, {"digest": b}]}}
        });
        let r = parse(&v, "g").unwrap();
        assert_eq!(r.diff_ids.len(), 2);
        let f = &r.findings[0];
        assert_eq!(f.layer.diff_id, Some(r.diff_ids[0].clone()));
        assert_eq!(f.severity, Severity::Negligible);
        assert_eq!(f.fixed, ["1.1", "2.1"]);
        assert!(f.os_package);
    }
}
