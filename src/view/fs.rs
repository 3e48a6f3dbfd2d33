//! The filesystem a check looks at: the merged view of a result's layers, the merged view of
//! the base part (the layers below the boundary), the raw entries of the application layers,
//! and the bytes of the files a check reads. Data is kept (in a temporary spill file) only for
//! files that matter: ELF files and scripts among the application's files, and the system
//! files (`/etc/passwd`, `/etc/ld.so.cache`, package databases, ...). Libraries that turn out to
//! be needed are fetched afterwards by streaming only the layers that hold them.

use super::spill::Spill;
use crate::error::{Error, Result};
use crate::layer::entry::{DataRef, Kind, Op};
use crate::model::image::Layer;
use crate::view;
use crate::view::MergedView;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;

/// What an application layer's entry does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppOp {
    Put(Kind),
    Link,
    Whiteout,
    Opaque,
}

/// One entry of an application layer, by its cleaned tar path.
#[derive(Clone, Debug)]
pub struct AppEntry {
    pub layer: usize,
    pub path: Vec<u8>,
    pub op: AppOp,
}

/// The layers to look at, and where the application starts.
pub struct FsInput<'a> {
    /// For messages.
    pub name: &'a str,
    pub layers: &'a [Layer],
    /// Layers at and above this index are the application's.
    pub boundary: usize,
    pub max_layer_size: u64,
    /// Every layer is copied whole to an output afterwards, a copy that verifies each byte
    /// before the output is published: uncompressed layers on disk are then walked by their
    /// headers alone and their files read where they lie, instead of streamed and verified.
    pub copied: bool,
}

/// Where a layer's file data is read from.
enum Src {
    /// Data kept in the store while the layer was streamed.
    Store,
    /// An uncompressed layer on disk: every file's data is read where it lies.
    Tar(crate::layer::TarRange),
}

pub struct Fs {
    pub result: MergedView,
    pub base: MergedView,
    pub app: Vec<AppEntry>,
    pub boundary: usize,
    store: Spill,
    srcs: Vec<Src>,
    name: String,
    layers: Vec<Layer>,
    max: u64,
    copied: bool,
}

/// System files whose bytes a check reads, by cleaned tar path.
pub fn is_system_file(p: &[u8]) -> bool {
    let s = String::from_utf8_lossy(p);
    matches!(
        s.as_ref(),
        "etc/ld.so.cache"
            | "etc/ld.so.conf"
            | "etc/passwd"
            | "etc/group"
            | "var/lib/dpkg/status"
            | "lib/apk/db/installed"
    ) || s.starts_with("etc/ld.so.conf.d/")
        || (s.starts_with("etc/ld-musl-") && s.ends_with(".path"))
        || s.starts_with("var/lib/dpkg/status.d/")
        || s.starts_with("var/lib/dpkg/info/")
}

/// A base file that may be a shared library (`lib*.so*`, `ld-*.so*`): streamed layers keep
/// these when they are ELF, so that the libraries a program needs are there without
/// streaming the layer a second time.
fn may_be_library(p: &[u8]) -> bool {
    let name = p.rsplit(|&b| b == b'/').next().unwrap_or(p);
    name.windows(3).any(|w| w == b".so")
}

impl Fs {
    /// An empty filesystem; `add_layer` adds the layers bottom up.
    pub fn new(name: &str, boundary: usize, max_layer_size: u64, copied: bool) -> Result<Fs> {
        Ok(Fs {
            result: MergedView::new(),
            base: MergedView::new(),
            app: Vec::new(),
            boundary,
            store: Spill::in_temp_dir()?,
            srcs: Vec::new(),
            name: name.to_string(),
            layers: Vec::new(),
            max: max_layer_size,
            copied,
        })
    }

    /// Reads every layer once, keeping the data of system files, of the application's ELF
    /// files and scripts, and of the base's libraries.
    pub fn build(input: &FsInput<'_>) -> Result<Fs> {
        let mut fs = Fs::new(
            input.name,
            input.boundary,
            input.max_layer_size,
            input.copied,
        )?;
        for l in input.layers {
            fs.add_layer(l)?;
        }
        Ok(fs)
    }

    /// Adds the next layer (the layers so far are below it).
    pub fn add_layer(&mut self, layer: &Layer) -> Result<()> {
        let i = self.layers.len();
        self.layers.push(layer.clone());
        let is_app = i >= self.boundary;
        let seekable = if self.copied {
            crate::layer::seekable_tar(layer)?
        } else {
            None
        };
        let (entries, src) = match seekable {
            Some(mut range) => {
                let what = format!("{}: layer {i} ({})", self.name, layer.desc.digest);
                let entries = crate::layer::walk_headers(&what, &mut range)?;
                (entries, Src::Tar(range))
            }
            None => {
                let store = &mut self.store;
                let name = self.name.clone();
                let entries = crate::layer::collect_entries(
                    &name,
                    i,
                    &self.layers[i],
                    self.max,
                    |e, mut le| {
                        if let Op::Put {
                            kind: Kind::File,
                            size,
                            data,
                            ..
                        } = &mut le.op
                            && *size > 0
                        {
                            if is_system_file(&le.path) {
                                *data = Some(store.put(e, *size, &name)?);
                            } else if is_app || may_be_library(&le.path) {
                                let mut head = [0u8; 4];
                                let want = (*size).min(4) as usize;
                                e.read_exact(&mut head[..want])
                                    .map_err(|x| Error::layer(&name, x.to_string()))?;
                                let head = &head[..want];
                                if crate::formats::elf::is_elf(head)
                                    || (is_app && head.starts_with(b"#!"))
                                {
                                    *data = Some(store.put_with_head(head, e, *size, &name)?);
                                }
                            }
                        }
                        Ok(le)
                    },
                )?;
                (entries, Src::Store)
            }
        };
        self.srcs.push(src);
        if is_app {
            for le in &entries {
                let op = match &le.op {
                    Op::Put { kind, .. } => AppOp::Put(kind.clone()),
                    Op::Link { .. } => AppOp::Link,
                    Op::Whiteout => AppOp::Whiteout,
                    Op::Opaque => AppOp::Opaque,
                    Op::Skip => continue,
                };
                self.app.push(AppEntry {
                    layer: i,
                    path: le.path.clone(),
                    op,
                });
            }
        } else {
            self.base
                .apply_layer(i, entries.clone())
                .map_err(|e| Error::layer(&self.name, e.to_string()))?;
        }
        self.result
            .apply_layer(i, entries)
            .map_err(|e| Error::layer(&self.name, e.to_string()))?;
        Ok(())
    }

    /// Keeps the data of these result paths (already resolved) where it is not kept yet.
    pub fn fetch(&mut self, paths: &[Vec<u8>]) -> Result<()> {
        let mut need: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
        for p in paths {
            if let Some(n) = self.result.get(p)
                && n.kind == Kind::File
                && n.data.is_none()
                && n.size > 0
            {
                need.entry(n.origin.0).or_default().push(n.origin.1.clone());
            }
        }
        for (layer, want) in need {
            let mut got: HashMap<Vec<u8>, DataRef> = HashMap::new();
            let store = &mut self.store;
            crate::layer::collect_entries(
                &self.name,
                layer,
                &self.layers[layer],
                self.max,
                |e, le| {
                    if let Op::Put {
                        kind: Kind::File,
                        size,
                        ..
                    } = &le.op
                        && want.contains(&le.path)
                    {
                        got.insert(le.path.clone(), store.put(e, *size, &self.name)?);
                    }
                    Ok(le)
                },
            )?;
            for view in [&mut self.result, &mut self.base] {
                for n in view.nodes.values_mut() {
                    if n.kind == Kind::File && n.data.is_none() && n.origin.0 == layer {
                        n.data = got.get(&n.origin.1).copied().or(n.data);
                    }
                }
            }
        }
        Ok(())
    }

    /// The bytes of a node of either view, if kept.
    pub fn data(&self, n: &view::Node) -> Result<Option<Vec<u8>>> {
        self.head(n, u64::MAX)
    }

    /// The first `k` bytes (at most) of a node's data, if kept.
    pub fn head(&self, n: &view::Node, k: u64) -> Result<Option<Vec<u8>>> {
        match (n.data, n.size) {
            (_, 0) if n.kind == Kind::File => Ok(Some(Vec::new())),
            (Some(d), _) => {
                let d = DataRef {
                    offset: d.offset,
                    len: d.len.min(k),
                };
                match self.srcs.get(n.origin.0) {
                    Some(Src::Tar(r)) => r.read_at(d.offset, d.len).map(Some),
                    _ => self.store.read(d).map(Some),
                }
            }
            (None, _) => Ok(None),
        }
    }

    /// The bytes of a result file reached by an absolute or relative path (symlinks followed).
    pub fn read_result(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match self.lookup(path) {
            Some((_, n)) if n.kind == Kind::File => self.data(n),
            _ => Ok(None),
        }
    }

    /// Resolves a path in the result (symlinks inside the root followed) to its node.
    pub fn lookup(&self, path: &str) -> Option<(Vec<u8>, &view::Node)> {
        lookup_in(&self.result, path)
    }
}

/// Resolves `path` in `view`, following symlinks inside the root.
pub fn lookup_in<'a>(view: &'a MergedView, path: &str) -> Option<(Vec<u8>, &'a view::Node)> {
    let p = path.trim_start_matches('/');
    if p.is_empty() {
        return None;
    }
    let r = view.resolve(p.as_bytes(), 0).ok()?;
    let n = view.get(&r)?;
    Some((r, n))
}
