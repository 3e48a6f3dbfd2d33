//! VEX out: `diff OLD NEW --report R --vex-out FILE` states, as OpenVEX v0.2.0, what the two
//! package databases prove about NEW for the findings of R (a report of OLD): `fixed` where NEW's
//! database has the package at or past every fixed version, `not_affected` with
//! `component_not_present` where NEW's database no longer lists it, both versions in the impact
//! statement. Nothing else: a finding that remains, one without a fixed version, a language
//! package (which no package database lists) get no statement.
//!
//! The product is NEW as `pkg:oci/NAME@sha256:<manifest digest>` (NAME the last part of its
//! first tag's repository, else `image`), the package a subcomponent by its purl (NEW's version
//! for `fixed`, OLD's for `not_affected`).

use super::findings::{FindingChanges, FindingOutcome};
use crate::model::image::Image;
use crate::packages::{PackageDb, purl::purl};
use serde_json::{Value, json};

/// NEW's OCI purl.
pub fn image_purl(img: &Image) -> String {
    let name = img
        .tags
        .first()
        .map(|t| {
            let repo = t
                .rsplit_once(':')
                .filter(|(_, tag)| !tag.contains('/'))
                .map_or(t.as_str(), |(r, _)| r);
            repo.rsplit('/').next().unwrap_or(repo).to_ascii_lowercase()
        })
        .filter(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
        })
        .unwrap_or_else(|| "image".into());
    format!("pkg:oci/{name}@sha256%3A{}", img.manifest_digest.hex())
}

fn statement(
    o: &FindingOutcome,
    product: &str,
    sub: Option<String>,
    status: &str,
    impact: String,
) -> Value {
    let mut p = json!({"@id": product});
    if let Some(s) = sub {
        p["subcomponents"] = json!([{"@id": s}]);
    }
    let mut s = json!({
        "vulnerability": {"name": o.id},
        "products": [p],
        "status": status,
        "impact_statement": impact,
    });
    if status == "not_affected" {
        s["justification"] = "component_not_present".into();
    }
    s
}

/// The OpenVEX document; `timestamp` is RFC 3339 (from SOURCE_DATE_EPOCH or NEW's `created`).
pub fn openvex(
    f: &FindingChanges,
    new: &Image,
    old_db: &PackageDb,
    new_db: &PackageDb,
    timestamp: &str,
) -> Value {
    let product = image_purl(new);
    let mut statements = Vec::new();
    for o in &f.fixed {
        let Some(p) = new_db.find(&o.package, None) else {
            continue;
        };
        statements.push(statement(
            o,
            &product,
            Some(purl(p, new_db.distro.as_ref())),
            "fixed",
            format!(
                "OLD's package database lists {} {}; NEW's lists {} {}, at or past the fixed version {}",
                o.package,
                o.installed_version,
                o.package,
                p.version,
                o.fixed_versions.join(", ")
            ),
        ));
    }
    for o in &f.removed {
        let sub = old_db
            .find(&o.package, None)
            .filter(|p| p.version == o.installed_version)
            .map(|p| purl(p, old_db.distro.as_ref()));
        statements.push(statement(
            o,
            &product,
            sub,
            "not_affected",
            format!(
                "OLD's package database lists {} {}; NEW's does not list {}",
                o.package, o.installed_version, o.package
            ),
        ));
    }
    json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": format!("https://regraft.invalid/vex/{}", new.manifest_digest.hex()),
        "author": "regraft",
        "role": "Document Creator",
        "timestamp": timestamp,
        "version": 1,
        "tooling": format!("regraft {} (diff --vex-out)", env!("CARGO_PKG_VERSION")),
        "statements": statements,
    })
}
