//! Layers rewritten entry by entry (`config --strip GLOB`, `--time-max T`, as regctl's
//! `--layer-strip-file` and `--time-max`): entries whose path matches are dropped, mtimes
//! later than T clamped, everything else copied as it is; a layer neither changes is kept
//! byte for byte (its digest stays), a changed one keeps its compression.

use crate::codec::compress::Codec;
use crate::error::{Error, Result};
use crate::layer::entry::{self, Kind, LayerEntry, Meta, Op};
use crate::layer::tarw::{OutKind, TarWriter};
use crate::model::glob::Excludes;
use crate::model::image::Layer;
use crate::model::path::join;
use crate::mutate::{LayerDest, new_layer, whiteout_path};
use std::io::{Read, Write};
use std::path::Path;

/// What a rewrite does to each entry.
pub struct Rewrite<'a> {
    pub strip: &'a Excludes,
    /// Seconds since the epoch: later mtimes become this.
    pub time_max: Option<u64>,
}

/// What a rewrite did to one layer.
pub struct Rewritten {
    pub layer: Layer,
    pub dropped: usize,
    pub clamped: usize,
}

impl Rewrite<'_> {
    fn drops(&self, le: &LayerEntry) -> bool {
        match &le.op {
            Op::Link { target, .. } => self.strip.excludes(&le.path) || self.strip.excludes(target),
            Op::Skip => false,
            _ => self.strip.excludes(&le.path),
        }
    }

    fn clamps(&self, m: &Meta) -> bool {
        self.time_max.is_some_and(|t| m.mtime > t)
    }

    fn meta(&self, m: &Meta) -> Meta {
        let mut m = m.clone();
        if let Some(t) = self.time_max
            && m.mtime > t
        {
            m.mtime = t;
            m.set_pax_mtime(None);
        }
        m
    }
}

fn entry_meta(le: &LayerEntry) -> Option<&Meta> {
    match &le.op {
        Op::Put { meta, .. } | Op::Link { meta, .. } => Some(meta),
        _ => None,
    }
}

/// Rewrites layer `i` of the image called `image`; None when no entry changes. New layers
/// go to a temporary file in `dir`.
pub fn rewrite_layer(
    image: &str,
    i: usize,
    l: &Layer,
    rw: &Rewrite<'_>,
    dir: &Path,
    max: u64,
) -> Result<Option<Rewritten>> {
    let (mut dropped, mut clamped) = (0usize, 0usize);
    crate::layer::each_entry(image, i, l, max, |_, le| {
        if rw.drops(&le) {
            dropped += 1;
        } else if entry_meta(&le).is_some_and(|m| rw.clamps(m)) {
            clamped += 1;
        }
        Ok(())
    })?;
    if dropped == 0 && clamped == 0 {
        return Ok(None);
    }
    let codec = Codec::default_for(crate::layer::layer_compression(l)?);
    let layer = new_layer(LayerDest::TempFileIn(dir), codec, |tw| {
        crate::layer::each_entry(image, i, l, max, |data, le| {
            if rw.drops(&le) {
                return Ok(());
            }
            copy_entry(tw, data, &le, rw, image, i)
        })
    })?;
    Ok(Some(Rewritten {
        layer,
        dropped,
        clamped,
    }))
}

/// Writes an entry of layer `i` as it is but for its clamped mtime, its data read from `data`.
fn copy_entry<W: Write>(
    tw: &mut TarWriter<W>,
    data: &mut impl Read,
    le: &LayerEntry,
    rw: &Rewrite<'_>,
    image: &str,
    i: usize,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io_while(format!("{image}: rewriting layer {i}"), e);
    match &le.op {
        Op::Skip => {}
        Op::Link { target, meta } => tw
            .append_header(&le.path, &OutKind::Hardlink(target), &rw.meta(meta))
            .map_err(io)?,
        Op::Whiteout => tw.append_marker(&whiteout_path(&le.path)).map_err(io)?,
        Op::Opaque => tw
            .append_marker(&join(&le.path, entry::OPAQUE))
            .map_err(io)?,
        Op::Put {
            kind, meta, size, ..
        } => {
            tw.append_header(&le.path, &OutKind::from_kind(kind, *size), &rw.meta(meta))
                .map_err(io)?;
            if *kind == Kind::File && *size > 0 {
                let n = std::io::copy(&mut data.take(*size), tw.data()).map_err(io)?;
                if n != *size {
                    return Err(Error::layer(
                        format!("{image}: layer {i}"),
                        "entry data truncated",
                    ));
                }
                tw.pad(*size).map_err(io)?;
            }
        }
    }
    Ok(())
}

/// `config`'s layer edits: layers removed (by index, as `inspect` shows them), entries
/// stripped, times clamped.
#[derive(Default)]
pub struct LayerEdits {
    pub rm: Vec<usize>,
    pub strip: Excludes,
    /// Seconds since the epoch.
    pub time_max: Option<i64>,
}

impl LayerEdits {
    pub fn is_empty(&self) -> bool {
        self.rm.is_empty() && self.strip.is_empty() && self.time_max.is_none()
    }
}

/// Applies `e` to `base` (made from `img` as it is): removed layers leave with their history
/// entries; the rest are rewritten where they change (into `dir`); with `time_max`, the
/// config's and history's `created` are clamped too. Returns a line per change, for the
/// summary.
pub fn edit_layers(
    base: &mut crate::mutate::Base,
    img: &crate::model::image::Image,
    e: &LayerEdits,
    dir: &Path,
    max: u64,
) -> Result<Vec<String>> {
    let n = img.layers.len();
    let mut said = Vec::new();
    let mut rm = e.rm.clone();
    rm.sort_unstable();
    rm.dedup();
    if let Some(&bad) = rm.iter().find(|&&i| i >= n) {
        return Err(Error::Usage(format!(
            "--layer-rm {bad}: {} has {n} layers (0 to {})",
            img.name,
            n.saturating_sub(1)
        )));
    }
    if !rm.is_empty() && rm.len() == n {
        return Err(Error::Usage(format!(
            "--layer-rm: that is every layer of {}; an image keeps at least one",
            img.name
        )));
    }
    let mut gone_history: Vec<usize> = rm.iter().filter_map(|&i| img.layers[i].history).collect();
    gone_history.sort_unstable();
    if let Some(h) = base
        .config
        .get_mut("history")
        .and_then(serde_json::Value::as_array_mut)
    {
        for &i in gone_history.iter().rev() {
            if i < h.len() {
                h.remove(i);
            }
        }
    }
    for &i in &rm {
        said.push(format!("removed layer {i} ({})", img.layers[i].desc.digest));
    }
    for &i in rm.iter().rev() {
        base.layers.remove(i);
    }
    if !e.strip.is_empty() || e.time_max.is_some() {
        let rw = Rewrite {
            strip: &e.strip,
            time_max: e.time_max.map(|t| t.max(0) as u64),
        };
        for lf in &mut base.layers {
            if let Some(r) = rewrite_layer(&lf.image, lf.index, &lf.layer, &rw, dir, max)? {
                said.push(format!(
                    "layer {} rewritten ({} entries stripped, {} times clamped)",
                    lf.index, r.dropped, r.clamped
                ));
                lf.layer = r.layer;
            }
        }
    }
    if let Some(t) = e.time_max {
        clamp_created(&mut base.config, t);
    }
    Ok(said)
}

/// `created` of the config and of each history entry, clamped to `t`.
fn clamp_created(config: &mut serde_json::Value, t: i64) {
    use crate::mutate::config::{parse_rfc3339, rfc3339};
    let clamp = |v: &mut serde_json::Value| {
        if let Some(c) = v.get("created").and_then(serde_json::Value::as_str)
            && parse_rfc3339(c).is_some_and(|(s, ns)| s > t || (s == t && ns > 0))
        {
            v["created"] = serde_json::Value::String(rfc3339(t));
        }
    };
    clamp(config);
    if let Some(h) = config
        .get_mut("history")
        .and_then(serde_json::Value::as_array_mut)
    {
        h.iter_mut().for_each(clamp);
    }
}

/// `--time-max`: RFC 3339 or seconds since the epoch.
pub fn parse_time(s: &str) -> Result<i64> {
    s.trim()
        .parse::<i64>()
        .ok()
        .or_else(|| crate::mutate::config::parse_rfc3339(s).map(|(t, _)| t))
        .ok_or_else(|| {
            Error::Usage(format!(
                "--time-max {s:?}: expected an RFC 3339 time or seconds since the epoch"
            ))
        })
}
