//! The entry walks over one layer's tar, each entry parsed into a [`LayerEntry`] and handed to
//! the caller with its data unread: streamed and verified ([`each_entry`], [`collect_entries`]),
//! or, for an uncompressed layer on disk that is copied whole afterwards, by its headers alone
//! ([`walk_headers`]).

use super::entry::{DataRef, Kind, LayerEntry, Op, parse_entry};
use super::range::TarRange;
use super::stream::LayerStream;
use crate::error::{Error, Result};
use crate::model::image::Layer;
use std::io::{self, Read, Seek};

/// An entry of a streamed layer, as `each_entry` hands it over (its data may be read).
pub type StreamEntry<'a, 'b> = tar::Entry<'a, &'b mut LayerStream>;

/// Streams one layer's tar, verified, handing each entry (header parsed, data unread) to `f`,
/// which may read the entry's data. When the tar itself fails, the stream's own failure
/// (digest, size, bomb) is reported if there is one, since it explains the tar error best.
pub fn each_entry(
    image: &str,
    index: usize,
    layer: &Layer,
    max_size: u64,
    mut f: impl FnMut(&mut StreamEntry<'_, '_>, LayerEntry) -> Result<()>,
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
    mut f: impl FnMut(&mut StreamEntry<'_, '_>, LayerEntry) -> Result<LayerEntry>,
) -> Result<Vec<LayerEntry>> {
    let mut out = Vec::new();
    each_entry(image, index, layer, max_size, |e, le| {
        out.push(f(e, le)?);
        Ok(())
    })?;
    Ok(out)
}

/// Walks an uncompressed layer by its tar headers alone, seeking over file data, which is
/// neither read nor verified here: callers use it only for layers that are copied whole to
/// the output afterwards, a copy that checks every byte before the output is published.
/// Each regular file's `data` locates its bytes in the tar (for `TarRange::read_at`).
pub fn walk_headers(what: &str, range: &mut TarRange) -> Result<Vec<LayerEntry>> {
    range
        .seek(io::SeekFrom::Start(0))
        .map_err(|e| Error::layer_io(what, e))?;
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
    mut f: impl FnMut(&mut tar::Entry<'_, R>, LayerEntry) -> Result<()>,
) -> Result<()> {
    let entries = entries.map_err(|e| Error::layer_io(format!("{what}: not a tar"), e))?;
    for e in entries {
        let mut e = e.map_err(|e| Error::layer_io(format!("{what}: corrupt tar"), e))?;
        let le = parse_entry(&mut e).map_err(|x| Error::context(what, x))?;
        f(&mut e, le)?;
    }
    Ok(())
}
