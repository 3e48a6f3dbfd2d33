//! `rm`: one layer of whiteouts deleting paths from an image. Parent directories carry their
//! current attributes so that applying the layer changes nothing else.

use crate::codec::compress::Codec;
use crate::error::{Error, Result};
use crate::layer::entry::{Kind, WH_PREFIX, split_parent};
use crate::layer::tarw::OutKind;
use crate::model::image::{Image, Layer};
use crate::model::path::{self, clean_selection};
use crate::mutate::LayerDest;
use crate::view::MergedView;
use crate::view::load::merged_view;
use std::collections::BTreeMap;
use std::path::Path;

/// Builds the whiteout layer. Each path must exist; parents are resolved through symlinks.
pub fn whiteout_layer(
    img: &Image,
    paths: &[String],
    codec: Codec,
    dir: Option<&Path>,
    max: u64,
) -> Result<(Layer, Vec<String>)> {
    let view = merged_view(img, max, &[], None)?;
    let mut targets = Vec::new();
    for p in paths {
        let c = clean_selection(p)?;
        let r = view.resolve_parent(&c).map_err(|e| Error::context(p, e))?;
        super::must_exist(img, &view, &r, &crate::text::sanitize(p))?;
        targets.push(r);
    }
    targets.sort();
    targets.dedup();
    let deleted: Vec<String> = targets
        .iter()
        .map(|t| format!("/{}", String::from_utf8_lossy(t)))
        .collect();
    let layer = crate::mutate::new_layer(LayerDest::temp_file_or_discard(dir), codec, |tw| {
        write_whiteouts(tw, &view, &targets)
    })?;
    Ok((layer, deleted))
}

/// What the whiteout layer holds at a path.
enum Out {
    /// A parent directory, with its current attributes.
    Parent,
    /// The whiteout marker of a deleted path.
    Whiteout,
}

fn write_whiteouts<W: std::io::Write>(
    tw: &mut crate::layer::tarw::TarWriter<W>,
    view: &MergedView,
    targets: &[Vec<u8>],
) -> Result<()> {
    // Sort key: parents before their markers.
    let mut out: BTreeMap<Vec<u8>, (Vec<u8>, Out)> = BTreeMap::new();
    for t in targets {
        let (parent, name) = split_parent(t);
        for a in path::ancestors(t) {
            out.insert(a.clone(), (a, Out::Parent));
        }
        let key = path::join(parent, &[&[0u8][..], name].concat());
        let wh = path::join(parent, &[WH_PREFIX, name].concat());
        out.insert(key, (wh, Out::Whiteout));
    }
    // A whiteout inside a deleted directory is redundant (and Docker chokes on both in one layer).
    let keep = out.into_values().filter(|(p, _)| {
        !targets
            .iter()
            .any(|t| p.starts_with(t) && p.get(t.len()) == Some(&b'/'))
    });
    let io = |e: std::io::Error| Error::io_while("writing the whiteout layer", e);
    for (p, what) in keep {
        match what {
            Out::Whiteout => tw.append_marker(&p).map_err(io)?,
            Out::Parent => {
                let n = view.get(&p).filter(|n| n.kind == Kind::Dir);
                let meta = n
                    .map(|n| n.meta.clone())
                    .unwrap_or_else(|| super::default_dir_meta(0));
                tw.append_header(&p, &OutKind::Dir, &meta).map_err(io)?;
            }
        }
    }
    Ok(())
}
