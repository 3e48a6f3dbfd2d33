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
    /// Layers offered to a tee (`offer_tees`) and not settled yet: each with its upload,
    /// started by the first byte the tee gets.
    teed: Vec<(OutBlob, Arc<Mutex<Option<Upload>>>)>,
}

/// An upload running on its own thread.
type Upload = std::thread::JoinHandle<Result<()>>;

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
            teed: Vec::new(),
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
        upload_copied(&self.store, b, self.opts, None)
    }

    /// Settles teed layer `i`: waits for the upload its tee started (which, if the tee's
    /// bytes fell short, uploaded the blob again from a copy), or uploads the blob now when
    /// the tee got no byte.
    fn settle(&mut self, i: usize) -> Result<()> {
        use crate::model::image::Tee;
        let (b, upload) = self.teed.remove(i);
        let OutBlob::Layer { layer, .. } = &b else {
            return Err(Error::Invalid(
                "internal: only layers are offered to a tee".into(),
            ));
        };
        // Drops a writer still waiting: the upload it may have started sees its end.
        if let Tee::Reading = layer.checked.settle_tee() {
            return Err(Error::Invalid(format!(
                "internal: blob {} is put while it is still read",
                b.digest()
            )));
        }
        let started = upload.lock().ok().and_then(|mut u| u.take());
        let Some(h) = started else {
            return self.put_blob(&b);
        };
        h.join()
            .unwrap_or_else(|_| Err(Error::Invalid("internal: an upload panicked".into())))?;
        crate::progress::verbose(|| {
            format!("blob {}: uploaded as it was read and verified", b.digest())
        });
        self.transfer.blobs_uploaded.fetch_add(1, Ordering::Relaxed);
        self.transfer
            .uploaded
            .fetch_add(b.size(), Ordering::Relaxed);
        if let Ok(mut s) = self.done.lock() {
            s.insert(b.digest().clone());
        }
        Ok(())
    }
}

/// Uploads `b` into `store`: the first attempt from `first` when given (a tee's pipe), every
/// other from a copy of the blob (`copy_blob`, verified) through a pipe from a thread; an
/// error of the copy ends the upload and is the error reported.
fn upload_copied(
    store: &RegistryStore,
    b: &OutBlob,
    opts: WriteOptions,
    mut first: Option<Box<dyn Read + Send + Sync>>,
) -> Result<()> {
    let ds = b.digest().to_string();
    let failed: Arc<Mutex<Option<Error>>> = Arc::new(Mutex::new(None));
    let mut open = || -> Result<Box<dyn Read + Send + Sync>> {
        if let Some(r) = first.take() {
            return Ok(r);
        }
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
    let sent = store.upload(&ds, b.size(), &mut open, &gave_up);
    if let Some(e) = failed.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    sent
}

/// A tee's writer into a registry upload: the first byte starts the upload on a thread, fed
/// through a bounded channel of chunks (in memory: no pipe's second copy through the kernel,
/// which `/proc/self/io` would also count as bytes read). A write the upload no longer takes
/// (it failed, or went on from a copy) is dropped here, not the reader's error: the upload's
/// own result, at the settling, is the one that counts.
struct TeeUpload {
    store: RegistryStore,
    blob: OutBlob,
    opts: WriteOptions,
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    broken: bool,
    upload: Arc<Mutex<Option<Upload>>>,
}

impl TeeUpload {
    fn start(&mut self) -> std::io::Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel(8);
        let (store, blob, opts) = (self.store.clone(), self.blob.clone(), self.opts);
        let body = Exact {
            rx: Mutex::new(rx),
            cur: Vec::new(),
            pos: 0,
            left: blob.size(),
        };
        let h = std::thread::Builder::new()
            .name("regraft-upload".into())
            .spawn(move || upload_copied(&store, &blob, opts, Some(Box::new(body))))?;
        if let Ok(mut u) = self.upload.lock() {
            *u = Some(h);
        }
        self.tx = Some(tx);
        Ok(())
    }
}

impl std::io::Write for TeeUpload {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.broken || b.is_empty() {
            return Ok(b.len());
        }
        if self.tx.is_none() {
            self.start()?;
        }
        if let Some(tx) = &self.tx
            && tx.send(b.to_vec()).is_err()
        {
            self.broken = true;
            self.tx = None;
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The body of a teed upload: the chunks the tee sends, exactly `left` bytes of them. An end
/// sooner (the tee's read failed) is an error, so that the registry never takes a short blob
/// and the upload goes again, from a copy.
struct Exact {
    rx: Mutex<std::sync::mpsc::Receiver<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
    left: u64,
}

impl Read for Exact {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.cur.len() {
            let next = self
                .rx
                .lock()
                .map_err(|_| std::io::Error::other("a teed upload's channel broke"))?
                .recv();
            match next {
                Ok(c) => {
                    self.cur = c;
                    self.pos = 0;
                }
                Err(_) if self.left == 0 => return Ok(0),
                Err(_) => {
                    return Err(std::io::Error::other(
                        "the blob's read stopped before its end",
                    ));
                }
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        self.left = self.left.saturating_sub(n as u64);
        Ok(n)
    }
}

impl RegistrySink {
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
        if let Some(i) = self
            .teed
            .iter()
            .position(|(b, _)| b.digest() == blob.digest())
        {
            return self.settle(i);
        }
        self.put_blob(blob)
    }

    /// Each layer the repository lacks and cannot mount gets a writer that uploads the bytes
    /// the caller's read gives it (one read for the check and the upload); the registry
    /// checks the digest of what it got before the blob exists. Present or mountable layers
    /// are settled now, moving nothing.
    fn offer_tees(&mut self, layers: &[OutBlob]) -> Result<()> {
        for b in layers {
            let OutBlob::Layer { layer, .. } = b else {
                continue;
            };
            let d = b.digest();
            let known = self.done.lock().map(|s| s.contains(d)).unwrap_or(false);
            if known || self.teed.iter().any(|(t, _)| t.digest() == d) {
                continue;
            }
            if self.same_registry(b).is_some() || self.store.has_blob(&d.to_string())? {
                self.put_blob(b)?;
                continue;
            }
            let upload = Arc::new(Mutex::new(None));
            layer.checked.attach_tee(Box::new(TeeUpload {
                store: self.store.clone(),
                blob: b.clone(),
                opts: self.opts,
                tx: None,
                broken: false,
                upload: upload.clone(),
            }));
            self.teed.push((b.clone(), upload));
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>, img: &OutImage) -> Result<Digest> {
        while !self.teed.is_empty() {
            self.settle(0)?;
        }
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
