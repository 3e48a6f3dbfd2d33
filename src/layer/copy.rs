//! Copying a layer's blob byte for byte into an output, checking on the way its size and
//! digest and, unless an earlier read of this run or the blob itself proves it, its diff_id.
//! Hashing runs on a second core (`ParHasher`), so a copy costs little more than the reads.

use super::stream::CHUNK;
use super::{describe, open_blob, read_full};
use crate::codec::compress::{LimitedReader, decoder};
use crate::error::{Error, Result};
use crate::model::digest::{Digest, ParHasher, VerifyingReader};
use crate::model::image::Layer;
use std::io::{self, Read};

/// Copies a layer's blob byte for byte into `out`, verifying its size and digest and, by
/// inflating it on a second thread as it goes, its diff_id.
pub fn copy_layer(
    image: &str,
    index: usize,
    layer: &Layer,
    out: &mut (dyn io::Write + Send),
    max_size: u64,
) -> Result<()> {
    let what = describe(image, index, layer);
    crate::progress::layer_started();
    crate::progress::verbose(|| format!("copying {what}, {} bytes", layer.desc.size));
    let stamp = super::blob_stamp(&layer.data);
    let raw = open_blob(&layer.data)?;
    if layer.checked.is_done() || layer.desc.digest == *layer.diff_id.digest() {
        // Inflated and checked earlier in this run, or uncompressed (its raw digest is its
        // diff_id): the raw digest, checked while copying, proves the diff_id, so the bytes
        // are only copied and hashed, the hashing on a second core.
        copy_raw(&what, raw, layer, out)?;
    } else {
        copy_inflating(&what, raw, layer, out, max_size)?;
    }
    super::mark_checked(&layer.checked, stamp);
    Ok(())
}

/// Copies a compressed blob into `out` as it is read, while the inflated tar is hashed on a
/// second core for its diff_id.
fn copy_inflating(
    what: &str,
    raw: Box<dyn Read + Send>,
    layer: &Layer,
    out: &mut (dyn io::Write + Send),
    max_size: u64,
) -> Result<()> {
    let verifying = VerifyingReader::new(
        raw,
        layer.desc.digest.clone(),
        layer.desc.size,
        what.to_string(),
    );
    let tee = TeeReader {
        inner: verifying,
        out,
        err: None,
    };
    let mut dec = decoder(tee, what)?;
    let mut limited = LimitedReader::new(&mut dec, max_size);
    let hashed = hash_chunks(what, &mut limited, CHUNK, |_| Ok(()));
    let tee = dec.into_inner();
    // A failed write into the output (a full disk) stops the read too: report the write.
    if let Some(e) = tee.err {
        return Err(Error::layer_io(format!("{what}: writing"), e));
    }
    let (found, _) = hashed?;
    tee.inner.finish()?;
    if &found != layer.diff_id.digest() {
        return Err(Error::DiffIdMismatch {
            what: what.to_string(),
            expected: layer.diff_id.to_string(),
            found: found.to_string(),
        });
    }
    Ok(())
}

/// Copies a blob's raw bytes into `out` while a second thread hashes them; fails on a size or
/// digest other than the descriptor's (reading at most one byte past the declared size).
fn copy_raw(
    what: &str,
    raw: Box<dyn Read + Send>,
    layer: &Layer,
    out: &mut (dyn io::Write + Send),
) -> Result<()> {
    const RAW_CHUNK: usize = 1 << 20;
    let size = layer.desc.size;
    let mut capped = raw.take(size.saturating_add(1));
    let mut total = 0u64;
    let (found, total) = hash_chunks(what, &mut capped, RAW_CHUNK, |chunk| {
        total += chunk.len() as u64;
        if total > size {
            return Err(Error::layer(
                what,
                format!("more than the {size} bytes declared"),
            ));
        }
        out.write_all(chunk)
            .map_err(|e| Error::layer_io(format!("{what}: writing"), e))
    })?;
    if total != size {
        return Err(Error::SizeMismatch {
            what: what.to_string(),
            expected: size,
            found: total,
        });
    }
    if found != layer.desc.digest {
        return Err(Error::DigestMismatch {
            what: what.to_string(),
            expected: layer.desc.digest.to_string(),
            found: found.to_string(),
        });
    }
    Ok(())
}

/// Reads `r` to its end in chunks of `chunk` bytes that a second thread hashes; `each` sees
/// every chunk first. Returns the digest and length of all that was read.
fn hash_chunks(
    what: &str,
    r: &mut impl Read,
    chunk: usize,
    mut each: impl FnMut(&[u8]) -> Result<()>,
) -> Result<(Digest, u64)> {
    let hasher = ParHasher::new().map_err(|e| Error::layer_io(what, e))?;
    let res: Result<()> = (|| {
        loop {
            let mut buf = hasher.buffer();
            buf.resize(chunk, 0);
            let n = read_full(r, &mut buf).map_err(|e| Error::layer_io(what, e))?;
            if n == 0 {
                return Ok(());
            }
            buf.truncate(n);
            each(&buf)?;
            hasher.send(buf).map_err(|e| Error::layer_io(what, e))?;
        }
    })();
    // The hashing thread is joined whatever happened; a read error says more than its end.
    let found = hasher.finish().map_err(|e| Error::layer_io(what, e));
    res?;
    found
}

/// Writes every byte read through it to `out` (the raw blob, as it is verified).
struct TeeReader<'o, R> {
    inner: R,
    out: &'o mut (dyn io::Write + Send),
    /// The write error itself; the reader's caller gets a copy of its message.
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
