//! Streaming one layer: the blob is read once, capped at and checked against its descriptor's
//! size and digest, inflated by whatever its magic bytes say, bounded by `--max-layer-size`, and
//! hashed again as a tar to check the diff_id. Inflating runs on its own thread so that the
//! consumer (tar walking, copying) overlaps with it on a second core.

use super::{describe, open_blob, read_full};
use crate::codec::compress::{Compression, Decoder, LimitedReader, decoder};
use crate::error::{Error, Result};
use crate::model::digest::{DiffId, Hasher, VerifyingReader};
use crate::model::image::{Checked, Layer};
use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// The size of the chunks the inflating thread hands over.
pub(super) const CHUNK: usize = 512 * 1024;

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
    diff_id: DiffId,
    checked: Checked,
    /// Whether this stream took the layer's tee (`Checked::take_tee`).
    teed: bool,
    /// The blob's file and its stamp before the read, when the blob is a whole file.
    stamp: Option<(std::path::PathBuf, crate::store::stamp::FileStamp)>,
    done: bool,
    /// Bytes handed out so far (padding aside).
    total: u64,
    /// Whether a stream that ends inside a 512-byte block is completed with zeros.
    pad: bool,
    pad_left: usize,
    eof_at: Option<u64>,
}

impl LayerStream {
    /// Starts streaming `layer` of the image called `image`.
    pub fn open(image: &str, index: usize, layer: &Layer, max_size: u64) -> Result<LayerStream> {
        let what = describe(image, index, layer);
        crate::progress::layer_started();
        crate::progress::verbose(|| format!("reading {what}, {} bytes", layer.desc.size));
        let stamp = super::blob_stamp(&layer.data);
        let mut raw = open_blob(&layer.data)?;
        // A sink that copies this blob as it is takes its raw bytes from this read (the tee
        // sits inside the verifier, so it sees every byte the verifier hashes).
        let tee = layer.checked.take_tee();
        let teed = tee.is_some();
        if let Some(out) = tee {
            raw = Box::new(TeeRaw {
                inner: raw,
                out,
                left: layer.desc.size,
            });
        }
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
            .map_err(|e| Error::layer_io(format!("{what}: cannot start a thread"), e))?;
        Ok(LayerStream {
            rx,
            recycle,
            cur: Vec::new(),
            pos: 0,
            hasher,
            producer: Some(producer),
            compression,
            what,
            diff_id: layer.diff_id.clone(),
            checked: layer.checked.clone(),
            teed,
            stamp,
            done: false,
            total: 0,
            pad: false,
            pad_left: 0,
            eof_at: None,
        })
    }

    pub fn what(&self) -> &str {
        &self.what
    }

    /// For a tar reader: a stream that ends inside a 512-byte block reads as if the block were
    /// completed with zeros (the zeros are not hashed), so that a layer whose last entry lacks
    /// its padding can be read; `ended_inside_block` then says where the real stream ended.
    pub fn pad_last_block(&mut self) {
        self.pad = true;
    }

    /// The tar bytes handed out so far, padding aside.
    pub fn position(&self) -> u64 {
        self.total
    }

    /// Where the stream ended when it ended inside a 512-byte block (`pad_last_block`).
    pub fn ended_inside_block(&self) -> Option<u64> {
        self.eof_at
    }

    /// The end of the stream: nothing, or the zeros `pad_last_block` asks for.
    fn at_end(&mut self, out: &mut [u8]) -> usize {
        if self.pad && self.eof_at.is_none() && !self.total.is_multiple_of(512) {
            self.eof_at = Some(self.total);
            self.pad_left = 512 - (self.total % 512) as usize;
        }
        let n = self.pad_left.min(out.len());
        out[..n].fill(0);
        self.pad_left -= n;
        n
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
                    return Err(Error::layer_io(&self.what, e));
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
        super::mark_checked(&self.checked, self.stamp.take());
        if self.teed {
            self.teed = false;
            self.checked.end_tee(true);
        }
        Ok(())
    }

    /// Turns a read error into the most telling error: the producer's, if it has one.
    pub fn fail(mut self, e: io::Error) -> Error {
        match self.join() {
            Err(p) => p,
            Ok(()) => Error::layer_io(&self.what, e),
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
        // Not finished, or failed: the tee's bytes are not the verified blob.
        if self.teed {
            self.checked.end_tee(false);
        }
    }
}

/// Writes the raw bytes read through it to a sink's tee writer, at most the blob's declared
/// size of them (a longer blob fails the verifier, which reports it); flushes the writer when
/// the blob's end is read (the verifier always reads to the end before it passes a blob).
struct TeeRaw {
    inner: Box<dyn Read + Send>,
    out: Box<dyn io::Write + Send>,
    left: u64,
}

impl Read for TeeRaw {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let k = (n as u64).min(self.left) as usize;
        let wrote = if n == 0 {
            self.out.flush()
        } else {
            self.out.write_all(&buf[..k])
        };
        wrote.map_err(|e| io::Error::other(format!("writing the output: {e}")))?;
        self.left -= k as u64;
        Ok(n)
    }
}

/// The inflating thread: reads the decoder in chunks and hands them to the stream. A failure
/// is this thread's result, which `join` reports; the stream only gets word of it (a copy of
/// the message) so that its reader stops.
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
        let n = match read_full(&mut limited, &mut buf) {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(Err(io::Error::other(e.to_string())));
                return Err(Error::layer_io(&what, e));
            }
        };
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
                return Ok(self.at_end(out));
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
                    return Ok(self.at_end(out));
                }
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        if let Some(h) = &mut self.hasher {
            h.update(&out[..n]);
        }
        self.pos += n;
        self.total += n as u64;
        Ok(n)
    }
}
