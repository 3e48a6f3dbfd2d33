//! Reading images. A reference is opened as a `Source`, which reads through one backend
//! (`ImageSource`: image files and directories, `file.rs`, with the docker-save and OCI
//! readers in `docker.rs` and `oci.rs`; a registry, `registry.rs`) and ends in the one `Image` model, every JSON document
//! verified against its descriptor on the way. What regraft supports (no Windows images, no
//! foreign or external layers) and the history linking are checked here once.

mod docker;
mod file;
mod oci;
mod registry;

use crate::error::{Error, Result};
use crate::model::image::Image;
use crate::model::out::OutImage;
use crate::model::reference::{ImageRef, Selector};
use crate::model::spec::Platform;

/// One image a file offers, for listings and error messages.
#[derive(Clone, Debug)]
pub struct Entry {
    pub names: Vec<String>,
    pub digest: Option<crate::model::digest::Digest>,
    pub media_type: String,
}

impl Entry {
    pub fn describe(&self) -> String {
        let names = if self.names.is_empty() {
            "(untagged)".to_string()
        } else {
            self.names.join(", ")
        };
        match &self.digest {
            Some(d) => format!("{} @{}", crate::text::sanitize(&names), d),
            None => crate::text::sanitize(&names),
        }
    }
}

/// One kind of place images are read from: files and directories (`file.rs`), registries
/// (`registry.rs`). The contract every backend keeps: each document it returns (index,
/// manifest, config) was verified against the descriptor that named it before it was parsed;
/// layer and other blobs come as `BlobData`, verified as they are read; and it applies no
/// policy of its own: `Source` checks what regraft supports and links history once, for every
/// backend alike.
pub trait ImageSource: Send + Sync {
    /// How messages name what was opened (a path).
    fn describe(&self) -> &str;
    /// The images it offers at its top level.
    fn entries(&self) -> Vec<Entry>;
    /// One image: by the selector, else the only one (an index narrowed by `platform`).
    fn image(&self, sel: Option<&Selector>, platform: Option<&Platform>) -> Result<Image>;
    /// The whole index an entry is, every platform image present (`convert --all`); None
    /// when the entry is a single image.
    fn whole_index(
        &self,
        sel: Option<&Selector>,
        warnings: &mut Vec<String>,
    ) -> Result<Option<OutImage>>;
    /// Where a source describes its images twice, one line per disagreement.
    fn dual_format_disagreements(&self) -> Result<Vec<String>>;
}

/// The platforms of an index (`Source::index_platforms`).
#[derive(Clone, Debug)]
pub struct IndexPlatforms {
    /// Each platform image present, in the index's order.
    pub platforms: Vec<Platform>,
    /// What was not taken, one line each (attestations, absent children, repeats).
    pub left_out: Vec<String>,
    /// The index's own annotations.
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// An opened image reference.
pub struct Source {
    pub reference: ImageRef,
    backend: Box<dyn ImageSource>,
}

impl Source {
    pub fn open(r: &ImageRef) -> Result<Source> {
        let backend: Box<dyn ImageSource> = if r.is_registry() {
            Box::new(registry::RegistrySource::open(r)?)
        } else {
            Box::new(file::FileSource::open(r)?)
        };
        Ok(Source {
            reference: r.clone(),
            backend,
        })
    }

    /// How messages name what was opened.
    pub fn describe(&self) -> &str {
        self.backend.describe()
    }

    /// The images this source offers at its top level.
    pub fn entries(&self) -> Vec<Entry> {
        self.backend.entries()
    }

    /// Selects one image: by the reference's selector, else the only one.
    pub fn image(&self, platform: Option<&Platform>) -> Result<Image> {
        self.image_with(self.reference.selector.as_ref(), platform)
    }

    pub fn image_with(&self, sel: Option<&Selector>, platform: Option<&Platform>) -> Result<Image> {
        let mut img = self.backend.image(sel, platform)?;
        check_supported(&img)?;
        if let Some(p) = platform
            && !p.matches(&img.view.platform)
        {
            return Err(Error::Invalid(format!(
                "{}: image is {}, not the requested {}",
                img.name, img.view.platform, p
            )));
        }
        img.link_history()?;
        Ok(img)
    }

    /// `convert --all` of an index entry: the whole index, every platform image present.
    /// None when the entry is a single image.
    pub fn whole_index(
        &self,
        sel: Option<&Selector>,
        warnings: &mut Vec<String>,
    ) -> Result<Option<OutImage>> {
        self.backend.whole_index(sel, warnings)
    }

    /// The platforms of the entry the reference names when it is an index, in the index's
    /// order: every image present, once. Attestations, children whose blobs are absent (a
    /// Docker 29 save of one platform) and repeats are left out, each said in `left_out`.
    /// None for a single image. Read through `whole_index`, so every backend that can copy an
    /// index whole can also be grafted platform by platform.
    pub fn index_platforms(&self) -> Result<Option<IndexPlatforms>> {
        let mut left_out = Vec::new();
        let Some(whole) = self
            .backend
            .whole_index(self.reference.selector.as_ref(), &mut left_out)?
        else {
            return Ok(None);
        };
        let bytes = whole
            .blobs
            .iter()
            .find_map(|b| match b {
                crate::model::out::OutBlob::Bytes { desc, bytes }
                    if desc.digest == whole.top.digest =>
                {
                    Some(bytes.clone())
                }
                _ => None,
            })
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: the index's own bytes are missing",
                    self.describe()
                ))
            })?;
        let what = format!("{}: index {}", self.describe(), whole.top.digest);
        let idx: crate::model::spec::Index = crate::model::spec::parse_json(&bytes, &what)?;
        let mut platforms: Vec<Platform> = Vec::new();
        for m in &idx.manifests {
            let p = m.platform.clone().unwrap_or_default();
            if m.is_attestation() {
                left_out.push(format!(
                    "{}: {} is an attestation manifest; left out",
                    self.describe(),
                    m.digest
                ));
            } else if m.platform.is_none() || !crate::model::spec::media::is_manifest(&m.media_type)
            {
                left_out.push(format!(
                    "{}: {} is not a platform image; left out",
                    self.describe(),
                    m.digest
                ));
            } else if platforms.iter().any(|q| q.matches(&p)) {
                left_out.push(format!(
                    "{}: {} repeats {p}; the first is used",
                    self.describe(),
                    m.digest
                ));
            } else {
                platforms.push(p);
            }
        }
        Ok(Some(IndexPlatforms {
            platforms,
            left_out,
            annotations: idx.annotations.clone(),
        }))
    }

    /// The dual-format check: where both index.json and manifest.json exist, do they agree?
    /// Returns one line per disagreement.
    pub fn dual_format_disagreements(&self) -> Result<Vec<String>> {
        self.backend.dual_format_disagreements()
    }
}

/// Parses an image's config and checks that its rootfs.diff_ids count the layers that
/// `listing` (the manifest, or manifest.json) names.
fn parse_config(
    bytes: &[u8],
    name: &str,
    config: impl std::fmt::Display,
    listing: &str,
    layers: usize,
) -> Result<(serde_json::Value, crate::model::spec::ConfigView)> {
    let what = format!("{name}: config {config}");
    let value: serde_json::Value = crate::model::spec::parse_json(bytes, &what)?;
    let view = crate::model::spec::ConfigView::from_value(&value, &what)?;
    if view.diff_ids.len() != layers {
        return Err(Error::format(
            name,
            format!(
                "{listing} lists {layers} layers but the config's rootfs.diff_ids has {}",
                view.diff_ids.len()
            ),
        ));
    }
    Ok((value, view))
}

fn check_supported(img: &Image) -> Result<()> {
    if img.view.platform.os == "windows" {
        return Err(Error::Unsupported(format!(
            "{}: Windows images are not supported",
            img.name
        )));
    }
    for (i, l) in img.manifest.layers.iter().enumerate() {
        if crate::model::spec::media::is_foreign(&l.media_type) {
            return Err(Error::Unsupported(format!(
                "{}: layer {i} ({}) is a foreign/non-distributable layer ({}); regraft cannot copy it faithfully",
                img.name, l.digest, l.media_type
            )));
        }
        if !l.urls_is_empty() {
            return Err(Error::Unsupported(format!(
                "{}: layer {i} ({}) has external urls; regraft does not fetch anything",
                img.name, l.digest
            )));
        }
    }
    Ok(())
}

impl crate::model::spec::Descriptor {
    fn urls_is_empty(&self) -> bool {
        match self.extra.get("urls") {
            None | Some(serde_json::Value::Null) => true,
            Some(serde_json::Value::Array(a)) => a.is_empty(),
            Some(_) => false,
        }
    }
}
