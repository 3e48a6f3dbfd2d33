//! An index over images planned for writing: one manifest per platform, in the order given.

use crate::model::digest::Digest;
use crate::model::out::{OutBlob, OutImage};
use crate::model::spec::{self, Descriptor, Index, Platform, media};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The index over `images` (each with the platform it was made for), carrying every image's
/// blobs; the annotations given (less `org.opencontainers.image.base.*`, which each manifest
/// carries for its own base). Named as the first image is.
pub fn index_of<'a>(
    images: impl IntoIterator<Item = (&'a Platform, &'a OutImage)>,
    annotations: &BTreeMap<String, String>,
) -> OutImage {
    let mut blobs: Vec<OutBlob> = Vec::new();
    let mut manifests = Vec::new();
    let mut name = None;
    for (i, (p, img)) in images.into_iter().enumerate() {
        if i == 0 {
            name = img.name.clone();
        }
        blobs.extend(img.blobs.iter().cloned());
        let mut m = Descriptor::new(&img.top.media_type, img.top.digest.clone(), img.top.size);
        m.platform = Some(img.top.platform.clone().unwrap_or_else(|| p.clone()));
        manifests.push(m);
    }
    let index = Index {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.into()),
        manifests,
        annotations: annotations
            .iter()
            .filter(|(k, _)| !k.starts_with("org.opencontainers.image.base."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        extra: Default::default(),
    };
    let bytes = spec::to_json(&index);
    let top = Descriptor::new(media::OCI_INDEX, Digest::of(&bytes), bytes.len() as u64);
    blobs.push(OutBlob::Bytes {
        desc: top.clone(),
        bytes: Arc::new(bytes),
    });
    OutImage {
        top,
        blobs,
        name,
        docker: None,
    }
}
