//! VEX in: `triage --vex FILE` reads "not affected" and "fixed" decisions, as OpenVEX
//! (<https://github.com/openvex/spec>, v0.0.1 and v0.2.0) or CycloneDX VEX (a BOM whose
//! `vulnerabilities[].analysis.state` says it), and takes out the findings they cover, each
//! listed as ignored with the statement's status and justification.
//!
//! A statement covers a finding when it names the finding's vulnerability and its product is
//! this image (an identifier that holds the image's manifest or config digest: `pkg:oci/NAME@sha256%3A...`,
//! `NAME@sha256:...`, `sha256:...`) with no subcomponents, or a package: the image with the
//! package as a subcomponent, or the package's purl alone (as Trivy reads VEX). A package purl
//! matches a finding by name, and by version when it has one (rpm's epoch qualifier included).
//! `affected` and `under_investigation` statements take nothing out. A file none of whose
//! statements is about this image or its packages is an error: it is about another product.

use super::document::TriagedFinding;
use super::report::{field, items, text};
use crate::error::{Error, IoContext, Result};
use serde_json::Value;
use std::path::Path;

/// What a statement says of its vulnerability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    NotAffected,
    Fixed,
    /// `affected`, `under_investigation` (CycloneDX `exploitable`, `in_triage`): kept.
    Other,
}

/// A package named by a purl: its name and, when given, its version (as the ecosystem writes
/// it, rpm's epoch put back in front).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageRef {
    pub name: String,
    pub version: Option<String>,
}

/// What a statement is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The whole image.
    Image,
    /// These packages (of this image, or anywhere: a purl alone).
    Packages(Vec<PackageRef>),
}

#[derive(Clone, Debug)]
pub struct Statement {
    /// The vulnerability and its aliases.
    pub ids: Vec<String>,
    pub status: Status,
    pub justification: Option<String>,
    pub impact: Option<String>,
    pub scope: Scope,
    /// The file, for the reason the triage lists.
    pub file: String,
}

/// This image's identifiers: the manifest and config digests' hex.
pub struct ImageIds<'a> {
    pub manifest_hex: &'a str,
    pub config_hex: &'a str,
}

impl ImageIds<'_> {
    fn names_image(&self, id: &str) -> bool {
        let id = id.to_ascii_lowercase();
        id.contains(self.manifest_hex) || id.contains(self.config_hex)
    }
}

/// A purl's name and version (`pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64` ->
/// libc6, 2.36-9+deb12u4); an rpm `epoch` qualifier is put back as `E:`.
pub fn purl_package(purl: &str) -> Option<PackageRef> {
    let rest = purl.strip_prefix("pkg:")?;
    let (path, quals) = rest.split_once('?').unwrap_or((rest, ""));
    let path = path.split('#').next().unwrap_or(path);
    let (path, version) = match path.rsplit_once('@') {
        Some((p, v)) => (p, Some(unescape(v))),
        None => (path, None),
    };
    let name = unescape(path.rsplit('/').next()?);
    if name.is_empty() || !path.contains('/') {
        return None;
    }
    let epoch = quals
        .split('&')
        .find_map(|q| q.strip_prefix("epoch="))
        .filter(|e| !e.is_empty() && *e != "0");
    let version = match (version, epoch) {
        (Some(v), Some(e)) => Some(format!("{e}:{v}")),
        (v, _) => v,
    };
    Some(PackageRef { name, version })
}

/// Percent-decoding of a purl part.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(x) = u8::from_str_radix(h, 16)
        {
            out.push(x);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl PackageRef {
    fn matches(&self, f: &TriagedFinding) -> bool {
        self.name == f.package
            && self
                .version
                .as_deref()
                .is_none_or(|v| v == f.installed_version)
    }
}

impl Statement {
    /// The reason a covered finding is listed with.
    pub fn reason(&self) -> String {
        let status = match self.status {
            Status::NotAffected => "not_affected",
            Status::Fixed => "fixed",
            Status::Other => "affected",
        };
        let mut s = format!("VEX {}: {status}", self.file);
        if let Some(j) = &self.justification {
            s.push_str(&format!(" ({j})"));
        }
        if let Some(i) = &self.impact {
            s.push_str(&format!(": {i}"));
        }
        s
    }

    /// Whether this statement takes `f` out.
    pub fn covers(&self, f: &TriagedFinding) -> bool {
        if self.status == Status::Other || !self.ids.iter().any(|i| i == &f.id) {
            return false;
        }
        match &self.scope {
            Scope::Image => true,
            Scope::Packages(p) => p.iter().any(|p| p.matches(f)),
        }
    }
}

/// Reads one VEX file; `packages` are this image's (name, version), to tell a statement about
/// one of them from one about another product.
pub fn read_vex(
    path: &Path,
    image: &ImageIds<'_>,
    packages: &[(String, String)],
) -> Result<Vec<Statement>> {
    let bytes = std::fs::read(path).at(path)?;
    let what = path.display().to_string();
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::format_from(&what, "not JSON", e))?;
    let (statements, products) = if text(&v, "bomFormat") == Some("CycloneDX") {
        cyclonedx(&v, image, &what)?
    } else if text(&v, "@context").is_some_and(|c| c.contains("openvex")) {
        openvex(&v, image, &what)?
    } else {
        return Err(Error::format(
            &what,
            "neither OpenVEX (@context openvex) nor CycloneDX VEX (bomFormat CycloneDX)",
        ));
    };
    let about_us = statements.iter().any(|s| match &s.scope {
        Scope::Image => true,
        Scope::Packages(ps) => ps.iter().any(|p| {
            packages
                .iter()
                .any(|(n, v)| *n == p.name && p.version.as_deref().is_none_or(|x| x == v))
        }),
    });
    if !about_us {
        let mut shown: Vec<String> = products.into_iter().take(3).collect();
        if shown.is_empty() {
            shown.push("no product".into());
        }
        return Err(Error::Invalid(format!(
            "{what}: the VEX is about another product ({}), not this image (manifest sha256:{}, config sha256:{}) or its packages",
            crate::text::sanitize(&shown.join(", ")),
            image.manifest_hex,
            image.config_hex
        )));
    }
    Ok(statements)
}

/// OpenVEX statements; also every product identifier seen (for the error).
fn openvex(v: &Value, image: &ImageIds<'_>, what: &str) -> Result<(Vec<Statement>, Vec<String>)> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for s in items(v, "statements") {
        let vuln = field(s, "vulnerability");
        let mut ids: Vec<String> = match vuln {
            Value::String(x) => vec![x.clone()],
            _ => text(vuln, "name").map(str::to_string).into_iter().collect(),
        };
        ids.extend(
            items(vuln, "aliases")
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
        if ids.is_empty() {
            return Err(Error::format(what, "a statement names no vulnerability"));
        }
        let status = match text(s, "status") {
            Some("not_affected") => Status::NotAffected,
            Some("fixed") => Status::Fixed,
            Some("affected" | "under_investigation") => Status::Other,
            other => {
                return Err(Error::format(
                    what,
                    format!(
                        "a statement's status is {other:?}; OpenVEX has not_affected, affected, fixed, under_investigation"
                    ),
                ));
            }
        };
        let mut pkgs = Vec::new();
        let mut image_scope = false;
        // v0.0.1 lists product IDs as strings and subcomponents beside them.
        let products: Vec<&Value> = items(s, "products").collect();
        for p in &products {
            let id = match p {
                Value::String(x) => x.as_str(),
                _ => text(p, "@id").unwrap_or(""),
            };
            seen.push(id.to_string());
            let subs: Vec<&str> = items(p, "subcomponents")
                .chain(items(s, "subcomponents"))
                .filter_map(|c| match c {
                    Value::String(x) => Some(x.as_str()),
                    _ => text(c, "@id"),
                })
                .collect();
            if image.names_image(id) {
                if subs.is_empty() {
                    image_scope = true;
                }
                pkgs.extend(subs.iter().filter_map(|c| purl_package(c)));
            } else if let Some(pr) = purl_package(id) {
                pkgs.push(pr);
            }
        }
        let scope = if image_scope {
            Scope::Image
        } else {
            Scope::Packages(pkgs)
        };
        out.push(Statement {
            ids,
            status,
            justification: text(s, "justification").map(str::to_string),
            impact: text(s, "impact_statement")
                .or_else(|| text(s, "status_notes"))
                .map(str::to_string),
            scope,
            file: what.to_string(),
        });
    }
    Ok((out, seen))
}

/// CycloneDX VEX: `vulnerabilities[]` with `analysis.state` and `affects[].ref`, a ref being a
/// component's `bom-ref` (its purl counts), a BOM-Link (`urn:cdx:...#bom-ref`) or a purl; the
/// BOM's `metadata.component` is the product.
fn cyclonedx(v: &Value, image: &ImageIds<'_>, what: &str) -> Result<(Vec<Statement>, Vec<String>)> {
    let meta = field(field(v, "metadata"), "component");
    let meta_ref = text(meta, "bom-ref");
    let meta_ids: Vec<&str> = ["bom-ref", "purl", "version", "name"]
        .iter()
        .filter_map(|k| text(meta, k))
        .collect();
    let is_image = meta_ids.iter().any(|i| image.names_image(i));
    let purl_of = |r: &str| -> Option<String> {
        let r = r.rsplit_once('#').map(|(_, x)| x).unwrap_or(r);
        items(v, "components")
            .find(|c| text(c, "bom-ref") == Some(r))
            .and_then(|c| text(c, "purl"))
            .map(str::to_string)
            .or_else(|| r.starts_with("pkg:").then(|| r.to_string()))
    };
    let mut out = Vec::new();
    let mut seen: Vec<String> = meta_ids.iter().map(|s| s.to_string()).collect();
    for x in items(v, "vulnerabilities") {
        let Some(id) = text(x, "id") else {
            return Err(Error::format(what, "a vulnerability has no id"));
        };
        let a = field(x, "analysis");
        let status = match text(a, "state") {
            Some("not_affected" | "false_positive") => Status::NotAffected,
            Some("resolved" | "resolved_with_pedigree") => Status::Fixed,
            Some(_) => Status::Other,
            None => continue, // a finding, not a decision
        };
        let mut pkgs = Vec::new();
        let mut image_scope = false;
        for r in items(x, "affects").filter_map(|r| text(r, "ref")) {
            seen.push(r.to_string());
            let bare = r.rsplit_once('#').map(|(_, x)| x).unwrap_or(r);
            if Some(bare) == meta_ref || image.names_image(r) {
                image_scope |= is_image || image.names_image(r);
            } else if let Some(p) = purl_of(r).as_deref().and_then(purl_package) {
                pkgs.push(p);
            }
        }
        let mut ids = vec![id.to_string()];
        ids.extend(
            items(x, "references")
                .filter_map(|r| text(r, "id"))
                .map(str::to_string),
        );
        out.push(Statement {
            ids,
            status,
            justification: text(a, "justification").map(str::to_string),
            impact: text(a, "detail").map(str::to_string),
            scope: if image_scope {
                Scope::Image
            } else {
                Scope::Packages(pkgs)
            },
            file: what.to_string(),
        });
    }
    Ok((out, seen))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_name_packages() {
        let p = purl_package("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12")
            .unwrap();
        assert_eq!(
            (p.name.as_str(), p.version.as_deref()),
            ("libc6", Some("2.36-9+deb12u4"))
        );
        let p =
            purl_package("pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1").unwrap();
        assert_eq!(p.version.as_deref(), Some("1:3.0.7-27.el9"));
        let p = purl_package("pkg:golang/stdlib").unwrap();
        assert_eq!((p.name.as_str(), p.version), ("stdlib", None));
        assert_eq!(purl_package("sha256:abc"), None);
        assert_eq!(purl_package("pkg:x"), None);
    }
}
