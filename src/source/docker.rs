//! Reading a docker-save `manifest.json` (legacy `<id>/layer.tar`, skopeo's and crane's
//! `<hex>.tar`, or Docker 25+/29+ `blobs/sha256/<hex>` names) when no OCI index is present.
//! The manifest is synthesised as OCI; each layer's compression is told by its magic bytes and
//! its blob digest is taken from a `blobs/sha256/` name, equals the diff_id for an uncompressed
//! layer, or is hashed.

use super::Entry;
use crate::codec::compress::{Compression, sniff};
use crate::error::{Error, Result};
use crate::model::digest::{DiffId, Digest, Hasher};
use crate::model::image::{BlobData, Format, Image, Layer};
use crate::model::reference::{ImageRef, Selector, normalize_name};
use crate::model::spec::{self, Descriptor, Manifest, media, oci_layer_type};
use crate::store::container::Container;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

#[derive(Deserialize, Clone, Debug)]
pub struct DockerEntry {
    #[serde(rename = "Config")]
    pub config: String,
    /// `null` when Docker saved the image by ID (`docker save $(docker images -q ...)`).
    #[serde(rename = "RepoTags", default, deserialize_with = "null_as_empty")]
    pub repo_tags: Vec<String>,
    #[serde(rename = "Layers", default)]
    pub layers: Vec<String>,
    #[serde(rename = "LayerSources", default)]
    pub layer_sources: Option<BTreeMap<String, Descriptor>>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

pub struct DockerManifest {
    pub entries: Vec<DockerEntry>,
}

fn digest_from_name(name: &str) -> Option<Digest> {
    let clean = crate::store::container::clean_member(name)?;
    let last = clean.rsplit('/').next()?;
    if let Some(hex) = clean.strip_prefix("blobs/sha256/") {
        return Digest::from_hex(hex).ok();
    }
    // crane writes the config as "sha256:<hex>", legacy saves as "<hex>.json".
    let stem = last.strip_prefix("sha256:").unwrap_or(last);
    let stem = stem.strip_suffix(".json").unwrap_or(stem);
    Digest::from_hex(stem).ok()
}

impl DockerManifest {
    pub fn load(c: &Container) -> Result<DockerManifest> {
        let bytes = c.read_small("manifest.json", spec::MAX_JSON)?;
        let entries: Vec<DockerEntry> =
            spec::parse_json(&bytes, &format!("{}: manifest.json", c.display()))?;
        if entries.is_empty() {
            return Err(Error::format(c.display(), "manifest.json lists no images"));
        }
        Ok(DockerManifest { entries })
    }

    pub fn is_legacy(&self) -> bool {
        self.entries
            .iter()
            .any(|e| e.layers.iter().any(|l| l.ends_with("/layer.tar")))
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.entries
            .iter()
            .map(|e| Entry {
                names: e.repo_tags.clone(),
                digest: digest_from_name(&e.config),
                media_type: "docker-save".into(),
            })
            .collect()
    }

    fn select(&self, c: &Container, sel: Option<&Selector>) -> Result<usize> {
        let list = || {
            self.entries()
                .iter()
                .enumerate()
                .map(|(i, e)| format!("  @{i}: {}", e.describe()))
                .collect::<Vec<_>>()
                .join("\n")
        };
        match sel {
            None if self.entries.len() == 1 => Ok(0),
            None => Err(Error::Usage(format!(
                "{} holds {} images; name one (FILE:NAME:TAG or FILE:@N):\n{}",
                c.display(),
                self.entries.len(),
                list()
            ))),
            Some(Selector::Nth(n)) if *n < self.entries.len() => Ok(*n),
            Some(Selector::Nth(n)) => Err(Error::Usage(format!(
                "{}: no image @{n}:\n{}",
                c.display(),
                list()
            ))),
            Some(Selector::Name(n)) => {
                let want = normalize_name(n);
                self.entries
                    .iter()
                    .position(|e| {
                        e.repo_tags
                            .iter()
                            .any(|t| t == n || normalize_name(t) == want)
                    })
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "{}: no image named {:?}:\n{}",
                            c.display(),
                            crate::text::sanitize(n),
                            list()
                        ))
                    })
            }
            Some(Selector::Digest(d)) => {
                for (i, e) in self.entries.iter().enumerate() {
                    if digest_from_name(&e.config).as_ref() == Some(d) {
                        return Ok(i);
                    }
                    let bytes = c.read_small(&e.config, spec::MAX_JSON)?;
                    if &Digest::of(&bytes) == d {
                        return Ok(i);
                    }
                }
                Err(Error::Usage(format!(
                    "{}: no image with config digest {d}:\n{}",
                    c.display(),
                    list()
                )))
            }
        }
    }

    pub fn image(
        &self,
        c: &Arc<Container>,
        format: Format,
        sel: Option<&Selector>,
        r: &ImageRef,
    ) -> Result<Image> {
        let i = self.select(c, sel)?;
        self.image_at(c, format, i, r)
    }

    pub fn image_at(
        &self,
        c: &Arc<Container>,
        format: Format,
        i: usize,
        r: &ImageRef,
    ) -> Result<Image> {
        let e = &self.entries[i];
        let name = match e.repo_tags.first() {
            Some(t) => format!("{} ({})", r.path.display(), crate::text::sanitize(t)),
            None => format!("{} (@{i})", r.path.display()),
        };
        let cbytes = c.read_small(&e.config, spec::MAX_JSON)?;
        let cdigest = Digest::of(&cbytes);
        if let Some(named) = digest_from_name(&e.config)
            && named != cdigest
        {
            return Err(Error::DigestMismatch {
                what: format!("{name}: config {}", crate::text::sanitize(&e.config)),
                expected: named.to_string(),
                found: cdigest.to_string(),
            });
        }
        let (config, view) =
            super::parse_config(&cbytes, &name, &e.config, "manifest.json", e.layers.len())?;
        let mut layers = Vec::new();
        let mut descs = Vec::new();
        for (path, diff_id) in e.layers.iter().zip(&view.diff_ids) {
            let desc = layer_descriptor(c, &name, path, diff_id, e.layer_sources.as_ref())?;
            descs.push(desc.clone());
            layers.push(Layer {
                desc,
                diff_id: diff_id.clone(),
                data: BlobData::Member {
                    store: c.clone(),
                    name: path.clone(),
                },
                history: None,
                checked: Default::default(),
            });
        }
        let config_desc = Descriptor::new(media::OCI_CONFIG, cdigest, cbytes.len() as u64);
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.into()),
            artifact_type: None,
            config: config_desc.clone(),
            layers: descs,
            subject: None,
            annotations: BTreeMap::new(),
            extra: Default::default(),
        };
        let mbytes = spec::to_json(&manifest);
        Ok(Image {
            name,
            format,
            tags: e.repo_tags.clone(),
            manifest_digest: Digest::of(&mbytes),
            manifest,
            // Synthesised: there are no original bytes to keep.
            manifest_bytes: None,
            index_digest: None,
            config_desc,
            config_bytes: Arc::new(cbytes),
            config,
            view,
            layers,
            warnings: vec![],
        })
    }
}

fn layer_descriptor(
    c: &Container,
    name: &str,
    path: &str,
    diff_id: &DiffId,
    sources: Option<&BTreeMap<String, Descriptor>>,
) -> Result<Descriptor> {
    let size = c.size_of(path)?.ok_or_else(|| Error::MissingBlob {
        container: c.display().to_string(),
        name: format!("{} (layer of {name})", crate::text::sanitize(path)),
    })?;
    let mut head = [0u8; 8];
    let mut r = c.open(path)?;
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(Error::layer_io(path, e)),
        }
    }
    let comp = sniff(&head[..n], path)?;
    let digest = if let Some(d) = digest_from_name(path).filter(|_| path.contains("blobs/sha256/"))
    {
        d
    } else if comp == Compression::None {
        // The blob is the uncompressed tar: its digest is the diff_id (verified when read).
        diff_id.digest().clone()
    } else {
        let mut h = Hasher::new();
        let mut buf = vec![0u8; crate::codec::compress::BUF];
        let mut r = c.open(path)?;
        loop {
            let k = r.read(&mut buf).map_err(|e| Error::layer_io(path, e))?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
        }
        h.finish().0
    };
    let mut desc = Descriptor::new(oci_layer_type(comp), digest, size);
    if let Some(src) = sources.and_then(|s| s.get(&diff_id.to_string())) {
        if media::is_foreign(&src.media_type) {
            desc.media_type = src.media_type.clone();
        }
        desc.annotations = src.annotations.clone();
    }
    Ok(desc)
}
