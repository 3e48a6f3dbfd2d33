//! Layer mode: the vendor's application layers (above its old base) go onto the base as they
//! are, same bytes, same digests; their whiteouts then apply to the new base. With
//! `--exclude`, exactly the layers that lose entries are rewritten (same compression).

use super::{GraftPlan, Inputs, ModeResult, out_dir};
use crate::codec::compress::Codec;
use crate::error::{Error, Result};
use crate::layer::entry::{self, Kind, Op};
use crate::layer::layer_compression;
use crate::layer::tarw::OutKind;
use crate::model::image::{Image, Layer};
use crate::model::path::join;
use crate::mutate::{LayerDest, LayerFrom};
use serde_json::Value;
use std::io::Read;

/// Layer mode: the vendor's layers past the split, rewritten where `--exclude` drops
/// entries, then the vendor's history past the old base's.
pub(super) fn graft_layers(plan: &GraftPlan, inputs: &Inputs) -> Result<ModeResult> {
    let vendor = &inputs.vendor;
    // Even a dry run writes rewritten layers (to temporary files): the check reads them.
    let dir = out_dir(&plan.output);
    let mut rewritten_layers = Vec::new();
    let mut layers = Vec::new();
    for (i, l) in vendor.layers.iter().enumerate().skip(inputs.split.layers) {
        let l = match filter_layer(vendor, i, l, &plan.exclude, &dir, plan.max_layer_size)? {
            Some((new, dropped)) => {
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
    let history = match vendor.config.get("history").and_then(Value::as_array) {
        Some(h) => h.iter().skip(inputs.split.history).cloned().collect(),
        None => Vec::new(),
    };
    Ok(ModeResult {
        layers,
        history,
        rewritten_layers,
        ..Default::default()
    })
}

/// Rewrites a layer without the entries `--exclude` matches (a whiteout by the path it
/// deletes, a hardlink also when its target goes). None when nothing matches. The new layer
/// keeps the original's compression.
fn filter_layer(
    img: &Image,
    i: usize,
    l: &Layer,
    exclude: &crate::model::glob::Excludes,
    dir: &std::path::Path,
    max: u64,
) -> Result<Option<(Layer, usize)>> {
    if exclude.is_empty() {
        return Ok(None);
    }
    // A first pass over the headers: does anything match?
    let mut hits = 0usize;
    crate::layer::each_entry(&img.name, i, l, max, |_, le| {
        let hit = match &le.op {
            Op::Link { target, .. } => exclude.excludes(&le.path) || exclude.excludes(target),
            Op::Skip => false,
            _ => exclude.excludes(&le.path),
        };
        hits += usize::from(hit);
        Ok(())
    })?;
    if hits == 0 {
        return Ok(None);
    }
    let codec = Codec::default_for(layer_compression(l)?);
    let io = |e: std::io::Error| Error::Invalid(format!("rewriting layer {i}: {e}"));
    let new = crate::mutate::new_layer(LayerDest::TempFileIn(dir), codec, |tw| {
        let what = format!("{}: layer {i}", img.name);
        crate::layer::each_entry(&img.name, i, l, max, |e, le| {
            match &le.op {
                Op::Skip => {}
                Op::Link { target, meta } => {
                    if !exclude.excludes(&le.path) && !exclude.excludes(target) {
                        tw.append_header(&le.path, &OutKind::Hardlink(target), meta)
                            .map_err(io)?;
                    }
                }
                Op::Whiteout | Op::Opaque if exclude.excludes(&le.path) => {}
                Op::Whiteout => {
                    let (d, n) = match le.path.iter().rposition(|&b| b == b'/') {
                        Some(k) => (&le.path[..k], &le.path[k + 1..]),
                        None => (&le.path[..0], &le.path[..]),
                    };
                    let mut m = join(d, entry::WH_PREFIX);
                    m.extend_from_slice(n);
                    tw.append_marker(&m).map_err(io)?;
                }
                Op::Opaque => tw
                    .append_marker(&join(&le.path, entry::OPAQUE))
                    .map_err(io)?,
                Op::Put { .. } if exclude.excludes(&le.path) => {}
                Op::Put {
                    kind, meta, size, ..
                } => {
                    tw.append_header(&le.path, &OutKind::from_kind(kind, *size), meta)
                        .map_err(io)?;
                    if *kind == Kind::File && *size > 0 {
                        let n = std::io::copy(&mut e.take(*size), tw.data()).map_err(io)?;
                        if n != *size {
                            return Err(Error::layer(&what, "entry data truncated"));
                        }
                        tw.pad(*size).map_err(io)?;
                    }
                }
            }
            Ok(())
        })
    })?;
    Ok(Some((new, hits)))
}
