//! The JSON documents of the OCI image spec and Docker's schema2, as regraft reads and writes
//! them. Descriptors, manifests and indexes keep fields regraft does not model in `extra`, so a
//! document read and written back loses nothing; maps are `BTreeMap` so output is deterministic.
//! The image config stays a `serde_json::Value` (with `preserve_order`) for the same reason.

use crate::error::{Error, Result};
use crate::model::digest::{DiffId, Digest};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Annotation keys regraft reads and writes.
pub mod annotation {
    /// The OCI ref name (a tag, or a full reference) of an index entry.
    pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
    /// containerd's full image name of an index entry (Docker 25+ saves).
    pub const CONTAINERD_NAME: &str = "io.containerd.image.name";
}

pub mod media {
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const OCI_LAYOUT_HEADER: &str = "application/vnd.oci.layout.header.v1+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const DOCKER_FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    pub fn is_index(m: &str) -> bool {
        m == OCI_INDEX || m == DOCKER_LIST
    }
    pub fn is_manifest(m: &str) -> bool {
        m == OCI_MANIFEST || m == DOCKER_MANIFEST
    }
    pub fn is_image_config(m: &str) -> bool {
        m == OCI_CONFIG || m == DOCKER_CONFIG
    }
    /// Non-distributable (foreign) layers: regraft refuses them; they cannot be copied faithfully.
    pub fn is_foreign(m: &str) -> bool {
        m.contains("nondistributable") || m.contains("foreign")
    }
    pub fn is_layer(m: &str) -> bool {
        m.starts_with("application/vnd.oci.image.layer.")
            || m.starts_with("application/vnd.docker.image.rootfs.")
    }
}

/// A content descriptor. Unknown fields survive in `extra`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub platform: Option<Platform>,
    #[serde(
        rename = "artifactType",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub artifact_type: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Descriptor {
    /// A BuildKit attestation manifest in an index (`unknown/unknown`, or annotated
    /// `vnd.docker.reference.type`): it describes another image, it is not one.
    pub fn is_attestation(&self) -> bool {
        self.annotations.contains_key("vnd.docker.reference.type")
            || self
                .platform
                .as_ref()
                .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown")
    }

    pub fn new(media_type: &str, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            platform: None,
            artifact_type: None,
            annotations: BTreeMap::new(),
            extra: Map::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub os_features: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || {
            Error::Usage(format!(
                "--platform {s:?}: expected os/arch[/variant], e.g. linux/amd64"
            ))
        };
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        Ok(Platform {
            os: parts[0].to_string(),
            architecture: parts[1].to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
            ..Default::default()
        })
    }

    /// The variant with the defaults spelled out (arm64 "" = v8, arm "" = v7).
    pub fn normalized_variant(&self) -> String {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm64", None | Some("")) => "v8".into(),
            ("arm", None | Some("")) => "v7".into(),
            (_, v) => v.unwrap_or("").to_string(),
        }
    }

    /// Whether `self` (what is wanted) is satisfied by `other` (what an image is).
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && self.normalized_variant() == other.normalized_variant()
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match self.variant.as_deref() {
            Some(v) if !v.is_empty() => write!(f, "/{v}"),
            _ => Ok(()),
        }
    }
}

/// An image manifest (OCI or Docker schema2).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subject: Option<Descriptor>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Index {
    pub fn empty() -> Index {
        Index {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.into()),
            manifests: vec![],
            annotations: BTreeMap::new(),
            extra: Map::new(),
        }
    }
}

/// The `oci-layout` file of every layout and OCI archive regraft writes.
pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Largest JSON document regraft will parse (manifests, indexes, configs, manifest.json).
pub const MAX_JSON: u64 = 64 << 20;

/// Parses JSON with a clear error naming the document. serde_json's recursion limit (128)
/// stops deeply nested input.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::format_from(what, "not valid JSON for this document", e))
}

/// Serializes compactly, in the struct's field order (maps sorted): the bytes regraft writes.
pub fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail (string keys only).
    serde_json::to_vec(v).unwrap_or_default()
}

/// The parts of an image config regraft needs typed. The whole document stays a `Value`.
#[derive(Clone, Debug)]
pub struct ConfigView {
    pub platform: Platform,
    pub diff_ids: Vec<DiffId>,
    pub history: Vec<History>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct History {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub empty_layer: Option<bool>,
}

impl History {
    pub fn is_empty_layer(&self) -> bool {
        self.empty_layer == Some(true)
    }
}

impl ConfigView {
    pub fn from_value(v: &Value, what: &str) -> Result<ConfigView> {
        let obj = v
            .as_object()
            .ok_or_else(|| Error::format(what, "image config is not a JSON object"))?;
        let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
        let architecture = s("architecture")
            .ok_or_else(|| Error::format(what, "image config has no \"architecture\""))?;
        let os = s("os").ok_or_else(|| Error::format(what, "image config has no \"os\""))?;
        let rootfs = obj
            .get("rootfs")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::format(what, "image config has no \"rootfs\""))?;
        match rootfs.get("type").and_then(Value::as_str) {
            Some("layers") => {}
            other => {
                return Err(Error::format(
                    what,
                    format!("rootfs.type must be \"layers\", found {other:?}"),
                ));
            }
        }
        let diff_ids = match rootfs.get("diff_ids") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => a
                .iter()
                .map(|d| {
                    d.as_str()
                        .ok_or_else(|| Error::format(what, "rootfs.diff_ids holds a non-string"))
                        .and_then(|s| {
                            DiffId::parse(s)
                                .map_err(|e| Error::format_from(what, "rootfs.diff_ids", e))
                        })
                })
                .collect::<Result<_>>()?,
            Some(_) => return Err(Error::format(what, "rootfs.diff_ids is not an array")),
        };
        let history = match obj.get("history") {
            None | Some(Value::Null) => vec![],
            Some(h) => serde_json::from_value(h.clone())
                .map_err(|e| Error::format_from(what, "history", e))?,
        };
        let os_features = obj
            .get("os.features")
            .and_then(|f| serde_json::from_value(f.clone()).ok());
        Ok(ConfigView {
            platform: Platform {
                architecture,
                os,
                os_version: s("os.version"),
                os_features,
                variant: s("variant"),
            },
            diff_ids,
            history,
        })
    }
}

/// The conventional OCI equivalent of a layer media type with the given actual compression.
pub fn oci_layer_type(c: crate::codec::compress::Compression) -> &'static str {
    match c {
        crate::codec::compress::Compression::None => media::OCI_LAYER,
        crate::codec::compress::Compression::Gzip => media::OCI_LAYER_GZIP,
        crate::codec::compress::Compression::Zstd => media::OCI_LAYER_ZSTD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_variants_normalise() {
        let want = Platform::parse("linux/arm64").unwrap();
        let have = Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: Some("v8".into()),
            ..Default::default()
        };
        assert!(want.matches(&have));
        assert!(
            !Platform::parse("linux/arm/v6")
                .unwrap()
                .matches(&Platform::parse("linux/arm").unwrap())
        );
        assert!(
            Platform::parse("linux/arm/v7")
                .unwrap()
                .matches(&Platform::parse("linux/arm").unwrap())
        );
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//").is_err());
    }

    #[test]
    fn descriptor_keeps_unknown_fields() {
        let src = r#"{"mediaType":"a","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0,"urls":["x"],"x-y":1}"#;
        let d: Descriptor = parse_json(src.as_bytes(), "t").unwrap();
        let out = String::from_utf8(to_json(&d)).unwrap();
        assert_eq!(out, src);
    }

    #[test]
    fn deep_json_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(parse_json::<Value>(deep.as_bytes(), "deep").is_err());
    }
}
