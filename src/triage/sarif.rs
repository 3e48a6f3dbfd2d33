//! SARIF 2.1.0 as Trivy and Grype write it, into the scanner-neutral [`Report`]. SARIF is
//! made for source code, so both put a finding's package into text; this reads it back.
//!
//! - Trivy (`trivy image -f sarif`; `pkg/report/sarif.go`): `runs[0].tool.driver.name` is
//!   "Trivy"; `runs[0].properties.imageID` is the config digest (no layers anywhere: findings
//!   are placed by the image's package database); a result's `ruleId` is the vulnerability ID,
//!   its `message.text` the lines `Package: P`, `Installed Version: V`, `Vulnerability ID`,
//!   `Severity: S`, `Fixed Version: F`; its rule's `name` is `OsPackageVulnerability` for an
//!   OS package, and its location's `artifactLocation.uri` the file of a language package.
//! - Grype (`grype -o sarif`; `grype/presenter/sarif`, snapshot
//!   `TestSarifPresenter_image.golden`): `tool.driver.name` is "grype"; a rule per
//!   (vulnerability, package) whose `help.text` has the lines `Vulnerability ID`, `Severity: s`,
//!   `Package: p`, `Version: v`, `Fix Version: f1,f2`, `Type: t`; a result's
//!   `locations[].logicalLocations[].fullyQualifiedName` is `INPUT@LAYER:PATH`, LAYER a layer's
//!   diff_id without `sha256:` (no image ID: the layers named are all that ties the report to
//!   an image).

use super::grype;
use super::report::{
    Finding, LayerHint, Report, ReportFormat, Scanner, Severity, digest_at, field, items,
    split_fixed, text,
};
use crate::error::{Error, Result};
use crate::model::digest::{DiffId, Digest};
use serde_json::Value;
use std::collections::HashMap;

/// `Key: value` lines of a SARIF text, first of each key.
fn lines(t: &str) -> HashMap<&str, &str> {
    let mut m = HashMap::new();
    for l in t.lines() {
        if let Some((k, v)) = l.split_once(": ") {
            m.entry(k.trim()).or_insert(v.trim());
        } else if let Some((k, v)) = l.split_once(' ') {
            // `Vulnerability CVE-1`
            m.entry(k.trim()).or_insert(v.trim());
        }
    }
    m
}

pub fn parse(v: &Value, what: &str) -> Result<Report> {
    let runs: Vec<&Value> = items(v, "runs").collect();
    let [run] = runs.as_slice() else {
        return Err(Error::format(
            what,
            format!("SARIF with {} runs; Trivy and Grype write one", runs.len()),
        ));
    };
    let driver = field(field(run, "tool"), "driver");
    let name = text(driver, "name").unwrap_or("").to_ascii_lowercase();
    let rules: Vec<&Value> = items(driver, "rules").collect();
    let by_id: HashMap<&str, &Value> = rules
        .iter()
        .filter_map(|r| Some((text(r, "id")?, *r)))
        .collect();
    let results = items(run, "results");
    if name == "trivy" {
        let props = field(run, "properties");
        let findings = results
            .map(|r| trivy_finding(r, &rules, &by_id, what))
            .collect::<Result<_>>()?;
        Ok(Report {
            scanner: Scanner::Trivy,
            diff_ids: Vec::new(),
            image_id: digest_at(props, "imageID", "runs[0].properties.imageID", what)?,
            manifest_digest: None,
            artifact: text(props, "imageName").map(str::to_string),
            format: ReportFormat::Sarif,
            findings,
        })
    } else if name == "grype" {
        let findings = results
            .map(|r| grype_finding(r, &by_id, what))
            .collect::<Result<_>>()?;
        Ok(Report {
            scanner: Scanner::Grype,
            diff_ids: Vec::new(),
            image_id: None,
            manifest_digest: None,
            artifact: None,
            format: ReportFormat::Sarif,
            findings,
        })
    } else {
        Err(Error::format(
            what,
            format!("SARIF from {name:?}: regraft reads Trivy's and Grype's"),
        ))
    }
}

/// The rule a result refers to: by `ruleIndex`, else by `ruleId`.
fn rule_of<'a>(
    r: &Value,
    rules: &[&'a Value],
    by_id: &HashMap<&str, &'a Value>,
) -> Option<&'a Value> {
    r.get("ruleIndex")
        .and_then(Value::as_u64)
        .and_then(|i| rules.get(usize::try_from(i).ok()?).copied())
        .filter(|rule| text(rule, "id") == text(r, "ruleId"))
        .or_else(|| by_id.get(text(r, "ruleId")?).copied())
}

fn trivy_finding(
    r: &Value,
    rules: &[&Value],
    by_id: &HashMap<&str, &Value>,
    what: &str,
) -> Result<Finding> {
    let msg = text(field(r, "message"), "text").unwrap_or("");
    let m = lines(msg);
    let (Some(id), Some(pkg)) = (text(r, "ruleId"), m.get("Package")) else {
        return Err(Error::format(
            what,
            "a result has no ruleId or no \"Package:\" line in its message",
        ));
    };
    let rule = rule_of(r, rules, by_id);
    let os = rule.and_then(|x| text(x, "name")) == Some("OsPackageVulnerability");
    let uri = items(r, "locations")
        .next()
        .map(|l| field(field(l, "physicalLocation"), "artifactLocation"))
        .and_then(|a| text(a, "uri"));
    Ok(Finding {
        id: id.to_string(),
        package: pkg.to_string(),
        installed: m.get("Installed Version").unwrap_or(&"").to_string(),
        fixed: split_fixed(m.get("Fixed Version").unwrap_or(&"")),
        severity: Severity::from_report(m.get("Severity").unwrap_or(&"")),
        layer: LayerHint::default(),
        pkg_type: String::new(),
        os_package: os,
        paths: match uri {
            Some(u) if !os => vec![u.trim_start_matches('/').to_string()],
            _ => Vec::new(),
        },
        title: rule
            .map(|x| field(field(x, "shortDescription"), "text"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        status: None,
    })
}

fn grype_finding(r: &Value, by_id: &HashMap<&str, &Value>, what: &str) -> Result<Finding> {
    let rule = text(r, "ruleId")
        .and_then(|id| by_id.get(id))
        .ok_or_else(|| Error::format(what, "a result's ruleId names no rule of the run"))?;
    let help = text(field(rule, "help"), "text").unwrap_or("");
    let h = lines(help);
    let (Some(id), Some(pkg)) = (h.get("Vulnerability"), h.get("Package")) else {
        return Err(Error::format(
            what,
            "a rule's help has no \"Vulnerability\" or \"Package:\" line",
        ));
    };
    let ptype = h.get("Type").unwrap_or(&"").to_string();
    let mut diff_id = None;
    let mut paths = Vec::new();
    for l in items(r, "locations") {
        for ll in items(l, "logicalLocations") {
            let Some(fq) = text(ll, "fullyQualifiedName") else {
                continue;
            };
            // INPUT@LAYER:PATH; INPUT may hold '@' and ':' itself (a digest reference).
            let Some((head, path)) = fq.rsplit_once(":/").map(|(h, p)| (h, format!("/{p}"))) else {
                continue;
            };
            let layer = head.rsplit_once('@').map(|(_, l)| l).unwrap_or("");
            if diff_id.is_none() && layer.len() == 64 {
                diff_id = Some(DiffId(Digest::parse(&format!("sha256:{layer}")).map_err(
                    |e| Error::format_from(what, "logicalLocations[].fullyQualifiedName", e),
                )?));
            }
            paths.push(path.trim_start_matches('/').to_string());
        }
    }
    Ok(Finding {
        id: id.to_string(),
        package: pkg.to_string(),
        installed: h.get("Version").unwrap_or(&"").to_string(),
        fixed: split_fixed(h.get("Fix Version").unwrap_or(&"")),
        severity: Severity::from_report(h.get("Severity").unwrap_or(&"")),
        layer: LayerHint {
            diff_id,
            digest: None,
        },
        os_package: grype::OS_TYPES.contains(&ptype.as_str()),
        pkg_type: ptype,
        paths,
        title: text(field(rule, "fullDescription"), "text").map(|d| d.chars().take(120).collect()),
        status: None,
    })
}
