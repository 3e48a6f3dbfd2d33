//! OCI archives and docker archives: one tar written beside the target with fixed headers
//! (mtime 0, uid/gid 0, names sorted) and renamed into place once complete and synced.

use super::{OutImage, WriteOptions, copy_blob, docker_files, index_annotations, unique_blobs};
use crate::error::{Error, IoContext, Result};
use crate::spec::{self, Index};
use std::io::{BufWriter, Write};
use std::path::Path;

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

/// Writes the archive to `w`.
pub fn write_tar(
    w: &mut (dyn Write + Send),
    img: &OutImage,
    name: Option<&str>,
    docker: bool,
    opts: WriteOptions,
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

    for d in ["blobs/", "blobs/sha256/"] {
        w.write_all(header(d, 0, true)?.as_bytes()).map_err(io)?;
    }
    for b in unique_blobs(img) {
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
    }
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

pub fn write_archive(
    path: &Path,
    img: &OutImage,
    name: Option<&str>,
    docker: bool,
    opts: WriteOptions,
) -> Result<()> {
    if path.is_dir() {
        return Err(Error::Usage(format!(
            "output {}: is a directory, not an archive file",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = super::layout::temp_file_in(&dir)?;
    {
        let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
        write_tar(&mut w, img, name, docker, opts)?;
        w.flush().at(tmp.path())?;
    }
    tmp.as_file().sync_all().at(tmp.path())?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    super::layout::sync_dir(&dir);
    Ok(())
}
