//! SPDX 2.3 JSON (<https://spdx.github.io/spdx-spec/v2.3/>): the document DESCRIBES the image
//! (a package with `primaryPackagePurpose` CONTAINER, its manifest digest as checksum), which
//! CONTAINS each OS package. A package has its purl as a PACKAGE-MANAGER external reference,
//! its source package in `sourceInfo`, its layer in `comment`, and its licenses as
//! `licenseDeclared`: an SPDX expression when the text is one, else `LicenseRef-*` ids whose
//! names go in `hasExtractedLicensingInfos`. Nothing is concluded (`licenseConcluded` is
//! NOASSERTION: regraft read a declaration, it did not analyse files).

use super::{Inventory, Item, license};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `SPDXRef-` and `s` with every character outside `[A-Za-z0-9.-]` as `-`.
fn spdx_id(s: &str) -> String {
    let body: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{body}")
}

/// `licenseDeclared` for one package; LicenseRefs it uses are added to `refs` (id -> name).
fn declared(item: &Item, refs: &mut BTreeMap<String, String>) -> String {
    if item.licenses.is_empty() {
        return "NOASSERTION".into();
    }
    let parts: Vec<String> = item
        .licenses
        .iter()
        .map(|l| {
            if let Some(c) = license::canonical(l) {
                if item.licenses.len() > 1 && c.contains(' ') {
                    format!("({c})")
                } else {
                    c
                }
            } else {
                let id = license::license_ref(l);
                refs.insert(id.clone(), l.clone());
                id
            }
        })
        .collect();
    parts.join(" AND ")
}

/// The whole document.
pub fn document(inv: &Inventory) -> Value {
    let mut refs = BTreeMap::new();
    let mut packages = Vec::new();
    let mut rels = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    let name = inv
        .tags
        .first()
        .cloned()
        .unwrap_or_else(|| inv.image_name.clone());
    let mut image_comment = format!(
        "config {}; layers (diff_ids) {}",
        inv.config_digest,
        inv.diff_ids.join(" ")
    );
    if let Some(b) = &inv.base_name {
        image_comment.push_str(&format!("; base {b}"));
    }
    if let Some(b) = &inv.base_digest {
        image_comment.push_str(&format!("; base digest {b}"));
    }
    packages.push(json!({
        "name": name,
        "SPDXID": "SPDXRef-Image",
        "versionInfo": inv.manifest_digest,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "checksums": [{"algorithm": "SHA256", "checksumValue": inv.manifest_digest.trim_start_matches("sha256:")}],
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "comment": image_comment,
    }));
    if let Some(d) = &inv.distro {
        packages.push(json!({
            "name": d.id,
            "SPDXID": "SPDXRef-OperatingSystem",
            "versionInfo": d.version_id,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "OPERATING-SYSTEM",
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
        }));
        rels.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": "SPDXRef-OperatingSystem",
        }));
    }
    for (i, item) in inv.items.iter().enumerate() {
        let id = spdx_id(&format!("Package-{}-{}-{i}", item.db.name(), item.name));
        let mut p = json!({
            "name": item.name,
            "SPDXID": id,
            "versionInfo": item.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "LIBRARY",
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": declared(item, &mut refs),
            "copyrightText": "NOASSERTION",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": item.purl,
            }],
        });
        if let Some(s) = &item.source_package {
            let v = item.source_version.as_deref().unwrap_or(&item.version);
            p["sourceInfo"] = format!("built package from: {s} {v}").into();
        }
        if let Some(l) = &item.layer {
            p["comment"] = format!(
                "{} database record last written by layer {} (diff_id {}, digest {})",
                item.db.name(),
                l.index,
                l.diff_id,
                l.digest
            )
            .into();
        }
        packages.push(p);
        rels.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!(
            "https://regraft.invalid/spdx/{}",
            inv.manifest_digest.replace(':', "-")
        ),
        "creationInfo": {
            "created": inv.timestamp,
            "creators": [format!("Tool: regraft-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": rels,
    });
    if !refs.is_empty() {
        doc["hasExtractedLicensingInfos"] = refs
            .into_iter()
            .map(|(id, name)| {
                json!({
                    "licenseId": id,
                    "name": name,
                    "extractedText": format!("The package's database or copyright file names this license: {name}"),
                })
            })
            .collect();
    }
    doc
}
