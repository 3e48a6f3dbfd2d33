//! `flatten`: an image's layers (all, or layers N and up so the base stays shared) squashed
//! into one, as `docker build --squash` does. The new layer is the merged filesystem of the
//! squashed layers over what lies below them: whiteouts and opaque directories applied, every
//! entry that layers N and up put or changed written once with its final attributes, and a
//! whiteout for each path below N they deleted. Entries go in path order with fixed headers,
//! so the same image flattens to the same bytes.

use crate::codec::compress::Codec;
use crate::error::{Error, Result};
use crate::layer::entry::{Kind, split_parent};
use crate::layer::tarw::OutKind;
use crate::model::image::{Image, Layer};
use crate::model::path;
use crate::mutate::{LayerDest, whiteout_path};
use crate::view::MergedView;
use crate::view::load::merged_view;
use crate::view::spill::Spill;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Checks `from` against the image's layers: it must leave at least one layer to squash.
pub fn check_from(img: &Image, from: usize) -> Result<()> {
    let n = img.layers.len();
    if from >= n {
        return Err(Error::Usage(format!(
            "--from-layer {from}: {} has {n} layers (0 to {}); nothing to flatten from there",
            img.name,
            n.saturating_sub(1)
        )));
    }
    Ok(())
}

/// The one layer that stands for layers `from` and up of `img`, written to a temporary file in
/// `dir`.
pub fn flatten_layer(
    img: &Image,
    from: usize,
    codec: Codec,
    dir: &Path,
    max: u64,
) -> Result<Layer> {
    check_from(img, from)?;
    let mut spill = Spill::new(dir)?;
    let full = merged_view(img, max, &[Vec::new()], Some(&mut spill))?;
    let lower = if from == 0 {
        MergedView::new()
    } else {
        let mut below = img.clone();
        below.layers.truncate(from);
        merged_view(&below, max, &[], None)?
    };
    let (emit, whiteouts) = plan(&full, &lower, from);
    let layer = crate::mutate::new_layer(LayerDest::TempFileIn(dir), codec, |tw| {
        write(tw, &full, &emit, &whiteouts, &spill)
    })?;
    spill.check_unchanged()?;
    Ok(layer)
}

/// What the flat layer holds: the paths to write (what layers `from` and up touched, with
/// their parent directories) and the whiteouts (each path below `from` they deleted, topmost
/// only, where its parent is still a directory).
fn plan(full: &MergedView, lower: &MergedView, from: usize) -> (BTreeSet<Vec<u8>>, Vec<Vec<u8>>) {
    let mut emit = BTreeSet::new();
    for (k, n) in full.subtree(&[]) {
        if k.is_empty() || n.layer() < from {
            continue;
        }
        for a in path::ancestors(k) {
            if !a.is_empty() {
                emit.insert(a);
            }
        }
        emit.insert(k.to_vec());
    }
    let mut whiteouts = Vec::new();
    for k in lower.nodes.keys() {
        if k.is_empty() || full.get(k).is_some() {
            continue;
        }
        let (parent, _) = split_parent(k);
        let parent_is_dir =
            parent.is_empty() || full.get(parent).is_some_and(|p| p.kind == Kind::Dir);
        if parent_is_dir {
            for a in path::ancestors(k) {
                if !a.is_empty() {
                    emit.insert(a);
                }
            }
            whiteouts.push(k.to_vec());
        }
    }
    (emit, whiteouts)
}

fn write<W: std::io::Write>(
    tw: &mut crate::layer::tarw::TarWriter<W>,
    full: &MergedView,
    emit: &BTreeSet<Vec<u8>>,
    whiteouts: &[Vec<u8>],
    spill: &Spill,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io_while("writing the flattened layer", e);
    // The first path written of each hardlink group; the others link to it.
    let mut first: HashMap<u32, Vec<u8>> = HashMap::new();
    for (k, n) in full.subtree(&[]) {
        if !emit.contains(k.as_ref() as &[u8]) {
            continue;
        }
        let name: &[u8] = k.as_ref();
        if n.kind == Kind::File {
            if let Some(t) = first.get(&n.inode) {
                tw.append_header(name, &OutKind::Hardlink(t), &n.meta)
                    .map_err(io)?;
                continue;
            }
            first.insert(n.inode, name.to_vec());
        }
        tw.append_header(name, &OutKind::from_kind(&n.kind, n.size), &n.meta)
            .map_err(io)?;
        if n.kind == Kind::File && n.size > 0 {
            let d = n.data().ok_or_else(|| {
                Error::Invalid(format!(
                    "internal: no data kept for {}",
                    String::from_utf8_lossy(name)
                ))
            })?;
            spill.copy_to(d, tw.data())?;
            tw.pad(n.size).map_err(io)?;
        }
    }
    for w in whiteouts {
        tw.append_marker(&whiteout_path(w)).map_err(io)?;
    }
    Ok(())
}

/// The history of a flattened image, as `docker build --squash` leaves it: the entries of the
/// squashed layers kept, marked `empty_layer`; the caller appends the one entry of the new
/// layer.
pub fn squash_history(config: &mut Value, img: &Image, from: usize) {
    let squashed: BTreeSet<usize> = img.layers[from..]
        .iter()
        .filter_map(|l| l.history)
        .collect();
    if let Some(h) = config.get_mut("history").and_then(Value::as_array_mut) {
        for i in squashed {
            if let Some(e) = h.get_mut(i).and_then(Value::as_object_mut) {
                e.insert("empty_layer".into(), Value::Bool(true));
            }
        }
    }
}
