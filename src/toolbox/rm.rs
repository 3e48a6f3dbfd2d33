//! `rm`: one layer of whiteouts deleting paths from an image. Parent directories carry their
//! current attributes so that applying the layer changes nothing else.

use crate::codec::compress::Codec;
use crate::error::{Error, Result};
use crate::layer::entry::Kind;
use crate::layer::tarw::OutKind;
use crate::model::image::{Image, Layer};
use crate::model::path::clean_selection;
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
        let r = view
            .resolve_parent(&c)
            .map_err(|e| Error::Invalid(format!("{p}: {e}")))?;
        if view.get(&r).is_none() {
            return Err(Error::Invalid(format!(
                "{}: {} does not exist",
                img.name,
                crate::text::sanitize(p)
            )));
        }
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

fn write_whiteouts<W: std::io::Write>(
    tw: &mut crate::layer::tarw::TarWriter<W>,
    view: &MergedView,
    targets: &[Vec<u8>],
) -> Result<()> {
    let io = |e: std::io::Error| Error::Invalid(format!("writing the whiteout layer: {e}"));
    // Sort key: parents before their markers.
    let mut out: BTreeMap<Vec<u8>, (Vec<u8>, bool)> = BTreeMap::new();
    for t in targets {
        let (parent, name) = match t.iter().rposition(|&b| b == b'/') {
            Some(i) => (t[..i].to_vec(), t[i + 1..].to_vec()),
            None => (vec![], t.clone()),
        };
        for (i, b) in t.iter().enumerate() {
            if *b == b'/' {
                let a = t[..i].to_vec();
                out.insert(a.clone(), (a, false));
            }
        }
        let mut key = parent.clone();
        if !key.is_empty() {
            key.push(b'/');
        }
        key.push(0);
        key.extend_from_slice(&name);
        let mut wh = parent.clone();
        if !wh.is_empty() {
            wh.push(b'/');
        }
        wh.extend_from_slice(b".wh.");
        wh.extend_from_slice(&name);
        out.insert(key, (wh, true));
    }
    // A whiteout inside a deleted directory is redundant (and Docker chokes on both in one layer).
    let keep: Vec<(Vec<u8>, bool)> = out
        .into_values()
        .filter(|(p, _)| {
            !targets
                .iter()
                .any(|t| p.starts_with(t) && p.get(t.len()) == Some(&b'/'))
        })
        .collect();
    for (p, marker) in keep {
        if marker {
            tw.append_marker(&p).map_err(io)?;
        } else {
            let n = view.get(&p).filter(|n| n.kind == Kind::Dir);
            let meta = n
                .map(|n| n.meta.clone())
                .unwrap_or_else(|| super::default_dir_meta(0));
            tw.append_header(&p, &OutKind::Dir, &meta).map_err(io)?;
        }
    }
    Ok(())
}
