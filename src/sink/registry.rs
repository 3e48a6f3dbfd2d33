//! A registry as an output (`-o docker://HOST/REPO:TAG`). Blobs go first, the manifest last,
//! so the tag never names an image with missing blobs, and a push that fails or is killed
//! leaves the tag as it was (blobs already sent stay unreferenced until the registry's
//! garbage collection). Nothing moves that need not: a blob the repository has is skipped
//! (HEAD), one another repository of the same registry holds is mounted
//! (`POST ?mount=&from=`), and only the rest is uploaded, copied as it is (a compressed
//! layer keeps its bytes and digest) and verified on the way as every sink's blobs are.
//! Several blobs go at once at the commit.

use super::{OutBlob, OutImage, Sink, WriteOptions, copy_blob};
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::image::BlobData;
use crate::model::reference::{ImageRef, RegistryTarget};
use crate::model::spec::media;
use crate::store::registry::{RegistryStore, Transfer};
use std::collections::HashSet;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Blobs in flight at once at the commit.
const IN_FLIGHT: usize = 4;

pub struct RegistrySink {
    out: ImageRef,
    target: RegistryTarget,
    store: RegistryStore,
    opts: WriteOptions,
    /// Blobs the repository is known to hold (put, found, or mounted in this run).
    done: Mutex<HashSet<Digest>>,
    /// A repository of this registry the image's layers are read from: a blob regraft holds
    /// in memory (a config copied as it is) may be there too, and is mounted when it is.
    sibling: Mutex<Option<String>>,
    transfer: Arc<Transfer>,
}

impl RegistrySink {
    pub fn open(out: ImageRef, opts: WriteOptions) -> Result<RegistrySink> {
        let target = out
            .registry()
            .ok_or_else(|| Error::Usage(format!("{out}: not a registry reference")))?;
        let host = if target.host == "docker.io" {
            "registry-1.docker.io"
        } else {
            &target.host
        };
        let store = RegistryStore::open(host, &target.repo)?;
        Ok(RegistrySink {
            out,
            target,
            store,
            opts,
            done: Default::default(),
            sibling: Default::default(),
            transfer: Default::default(),
        })
    }

    /// Puts one blob: skipped when present, mounted when the same registry holds it in the
    /// repository it was read from, else uploaded.
    fn put_blob(&self, b: &OutBlob) -> Result<()> {
        let d = b.digest().clone();
        if self.done.lock().map(|s| s.contains(&d)).unwrap_or(false) {
            return Ok(());
        }
        let ds = d.to_string();
        let from = self.same_registry(b).or_else(|| match b {
            OutBlob::Bytes { .. } => self.sibling.lock().ok().and_then(|s| s.clone()),
            _ => None,
        });
        if self.store.has_blob(&ds)? {
            self.transfer.blobs_present.fetch_add(1, Ordering::Relaxed);
        } else if let Some(from) = from
            && self.store.mount(&ds, &from)?
        {
            self.transfer.blobs_mounted.fetch_add(1, Ordering::Relaxed);
        } else {
            self.upload(b)?;
            self.transfer.blobs_uploaded.fetch_add(1, Ordering::Relaxed);
            self.transfer
                .uploaded
                .fetch_add(b.size(), Ordering::Relaxed);
        }
        if let Ok(mut s) = self.done.lock() {
            s.insert(d);
        }
        Ok(())
    }

    /// The repository of this registry the blob is read from, if it is read from one.
    fn same_registry(&self, b: &OutBlob) -> Option<String> {
        let data = match b {
            OutBlob::Layer { layer, .. } => &layer.data,
            OutBlob::Raw { data, .. } => data,
            OutBlob::Bytes { .. } => return None,
        };
        let BlobData::Member { store, .. } = data else {
            return None;
        };
        let (host, repo) = store.registry()?;
        (host == self.store.host() && repo != self.store.repo).then(|| repo.to_string())
    }

    /// Uploads the blob's bytes as `copy_blob` writes them (verified against the blob's
    /// digest, and a layer against its diff_id unless checked already), through a pipe from a
    /// thread; an error of the copy ends the upload and is the error reported.
    fn upload(&self, b: &OutBlob) -> Result<()> {
        let ds = b.digest().to_string();
        if let OutBlob::Bytes { bytes, .. } = b {
            let bytes = bytes.clone();
            return self.store.upload(
                &ds,
                b.size(),
                &mut || Ok(Box::new(std::io::Cursor::new(bytes.as_ref().clone()))),
                &|| false,
            );
        }
        let failed: Arc<Mutex<Option<Error>>> = Arc::new(Mutex::new(None));
        let opts = self.opts;
        let mut open = || -> Result<Box<dyn Read + Send + Sync>> {
            let (reader, mut writer) =
                std::io::pipe().map_err(|e| Error::io_while("making a pipe", e))?;
            let blob = b.clone();
            let copy = std::thread::spawn(move || -> Result<()> {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut writer);
                copy_blob(&blob, &mut w, opts)?;
                std::io::Write::flush(&mut w)
                    .map_err(|e| Error::layer_io(format!("blob {}: uploading", blob.digest()), e))
            });
            Ok(Box::new(Produced {
                pipe: reader,
                copy: Some(copy),
                failed: failed.clone(),
            }))
        };
        let gave_up = || failed.lock().map(|f| f.is_some()).unwrap_or(true);
        let sent = self.store.upload(&ds, b.size(), &mut open, &gave_up);
        if let Some(e) = failed.lock().ok().and_then(|mut f| f.take()) {
            return Err(e);
        }
        sent
    }

    fn transfer(&self) -> Arc<Transfer> {
        self.transfer.clone()
    }
}

/// The read end of an upload: the pipe, and at its end the copy's result (an error of the
/// copy becomes a read error, so the upload stops short and the registry keeps nothing).
struct Produced {
    pipe: std::io::PipeReader,
    copy: Option<std::thread::JoinHandle<Result<()>>>,
    failed: Arc<Mutex<Option<Error>>>,
}

impl Read for Produced {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.pipe.read(buf)?;
        if n == 0
            && let Some(h) = self.copy.take()
        {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(Error::Invalid("internal: a blob copy panicked".into())));
            if let Err(e) = r {
                let msg = e.to_string();
                if let Ok(mut f) = self.failed.lock() {
                    *f = Some(e);
                }
                return Err(std::io::Error::other(msg));
            }
        }
        Ok(n)
    }
}

impl Sink for RegistrySink {
    fn put(&mut self, blob: &OutBlob) -> Result<()> {
        self.put_blob(blob)
    }

    fn commit(self: Box<Self>, img: &OutImage) -> Result<Digest> {
        // Blobs first, several at once; then the manifests an index names; the top last,
        // under the tag.
        let is_doc = |b: &&OutBlob| match b {
            OutBlob::Bytes { desc, .. } => {
                media::is_manifest(&desc.media_type) || media::is_index(&desc.media_type)
            }
            _ => false,
        };
        if let Ok(mut s) = self.sibling.lock() {
            *s = img.blobs.iter().find_map(|b| self.same_registry(b));
        }
        let mut seen = HashSet::new();
        let blobs: Vec<&OutBlob> = img
            .blobs
            .iter()
            .filter(|b| !is_doc(b))
            .filter(|b| seen.insert(b.digest().clone()))
            .collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let first_error: Mutex<Option<Error>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..IN_FLIGHT.min(blobs.len()) {
                s.spawn(|| {
                    loop {
                        if first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                            return;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(b) = blobs.get(i) else { return };
                        if let Err(e) = self.put_blob(b)
                            && let Ok(mut f) = first_error.lock()
                            && f.is_none()
                        {
                            *f = Some(e);
                        }
                    }
                });
            }
        });
        if let Some(e) = first_error.into_inner().ok().flatten() {
            return Err(e);
        }
        for b in img.blobs.iter().filter(is_doc) {
            let OutBlob::Bytes { desc, bytes } = b else {
                continue;
            };
            if desc.digest == img.top.digest {
                continue;
            }
            self.store.put_manifest(
                &desc.digest.to_string(),
                &desc.media_type,
                bytes.as_ref().clone(),
            )?;
        }
        let top = img
            .blobs
            .iter()
            .find_map(|b| match b {
                OutBlob::Bytes { desc, bytes } if desc.digest == img.top.digest => Some(bytes),
                _ => None,
            })
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "internal: {}: the image's manifest is not among its blobs",
                    self.out
                ))
            })?;
        self.store.put_manifest(
            &self.target.reference(),
            &img.top.media_type,
            top.as_ref().clone(),
        )?;
        Ok(img.top.digest.clone())
    }

    fn transfer(&self) -> Option<Arc<Transfer>> {
        Some(RegistrySink::transfer(self))
    }
}
