//! The one builder of new layers (path mode's, `--exclude`'s rewrites, `add`, `rm`, the package
//! database merge): the tar a caller fills goes through diff_id hashing (sha256 on a second
//! thread), the encoder and blob hashing into its destination, and comes back as a `Layer`
//! hashed as it was written. Each byte is hashed once per digest: an uncompressed blob's digest
//! is its diff_id, so it is only counted.

use crate::codec::compress::{Codec, Compression, Encoder};
use crate::error::{Error, Result};
use crate::layer::entry;
use crate::layer::tarw::TarWriter;
use crate::model::digest::{DiffId, Digest, HashingWriter, ParHashingWriter};
use crate::model::image::{BlobData, Checked, Layer};
use crate::model::path::join;
use crate::model::spec::{self, Descriptor};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

/// The tar writer a new layer is filled through; `'a` is its destination's.
pub type LayerTar<'a> =
    TarWriter<BufWriter<ParHashingWriter<Encoder<BlobSink<Box<dyn Write + 'a>>>>>>;

/// Where a new layer's blob goes.
pub enum LayerDest<'a> {
    /// A temporary file in this directory (beside the output, so the write can rename).
    TempFileIn(&'a Path),
    /// Straight into the output being built (`Sink::put_new`), once (path mode's result).
    Sink(&'a mut (dyn crate::sink::Sink + 'a)),
    /// Memory, for a small layer (the package database merge).
    Memory,
    /// Nowhere: a dry run needs only the digests.
    Discard,
}

impl<'a> LayerDest<'a> {
    /// A temporary file in `dir`, or nowhere when there is none (a dry run).
    pub fn temp_file_or_discard(dir: Option<&'a Path>) -> LayerDest<'a> {
        match dir {
            Some(d) => LayerDest::TempFileIn(d),
            None => LayerDest::Discard,
        }
    }
}

/// Builds a new layer: `fill` writes its entries; the tar's end, the compression and every
/// digest are the builder's.
pub fn new_layer(
    dest: LayerDest<'_>,
    codec: Codec,
    fill: impl FnOnce(&mut LayerTar<'_>) -> Result<()>,
) -> Result<Layer> {
    let mut stamp = None;
    let (d, data) = match dest {
        LayerDest::Sink(sink) => {
            let (data, d) = sink.put_new_with(|w| {
                let d = encode(Box::new(w), codec, fill)?;
                Ok((d.digest.clone(), d.size, d))
            })?;
            (d, data)
        }
        LayerDest::TempFileIn(dir) => {
            let tmp = crate::store::temp::temp_file_in(dir)?;
            let f = tmp
                .as_file()
                .try_clone()
                .map_err(|e| Error::io(tmp.path(), e))?;
            let mut w = BufWriter::with_capacity(1 << 20, f);
            let d = encode(Box::new(&mut w), codec, fill)?;
            w.flush().map_err(|e| Error::io(tmp.path(), e))?;
            drop(w);
            let m = tmp
                .as_file()
                .metadata()
                .map_err(|e| Error::io(tmp.path(), e))?;
            stamp = Some(crate::store::stamp::FileStamp::of(&m));
            (d, BlobData::File(Arc::new(tmp.into_temp_path())))
        }
        LayerDest::Memory => {
            let mut v = Vec::new();
            let d = encode(Box::new(&mut v), codec, fill)?;
            (d, BlobData::Bytes(Arc::new(v)))
        }
        LayerDest::Discard => {
            let d = encode(Box::new(std::io::sink()), codec, fill)?;
            (d, BlobData::Bytes(Arc::new(Vec::new())))
        }
    };
    // Hashed as it was written: copying it out needs only its raw digest checked, and a
    // layout output that hard-links the file (unchanged since) none.
    let checked = Checked::done();
    if let Some(s) = stamp {
        checked.mark_file(s);
    }
    Ok(Layer {
        desc: Descriptor::new(spec::oci_layer_type(codec.compression), d.digest, d.size),
        diff_id: d.diff_id,
        data,
        history: None,
        checked,
    })
}

/// The whiteout marker that deletes `path` (`dir/.wh.name`).
pub fn whiteout_path(path: &[u8]) -> Vec<u8> {
    let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
        Some(k) => (&path[..k], &path[k + 1..]),
        None => (&path[..0], path),
    };
    let mut m = join(dir, entry::WH_PREFIX);
    m.extend_from_slice(name);
    m
}

/// What writing a layer found: its diff_id, its blob's digest and size.
struct Digests {
    diff_id: DiffId,
    digest: Digest,
    size: u64,
}

/// Writes the tar `fill` fills through diff_id hashing, the encoder and blob hashing into `w`.
fn encode<'a>(
    w: Box<dyn Write + 'a>,
    codec: Codec,
    fill: impl FnOnce(&mut LayerTar<'a>) -> Result<()>,
) -> Result<Digests> {
    let io = |e: std::io::Error| Error::io_while("writing the new layer", e);
    let blob = BlobSink::new(w, codec.compression);
    let enc = Encoder::new(codec, blob).map_err(io)?;
    let diff = ParHashingWriter::new(enc).map_err(io)?;
    let mut tw = TarWriter::new(BufWriter::with_capacity(256 * 1024, diff));
    fill(&mut tw)?;
    let buf = tw.finish().map_err(io)?;
    let diff = buf.into_inner().map_err(|e| io(e.into_error()))?;
    let (enc, diff_id, _) = diff.finish().map_err(io)?;
    let blob = enc.finish().map_err(io)?;
    let (_, digest, size) = blob.finish(&diff_id);
    Ok(Digests {
        diff_id: DiffId(diff_id),
        digest,
        size,
    })
}

/// Where the encoded layer goes: hashed, or, for an uncompressed layer (whose blob digest is
/// its diff_id, already hashed upstream), only counted, so the bytes are not hashed twice.
pub enum BlobSink<W> {
    Hashing(HashingWriter<W>),
    Counting(W, u64),
}

impl<W: Write> BlobSink<W> {
    fn new(w: W, compression: Compression) -> Self {
        match compression {
            Compression::None => BlobSink::Counting(w, 0),
            Compression::Gzip | Compression::Zstd => BlobSink::Hashing(HashingWriter::new(w)),
        }
    }
    /// `diff_id`: the digest of the same bytes when they were not hashed here.
    fn finish(self, diff_id: &Digest) -> (W, Digest, u64) {
        match self {
            BlobSink::Hashing(h) => h.finish(),
            BlobSink::Counting(w, n) => (w, diff_id.clone(), n),
        }
    }
}

impl<W: Write> Write for BlobSink<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            BlobSink::Hashing(h) => h.write(buf),
            BlobSink::Counting(w, n) => {
                let k = w.write(buf)?;
                *n += k as u64;
                Ok(k)
            }
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            BlobSink::Hashing(h) => h.flush(),
            BlobSink::Counting(w, _) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::entry::Meta;
    use crate::layer::tarw::OutKind;

    fn fill(tw: &mut LayerTar<'_>) -> Result<()> {
        entries(tw)
    }

    fn entries<W: Write>(tw: &mut TarWriter<W>) -> Result<()> {
        let meta = Meta {
            mode: 0o644,
            ..Default::default()
        };
        tw.append_header(b"etc/a", &OutKind::File { size: 3 }, &meta)
            .unwrap();
        tw.data().write_all(b"abc").unwrap();
        tw.pad(3).unwrap();
        Ok(())
    }

    fn blob_bytes(l: &Layer) -> Vec<u8> {
        match &l.data {
            BlobData::File(p) => std::fs::read(&**p).unwrap(),
            BlobData::Bytes(b) => b.to_vec(),
            _ => panic!("unexpected blob data"),
        }
    }

    /// A new layer's digests do not depend on where it is written; its blob hashes to its
    /// digest, and inflates to the tar that hashes to its diff_id (an uncompressed layer's
    /// digest is its diff_id).
    #[test]
    fn whiteouts_sit_beside_what_they_delete() {
        assert_eq!(whiteout_path(b"var/lib/x"), b"var/lib/.wh.x");
        assert_eq!(whiteout_path(b"x"), b".wh.x");
    }

    #[test]
    fn new_layers_are_hashed_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut tar = TarWriter::new(Vec::new());
        entries(&mut tar).unwrap();
        let tar = tar.finish().unwrap();
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let codec = Codec::default_for(c);
            let file = new_layer(LayerDest::TempFileIn(dir.path()), codec, fill).unwrap();
            let dry = new_layer(LayerDest::Discard, codec, fill).unwrap();
            let mem = new_layer(LayerDest::Memory, codec, fill).unwrap();
            assert_eq!(file.desc.digest, dry.desc.digest, "{c:?}");
            assert_eq!(file.desc.size, dry.desc.size);
            assert_eq!(file.diff_id, dry.diff_id);
            assert_eq!(file.desc.media_type, spec::oci_layer_type(c));
            assert_eq!(blob_bytes(&file), blob_bytes(&mem));
            assert!(file.checked.is_done() && mem.checked.is_done());
            let blob = blob_bytes(&file);
            assert_eq!(Digest::of(&blob), file.desc.digest);
            assert_eq!(blob.len() as u64, file.desc.size);
            let mut back = Vec::new();
            std::io::Read::read_to_end(
                &mut crate::codec::compress::decoder(&blob[..], "t").unwrap(),
                &mut back,
            )
            .unwrap();
            assert_eq!(back, tar);
            assert_eq!(file.diff_id.to_string(), Digest::of(&tar).to_string());
            if c == Compression::None {
                assert_eq!(file.desc.digest, *file.diff_id.digest());
            }
        }
    }
}
