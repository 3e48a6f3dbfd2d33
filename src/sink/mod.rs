//! Writing images. Every output is a `Sink`: an OCI layout (new, or added to an existing one),
//! an OCI archive, a docker archive in the dual format Docker 25+ writes (a valid OCI layout
//! plus `manifest.json` and `repositories`), or that docker archive streamed to stdout. Every
//! manifest regraft writes is OCI; config and layer bytes are copied as they are, verified on
//! the way. Files are replaced atomically: built beside, then renamed.
//!
//! `write` opens a sink and commits the planned image (a commit puts every blob not in yet); a
//! graft opens the sink itself (`begin`) to put the base's layers while it still reads the
//! vendor and to write its new layer straight into the output. A registry is one more `Sink`
//! behind `open` (`registry.rs`): blobs first, the manifest last, nothing sent that the
//! registry has.

mod archive;
mod layout;
mod registry;
mod stream;

pub use crate::store::registry::Transfer;

use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::image::BlobData;
use crate::model::reference::{ImageRef, Transport, familiar_name, normalize_name, split_tag};
use crate::model::spec::{self};
use std::io::Write;

pub use crate::model::out::{DockerEntry, OutBlob, OutImage};

/// Options that apply to every write.
#[derive(Clone, Copy)]
pub struct WriteOptions {
    pub max_layer_size: u64,
}

/// Writes the bytes of a blob `put_new` adds; returns their digest and size.
pub type BlobWriter<'a> = dyn FnMut(&mut (dyn Write + Send)) -> Result<(Digest, u64)> + 'a;

/// Where an image is written. The contract every sink keeps (as umoci's `cas` engine states
/// its own), and callers rely on:
/// - `put` adds one blob, its bytes copied and verified against their descriptor on the way
///   (a layer against its diff_id too, unless this run checked it already). Putting a blob the
///   sink holds already does nothing: put is idempotent by digest.
/// - `put_new` adds a blob whose bytes the caller writes and whose digest is known only after
///   (the new layer, hashed as it is written); the same idempotence holds. It returns where
///   the bytes can be read again until the commit (the check reads the new layer). A sink
///   that cannot write such a blob in place keeps the default: a temporary file, then `put`.
/// - Nothing is visible at the target before `commit`. `commit` writes what the image still
///   needs and makes it visible at once: a reader sees the target as it was, or complete with
///   the image and the name it is given. It returns the digest of what the output now names.
/// - A sink dropped without `commit` (an error, a check that blocks the write) leaves the
///   target as it was and removes what it wrote, also in a layout that other images share.
///
/// (`-o -` is the documented exception: a stream cannot be taken back.)
pub trait Sink: Send {
    fn put(&mut self, blob: &OutBlob) -> Result<()>;
    fn put_new(&mut self, write: &mut BlobWriter<'_>) -> Result<BlobData> {
        let tmp = crate::store::temp::temp_file_in(&std::env::temp_dir())?;
        let f = tmp
            .as_file()
            .try_clone()
            .map_err(|e| Error::io(tmp.path(), e))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let (digest, size) = write(&mut w)?;
        w.flush().map_err(|e| Error::io(tmp.path(), e))?;
        let data = BlobData::File(std::sync::Arc::new(tmp.into_temp_path()));
        self.put(&OutBlob::Raw {
            desc: crate::model::spec::Descriptor::new("", digest, size),
            data: data.clone(),
        })?;
        Ok(data)
    }
    /// Offers the sink the raw bytes of `layers` (`OutBlob::Layer`s in the order the image
    /// lists them, from its first layer), which the caller is about to read whole anyway (the
    /// check's inflate): a sink that copies blobs as they are attaches a writer to each layer
    /// (`Checked::attach_tee`), and its `put` (or `commit`) of such a layer then keeps the
    /// bytes that read wrote and verified instead of reading the blob again; a layer whose
    /// read did not come or failed is copied as any other. The caller reads a layer it offered
    /// before it puts it, never at the same time. The default takes nothing (a stream waits
    /// for the check).
    fn offer_tees(&mut self, layers: &[OutBlob]) -> Result<()> {
        let _ = layers;
        Ok(())
    }
    fn commit(self: Box<Self>, img: &OutImage) -> Result<Digest>;
    /// What a sink that sends blobs over the network moved (a registry's): a shared record
    /// that the commit goes on filling, read after it.
    fn transfer(&self) -> Option<std::sync::Arc<Transfer>> {
        None
    }
}

impl dyn Sink + '_ {
    /// `put_new` with a value of the caller's carried out of the writer.
    pub fn put_new_with<T>(
        &mut self,
        f: impl FnOnce(&mut (dyn Write + Send)) -> Result<(Digest, u64, T)>,
    ) -> Result<(BlobData, T)> {
        let mut f = Some(f);
        let mut extra = None;
        let blob = self.put_new(&mut |w| {
            let f = f
                .take()
                .ok_or_else(|| Error::Invalid("internal: a blob writer ran twice".into()))?;
            let (d, n, t) = f(w)?;
            extra = Some(t);
            Ok((d, n))
        })?;
        let t =
            extra.ok_or_else(|| Error::Invalid("internal: a blob writer did not run".into()))?;
        Ok((blob, t))
    }
}

/// Opens the sink `out` names.
pub fn open(out: &ImageRef, opts: WriteOptions) -> Result<Box<dyn Sink>> {
    if out.path.as_os_str() == "-" {
        return Ok(Box::new(stream::StreamSink::stdout(out.clone(), opts)));
    }
    match out.transport {
        Transport::Oci => Ok(Box::new(layout::LayoutSink::open(out.clone(), opts)?)),
        Transport::OciArchive => Ok(Box::new(archive::ArchiveSink::begin(
            out.clone(),
            archive::ArchiveKind::Oci,
            opts,
        )?)),
        Transport::DockerArchive => Ok(Box::new(archive::ArchiveSink::begin(
            out.clone(),
            archive::ArchiveKind::Docker,
            opts,
        )?)),
        Transport::Registry => Ok(Box::new(registry::RegistrySink::open(out.clone(), opts)?)),
        Transport::Sniff => Err(Error::Usage(format!("output {out}: unknown format"))),
    }
}

/// Writes `img` to `out`: the commit of a sink nothing was put into puts every blob in archive
/// order. Returns the digest of what the output now names.
pub fn write(out: &ImageRef, img: &OutImage, opts: WriteOptions) -> Result<Digest> {
    write_counted(out, img, opts).map(|(d, _)| d)
}

/// `write`, and what it moved when the output is a registry.
pub fn write_counted(
    out: &ImageRef,
    img: &OutImage,
    opts: WriteOptions,
) -> Result<(Digest, Option<std::sync::Arc<Transfer>>)> {
    let sink = open(out, opts)?;
    let t = sink.transfer();
    Ok((sink.commit(img)?, t))
}

/// Opens `out` for a graft that puts blobs before its image is complete (the base's layers
/// while the vendor is read, then the new layer written straight in), for every output whose
/// puts stay invisible until the commit: archives and layouts. None for a stream, which must
/// not start before the check has passed: `write` writes it at the end.
pub fn begin(out: &ImageRef, opts: WriteOptions) -> Result<Option<Box<dyn Sink>>> {
    if out.path.as_os_str() == "-" {
        return Ok(None);
    }
    open(out, opts).map(Some)
}

/// Whether the sink `out` names takes a layer's raw bytes from a read the caller does anyway
/// (`Sink::offer_tees`): archive files, registries (an upload fed by the read) and layouts
/// (a blob that is not a whole file on disk; a whole file is hard-linked). A stream cannot
/// start before the check has passed.
pub fn takes_tees(out: &ImageRef) -> bool {
    out.path.as_os_str() != "-"
        && matches!(
            out.transport,
            Transport::OciArchive | Transport::DockerArchive | Transport::Registry | Transport::Oci
        )
}

/// index.json annotations for a named image. Docker archives follow Docker: the full
/// normalised name in `io.containerd.image.name`, the tag alone as the ref name.
fn index_annotations(
    name: Option<&str>,
    naming: Naming,
) -> std::collections::BTreeMap<String, String> {
    use crate::model::spec::annotation::{CONTAINERD_NAME, REF_NAME};
    let mut a = std::collections::BTreeMap::new();
    if let Some(n) = name {
        match naming {
            Naming::Docker => {
                let full = normalize_name(n);
                a.insert(CONTAINERD_NAME.to_string(), full.clone());
                a.insert(REF_NAME.to_string(), split_tag(&full).1);
            }
            Naming::Oci => {
                a.insert(REF_NAME.to_string(), n.to_string());
            }
        }
    }
    a
}

/// How an output names its image in index.json.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Naming {
    /// As Docker does (docker archives).
    Docker,
    /// The name as given, as the ref name (OCI layouts and archives).
    Oci,
}

/// `manifest.json` and `repositories` for a docker archive.
fn docker_files(img: &OutImage, name: Option<&str>) -> Result<(Vec<u8>, Vec<u8>)> {
    let d = img.docker.as_ref().ok_or_else(|| {
        Error::Unsupported(
            "a docker archive holds single-platform images; pick one with --platform".into(),
        )
    })?;
    #[derive(serde::Serialize)]
    struct Entry {
        #[serde(rename = "Config")]
        config: String,
        #[serde(rename = "RepoTags")]
        repo_tags: Vec<String>,
        #[serde(rename = "Layers")]
        layers: Vec<String>,
    }
    let entry = Entry {
        config: d.config.blob_path(),
        repo_tags: name.map(|n| vec![familiar_name(n)]).unwrap_or_default(),
        layers: d.layers.iter().map(Digest::blob_path).collect(),
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
fn copy_blob(b: &OutBlob, w: &mut (dyn Write + Send), opts: WriteOptions) -> Result<()> {
    match b {
        OutBlob::Bytes { bytes, .. } => w
            .write_all(bytes)
            .map_err(|e| Error::layer_io(format!("{}: writing", b.digest()), e)),
        OutBlob::Layer {
            image,
            index,
            layer,
        } => crate::layer::copy_layer(image, *index, layer, w, opts.max_layer_size),
        OutBlob::Raw { desc, data } => {
            let what = format!("blob {}", desc.digest);
            let raw = crate::layer::open_blob(data)?;
            let mut r = crate::model::digest::VerifyingReader::new(
                raw,
                desc.digest.clone(),
                desc.size,
                what.clone(),
            );
            std::io::copy(&mut r, w).map_err(|e| Error::layer_io(&what, e))?;
            r.finish().map(|_| ())
        }
    }
}

/// The blobs of an image in the order they are written: layers first, in the order the image
/// lists them (so that a graft can copy the base's layers and write its new layer into an
/// archive before the rest is known), then the other blobs by digest, an index after every
/// manifest it names (a registry refuses an index whose manifests it lacks); no duplicates.
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
    let is_index = |b: &OutBlob| match b {
        OutBlob::Bytes { desc, .. } | OutBlob::Raw { desc, .. } => {
            spec::media::is_index(&desc.media_type)
        }
        OutBlob::Layer { .. } => false,
    };
    rest.sort_by(|a, b| (is_index(a), a.digest()).cmp(&(is_index(b), b.digest())));
    v.extend(rest);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what is put, as a sink that cannot write a blob in place would receive it.
    #[derive(Default)]
    struct Recorder {
        put: Vec<(Digest, u64, Vec<u8>)>,
    }

    impl Sink for Recorder {
        fn put(&mut self, blob: &OutBlob) -> Result<()> {
            let OutBlob::Raw { desc, data } = blob else {
                panic!("put_new's default puts a raw blob");
            };
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut crate::layer::open_blob(data)?, &mut bytes)
                .map_err(|e| Error::io_while("reading", e))?;
            self.put.push((desc.digest.clone(), desc.size, bytes));
            Ok(())
        }
        fn commit(self: Box<Self>, img: &OutImage) -> Result<Digest> {
            Ok(img.top.digest.clone())
        }
    }

    #[test]
    fn an_index_is_put_after_every_manifest_it_names() {
        let blob = |media: &str, bytes: &[u8]| OutBlob::json(media, bytes.to_vec());
        // Digests chosen by content: find an index whose digest sorts before a manifest's.
        let manifests: Vec<OutBlob> = (0..8)
            .map(|i| blob(spec::media::OCI_MANIFEST, format!("m{i}").as_bytes()))
            .collect();
        let index = blob(spec::media::OCI_INDEX, b"i");
        assert!(manifests.iter().any(|m| m.digest() > index.digest()));
        let mut blobs = vec![index.clone()];
        blobs.extend(manifests);
        let img = OutImage {
            top: match &index {
                OutBlob::Bytes { desc, .. } => desc.clone(),
                _ => unreachable!(),
            },
            blobs,
            name: None,
            docker: None,
        };
        let order = blob_order(&img);
        assert_eq!(order.len(), 9);
        assert_eq!(order.last().unwrap().digest(), index.digest());
        assert!(order[..8].windows(2).all(|w| w[0].digest() < w[1].digest()));
    }

    #[test]
    fn put_new_by_default_writes_a_temporary_file_and_puts_it() {
        let mut r = Recorder::default();
        let sink: &mut dyn Sink = &mut r;
        let (data, extra) = sink
            .put_new_with(|w| {
                w.write_all(b"new layer bytes")
                    .map_err(|e| Error::io_while("test", e))?;
                Ok((Digest::of(b"new layer bytes"), 15, 7))
            })
            .unwrap();
        assert_eq!(extra, 7);
        let mut again = Vec::new();
        std::io::Read::read_to_end(&mut crate::layer::open_blob(&data).unwrap(), &mut again)
            .unwrap();
        assert_eq!(again, b"new layer bytes");
        assert_eq!(
            r.put,
            vec![(
                Digest::of(b"new layer bytes"),
                15,
                b"new layer bytes".to_vec()
            )]
        );
    }
}
