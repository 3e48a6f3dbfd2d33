//! Grype's JSON report (`grype -o json`): `source.target.layers[].digest` are the image's
//! diff_ids and `source.target.imageID` its config digest; each `matches[]` entry pairs a
//! `vulnerability` (`id`, `severity`, `fix.versions`, `fix.state`) with an `artifact` (`name`,
//! `version`, `type`, `locations[]` with `path` and `layerID`, a diff_id). A package's primary
//! location (`annotations.evidence = primary`, else the first) gives its layer.

use super::report::{Finding, LayerHint, Report, Scanner, Severity, digest_field};
use crate::error::{Error, Result};
use crate::model::digest::DiffId;
use serde_json::Value;

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|x| !x.is_empty())
}

const OS_TYPES: &[&str] = &["deb", "apk", "rpm", "alpm", "portage"];

pub fn parse(v: &Value, what: &str) -> Result<Report> {
    let target = v
        .get("source")
        .and_then(|x| x.get("target"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut diff_ids = Vec::new();
    for l in target
        .get("layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let d = s(l, "digest")
            .ok_or_else(|| Error::format(what, "source.target.layers[]: no digest"))?;
        diff_ids.push(DiffId(digest_field(
            d,
            "source.target.layers[].digest",
            what,
        )?));
    }
    let image_id = s(&target, "imageID")
        .map(|d| digest_field(d, "source.target.imageID", what))
        .transpose()?;
    let mut findings = Vec::new();
    for m in v
        .get("matches")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let vuln = m.get("vulnerability").cloned().unwrap_or(Value::Null);
        let art = m.get("artifact").cloned().unwrap_or(Value::Null);
        let (Some(id), Some(name)) = (s(&vuln, "id"), s(&art, "name")) else {
            return Err(Error::format(
                what,
                "a match has no vulnerability.id or artifact.name",
            ));
        };
        let locs: Vec<&Value> = art
            .get("locations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let primary = locs
            .iter()
            .find(|l| {
                l.get("annotations")
                    .and_then(|a| a.get("evidence"))
                    .and_then(Value::as_str)
                    == Some("primary")
            })
            .or_else(|| locs.first())
            .copied();
        let diff_id = primary
            .and_then(|l| s(l, "layerID"))
            .map(|d| digest_field(d, "artifact.locations[].layerID", what).map(DiffId))
            .transpose()?;
        let fix = vuln.get("fix").cloned().unwrap_or(Value::Null);
        let fixed = fix
            .get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect();
        let ptype = s(&art, "type").unwrap_or("").to_string();
        findings.push(Finding {
            id: id.to_string(),
            package: name.to_string(),
            installed: s(&art, "version").unwrap_or("").to_string(),
            fixed,
            severity: Severity::from_report(s(&vuln, "severity").unwrap_or("")),
            layer: LayerHint {
                diff_id,
                digest: None,
            },
            os_package: OS_TYPES.contains(&ptype.as_str()),
            pkg_type: ptype,
            paths: locs
                .iter()
                .filter_map(|l| s(l, "path"))
                .map(|p| p.trim_start_matches('/').to_string())
                .collect(),
            title: s(&vuln, "description").map(|d| d.chars().take(120).collect()),
            status: s(&fix, "state").map(str::to_string),
        });
    }
    Ok(Report {
        scanner: Scanner::Grype,
        diff_ids,
        image_id,
        artifact: s(&target, "userInput").map(str::to_string),
        findings,
    })
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
