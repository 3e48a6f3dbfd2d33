//! Opening image files. A reference names a file or directory; its content says what it is
//! (an OCI layout, or a tar holding an OCI layout and/or a docker-save `manifest.json`). An OCI
//! layout's `index.json` wins over `manifest.json` when both exist. Both paths end in the same
//! `Image` model, every JSON document verified against its descriptor on the way.

mod docker;
mod oci;

use crate::error::{Error, Result};
use crate::model::image::{Format, Image};
use crate::model::reference::{ImageRef, Selector, Transport};
use crate::model::spec::Platform;
use crate::store::container::Container;
use std::sync::Arc;

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

/// An opened image file.
pub struct Source {
    pub container: Arc<Container>,
    pub format: Format,
    pub reference: ImageRef,
    kind: SourceKind,
}

enum SourceKind {
    Oci(oci::OciIndex),
    Docker(docker::DockerManifest),
}

impl Source {
    pub fn open(r: &ImageRef) -> Result<Source> {
        let path = &r.path;
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let container = if meta.is_dir() {
            if matches!(
                r.transport,
                Transport::DockerArchive | Transport::OciArchive
            ) {
                return Err(Error::Usage(format!(
                    "{}: is a directory, not an archive",
                    path.display()
                )));
            }
            Container::open_dir(path)?
        } else {
            if r.transport == Transport::Oci {
                return Err(Error::Usage(format!(
                    "{}: oci: needs a layout directory",
                    path.display()
                )));
            }
            Container::open_tar(path)?
        };
        let container = Arc::new(container);
        let has_layout = container.has("oci-layout") && container.has("index.json");
        let has_docker = !container.is_dir() && container.has("manifest.json");
        if has_layout {
            let index = oci::OciIndex::load(&container)?;
            let format = if container.is_dir() {
                Format::OciLayout
            } else if has_docker {
                if container.has("repositories") {
                    Format::Docker25Save
                } else {
                    Format::Docker29Save
                }
            } else {
                Format::OciArchive
            };
            return Ok(Source {
                container,
                format,
                reference: r.clone(),
                kind: SourceKind::Oci(index),
            });
        }
        if has_docker {
            let dm = docker::DockerManifest::load(&container)?;
            let format = if dm.is_legacy() {
                Format::LegacyDockerSave
            } else {
                Format::DockerArchive
            };
            return Ok(Source {
                container,
                format,
                reference: r.clone(),
                kind: SourceKind::Docker(dm),
            });
        }
        if container.is_dir() {
            Err(Error::format(
                path.display(),
                "not an OCI layout (no oci-layout and index.json)",
            ))
        } else {
            Err(Error::format(
                path.display(),
                "not an image archive: it holds neither oci-layout + index.json nor manifest.json",
            ))
        }
    }

    /// The images this file offers at its top level.
    pub fn entries(&self) -> Vec<Entry> {
        match &self.kind {
            SourceKind::Oci(i) => i.entries(),
            SourceKind::Docker(d) => d.entries(),
        }
    }

    /// Selects one image: by the reference's selector, else the only one.
    pub fn image(&self, platform: Option<&Platform>) -> Result<Image> {
        self.image_with(self.reference.selector.as_ref(), platform)
    }

    pub fn image_with(&self, sel: Option<&Selector>, platform: Option<&Platform>) -> Result<Image> {
        let mut img = match &self.kind {
            SourceKind::Oci(i) => {
                i.image(&self.container, self.format, sel, platform, &self.reference)?
            }
            SourceKind::Docker(d) => d.image(&self.container, self.format, sel, &self.reference)?,
        };
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
    ) -> Result<Option<crate::sink::OutImage>> {
        match &self.kind {
            SourceKind::Oci(i) => {
                i.whole_index(&self.container, self.format, sel, &self.reference, warnings)
            }
            SourceKind::Docker(_) => Ok(None),
        }
    }

    /// The dual-format check: where both index.json and manifest.json exist, do they agree?
    /// Returns one line per disagreement.
    pub fn dual_format_disagreements(&self) -> Result<Vec<String>> {
        let SourceKind::Oci(index) = &self.kind else {
            return Ok(vec![]);
        };
        if self.container.is_dir() || !self.container.has("manifest.json") {
            return Ok(vec![]);
        }
        let dm = docker::DockerManifest::load(&self.container)?;
        let mut out = Vec::new();
        for (i, e) in dm.entries.iter().enumerate() {
            let di = dm.image_at(&self.container, self.format, i, &self.reference)?;
            let oi = index.find_by_config(&self.container, &di.config_desc.digest)?;
            match oi {
                None => out.push(format!(
                    "manifest.json entry {i} ({}) has config {} which no index.json image has",
                    e.repo_tags.join(", "),
                    di.config_desc.digest
                )),
                Some(oi) => {
                    let a: Vec<_> = di.layers.iter().map(|l| &l.diff_id).collect();
                    let b: Vec<_> = oi.layers.iter().map(|l| &l.diff_id).collect();
                    if a != b {
                        out.push(format!(
                            "manifest.json entry {i}: layers differ from index.json's image"
                        ));
                    }
                    let ad: Vec<_> = di.layers.iter().map(|l| &l.desc.digest).collect();
                    let bd: Vec<_> = oi.layers.iter().map(|l| &l.desc.digest).collect();
                    if a == b && ad != bd {
                        out.push(format!(
                            "manifest.json entry {i}: layer blobs differ from index.json's image"
                        ));
                    }
                }
            }
        }
        Ok(out)
    }
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

/// Opens one image from a reference string.
pub fn open_image(r: &ImageRef, platform: Option<&Platform>) -> Result<Image> {
    Source::open(r)?.image(platform)
}
