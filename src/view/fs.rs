//! The filesystem a check looks at: the merged view of a result's layers, the merged view of
//! the base part (the layers below the boundary), the raw entries of the application layers,
//! and the bytes of the files a check reads. Data is kept (in a temporary spill file) only for
//! files that matter: ELF files and scripts among the application's files, and the system
//! files (`/etc/passwd`, `/etc/ld.so.cache`, package databases, ...). Libraries that turn out to
//! be needed are fetched afterwards by streaming only the layers that hold them.

use super::load::{fill_node, missing_data, spill_files};
use super::merged::Key;
use super::spill::Spill;
use crate::error::{Error, Result};
use crate::layer::entry::{DataAt, DataRef, Entries, Kind, LayerEntry, Op, Shape};
use crate::layer::{TarRange, collect_entries, describe, seekable_tar, walk_headers};
use crate::model::image::Layer;
use crate::model::limits::{self, Limit, MAX_SYSTEM_FILE};
use crate::model::out::WriteMode;
use crate::view;
use crate::view::MergedView;
use std::io::Read;

/// What an application layer's entry does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppOp {
    Put(Shape),
    Link,
    Whiteout,
    Opaque,
}

/// One entry of an application layer, by its cleaned tar path: 24 bytes (one is kept for
/// every entry of the application's layers, or with `Fs::set_owned_paths` for every entry that
/// can touch the base).
#[derive(Clone, Debug)]
pub struct AppEntry {
    /// Shares its bytes with the view's keys.
    pub path: Key,
    pub layer: u32,
    pub op: AppOp,
}

/// Who verifies the bytes of an uncompressed layer that lies in a file on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// The walk here: every layer is streamed and verified (but one verified earlier in this
    /// run, in a file unchanged since: `Layer::checked`).
    Here,
    /// The copy to an output that follows, which verifies every byte before the output is
    /// published: such layers are walked by their headers alone and their files read where
    /// they lie, instead of streamed and verified.
    ByCopy,
}

impl From<WriteMode> for Verify {
    /// A graft that writes its result copies every layer afterwards; a dry run copies none.
    fn from(w: WriteMode) -> Verify {
        match w {
            WriteMode::Write => Verify::ByCopy,
            WriteMode::DryRun => Verify::Here,
        }
    }
}

/// The layers to look at, and where the application starts.
pub struct FsInput<'a> {
    /// For messages.
    pub name: &'a str,
    pub layers: &'a [Layer],
    /// Layers at and above this index are the application's.
    pub boundary: usize,
    pub max_layer_size: u64,
    pub verify: Verify,
    /// Reads the base's package database, for `Fs::set_owned_paths`.
    pub owned: Option<ReadBase>,
}

/// What the check reads of the base once its layers are in: its package database. The view
/// cannot read package databases itself; the check reads it here once, and takes it back
/// (`Fs::base_index`) instead of reading it again.
pub trait BaseIndex: std::any::Any + Send {
    /// Whether the base's package database lists `path` (resolved in the base's view).
    fn lists(&self, path: &[u8]) -> bool;
}

/// Reads a `BaseIndex` from a filesystem whose base layers are in.
pub type ReadBase = fn(&Fs) -> Result<Box<dyn BaseIndex>>;

/// Which part of the image a layer belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// The base, below the boundary.
    Base,
    /// The application, at and above the boundary.
    App,
}

pub struct Fs {
    pub result: MergedView,
    pub base: MergedView,
    pub app: Vec<AppEntry>,
    pub boundary: usize,
    /// Kept data: copied while a layer was streamed, or located in an uncompressed layer on
    /// disk that was walked by its headers.
    store: Spill,
    name: String,
    layers: Vec<Layer>,
    max: u64,
    verify: Verify,
    /// How to read the base's package database, and what was read (at the first application
    /// layer): the application entries recorded are those that can touch the base
    /// (`touches_base`).
    owned_by: Option<ReadBase>,
    owned: Option<Box<dyn BaseIndex>>,
}

/// Whether an application entry at `path` (as written) can touch the base: the check of it
/// looks at the base's node where it lands (`conflicts`) and at the package that lists that
/// path (`pkgs::shadowed`), or at the path as written where it does not resolve. `owned`:
/// the package-listed paths, when they were read (every entry is kept otherwise).
fn touches_base(base: &MergedView, owned: Option<&dyn BaseIndex>, path: &[u8]) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    match base.resolve_parent(path) {
        Ok(at) => base.get(&at).is_some() || owned.lists(&at),
        Err(_) => true,
    }
}

/// Records application entry `path` of layer `i` in `app` when it can touch the base
/// (`touches_base`).
fn record(
    app: &mut Vec<AppEntry>,
    base: &MergedView,
    owned: Option<&dyn BaseIndex>,
    i: usize,
    path: &Key,
    op: &Op,
) {
    let op = match op {
        Op::Put { .. } | Op::Link { .. } if !touches_base(base, owned, path) => return,
        Op::Put { kind, .. } => AppOp::Put(kind.shape()),
        Op::Link { .. } => AppOp::Link,
        Op::Whiteout => AppOp::Whiteout,
        Op::Opaque => AppOp::Opaque,
        Op::Skip => return,
    };
    app.push(AppEntry {
        layer: i as u32,
        path: path.clone(),
        op,
    });
}

/// A layer being added as its writer writes it (`Fs::begin_planned`).
pub struct Planned {
    apply: crate::view::merged::LayerApply,
    rebase: crate::view::spill::Rebase,
    index: usize,
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
            | "var/lib/rpm/rpmdb.sqlite"
            | "var/lib/rpm/rpmdb.sqlite-wal"
            | "var/lib/rpm/Packages.db"
            | "var/lib/rpm/Packages"
            | "usr/lib/sysimage/rpm/rpmdb.sqlite"
            | "usr/lib/sysimage/rpm/rpmdb.sqlite-wal"
            | "usr/lib/sysimage/rpm/Packages.db"
            | "usr/lib/sysimage/rpm/Packages"
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
    pub fn new(name: &str, boundary: usize, max_layer_size: u64, verify: Verify) -> Result<Fs> {
        Ok(Fs {
            result: MergedView::new(),
            base: MergedView::new(),
            app: Vec::new(),
            boundary,
            store: Spill::in_temp_dir()?,
            name: name.to_string(),
            layers: Vec::new(),
            max: max_layer_size,
            verify,
            owned_by: None,
            owned: None,
        })
    }

    /// Records only the application entries that can touch the base's files: those where the
    /// base has a node, or where its package database (read by `f` once the base layers are
    /// in) lists a file. The check of the entries (type conflicts, shadowed packages) looks at
    /// nothing else, and a million-entry application in a directory of its own then costs no
    /// record per entry. Without it every entry is recorded. Set before the first application
    /// layer is added.
    pub fn set_owned_paths(&mut self, f: ReadBase) {
        self.owned_by = Some(f);
    }

    /// What `set_owned_paths`'s reader read, once an application layer was added.
    pub fn base_index(&self) -> Option<&dyn BaseIndex> {
        self.owned.as_deref()
    }

    /// Reads every layer once, keeping the data of system files, of the application's ELF
    /// files and scripts, and of the base's libraries.
    pub fn build(input: &FsInput<'_>) -> Result<Fs> {
        let mut fs = Fs::new(
            input.name,
            input.boundary,
            input.max_layer_size,
            input.verify,
        )?;
        if let Some(f) = input.owned {
            fs.set_owned_paths(f);
        }
        for l in input.layers {
            fs.add_layer(l)?;
        }
        Ok(fs)
    }

    /// Adds the next layer (the layers so far are below it).
    pub fn add_layer(&mut self, layer: &Layer) -> Result<()> {
        let i = self.layers.len();
        self.layers.push(layer.clone());
        let part = if i >= self.boundary {
            Part::App
        } else {
            Part::Base
        };
        // A layer this run verified already, in a file unchanged since, is walked in place
        // too (the baseline of a path graft: the vendor's layers the graft streamed).
        let in_place = match self.verify {
            Verify::ByCopy => seekable_tar(layer)?,
            Verify::Here if layer.checked.is_done() => {
                seekable_tar(layer)?.filter(|r| layer.checked.file() == Some(r.stamp()))
            }
            Verify::Here => None,
        };
        let entries = match in_place {
            Some(range) => self.walk_in_place(i, range)?,
            None => self.stream_keeping(i, part)?,
        };
        let applied = match part {
            Part::App => {
                // The application's entries as they are in its layers (the check looks at what
                // each layer does, not only at the result), keyed as the view keys them.
                self.read_owned()?;
                let (app, base, owned) = (&mut self.app, &self.base, self.owned.as_deref());
                self.result
                    .apply_layer_with(i, entries, |path, op| record(app, base, owned, i, path, op))
            }
            Part::Base => {
                self.base
                    .apply_layer(i, entries.clone())
                    .map_err(|e| Error::context(&self.name, e))?;
                self.result.apply_layer(i, entries)
            }
        };
        applied.map_err(|e| Error::context(&self.name, e))
    }

    /// Reads the base's package database (`set_owned_paths`) once, before the first
    /// application layer.
    fn read_owned(&mut self) -> Result<()> {
        if let (Some(f), None) = (self.owned_by, &self.owned) {
            self.owned = Some(f(self)?);
        }
        Ok(())
    }

    /// Begins the next layer, an application layer whose entries its writer hands over as it
    /// writes them (`add_planned`, then `end_planned`), instead of reading back the layer it
    /// wrote: path mode's new layer. `markers`: every whiteout and opaque marker the layer
    /// has (they act first). The entries' data references are into `store` (given back at
    /// the end), as the writer located each file's bytes: the check reads them there.
    pub fn begin_planned(&mut self, markers: &Entries) -> Result<Planned> {
        let index = self.layers.len();
        if index < self.boundary {
            return Err(Error::Invalid(
                "internal: a planned layer below the application's boundary".into(),
            ));
        }
        self.read_owned()?;
        Ok(Planned {
            apply: self.result.begin_layer(index, markers),
            rebase: self.store.next_rebase(),
            index,
        })
    }

    /// The next entries of a planned layer, in the order the layer has them, each as a
    /// reader of the layer would get it (`layer::tarw::as_read`).
    pub fn add_planned(&mut self, p: &mut Planned, mut chunk: Vec<LayerEntry>) -> Result<()> {
        for e in &mut chunk {
            if let Op::Put { data: Some(d), .. } = &mut e.op {
                *d = p.rebase.at(*d);
            }
        }
        let i = p.index;
        let (app, base, owned) = (&mut self.app, &self.base, self.owned.as_deref());
        p.apply
            .apply(&mut self.result, chunk, &mut |path, op| {
                record(app, base, owned, i, path, op)
            })
            .map_err(|e| Error::context(&self.name, e))
    }

    /// Ends a planned layer: `layer` is the layer written, `store` the data its entries
    /// referred to, taken over here.
    pub fn end_planned(&mut self, p: Planned, layer: &Layer, store: Spill) -> Result<()> {
        if p.index != self.layers.len() {
            return Err(Error::Invalid(
                "internal: a layer was added while another was planned".into(),
            ));
        }
        self.store.absorb(store, p.rebase)?;
        self.layers.push(layer.clone());
        Ok(())
    }

    /// Fails if an input file whose data the check read where it lies changed since it was
    /// opened.
    pub fn check_unchanged(&self) -> Result<()> {
        self.store.check_unchanged()
    }

    /// Walks an uncompressed layer on disk by its headers; every file's data is then read
    /// where it lies.
    fn walk_in_place(&mut self, i: usize, mut range: TarRange) -> Result<Entries> {
        let what = describe(&self.name, i, &self.layers[i]);
        let mut entries = walk_headers(&what, &mut range)?;
        let base = self.store.add_tar(range);
        for le in entries.iter_mut() {
            if let Op::Put { data: Some(d), .. } = &mut le.op {
                *d = DataAt::new(d.offset() + base);
            }
        }
        Ok(entries)
    }

    /// Streams layer `i`, keeping the data of the files a check reads.
    fn stream_keeping(&mut self, i: usize, part: Part) -> Result<Entries> {
        let store = &mut self.store;
        let name = self.name.as_str();
        collect_entries(name, i, &self.layers[i], self.max, |e, mut le| {
            if let Op::Put {
                kind: Kind::File,
                size,
                data,
                ..
            } = &mut le.op
                && *size > 0
            {
                *data = keep(store, e, &le.path, *size, part, name)?.map(|d| DataAt::new(d.offset));
            }
            Ok(le)
        })
    }

    /// Keeps the data of these result paths (already resolved) where it is not kept yet.
    pub fn fetch(&mut self, paths: &[Vec<u8>]) -> Result<()> {
        let need = missing_data(
            paths
                .iter()
                .filter_map(|p| self.result.nodes.get_key_value(&p[..])),
        );
        for (layer, want) in need {
            let got = spill_files(
                &self.name,
                layer,
                &self.layers[layer],
                self.max,
                &want,
                &mut self.store,
                &self.name,
            )?;
            for view in [&mut self.result, &mut self.base] {
                for (k, n) in view.nodes.iter_mut() {
                    fill_node(k, n, layer, &got);
                }
            }
        }
        Ok(())
    }

    /// The bytes of a node of either view, if kept.
    pub fn data(&self, n: &view::Node) -> Result<Option<Vec<u8>>> {
        self.head(n, u64::MAX)
    }

    /// The bytes of a node of either view, if kept, when it has at most `limit` of them; a
    /// larger file (`path` names it) is an error that names the limit.
    pub fn data_within(
        &self,
        n: &view::Node,
        path: &[u8],
        limit: Limit,
    ) -> Result<Option<Vec<u8>>> {
        self.within(n, path, limit)?;
        self.data(n)
    }

    /// Fails when the node at `path` has more bytes than `limit`, naming both.
    pub fn within(&self, n: &view::Node, path: &[u8], limit: Limit) -> Result<()> {
        if n.size > limit.value {
            let what = format!("{}: /{}", self.name, limits::shown(path));
            return Err(limit.error(what, format!("{} bytes", n.size)));
        }
        Ok(())
    }

    /// Writes a node's bytes, if kept, to `w` as they are read (a file too large to hold is
    /// streamed this way); false when they are not kept.
    pub fn stream(&self, n: &view::Node, w: &mut impl std::io::Write) -> Result<bool> {
        match (n.data(), n.size) {
            (_, 0) if n.kind == Kind::File => Ok(true),
            (Some(d), _) => self.store.copy_to(d, w).map(|()| true),
            (None, _) => Ok(false),
        }
    }

    /// The first `k` bytes (at most) of a node's data, if kept.
    pub fn head(&self, n: &view::Node, k: u64) -> Result<Option<Vec<u8>>> {
        match (n.data(), n.size) {
            (_, 0) if n.kind == Kind::File => Ok(Some(Vec::new())),
            (Some(d), _) => self
                .store
                .read(DataRef {
                    offset: d.offset,
                    len: d.len.min(k),
                })
                .map(Some),
            (None, _) => Ok(None),
        }
    }

    /// At most `len` bytes of a node's data from `offset` (fewer at its end), if kept: a
    /// range of a large file (a jar's central directory) without reading the whole file.
    pub fn read_at(&self, n: &view::Node, offset: u64, len: u64) -> Result<Option<Vec<u8>>> {
        match n.data() {
            Some(d) if n.size > 0 => {
                let offset = offset.min(d.len);
                self.store
                    .read(DataRef {
                        offset: d.offset + offset,
                        len: len.min(d.len - offset),
                    })
                    .map(Some)
            }
            _ if n.kind == Kind::File && n.size == 0 => Ok(Some(Vec::new())),
            _ => Ok(None),
        }
    }

    /// The bytes of a result system file reached by an absolute or relative path (symlinks
    /// followed), at most `MAX_SYSTEM_FILE` of them (a larger one is an error).
    pub fn read_result(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match self.lookup(path) {
            Some((r, n)) if n.kind == Kind::File => self.data_within(n, &r, MAX_SYSTEM_FILE),
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
    if path.len() > limits::PATH_MAX.get() {
        return None;
    }
    let p = path.trim_start_matches('/');
    if p.is_empty() {
        return None;
    }
    let r = view.resolve(p.as_bytes()).ok()?;
    let n = view.get(&r)?;
    Some((r, n))
}

/// Keeps a streamed file's data in `store` when a check reads it: system files always; ELF
/// files of the application and the base's libraries; the application's scripts,
/// `pyvenv.cfg`, `release` and `.class` files. `what`
/// names the image in errors.
fn keep(
    store: &mut Spill,
    e: &mut impl Read,
    path: &[u8],
    size: u64,
    part: Part,
    what: &str,
) -> Result<Option<DataRef>> {
    if is_system_file(path) {
        return store.put(e, size, what).map(Some);
    }
    let is_app = part == Part::App;
    // The runtime checks read these (a JVM's `release` file is small; class files are read
    // for their 8-byte header, jars for their directory and their classes' headers; kept whole:
    // the spill store bounds memory).
    let runtime = [
        &b"pyvenv.cfg"[..],
        b"/release",
        b".class",
        b".jar",
        b".war",
        b".ear",
    ];
    if is_app && (runtime.iter().any(|s| path.ends_with(s)) || path == b"release") {
        return store.put(e, size, what).map(Some);
    }
    if !is_app && !may_be_library(path) {
        return Ok(None);
    }
    let mut head = [0u8; 4];
    let want = size.min(4) as usize;
    e.read_exact(&mut head[..want])
        .map_err(|x| Error::layer_io(what, x))?;
    let head = &head[..want];
    if crate::formats::elf::is_elf(head) || (is_app && head.starts_with(b"#!")) {
        return store.put_with_head(head, e, size, what).map(Some);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::range::tests::{file_layer, tar_of};
    use crate::model::digest::{DiffId, Digest};

    /// A layer that verifying would refuse (its digest names other bytes), in a file on disk.
    fn misnamed_layer() -> (Layer, std::path::PathBuf) {
        let bytes = tar_of(&[("etc/passwd", b"root:".to_vec())]);
        let (mut layer, path) = file_layer(&bytes);
        let d = Digest::of(b"other bytes");
        layer.desc.digest = d.clone();
        layer.diff_id = DiffId(d);
        (layer, path)
    }

    fn build(layer: &Layer) -> Result<Fs> {
        Fs::build(&FsInput {
            name: "t",
            layers: std::slice::from_ref(layer),
            boundary: 1,
            max_layer_size: u64::MAX,
            verify: Verify::Here,
            owned: None,
        })
    }

    /// A walk that verifies walks a layer this run verified, in a file unchanged since, by its
    /// headers and reads its files in place; not one whose file changed, nor one verified
    /// without a file's stamp.
    #[test]
    fn a_layer_verified_in_this_run_is_walked_in_place_while_its_file_is_unchanged() {
        let (layer, path) = misnamed_layer();
        // Not verified yet: streamed, and its digest refused.
        let e = build(&layer)
            .err()
            .expect("a misnamed layer is refused")
            .to_string();
        assert!(e.contains("digest"), "{e}");
        // Verified (as a stream that read it whole would record it): walked in place.
        let stamp = crate::store::stamp::FileStamp::of_path(&path).unwrap();
        layer.checked.mark_file(stamp);
        let fs = build(&layer).unwrap();
        let n = fs.result.get(b"etc/passwd").unwrap();
        assert_eq!(fs.data(n).unwrap().unwrap(), b"root:");
        fs.check_unchanged().unwrap();
        // The file changes (its ctime moves): streamed again, and refused.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        assert!(fs.check_unchanged().is_err());
        assert!(build(&layer).is_err());
        // Verified with no stamp (bytes that lay in no file): streamed.
        let (layer, _path) = misnamed_layer();
        layer.checked.mark();
        assert!(build(&layer).is_err());
    }
}
