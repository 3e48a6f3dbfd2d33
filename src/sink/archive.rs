//! OCI archives and docker archives: one tar with fixed headers (mtime 0, uid/gid 0), layers
//! first in image order, then the other blobs by digest, then the index files by name. A file
//! output is built under a temporary name beside the target as blobs are put, then synced and
//! renamed into place by the commit; the same bytes can be streamed (`stream.rs`).

use super::{
    BlobWriter, Naming, OutBlob, OutImage, Sink, WriteOptions, blob_order, copy_blob, docker_files,
    index_annotations,
};
use crate::error::{Error, IoContext, Result};
use crate::model::digest::Digest;
use crate::model::image::BlobData;
use crate::model::reference::ImageRef;
use crate::model::spec::{self, Index};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

/// Which archive: an OCI archive, or a docker archive (the OCI layout plus `manifest.json`
/// and `repositories`, named the way Docker names images).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Oci,
    Docker,
}

impl ArchiveKind {
    fn naming(self) -> Naming {
        match self {
            ArchiveKind::Oci => Naming::Oci,
            ArchiveKind::Docker => Naming::Docker,
        }
    }
}

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

/// What a tar header describes: a directory, or a file of `size` bytes.
#[derive(Clone, Copy)]
enum Member {
    Dir,
    File(u64),
}

fn header(name: &str, member: Member) -> Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name)
        .map_err(|e| Error::io_while(format!("tar name {name}"), e))?;
    let (size, mode, kind) = match member {
        Member::Dir => (0, 0o755, tar::EntryType::Directory),
        Member::File(n) => (n, 0o644, tar::EntryType::Regular),
    };
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(kind);
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

fn io(e: std::io::Error) -> Error {
    Error::io_while("writing archive", e)
}

/// The two directory entries every archive starts with.
pub(super) fn write_head(w: &mut (dyn Write + Send)) -> Result<u64> {
    for d in ["blobs/", "blobs/sha256/"] {
        w.write_all(header(d, Member::Dir)?.as_bytes())
            .map_err(io)?;
    }
    Ok(1024)
}

/// One blob: header, verified bytes, padding. Returns the bytes written.
pub(super) fn write_blob(
    w: &mut (dyn Write + Send),
    b: &OutBlob,
    opts: WriteOptions,
) -> Result<u64> {
    let name = b.digest().blob_path();
    w.write_all(header(&name, Member::File(b.size()))?.as_bytes())
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
pub(super) fn write_tail(
    w: &mut (dyn Write + Send),
    img: &OutImage,
    name: Option<&str>,
    kind: ArchiveKind,
) -> Result<()> {
    let mut index = Index::empty();
    let mut top = img.top.clone();
    top.annotations
        .extend(index_annotations(name, kind.naming()));
    index.manifests.push(top);
    let index_bytes = spec::to_json(&index);
    let docker_bytes = match kind {
        ArchiveKind::Docker => Some(docker_files(img, name)?),
        ArchiveKind::Oci => None,
    };
    let mut files: Vec<(&str, &[u8])> = vec![
        ("index.json", &index_bytes),
        ("oci-layout", spec::OCI_LAYOUT),
    ];
    if let Some((m, r)) = &docker_bytes {
        files.push(("manifest.json", m));
        files.push(("repositories", r));
    }
    files.sort_by_key(|f| f.0);
    for (n, bytes) in files {
        w.write_all(header(n, Member::File(bytes.len() as u64))?.as_bytes())
            .map_err(io)?;
        w.write_all(bytes).map_err(io)?;
        pad(w, bytes.len() as u64).map_err(io)?;
    }
    w.write_all(&[0u8; 1024]).map_err(io)?;
    Ok(())
}

fn archive_dir(path: &Path) -> Result<std::path::PathBuf> {
    if path.is_dir() {
        return Err(Error::Usage(format!(
            "output {}: is a directory, not an archive file",
            path.display()
        )));
    }
    crate::store::temp::check_output_parent(path)?;
    let dir = crate::store::temp::parent_dir(path);
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "output {}: directory {} does not exist",
            crate::text::sanitize(&path.display().to_string()),
            crate::text::sanitize(&dir.display().to_string()),
        )));
    }
    Ok(dir)
}

/// An archive file being built, in archive order: blobs are appended as they
/// are put (a graft copies the base's layers in while it reads the vendor, then writes its new
/// layer straight in), and the commit adds the rest. Dropped uncommitted, the temporary file
/// goes with it.
pub struct ArchiveSink {
    out: ImageRef,
    kind: ArchiveKind,
    opts: WriteOptions,
    file: std::fs::File,
    path: Arc<tempfile::TempPath>,
    dir: std::path::PathBuf,
    pos: u64,
    /// Blobs written or reserved, in file order, with where their bytes start.
    written: Vec<(Digest, u64)>,
    /// Regions reserved for layers offered to a tee (`offer_tees`), not settled yet: filled
    /// by the read that took the tee, or copied by the settling.
    reserved: Vec<Reserved>,
}

/// A layer's place in the archive, its header written, its bytes to come.
struct Reserved {
    blob: OutBlob,
    start: u64,
}

/// Writes at a fixed place of the archive file by positional writes (the file's offset is
/// left alone, so a tee can fill one region while the sink appends elsewhere), at most `left`
/// bytes: a blob never spills into the region after it.
struct AtWriter {
    file: std::fs::File,
    at: u64,
    left: u64,
}

impl Write for AtWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        if b.len() as u64 > self.left {
            return Err(std::io::Error::other(
                "more bytes than the blob's declared size",
            ));
        }
        self.file.write_all_at(b, self.at)?;
        self.at += b.len() as u64;
        self.left -= b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ArchiveSink {
    /// Starts an archive to be renamed to `out`'s path by the commit.
    pub fn begin(out: ImageRef, kind: ArchiveKind, opts: WriteOptions) -> Result<ArchiveSink> {
        let dir = archive_dir(&out.path)?;
        let (file, tpath) = crate::store::temp::output_file_in(&dir)?.into_parts();
        let mut s = ArchiveSink {
            out,
            kind,
            opts,
            file,
            path: Arc::new(tpath),
            dir,
            pos: 0,
            written: Vec::new(),
            reserved: Vec::new(),
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

    fn range(&self, start: u64, len: u64) -> BlobData {
        BlobData::Range {
            path: self.path.clone(),
            start,
            len,
        }
    }

    fn at_writer(&self, at: u64, len: u64) -> Result<AtWriter> {
        Ok(AtWriter {
            file: self.file.try_clone().at(&**self.path)?,
            at,
            left: len,
        })
    }

    /// Settles reserved region `i`: keeps the bytes the tee's read wrote and verified, or
    /// copies the blob into the region (verified as every put is); then its padding.
    fn settle(&mut self, i: usize) -> Result<()> {
        use crate::model::image::Tee;
        use std::os::unix::fs::FileExt;
        let r = self.reserved.remove(i);
        let OutBlob::Layer { layer, .. } = &r.blob else {
            return Err(Error::Invalid(
                "internal: only layers are offered to a tee".into(),
            ));
        };
        let size = layer.desc.size;
        match layer.checked.settle_tee() {
            Tee::Filled => crate::progress::verbose(|| {
                format!(
                    "blob {}: written to the archive as it was read and verified",
                    layer.desc.digest
                )
            }),
            Tee::Reading => {
                return Err(Error::Invalid(format!(
                    "internal: blob {} is put while it is still read",
                    layer.desc.digest
                )));
            }
            Tee::None | Tee::Waiting(_) => {
                let mut c = Counting {
                    inner: self.at_writer(r.start, size)?,
                    n: 0,
                };
                copy_blob(&r.blob, &mut c, self.opts)?;
                if c.n != size {
                    return Err(Error::SizeMismatch {
                        what: format!("blob {}", layer.desc.digest),
                        expected: size,
                        found: c.n,
                    });
                }
            }
        }
        let padding = (size.next_multiple_of(512) - size) as usize;
        self.file
            .write_all_at(&[0u8; 512][..padding], r.start + size)
            .at(&**self.path)?;
        Ok(())
    }

    /// Checks that the blobs written are where `img`'s archive order puts them.
    fn check_order(&self, order: &[&OutBlob]) -> Result<()> {
        let k = self.written.len();
        let prefix: Vec<&Digest> = order.iter().take(k).map(|b| b.digest()).collect();
        if prefix.len() != k || prefix.iter().zip(&self.written).any(|(a, (b, _))| *a != b) {
            return Err(Error::Invalid(
                "internal: the archive was begun in another order than its image's".into(),
            ));
        }
        Ok(())
    }
}

impl Sink for ArchiveSink {
    fn put(&mut self, b: &OutBlob) -> Result<()> {
        if let Some(i) = self
            .reserved
            .iter()
            .position(|r| r.blob.digest() == b.digest())
        {
            return self.settle(i);
        }
        if self.has(b.digest()).is_some() {
            return Ok(());
        }
        (&self.file)
            .seek(SeekFrom::Start(self.pos))
            .at(&**self.path)?;
        let mut w = BufWriter::with_capacity(1 << 20, &self.file);
        let n = write_blob(&mut w, b, self.opts)?;
        w.flush().at(&**self.path)?;
        drop(w);
        self.written.push((b.digest().clone(), self.pos + 512));
        self.pos += n;
        Ok(())
    }

    /// The header is written as zeros first and filled in once the digest and size are known.
    fn put_new(&mut self, write: &mut BlobWriter<'_>) -> Result<BlobData> {
        use std::os::unix::fs::FileExt;
        let head_at = self.pos;
        let start = head_at + 512;
        (&self.file)
            .seek(SeekFrom::Start(head_at))
            .at(&**self.path)?;
        let mut w = BufWriter::with_capacity(1 << 20, &self.file);
        w.write_all(&[0u8; 512]).at(&**self.path)?;
        let (digest, size) = write(&mut w)?;
        w.flush().at(&**self.path)?;
        drop(w);
        if let Some(i) = self
            .reserved
            .iter()
            .position(|r| r.blob.digest() == &digest)
        {
            self.settle(i)?;
        }
        if let Some(at) = self.has(&digest) {
            // The same bytes are in the archive already: drop this copy.
            self.file.set_len(head_at).at(&**self.path)?;
            (&self.file)
                .seek(SeekFrom::Start(head_at))
                .at(&**self.path)?;
            return Ok(self.range(at, size));
        }
        let h = header(&digest.blob_path(), Member::File(size))?;
        self.file
            .write_all_at(h.as_bytes(), head_at)
            .at(&**self.path)?;
        pad(&mut &self.file, size).at(&**self.path)?;
        self.written.push((digest.clone(), start));
        self.pos = start + size.div_ceil(512) * 512;
        Ok(self.range(start, size))
    }

    /// Reserves each layer's region in archive order (its header written now, its size known
    /// from its descriptor) and attaches a writer for the region to the layer; the region is
    /// settled by `put` or `commit`. Layers the archive has already are skipped, and the
    /// offer stops at the first that is not the next in archive order (the order is fixed:
    /// an archive is written front to back).
    fn offer_tees(&mut self, layers: &[OutBlob]) -> Result<()> {
        use std::os::unix::fs::FileExt;
        for b in layers {
            let OutBlob::Layer { layer, .. } = b else {
                break;
            };
            if self.has(b.digest()).is_some() {
                continue;
            }
            let head_at = self.pos;
            let start = head_at + 512;
            let size = layer.desc.size;
            let h = header(&b.digest().blob_path(), Member::File(size))?;
            self.file
                .write_all_at(h.as_bytes(), head_at)
                .at(&**self.path)?;
            layer
                .checked
                .attach_tee(Box::new(self.at_writer(start, size)?));
            self.written.push((b.digest().clone(), start));
            self.reserved.push(Reserved {
                blob: b.clone(),
                start,
            });
            self.pos = start + size.div_ceil(512) * 512;
        }
        Ok(())
    }

    /// Writes what is not in yet (`img`'s blobs in archive order must begin with the ones
    /// written), the index files and the end, syncs, and renames the archive into place.
    fn commit(mut self: Box<Self>, img: &OutImage) -> Result<Digest> {
        while !self.reserved.is_empty() {
            self.settle(0)?;
        }
        let order = blob_order(img);
        self.check_order(&order)?;
        let name = img.out_name(&self.out);
        (&self.file)
            .seek(SeekFrom::Start(self.pos))
            .at(&**self.path)?;
        {
            let mut w = BufWriter::with_capacity(1 << 20, &self.file);
            for b in &order[self.written.len()..] {
                self.pos += write_blob(&mut w, b, self.opts)?;
            }
            write_tail(&mut w, img, name.as_deref(), self.kind)?;
            w.flush().at(&**self.path)?;
        }
        self.file.sync_all().at(&**self.path)?;
        let target = &self.out.path;
        std::fs::rename(&**self.path, target).map_err(|e| Error::io(target, e))?;
        crate::store::temp::sync_dir(&self.dir);
        Ok(img.top.digest.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::digest::DiffId;
    use crate::model::image::{Checked, Layer};
    use crate::model::spec::{Descriptor, media};

    fn layer(bytes: &[u8]) -> OutBlob {
        let d = Digest::of(bytes);
        OutBlob::Layer {
            image: "test".into(),
            index: 0,
            layer: Layer {
                desc: Descriptor::new(media::OCI_LAYER, d.clone(), bytes.len() as u64),
                diff_id: DiffId(d),
                data: BlobData::Bytes(Arc::new(bytes.to_vec())),
                history: None,
                checked: Checked::default(),
            },
        }
    }

    fn image(blobs: Vec<OutBlob>) -> OutImage {
        let top = OutBlob::json(media::OCI_MANIFEST, b"{}".to_vec());
        let OutBlob::Bytes { desc, .. } = &top else {
            unreachable!()
        };
        let desc = desc.clone();
        let mut blobs = blobs;
        blobs.push(top);
        OutImage {
            top: desc,
            blobs,
            name: None,
            docker: None,
        }
    }

    fn checked(b: &OutBlob) -> &Checked {
        match b {
            OutBlob::Layer { layer, .. } => &layer.checked,
            _ => unreachable!(),
        }
    }

    /// An archive whose layers were offered to tees comes out byte for byte as one written by
    /// copies: a tee filled and verified is kept; one whose read wrote other bytes and failed
    /// (not marked filled) is copied over; one no read took is copied; a layer put by hand
    /// after the reserved ones lands after them.
    #[test]
    fn teed_archive_is_the_copied_archive() {
        let dir = tempfile::tempdir().unwrap();
        let opts = WriteOptions {
            max_layer_size: 1 << 30,
        };
        let bytes: [&[u8]; 4] = [&[1u8; 700], &[2u8; 512], &[3u8; 5], &[4u8; 1000]];
        let layers: Vec<OutBlob> = bytes.iter().map(|b| layer(b)).collect();
        let img = image(layers.clone());
        let plain = dir.path().join("plain.tar");
        let out = ImageRef::parse_output(&format!("oci-archive:{}", plain.display())).unwrap();
        crate::sink::write(&out, &img, opts).unwrap();

        let teed = dir.path().join("teed.tar");
        let out = ImageRef::parse_output(&format!("oci-archive:{}", teed.display())).unwrap();
        let mut sink = ArchiveSink::begin(out, ArchiveKind::Oci, opts).unwrap();
        sink.offer_tees(&layers[..3]).unwrap();
        // Layer 0: read whole and verified.
        let mut w = checked(&layers[0]).take_tee().unwrap();
        w.write_all(bytes[0]).unwrap();
        checked(&layers[0]).end_tee(true);
        // Layer 1: its read wrote other bytes and failed.
        let mut w = checked(&layers[1]).take_tee().unwrap();
        w.write_all(&[9u8; 512]).unwrap();
        assert!(
            w.write_all(&[9u8; 1]).is_err(),
            "no byte past the blob's size"
        );
        checked(&layers[1]).end_tee(false);
        // Layer 2: no read took its tee. Layer 3 was not offered.
        sink.put(&layers[3]).unwrap();
        Box::new(sink).commit(&img).unwrap();
        assert_eq!(
            std::fs::read(&plain).unwrap(),
            std::fs::read(&teed).unwrap()
        );
    }
}
