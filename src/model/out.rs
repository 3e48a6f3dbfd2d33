//! An image planned for writing: every blob it needs (bytes regraft holds, layers and other
//! blobs of an input, each with how to check it while copying), the descriptor index.json names,
//! and the docker-archive view. Sources plan their images as they are; building plans new ones;
//! every sink writes from this.

use crate::model::digest::{DiffId, Digest};
use crate::model::image::{BlobData, Image, Layer};
use crate::model::reference::ImageRef;
use crate::model::spec::{Descriptor, media};
use std::sync::Arc;

/// A blob to write, and how to check it while copying.
#[derive(Clone)]
pub enum OutBlob {
    /// JSON (or other bytes) regraft holds in memory.
    Bytes {
        desc: Descriptor,
        bytes: Arc<Vec<u8>>,
    },
    /// A layer: copied byte for byte with its digest, size and diff_id verified.
    Layer {
        image: String,
        index: usize,
        layer: Layer,
    },
    /// Any other blob of an input (an attestation's manifest or layers): copied byte for
    /// byte with its digest and size verified.
    Raw { desc: Descriptor, data: BlobData },
}

impl OutBlob {
    pub fn digest(&self) -> &Digest {
        match self {
            OutBlob::Bytes { desc, .. } => &desc.digest,
            OutBlob::Layer { layer, .. } => &layer.desc.digest,
            OutBlob::Raw { desc, .. } => &desc.digest,
        }
    }
    pub fn size(&self) -> u64 {
        match self {
            OutBlob::Bytes { desc, .. } => desc.size,
            OutBlob::Layer { layer, .. } => layer.desc.size,
            OutBlob::Raw { desc, .. } => desc.size,
        }
    }
    pub fn json(media_type: &str, bytes: Vec<u8>) -> OutBlob {
        let desc = Descriptor::new(media_type, Digest::of(&bytes), bytes.len() as u64);
        OutBlob::Bytes {
            desc,
            bytes: Arc::new(bytes),
        }
    }
}

/// What `manifest.json` says about one image of a docker archive.
#[derive(Clone)]
pub struct DockerEntry {
    pub config: Digest,
    pub layers: Vec<Digest>,
    pub diff_ids: Vec<DiffId>,
}

/// One image (or index) to write, with every blob it needs.
#[derive(Clone)]
pub struct OutImage {
    /// The descriptor that goes into index.json (manifest or index; OCI types).
    pub top: Descriptor,
    pub blobs: Vec<OutBlob>,
    /// The name the output gives it (`name:tag` or a plain ref), if any.
    pub name: Option<String>,
    /// Docker-archive view (the platform image chosen for manifest.json).
    pub docker: Option<DockerEntry>,
}

impl OutImage {
    /// Plans writing `img` as it is (an OCI manifest: the original bytes when already OCI).
    pub fn from_image(img: &Image, name: Option<String>) -> OutImage {
        let (m, mbytes) = img.oci_manifest();
        let mut blobs = vec![OutBlob::Bytes {
            desc: Descriptor::new(
                media::OCI_CONFIG,
                img.config_desc.digest.clone(),
                img.config_bytes.len() as u64,
            ),
            bytes: img.config_bytes.clone(),
        }];
        for (i, l) in img.layers.iter().enumerate() {
            blobs.push(OutBlob::Layer {
                image: img.name.clone(),
                index: i,
                layer: l.clone(),
            });
        }
        let mut top = Descriptor::new(
            media::OCI_MANIFEST,
            Digest::of(&mbytes),
            mbytes.len() as u64,
        );
        top.platform = Some(img.view.platform.clone());
        blobs.push(OutBlob::Bytes {
            desc: top.clone(),
            bytes: mbytes,
        });
        OutImage {
            top,
            blobs,
            name,
            docker: Some(DockerEntry {
                config: m.config.digest.clone(),
                layers: m.layers.iter().map(|l| l.digest.clone()).collect(),
                diff_ids: img.layers.iter().map(|l| l.diff_id.clone()).collect(),
            }),
        }
    }

    /// The tag the output names it by: the output reference's, else `name`.
    pub(crate) fn out_name(&self, out: &ImageRef) -> Option<String> {
        out.name().map(str::to_string).or_else(|| self.name.clone())
    }
}

/// Whether a planned image is written (by a copy that verifies every byte it reads, so
/// readers before it may skip what the copy will check) or only planned (a dry run, where
/// the readers check everything themselves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    Write,
    DryRun,
}
