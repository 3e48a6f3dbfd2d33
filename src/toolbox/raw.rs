//! Raw documents for shell pipelines (crane's `manifest`, `config`, `digest` and `blob`): an
//! image's manifest and config as stored, byte for byte, their digests, and any of its blobs
//! streamed out with its digest and size checked.

use crate::error::{Error, Result};
use crate::layer::open_blob;
use crate::model::digest::{Digest, VerifyingReader};
use crate::model::image::Image;
use std::io::Write;
use std::sync::Arc;

/// The manifest as stored; for a docker archive, which stores none, the OCI manifest regraft
/// writes for it (the one `convert` writes and `inspect` names).
pub fn manifest(img: &Image) -> Arc<Vec<u8>> {
    match &img.manifest_bytes {
        Some(b) => b.clone(),
        None => img.oci_manifest().1,
    }
}

/// The digest of [`manifest`]'s bytes.
pub fn manifest_digest(img: &Image) -> Digest {
    match &img.manifest_bytes {
        Some(_) => img.manifest_digest.clone(),
        None => Digest::of(&manifest(img)),
    }
}

/// Writes the blob `digest` of `img` (its config, manifest or a layer, compressed as stored)
/// to `w`. A layer is streamed and checked as it goes: a mismatch fails after the bytes read
/// so far were written, so a pipeline must look at the exit code.
pub fn write_blob(img: &Image, digest: &Digest, w: &mut impl Write) -> Result<()> {
    let io = |e: std::io::Error| Error::io_while("writing the blob", e);
    if *digest == img.config_desc.digest {
        return w.write_all(&img.config_bytes).map_err(io);
    }
    if *digest == manifest_digest(img) {
        return w.write_all(&manifest(img)).map_err(io);
    }
    let Some((i, l)) = img
        .layers
        .iter()
        .enumerate()
        .find(|(_, l)| l.desc.digest == *digest)
    else {
        let layers: Vec<String> = img
            .layers
            .iter()
            .map(|l| l.desc.digest.to_string())
            .collect();
        return Err(Error::Invalid(format!(
            "{}: no blob {digest}: its config is {}, its manifest {}, its layers {}",
            img.name,
            img.config_desc.digest,
            manifest_digest(img),
            if layers.is_empty() {
                "none".into()
            } else {
                layers.join(", ")
            }
        )));
    };
    let what = crate::layer::describe(&img.name, i, l);
    let mut r = VerifyingReader::new(
        open_blob(&l.data)?,
        l.desc.digest.clone(),
        l.desc.size,
        &what,
    );
    std::io::copy(&mut r, w).map_err(|e| Error::layer_io(&what, e))?;
    r.finish()?;
    w.flush().map_err(io)
}
