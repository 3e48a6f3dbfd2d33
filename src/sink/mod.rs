//! Writing images: an OCI layout (new, or added to an existing one), an OCI archive, or a
//! docker archive in the dual format Docker 25+ writes (a valid OCI layout plus `manifest.json`
//! and `repositories`). Every manifest regraft writes is OCI; config and layer bytes are copied
//! as they are, verified on the way. Targets are replaced atomically: built beside, then renamed.

mod archive;
mod layout;

pub use archive::Session;

use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::image::BlobData;
use crate::model::reference::{ImageRef, Transport, familiar_name, normalize_name, split_tag};
use crate::model::spec::{self};

pub use crate::model::out::{DockerEntry, OutBlob, OutImage};
pub use layout::clean_stale_temps;

/// Options that apply to every write.
#[derive(Clone, Copy)]
pub struct WriteOptions {
    pub max_layer_size: u64,
}

/// Writes `img` to `out`. Returns the digest of what index.json now names.
pub fn write(out: &ImageRef, img: &OutImage, opts: WriteOptions) -> Result<Digest> {
    let name = img.out_name(out);
    if out.path.as_os_str() == "-" {
        // Streamed: not atomic (documented); what was written stays written on failure.
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout());
        archive::write_tar(&mut w, img, name.as_deref(), true, opts)?;
        std::io::Write::flush(&mut w)
            .map_err(|e| Error::Invalid(format!("writing to stdout: {e}")))?;
        return Ok(img.top.digest.clone());
    }
    match out.transport {
        Transport::Oci => layout::write_layout(&out.path, img, name.as_deref(), opts),
        Transport::OciArchive => {
            archive::write_archive(&out.path, img, name.as_deref(), false, opts)
        }
        Transport::DockerArchive => {
            archive::write_archive(&out.path, img, name.as_deref(), true, opts)
        }
        Transport::Sniff => Err(Error::Usage(format!("output {out}: unknown format"))),
    }
    .map(|_| img.top.digest.clone())
}

/// Starts building `out` in place when it is an archive file (a graft copies the base's
/// layers and writes its new layer into it before the image is complete); None otherwise.
pub fn begin(out: &ImageRef) -> Result<Option<Session>> {
    if out.path.as_os_str() == "-" {
        return Ok(None);
    }
    match out.transport {
        Transport::OciArchive | Transport::DockerArchive => Session::begin(&out.path).map(Some),
        _ => Ok(None),
    }
}

/// Finishes an archive `begin` started: `img` is the complete image.
pub fn finish(s: Session, out: &ImageRef, img: &OutImage, opts: WriteOptions) -> Result<Digest> {
    let name = img.out_name(out);
    let docker = match out.transport {
        Transport::DockerArchive => true,
        Transport::OciArchive => false,
        _ => return Err(Error::Invalid(format!("internal: {out} is not an archive"))),
    };
    s.finish(&out.path, img, name.as_deref(), docker, opts)?;
    Ok(img.top.digest.clone())
}

/// index.json annotations for a named image. Docker archives follow Docker: the full
/// normalised name in `io.containerd.image.name`, the tag alone as the ref name.
fn index_annotations(
    name: Option<&str>,
    docker: bool,
) -> std::collections::BTreeMap<String, String> {
    let mut a = std::collections::BTreeMap::new();
    if let Some(n) = name {
        if docker {
            let full = normalize_name(n);
            a.insert(
                crate::model::spec::annotation::CONTAINERD_NAME.to_string(),
                full.clone(),
            );
            a.insert(
                crate::model::spec::annotation::REF_NAME.to_string(),
                split_tag(&full).1,
            );
        } else {
            a.insert(
                crate::model::spec::annotation::REF_NAME.to_string(),
                n.to_string(),
            );
        }
    }
    a
}

/// `manifest.json` and `repositories` for a docker archive.
fn docker_files(img: &OutImage, name: Option<&str>) -> Result<(Vec<u8>, Vec<u8>)> {
    let d = img.docker.as_ref().ok_or_else(|| {
        Error::Unsupported(
            "a docker archive holds single-platform images; pick one with --platform".into(),
        )
    })?;
    #[derive(serde::Serialize)]
    struct Entry<'a> {
        #[serde(rename = "Config")]
        config: String,
        #[serde(rename = "RepoTags")]
        repo_tags: Vec<String>,
        #[serde(rename = "Layers")]
        layers: Vec<String>,
        #[serde(skip)]
        _p: std::marker::PhantomData<&'a ()>,
    }
    let repo_tags: Vec<String> = name.map(|n| vec![familiar_name(n)]).unwrap_or_default();
    let entry = Entry {
        config: d.config.blob_path(),
        repo_tags: repo_tags.clone(),
        layers: d.layers.iter().map(Digest::blob_path).collect(),
        _p: std::marker::PhantomData,
    };
    let manifest = spec::to_json(&vec![entry]);
    let mut repos: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> =
        Default::default();
    if let (Some(n), Some(top)) = (name, d.diff_ids.last()) {
        let (repo, tag) = split_tag(&familiar_name(n));
        repos
            .entry(repo)
            .or_default()
            .insert(tag, top.digest().hex());
    }
    Ok((manifest, spec::to_json(&repos)))
}

/// The bytes of one blob, streamed into `w` with verification.
fn copy_blob(b: &OutBlob, w: &mut (dyn std::io::Write + Send), opts: WriteOptions) -> Result<()> {
    match b {
        OutBlob::Bytes { bytes, .. } => w
            .write_all(bytes)
            .map_err(|e| Error::layer(b.digest(), format!("writing: {e}"))),
        OutBlob::Layer {
            image,
            index,
            layer,
        } => match &layer.data {
            BlobData::File(_)
            | BlobData::Range { .. }
            | BlobData::Bytes(_)
            | BlobData::Member { .. } => {
                crate::layer::copy_layer(image, *index, layer, w, opts.max_layer_size)
            }
        },
        OutBlob::Raw { desc, data } => {
            let what = format!("blob {}", desc.digest);
            let raw = crate::layer::open_blob(data)?;
            let mut r = crate::model::digest::VerifyingReader::new(
                raw,
                desc.digest.clone(),
                desc.size,
                what.clone(),
            );
            std::io::copy(&mut r, w).map_err(|e| Error::layer(&what, e.to_string()))?;
            r.finish().map(|_| ())
        }
    }
}

/// The blobs of an image in the order they are written: layers first, in the order the image
/// lists them (so that a graft can copy the base's layers and write its new layer into an
/// archive before the rest is known), then the other blobs by digest; no duplicates.
fn blob_order(img: &OutImage) -> Vec<&OutBlob> {
    let mut seen = std::collections::HashSet::new();
    let mut v: Vec<&OutBlob> = img
        .blobs
        .iter()
        .filter(|b| matches!(b, OutBlob::Layer { .. }))
        .filter(|b| seen.insert(b.digest().clone()))
        .collect();
    let mut rest: Vec<&OutBlob> = img
        .blobs
        .iter()
        .filter(|b| seen.insert(b.digest().clone()))
        .collect();
    rest.sort_by(|a, b| a.digest().cmp(b.digest()));
    v.extend(rest);
    v
}
