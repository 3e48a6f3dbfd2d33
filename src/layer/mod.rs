//! Streaming one layer: the blob is read once, capped at and checked against its descriptor's
//! size and digest, inflated by whatever its magic bytes say, bounded by `--max-layer-size`, and
//! hashed again as a tar to check the diff_id. Inflating runs on its own thread so that the
//! consumer (tar walking, copying) overlaps with it on a second core.

use crate::codec::compress::{Compression, Decoder, LimitedReader, decoder};
use crate::error::{Error, Result};
use crate::model::digest::{DiffId, Hasher, ParHasher, VerifyingReader};

pub mod entry;
pub mod tarw;

use crate::model::image::{BlobData, Checked, Layer};
use std::io::{self, Read, Seek};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Default bound on a decompressed layer: generous, but a bomb stops.
pub const DEFAULT_MAX_LAYER_SIZE: u64 = 64 << 30;

const CHUNK: usize = 512 * 1024;

/// Opens a blob's raw bytes.
pub fn open_blob(data: &BlobData) -> Result<Box<dyn Read + Send>> {
    Ok(Box::new(crate::progress::Counting {
        inner: open_raw(data)?,
    }))
}

fn open_raw(data: &BlobData) -> Result<Box<dyn Read + Send>> {
    match data {
        BlobData::Member { store, name } => store.open(name),
        BlobData::Bytes(b) => Ok(Box::new(io::Cursor::new(b.as_ref().clone()))),
        BlobData::File(p) => {
            let f = std::fs::File::open(&**p).map_err(|e| Error::io(p.to_path_buf(), e))?;
            Ok(Box::new(f))
        }
        BlobData::Range { path, start, len } => {
            let mut f =
                std::fs::File::open(&**path).map_err(|e| Error::io(path.to_path_buf(), e))?;
            f.seek(io::SeekFrom::Start(*start))
                .map_err(|e| Error::io(path.to_path_buf(), e))?;
            Ok(Box::new(f.take(*len)))
        }
    }
}

/// How messages name layer `index` of the image called `image`.
pub fn describe(image: &str, index: usize, layer: &Layer) -> String {
    format!("{image}: layer {index} ({})", layer.desc.digest)
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
    diff_id: DiffId,
    checked: Checked,
    done: bool,
}

impl LayerStream {
    /// Starts streaming `layer` of the image called `image`.
    pub fn open(image: &str, index: usize, layer: &Layer, max_size: u64) -> Result<LayerStream> {
        let what = describe(image, index, layer);
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
            diff_id: layer.diff_id.clone(),
            checked: layer.checked.clone(),
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
        self.checked.mark();
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
    let what = describe(image, index, layer);
    crate::progress::layer_started();
    crate::progress::verbose(|| format!("copying {what}, {} bytes", layer.desc.size));
    let raw = open_blob(&layer.data)?;
    if layer.checked.is_done() || layer.desc.digest == *layer.diff_id.digest() {
        // Inflated and checked earlier in this run, or uncompressed (its raw digest is its
        // diff_id): the raw digest, checked while copying, proves the diff_id, so the bytes
        // are only copied and hashed, the hashing on a second core.
        copy_raw(&what, raw, layer, out)?;
        layer.checked.mark();
        return Ok(());
    }
    let verifying = VerifyingReader::new(
        raw,
        layer.desc.digest.clone(),
        layer.desc.size,
        what.clone(),
    );
    let tee = TeeReader {
        inner: verifying,
        out,
        err: None,
    };
    let mut dec = decoder(tee, &what)?;
    let hasher = ParHasher::new().map_err(|e| Error::layer(&what, e.to_string()))?;
    let mut limited = LimitedReader::new(&mut dec, max_size);
    let res: Result<()> = (|| {
        loop {
            let mut buf = hasher.buffer();
            buf.resize(CHUNK, 0);
            let n = read_full(&mut limited, &mut buf)
                .map_err(|e| Error::layer(&what, e.to_string()))?;
            if n == 0 {
                return Ok(());
            }
            buf.truncate(n);
            hasher
                .send(buf)
                .map_err(|e| Error::layer(&what, e.to_string()))?;
        }
    })();
    let found = hasher
        .finish()
        .map_err(|e| Error::layer(&what, e.to_string()));
    res?;
    let (found, _) = found?;
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
    layer.checked.mark();
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
    let hasher = ParHasher::new().map_err(|e| Error::layer(what, e.to_string()))?;
    let res: Result<()> = (|| {
        let mut total = 0u64;
        loop {
            let mut buf = hasher.buffer();
            buf.resize(RAW_CHUNK, 0);
            let n =
                read_full(&mut capped, &mut buf).map_err(|e| Error::layer(what, e.to_string()))?;
            if n == 0 {
                return Ok(());
            }
            total += n as u64;
            if total > size {
                return Err(Error::layer(
                    what,
                    format!("more than the {size} bytes declared"),
                ));
            }
            out.write_all(&buf[..n])
                .map_err(|e| Error::layer(what, format!("writing: {e}")))?;
            buf.truncate(n);
            hasher
                .send(buf)
                .map_err(|e| Error::layer(what, e.to_string()))?;
        }
    })();
    let found = hasher
        .finish()
        .map_err(|e| Error::layer(what, e.to_string()));
    res?;
    let (found, total) = found?;
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
    mut f: impl FnMut(
        &mut tar::Entry<'_, &mut LayerStream>,
        crate::layer::entry::LayerEntry,
    ) -> Result<()>,
) -> Result<()> {
    let mut s = LayerStream::open(image, index, layer, max_size)?;
    let what = s.what().to_string();
    let res = parse_entries(&what, tar::Archive::new(&mut s).entries(), &mut f);
    s.finish()?;
    res
}

/// `each_entry`, keeping the entry `f` returns for each (`f` may read the entry's data and
/// note where it is kept).
pub fn collect_entries(
    image: &str,
    index: usize,
    layer: &Layer,
    max_size: u64,
    mut f: impl FnMut(
        &mut tar::Entry<'_, &mut LayerStream>,
        crate::layer::entry::LayerEntry,
    ) -> Result<crate::layer::entry::LayerEntry>,
) -> Result<Vec<crate::layer::entry::LayerEntry>> {
    let mut out = Vec::new();
    each_entry(image, index, layer, max_size, |e, le| {
        out.push(f(e, le)?);
        Ok(())
    })?;
    Ok(out)
}

/// An uncompressed layer's tar as a byte range of a file on disk (a member of an input tar, a
/// blob file of a layout, or a layer file regraft wrote): readable, seekable, and readable at
/// an offset, so that its headers can be walked without reading its file data.
pub struct TarRange {
    file: std::fs::File,
    path: std::path::PathBuf,
    start: u64,
    len: u64,
    pos: u64,
    /// The file's identity and change time when opened (see `check_unchanged`).
    stamp: FileStamp,
    /// Read-ahead: `buf` holds the tar's bytes from `buf_at`, so that walking the headers of
    /// many small files costs a read per 64 KiB, not a read and a seek per entry.
    buf: Vec<u8>,
    buf_at: u64,
    /// The next read-ahead: grows while reads follow on, drops after a seek past the buffer.
    ahead: usize,
}

const TAR_READ_AHEAD: usize = 64 * 1024;
const TAR_READ_MIN: usize = 4 * 1024;

/// What changes when a file is written to: ctime cannot be set back by anyone but root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    fn of(m: &std::fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        FileStamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

impl Read for TarRange {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let left = self.len.saturating_sub(self.pos);
        let want = out.len().min(left.min(usize::MAX as u64) as usize);
        if want == 0 {
            return Ok(0);
        }
        let in_buf = self.pos >= self.buf_at && self.pos < self.buf_at + self.buf.len() as u64;
        if !in_buf {
            if want >= TAR_READ_AHEAD {
                // Large reads go straight to the caller.
                let n = self.file.read_at(&mut out[..want], self.start + self.pos)?;
                self.pos += n as u64;
                return Ok(n);
            }
            self.ahead = if self.pos == self.buf_at + self.buf.len() as u64 {
                (self.ahead * 2).min(TAR_READ_AHEAD)
            } else {
                TAR_READ_MIN
            };
            let fill = (self.ahead as u64).min(left) as usize;
            self.buf.resize(fill, 0);
            let n = self.file.read_at(&mut self.buf, self.start + self.pos)?;
            self.buf.truncate(n);
            self.buf_at = self.pos;
            if n == 0 {
                return Ok(0);
            }
        }
        let off = (self.pos - self.buf_at) as usize;
        let n = want.min(self.buf.len() - off);
        out[..n].copy_from_slice(&self.buf[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl io::Seek for TarRange {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let pos = match to {
            io::SeekFrom::Start(p) => Some(p),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            io::SeekFrom::End(d) => self.len.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::other("seek before the start of a layer"))?;
        self.pos = pos;
        Ok(pos)
    }
}

impl TarRange {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fails if the file changed since it was opened.
    pub fn check_unchanged(&self) -> Result<()> {
        let m = self.file.metadata().map_err(|e| Error::io(&self.path, e))?;
        if FileStamp::of(&m) != self.stamp {
            return Err(Error::Invalid(format!(
                "{}: the file changed while regraft was reading it",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Copies `len` bytes at `offset` of the tar into `w`.
    pub fn copy_range(&self, offset: u64, len: u64, w: &mut impl io::Write) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let end = offset
            .checked_add(len)
            .filter(|e| *e <= self.len)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: data past the end of a layer",
                    self.path.display()
                ))
            })?;
        let mut buf = vec![0u8; (end - offset).min(1 << 20) as usize];
        let mut at = offset;
        while at < end {
            let n = buf.len().min((end - at) as usize);
            self.file
                .read_exact_at(&mut buf[..n], self.start + at)
                .map_err(|e| Error::io(&self.path, e))?;
            w.write_all(&buf[..n])
                .map_err(|e| Error::Invalid(format!("writing layer: {e}")))?;
            at += n as u64;
        }
        Ok(())
    }

    /// `len` bytes at `offset` of the tar (a file's data, as `walk_headers` located it).
    pub fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>> {
        let mut v = Vec::with_capacity(usize::try_from(len.min(self.len)).unwrap_or(0));
        self.copy_range(offset, len, &mut v)?;
        Ok(v)
    }
}

/// Opens an uncompressed layer whose blob digest is its diff_id, held in a file on disk, as a
/// `TarRange`; `None` for any other layer (compressed ones must be streamed).
pub fn seekable_tar(l: &Layer) -> Result<Option<TarRange>> {
    if l.desc.digest != *l.diff_id.digest() {
        return Ok(None);
    }
    let (path, size, start) = match &l.data {
        BlobData::Member { store, name } => match store.locate(name)? {
            Some(x) => x,
            None => return Ok(None),
        },
        BlobData::File(p) => {
            let m = std::fs::metadata(&**p).map_err(|e| Error::io(p.to_path_buf(), e))?;
            (p.to_path_buf(), m.len(), 0)
        }
        BlobData::Range { path, start, len } => (path.to_path_buf(), *len, *start),
        BlobData::Bytes(_) => return Ok(None),
    };
    if size != l.desc.size || crate::layer::layer_compression(l)? != Compression::None {
        return Ok(None);
    }
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let stamp = FileStamp::of(&file.metadata().map_err(|e| Error::io(&path, e))?);
    Ok(Some(TarRange {
        file,
        path,
        start,
        len: size,
        pos: 0,
        stamp,
        buf: Vec::new(),
        buf_at: 0,
        ahead: TAR_READ_MIN,
    }))
}

/// Walks an uncompressed layer by its tar headers alone, seeking over file data, which is
/// neither read nor verified here: callers use it only for layers that are copied whole to
/// the output afterwards, a copy that checks every byte before the output is published.
/// Each regular file's `data` locates its bytes in the tar (for `TarRange::read_at`).
pub fn walk_headers(
    what: &str,
    range: &mut TarRange,
) -> Result<Vec<crate::layer::entry::LayerEntry>> {
    use crate::layer::entry::{DataRef, Kind, Op};
    range
        .seek(io::SeekFrom::Start(0))
        .map_err(|e| Error::layer(what, e.to_string()))?;
    let mut ar = tar::Archive::new(range);
    let mut out = Vec::new();
    parse_entries(what, ar.entries_with_seek(), |e, mut le| {
        if let Op::Put {
            kind: Kind::File,
            size,
            data,
            ..
        } = &mut le.op
        {
            *data = Some(DataRef {
                offset: e.raw_file_position(),
                len: *size,
            });
        }
        out.push(le);
        Ok(())
    })?;
    Ok(out)
}

/// Parses each entry of a tar (streamed or seeked) and hands it to `f` with its data unread.
fn parse_entries<R: Read>(
    what: &str,
    entries: io::Result<tar::Entries<'_, R>>,
    mut f: impl FnMut(&mut tar::Entry<'_, R>, crate::layer::entry::LayerEntry) -> Result<()>,
) -> Result<()> {
    let entries = entries.map_err(|e| Error::layer(what, format!("not a tar: {e}")))?;
    for e in entries {
        let mut e = e.map_err(|e| Error::layer(what, format!("corrupt tar: {e}")))?;
        let le = crate::layer::entry::parse_entry(&mut e)
            .map_err(|x| Error::layer(what, x.to_string()))?;
        f(&mut e, le)?;
    }
    Ok(())
}

/// Reads the first bytes of a layer blob to tell its real compression.
pub fn layer_compression(l: &Layer) -> Result<Compression> {
    let mut r = open_blob(&l.data)?;
    let mut head = [0u8; 8];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(Error::layer(&l.desc.digest, e.to_string())),
        }
    }
    crate::codec::compress::sniff(&head[..n], &l.desc.digest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::entry::{Kind, Op};
    use crate::model::digest::Digest;
    use crate::model::spec::Descriptor;
    use std::sync::Arc;

    fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, &data[..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn file_layer(bytes: &[u8]) -> (Layer, std::path::PathBuf) {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), bytes).unwrap();
        let path = tmp.path().to_path_buf();
        let d = Digest::of(bytes);
        let layer = Layer {
            desc: Descriptor::new(
                crate::model::spec::media::OCI_LAYER,
                d.clone(),
                bytes.len() as u64,
            ),
            diff_id: DiffId(d),
            data: BlobData::File(Arc::new(tmp.into_temp_path())),
            history: None,
            checked: Default::default(),
        };
        (layer, path)
    }

    #[test]
    fn headers_walk_locates_file_data_and_a_changed_file_is_caught() {
        // A large file between two small ones: the walk seeks over it.
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        let bytes = tar_of(&[
            ("a.txt", b"first".to_vec()),
            ("big.bin", big.clone()),
            ("c.txt", b"third file".to_vec()),
        ]);
        let (layer, path) = file_layer(&bytes);
        let mut r = seekable_tar(&layer)
            .unwrap()
            .expect("an uncompressed file layer");
        let entries = walk_headers("test", &mut r).unwrap();
        let got: Vec<(String, Vec<u8>)> = entries
            .iter()
            .map(|e| match &e.op {
                Op::Put {
                    kind: Kind::File,
                    data: Some(d),
                    ..
                } => (
                    String::from_utf8_lossy(&e.path).to_string(),
                    r.read_at(d.offset, d.len).unwrap(),
                ),
                other => panic!("unexpected entry {other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("a.txt".to_string(), b"first".to_vec()),
                ("big.bin".to_string(), big),
                ("c.txt".to_string(), b"third file".to_vec()),
            ]
        );
        // Reads past the layer's end are refused.
        assert!(r.read_at(r.len() - 1, 2).is_err());
        r.check_unchanged().unwrap();
        // Writing to the file (even the same bytes) changes its ctime: caught.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, &bytes).unwrap();
        let e = r.check_unchanged().unwrap_err().to_string();
        assert!(e.contains("changed while regraft was reading it"), "{e}");
    }

    #[test]
    fn compressed_or_mismatched_layers_are_not_read_in_place() {
        let bytes = tar_of(&[("a", b"x".to_vec())]);
        let (mut layer, _p) = file_layer(&bytes);
        // A blob digest that is not the diff_id (a compressed layer): streamed, not seeked.
        layer.desc.digest = Digest::of(b"something else");
        assert!(seekable_tar(&layer).unwrap().is_none());
    }
}
