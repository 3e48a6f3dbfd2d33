//! One layer's bytes: opening its blob, telling its compression, and naming it in messages.
//! The rest lives in one file per job: [`stream`] inflates and verifies a layer as it is read,
//! [`copy`] copies a blob byte for byte while checking it, [`walk`] hands a layer's tar entries
//! to the caller (streamed or by headers alone), [`range`] reads an uncompressed layer on disk
//! in place, [`entry`] parses one tar header, and [`tarw`] writes layer tars.

use crate::codec::compress::Compression;
use crate::error::{Error, Result};
use crate::model::image::{BlobData, Layer};
use std::io::{self, Read, Seek};

pub mod copy;
pub mod entry;
pub mod range;
pub mod stream;
pub mod tarw;
pub mod walk;

pub use copy::copy_layer;
pub use range::{TarRange, seekable_tar};
pub use stream::LayerStream;
pub use walk::{collect_entries, each_entry, walk_headers};

/// Default bound on a decompressed layer: generous, but a bomb stops.
pub const DEFAULT_MAX_LAYER_SIZE: u64 = 64 << 30;

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

/// The file on disk that is the whole blob, when there is one: a layout's blob file, or a
/// layer regraft wrote to a temporary file (a member inside an archive is not).
pub fn blob_file(data: &BlobData) -> Result<Option<std::path::PathBuf>> {
    Ok(match data {
        BlobData::Member { store, name } if store.whole_files() => match store.locate(name)? {
            Some((p, _, 0)) => Some(p),
            _ => None,
        },
        BlobData::File(p) => Some(p.to_path_buf()),
        _ => None,
    })
}

/// The stamp of the file that holds a blob (the whole blob, or a member or range of an
/// archive), taken before it is read (`Checked::mark_file`).
pub fn blob_stamp(data: &BlobData) -> Option<(std::path::PathBuf, crate::store::stamp::FileStamp)> {
    let p = match data {
        BlobData::Member { store, name } => store.locate(name).ok()??.0,
        BlobData::File(p) => p.to_path_buf(),
        BlobData::Range { path, .. } => path.to_path_buf(),
        BlobData::Bytes(_) => return None,
    };
    // The file itself, where the path the user gave is a symlink (as opening it reads).
    let s = crate::store::stamp::FileStamp::of(&std::fs::metadata(&p).ok()?);
    Some((p, s))
}

/// Marks `checked` for a blob read from start to end and verified, with the stamp of the file
/// that holds it when that file is unchanged since `before` (taken before the read).
pub fn mark_checked(
    checked: &crate::model::image::Checked,
    before: Option<(std::path::PathBuf, crate::store::stamp::FileStamp)>,
) {
    match before {
        Some((p, s))
            if std::fs::metadata(&p)
                .ok()
                .map(|m| crate::store::stamp::FileStamp::of(&m))
                == Some(s) =>
        {
            checked.mark_file(s)
        }
        _ => checked.mark(),
    }
}

/// How messages name layer `index` of the image called `image`.
pub fn describe(image: &str, index: usize, layer: &Layer) -> String {
    format!("{image}: layer {index} ({})", layer.desc.digest)
}

/// Reads the first bytes of a layer blob to tell its real compression.
pub fn layer_compression(l: &Layer) -> Result<Compression> {
    let mut r = open_blob(&l.data)?;
    let mut head = [0u8; 8];
    let n = read_full(&mut r, &mut head).map_err(|e| Error::layer_io(&l.desc.digest, e))?;
    crate::codec::compress::sniff(&head[..n], &l.desc.digest.to_string())
}

/// Fills `buf` from `r` as far as `r` goes; returns how much was read (less only at the end).
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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
