//! The package database merge (layer mode): when the application layers carry a dpkg
//! database, that database is the vendor's OLD OS's, and it hides the new base's. One small
//! extra layer on top puts back a merged one:
//! - `var/lib/dpkg/status`: the new base's stanzas, plus the stanzas of the packages the vendor
//!   added on top of its old base (a stanza of the same package and architecture in the base is
//!   replaced: the vendor's files are the ones on top). A package the vendor changed that the
//!   new base lacks entirely also keeps the vendor's stanza (its files are there);
//! - `var/lib/dpkg/info/*`: the new base's files where the application layers replaced or
//!   deleted them for a package whose record is the base's; whiteouts for the vendor's info
//!   files of packages whose record is not kept. The vendor's info files of the packages it
//!   added stay as the application layers wrote them.
//!
//! apk and distroless `status.d` databases are not merged (an apk database is one file whose
//! format keeps the file lists inline; `status.d` has no shared file to shadow).

use crate::codec::compress::{Codec, Compression, Encoder};
use crate::error::{Error, Result};
use crate::layer::entry::{Kind, Meta};
use crate::layer::tarw::{OutKind, TarWriter};
use crate::model::digest::{DiffId, Digest};
use crate::model::image::{BlobData, Layer};
use crate::model::out::{OutBlob, OutImage};
use crate::model::spec::{self, Descriptor};
use crate::view::fs::Fs;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;

#[derive(Clone, Debug, Serialize)]
pub struct MergeSummary {
    pub base_packages: usize,
    /// `name version` of the vendor's packages kept in the merged database.
    pub vendor_packages: Vec<String>,
    pub restored_info_files: usize,
    pub removed_info_files: usize,
    /// Set once the layer is added to an image.
    pub layer_digest: Option<String>,
}

impl MergeSummary {
    pub fn text(&self) -> String {
        format!(
            "package database: the application layers carry the old OS's dpkg database; an extra layer merges it: the new base's {} package(s) plus the vendor's {} ({}); {} info file(s) of base packages restored, {} removed{}",
            self.base_packages,
            self.vendor_packages.len(),
            if self.vendor_packages.is_empty() {
                "none".to_string()
            } else {
                self.vendor_packages.join(", ")
            },
            self.restored_info_files,
            self.removed_info_files,
            self.layer_digest
                .as_deref()
                .map(|d| format!(" (layer {d})"))
                .unwrap_or_default()
        )
    }
}

/// A planned merge layer: its uncompressed tar and what it does.
pub struct MergeLayer {
    pub tar: Vec<u8>,
    pub summary: MergeSummary,
}

/// A base `info/` entry to put back: attributes, bytes, type.
type InfoFile = (Meta, Vec<u8>, Kind);

/// A dpkg status file's stanzas: (package, architecture, installed, text).
fn stanzas(text: &str) -> Vec<(String, String, bool, String)> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let para = para.trim_matches('\n');
        if para.is_empty() {
            continue;
        }
        let field = |k: &str| {
            para.lines()
                .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
                .unwrap_or_default()
        };
        let status = field("Status:");
        let state = status.split_whitespace().nth(2).unwrap_or("installed");
        let installed = state != "not-installed" && state != "config-files";
        out.push((
            field("Package:"),
            field("Architecture:"),
            installed,
            para.to_string(),
        ));
    }
    out
}

fn status_of(fs: &Fs, view: &crate::view::MergedView) -> Result<Option<(Vec<u8>, Meta)>> {
    match view.get(b"var/lib/dpkg/status") {
        Some(n) if n.kind == Kind::File => Ok(fs.data(n)?.map(|d| (d, n.meta.clone()))),
        _ => Ok(None),
    }
}

/// Plans the merge layer, or None when the application layers carry no dpkg database over a
/// base that has one. `old_base` is the vendor's old base (its status file), when known; else
/// "added" means "not in the new base".
pub fn plan(fs: &Fs, old_base: Option<&Fs>) -> Result<Option<MergeLayer>> {
    let b = fs.boundary;
    let Some(rn) = fs.result.get(b"var/lib/dpkg/status") else {
        return Ok(None);
    };
    if rn.layer < b {
        return Ok(None);
    }
    let (Some((base_bytes, base_meta)), Some((vendor_bytes, _))) =
        (status_of(fs, &fs.base)?, status_of(fs, &fs.result)?)
    else {
        return Ok(None);
    };
    let base_text = String::from_utf8_lossy(&base_bytes).into_owned();
    let vendor_text = String::from_utf8_lossy(&vendor_bytes).into_owned();
    let base = stanzas(&base_text);
    let vendor = stanzas(&vendor_text);
    let old: Option<BTreeSet<(String, String)>> = match old_base {
        Some(o) => status_of(o, &o.result)?.map(|(d, _)| {
            stanzas(&String::from_utf8_lossy(&d))
                .into_iter()
                .filter(|s| s.2)
                .map(|s| (s.0, s.1))
                .collect()
        }),
        None => None,
    };
    let base_names: BTreeSet<&str> = base.iter().map(|s| s.0.as_str()).collect();
    // Packages whose info/*.list the application layers wrote (the vendor touched them).
    let touched: BTreeSet<String> = fs
        .result
        .subtree(b"var/lib/dpkg/info")
        .filter(|(k, n)| n.layer >= b && k.ends_with(b".list"))
        .filter_map(|(k, _)| super::pkgs::info_package(k))
        .collect();
    let keep_vendor: Vec<&(String, String, bool, String)> = vendor
        .iter()
        .filter(|s| s.2)
        .filter(|s| {
            let added = match &old {
                Some(o) => !o.contains(&(s.0.clone(), s.1.clone())),
                None => !base_names.contains(s.0.as_str()),
            };
            added || (!base_names.contains(s.0.as_str()) && touched.contains(&s.0))
        })
        .collect();
    let vendor_keys: BTreeSet<(&str, &str)> = keep_vendor
        .iter()
        .map(|s| (s.0.as_str(), s.1.as_str()))
        .collect();
    let vendor_names: BTreeSet<&str> = keep_vendor.iter().map(|s| s.0.as_str()).collect();
    let mut merged = String::new();
    let mut base_count = 0;
    for s in &base {
        if vendor_keys.contains(&(s.0.as_str(), s.1.as_str())) {
            continue;
        }
        base_count += usize::from(s.2);
        merged.push_str(&s.3);
        merged.push_str("\n\n");
    }
    for s in &keep_vendor {
        merged.push_str(&s.3);
        merged.push_str("\n\n");
    }

    // info/ files: the base's, except for the packages whose vendor record is kept.
    // path -> the base's entry to restore, or None for a whiteout.
    let mut files: BTreeMap<Vec<u8>, Option<InfoFile>> = BTreeMap::new();
    let mut paths: BTreeSet<Vec<u8>> = BTreeSet::new();
    paths.extend(
        fs.base
            .subtree(b"var/lib/dpkg/info")
            .map(|(k, _)| k.clone()),
    );
    paths.extend(
        fs.result
            .subtree(b"var/lib/dpkg/info")
            .map(|(k, _)| k.clone()),
    );
    let (mut restored, mut removed) = (0, 0);
    for p in paths {
        let Some(pkg) = super::pkgs::info_package(&p) else {
            continue;
        };
        if vendor_names.contains(pkg.as_str()) {
            continue;
        }
        let r = fs.result.get(&p);
        match fs.base.get(&p) {
            Some(bn) => {
                if r.is_some_and(|r| r.layer < b) {
                    continue;
                }
                let data = match bn.kind {
                    Kind::File => fs.data(bn)?.ok_or_else(|| {
                        Error::Invalid(format!(
                            "internal: no data kept for the base's {}",
                            String::from_utf8_lossy(&p)
                        ))
                    })?,
                    _ => Vec::new(),
                };
                files.insert(p, Some((bn.meta.clone(), data, bn.kind.clone())));
                restored += 1;
            }
            None => {
                if r.is_some_and(|r| r.layer >= b) {
                    files.insert(p, None);
                    removed += 1;
                }
            }
        }
    }

    // The tar: parent directories with the base's attributes, the status file, info files.
    let io = |e: std::io::Error| Error::Invalid(format!("writing the package database layer: {e}"));
    let mut tw = TarWriter::new(Vec::new());
    for d in [
        &b"var"[..],
        b"var/lib",
        b"var/lib/dpkg",
        b"var/lib/dpkg/info",
    ] {
        let meta = fs.base.get(d).map(|n| n.meta.clone()).unwrap_or(Meta {
            mode: 0o755,
            ..Default::default()
        });
        if d == b"var/lib/dpkg/info" && files.is_empty() {
            continue;
        }
        tw.append_header(d, &OutKind::Dir, &meta).map_err(io)?;
    }
    let status = merged.into_bytes();
    let mut smeta = base_meta;
    smeta.mtime = smeta.mtime.max(rn.meta.mtime);
    smeta.pax_mtime = None;
    tw.append_header(
        b"var/lib/dpkg/status",
        &OutKind::File {
            size: status.len() as u64,
        },
        &smeta,
    )
    .map_err(io)?;
    tw.data().write_all(&status).map_err(io)?;
    tw.pad(status.len() as u64).map_err(io)?;
    for (p, f) in &files {
        match f {
            Some((meta, data, kind)) => {
                tw.append_header(p, &OutKind::from_kind(kind, data.len() as u64), meta)
                    .map_err(io)?;
                if *kind == Kind::File {
                    tw.data().write_all(data).map_err(io)?;
                    tw.pad(data.len() as u64).map_err(io)?;
                }
            }
            None => {
                let (dir, name) = match p.iter().rposition(|&c| c == b'/') {
                    Some(i) => (&p[..i], &p[i + 1..]),
                    None => (&[][..], &p[..]),
                };
                let mut wh = dir.to_vec();
                wh.extend_from_slice(b"/.wh.");
                wh.extend_from_slice(name);
                tw.append_marker(&wh).map_err(io)?;
            }
        }
    }
    let tar = tw.finish().map_err(io)?;
    Ok(Some(MergeLayer {
        tar,
        summary: MergeSummary {
            base_packages: base_count,
            vendor_packages: keep_vendor
                .iter()
                .map(|s| {
                    let v =
                        s.3.lines()
                            .find_map(|l| l.strip_prefix("Version:"))
                            .unwrap_or("")
                            .trim();
                    format!("{} {v}", s.0)
                })
                .collect(),
            restored_info_files: restored,
            removed_info_files: removed,
            layer_digest: None,
        },
    }))
}

/// Appends an uncompressed layer tar (gzip-compressed here) to a planned image: new config
/// (diff_ids, one history entry), new manifest, new top descriptor, docker entry.
pub fn append_layer(
    img: &OutImage,
    tar: &[u8],
    created_by: &str,
    created: Option<&str>,
) -> Result<(OutImage, Digest)> {
    let err = |m: &str| Error::Invalid(format!("adding the package database layer: {m}"));
    let codec = Codec::default_for(Compression::Gzip);
    let mut enc = Encoder::new(codec, Vec::new()).map_err(|e| err(&e.to_string()))?;
    enc.write_all(tar).map_err(|e| err(&e.to_string()))?;
    let blob = enc.finish().map_err(|e| err(&e.to_string()))?;
    let diff_id = DiffId(Digest::of(tar));
    let digest = Digest::of(&blob);
    let desc = Descriptor::new(
        spec::oci_layer_type(Compression::Gzip),
        digest.clone(),
        blob.len() as u64,
    );
    let docker = img
        .docker
        .clone()
        .ok_or_else(|| err("the image has no config entry"))?;

    let mut out = img.clone();
    let mut config: Option<Value> = None;
    let mut manifest: Option<Value> = None;
    for b in &img.blobs {
        if let OutBlob::Bytes { desc, bytes } = b {
            if desc.digest == docker.config {
                config = serde_json::from_slice(bytes).ok();
            } else if desc.digest == img.top.digest {
                manifest = serde_json::from_slice(bytes).ok();
            }
        }
    }
    let (mut config, mut manifest) = (
        config.ok_or_else(|| err("config not found"))?,
        manifest.ok_or_else(|| err("manifest not found"))?,
    );
    let diffs = config
        .pointer_mut("/rootfs/diff_ids")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| err("config has no rootfs.diff_ids"))?;
    diffs.push(Value::String(diff_id.to_string()));
    let obj = config
        .as_object_mut()
        .ok_or_else(|| err("config is not an object"))?;
    let mut h = serde_json::Map::new();
    if let Some(c) = created {
        h.insert("created".into(), Value::String(c.into()));
    }
    h.insert("created_by".into(), Value::String(created_by.into()));
    h.insert(
        "comment".into(),
        Value::String("regraft: merged package database".into()),
    );
    obj.entry("history")
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or_else(|| err("config history is not an array"))?
        .push(Value::Object(h));
    let cbytes = serde_json::to_vec(&config).map_err(|e| err(&e.to_string()))?;
    let cdesc = Descriptor::new(
        crate::model::spec::media::OCI_CONFIG,
        Digest::of(&cbytes),
        cbytes.len() as u64,
    );
    let mobj = manifest
        .as_object_mut()
        .ok_or_else(|| err("manifest is not an object"))?;
    mobj.insert(
        "config".into(),
        serde_json::to_value(&cdesc).map_err(|e| err(&e.to_string()))?,
    );
    mobj.get_mut("layers")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| err("manifest has no layers"))?
        .push(serde_json::to_value(&desc).map_err(|e| err(&e.to_string()))?);
    let mbytes = serde_json::to_vec(&manifest).map_err(|e| err(&e.to_string()))?;
    let mut top = img.top.clone();
    top.digest = Digest::of(&mbytes);
    top.size = mbytes.len() as u64;

    let layer = Layer {
        desc,
        diff_id: diff_id.clone(),
        data: BlobData::Bytes(Arc::new(blob)),
        history: None,
        checked: Default::default(),
    };
    let mut blobs = Vec::new();
    let mut index = 0;
    for b in &img.blobs {
        match b {
            OutBlob::Bytes { desc, .. } if desc.digest == docker.config => {
                blobs.push(OutBlob::Bytes {
                    desc: cdesc.clone(),
                    bytes: Arc::new(cbytes.clone()),
                })
            }
            OutBlob::Bytes { desc, .. } if desc.digest == img.top.digest => {
                blobs.push(OutBlob::Layer {
                    image: "package database".into(),
                    index,
                    layer: layer.clone(),
                });
                blobs.push(OutBlob::Bytes {
                    desc: top.clone(),
                    bytes: Arc::new(mbytes.clone()),
                });
            }
            OutBlob::Layer { .. } => {
                index += 1;
                blobs.push(b.clone());
            }
            other => blobs.push(other.clone()),
        }
    }
    out.blobs = blobs;
    out.top = top.clone();
    let mut d = docker;
    d.config = cdesc.digest.clone();
    d.layers.push(layer.desc.digest.clone());
    d.diff_ids.push(diff_id);
    out.docker = Some(d);
    Ok((out, top.digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::{Platform, media};
    use std::collections::BTreeMap;

    /// A planned image as the graft plans one: a config with history and `created`, one layer,
    /// annotations, a platform and a name.
    fn planned() -> OutImage {
        let tar = TarWriter::new(Vec::new()).finish().unwrap();
        let layer = Layer {
            desc: Descriptor::new(media::OCI_LAYER, Digest::of(&tar), tar.len() as u64),
            diff_id: DiffId(Digest::of(&tar)),
            data: BlobData::Bytes(Arc::new(tar)),
            history: None,
            checked: Default::default(),
        };
        let config: Value = serde_json::from_str(
            r#"{"architecture":"amd64","created":"2024-01-02T03:04:05Z","os":"linux",
                "config":{"Env":["A=1"]},"rootfs":{"type":"layers","diff_ids":[]},
                "history":[{"created_by":"base"}],"x-unknown":true}"#,
        )
        .unwrap();
        let config = crate::mutate::with_layers(
            config,
            Some("2024-01-02T03:04:05Z"),
            std::slice::from_ref(&layer),
            vec![serde_json::json!({"created_by": "base"})],
            "test",
        )
        .unwrap();
        let blobs = vec![OutBlob::Layer {
            image: "base".into(),
            index: 0,
            layer: layer.clone(),
        }];
        let platform = Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            ..Default::default()
        };
        let annotations = BTreeMap::from([("a".to_string(), "b".to_string())]);
        crate::mutate::plan_image(
            &config,
            &[layer],
            blobs,
            annotations,
            platform,
            Some("x:1".into()),
        )
        .unwrap()
    }

    fn bytes_of(img: &OutImage, d: &Digest) -> String {
        img.blobs
            .iter()
            .find_map(|b| match b {
                OutBlob::Bytes { desc, bytes } if desc.digest == *d => {
                    Some(String::from_utf8(bytes.to_vec()).unwrap())
                }
                _ => None,
            })
            .unwrap()
    }

    /// The package database layer's image, byte for byte: the config gains its diff_id and a
    /// history entry dated as the image is (nothing else moves), the manifest its descriptor.
    #[test]
    fn the_merge_layer_is_appended_as_pinned() {
        let img = planned();
        let mut tw = TarWriter::new(Vec::new());
        tw.append_header(b"var", &OutKind::Dir, &Meta::default())
            .unwrap();
        let tar = tw.finish().unwrap();
        let (out, top) = append_layer(&img, &tar, "merged", Some("2024-01-02T03:04:05Z")).unwrap();
        assert_eq!(top, out.top.digest);
        let docker = out.docker.clone().unwrap();
        let new = docker.layers[1].clone();
        let diff = docker.diff_ids[1].clone();
        assert_eq!(docker.layers.len(), 2);
        assert_eq!(
            bytes_of(&out, &docker.config),
            format!(
                r#"{{"architecture":"amd64","created":"2024-01-02T03:04:05Z","os":"linux","config":{{"Env":["A=1"]}},"rootfs":{{"type":"layers","diff_ids":["{}","{diff}"]}},"history":[{{"created_by":"base"}},{{"created":"2024-01-02T03:04:05Z","created_by":"merged","comment":"regraft: merged package database"}}],"x-unknown":true}}"#,
                docker.diff_ids[0]
            )
        );
        let cfg_size = bytes_of(&out, &docker.config).len();
        assert_eq!(
            bytes_of(&out, &top),
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{cfg_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":1024}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{new}","size":{}}}],"annotations":{{"a":"b"}}}}"#,
                docker.config,
                docker.layers[0],
                out.blobs[2].size()
            )
        );
        assert_eq!(out.top.platform, img.top.platform);
        assert_eq!(out.top.media_type, media::OCI_MANIFEST);
        assert_eq!(out.name.as_deref(), Some("x:1"));
        let names: Vec<String> = out
            .blobs
            .iter()
            .map(|b| match b {
                OutBlob::Layer { image, index, .. } => format!("{image} {index}"),
                b => b.digest().to_string(),
            })
            .collect();
        assert_eq!(
            names,
            [
                docker.config.to_string(),
                "base 0".into(),
                "package database 1".into(),
                top.to_string()
            ]
        );
        // The layer: the tar, gzip-compressed as a new layer is by default.
        assert_eq!(diff.to_string(), Digest::of(&tar).to_string());
        assert_eq!(
            new.to_string(),
            "sha256:189c34d178cf08dcc8ca637265863a17761b82aee4a22860a1556b3f8b3b17cc"
        );
    }
}
