//! CycloneDX JSON with vulnerabilities, as Trivy and Grype write it, into the scanner-neutral
//! [`Report`]. Each `vulnerabilities[]` entry `affects[]` components by `bom-ref`; the
//! component gives the package (name, version, properties), the vulnerability its ID, ratings
//! and fix.
//!
//! - Trivy (`trivy image -f cyclonedx --scanners vuln`; `pkg/sbom/cyclonedx/marshal.go`, the
//!   example in Trivy's docs "SBOM > CycloneDX"): `metadata.component.properties` carry
//!   `aquasecurity:trivy:ImageID` and one `aquasecurity:trivy:DiffID` per layer; a component's
//!   `aquasecurity:trivy:LayerDiffID` its layer, `aquasecurity:trivy:PkgType` its type
//!   (debian, alpine, redhat, jar, ...); the fix is the `recommendation` "Upgrade P to version
//!   F" (F as Trivy's `FixedVersion`, comma-separated); `ratings[]` has one entry a source.
//! - Grype (`grype -o cyclonedx-json`; `grype/presenter/cyclonedx`, its image snapshot
//!   `TestCycloneDxPresenterImage.golden`): `metadata.component` is the image, its `version`
//!   the manifest digest; a component's `syft:location:N:layerID` and `syft:location:N:path`
//!   its files and layers, `syft:package:type` its type (deb, apk, rpm, java-archive, ...);
//!   fixes are `affects[].versions[]` with status `unaffected` and a `vers:` range `>=F`;
//!   `ratings[].severity` is Grype's (Negligible is written `none`).

use super::report::{
    Finding, LayerHint, Report, ReportFormat, Scanner, Severity, digest_field, field, items,
    split_fixed, text,
};
use super::{grype, trivy};
use crate::error::{Error, Result};
use crate::model::digest::{DiffId, Digest};
use serde_json::Value;
use std::collections::HashMap;

/// Which scanner wrote the BOM, from `metadata.tools` (1.5+: `{components: [...]}`; before:
/// a list of `{vendor, name}`).
fn scanner(v: &Value) -> Option<Scanner> {
    let tools = field(field(v, "metadata"), "tools");
    let list: Vec<&Value> = match tools {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => items(tools, "components").collect(),
        _ => Vec::new(),
    };
    list.iter()
        .find_map(|t| match text(t, "name")?.to_ascii_lowercase().as_str() {
            "trivy" => Some(Scanner::Trivy),
            "grype" => Some(Scanner::Grype),
            _ => None,
        })
}

/// The values of the properties called `name`, in order.
fn props<'a>(c: &'a Value, name: &'a str) -> impl Iterator<Item = &'a str> {
    items(c, "properties")
        .filter(move |p| p.get("name").and_then(Value::as_str) == Some(name))
        .filter_map(|p| p.get("value").and_then(Value::as_str))
}

fn prop<'a>(c: &'a Value, name: &'a str) -> Option<&'a str> {
    props(c, name).next().filter(|s| !s.is_empty())
}

pub fn parse(v: &Value, what: &str) -> Result<Report> {
    let scanner = scanner(v).ok_or_else(|| {
        Error::format(
            what,
            "a CycloneDX BOM, but metadata.tools names neither trivy nor grype",
        )
    })?;
    let image = field(field(v, "metadata"), "component");
    let digest = |s: &str, f: &str| digest_field(s, f, what);
    let (diff_ids, image_id, manifest_digest) = match scanner {
        Scanner::Trivy => (
            props(image, "aquasecurity:trivy:DiffID")
                .map(|d| digest(d, "aquasecurity:trivy:DiffID").map(DiffId))
                .collect::<Result<Vec<_>>>()?,
            prop(image, "aquasecurity:trivy:ImageID")
                .map(|d| digest(d, "aquasecurity:trivy:ImageID"))
                .transpose()?,
            None,
        ),
        Scanner::Grype => (
            Vec::new(),
            None,
            text(image, "version")
                .filter(|s| s.starts_with("sha256:"))
                .map(|d| digest(d, "metadata.component.version"))
                .transpose()?,
        ),
    };
    let components: HashMap<&str, &Value> = items(v, "components")
        .filter_map(|c| Some((text(c, "bom-ref")?, c)))
        .collect();
    let mut findings = Vec::new();
    for x in items(v, "vulnerabilities") {
        let id = text(x, "id").ok_or_else(|| Error::format(what, "a vulnerability has no id"))?;
        for a in items(x, "affects") {
            let r = text(a, "ref").unwrap_or("");
            let c = components.get(r).ok_or_else(|| {
                Error::format(
                    what,
                    format!("vulnerability {id} affects {r:?}, which no component is"),
                )
            })?;
            findings.push(finding(scanner, id, x, a, c, what)?);
        }
    }
    Ok(Report {
        scanner,
        diff_ids,
        image_id,
        manifest_digest,
        artifact: text(image, "name").map(str::to_string),
        format: ReportFormat::CycloneDx,
        findings,
    })
}

/// One (vulnerability, affected component) pair.
fn finding(
    scanner: Scanner,
    id: &str,
    x: &Value,
    a: &Value,
    c: &Value,
    what: &str,
) -> Result<Finding> {
    let name = text(c, "name").ok_or_else(|| {
        Error::format(
            what,
            format!("vulnerability {id}: a component without a name"),
        )
    })?;
    let installed = items(a, "versions")
        .find(|v| text(v, "status") == Some("affected"))
        .and_then(|v| text(v, "version"))
        .or_else(|| text(c, "version"))
        .unwrap_or("")
        .to_string();
    let (pkg_type, os, diff_id, paths, fixed) = match scanner {
        Scanner::Trivy => {
            let t = prop(c, "aquasecurity:trivy:PkgType")
                .unwrap_or("")
                .to_string();
            let os = trivy::is_os_type(&t);
            let fixed = text(x, "recommendation")
                .and_then(|r| r.rsplit_once(" to version "))
                .map(|(_, f)| split_fixed(f))
                .unwrap_or_default();
            let paths = prop(c, "aquasecurity:trivy:FilePath")
                .map(|p| vec![p.trim_start_matches('/').to_string()])
                .unwrap_or_default();
            let d = prop(c, "aquasecurity:trivy:LayerDiffID");
            (t, os, d, paths, fixed)
        }
        Scanner::Grype => {
            let t = prop(c, "syft:package:type").unwrap_or("").to_string();
            let os = grype::OS_TYPES.contains(&t.as_str());
            let fixed = items(a, "versions")
                .filter(|v| text(v, "status") == Some("unaffected"))
                .filter_map(|v| text(v, "range"))
                .filter_map(|r| r.rsplit_once(">=").map(|(_, f)| f.trim().to_string()))
                .filter(|f| !f.is_empty())
                .collect();
            let (d, paths) = syft_locations(c);
            (t, os, d, paths, fixed)
        }
    };
    Ok(Finding {
        id: id.to_string(),
        package: name.to_string(),
        installed,
        fixed,
        severity: severity(scanner, x, &pkg_type),
        layer: LayerHint {
            diff_id: diff_id
                .map(|d| digest_field(d, "component layer", what).map(DiffId))
                .transpose()?,
            digest: None::<Digest>,
        },
        pkg_type,
        os_package: os,
        paths,
        title: text(x, "description").map(|d| d.chars().take(120).collect()),
        status: None,
    })
}

/// Syft's locations: the layer of the package's database record (the location whose path is
/// a package database, else the first), and every path.
fn syft_locations(c: &Value) -> (Option<&str>, Vec<String>) {
    let mut locs: Vec<(usize, &str, Option<&str>)> = Vec::new();
    for p in items(c, "properties") {
        let (Some(n), Some(val)) = (text(p, "name"), text(p, "value")) else {
            continue;
        };
        let Some(rest) = n.strip_prefix("syft:location:") else {
            continue;
        };
        let Some((i, key)) = rest.split_once(':') else {
            continue;
        };
        let Ok(i) = i.parse::<usize>() else {
            continue;
        };
        if locs.len() <= i && i < 4096 {
            locs.resize(i + 1, (0, "", None));
        }
        let Some(l) = locs.get_mut(i) else {
            continue;
        };
        l.0 = i;
        match key {
            "path" => l.1 = val,
            "layerID" => l.2 = Some(val),
            _ => {}
        }
    }
    let is_db = |p: &str| {
        p.ends_with("/var/lib/dpkg/status")
            || p.contains("/var/lib/dpkg/status.d/")
            || p.ends_with("/lib/apk/db/installed")
            || p.contains("/rpm/rpmdb.sqlite")
            || p.ends_with("/rpm/Packages")
            || p.ends_with("/rpm/Packages.db")
    };
    let layer = locs
        .iter()
        .find(|l| is_db(l.1))
        .or(locs.first())
        .and_then(|l| l.2);
    let paths = locs
        .iter()
        .filter(|l| !l.1.is_empty())
        .map(|l| l.1.trim_start_matches('/').to_string())
        .collect();
    (layer, paths)
}

/// The finding's severity. Trivy writes one rating a source: the distribution's (the source
/// named like the package type: debian, alpine, redhat, ...) is what Trivy's JSON `Severity`
/// shows for OS packages; else the highest. Grype writes its one severity on every rating.
fn severity(scanner: Scanner, x: &Value, pkg_type: &str) -> Severity {
    let of = |r: &Value| {
        text(r, "severity").map(|s| match s {
            "none" => Severity::Negligible,
            "info" => Severity::Unknown,
            s => Severity::from_report(s),
        })
    };
    let ratings: Vec<&Value> = items(x, "ratings").collect();
    if scanner == Scanner::Trivy
        && let Some(s) = ratings
            .iter()
            .find(|r| text(field(r, "source"), "name") == Some(pkg_type))
            .and_then(|r| of(r))
    {
        return s;
    }
    ratings
        .iter()
        .filter_map(|r| of(r))
        .max()
        .unwrap_or(Severity::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dangling_affects_ref_is_an_error() {
        let v = serde_json::json!({
            "bomFormat": "CycloneDX",
            "metadata": {"tools": {"components": [{"name": "grype"}]}},
            "components": [],
            "vulnerabilities": [{"id": "CVE-1", "affects": [{"ref": "nothing"}]}]
        });
        let e = parse(&v, "r").unwrap_err().to_string();
        assert!(e.contains("which no component is"), "{e}");
        let v = serde_json::json!({"bomFormat": "CycloneDX", "metadata": {"tools": []}});
        assert!(
            parse(&v, "r")
                .unwrap_err()
                .to_string()
                .contains("names neither trivy nor grype")
        );
    }
}
