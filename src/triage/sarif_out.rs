//! SARIF out: `triage --sarif FILE` writes the triage as SARIF 2.1.0 for code-scanning
//! dashboards: one rule per vulnerability ID, one result per finding, with its package and
//! versions, the layer it is in (index, diff_id, the history entry that made it), its part and
//! its route. A finding's location is the file it names, else the image; its logical location
//! is the layer. Levels follow the severity as Trivy maps them (CRITICAL and HIGH error,
//! MEDIUM warning, the rest note), and `security-severity` is the score GitHub ranks by.

use super::document::{Part, RouteKind, Triage, TriagedFinding};
use super::report::Severity;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        _ => "note",
    }
}

fn score(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        _ => "0.0",
    }
}

/// The route a finding belongs to (as `route.rs` groups them).
fn route_of(f: &TriagedFinding) -> RouteKind {
    match f.part {
        Part::Base if f.fixed_versions.is_empty() => RouteKind::AnotherBaseFamily,
        Part::Base => RouteKind::GraftOntoUpdatedBase,
        Part::Application => RouteKind::NewerVendorImageOrRebuild,
        Part::Unlocated => RouteKind::CheckByHand,
    }
}

/// The SARIF document of `t`.
pub fn document(t: &Triage) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut results = Vec::new();
    for f in &t.findings {
        let i = *index.entry(&f.id).or_insert_with(|| {
            rules.push(json!({
                "id": f.id,
                "name": "OsOrPackageVulnerability",
                "shortDescription": {"text": f.title.clone().unwrap_or_else(|| f.id.clone())},
                "properties": {
                    "security-severity": score(f.severity),
                    "tags": ["vulnerability", "security", f.severity.name()],
                },
            }));
            rules.len() - 1
        });
        let route = route_of(f);
        let advice = t
            .routes
            .iter()
            .find(|r| r.route == route)
            .map(|r| r.advice.clone())
            .unwrap_or_default();
        let layer = f.layer.and_then(|l| t.layers.get(l));
        let where_ = match layer {
            Some(l) => format!(
                "layer {} ({}){}",
                l.index,
                f.part.name(),
                l.created_by
                    .as_deref()
                    .map(|c| format!(", made by: {}", c.chars().take(120).collect::<String>()))
                    .unwrap_or_default()
            ),
            None => "no layer (unlocated)".to_string(),
        };
        let fixed = if f.fixed_versions.is_empty() {
            "no fixed version".to_string()
        } else {
            format!("fixed in {}", f.fixed_versions.join(", "))
        };
        let uri = f
            .paths
            .first()
            .map(|p| p.trim_start_matches('/').to_string())
            .unwrap_or_else(|| "image".to_string());
        let mut logical = Vec::new();
        if let Some(l) = layer {
            logical.push(json!({
                "name": format!("layer {}", l.index),
                "fullyQualifiedName": format!("{}@{}", t.image.name, l.diff_id),
                "kind": "module",
            }));
        }
        results.push(json!({
            "ruleId": f.id,
            "ruleIndex": i,
            "level": level(f.severity),
            "message": {"text": format!(
                "{} {} {} ({}): {}; in {}. Route: {}. {}",
                f.id, f.package, f.installed_version, f.severity.name(), fixed, where_,
                route.name(), advice
            )},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
                },
                "logicalLocations": logical,
            }],
            "partialFingerprints": {
                "regraftFinding/v1": format!("{}:{}:{}", f.id, f.package, f.installed_version),
            },
            "properties": {
                "package": f.package,
                "installedVersion": f.installed_version,
                "fixedVersions": f.fixed_versions,
                "severity": f.severity.name(),
                "part": f.part.name(),
                "layer": f.layer,
                "layerDiffId": layer.map(|l| l.diff_id.clone()),
                "layerDigest": layer.map(|l| l.digest.clone()),
                "route": route.name(),
            },
        }));
    }
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {
                "name": "regraft",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
            "properties": {
                "imageName": t.image.name,
                "manifestDigest": t.image.manifest_digest,
                "configDigest": t.image.config_digest,
                "report": t.report.file,
            },
        }],
    })
}
