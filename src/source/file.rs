//! Image files and directories: an OCI layout, or a tar holding an OCI layout and/or a
//! docker-save `manifest.json`. The content says which (an OCI layout's `index.json` wins over
//! `manifest.json` when both exist), whatever the file is called.

use super::{Entry, ImageSource, docker, oci};
use crate::error::{Error, Result};
use crate::model::image::{Format, Image};
use crate::model::out::OutImage;
use crate::model::reference::{ImageRef, Selector, Transport};
use crate::model::spec::Platform;
use crate::store::container::Container;
use std::sync::Arc;

/// An opened image file or layout directory.
pub struct FileSource {
    container: Arc<Container>,
    format: Format,
    reference: ImageRef,
    kind: Kind,
}

enum Kind {
    Oci(oci::OciIndex),
    Docker(docker::DockerManifest),
}

impl FileSource {
    pub fn open(r: &ImageRef) -> Result<FileSource> {
        let container = Arc::new(open_container(r)?);
        let has_layout = container.has("oci-layout") && container.has("index.json");
        let has_docker = !container.is_dir() && container.has("manifest.json");
        let (format, kind) = if has_layout {
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
            (format, Kind::Oci(index))
        } else if has_docker {
            let dm = docker::DockerManifest::load(&container)?;
            let format = if dm.is_legacy() {
                Format::LegacyDockerSave
            } else {
                Format::DockerArchive
            };
            (format, Kind::Docker(dm))
        } else if container.is_dir() {
            return Err(Error::format(
                r.path.display(),
                "not an OCI layout (no oci-layout and index.json)",
            ));
        } else {
            return Err(Error::format(
                r.path.display(),
                "not an image archive: it holds neither oci-layout + index.json nor manifest.json",
            ));
        };
        Ok(FileSource {
            container,
            format,
            reference: r.clone(),
            kind,
        })
    }
}

/// The directory or tar the reference names, as its transport allows.
fn open_container(r: &ImageRef) -> Result<Container> {
    let path = &r.path;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        if matches!(
            r.transport,
            Transport::DockerArchive | Transport::OciArchive
        ) {
            return Err(Error::Usage(format!(
                "{}: is a directory, not an archive",
                path.display()
            )));
        }
        Container::open_dir(path)
    } else {
        if r.transport == Transport::Oci {
            return Err(Error::Usage(format!(
                "{}: oci: needs a layout directory",
                path.display()
            )));
        }
        Container::open_tar(path)
    }
}

impl ImageSource for FileSource {
    fn describe(&self) -> &str {
        self.container.display()
    }

    fn entries(&self) -> Vec<Entry> {
        match &self.kind {
            Kind::Oci(i) => i.entries(),
            Kind::Docker(d) => d.entries(),
        }
    }

    fn image(&self, sel: Option<&Selector>, platform: Option<&Platform>) -> Result<Image> {
        match &self.kind {
            Kind::Oci(i) => i.image(&self.container, self.format, sel, platform, &self.reference),
            Kind::Docker(d) => d.image(&self.container, self.format, sel, &self.reference),
        }
    }

    fn whole_index(
        &self,
        sel: Option<&Selector>,
        warnings: &mut Vec<String>,
    ) -> Result<Option<OutImage>> {
        match &self.kind {
            Kind::Oci(i) => {
                i.whole_index(&self.container, self.format, sel, &self.reference, warnings)
            }
            Kind::Docker(_) => Ok(None),
        }
    }

    /// Where both index.json and manifest.json exist (Docker 25+ saves), do they agree?
    fn dual_format_disagreements(&self) -> Result<Vec<String>> {
        let Kind::Oci(index) = &self.kind else {
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
                Some(oi) => out.extend(compare_layers(i, &di, &oi)),
            }
        }
        Ok(out)
    }
}

/// How manifest.json's image `i` differs from index.json's image with the same config.
fn compare_layers(i: usize, di: &Image, oi: &Image) -> Option<String> {
    let a: Vec<_> = di.layers.iter().map(|l| &l.diff_id).collect();
    let b: Vec<_> = oi.layers.iter().map(|l| &l.diff_id).collect();
    if a != b {
        return Some(format!(
            "manifest.json entry {i}: layers differ from index.json's image"
        ));
    }
    let ad: Vec<_> = di.layers.iter().map(|l| &l.desc.digest).collect();
    let bd: Vec<_> = oi.layers.iter().map(|l| &l.desc.digest).collect();
    (ad != bd)
        .then(|| format!("manifest.json entry {i}: layer blobs differ from index.json's image"))
}
