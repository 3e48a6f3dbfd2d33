//! The entry walks over one layer's tar, each entry parsed into a [`LayerEntry`] and handed to
//! the caller with its data unread: streamed and verified ([`each_entry`], [`collect_entries`]),
//! or, for an uncompressed layer on disk that is copied whole afterwards, by its headers alone
//! ([`walk_headers`]).

use super::entry::{DataAt, Entries, Kind, LayerEntry, Op, parse_entry};
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
    s.pad_last_block();
    let res = parse_entries(&what, tar::Archive::new(&mut s).entries(), &mut f);
    let eof_at = s.ended_inside_block();
    let read = s.position();
    s.finish()?;
    match res {
        Ok(Some(end)) => eof_at.map_or(Ok(()), |at| unpadded_end(&what, end, at)),
        Ok(None) => Ok(()),
        Err(Failed::Tar { short, .. }) if short || eof_at.is_some() => {
            Err(truncated(&what, eof_at.unwrap_or(read)))
        }
        Err(Failed::Tar { err, .. } | Failed::Entry(err)) => Err(err),
    }
}

/// How a walk failed: reading the tar itself (`short` when the stream ran out), or on an entry
/// (a refused name or type, or the caller's own error), which no truncation explains.
enum Failed {
    Tar { err: Error, short: bool },
    Entry(Error),
}

/// A tar whose walk ran out of bytes at `at`: truncated (or not a tar at all).
fn truncated(what: &str, at: u64) -> Error {
    Error::layer(
        what,
        format!(
            "the tar stream ends at byte {at}, inside an entry or its header: the layer is \
             truncated (or not a tar)"
        ),
    )
}

/// A tar stream may end right after its last file's data, without the padding to 512 bytes and
/// the end-of-archive blocks (umoci 0.4.7's `insert` writes such layers; Docker and containerd
/// read them). Judges a tar stream that ended at `at`, inside a block, when its last entry's
/// data ends at `end`: inside that entry's padding is a lenient end (a warning naming the
/// layer); inside the data or a header is a truncated layer.
fn unpadded_end(what: &str, end: u64, at: u64) -> Result<()> {
    if at < end {
        return Err(Error::layer(
            what,
            format!(
                "the tar stream ends inside its last file's data (at byte {at} of {end}): the \
                 layer is truncated"
            ),
        ));
    }
    if at > end.next_multiple_of(512) {
        return Err(Error::layer(
            what,
            format!("the tar stream ends inside a header (at byte {at}): the layer is truncated"),
        ));
    }
    crate::progress::warn_once(format!(
        "{what}: the tar stream stops after its last file's data, without the padding and \
         end-of-archive blocks a tar ends with; read as Docker and containerd read it"
    ));
    Ok(())
}

/// `each_entry`, keeping the entry `f` returns for each (`f` may read the entry's data and
/// note where it is kept).
pub fn collect_entries(
    image: &str,
    index: usize,
    layer: &Layer,
    max_size: u64,
    mut f: impl FnMut(&mut StreamEntry<'_, '_>, LayerEntry) -> Result<LayerEntry>,
) -> Result<Entries> {
    let mut out = Entries::new();
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
pub fn walk_headers(what: &str, range: &mut TarRange) -> Result<Entries> {
    range
        .seek(io::SeekFrom::Start(0))
        .map_err(|e| Error::layer_io(what, e))?;
    let len = range.len();
    let mut ar = tar::Archive::new(range);
    let mut out = Entries::new();
    let last_end = parse_entries(what, ar.entries_with_seek(), |e, mut le| {
        if let Op::Put {
            kind: Kind::File,
            data,
            ..
        } = &mut le.op
        {
            *data = Some(DataAt::new(e.raw_file_position()));
        }
        out.push(le);
        Ok(())
    });
    match last_end {
        // The last entry lacks (part of) its padding: the walk ran out inside that block.
        Ok(Some(end)) if len < end.next_multiple_of(512) => unpadded_end(what, end, len),
        Ok(_) => Ok(()),
        Err(Failed::Tar { short, .. }) if short || !len.is_multiple_of(512) => {
            Err(truncated(what, len))
        }
        Err(Failed::Tar { err, .. } | Failed::Entry(err)) => Err(err),
    }?;
    Ok(out)
}

/// Parses each entry of a tar (streamed or seeked) and hands it to `f` with its data unread.
/// Returns where the last entry's data ends in the stream (None for an empty tar).
fn parse_entries<R: Read>(
    what: &str,
    entries: io::Result<tar::Entries<'_, R>>,
    mut f: impl FnMut(&mut tar::Entry<'_, R>, LayerEntry) -> Result<()>,
) -> std::result::Result<Option<u64>, Failed> {
    let tar_failed = |e: io::Error, msg: &str| {
        let text = e.to_string();
        let short = text.contains("unexpected EOF") || text.contains("failed to read entire block");
        Failed::Tar {
            err: Error::layer_io(format!("{what}: {msg}"), crate::error::quiet_tar(e)),
            short,
        }
    };
    let entries = entries.map_err(|e| tar_failed(e, "not a tar"))?;
    let mut last_end = None;
    for e in entries {
        let mut e = e.map_err(|e| tar_failed(e, "corrupt tar"))?;
        last_end = Some(e.raw_file_position() + e.size());
        let le = parse_entry(&mut e).map_err(|x| Failed::Entry(Error::context(what, x)))?;
        f(&mut e, le).map_err(Failed::Entry)?;
    }
    Ok(last_end)
}
