//! Path mode: the selected subtrees of the vendor's merged view become one new layer over
//! the base. Each selection replaces what the base has there (an opaque marker over a base
//! directory, a whiteout where a file goes over one); parents the base has keep its
//! attributes; symlinked parents resolve in both images; replacing a base file or symlink
//! with a directory is refused. The layer is deterministic: entries in path order, markers
//! right after their directory, the first member of a hardlink group carries the data.

use super::{GraftPlan, Inputs, ModeResult, NewLayerSummary, WriteMode, out_dir};
use crate::error::{Error, Result};
use crate::layer::entry::{self, DataAt, Entries, Kind, LayerEntry, Meta, Op};
use crate::layer::tarw::{self, OutKind, TarWriter};
use crate::model::image::Image;
use crate::model::out::OutBlob;
use crate::model::path::{ancestors, join};
use crate::mutate::{HistoryKind, LayerDest, LayerFrom, whiteout_path};
use crate::view::fs::Fs;
use crate::view::load::{fill_missing, merged_view};
use crate::view::spill::Spill;
use crate::view::{self, MergedView};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

/// One entry of the new layer that is not a vendor node (a parent or a marker).
#[derive(Clone, Debug)]
enum NewEntry {
    Node {
        kind: Kind,
        meta: Meta,
        size: u64,
        inode: u32,
    },
    Opaque,
    Whiteout,
}

/// One selection: the vendor's subtree at `src` goes to `dst` in the layer.
struct Sel {
    src: Vec<u8>,
    dst: Vec<u8>,
    /// When its subtree was planned: a later plan of the same path wins.
    seq: usize,
}

/// The planned layer. The selections' nodes stay in the vendor's view and are merged in path
/// order as the layer is written, so the plan costs memory for its parents and markers only,
/// not per entry. `owned`: sort key -> (when planned, tar path, entry).
struct LayerPlan<'v> {
    vendor: &'v MergedView,
    exclude: &'v crate::model::glob::Excludes,
    sels: Vec<Sel>,
    owned: OwnedEntries,
}

/// The plan's own entries (parents and markers): sort key -> (when planned, tar path, entry).
type OwnedEntries = BTreeMap<Vec<u8>, (usize, Vec<u8>, NewEntry)>;

/// What the layer has at one path.
enum Planned {
    Vendor(view::Node),
    Owned(NewEntry),
}

impl<'v> LayerPlan<'v> {
    /// Plans `key` (a path or a marker's sort key) unless the plan has it.
    fn insert(&mut self, key: Vec<u8>, path: Vec<u8>, e: NewEntry) {
        let seq = self.sels.len() * 2 + 1;
        self.owned.insert(key, (seq, path, e));
    }

    /// Whether the plan has `p` (a path) yet.
    fn contains(&self, p: &[u8]) -> bool {
        self.owned.contains_key(p)
            || self.sels.iter().any(|s| {
                let rel = match p.strip_prefix(&s.dst[..]) {
                    Some(r) if r.is_empty() || s.dst.is_empty() || r[0] == b'/' => r,
                    _ => return false,
                };
                let src = [&s.src[..], rel].concat();
                self.vendor.get(&src).is_some() && !self.exclude.excludes(&src)
            })
    }

    /// What the plan made, without the vendor's view (`NewLayer::take`).
    fn into_parts(self) -> (Vec<Sel>, OwnedEntries) {
        (self.sels, self.owned)
    }
}

/// The planned layer, ready to write: each selection with its subtree, and the plan's own
/// parents and markers.
struct NewLayer<'v> {
    exclude: &'v crate::model::glob::Excludes,
    subs: Vec<(Sel, BTreeMap<crate::view::merged::Key, view::Node>)>,
    owned: OwnedEntries,
}

impl<'v> NewLayer<'v> {
    /// The planned layer (`LayerPlan::into_parts`), its selections' nodes moved out of the
    /// vendor's view: a selection that overlaps no other takes its subtree out (the layer is
    /// then written as the vendor's nodes are freed, and the check's view of it grows as they
    /// go); one that overlaps another gets a copy of its subtree.
    fn take(
        vendor: &mut MergedView,
        exclude: &'v crate::model::glob::Excludes,
        (sels, owned): (Vec<Sel>, OwnedEntries),
    ) -> NewLayer<'v> {
        let overlaps = |i: usize| {
            sels.iter().enumerate().any(|(j, o)| {
                j != i
                    && (crate::model::path::is_under(&sels[i].src, &o.src)
                        || crate::model::path::is_under(&o.src, &sels[i].src))
            })
        };
        let mut subs: Vec<Option<BTreeMap<crate::view::merged::Key, view::Node>>> =
            (0..sels.len()).map(|_| None).collect();
        for (i, s) in sels.iter().enumerate().filter(|(i, _)| overlaps(*i)) {
            subs[i] = Some(
                vendor
                    .subtree(&s.src)
                    .map(|(k, n)| (k.clone(), n.clone()))
                    .collect(),
            );
        }
        for (i, s) in sels.iter().enumerate() {
            if subs[i].is_none() {
                subs[i] = Some(vendor.take_subtree(&s.src));
            }
        }
        NewLayer {
            exclude,
            subs: sels.into_iter().zip(subs.into_iter().flatten()).collect(),
            owned,
        }
    }
}

impl<'v> NewLayer<'v> {
    /// The layer's whiteouts and opaque markers, as a reader of the layer gets them.
    fn markers(&self) -> Result<Entries> {
        let mut out = Entries::new();
        for (_, path, e) in self.owned.values() {
            if matches!(e, NewEntry::Opaque | NewEntry::Whiteout) {
                out.push(marker_entry(path)?);
            }
        }
        Ok(out)
    }

    /// The inodes of the regular files the layer may have: every one it has, and perhaps
    /// some that an exclusion or a later plan leaves out.
    fn file_inodes(&self) -> Vec<u32> {
        let vendor = self.subs.iter().flat_map(|(_, m)| m.values());
        let owned = self.owned.values().filter_map(|(_, _, e)| match e {
            NewEntry::Node {
                kind: Kind::File,
                inode,
                ..
            } => Some(*inode),
            _ => None,
        });
        vendor
            .filter(|n| n.kind == Kind::File)
            .map(|n| n.inode)
            .chain(owned)
            .collect()
    }

    /// The layer's entries in path order: (tar path, entry), each node freed once passed. A
    /// path planned twice is the later plan's.
    fn into_entries(self) -> impl Iterator<Item = (Vec<u8>, Planned)> + 'v {
        // One source per selection (its subtree, rebased) and one for the owned entries; at
        // each step the least key wins, the latest plan among equal keys. An item: (sort key,
        // when planned, the tar path where it is not the key (markers), entry).
        type Item = (Vec<u8>, usize, Option<Vec<u8>>, Planned);
        let exclude = self.exclude;
        let mut subs: Vec<Box<dyn Iterator<Item = Item> + 'v>> = Vec::new();
        for (s, m) in self.subs {
            subs.push(Box::new(
                m.into_iter()
                    .filter(move |(p, _)| !exclude.excludes(p))
                    .map(move |(p, n)| {
                        let d = [&s.dst[..], &p[s.src.len()..]].concat();
                        (d, s.seq, None, Planned::Vendor(n))
                    }),
            ));
        }
        subs.push(Box::new(self.owned.into_iter().map(|(k, (seq, p, e))| {
            let path = (p != k).then_some(p);
            (k, seq, path, Planned::Owned(e))
        })));
        let mut heads: Vec<Option<Item>> = subs.iter_mut().map(|i| i.next()).collect();
        std::iter::from_fn(move || {
            // The source at the least key gives it up; any other source at the same key too,
            // and the latest plan among them wins. Each source is sorted and has a key once.
            let m = (0..heads.len())
                .filter(|&i| heads[i].is_some())
                .min_by(|&a, &b| {
                    let key = |i: usize| heads[i].as_ref().map(|h| &h.0);
                    key(a).cmp(&key(b))
                })?;
            let (key, mut seq, mut path, mut entry) =
                std::mem::replace(&mut heads[m], subs[m].next())?;
            for i in 0..heads.len() {
                if heads[i].as_ref().is_some_and(|h| h.0 == key)
                    && let Some((_, s, p, e)) = std::mem::replace(&mut heads[i], subs[i].next())
                    && s > seq
                {
                    (seq, path, entry) = (s, p, e);
                }
            }
            Some((path.unwrap_or(key), entry))
        })
    }
}

/// A marker written at `path` as a reader of the layer gets it.
fn marker_entry(path: &[u8]) -> Result<LayerEntry> {
    match entry::classify(path.to_vec())? {
        (p, Some(op)) => Ok(LayerEntry { path: p.into(), op }),
        (_, None) => Err(Error::Invalid(format!(
            "internal: {} is no marker",
            String::from_utf8_lossy(path)
        ))),
    }
}

/// A sort key that puts markers right after their directory and before its other entries.
fn marker_key(dir: &[u8], tag: u8, name: &[u8]) -> Vec<u8> {
    let mut k = dir.to_vec();
    if !k.is_empty() {
        k.push(b'/');
    }
    k.push(0);
    k.push(tag);
    k.extend_from_slice(name);
    k
}

/// Plans the path-mode layer.
fn plan_layer<'v>(
    vendor: &'v MergedView,
    base: &MergedView,
    sels: &[Vec<u8>],
    exclude: &'v crate::model::glob::Excludes,
) -> Result<LayerPlan<'v>> {
    let mut out = LayerPlan {
        vendor,
        exclude,
        sels: Vec::new(),
        owned: BTreeMap::new(),
    };
    for sel in sels {
        let shown = String::from_utf8_lossy(sel).to_string();
        // Where the selection really is in the vendor (a symlinked parent is followed).
        let src = vendor
            .resolve_parent(sel)
            .map_err(|e| Error::context(format!("--path /{shown}"), e))?;
        let vnode = vendor.get(&src).ok_or_else(|| {
            Error::Invalid(format!(
                "--path /{}: not found in the vendor image",
                crate::text::sanitize(&shown)
            ))
        })?;
        // Where it goes in the base: parents resolved through the base's symlinks.
        let dst = base
            .resolve_parent(&src)
            .map_err(|e| Error::context(format!("--path /{shown}: in the base"), e))?;
        plan_marker(&mut out, &shown, vnode, base.get(&dst), &dst)?;
        plan_parents(&mut out, &shown, vendor, base, &src, &dst)?;
        let seq = out.sels.len() * 2 + 2;
        out.sels.push(Sel { src, dst, seq });
    }
    Ok(out)
}

fn node_entry(n: &view::Node) -> NewEntry {
    NewEntry::Node {
        kind: n.kind.clone(),
        meta: n.meta.clone(),
        size: n.size,
        inode: n.inode,
    }
}

fn refuse_dir_over(shown: &str, what: &str, at: &[u8]) -> Error {
    Error::Invalid(format!(
        "--path /{shown}: the vendor has a directory where the base has a {what} (/{}); replacing it with a directory is refused",
        String::from_utf8_lossy(at)
    ))
}

/// The marker that makes the selection replace what the base has at `dst`: an opaque marker
/// over a base directory, a whiteout where a file goes over a base directory.
fn plan_marker(
    out: &mut LayerPlan<'_>,
    shown: &str,
    vnode: &view::Node,
    bnode: Option<&view::Node>,
    dst: &[u8],
) -> Result<()> {
    let (parent, name) = match dst.iter().rposition(|&b| b == b'/') {
        Some(i) => (dst[..i].to_vec(), dst[i + 1..].to_vec()),
        None => (vec![], dst.to_vec()),
    };
    match (vnode.kind == Kind::Dir, bnode.map(|b| b.kind == Kind::Dir)) {
        (true, Some(false)) => {
            let what = bnode.map(|b| b.kind.name()).unwrap_or("file");
            return Err(refuse_dir_over(shown, what, dst));
        }
        (true, Some(true)) => {
            out.insert(
                marker_key(dst, 0, entry::OPAQUE),
                join(dst, entry::OPAQUE),
                NewEntry::Opaque,
            );
        }
        (false, Some(true)) => {
            out.insert(
                marker_key(&parent, 1, &name),
                whiteout_path(dst),
                NewEntry::Whiteout,
            );
        }
        _ => {}
    }
    Ok(())
}

/// The selection's parents: the base's attributes where it has them, else the vendor's.
fn plan_parents(
    out: &mut LayerPlan<'_>,
    shown: &str,
    vendor: &MergedView,
    base: &MergedView,
    src: &[u8],
    dst: &[u8],
) -> Result<()> {
    let src_anc = ancestors(src);
    let dst_anc = ancestors(dst);
    for (depth, a) in dst_anc.iter().enumerate() {
        if out.contains(a) {
            continue;
        }
        // A parent the base has as a file (or device): the vendor's directory would replace it.
        if let Some(b) = base.get(a).filter(|n| n.kind != Kind::Dir) {
            return Err(refuse_dir_over(shown, b.kind.name(), a));
        }
        let from_base = base.get(a).filter(|n| n.kind == Kind::Dir);
        let from_vendor = vendor.get(a).or_else(|| {
            // Same depth from the leaf in the vendor's own path.
            let k = src_anc.len().checked_sub(dst_anc.len() - depth)?;
            vendor.get(&src_anc[k])
        });
        let e = match (from_base, from_vendor) {
            (Some(b), _) => node_entry(b),
            (None, Some(v)) if v.kind == Kind::Dir => node_entry(v),
            _ => NewEntry::Node {
                kind: Kind::Dir,
                meta: Meta {
                    mode: 0o755,
                    ..Default::default()
                },
                size: 0,
                inode: 0,
            },
        };
        out.insert(a.clone(), a.clone(), e);
    }
    Ok(())
}

/// Writes the planned layer's entries; returns how many. Hardlink groups inside the
/// selection: the first member carries the data, the others link to it. Each entry written
/// goes to `emit` as a reader of the layer would get it, its data where `spill` has it (the
/// check's view of the layer is built from these, not by reading the layer back).
fn write_entries<W: Write>(
    tw: &mut TarWriter<W>,
    plan: NewLayer<'_>,
    spill: &Spill,
    max_layer_size: u64,
    emit: &mut dyn FnMut(LayerEntry) -> Result<()>,
) -> Result<usize> {
    let io = |e: std::io::Error| Error::io_while("writing the new layer", e);
    // What a reader of the layer holds it to: a name within the path limits (a selection
    // moved under a base symlink, or a marker, is longer than the vendor's name), and the
    // layer, with its 1024-byte end, within --max-layer-size: checked for each entry as its
    // header is written, its data counted before they are copied (`data`: padded bytes).
    let named = |path: &[u8]| -> Result<()> {
        entry::clean_path(path).map_err(|e| Error::context("the new layer", e))?;
        Ok(())
    };
    let within = |path: &[u8], tw: &TarWriter<W>, data: u64| -> Result<()> {
        if tw.written().saturating_add(data).saturating_add(1024) > max_layer_size {
            return Err(Error::Invalid(format!(
                "the new layer would be larger than --max-layer-size ({max_layer_size} bytes) with /{}",
                crate::text::sanitize_bytes(path)
            )));
        }
        Ok(())
    };
    let file_inode = |e: &Planned| match e {
        Planned::Vendor(n) if n.kind == Kind::File => Some(n.inode),
        Planned::Owned(NewEntry::Node {
            kind: Kind::File,
            inode,
            ..
        }) => Some(*inode),
        _ => None,
    };
    // The hardlink groups with more than one member in the layer (a vendor's hardlinks, or
    // one vendor file planned at two places), found by sorting the files' inodes: four bytes
    // an entry, where a table of them all would cost tens. A group counted larger than it is
    // written (a member excluded) costs nothing: its first member is written as a file.
    let mut inodes = plan.file_inodes();
    inodes.sort_unstable();
    let mut group_size: HashMap<u32, usize> = HashMap::new();
    for run in inodes.chunk_by(|a, b| a == b).filter(|r| r.len() > 1) {
        group_size.insert(run[0], run.len());
    }
    drop(inodes);
    let mut first: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut count = 0;
    for (path, e) in plan.into_entries() {
        count += 1;
        let (kind, meta, size, data) = match &e {
            Planned::Owned(NewEntry::Opaque | NewEntry::Whiteout) => {
                named(&path)?;
                tw.append_marker(&path).map_err(io)?;
                within(&path, tw, 0)?;
                emit(marker_entry(&path)?)?;
                continue;
            }
            // The plan's parents are directories (no data of the vendor's).
            Planned::Owned(NewEntry::Node {
                kind, meta, size, ..
            }) => (kind, meta, *size, None),
            Planned::Vendor(n) => (&n.kind, &n.meta, n.size, n.data()),
        };
        named(&path)?;
        if let Some(inode) = file_inode(&e).filter(|i| group_size.contains_key(i)) {
            if let Some(target) = first.get(&inode) {
                let out = OutKind::Hardlink(target);
                tw.append_header(&path, &out, meta).map_err(io)?;
                within(&path, tw, 0)?;
                emit(LayerEntry {
                    path: path.into(),
                    op: Op::Link {
                        target: target.clone(),
                        meta: tarw::as_read(&out, meta),
                    },
                })?;
                continue;
            }
            first.insert(inode, path.clone());
        }
        let out = OutKind::from_kind(kind, size);
        tw.append_header(&path, &out, meta).map_err(io)?;
        let is_file = *kind == Kind::File;
        within(
            &path,
            tw,
            if is_file { size.div_ceil(512) * 512 } else { 0 },
        )?;
        if is_file && size > 0 {
            let d = data.ok_or_else(|| {
                Error::Invalid(format!(
                    "internal: no data kept for /{}",
                    String::from_utf8_lossy(&path)
                ))
            })?;
            spill.copy_to(d, tw.data())?;
            tw.pad(size).map_err(io)?;
        }
        emit(LayerEntry {
            path: path.into(),
            op: Op::Put {
                kind: kind.clone(),
                meta: tarw::as_read(&out, meta),
                size: if is_file { size } else { 0 },
                data: data.filter(|_| is_file).map(|d| DataAt::new(d.offset)),
            },
        })?;
    }
    Ok(count)
}

/// Path mode's vendor: its merged view, the selections' data spilled or located in place.
fn vendor_view(plan: &GraftPlan, vendor: &Image, spill: &mut Spill) -> Result<MergedView> {
    let mut vview = merged_view(vendor, plan.max_layer_size, &plan.paths, Some(&mut *spill))?;
    let mut resolved = Vec::new();
    for p in &plan.paths {
        let shown = String::from_utf8_lossy(p).to_string();
        let r = vview
            .resolve_parent(p)
            .map_err(|e| Error::context(format!("--path /{shown}"), e))?;
        if vview.get(&r).is_none() {
            return Err(Error::Invalid(format!(
                "--path /{}: not found in the vendor image {}",
                crate::text::sanitize(&shown),
                vendor.name
            )));
        }
        resolved.push(r);
    }
    fill_missing(vendor, plan.max_layer_size, &mut vview, &resolved, spill)?;
    Ok(vview)
}

/// Path mode's base: the filesystem the check of the result goes on from (so the base is
/// walked once for both). Compressed layers are streamed and verified here, and the copy then
/// only checks their raw digest (`Layer::checked`).
fn base_fs(plan: &GraftPlan, base: &Image, write: WriteMode) -> Result<Fs> {
    let mut bfs = Fs::new(
        &plan.output.to_string(),
        base.layers.len(),
        plan.max_layer_size,
        write.into(),
    )?;
    // The check goes on from it: it records the new layer's entries by the base's packages.
    bfs.set_owned_paths(crate::check::pkgs::owned_paths);
    for l in &base.layers {
        bfs.add_layer(l)?;
    }
    Ok(bfs)
}

/// Path mode: the selected subtrees of the vendor's merged view, planned over the base's
/// view, written as one new layer on top of the base's layers.
pub(super) fn graft_paths(
    plan: &GraftPlan,
    inputs: &Inputs,
    write: WriteMode,
    begun: Option<Box<dyn crate::sink::Sink>>,
) -> Result<ModeResult> {
    let dir = out_dir(&plan.output);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    // An archive output is built in place: the base's layers are copied into it (and verified)
    // on a second thread while the vendor is read, and the new layer is written straight in.
    let opts = crate::sink::WriteOptions {
        max_layer_size: plan.max_layer_size,
    };
    let mut sink = match write {
        WriteMode::Write if begun.is_some() => begun,
        WriteMode::Write => crate::sink::begin(&plan.output, opts)?,
        WriteMode::DryRun => None,
    };
    let mut spill = Spill::new(&dir)?;
    let (mut vview, mut bfs) = read_inputs(plan, inputs, sink.as_mut(), &mut spill, write)?;
    // The plan keeps the selections' nodes in the vendor's view; the layer is written from
    // them, moved out of it and freed as they are written, while the check's view of the new
    // layer grows (peak memory: about the vendor's view and the base's).
    let lplan = plan_layer(&vview, &bfs.result, &plan.paths, &plan.exclude)?;
    let parts = lplan.into_parts();
    let layer = NewLayer::take(&mut vview, &plan.exclude, parts);
    let codec = match plan.compression {
        Some(c) => c,
        None => crate::mutate::default_codec(&inputs.base)?,
    };
    let dest = match sink.as_mut() {
        Some(s) => LayerDest::Sink(s.as_mut()),
        None => LayerDest::TempFileIn(&dir),
    };
    // The check's view of the new layer is built as it is written, from what is written:
    // its markers act first, its entries apply a chunk at a time.
    let mut planned = bfs.begin_planned(&layer.markers()?)?;
    let mut batch = Vec::new();
    let mut emit = |e: LayerEntry| -> Result<()> {
        batch.push(e);
        if batch.len() >= Entries::CHUNK {
            bfs.add_planned(&mut planned, std::mem::take(&mut batch))?;
        }
        Ok(())
    };
    let mut entries = 0;
    let l = crate::mutate::new_layer(dest, codec, |tw| {
        entries = write_entries(tw, layer, &spill, plan.max_layer_size, &mut emit)?;
        Ok(())
    })?;
    bfs.add_planned(&mut planned, batch)?;
    spill.check_unchanged()?;
    let new_layer = NewLayerSummary {
        digest: l.desc.digest.to_string(),
        diff_id: l.diff_id.to_string(),
        size: l.desc.size,
        compression: codec.to_string(),
        entries,
    };
    drop(vview);
    // The check reads the new layer's files where the graft found them (the vendor's layers
    // in place, or the spill file).
    bfs.end_planned(planned, &l, spill)?;
    Ok(ModeResult {
        layers: vec![LayerFrom {
            image: "new layer".into(),
            index: inputs.base.layers.len(),
            layer: l,
        }],
        history: vec![history_entry(plan, inputs)],
        new_layer: Some(new_layer),
        fs: Some(bfs),
        sink,
        rewritten_layers: Vec::new(),
    })
}

/// Reads the vendor's view and the base's filesystem; the base's layers go into the begun
/// output meanwhile, on a second thread.
///
/// Uncompressed base layers on disk are walked by their headers beside the copy, which reads
/// (and verifies) each byte once. A compressed base layer is inflated for the check's walk;
/// the output takes its raw bytes from that same read (`Sink::offer_tees`: an archive writes
/// them into the layer's place as they are read), so that the put which follows the walk
/// reads nothing again. Both run on the second thread, the walk first, while this one reads
/// the vendor. A sink that takes no tee (a layout links the input's blob; a registry mounts
/// or uploads it) puts each layer as before, after the walk has checked its diff_id.
fn read_inputs(
    plan: &GraftPlan,
    inputs: &Inputs,
    sink: Option<&mut Box<dyn crate::sink::Sink>>,
    spill: &mut Spill,
    write: WriteMode,
) -> Result<(MergedView, Fs)> {
    let base = &inputs.base;
    let compressed = base
        .layers
        .iter()
        .any(|l| l.desc.digest != *l.diff_id.digest());
    let blobs: Vec<OutBlob> = base
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| OutBlob::Layer {
            image: base.name.clone(),
            index: i,
            layer: l.clone(),
        })
        .collect();
    // Without an output to fill, a compressed base is walked (and verified) here.
    let early = if compressed && sink.is_none() {
        Some(base_fs(plan, base, write)?)
    } else {
        None
    };
    std::thread::scope(|sc| -> Result<_> {
        let pre = sink.map(|s| {
            let blobs = &blobs;
            sc.spawn(move || -> Result<Option<Fs>> {
                let bfs = if compressed {
                    s.offer_tees(blobs)?;
                    Some(base_fs(plan, base, write)?)
                } else {
                    None
                };
                for b in blobs {
                    s.put(b)?;
                }
                Ok(bfs)
            })
        });
        let teeing = compressed && pre.is_some();
        // An uncompressed base is walked by its headers here, beside the copy.
        let r = vendor_view(plan, &inputs.vendor, spill).and_then(|v| {
            let b = match early {
                Some(b) => Some(b),
                None if teeing => None,
                None => Some(base_fs(plan, base, write)?),
            };
            Ok((v, b))
        });
        let p = match pre {
            Some(h) => h.join().unwrap_or_else(|_| {
                Err(Error::Invalid(
                    "internal: the copying thread panicked".into(),
                ))
            }),
            None => Ok(None),
        };
        let (v, b) = r?;
        match (p?, b) {
            (Some(b), _) | (None, Some(b)) => Ok((v, b)),
            (None, None) => Err(Error::Invalid(
                "internal: the base's filesystem was not walked".into(),
            )),
        }
    })
}

/// The history entry of the new layer: the paths and the vendor by tag and digest, never a
/// host path.
fn history_entry(plan: &GraftPlan, inputs: &Inputs) -> Value {
    let shown: Vec<String> = plan
        .paths
        .iter()
        .map(|p| format!("/{}", String::from_utf8_lossy(p)))
        .collect();
    crate::mutate::history_entry(
        inputs.created.as_deref(),
        format!(
            "regraft --path {} from {}",
            shown.join(" --path "),
            inputs.vendor_ref()
        ),
        plan.history_comment
            .as_deref()
            .unwrap_or("regraft path graft"),
        HistoryKind::Layer,
    )
}

#[cfg(test)]
mod tests {
    use super::super::{GraftPlan, WriteMode, graft};
    use crate::layer::entry::{Kind, Op};
    use crate::model::reference::ImageRef;
    use crate::view::fs::{Fs, FsInput, Verify};

    fn plan(vendor: &str, paths: &[&str], exclude: &[&str], out: &std::path::Path) -> GraftPlan {
        let fixture = |f: &str| {
            ImageRef::parse_input(&format!("{}/fixtures/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap()
        };
        let exclude: Vec<String> = exclude.iter().map(|e| e.to_string()).collect();
        GraftPlan {
            vendor: fixture(vendor),
            base: fixture("base.tar"),
            old_base: Default::default(),
            output: ImageRef::parse_output(&format!("oci:{}", out.display())).unwrap(),
            paths: paths.iter().map(|p| p.as_bytes().to_vec()).collect(),
            tag: None,
            compression: None,
            overrides: Default::default(),
            platform: None,
            max_layer_size: u64::MAX,
            source_date_epoch: Some(0),
            exclude: crate::model::glob::Excludes::new(&exclude).unwrap(),
            accepts: Default::default(),
            docs: Default::default(),
            history_comment: None,
        }
    }

    /// The check's view of the new layer, built as the graft writes it, is the view a reader
    /// of the written layer builds: the same nodes (kinds, attributes, sizes, layers, origins,
    /// inodes, the same bytes where both keep them) and the same application entries, over
    /// the small vendor's hardlink, symlink, set-uid file, xattrs, whiteouts and opaque
    /// directory; selections under a base directory and over one (an opaque marker),
    /// overlapping ones (a copied subtree), an excluded hardlink target; from a docker-save
    /// (files read in place) and from an OCI archive of gzip layers (files spilled).
    #[test]
    fn the_planned_view_is_the_view_of_the_written_layer() {
        let tmp = tempfile::tempdir().unwrap();
        let cases: [(&[&str], &[&str]); 5] = [
            (&["opt/vendor"], &[]),
            (
                &["opt/vendor/share", "opt/vendor/bin/hello-link", "etc"],
                &[],
            ),
            (
                &["usr", "opt/vendor/bin/greet", "opt/vendor/etc/app.conf"],
                &[],
            ),
            (&["opt/vendor", "opt/vendor/share", "opt/vendor/bin"], &[]),
            (&["opt/vendor"], &["/opt/vendor/bin/hello"]),
        ];
        for vendor in ["vendor.tar", "vendor-oci.tar"] {
            for (sel, exclude) in cases {
                let p = plan(vendor, sel, exclude, &tmp.path().join("out"));
                let g = graft(&p, WriteMode::DryRun).unwrap();
                let planned = g.fs.expect("path mode builds the check's filesystem");
                let layers: Vec<_> = g
                    .image
                    .blobs
                    .iter()
                    .filter_map(|b| match b {
                        crate::model::out::OutBlob::Layer { layer, .. } => Some(layer.clone()),
                        _ => None,
                    })
                    .collect();
                let read = Fs::build(&FsInput {
                    name: "read",
                    layers: &layers,
                    boundary: planned.boundary,
                    max_layer_size: u64::MAX,
                    verify: Verify::Here,
                    owned: Some(crate::check::pkgs::owned_paths),
                })
                .unwrap();
                let keys = |fs: &Fs| -> Vec<Vec<u8>> {
                    fs.result.nodes.keys().map(|k| k.to_vec()).collect()
                };
                assert_eq!(keys(&planned), keys(&read), "{sel:?}");
                // Every regular file's bytes in the written layer, by path.
                let new_layer = layers.len() - 1;
                let mut written = std::collections::HashMap::new();
                crate::layer::each_entry("t", new_layer, &layers[new_layer], u64::MAX, |e, le| {
                    if let Op::Put {
                        kind: Kind::File, ..
                    } = le.op
                    {
                        let mut b = Vec::new();
                        std::io::Read::read_to_end(e, &mut b).unwrap();
                        written.insert(le.path.to_vec(), b);
                    }
                    Ok(())
                })
                .unwrap();
                let mut files = 0;
                for ((k, a), b) in planned.result.nodes.iter().zip(read.result.nodes.values()) {
                    let what = format!("{vendor} {sel:?} /{}", String::from_utf8_lossy(k));
                    assert_eq!(
                        (
                            &a.kind,
                            &a.meta,
                            a.size,
                            a.layer(),
                            a.implicit(),
                            &a.from,
                            a.inode
                        ),
                        (
                            &b.kind,
                            &b.meta,
                            b.size,
                            b.layer(),
                            b.implicit(),
                            &b.from,
                            b.inode
                        ),
                        "{what}"
                    );
                    if a.layer() == new_layer && a.kind == Kind::File {
                        // The planned view keeps every new file's bytes where the graft found
                        // them: those the layer has (under the name that carries them), in the
                        // vendor's layer in place (the store's input layers, from 2^62) or in
                        // its spill file (taken over: from 2^61).
                        let at = a.data().expect(&what).offset;
                        let region = if vendor == "vendor.tar" {
                            1u64 << 62..u64::MAX
                        } else {
                            1u64 << 61..1u64 << 62
                        };
                        assert!(region.contains(&at), "{what}: data at {at:#x}");
                        let mine = planned.data(a).unwrap().expect(&what);
                        let (_, origin) = a.origin(k);
                        assert_eq!(Some(&mine), written.get(&origin[..]), "{what}");
                        if let Some(theirs) = read.data(b).unwrap() {
                            assert_eq!(mine, theirs, "{what}");
                        }
                        files += 1;
                    }
                }
                assert!(files > 0, "{sel:?}: no file's bytes compared");
                if !exclude.is_empty() {
                    // The excluded target is not there; its hardlink carries the bytes.
                    assert!(planned.result.get(b"opt/vendor/bin/hello").is_none());
                    let link = planned.result.get(b"opt/vendor/bin/hello-link").unwrap();
                    assert_eq!(link.kind, Kind::File);
                    assert!(written.contains_key(&b"opt/vendor/bin/hello-link"[..]));
                }
                let app = |fs: &Fs| -> Vec<(Vec<u8>, u32, String)> {
                    fs.app
                        .iter()
                        .map(|e| (e.path.to_vec(), e.layer, format!("{:?}", e.op)))
                        .collect()
                };
                assert_eq!(app(&planned), app(&read), "{sel:?}");
            }
        }
    }

    /// The new layer is held to --max-layer-size as it is written (with its 1024-byte end):
    /// a limit of exactly its length passes, one byte less fails naming the limit and the
    /// entry that crossed it, before its data are copied.
    #[test]
    fn the_new_layer_is_held_to_the_max_layer_size() {
        use super::{NewLayer, Sel, write_entries};
        use crate::layer::entry::{DataAt, Meta};
        use crate::layer::tarw::TarWriter;
        use crate::view::merged::Key;
        use crate::view::spill::Spill;
        use std::collections::BTreeMap;
        let mut spill = Spill::in_temp_dir().unwrap();
        let big = vec![7u8; 1000];
        let d = spill.put(&mut &big[..], 1000, "t").unwrap();
        let exclude = crate::model::glob::Excludes::default();
        let layer = || {
            let mut m = BTreeMap::new();
            let node = |kind: Kind, size: u64, data: Option<DataAt>| {
                crate::view::Node::new(kind, Meta::default(), size, 0, data)
            };
            m.insert(Key::new(b"a"), node(Kind::Dir, 0, None));
            m.insert(
                Key::new(b"a/f"),
                node(Kind::File, 1000, Some(DataAt::new(d.offset))),
            );
            NewLayer {
                exclude: &exclude,
                subs: vec![(
                    Sel {
                        src: b"a".to_vec(),
                        dst: b"a".to_vec(),
                        seq: 2,
                    },
                    m,
                )],
                owned: BTreeMap::new(),
            }
        };
        let write = |max: u64| -> crate::error::Result<Vec<u8>> {
            let mut tw = TarWriter::new(Vec::new());
            write_entries(&mut tw, layer(), &spill, max, &mut |_| Ok(()))?;
            Ok(tw.finish().unwrap())
        };
        let len = write(u64::MAX).unwrap().len() as u64;
        // Two headers, the data padded to 1024, the end.
        assert_eq!(len, 512 * 2 + 1024 + 1024);
        assert_eq!(write(len).unwrap().len() as u64, len);
        let e = write(len - 1).unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "the new layer would be larger than --max-layer-size ({} bytes) with /a/f",
                len - 1
            )),
            "{e}"
        );
    }
}
