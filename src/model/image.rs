//! The one image model every source yields and every sink writes: a manifest, a config (kept as
//! the exact bytes read) and layers, each layer with the descriptor of its blob, its diff_id and
//! where its bytes live. Mutations build new images; they never change their inputs.

use crate::error::{Error, Result};
use crate::model::digest::{DiffId, Digest};
use crate::model::spec::{ConfigView, Descriptor, History, Manifest, media};
use crate::store::BlobStore;
use crate::store::stamp::FileStamp;
use serde_json::Value;
use std::sync::Arc;

/// What kind of file an image came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Docker <= 24: `<id>/layer.tar`, `manifest.json`, `repositories`.
    LegacyDockerSave,
    /// `manifest.json` with other layer names (skopeo, go-containerregistry).
    DockerArchive,
    /// Docker 25+ (classic store): an OCI layout with uncompressed blobs plus `manifest.json`.
    Docker25Save,
    /// Docker 29+ (containerd store): an OCI layout with compressed blobs, no `repositories`.
    Docker29Save,
    OciArchive,
    OciLayout,
    /// A registry (`docker://`).
    Registry,
}

impl Format {
    pub fn describe(self) -> &'static str {
        match self {
            Format::LegacyDockerSave => "docker save, legacy (Docker <= 24)",
            Format::DockerArchive => "docker archive (manifest.json only)",
            Format::Docker25Save => "docker save, Docker 25+ (OCI layout + manifest.json)",
            Format::Docker29Save => "docker save, Docker 29+ containerd store",
            Format::OciArchive => "OCI archive",
            Format::OciLayout => "OCI layout directory",
            Format::Registry => "registry",
        }
    }
}

/// Where a blob's bytes come from.
#[derive(Clone)]
pub enum BlobData {
    /// A blob of an input's store (a member of a layout or archive), read through a
    /// `VerifyingReader`.
    Member {
        store: Arc<dyn BlobStore>,
        name: String,
    },
    /// Bytes regraft made (JSON documents).
    Bytes(Arc<Vec<u8>>),
    /// A file regraft wrote (a new layer), already hashed.
    File(Arc<tempfile::TempPath>),
    /// `len` bytes at `start` of a file regraft is writing (a new layer written straight into
    /// the output archive being built), already hashed.
    Range {
        path: Arc<tempfile::TempPath>,
        start: u64,
        len: u64,
    },
}

/// A blob with its descriptor.
#[derive(Clone)]
pub struct Blob {
    pub desc: Descriptor,
    pub data: BlobData,
}

#[derive(Clone)]
pub struct Layer {
    /// The blob as the source describes it (media type may be Docker's).
    pub desc: Descriptor,
    pub diff_id: DiffId,
    pub data: BlobData,
    /// Index into the config's history of the entry that made this layer, if known.
    pub history: Option<usize>,
    /// Whether the blob was checked against its diff_id in this run.
    pub checked: Checked,
}

/// Whether a layer's blob has been inflated and hashed to its diff_id in this run (or was
/// hashed as regraft wrote it). Clones of a layer share the record, so the reader that checked
/// a layer tells the writer that later copies the same layer value: the copy then only checks
/// the raw digest, and each compressed layer is inflated once. A sha256 names the bytes, so the
/// record holds wherever the layer's bytes are read again.
///
/// When the blob lies in a file on disk (a layout's blob, a layer regraft wrote, a member of an
/// archive) the record also keeps that file's stamp from when it was checked, unchanged from
/// open to end: a layout output that hard-links a blob's whole file needs no second read to
/// know its bytes, and a later walk of an uncompressed layer in that unchanged file reads it
/// in place (`view::fs::Fs::add_layer`).
#[derive(Clone, Default)]
pub struct Checked(Arc<CheckedInner>);

#[derive(Default)]
struct CheckedInner {
    done: std::sync::atomic::AtomicBool,
    file: std::sync::Mutex<Option<FileStamp>>,
    tee: std::sync::Mutex<Tee>,
}

/// Where a layer's raw bytes go besides the reader that reads them whole (issue 19's tee): a
/// sink that will copy the blob as it is attaches a writer for its bytes; the next stream of
/// the layer (the check's inflate, `layer::LayerStream`) takes it and writes every raw byte it
/// reads into it, and marks it filled only once the whole blob was read and its size, digest
/// and diff_id matched. The sink then keeps those bytes instead of reading the blob again; a
/// tee never filled (no stream came, or it failed) is a blob the sink copies as it would have.
#[derive(Default)]
pub enum Tee {
    /// Nothing attached.
    #[default]
    None,
    /// A writer waiting for the next whole read of the layer.
    Waiting(Box<dyn std::io::Write + Send>),
    /// A stream took the writer and is reading.
    Reading,
    /// A stream wrote the whole blob into the writer and verified it.
    Filled,
}

impl Checked {
    /// A record that says checked already (a layer hashed as it was written).
    pub fn done() -> Checked {
        let c = Checked::default();
        c.mark();
        c
    }
    pub fn mark(&self) {
        self.0
            .done
            .store(true, std::sync::atomic::Ordering::Release);
    }
    pub fn is_done(&self) -> bool {
        self.0.done.load(std::sync::atomic::Ordering::Acquire)
    }
    /// Checked, and the bytes were those of the file with this stamp.
    pub fn mark_file(&self, stamp: FileStamp) {
        if let Ok(mut f) = self.0.file.lock() {
            *f = Some(stamp);
        }
        self.mark();
    }
    /// The stamp of the file that held the bytes checked, if they lay in a file.
    pub fn file(&self) -> Option<FileStamp> {
        self.0.file.lock().ok().and_then(|f| *f)
    }

    fn tee_slot(&self) -> std::sync::MutexGuard<'_, Tee> {
        self.0.tee.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Attaches a sink's writer for the layer's raw bytes (see [`Tee`]).
    pub fn attach_tee(&self, w: Box<dyn std::io::Write + Send>) {
        *self.tee_slot() = Tee::Waiting(w);
    }

    /// For a stream that reads the whole layer: the writer waiting for its raw bytes, if any.
    pub fn take_tee(&self) -> Option<Box<dyn std::io::Write + Send>> {
        let mut slot = self.tee_slot();
        match std::mem::take(&mut *slot) {
            Tee::Waiting(w) => {
                *slot = Tee::Reading;
                Some(w)
            }
            other => {
                *slot = other;
                None
            }
        }
    }

    /// The stream that took the writer ended: `filled` when it wrote every byte of the blob
    /// and verified it, else the tee is dropped (the sink copies the blob itself).
    pub fn end_tee(&self, filled: bool) {
        let mut slot = self.tee_slot();
        if matches!(*slot, Tee::Reading) {
            *slot = if filled { Tee::Filled } else { Tee::None };
        }
    }

    /// For the sink: the tee's state, taken (a waiting writer is dropped, so that no read
    /// writes into it after this). `Tee::Reading` means a stream is still writing.
    pub fn settle_tee(&self) -> Tee {
        let mut slot = self.tee_slot();
        match std::mem::take(&mut *slot) {
            Tee::Reading => {
                *slot = Tee::Reading;
                Tee::Reading
            }
            other => other,
        }
    }
}

#[derive(Clone)]
pub struct Image {
    /// For messages: the file and the selected name.
    pub name: String,
    pub format: Format,
    /// Names this image carries in its file (ref names, RepoTags), as written there.
    pub tags: Vec<String>,
    pub manifest: Manifest,
    /// The manifest's original bytes, when it was read from a blob.
    pub manifest_bytes: Option<Arc<Vec<u8>>>,
    pub manifest_digest: Digest,
    /// The index the manifest was selected from (for base.* annotations), if any.
    pub index_digest: Option<Digest>,
    pub config_desc: Descriptor,
    pub config_bytes: Arc<Vec<u8>>,
    pub config: Value,
    pub view: ConfigView,
    pub layers: Vec<Layer>,
    /// Non-fatal findings while reading (fewer history entries than layers, ...).
    pub warnings: Vec<String>,
}

impl Image {
    /// Links layers to history entries and checks the counts the way Docker does: more
    /// non-empty history entries than layers is an error, fewer a warning.
    pub fn link_history(&mut self) -> Result<()> {
        let non_empty: Vec<usize> = self
            .view
            .history
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.is_empty_layer())
            .map(|(i, _)| i)
            .collect();
        if non_empty.len() > self.layers.len() {
            return Err(Error::format(
                &self.name,
                format!(
                    "config history names {} non-empty layers but the image has {}",
                    non_empty.len(),
                    self.layers.len()
                ),
            ));
        }
        if !self.view.history.is_empty() && non_empty.len() < self.layers.len() {
            self.warnings.push(format!(
                "config history names {} non-empty layers but the image has {}; the last layers have no history entry",
                non_empty.len(),
                self.layers.len()
            ));
        }
        for (l, h) in self.layers.iter_mut().zip(non_empty) {
            l.history = Some(h);
        }
        Ok(())
    }

    pub fn history_of(&self, layer: usize) -> Option<&History> {
        self.layers
            .get(layer)?
            .history
            .and_then(|h| self.view.history.get(h))
    }

    pub fn config_obj(&self) -> Option<&serde_json::Map<String, Value>> {
        self.config.get("config").and_then(Value::as_object)
    }

    /// The OCI media type this layer gets when written: Docker types map to their OCI twins.
    pub fn oci_layer_type(desc: &Descriptor) -> String {
        match desc.media_type.as_str() {
            media::DOCKER_LAYER => media::OCI_LAYER.into(),
            media::DOCKER_LAYER_GZIP => media::OCI_LAYER_GZIP.into(),
            other => other.into(),
        }
    }

    /// Whether the manifest can be written byte for byte as an OCI manifest.
    pub fn manifest_is_oci(&self) -> bool {
        self.manifest_bytes.is_some()
            && self
                .manifest
                .media_type
                .as_deref()
                .unwrap_or(media::OCI_MANIFEST)
                == media::OCI_MANIFEST
            && self.config_desc.media_type == media::OCI_CONFIG
            && self
                .manifest
                .layers
                .iter()
                .all(|l| Self::oci_layer_type(l) == l.media_type)
    }

    /// The OCI manifest this image is written with, and its bytes: the original bytes when they
    /// already are OCI, else a new OCI manifest that keeps annotations and changes only types.
    pub fn oci_manifest(&self) -> (Manifest, Arc<Vec<u8>>) {
        if self.manifest_is_oci()
            && let Some(b) = &self.manifest_bytes
        {
            return (self.manifest.clone(), b.clone());
        }
        let mut m = self.manifest.clone();
        m.media_type = Some(media::OCI_MANIFEST.into());
        m.config.media_type = media::OCI_CONFIG.into();
        for l in &mut m.layers {
            l.media_type = Self::oci_layer_type(l);
        }
        let bytes = crate::model::spec::to_json(&m);
        (m, Arc::new(bytes))
    }
}
