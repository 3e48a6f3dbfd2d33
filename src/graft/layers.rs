//! Layer mode: the vendor's application layers (above its old base) go onto the base as they
//! are, same bytes, same digests; their whiteouts then apply to the new base. With
//! `--exclude`, exactly the layers that lose entries are rewritten (same compression).

use super::{GraftPlan, Inputs, ModeResult, out_dir};
use crate::codec::compress::Codec;
use crate::error::{Error, Result};
use crate::layer::entry::{self, Kind, LayerEntry, Op};
use crate::layer::layer_compression;
use crate::layer::tarw::{OutKind, TarWriter};
use crate::model::glob::Excludes;
use crate::model::image::{Image, Layer};
use crate::model::path::join;
use crate::mutate::{LayerDest, LayerFrom, whiteout_path};
use serde_json::Value;
use std::io::{Read, Write};

/// Layer mode: the vendor's layers past the split, rewritten where `--exclude` drops
/// entries, then the vendor's history past the old base's (and, with `--history-comment`,
/// an empty_layer entry for the graft).
pub(super) fn graft_layers(plan: &GraftPlan, inputs: &Inputs) -> Result<ModeResult> {
    let vendor = &inputs.vendor;
    // Even a dry run writes rewritten layers (to temporary files): the check reads them.
    let dir = out_dir(&plan.output);
    let mut rewritten_layers = Vec::new();
    let mut layers = Vec::new();
    for (i, l) in vendor.layers.iter().enumerate().skip(inputs.split.layers) {
        let l = match filter_layer(vendor, i, l, &plan.exclude, &dir, plan.max_layer_size)? {
            Some(Filtered {
                layer: new,
                dropped,
            }) => {
                rewritten_layers.push(format!(
                    "layer {i} ({}) rewritten as {} without {dropped} excluded entr{}",
                    l.desc.digest,
                    new.desc.digest,
                    if dropped == 1 { "y" } else { "ies" }
                ));
                new
            }
            None => l.clone(),
        };
        layers.push(LayerFrom {
            image: vendor.name.clone(),
            index: i,
            layer: l,
        });
    }
    let mut history: Vec<Value> = match vendor.config.get("history").and_then(Value::as_array) {
        Some(h) => h.iter().skip(inputs.split.history).cloned().collect(),
        None => Vec::new(),
    };
    // The vendor's entries move as they are; `--history-comment` records the graft itself in
    // an entry of its own, as a config edit's does.
    if let Some(c) = &plan.history_comment {
        history.push(crate::mutate::history_entry(
            inputs.created.as_deref(),
            format!("regraft from {}", inputs.vendor_ref()),
            c,
            crate::mutate::HistoryKind::EmptyLayer,
        ));
    }
    Ok(ModeResult {
        layers,
        history,
        rewritten_layers,
        ..Default::default()
    })
}

/// A layer `--exclude` rewrote, and how many entries it dropped.
struct Filtered {
    layer: Layer,
    dropped: usize,
}

/// Whether `--exclude` drops an entry: by its path (a whiteout by the path it deletes), a
/// hardlink also when its target goes.
fn excluded(exclude: &Excludes, le: &LayerEntry) -> bool {
    match &le.op {
        Op::Link { target, .. } => exclude.excludes(&le.path) || exclude.excludes(target),
        Op::Skip => false,
        _ => exclude.excludes(&le.path),
    }
}

/// Rewrites a layer without the entries `--exclude` drops. None when it drops nothing. The
/// new layer keeps the original's compression.
fn filter_layer(
    img: &Image,
    i: usize,
    l: &Layer,
    exclude: &Excludes,
    dir: &std::path::Path,
    max: u64,
) -> Result<Option<Filtered>> {
    if exclude.is_empty() {
        return Ok(None);
    }
    // A first pass over the headers: does anything match?
    let mut dropped = 0usize;
    crate::layer::each_entry(&img.name, i, l, max, |_, le| {
        dropped += usize::from(excluded(exclude, &le));
        Ok(())
    })?;
    if dropped == 0 {
        return Ok(None);
    }
    let codec = Codec::default_for(layer_compression(l)?);
    let layer = crate::mutate::new_layer(LayerDest::TempFileIn(dir), codec, |tw| {
        crate::layer::each_entry(&img.name, i, l, max, |data, le| {
            if excluded(exclude, &le) {
                return Ok(());
            }
            copy_entry(tw, data, &le, &img.name, i)
        })
    })?;
    Ok(Some(Filtered { layer, dropped }))
}

/// Writes an entry of layer `i` of `image` as it is, its data read from `data`.
fn copy_entry<W: Write>(
    tw: &mut TarWriter<W>,
    data: &mut impl Read,
    le: &LayerEntry,
    image: &str,
    i: usize,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io_while(format!("rewriting layer {i}"), e);
    match &le.op {
        Op::Skip => {}
        Op::Link { target, meta } => tw
            .append_header(&le.path, &OutKind::Hardlink(target), meta)
            .map_err(io)?,
        Op::Whiteout => tw.append_marker(&whiteout_path(&le.path)).map_err(io)?,
        Op::Opaque => tw
            .append_marker(&join(&le.path, entry::OPAQUE))
            .map_err(io)?,
        Op::Put {
            kind, meta, size, ..
        } => {
            tw.append_header(&le.path, &OutKind::from_kind(kind, *size), meta)
                .map_err(io)?;
            if *kind == Kind::File && *size > 0 {
                let n = std::io::copy(&mut data.take(*size), tw.data()).map_err(io)?;
                if n != *size {
                    let what = format!("{image}: layer {i}");
                    return Err(Error::layer(&what, "entry data truncated"));
                }
                tw.pad(*size).map_err(io)?;
            }
        }
    }
    Ok(())
}
