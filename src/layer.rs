//! Streaming one layer: the blob is read once, capped at and checked against its descriptor's
//! size and digest, inflated by whatever its magic bytes say, bounded by `--max-layer-size`, and
//! hashed again as a tar to check the diff_id. Inflating runs on its own thread so that the
//! consumer (tar walking, copying) overlaps with it on a second core.

use crate::compress::{Compression, Decoder, LimitedReader, decoder};
use crate::digest::{DiffId, Digest, Hasher, VerifyingReader};
use crate::error::{Error, Result};
use crate::image::{BlobData, Layer};
use std::collections::BTreeSet;
use std::io::{self, BufRead, Read};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Default bound on a decompressed layer: generous, but a bomb stops.
pub const DEFAULT_MAX_LAYER_SIZE: u64 = 64 << 30;

const CHUNK: usize = 512 * 1024;

/// (blob digest, diff_id) pairs this process has checked by inflating the blob. A sha256 names
/// the bytes, so the pair holds wherever those bytes are read again: a later copy of the same
/// blob (a base layer streamed for the merged view, then copied to the output) only has to
/// check its raw digest while copying, and each compressed layer is inflated once.
static VERIFIED: Mutex<BTreeSet<(Digest, DiffId)>> = Mutex::new(BTreeSet::new());

/// Records that `digest`'s bytes were inflated and hashed to `diff_id` (or are the tar itself).
pub fn mark_verified(digest: &Digest, diff_id: &DiffId) {
    if let Ok(mut s) = VERIFIED.lock() {
        s.insert((digest.clone(), diff_id.clone()));
    }
}

/// Whether this process has already checked that `layer`'s blob inflates to its diff_id.
pub fn is_verified(layer: &Layer) -> bool {
    VERIFIED
        .lock()
        .map(|s| s.contains(&(layer.desc.digest.clone(), layer.diff_id.clone())))
        .unwrap_or(false)
}

/// Opens a blob's raw bytes.
pub fn open_blob(data: &BlobData) -> Result<Box<dyn Read + Send>> {
    Ok(Box::new(crate::progress::Counting {
        inner: open_raw(data)?,
    }))
}

fn open_raw(data: &BlobData) -> Result<Box<dyn Read + Send>> {
    match data {
        BlobData::Member { container, name } => container.open(name),
        BlobData::Bytes(b) => Ok(Box::new(io::Cursor::new(b.as_ref().clone()))),
        BlobData::File(p) => {
            let f = std::fs::File::open(&**p).map_err(|e| Error::io(p.to_path_buf(), e))?;
            Ok(Box::new(f))
        }
    }
}

/// The uncompressed tar stream of a layer, verified as it is read.
pub struct LayerStream {
    rx: Receiver<io::Result<Vec<u8>>>,
    /// Spent chunks go back to the producer: no 512 KiB zeroing per chunk (3% of a graft's
    /// instructions in callgrind).
    recycle: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    hasher: Option<Hasher>,
    producer: Option<JoinHandle<Result<()>>>,
    pub compression: Compression,
    what: String,
    digest: Digest,
    diff_id: DiffId,
    done: bool,
}

impl LayerStream {
    /// Starts streaming `layer` of the image called `image`.
    pub fn open(image: &str, index: usize, layer: &Layer, max_size: u64) -> Result<LayerStream> {
        let what = format!("{image}: layer {index} ({})", layer.desc.digest);
        crate::progress::layer_started();
        crate::progress::verbose(|| format!("reading {what}, {} bytes", layer.desc.size));
        let raw = open_blob(&layer.data)?;
        let verifying = VerifyingReader::new(
            raw,
            layer.desc.digest.clone(),
            layer.desc.size,
            what.clone(),
        );
        let dec = decoder(verifying, &what)?;
        let compression = dec.compression();
        // An uncompressed blob whose digest is its diff_id is checked once, by the raw verifier.
        let hasher =
            if compression == Compression::None && layer.desc.digest == *layer.diff_id.digest() {
                None
            } else {
                Some(Hasher::new())
            };
        let (tx, rx) = sync_channel(4);
        let (recycle, recycled) = sync_channel(6);
        let w = what.clone();
        let producer = std::thread::Builder::new()
            .name("regraft-inflate".into())
            .spawn(move || produce(dec, tx, recycled, max_size, w))
            .map_err(|e| Error::layer(&what, format!("cannot start a thread: {e}")))?;
        Ok(LayerStream {
            rx,
            recycle,
            cur: Vec::new(),
            pos: 0,
            hasher,
            producer: Some(producer),
            compression,
            what,
            digest: layer.desc.digest.clone(),
            diff_id: layer.diff_id.clone(),
            done: false,
        })
    }

    pub fn what(&self) -> &str {
        &self.what
    }

    /// Reads what is left, then checks the blob's size and digest and the diff_id.
    pub fn finish(mut self) -> Result<()> {
        let mut sink = [0u8; 64 * 1024];
        loop {
            match self.read(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    // The producer's own error says more than the channel's.
                    self.join()?;
                    return Err(Error::layer(&self.what, e.to_string()));
                }
            }
        }
        self.join()?;
        if let Some(h) = self.hasher.take() {
            let (found, _) = h.finish();
            if &found != self.diff_id.digest() {
                return Err(Error::DiffIdMismatch {
                    what: self.what.clone(),
                    expected: self.diff_id.to_string(),
                    found: found.to_string(),
                });
            }
        }
        mark_verified(&self.digest, &self.diff_id);
        Ok(())
    }

    /// Turns a read error into the most telling error: the producer's, if it has one.
    pub fn fail(mut self, e: io::Error) -> Error {
        match self.join() {
            Err(p) => p,
            Ok(()) => Error::layer(&self.what, e.to_string()),
        }
    }

    fn join(&mut self) -> Result<()> {
        if let Some(p) = self.producer.take() {
            // Unblock a producer waiting on a full channel.
            drop(std::mem::replace(&mut self.rx, sync_channel(0).1));
            match p.join() {
                Ok(r) => r?,
                Err(_) => return Err(Error::layer(&self.what, "decompression thread panicked")),
            }
        }
        Ok(())
    }
}

impl Drop for LayerStream {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

fn produce(
    dec: Decoder<VerifyingReader<Box<dyn Read + Send>>>,
    tx: SyncSender<io::Result<Vec<u8>>>,
    recycled: Receiver<Vec<u8>>,
    max_size: u64,
    what: String,
) -> Result<()> {
    let mut limited = LimitedReader::new(dec, max_size);
    loop {
        let mut buf = recycled.try_recv().unwrap_or_default();
        buf.resize(CHUNK, 0);
        let mut n = 0;
        while n < CHUNK {
            match limited.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let msg = e.to_string();
                    let _ = tx.send(Err(io::Error::other(msg.clone())));
                    return Err(Error::layer(&what, msg));
                }
            }
        }
        if n == 0 {
            break;
        }
        buf.truncate(n);
        if tx.send(Ok(buf)).is_err() {
            // The consumer stopped early (an error on its side); it reports that.
            return Ok(());
        }
    }
    // The decoder is done: whatever raw bytes are left must still match the descriptor.
    let verifier = limited.into_inner().into_inner();
    let r = verifier.finish().map(|_| ());
    if let Err(e) = &r {
        let _ = tx.send(Err(io::Error::other(e.to_string())));
    }
    r
}

impl Read for LayerStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    let spent = std::mem::replace(&mut self.cur, chunk);
                    if spent.capacity() >= CHUNK {
                        let _ = self.recycle.try_send(spent);
                    }
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        if let Some(h) = &mut self.hasher {
            h.update(&out[..n]);
        }
        self.pos += n;
        Ok(n)
    }
}

/// Copies a layer's blob byte for byte into `out`, verifying its size and digest and, by
/// inflating it on a second thread as it goes, its diff_id.
pub fn copy_layer(
    image: &str,
    index: usize,
    layer: &Layer,
    out: &mut (dyn io::Write + Send),
    max_size: u64,
) -> Result<()> {
    let what = format!("{image}: layer {index} ({})", layer.desc.digest);
    crate::progress::layer_started();
    crate::progress::verbose(|| format!("copying {what}, {} bytes", layer.desc.size));
    let raw = open_blob(&layer.data)?;
    let verifying = VerifyingReader::new(
        raw,
        layer.desc.digest.clone(),
        layer.desc.size,
        what.clone(),
    );
    let mut tee = TeeReader {
        inner: verifying,
        out,
        err: None,
    };
    if is_verified(layer) {
        // Inflated and checked earlier in this run: the raw digest, checked while copying,
        // proves these are the same bytes, so the diff_id holds without a second inflate.
        let mut br = io::BufReader::with_capacity(crate::compress::BUF, &mut tee);
        let res = (|| -> io::Result<()> {
            loop {
                let n = br.fill_buf()?.len();
                if n == 0 {
                    return Ok(());
                }
                br.consume(n);
            }
        })();
        if let Some(e) = tee.err {
            return Err(Error::layer(&what, format!("writing: {e}")));
        }
        res.map_err(|e| Error::layer(&what, e.to_string()))?;
        return tee.inner.finish().map(|_| ());
    }
    let mut dec = decoder(tee, &what)?;
    if dec.compression() == Compression::None && layer.desc.digest == *layer.diff_id.digest() {
        // The raw digest is the diff_id: no second hash is needed.
        io::copy(&mut dec, &mut io::sink()).map_err(|e| Error::layer(&what, e.to_string()))?;
        let tee = dec.into_inner();
        if let Some(e) = tee.err {
            return Err(Error::layer(&what, format!("writing: {e}")));
        }
        tee.inner.finish()?;
        mark_verified(&layer.desc.digest, &layer.diff_id);
        return Ok(());
    }
    let (tx, rx) = sync_channel::<Vec<u8>>(4);
    let (back, recycled) = sync_channel::<Vec<u8>>(6);
    std::thread::scope(|s| {
        let hasher = s.spawn(move || {
            let mut h = Hasher::new();
            for chunk in rx {
                h.update(&chunk);
                let _ = back.try_send(chunk);
            }
            h.finish().0
        });
        let mut limited = LimitedReader::new(&mut dec, max_size);
        let res: Result<()> = (|| {
            loop {
                let mut buf = recycled.try_recv().unwrap_or_default();
                buf.resize(CHUNK, 0);
                let n = read_full(&mut limited, &mut buf)
                    .map_err(|e| Error::layer(&what, e.to_string()))?;
                if n == 0 {
                    return Ok(());
                }
                buf.truncate(n);
                if tx.send(buf).is_err() {
                    return Err(Error::layer(&what, "hashing thread stopped"));
                }
            }
        })();
        drop(tx);
        let found = hasher
            .join()
            .map_err(|_| Error::layer(&what, "hashing thread panicked"))?;
        res?;
        let tee = dec.into_inner();
        if let Some(e) = tee.err {
            return Err(Error::layer(&what, format!("writing: {e}")));
        }
        tee.inner.finish()?;
        if &found != layer.diff_id.digest() {
            return Err(Error::DiffIdMismatch {
                what: what.clone(),
                expected: layer.diff_id.to_string(),
                found: found.to_string(),
            });
        }
        mark_verified(&layer.desc.digest, &layer.diff_id);
        Ok(())
    })
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Writes every byte read through it to `out` (the raw blob, as it is verified).
struct TeeReader<'o, R> {
    inner: R,
    out: &'o mut (dyn io::Write + Send),
    err: Option<io::Error>,
}

impl<R: Read> Read for TeeReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(e) = self.out.write_all(&buf[..n]) {
            let msg = e.to_string();
            self.err = Some(e);
            return Err(io::Error::other(msg));
        }
        Ok(n)
    }
}

/// Streams one layer's tar, verified, handing each entry (header parsed, data unread) to `f`,
/// which may read the entry's data. When the tar itself fails, the stream's own failure
/// (digest, size, bomb) is reported if there is one, since it explains the tar error best.
pub fn each_entry(
    image: &str,
    index: usize,
    layer: &Layer,
    max_size: u64,
    mut f: impl FnMut(&mut tar::Entry<'_, &mut LayerStream>, crate::walk::LayerEntry) -> Result<()>,
) -> Result<()> {
    let mut s = LayerStream::open(image, index, layer, max_size)?;
    let what = s.what().to_string();
    let res: Result<()> = (|| {
        let mut ar = tar::Archive::new(&mut s);
        let entries = ar
            .entries()
            .map_err(|e| Error::layer(&what, format!("not a tar: {e}")))?;
        for e in entries {
            let mut e = e.map_err(|e| Error::layer(&what, format!("corrupt tar: {e}")))?;
            let le =
                crate::walk::parse_entry(&mut e).map_err(|x| Error::layer(&what, x.to_string()))?;
            f(&mut e, le)?;
        }
        Ok(())
    })();
    s.finish()?;
    res
}
