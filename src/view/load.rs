//! Building an image's merged view from its layers, keeping the data of the files a job needs
//! in the spill store, and fetching data a first pass did not keep (the one way to do so: the
//! check's filesystem fetches through it too).

use super::merged::Key;
use super::spill::Spill;
use super::{MergedView, Node};
use crate::error::{Error, Result};
use crate::layer::entry::{DataAt, DataRef, Kind, Op};
use crate::model::image::{Image, Layer};
use crate::model::path;
use std::collections::{BTreeMap, HashMap};

/// Builds the merged view of `img`; regular files whose path is under one of `keep` have
/// their data put in `spill`.
pub fn merged_view(
    img: &Image,
    max: u64,
    keep: &[Vec<u8>],
    mut spill: Option<&mut Spill>,
) -> Result<MergedView> {
    let mut view = MergedView::new();
    for i in 0..img.layers.len() {
        // An uncompressed layer on disk: the walk below reads and verifies all of it, and its
        // files' data is then read where it lies (every file's, so nothing is fetched later).
        let in_place = match spill.as_deref_mut() {
            Some(sp) => crate::layer::seekable_tar(&img.layers[i])?.map(|r| sp.add_tar(r)),
            None => None,
        };
        let entries =
            crate::layer::collect_entries(&img.name, i, &img.layers[i], max, |e, mut le| {
                if let (
                    Some(sp),
                    Op::Put {
                        kind: Kind::File,
                        size,
                        data,
                        ..
                    },
                ) = (spill.as_deref_mut(), &mut le.op)
                {
                    if let Some(base) = in_place {
                        *data = Some(DataAt::new(base + e.raw_file_position()));
                    } else if keep
                        .iter()
                        // An empty selection is the root: every file is kept.
                        .any(|k| k.is_empty() || path::is_under(&le.path, k))
                    {
                        let d = sp.put(e, *size, &format!("{}: layer {i}", img.name))?;
                        *data = Some(DataAt::new(d.offset));
                    }
                }
                Ok(le)
            })?;
        view.apply_layer(i, entries)
            .map_err(|e| Error::context(&img.name, e))?;
    }
    Ok(view)
}

/// Fetches data the first pass did not keep (hardlink targets outside the selection, files
/// reached through symlinked parents) by streaming only the layers that hold it.
pub fn fill_missing(
    img: &Image,
    max: u64,
    view: &mut MergedView,
    sels: &[Vec<u8>],
    spill: &mut Spill,
) -> Result<()> {
    let need = missing_data(sels.iter().flat_map(|sel| view.subtree(sel)));
    for (layer, paths) in need {
        let what = format!("{}: layer {layer}", img.name);
        let got = spill_files(
            &img.name,
            layer,
            &img.layers[layer],
            max,
            &paths,
            spill,
            &what,
        )?;
        for sel in sels {
            let keys: Vec<Key> = view.subtree(sel).map(|(k, _)| k.clone()).collect();
            for k in keys {
                if let Some(n) = view.nodes.get_mut(&k) {
                    fill_node(&k, n, layer, &got);
                }
            }
        }
    }
    Ok(())
}

/// The regular files among `nodes` whose data is not kept: for each layer that holds some,
/// their paths as written in that layer.
pub(crate) fn missing_data<'a>(
    nodes: impl Iterator<Item = (&'a Key, &'a Node)>,
) -> BTreeMap<usize, Vec<Vec<u8>>> {
    let mut need: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
    for (k, n) in nodes {
        if n.kind == Kind::File && n.data().is_none() && n.size > 0 {
            let (layer, path) = n.origin(k);
            need.entry(layer).or_default().push(path.to_vec());
        }
    }
    need
}

/// Streams layer `index` of the image called `image` once and puts the data of its regular
/// files `paths` (as written in the layer) in `spill`; `what` names the layer in spill errors.
pub(crate) fn spill_files(
    image: &str,
    index: usize,
    layer: &Layer,
    max: u64,
    paths: &[Vec<u8>],
    spill: &mut Spill,
    what: &str,
) -> Result<HashMap<Vec<u8>, DataRef>> {
    let mut got: HashMap<Vec<u8>, DataRef> = HashMap::new();
    crate::layer::each_entry(image, index, layer, max, |e, le| {
        if let Op::Put {
            kind: Kind::File,
            size,
            ..
        } = &le.op
            && paths.iter().any(|p| p[..] == le.path[..])
        {
            got.insert(le.path.to_vec(), spill.put(e, *size, what)?);
        }
        Ok(())
    })?;
    Ok(got)
}

/// Points a node of layer `layer` whose data was missing at the data `spill_files` got.
pub(crate) fn fill_node(k: &Key, n: &mut Node, layer: usize, got: &HashMap<Vec<u8>, DataRef>) {
    if n.kind == Kind::File && n.data().is_none() {
        let (l, path) = n.origin(k);
        if l == layer {
            n.set_data(got.get(&path[..]).copied());
        }
    }
}
