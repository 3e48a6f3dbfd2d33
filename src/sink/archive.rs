//! OCI archives and docker archives: one tar written beside the target with fixed headers
//! (mtime 0, uid/gid 0), layers first in image order, then the other blobs by digest, then the
//! index files by name; renamed into place once complete and synced.

use super::{
    OutBlob, OutImage, WriteOptions, blob_order, copy_blob, docker_files, index_annotations,
};
use crate::error::{Error, IoContext, Result};
use crate::model::digest::Digest;
use crate::model::image::BlobData;
use crate::model::spec::{self, Index};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Counts what passes through, so a blob's written length can be checked against its header.
struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(b)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn header(name: &str, size: u64, dir: bool) -> Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name)
        .map_err(|e| Error::Invalid(format!("tar name {name}: {e}")))?;
    h.set_size(if dir { 0 } else { size });
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h.set_cksum();
    Ok(h)
}

fn pad(w: &mut (impl Write + ?Sized), size: u64) -> std::io::Result<()> {
    let rem = (size % 512) as usize;
    if rem != 0 {
        w.write_all(&[0u8; 512][..512 - rem])?;
    }
    Ok(())
}

/// The two directory entries every archive starts with.
fn write_head(w: &mut (dyn Write + Send)) -> Result<u64> {
    let io = |e: std::io::Error| Error::Invalid(format!("writing archive: {e}"));
    for d in ["blobs/", "blobs/sha256/"] {
        w.write_all(header(d, 0, true)?.as_bytes()).map_err(io)?;
    }
    Ok(1024)
}

/// One blob: header, verified bytes, padding. Returns the bytes written.
fn write_blob(w: &mut (dyn Write + Send), b: &OutBlob, opts: WriteOptions) -> Result<u64> {
    let io = |e: std::io::Error| Error::Invalid(format!("writing archive: {e}"));
    let name = b.digest().blob_path();
    w.write_all(header(&name, b.size(), false)?.as_bytes())
        .map_err(io)?;
    let mut c = Counting {
        inner: &mut *w,
        n: 0,
    };
    copy_blob(b, &mut c, opts)?;
    if c.n != b.size() {
        return Err(Error::SizeMismatch {
            what: format!("blob {}", b.digest()),
            expected: b.size(),
            found: c.n,
        });
    }
    pad(w, b.size()).map_err(io)?;
    Ok(512 + b.size().div_ceil(512) * 512)
}

/// index.json, oci-layout (and manifest.json, repositories), then the end-of-archive blocks.
fn write_tail(
    w: &mut (dyn Write + Send),
    img: &OutImage,
    name: Option<&str>,
    docker: bool,
) -> Result<()> {
    let io = |e: std::io::Error| Error::Invalid(format!("writing archive: {e}"));
    let mut index = Index::empty();
    let mut top = img.top.clone();
    top.annotations.extend(index_annotations(name, docker));
    index.manifests.push(top);
    let index_bytes = spec::to_json(&index);
    let docker_bytes = if docker {
        Some(docker_files(img, name)?)
    } else {
        None
    };
    let mut files: Vec<(&str, &[u8])> =
        vec![("index.json", &index_bytes), ("oci-layout", OCI_LAYOUT)];
    if let Some((m, r)) = &docker_bytes {
        files.push(("manifest.json", m));
        files.push(("repositories", r));
    }
    files.sort_by_key(|f| f.0);
    for (n, bytes) in files {
        w.write_all(header(n, bytes.len() as u64, false)?.as_bytes())
            .map_err(io)?;
        w.write_all(bytes).map_err(io)?;
        pad(w, bytes.len() as u64).map_err(io)?;
    }
    w.write_all(&[0u8; 1024]).map_err(io)?;
    Ok(())
}

/// Writes the archive to `w`.
pub fn write_tar(
    w: &mut (dyn Write + Send),
    img: &OutImage,
    name: Option<&str>,
    docker: bool,
    opts: WriteOptions,
) -> Result<()> {
    write_head(w)?;
    for b in blob_order(img) {
        write_blob(w, b, opts)?;
    }
    write_tail(w, img, name, docker)
}

fn archive_dir(path: &Path) -> Result<std::path::PathBuf> {
    if path.is_dir() {
        return Err(Error::Usage(format!(
            "output {}: is a directory, not an archive file",
            path.display()
        )));
    }
    Ok(match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    })
}

/// Writes an archive file: built beside `path`, synced, renamed into place.
pub fn write_archive(
    path: &Path,
    img: &OutImage,
    name: Option<&str>,
    docker: bool,
    opts: WriteOptions,
) -> Result<()> {
    Session::begin(path)?.finish(path, img, name, docker, opts)
}

/// An archive built before its image is complete, in the order `write_tar` writes: a graft
/// copies the base's layers into it while it reads the vendor, then writes its new layer
/// straight into it (no temporary layer file copied afterwards), and `finish` adds the rest.
/// Dropped unfinished (a failed check, an error), the temporary file goes with it.
pub struct Session {
    file: std::fs::File,
    path: Arc<tempfile::TempPath>,
    dir: std::path::PathBuf,
    pos: u64,
    /// Blobs written, in order, with where their bytes start.
    written: Vec<(Digest, u64)>,
}

impl Session {
    /// Starts an archive to be renamed to `path` when finished.
    pub fn begin(path: &Path) -> Result<Session> {
        let dir = archive_dir(path)?;
        let (file, tpath) = super::layout::temp_file_in(&dir)?.into_parts();
        let mut s = Session {
            file,
            path: Arc::new(tpath),
            dir,
            pos: 0,
            written: Vec::new(),
        };
        let mut w = BufWriter::new(&s.file);
        s.pos = write_head(&mut w)?;
        w.flush().at(&**s.path)?;
        drop(w);
        Ok(s)
    }

    fn has(&self, d: &Digest) -> Option<u64> {
        self.written.iter().find(|(x, _)| x == d).map(|(_, at)| *at)
    }

    /// Appends a blob (verified while copied), unless it is there already.
    pub fn put(&mut self, b: &OutBlob, opts: WriteOptions) -> Result<()> {
        if self.has(b.digest()).is_some() {
            return Ok(());
        }
        let mut w = BufWriter::with_capacity(1 << 20, &self.file);
        let n = write_blob(&mut w, b, opts)?;
        w.flush().at(&**self.path)?;
        drop(w);
        self.written.push((b.digest().clone(), self.pos + 512));
        self.pos += n;
        Ok(())
    }

    /// Appends a blob whose bytes `f` writes and whose digest and size are known only after:
    /// its header is filled in once they are. Returns where its bytes are, as blob data.
    pub fn put_new<T>(
        &mut self,
        f: impl FnOnce(&mut (dyn Write + Send)) -> Result<(Digest, u64, T)>,
    ) -> Result<(BlobData, Digest, u64, T)> {
        use std::os::unix::fs::FileExt;
        let head_at = self.pos;
        let start = head_at + 512;
        let mut w = BufWriter::with_capacity(1 << 20, &self.file);
        w.write_all(&[0u8; 512]).at(&**self.path)?;
        let (digest, size, extra) = f(&mut w)?;
        w.flush().at(&**self.path)?;
        drop(w);
        if let Some(at) = self.has(&digest) {
            // The same bytes are in the archive already: drop this copy.
            self.file.set_len(head_at).at(&**self.path)?;
            (&self.file)
                .seek(SeekFrom::Start(head_at))
                .at(&**self.path)?;
            return Ok((self.range(at, size), digest, size, extra));
        }
        let h = header(&digest.blob_path(), size, false)?;
        self.file
            .write_all_at(h.as_bytes(), head_at)
            .at(&**self.path)?;
        pad(&mut &self.file, size).at(&**self.path)?;
        self.written.push((digest.clone(), start));
        self.pos = start + size.div_ceil(512) * 512;
        Ok((self.range(start, size), digest, size, extra))
    }

    fn range(&self, start: u64, len: u64) -> BlobData {
        BlobData::Range {
            path: self.path.clone(),
            start,
            len,
        }
    }

    /// Writes what is not in yet (`img`'s blobs in archive order must begin with the ones
    /// written), the index files and the end, syncs, and renames the archive to `path`.
    pub fn finish(
        mut self,
        path: &Path,
        img: &OutImage,
        name: Option<&str>,
        docker: bool,
        opts: WriteOptions,
    ) -> Result<()> {
        let order = blob_order(img);
        let k = self.written.len();
        let prefix: Vec<&Digest> = order.iter().take(k).map(|b| b.digest()).collect();
        if prefix.len() != k || prefix.iter().zip(&self.written).any(|(a, (b, _))| *a != b) {
            return Err(Error::Invalid(
                "internal: the archive was begun in another order than its image's".into(),
            ));
        }
        (&self.file)
            .seek(SeekFrom::Start(self.pos))
            .at(&**self.path)?;
        {
            let mut w = BufWriter::with_capacity(1 << 20, &self.file);
            for b in &order[k..] {
                self.pos += write_blob(&mut w, b, opts)?;
            }
            write_tail(&mut w, img, name, docker)?;
            w.flush().at(&**self.path)?;
        }
        self.file.sync_all().at(&**self.path)?;
        std::fs::rename(&**self.path, path).map_err(|e| Error::io(path, e))?;
        super::layout::sync_dir(&self.dir);
        Ok(())
    }
}
