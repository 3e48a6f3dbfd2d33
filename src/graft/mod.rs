//! The graft: a vendor's application moved onto a new base, as a written-out recipe over the
//! image model. Path mode builds the vendor's merged filesystem and writes the selected
//! subtrees as ONE new layer over the base's untouched layers; layer mode moves the vendor's
//! layers above its old base unchanged. Either way the config and manifest are new, every
//! digest recomputed, nothing about the inputs changed.

pub mod gate;

use crate::model::path::{ancestors, join};
pub use crate::oldbase::OldBaseSummary;
use crate::oldbase::{OldBase, find_split};
use crate::view::load::{fill_missing, merged_view};
use crate::view::spill::Spill;

use crate::codec::compress::{Codec, Compression, Encoder};
use crate::error::{Error, Result};
use crate::layer::entry::{self, DataRef, Kind, Meta, Op};
use crate::layer::layer_compression;
use crate::layer::tarw::{OutKind, TarWriter};
use crate::model::digest::{DiffId, Digest, HashingWriter, ParHashingWriter};
use crate::model::image::{BlobData, Checked, Image, Layer};
use crate::model::out::{OutBlob, OutImage};
use crate::model::reference::{ImageRef, familiar_name, normalize_name};
use crate::model::spec::{self, Descriptor, Platform};
use crate::mutate::config::{self, Overrides};
use crate::source::Source;
use crate::view;
use crate::view::MergedView;
use crate::view::fs::Fs;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Read, Write};
use std::sync::Arc;

/// Everything a graft needs, validated.
#[derive(Clone, Debug)]
pub struct GraftPlan {
    pub vendor: ImageRef,
    pub base: ImageRef,
    /// What the user said of the vendor's old base.
    pub old_base: OldBase,
    pub output: ImageRef,
    /// Cleaned, relative (`opt/vendor`), deduplicated; empty for layer mode.
    pub paths: Vec<Vec<u8>>,
    pub tag: Option<String>,
    pub compression: Option<Codec>,
    pub overrides: Overrides,
    pub platform: Option<Platform>,
    pub max_layer_size: u64,
    pub source_date_epoch: Option<i64>,
    /// `--exclude` patterns (both modes).
    pub exclude: crate::model::glob::Excludes,
}

#[derive(Serialize, Clone, Debug)]
pub struct ImageSummary {
    pub name: String,
    pub manifest_digest: String,
    pub layers: usize,
}

#[derive(Serialize, Clone, Debug)]
pub struct NewLayerSummary {
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub compression: String,
    pub entries: usize,
}

#[derive(Serialize, Clone, Debug)]
pub struct Summary {
    pub mode: String,
    pub vendor: ImageSummary,
    pub base: ImageSummary,
    pub old_base: OldBaseSummary,
    pub paths: Vec<String>,
    pub grafted_layers: Vec<String>,
    pub new_layer: Option<NewLayerSummary>,
    pub layers: usize,
    pub from_vendor: Vec<String>,
    pub tag: Option<String>,
    pub output: String,
    pub manifest_digest: String,
    pub config_digest: String,
    pub warnings: Vec<String>,
    /// Layers `--exclude` rewrote (layer mode): index, old and new digest, entries dropped.
    pub rewritten_layers: Vec<String>,
    pub dry_run: bool,
}

impl Summary {
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let z = crate::text::sanitize;
        let mut o = String::new();
        let verb = if self.dry_run {
            "would graft"
        } else {
            "grafted"
        };
        if self.mode == "path" {
            let _ = writeln!(
                o,
                "regraft: {verb} {} from {} onto {}",
                self.paths
                    .iter()
                    .map(|p| z(p))
                    .collect::<Vec<_>>()
                    .join(", "),
                z(&self.vendor.name),
                z(&self.base.name)
            );
        } else {
            let _ = writeln!(
                o,
                "regraft: {verb} {} application layer(s) of {} onto {}",
                self.grafted_layers.len(),
                z(&self.vendor.name),
                z(&self.base.name)
            );
        }
        let _ = writeln!(
            o,
            "  old base: {} layer(s) of the vendor ({}{})",
            self.old_base.layers,
            self.old_base.how,
            self.old_base
                .name
                .as_deref()
                .map(|n| format!(": {}", z(n)))
                .unwrap_or_default()
        );
        if let Some(l) = &self.new_layer {
            let _ = writeln!(
                o,
                "  new layer: {} ({} entries, {} bytes, {})",
                l.digest, l.entries, l.size, l.compression
            );
        }
        let _ = writeln!(
            o,
            "  layers: {} ({} from the base + {})",
            self.layers,
            self.base.layers,
            self.layers - self.base.layers
        );
        if !self.from_vendor.is_empty() {
            let _ = writeln!(
                o,
                "  from the vendor's config: {}",
                self.from_vendor
                    .iter()
                    .map(|p| z(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for r in &self.rewritten_layers {
            let _ = writeln!(o, "  --exclude: {}", z(r));
        }
        for w in &self.warnings {
            let _ = writeln!(o, "  warning: {}", z(w));
        }
        if self.dry_run {
            let _ = writeln!(
                o,
                "  dry run: nothing written (would write {})",
                z(&self.output)
            );
        } else {
            let _ = writeln!(
                o,
                "  wrote {}{}: manifest {}",
                z(&self.output),
                self.tag
                    .as_deref()
                    .map(|t| format!(" as {}", z(t)))
                    .unwrap_or_default(),
                self.manifest_digest
            );
        }
        o
    }
}

/// One entry of the new layer.
#[derive(Clone, Debug)]
enum NewEntry {
    Node {
        kind: Kind,
        meta: Meta,
        size: u64,
        data: Option<DataRef>,
        inode: u64,
    },
    Opaque,
    Whiteout,
}

/// The planned layer: sort key -> (tar path, entry).
type LayerPlan = BTreeMap<Vec<u8>, (Vec<u8>, NewEntry)>;

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

/// Plans the path-mode layer: (sort key -> (tar path, entry)).
fn plan_layer(
    vendor: &MergedView,
    base: &MergedView,
    sels: &[Vec<u8>],
    exclude: &crate::model::glob::Excludes,
) -> Result<LayerPlan> {
    let mut out: LayerPlan = BTreeMap::new();
    let node_entry = |n: &view::Node| NewEntry::Node {
        kind: n.kind.clone(),
        meta: n.meta.clone(),
        size: n.size,
        data: n.data,
        inode: n.inode,
    };
    for sel in sels {
        let shown = String::from_utf8_lossy(sel).to_string();
        // Where the selection really is in the vendor (a symlinked parent is followed).
        let src = vendor
            .resolve_parent(sel)
            .map_err(|e| Error::Invalid(format!("--path /{shown}: {e}")))?;
        let vnode = vendor.get(&src).ok_or_else(|| {
            Error::Invalid(format!(
                "--path /{}: not found in the vendor image",
                crate::text::sanitize(&shown)
            ))
        })?;
        // Where it goes in the base: parents resolved through the base's symlinks.
        let dst = base
            .resolve_parent(&src)
            .map_err(|e| Error::Invalid(format!("--path /{shown}: in the base: {e}")))?;
        let bnode = base.get(&dst);
        let (parent, name) = match dst.iter().rposition(|&b| b == b'/') {
            Some(i) => (dst[..i].to_vec(), dst[i + 1..].to_vec()),
            None => (vec![], dst.clone()),
        };
        match (vnode.kind == Kind::Dir, bnode.map(|b| b.kind == Kind::Dir)) {
            (true, Some(false)) => {
                return Err(Error::Invalid(format!(
                    "--path /{shown}: the vendor has a directory where the base has a {} (/{}); replacing it with a directory is refused",
                    bnode.map(|b| b.kind.name()).unwrap_or("file"),
                    String::from_utf8_lossy(&dst)
                )));
            }
            (true, Some(true)) => {
                out.insert(
                    marker_key(&dst, 0, entry::OPAQUE),
                    (join(&dst, entry::OPAQUE), NewEntry::Opaque),
                );
            }
            (false, Some(true)) => {
                let mut wh = entry::WH_PREFIX.to_vec();
                wh.extend_from_slice(&name);
                out.insert(
                    marker_key(&parent, 1, &name),
                    (join(&parent, &wh), NewEntry::Whiteout),
                );
            }
            _ => {}
        }
        // Parents: the base's attributes where it has them, else the vendor's.
        let src_anc = ancestors(&src);
        let dst_anc = ancestors(&dst);
        for (depth, a) in dst_anc.iter().enumerate() {
            if out.contains_key(a) {
                continue;
            }
            // A parent the base has as a file (or device): the vendor's directory would replace it.
            if let Some(b) = base.get(a).filter(|n| n.kind != Kind::Dir) {
                return Err(Error::Invalid(format!(
                    "--path /{shown}: the vendor has a directory where the base has a {} (/{}); replacing it with a directory is refused",
                    b.kind.name(),
                    String::from_utf8_lossy(a)
                )));
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
                    data: None,
                    inode: 0,
                },
            };
            out.insert(a.clone(), (a.clone(), e));
        }
        for (p, n) in vendor.subtree(&src) {
            if exclude.excludes(p) {
                continue;
            }
            let rel = &p[src.len()..];
            let d = if rel.is_empty() {
                dst.clone()
            } else {
                [dst.as_slice(), rel].concat()
            };
            out.insert(d.clone(), (d, node_entry(n)));
        }
    }
    Ok(out)
}

/// Writes the planned layer through diff_id hashing, the encoder and blob hashing into `w`.
fn write_layer<W: Write>(
    plan: &LayerPlan,
    spill: &Spill,
    codec: Codec,
    w: W,
) -> Result<(DiffId, Digest, u64, W)> {
    let io = |e: std::io::Error| Error::Invalid(format!("writing the new layer: {e}"));
    let blob = BlobSink::new(w, codec.compression != Compression::None);
    let enc = Encoder::new(codec, blob).map_err(io)?;
    let diff = ParHashingWriter::new(enc).map_err(io)?;
    let mut tw = TarWriter::new(BufWriter::with_capacity(256 * 1024, diff));
    // Hardlink groups inside the selection: the first member carries the data.
    let mut group_size: HashMap<u64, usize> = HashMap::new();
    for (_, e) in plan.values() {
        if let NewEntry::Node {
            kind: Kind::File,
            inode,
            ..
        } = e
        {
            *group_size.entry(*inode).or_default() += 1;
        }
    }
    let mut first: HashMap<u64, Vec<u8>> = HashMap::new();
    for (path, e) in plan.values() {
        match e {
            NewEntry::Opaque | NewEntry::Whiteout => tw.append_marker(path).map_err(io)?,
            NewEntry::Node {
                kind,
                meta,
                size,
                data,
                inode,
            } => {
                if *kind == Kind::File && group_size.get(inode).copied().unwrap_or(0) > 1 {
                    if let Some(target) = first.get(inode) {
                        tw.append_header(path, &OutKind::Hardlink(target), meta)
                            .map_err(io)?;
                        continue;
                    }
                    first.insert(*inode, path.clone());
                }
                tw.append_header(path, &OutKind::from_kind(kind, *size), meta)
                    .map_err(io)?;
                if *kind == Kind::File && *size > 0 {
                    let d = data.ok_or_else(|| {
                        Error::Invalid(format!(
                            "internal: no data kept for /{}",
                            String::from_utf8_lossy(path)
                        ))
                    })?;
                    spill.copy_to(d, tw.data())?;
                    tw.pad(*size).map_err(io)?;
                }
            }
        }
    }
    let buf = tw.finish().map_err(io)?;
    let diff = buf.into_inner().map_err(|e| io(e.into_error()))?;
    let (enc, diff_id, _) = diff.finish().map_err(io)?;
    let blob = enc.finish().map_err(io)?;
    let (w, digest, size) = blob.finish(&diff_id);
    Ok((DiffId(diff_id), digest, size, w))
}

/// Where the encoded layer goes: hashed, or, for an uncompressed layer (whose blob digest is
/// its diff_id, already hashed upstream), only counted, so the bytes are not hashed twice.
enum BlobSink<W> {
    Hashing(HashingWriter<W>),
    Counting(W, u64),
}

impl<W: Write> BlobSink<W> {
    fn new(w: W, hash: bool) -> Self {
        if hash {
            BlobSink::Hashing(HashingWriter::new(w))
        } else {
            BlobSink::Counting(w, 0)
        }
    }
    /// `diff_id`: the digest of the same bytes when they were not hashed here.
    fn finish(self, diff_id: &Digest) -> (W, Digest, u64) {
        match self {
            BlobSink::Hashing(h) => h.finish(),
            BlobSink::Counting(w, n) => (w, diff_id.clone(), n),
        }
    }
}

impl<W: Write> Write for BlobSink<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            BlobSink::Hashing(h) => h.write(buf),
            BlobSink::Counting(w, n) => {
                let k = w.write(buf)?;
                *n += k as u64;
                Ok(k)
            }
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            BlobSink::Hashing(h) => h.flush(),
            BlobSink::Counting(w, _) => w.flush(),
        }
    }
}

/// The result of planning a graft: the image to write and its summary.
pub struct Grafted {
    pub image: OutImage,
    pub summary: Summary,
    /// Path mode: the result's filesystem as the graft walked it (base + new layer), for the
    /// check.
    pub fs: Option<Fs>,
    /// The output archive, begun (path mode, archive outputs): finish it with
    /// `sink::finish`.
    pub session: Option<crate::sink::Session>,
}

/// Where temporary files for an output go: beside it (so that renames stay on one
/// filesystem), or the temp directory for stdout.
pub fn out_dir(r: &ImageRef) -> std::path::PathBuf {
    if r.path.as_os_str() == "-" {
        return std::env::temp_dir();
    }
    let p = match r.transport {
        crate::model::reference::Transport::Oci if r.path.is_dir() => r.path.clone(),
        _ => r.path.parent().map(|p| p.to_path_buf()).unwrap_or_default(),
    };
    if p.as_os_str().is_empty() {
        ".".into()
    } else {
        p
    }
}

/// Runs the graft up to the point of writing: everything is read and built; the new layer
/// (path mode) sits in a temporary file beside the output. `copied`: the result is written
/// next, a copy that verifies every byte, so the base's uncompressed layers on disk are walked
/// by their tar headers alone here (each byte is read once, by the copy); otherwise (a dry
/// run) they are streamed and verified here.
pub fn graft(plan: &GraftPlan, copied: bool) -> Result<Grafted> {
    let mut warnings = Vec::new();
    let vsrc = Source::open(&plan.vendor)?;
    let vendor = vsrc.image(plan.platform.as_ref())?;
    let platform = plan
        .platform
        .clone()
        .unwrap_or_else(|| vendor.view.platform.clone());
    let base = Source::open(&plan.base)?.image(Some(&platform))?;
    crate::progress::add_total(
        vendor
            .layers
            .iter()
            .chain(&base.layers)
            .map(|l| l.desc.size)
            .sum(),
    );
    for img in [&vendor, &base] {
        for w in &img.warnings {
            warnings.push(format!("{}: {w}", img.name));
        }
    }
    if !base.view.platform.matches(&vendor.view.platform) {
        return Err(Error::Invalid(format!(
            "platforms differ: the vendor {} is {}, the base {} is {}",
            vendor.name, vendor.view.platform, base.name, base.view.platform
        )));
    }
    let split = find_split(&plan.old_base, &vsrc, &vendor, &platform, &mut warnings)?;
    let created = match plan.source_date_epoch {
        Some(t) => Some(config::rfc3339(t)),
        None => config::later(
            base.config.get("created").and_then(Value::as_str),
            vendor.config.get("created").and_then(Value::as_str),
        ),
    };
    let vendor_ref = format!(
        "{}@{}",
        vendor
            .tags
            .first()
            .map(|t| familiar_name(t))
            .unwrap_or_else(|| "vendor".into()),
        vendor.manifest_digest
    );

    let mut layers: Vec<Layer> = base.layers.clone();
    let mut blobs_layers: Vec<OutBlob> = base
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| OutBlob::Layer {
            image: base.name.clone(),
            index: i,
            layer: l.clone(),
        })
        .collect();
    let mut history: Vec<Value> = base
        .config
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut new_layer = None;
    let mut fs = None;
    let mut session: Option<crate::sink::Session> = None;
    let mut grafted_layers = Vec::new();
    let mut rewritten_layers: Vec<String> = Vec::new();
    let mode;
    if plan.paths.is_empty() {
        mode = "layer";
        for (i, l) in vendor.layers.iter().enumerate().skip(split.layers) {
            let l = &match filter_layer(
                &vendor,
                i,
                l,
                &plan.exclude,
                &out_dir(&plan.output),
                plan.max_layer_size,
                false,
            )? {
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
            grafted_layers.push(l.desc.digest.to_string());
            layers.push(l.clone());
            blobs_layers.push(OutBlob::Layer {
                image: vendor.name.clone(),
                index: i,
                layer: l.clone(),
            });
        }
        if let Some(h) = vendor.config.get("history").and_then(Value::as_array) {
            history.extend(h.iter().skip(split.history).cloned());
        }
    } else {
        mode = "path";
        let dir = out_dir(&plan.output);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        // An archive output is built in place: the base's layers are copied into it (and
        // verified) on a second thread while the vendor is read, and the new layer is written
        // straight into it.
        session = if copied {
            crate::sink::begin(&plan.output)?
        } else {
            None
        };
        let opts = crate::sink::WriteOptions {
            max_layer_size: plan.max_layer_size,
        };
        let mut spill = Spill::new(&dir)?;
        // A compressed base layer is inflated once, by the check's walk, before it is copied:
        // the copy then checks only its raw digest. Uncompressed ones are walked by their
        // headers, beside the copy.
        let early = if base
            .layers
            .iter()
            .any(|l| l.desc.digest != *l.diff_id.digest())
        {
            Some(base_fs(plan, &base, copied)?)
        } else {
            None
        };
        let (vview, mut bfs) = std::thread::scope(|sc| -> Result<_> {
            let base = &base;
            let pre = session.as_mut().map(|s| {
                sc.spawn(move || -> Result<()> {
                    for (i, l) in base.layers.iter().enumerate() {
                        s.put(
                            &OutBlob::Layer {
                                image: base.name.clone(),
                                index: i,
                                layer: l.clone(),
                            },
                            opts,
                        )?;
                    }
                    Ok(())
                })
            });
            let r = vendor_view(plan, &vendor, &mut spill).and_then(|v| {
                let b = match early {
                    Some(b) => b,
                    None => base_fs(plan, base, copied)?,
                };
                Ok((v, b))
            });
            let p = match pre {
                Some(h) => h.join().unwrap_or_else(|_| {
                    Err(Error::Invalid(
                        "internal: the copying thread panicked".into(),
                    ))
                }),
                None => Ok(()),
            };
            let r = r?;
            p?;
            Ok(r)
        })?;
        let lplan = plan_layer(&vview, &bfs.result, &plan.paths, &plan.exclude)?;
        // The plan holds all the new layer needs: the vendor's view goes before the layer is
        // written (peak memory is one view of the selection and the plan).
        drop(vview);
        let codec = match plan.compression {
            Some(c) => c,
            None => match base.layers.last() {
                Some(l) => Codec::default_for(layer_compression(l)?),
                None => Codec::default_for(Compression::Gzip),
            },
        };
        let (diff_id, digest, size, data) = match session.as_mut() {
            Some(s) => {
                let (data, g, n, d) = s.put_new(|w| {
                    let (d, g, n, _) = write_layer(&lplan, &spill, codec, w)?;
                    Ok((g, n, d))
                })?;
                (d, g, n, data)
            }
            None => {
                let tmp = tempfile::Builder::new()
                    .prefix(".regraft-tmp-layer-")
                    .tempfile_in(&dir)
                    .map_err(|e| Error::io(&dir, e))?;
                let f = tmp
                    .as_file()
                    .try_clone()
                    .map_err(|e| Error::io(tmp.path(), e))?;
                let (d, g, n, mut w) =
                    write_layer(&lplan, &spill, codec, BufWriter::with_capacity(1 << 20, f))?;
                w.flush().map_err(|e| Error::io(tmp.path(), e))?;
                (d, g, n, BlobData::File(Arc::new(tmp.into_temp_path())))
            }
        };
        spill.check_unchanged()?;
        let desc = Descriptor::new(
            spec::oci_layer_type(codec.compression),
            digest.clone(),
            size,
        );
        let l = Layer {
            desc,
            diff_id: diff_id.clone(),
            data,
            history: None,
            // Hashed as it was written: copying it out needs only its raw digest checked.
            checked: Checked::done(),
        };
        new_layer = Some(NewLayerSummary {
            digest: digest.to_string(),
            diff_id: diff_id.to_string(),
            size,
            compression: codec.to_string(),
            entries: lplan.len(),
        });
        grafted_layers.push(digest.to_string());
        blobs_layers.push(OutBlob::Layer {
            image: "new layer".into(),
            index: layers.len(),
            layer: l.clone(),
        });
        // The plan is done with: free it before the check's view of the new layer is built.
        drop(lplan);
        drop(spill);
        bfs.add_layer(&l)?;
        fs = Some(bfs);
        layers.push(l);
        let shown: Vec<String> = plan
            .paths
            .iter()
            .map(|p| format!("/{}", String::from_utf8_lossy(p)))
            .collect();
        let mut h = serde_json::Map::new();
        if let Some(c) = &created {
            h.insert("created".into(), Value::String(c.clone()));
        }
        h.insert(
            "created_by".into(),
            Value::String(format!(
                "regraft --path {} from {}",
                shown.join(" --path "),
                vendor_ref
            )),
        );
        h.insert("comment".into(), Value::String("regraft path graft".into()));
        history.push(Value::Object(h));
    }

    // The config.
    let merged = config::merge(
        &base.config,
        &vendor.config,
        split.old_config.as_ref(),
        &plan.overrides,
    )?;
    let mut cfg = merged.config;
    let obj = cfg
        .as_object_mut()
        .ok_or_else(|| Error::Invalid("config is not an object".into()))?;
    match &created {
        Some(c) => {
            obj.insert("created".into(), Value::String(c.clone()));
        }
        None => {
            obj.remove("created");
        }
    }
    let mut rootfs = serde_json::Map::new();
    rootfs.insert("type".into(), Value::String("layers".into()));
    rootfs.insert(
        "diff_ids".into(),
        Value::Array(
            layers
                .iter()
                .map(|l| Value::String(l.diff_id.to_string()))
                .collect(),
        ),
    );
    obj.insert("rootfs".into(), Value::Object(rootfs));
    if history.is_empty() {
        obj.remove("history");
    } else {
        obj.insert("history".into(), Value::Array(history));
    }
    // The manifest.
    let mut annotations: BTreeMap<String, String> = vendor
        .manifest
        .annotations
        .iter()
        .filter(|(k, _)| !k.starts_with("org.opencontainers.image.base."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(t) = base.tags.first()
        && (t.contains(':') || t.contains('/'))
    {
        annotations.insert(
            "org.opencontainers.image.base.name".into(),
            normalize_name(t),
        );
    }
    annotations.insert(
        "org.opencontainers.image.base.digest".into(),
        base.index_digest
            .clone()
            .unwrap_or_else(|| base.manifest_digest.clone())
            .to_string(),
    );
    let tag = match (&plan.tag, plan.output.name()) {
        (Some(t), Some(o)) if t != o => {
            return Err(Error::Usage(format!(
                "--tag {t} and the output's name {o} disagree"
            )));
        }
        (Some(t), _) => Some(t.clone()),
        (None, Some(o)) => Some(o.to_string()),
        (None, None) => vendor.tags.first().map(|t| familiar_name(t)),
    };

    let image = crate::mutate::plan_image(
        &cfg,
        &layers,
        blobs_layers,
        annotations,
        base.view.platform.clone(),
        tag.clone(),
    )?;
    let (manifest_digest, config_digest) = (
        image.top.digest.to_string(),
        image
            .docker
            .as_ref()
            .map(|d| d.config.to_string())
            .unwrap_or_default(),
    );
    let summary = Summary {
        mode: mode.into(),
        vendor: ImageSummary {
            name: vendor.name.clone(),
            manifest_digest: vendor.manifest_digest.to_string(),
            layers: vendor.layers.len(),
        },
        base: ImageSummary {
            name: base.name.clone(),
            manifest_digest: base.manifest_digest.to_string(),
            layers: base.layers.len(),
        },
        old_base: split.summary,
        paths: plan
            .paths
            .iter()
            .map(|p| format!("/{}", String::from_utf8_lossy(p)))
            .collect(),
        grafted_layers,
        new_layer,
        layers: layers.len(),
        from_vendor: merged.from_vendor,
        tag,
        output: plan.output.to_string(),
        manifest_digest,
        config_digest,
        warnings,
        rewritten_layers,
        dry_run: !copied,
    };
    Ok(Grafted {
        image,
        summary,
        fs,
        session,
    })
}

/// Path mode's vendor: its merged view, the selections' data spilled or located in place.
fn vendor_view(plan: &GraftPlan, vendor: &Image, spill: &mut Spill) -> Result<MergedView> {
    let mut vview = merged_view(vendor, plan.max_layer_size, &plan.paths, Some(&mut *spill))?;
    let mut resolved = Vec::new();
    for p in &plan.paths {
        let shown = String::from_utf8_lossy(p).to_string();
        let r = vview
            .resolve_parent(p)
            .map_err(|e| Error::Invalid(format!("--path /{shown}: {e}")))?;
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
fn base_fs(plan: &GraftPlan, base: &Image, copied: bool) -> Result<Fs> {
    let mut bfs = Fs::new(
        &plan.output.to_string(),
        base.layers.len(),
        plan.max_layer_size,
        copied,
    )?;
    for l in &base.layers {
        bfs.add_layer(l)?;
    }
    Ok(bfs)
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
    dry_run: bool,
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
    let new = crate::mutate::new_layer((!dry_run).then_some(dir), codec, |tw| {
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
