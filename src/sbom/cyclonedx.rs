//! CycloneDX 1.6 JSON (<https://cyclonedx.org/docs/1.6/json/>), in the shape Trivy writes for
//! an image (`trivy image -f cyclonedx`, Trivy's docs "SBOM > CycloneDX"): the image as
//! `metadata.component` (type `container`) with Trivy's `aquasecurity:trivy:ImageID`,
//! `DiffID` and `RepoTag` properties, the distribution as an `operating-system` component,
//! each package a `library` with its purl and Trivy's `LayerDiffID`, `LayerDigest`, `PkgType`,
//! `SrcName`/`SrcVersion` properties. A scanner that reads those (`trivy sbom`) then reports
//! the image's layers, and `regraft triage` can join its report to the image.
//! regraft's own properties (`regraft:*`) say the layer index and the database.

use super::{Inventory, Item, license};
use crate::packages::Db;
use serde_json::{Value, json};

const IMAGE_REF: &str = "image";
const OS_REF: &str = "operating-system";

fn prop(name: &str, value: impl Into<String>) -> Value {
    json!({"name": name, "value": value.into()})
}

/// Trivy's `PkgType` for an OS package: the distribution family (`debian`, `alpine`,
/// `redhat`, ...).
pub fn pkg_type(inv: &Inventory, db: Db) -> String {
    match inv.distro.as_ref().map(|d| d.id.as_str()) {
        Some("rhel") => "redhat".into(),
        Some(id) => id.to_string(),
        None => match db {
            Db::Dpkg | Db::DpkgStatusD => "debian".into(),
            Db::Apk => "alpine".into(),
            Db::Rpm => "redhat".into(),
        },
    }
}

/// CycloneDX `licenses`: one SPDX id or expression when the text is one, else each name.
fn licenses(item: &Item) -> Value {
    if let [one] = item.licenses.as_slice()
        && let Some(c) = license::canonical(one)
    {
        return if c.contains([' ', '+', '(']) {
            json!([{"expression": c}])
        } else {
            json!([{"license": {"id": c}}])
        };
    }
    Value::Array(
        item.licenses
            .iter()
            .map(|l| match license::canonical(l) {
                Some(c) if !c.contains([' ', '+', '(']) => json!({"license": {"id": c}}),
                _ => json!({"license": {"name": l}}),
            })
            .collect(),
    )
}

fn component(inv: &Inventory, item: &Item, bom_ref: &str) -> Value {
    let mut props = Vec::new();
    if let Some(l) = &item.layer {
        props.push(prop("aquasecurity:trivy:LayerDiffID", &l.diff_id));
        props.push(prop("aquasecurity:trivy:LayerDigest", &l.digest));
    }
    props.push(prop(
        "aquasecurity:trivy:PkgID",
        format!("{}@{}", item.name, item.version),
    ));
    props.push(prop("aquasecurity:trivy:PkgType", pkg_type(inv, item.db)));
    let src_name = item.source_package.as_deref().unwrap_or(&item.name);
    props.push(prop("aquasecurity:trivy:SrcName", src_name));
    let (epoch, rest) = match item.version.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => (Some(e), r),
        _ => (None, item.version.as_str()),
    };
    let src = item.source_version_or(rest);
    if item.db == Db::Rpm {
        // Trivy splits an rpm source's version and release, and keeps the epoch apart.
        let (v, r) = src.rsplit_once('-').unwrap_or((src, ""));
        props.push(prop("aquasecurity:trivy:SrcVersion", v));
        if !r.is_empty() {
            props.push(prop("aquasecurity:trivy:SrcRelease", r));
        }
        if let Some(e) = epoch {
            props.push(prop("aquasecurity:trivy:SrcEpoch", e));
        }
    } else {
        let full = item.source_version.as_deref().unwrap_or(&item.version);
        props.push(prop("aquasecurity:trivy:SrcVersion", full));
    }
    props.push(prop("regraft:package_db", item.db.name()));
    if let Some(l) = &item.layer {
        props.push(prop("regraft:layer", l.index.to_string()));
    }
    if !item.arch.is_empty() {
        props.push(prop("regraft:arch", &item.arch));
    }
    props.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let mut c = json!({
        "bom-ref": bom_ref,
        "type": "library",
        "name": item.name,
        "version": item.version,
        "purl": item.purl,
        "properties": props,
    });
    if !item.licenses.is_empty() {
        c["licenses"] = licenses(item);
    }
    c
}

impl Item {
    /// The source package's version, or `fallback` (the package's own).
    fn source_version_or<'a>(&'a self, fallback: &'a str) -> &'a str {
        self.source_version.as_deref().unwrap_or(fallback)
    }
}

/// The whole document.
pub fn document(inv: &Inventory) -> Value {
    let mut used = std::collections::BTreeSet::new();
    let mut refs = Vec::new();
    let mut components = Vec::new();
    for (i, item) in inv.items.iter().enumerate() {
        let mut r = item.purl.clone();
        if !used.insert(r.clone()) {
            r = format!("{}#{i}", item.purl);
            used.insert(r.clone());
        }
        components.push(component(inv, item, &r));
        refs.push(r);
    }
    let mut image_props = vec![prop("aquasecurity:trivy:ImageID", &inv.config_digest)];
    for d in &inv.diff_ids {
        image_props.push(prop("aquasecurity:trivy:DiffID", d));
    }
    for t in &inv.tags {
        image_props.push(prop("aquasecurity:trivy:RepoTag", t));
    }
    image_props.push(prop("aquasecurity:trivy:SchemaVersion", "2"));
    image_props.push(prop("regraft:manifest_digest", &inv.manifest_digest));
    if let Some(b) = &inv.base_name {
        image_props.push(prop("org.opencontainers.image.base.name", b));
    }
    if let Some(b) = &inv.base_digest {
        image_props.push(prop("org.opencontainers.image.base.digest", b));
    }
    for d in &inv.databases {
        image_props.push(prop("regraft:package_database", format!("/{d}")));
    }
    let mut deps = Vec::new();
    let mut image_deps = Vec::new();
    if let Some(d) = &inv.distro {
        components.push(json!({
            "bom-ref": OS_REF,
            "type": "operating-system",
            "name": d.id,
            "version": d.version_id,
            "properties": [
                prop("aquasecurity:trivy:Class", "os-pkgs"),
                prop("aquasecurity:trivy:Type", d.id.clone()),
            ],
        }));
        deps.push(json!({"ref": OS_REF, "dependsOn": refs}));
        image_deps.push(OS_REF.to_string());
    } else {
        image_deps.extend(refs.iter().cloned());
    }
    deps.insert(0, json!({"ref": IMAGE_REF, "dependsOn": image_deps}));
    for r in &refs {
        deps.push(json!({"ref": r, "dependsOn": []}));
    }
    let name = inv
        .tags
        .first()
        .cloned()
        .unwrap_or_else(|| inv.image_name.clone());
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", super::uuid_from(&inv.manifest_digest)),
        "version": 1,
        "metadata": {
            "timestamp": inv.timestamp,
            "tools": {"components": [{
                "type": "application",
                "name": "regraft",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": {
                "bom-ref": IMAGE_REF,
                "type": "container",
                "name": name,
                "version": inv.manifest_digest,
                "hashes": [{"alg": "SHA-256", "content": inv.manifest_digest.trim_start_matches("sha256:")}],
                "properties": image_props,
            },
        },
        "components": components,
        "dependencies": deps,
    })
}
