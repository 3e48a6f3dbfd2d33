//! Reading an OCI layout (a directory, or the inside of an OCI archive or a Docker 25+/29+
//! save): `index.json`, nested indexes, platform selection, and the chosen manifest and config,
//! each verified against its descriptor.

use super::Entry;
use crate::error::{Error, Result};
use crate::model::digest::{DiffId, Digest};
use crate::model::image::{BlobData, Format, Image, Layer};
use crate::model::out::{OutBlob, OutImage};
use crate::model::reference::{ImageRef, Selector, normalize_name};
use crate::model::spec::{self, Descriptor, Index, Manifest, Platform, media};
use crate::store::container::Container;
use std::sync::Arc;

use crate::model::spec::annotation::{CONTAINERD_NAME, REF_NAME};

pub struct OciIndex {
    pub index: Index,
}

/// Where an image's documents are read from, each verified against its descriptor before it
/// is returned: a file's container, or a registry repository (`registry.rs`).
pub trait Docs: Sync {
    fn display(&self) -> &str;
    fn read_json(&self, d: &Descriptor, what: &str) -> Result<Vec<u8>>;
    /// The store the image's layers are opened from.
    fn blobs(&self) -> Arc<dyn crate::store::BlobStore>;
    /// Whether the blob is there (a layout may lack an index's other platforms).
    fn has(&self, d: &Digest) -> bool;
}

impl Docs for Arc<Container> {
    fn display(&self) -> &str {
        Container::display(self)
    }
    fn read_json(&self, d: &Descriptor, what: &str) -> Result<Vec<u8>> {
        read_json_blob(self, d, what)
    }
    fn blobs(&self) -> Arc<dyn crate::store::BlobStore> {
        self.clone()
    }
    fn has(&self, d: &Digest) -> bool {
        Container::has(self, &d.blob_path())
    }
}

/// Reads a JSON blob named by a descriptor, verifying its size and digest.
pub fn read_json_blob(c: &Container, d: &Descriptor, what: &str) -> Result<Vec<u8>> {
    if d.size > spec::MAX_JSON {
        return Err(Error::format(
            c.display(),
            format!(
                "{what} {} declares {} bytes, more than regraft reads for a JSON document",
                d.digest, d.size
            ),
        ));
    }
    let name = d.digest.blob_path();
    let actual = c.size_of(&name)?.ok_or_else(|| Error::MissingBlob {
        container: c.display().to_string(),
        name: format!("{name} ({what})"),
    })?;
    if actual != d.size {
        return Err(Error::SizeMismatch {
            what: format!("{}: {what} {}", c.display(), d.digest),
            expected: d.size,
            found: actual,
        });
    }
    let bytes = c.read_small(&name, d.size)?;
    let found = Digest::of(&bytes);
    if found != d.digest {
        return Err(Error::DigestMismatch {
            what: format!("{}: {what}", c.display()),
            expected: d.digest.to_string(),
            found: found.to_string(),
        });
    }
    Ok(bytes)
}

/// An attestation or other non-image entry of an index.
fn is_attestation(d: &Descriptor) -> bool {
    d.is_attestation()
}

fn default_platform() -> Platform {
    Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        ..Default::default()
    }
}

impl OciIndex {
    pub fn load(c: &Container) -> Result<OciIndex> {
        let layout = c.read_small("oci-layout", 1 << 20)?;
        let v: serde_json::Value =
            spec::parse_json(&layout, &format!("{}: oci-layout", c.display()))?;
        match v.get("imageLayoutVersion").and_then(|v| v.as_str()) {
            Some("1.0.0") => {}
            other => {
                return Err(Error::format(
                    c.display(),
                    format!("oci-layout: imageLayoutVersion must be \"1.0.0\", found {other:?}"),
                ));
            }
        }
        let bytes = c.read_small("index.json", spec::MAX_JSON)?;
        let index: Index = spec::parse_json(&bytes, &format!("{}: index.json", c.display()))?;
        if index.schema_version != 2 {
            return Err(Error::format(
                c.display(),
                "index.json: schemaVersion must be 2",
            ));
        }
        Ok(OciIndex { index })
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.index
            .manifests
            .iter()
            .filter(|d| !is_attestation(d))
            .map(|d| {
                let mut names = vec![];
                if let Some(n) = d.annotations.get(REF_NAME) {
                    names.push(n.clone());
                }
                if let Some(n) = d.annotations.get(CONTAINERD_NAME)
                    && !names.contains(n)
                {
                    names.push(n.clone());
                }
                Entry {
                    names,
                    digest: Some(d.digest.clone()),
                    media_type: d.media_type.clone(),
                }
            })
            .collect()
    }

    fn names_of(d: &Descriptor) -> Vec<String> {
        let mut v = vec![];
        if let Some(n) = d.annotations.get(CONTAINERD_NAME) {
            v.push(n.clone());
        } else if let Some(n) = d.annotations.get(REF_NAME) {
            v.push(n.clone());
        }
        v
    }

    /// Picks the top-level descriptor the selector names.
    fn select(&self, c: &Container, sel: Option<&Selector>) -> Result<Descriptor> {
        let top: Vec<&Descriptor> = self
            .index
            .manifests
            .iter()
            .filter(|d| !is_attestation(d))
            .collect();
        let list = || {
            self.entries()
                .iter()
                .map(|e| format!("  {}", e.describe()))
                .collect::<Vec<_>>()
                .join("\n")
        };
        match sel {
            None => match top.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(Error::format(c.display(), "index.json lists no images")),
                _ => Err(Error::Usage(format!(
                    "{} holds {} images; name one (FILE:REF, FILE:@N or FILE:@sha256:...):\n{}",
                    c.display(),
                    top.len(),
                    list()
                ))),
            },
            Some(Selector::Nth(n)) => top.get(*n).map(|d| (*d).clone()).ok_or_else(|| {
                Error::Usage(format!(
                    "{}: no image @{n}; it holds {}:\n{}",
                    c.display(),
                    top.len(),
                    list()
                ))
            }),
            Some(Selector::Digest(dg)) => {
                if let Some(d) = self.index.manifests.iter().find(|d| &d.digest == dg) {
                    return Ok(d.clone());
                }
                Err(Error::Usage(format!(
                    "{}: no image with digest {dg}:\n{}",
                    c.display(),
                    list()
                )))
            }
            Some(Selector::Name(n)) => {
                if let Some(d) = top.iter().find(|d| d.annotations.get(REF_NAME) == Some(n)) {
                    return Ok((*d).clone());
                }
                let want = normalize_name(n);
                if let Some(d) = top.iter().find(|d| {
                    d.annotations
                        .get(CONTAINERD_NAME)
                        .map(|x| normalize_name(x))
                        == Some(want.clone())
                }) {
                    return Ok((*d).clone());
                }
                Err(Error::Usage(format!(
                    "{}: no image named {:?}; it holds:\n{}",
                    c.display(),
                    crate::text::sanitize(n),
                    list()
                )))
            }
        }
    }

    /// Walks nested indexes down to one image manifest for the platform.
    /// Returns the manifest descriptor and the digest of the index it came from, if any.
    pub fn resolve(
        c: &dyn Docs,
        top: &Descriptor,
        platform: Option<&Platform>,
    ) -> Result<(Descriptor, Option<Digest>)> {
        let mut d = top.clone();
        let mut from_index = None;
        let mut seen = Vec::new();
        loop {
            if media::is_manifest(&d.media_type) {
                return Ok((d, from_index));
            }
            if !media::is_index(&d.media_type) {
                return Err(Error::Unsupported(format!(
                    "{}: {} has media type {:?}, not an image manifest or index",
                    c.display(),
                    d.digest,
                    d.media_type
                )));
            }
            if seen.contains(&d.digest) || seen.len() > 8 {
                return Err(Error::format(
                    c.display(),
                    format!("index {} refers to itself or nests too deep", d.digest),
                ));
            }
            seen.push(d.digest.clone());
            let bytes = c.read_json(&d, "image index")?;
            let idx: Index =
                spec::parse_json(&bytes, &format!("{}: index {}", c.display(), d.digest))?;
            if from_index.is_none() {
                from_index = Some(d.digest.clone());
            }
            let cands: Vec<&Descriptor> = idx
                .manifests
                .iter()
                .filter(|m| !is_attestation(m))
                .collect();
            let want = platform.cloned();
            let pick = match &want {
                Some(p) => cands
                    .iter()
                    .find(|m| m.platform.as_ref().is_some_and(|mp| p.matches(mp))),
                None if cands.len() == 1 => cands.first(),
                None => {
                    let def = default_platform();
                    cands
                        .iter()
                        .find(|m| m.platform.as_ref().is_some_and(|mp| def.matches(mp)))
                }
            };
            let Some(pick) = pick else {
                let have: Vec<String> = cands
                    .iter()
                    .map(|m| {
                        m.platform
                            .as_ref()
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "(no platform)".into())
                    })
                    .collect();
                return Err(Error::Invalid(format!(
                    "{}: index {} has no image for {}; it has: {}",
                    c.display(),
                    d.digest,
                    want.unwrap_or_else(default_platform),
                    have.join(", ")
                )));
            };
            d = (*pick).clone();
        }
    }

    pub fn image(
        &self,
        c: &Arc<Container>,
        format: Format,
        sel: Option<&Selector>,
        platform: Option<&Platform>,
        r: &ImageRef,
    ) -> Result<Image> {
        let top = self.select(c, sel)?;
        let tags = Self::names_of(&top);
        let (mdesc, from_index) = Self::resolve(c, &top, platform)?;
        load_image(c, format, &mdesc, from_index, tags, r)
    }

    /// Plans copying a whole index (`convert --all`): every platform image whose blobs are
    /// present (layers verified against their diff_ids as they are copied), attestation and
    /// other artifact manifests byte for byte. Children written as OCI may change digest, so
    /// the index is rewritten when any does. None when the selected entry is not an index.
    pub fn whole_index(
        &self,
        c: &Arc<Container>,
        format: Format,
        sel: Option<&Selector>,
        r: &ImageRef,
        warnings: &mut Vec<String>,
    ) -> Result<Option<OutImage>> {
        let top = self.select(c, sel)?;
        plan_index(c, &top, format, r, warnings, Self::names_of(&top))
    }

    /// Finds the image whose config has this digest (for the dual-format check).
    pub fn find_by_config(&self, c: &Arc<Container>, config: &Digest) -> Result<Option<Image>> {
        for top in &self.index.manifests {
            if is_attestation(top) {
                continue;
            }
            let Ok((m, from)) = Self::resolve(c, top, None) else {
                continue;
            };
            let r = ImageRef {
                transport: crate::model::reference::Transport::Sniff,
                path: c.display().into(),
                selector: None,
            };
            let img = load_image(c, Format::OciArchive, &m, from, vec![], &r)?;
            if &img.config_desc.digest == config {
                return Ok(Some(img));
            }
        }
        Ok(None)
    }
}

/// Plans copying the index `top` whole (`convert --all`); None when it is not an index.
pub fn plan_index(
    c: &dyn Docs,
    top: &Descriptor,
    format: Format,
    r: &ImageRef,
    warnings: &mut Vec<String>,
    names: Vec<String>,
) -> Result<Option<OutImage>> {
    if !media::is_index(&top.media_type) {
        return Ok(None);
    }
    let bytes = c.read_json(top, "image index")?;
    let idx: Index = spec::parse_json(&bytes, &format!("{}: index {}", c.display(), top.digest))?;
    let mut plan = IndexCopy {
        blobs: Vec::new(),
        children: Vec::new(),
        changed: top.media_type != media::OCI_INDEX,
    };
    for d in &idx.manifests {
        if !c.has(&d.digest) {
            warnings.push(format!(
                "{}: {} ({}) is absent; left out",
                c.display(),
                d.digest,
                d.platform
                    .as_ref()
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "no platform".into())
            ));
            plan.changed = true;
            continue;
        }
        if media::is_index(&d.media_type) {
            return Err(Error::Unsupported(format!(
                "{}: index {} nests another index ({}); copy it with a REF",
                c.display(),
                top.digest,
                d.digest
            )));
        }
        let image = if media::is_manifest(&d.media_type) {
            load_image(c, format, d, Some(top.digest.clone()), vec![], r).ok()
        } else {
            None
        };
        match image {
            Some(img) => plan.add_image(d, &img),
            None => plan.add_artifact(c, d)?,
        }
    }
    let IndexCopy {
        mut blobs,
        children,
        changed,
    } = plan;
    let ibytes = if changed {
        let mut n = idx.clone();
        n.media_type = Some(media::OCI_INDEX.into());
        n.manifests = children;
        spec::to_json(&n)
    } else {
        bytes
    };
    let mut desc = Descriptor::new(media::OCI_INDEX, Digest::of(&ibytes), ibytes.len() as u64);
    desc.annotations = top.annotations.clone();
    desc.annotations.remove(REF_NAME);
    desc.annotations.remove(CONTAINERD_NAME);
    blobs.push(OutBlob::Bytes {
        desc: desc.clone(),
        bytes: Arc::new(ibytes),
    });
    Ok(Some(OutImage {
        top: desc,
        blobs,
        name: names.first().cloned(),
        docker: None,
    }))
}

/// The blobs and child descriptors of an index being copied whole (`convert --all`), and
/// whether the index's bytes must be rewritten.
struct IndexCopy {
    blobs: Vec<OutBlob>,
    children: Vec<Descriptor>,
    changed: bool,
}

impl IndexCopy {
    /// A platform image, written as OCI: its descriptor changes when its manifest does.
    fn add_image(&mut self, d: &Descriptor, img: &Image) {
        let oi = OutImage::from_image(img, None);
        let mut desc = d.clone();
        if desc.digest != oi.top.digest {
            self.changed = true;
        }
        desc.media_type = oi.top.media_type.clone();
        desc.digest = oi.top.digest.clone();
        desc.size = oi.top.size;
        self.blobs.extend(oi.blobs);
        self.children.push(desc);
    }

    /// An artifact (attestation): its manifest and what it names, as they are.
    fn add_artifact(&mut self, c: &dyn Docs, d: &Descriptor) -> Result<()> {
        let mbytes = c.read_json(d, "manifest")?;
        let m: Manifest =
            spec::parse_json(&mbytes, &format!("{}: manifest {}", c.display(), d.digest))?;
        for b in std::iter::once(&m.config).chain(&m.layers) {
            self.blobs.push(OutBlob::Raw {
                desc: b.clone(),
                data: BlobData::Member {
                    store: c.blobs(),
                    name: b.digest.blob_path(),
                },
            });
        }
        self.blobs.push(OutBlob::Bytes {
            desc: d.clone(),
            bytes: Arc::new(mbytes),
        });
        self.children.push(d.clone());
        Ok(())
    }
}

/// Loads the manifest and config a descriptor names, and lists the layers.
pub fn load_image(
    c: &dyn Docs,
    format: Format,
    mdesc: &Descriptor,
    index_digest: Option<Digest>,
    tags: Vec<String>,
    r: &ImageRef,
) -> Result<Image> {
    let name = match tags.first() {
        Some(t) if r.is_registry() => format!("docker://{}", crate::text::sanitize(t)),
        Some(t) => format!("{} ({})", r.path.display(), crate::text::sanitize(t)),
        None if r.is_registry() => format!("docker://{}@{}", r.path.display(), mdesc.digest),
        None => format!("{} (@{})", r.path.display(), mdesc.digest),
    };
    let mbytes = c.read_json(mdesc, "manifest")?;
    let manifest: Manifest =
        spec::parse_json(&mbytes, &format!("{name}: manifest {}", mdesc.digest))?;
    if manifest.schema_version != 2 {
        return Err(Error::format(
            &name,
            format!("manifest {}: schemaVersion must be 2", mdesc.digest),
        ));
    }
    if !media::is_image_config(&manifest.config.media_type) {
        return Err(Error::Unsupported(format!(
            "{name}: manifest {} is not a container image (config type {:?})",
            mdesc.digest, manifest.config.media_type
        )));
    }
    let cbytes = c.read_json(&manifest.config, "image config")?;
    let store = c.blobs();
    let (config, view) = super::parse_config(
        &cbytes,
        &name,
        &manifest.config.digest,
        "manifest",
        manifest.layers.len(),
    )?;
    let layers = manifest
        .layers
        .iter()
        .zip(&view.diff_ids)
        .map(|(d, id): (&Descriptor, &DiffId)| Layer {
            desc: d.clone(),
            diff_id: id.clone(),
            data: BlobData::Member {
                store: store.clone(),
                name: d.digest.blob_path(),
            },
            history: None,
            checked: Default::default(),
        })
        .collect();
    Ok(Image {
        name,
        format,
        tags,
        config_desc: manifest.config.clone(),
        manifest,
        manifest_bytes: Some(Arc::new(mbytes)),
        manifest_digest: mdesc.digest.clone(),
        index_digest,
        config_bytes: Arc::new(cbytes),
        config,
        view,
        layers,
        warnings: vec![],
    })
}
