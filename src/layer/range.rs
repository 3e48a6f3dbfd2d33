//! Reading an uncompressed layer in place: its tar as a byte range of a file on disk, read
//! ahead for header walks, read at an offset for one file's data, and guarded against the file
//! changing while regraft works with it.

use crate::codec::compress::Compression;
use crate::error::{Error, Result};
use crate::model::image::{BlobData, Layer};
use crate::store::stamp::FileStamp;
use std::io::{self, Read};

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

    /// The file's stamp when it was opened.
    pub fn stamp(&self) -> FileStamp {
        self.stamp
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
        let end = offset
            .checked_add(len)
            .filter(|e| *e <= self.len)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: data past the end of a layer",
                    self.path.display()
                ))
            })?;
        copy_file_at(&self.file, self.start + offset, end - offset, w, |e| {
            Error::io(&self.path, e)
        })
    }

    /// `len` bytes at `offset` of the tar (a file's data, as `walk_headers` located it).
    pub fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>> {
        let mut v = Vec::with_capacity(usize::try_from(len.min(self.len)).unwrap_or(0));
        self.copy_range(offset, len, &mut v)?;
        Ok(v)
    }
}

/// Copies `len` bytes at `at` of `file` into `w` (`on_read` names a read error), through one
/// buffer a thread, zeroed once as it grows: a small file's copy costs no allocation and no
/// memset. The one copy loop of file data read in place and of the spill store's files.
pub(crate) fn copy_file_at(
    file: &std::fs::File,
    at: u64,
    len: u64,
    w: &mut impl io::Write,
    on_read: impl Fn(io::Error) -> Error,
) -> Result<()> {
    use std::os::unix::fs::FileExt;
    // Taken out of its cell, so a nested call gets its own.
    let mut buf = COPY_BUF.take();
    let want = len.min(1 << 20) as usize;
    if buf.len() < want {
        buf.resize(want, 0);
    }
    let end = at + len;
    let copied = (|| {
        let mut at = at;
        while at < end {
            let n = want.min((end - at) as usize);
            file.read_exact_at(&mut buf[..n], at).map_err(&on_read)?;
            w.write_all(&buf[..n])
                .map_err(|e| Error::io_while("writing layer", e))?;
            at += n as u64;
        }
        Ok(())
    })();
    COPY_BUF.set(buf);
    copied
}

thread_local! {
    /// `copy_file_at`'s buffer (at most 1 MiB a thread).
    static COPY_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
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
    if size != l.desc.size || super::layer_compression(l)? != Compression::None {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::layer::entry::{Kind, Op};
    use crate::layer::walk_headers;
    use crate::model::digest::{DiffId, Digest};
    use crate::model::spec::Descriptor;
    use std::sync::Arc;

    /// A tar of regular files (for tests of layers on disk).
    pub(crate) fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
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

    /// An uncompressed layer of `bytes` in a temporary file, and the file's path.
    pub(crate) fn file_layer(bytes: &[u8]) -> (Layer, std::path::PathBuf) {
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
                    size,
                    ..
                } => (
                    String::from_utf8_lossy(&e.path).to_string(),
                    r.read_at(d.offset(), *size).unwrap(),
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
