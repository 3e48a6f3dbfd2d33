//! `append`: layer tarballs put on an image as they are (crane's `append`): the given bytes
//! are the new layer's blob, compression and all, so its digest is the file's sha256. Each
//! file is hashed (blob and diff_id) in one read, then walked by the one entry walk every
//! layer goes through, so a file that is not a tar, or holds a name that escapes the root,
//! is refused as any layer would be. The output copies it once more, checking its digest.

use crate::codec::compress::{LimitedReader, decoder};
use crate::error::{Error, Result};
use crate::model::digest::{DiffId, HashingReader};
use crate::model::image::{BlobData, Layer};
use crate::model::spec::{self, Descriptor};
use crate::store::{BlobStore, Located};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One given file as a store: the blob is read where it lies, and never hard-linked into an
/// output (the user's file stays theirs).
struct GivenFile {
    path: PathBuf,
}

impl BlobStore for GivenFile {
    fn open(&self, _name: &str) -> Result<Box<dyn Read + Send>> {
        let f = std::fs::File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        Ok(Box::new(f))
    }
    fn locate(&self, _name: &str) -> Result<Option<Located>> {
        Ok(None)
    }
    fn whole_files(&self) -> bool {
        false
    }
}

/// The layer a tarball file makes (tar, tar.gz or tar.zst, told by its bytes), checked: its
/// digests taken, every entry walked as every layer's is. `index` is where it will stand in
/// the result, for messages; `max` bounds its decompressed size.
pub fn layer_from_file(path: &Path, index: usize, max: u64) -> Result<Layer> {
    let what = format!("{}", path.display());
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    if f.metadata().map_err(|e| Error::io(path, e))?.is_dir() {
        return Err(Error::Usage(format!(
            "{what}: a directory; append takes layer tarballs (regraft add takes directories)"
        )));
    }
    let mut dec = decoder(HashingReader::new(f), &what)?;
    let compression = dec.compression();
    let mut tar = HashingReader::new(LimitedReader::new(&mut dec, max));
    std::io::copy(&mut tar, &mut std::io::sink()).map_err(|e| Error::layer_io(&what, e))?;
    let (_, diff_id, tar_size) = tar.finish();
    // What the decoder left unread (a gzip trailer's padding) is part of the blob too.
    let mut raw = dec.into_inner();
    std::io::copy(&mut raw, &mut std::io::sink()).map_err(|e| Error::io(path, e))?;
    let (_, digest, size) = raw.finish();
    if tar_size == 0 {
        return Err(Error::layer(
            &what,
            "empty: a layer is a tar stream (at least its end-of-archive blocks)",
        ));
    }
    let layer = Layer {
        desc: Descriptor::new(spec::oci_layer_type(compression), digest, size),
        diff_id: DiffId(diff_id),
        data: BlobData::Member {
            store: Arc::new(GivenFile {
                path: path.to_path_buf(),
            }),
            name: what.clone(),
        },
        history: None,
        checked: Default::default(),
    };
    // The one walk: names cleaned, hostile entries refused, truncation told; it checks the
    // digests just taken (the file may not change under us) and records the layer checked.
    crate::layer::each_entry(&what, index, &layer, max, |_, _| Ok(()))?;
    Ok(layer)
}
