//! Applying one layer's entries to the merged view, by the image-spec rules:
//! 1. Names are cleaned (`./`, `//`, `.` and a leading `/` dropped); a `..` component, an empty
//!    name or a NUL is an error; the root itself is skipped (`layer::entry` does this).
//! 2. Opaque markers (`D/.wh..wh..opq`) act first: they hide every lower child of `D`, whatever
//!    their position in the layer. Other `.wh..wh.*` meta entries are skipped.
//! 3. Whiteouts (`D/.wh.X`) act next and only on lower layers: `D/X` and its subtree go.
//!    A whiteout whose parent is not a directory below (umoci writes `f/.wh.x` right after
//!    turning directory `f` into a file) simply finds nothing to delete.
//! 4. Entries are then added in tar order. A directory over a directory merges attributes and
//!    keeps the children; anything else replaces what was there, subtree included. Missing
//!    parents are created as implicit directories; a parent that is a symlink resolving inside
//!    the root is followed (as extraction would), one that is a file is an error.
//! 5. A hardlink takes the content of its target as the view holds it at that moment (lower
//!    layer or earlier in this layer), so a target replaced later keeps the old content in the
//!    link; a link to nothing, to a directory or to a later entry is an error.
//!
//! The last parent resolved is reused by the next entry with the same parent (`Memo`): a
//! lookup may walk up to `MAX_LOOKUP_STEPS` components, and a tar lists a directory's entries
//! together.

use super::{Key, MergedView, Node};
use crate::error::{Error, Result};
use crate::layer::entry::{DataAt, Entries, Kind, LayerEntry, Meta, Op};

/// The view's size from which `apply_layer` compacts its tree (tiny in tests, so that every
/// test of the view, the property tests among them, runs through compactions).
#[cfg(not(test))]
const COMPACT_MIN: usize = 1 << 14;
#[cfg(test)]
const COMPACT_MIN: usize = 2;

/// The last parent directory `put` resolved in this layer. Resolution reads only the kinds of
/// the nodes it walks through and the targets of symlinks, so it stays valid while only
/// directories are added (over nothing or a directory: a walk treats a missing component and
/// a directory alike) and files at paths that were empty and are not at or above the resolved
/// path, and while no missing path the walk climbed out of (`x` in `x/..`) is created.
/// Anything else forgets it: a symlink, a replacement, a hardlink, an opaque marker; and a new
/// layer (whiteouts and opaque markers act first).
#[derive(Default)]
struct Memo(Option<Resolved>);

struct Resolved {
    /// The parent as written.
    raw: Vec<u8>,
    resolved: Vec<u8>,
    /// The missing paths the walk climbed out of, sorted.
    watched: Vec<Vec<u8>>,
}

impl Memo {
    /// The parent of `path` resolved, reusing the last one when it has the same.
    fn resolve_parent(&mut self, view: &MergedView, path: &[u8]) -> Result<Vec<u8>> {
        view.resolve_parent_with(path, |dir| match &self.0 {
            Some(r) if r.raw == dir => Ok(r.resolved.clone()),
            _ => {
                let (resolved, watched) = view.resolve_watched(dir)?;
                self.0 = Some(Resolved {
                    raw: dir.to_vec(),
                    resolved: resolved.clone(),
                    watched,
                });
                Ok(resolved)
            }
        })
    }

    /// Before `put` of a `kind` at `p` over a node that was a directory (`Some(true)`),
    /// something else (`Some(false)`) or nothing, which creates `new` (`p` or its outermost
    /// missing parent) when `p` was nothing.
    fn put(&mut self, p: &[u8], new: &[u8], was_dir: Option<bool>, kind: &Kind) {
        let Some(r) = &self.0 else {
            return;
        };
        let at_or_above = |q: &[u8]| {
            let x = &r.resolved;
            x.starts_with(q) && (x.len() == q.len() || x[q.len()] == b'/')
        };
        let keep = match (was_dir, kind) {
            (_, Kind::Symlink(_)) => false,
            (Some(true), Kind::Dir) => true,
            (Some(_), _) => false,
            (None, Kind::Dir) => r.watched.binary_search_by(|w| w[..].cmp(new)).is_err(),
            (None, _) => !at_or_above(p) && r.watched.binary_search_by(|w| w[..].cmp(new)).is_err(),
        };
        if !keep {
            self.0 = None;
        }
    }
}

/// What a `Put` entry adds.
struct Put {
    kind: Kind,
    meta: Meta,
    size: u64,
    data: Option<DataAt>,
}

/// A layer being applied in parts (`MergedView::begin_layer`).
pub struct LayerApply {
    layer: usize,
    memo: Memo,
    /// The view's size when its tree was last rebuilt.
    compacted: usize,
}

impl LayerApply {
    /// Applies the next entries of the layer, in tar order, calling `note` as
    /// `apply_layer_with` does.
    pub fn apply(
        &mut self,
        view: &mut MergedView,
        chunk: Vec<LayerEntry>,
        note: &mut impl FnMut(&Key, &Op),
    ) -> Result<()> {
        let layer = self.layer;
        // The chunk's paths in one buffer: a node whose path is its name as written keeps a
        // key into it.
        let keys = Key::many(chunk.iter().map(|e| &e.path[..]));
        for (LayerEntry { path: _, op }, path) in chunk.into_iter().zip(keys) {
            if view.nodes.len() >= COMPACT_MIN
                && view.nodes.len() >= self.compacted + self.compacted / 8
            {
                view.compact();
                self.compacted = view.nodes.len();
            }
            note(&path, &op);
            view.add_entry(layer, &path, op, &mut self.memo)
                .map_err(|e| {
                    Error::context(
                        format!("layer {layer}: {}", crate::text::sanitize_bytes(&path)),
                        e,
                    )
                })?;
        }
        Ok(())
    }
}

impl MergedView {
    /// Applies one layer's entries (in tar order) on top of the view. The entries are freed
    /// as they are applied, and the view's tree is rebuilt with full nodes each time it grew
    /// by an eighth (`compact`), so a big layer costs about its view, not its view twice.
    pub fn apply_layer(&mut self, layer: usize, entries: impl Into<Entries>) -> Result<()> {
        self.apply_layer_with(layer, entries, |_, _| {})
    }

    /// `apply_layer`, calling `note` with each entry's path (as written, keyed as the view
    /// keys it) and what it does, before it is applied.
    pub fn apply_layer_with(
        &mut self,
        layer: usize,
        entries: impl Into<Entries>,
        mut note: impl FnMut(&Key, &Op),
    ) -> Result<()> {
        let entries: Entries = entries.into();
        let mut part = self.begin_layer(layer, &entries);
        for chunk in entries.into_chunks() {
            part.apply(self, chunk, &mut note)?;
        }
        Ok(())
    }

    /// Begins layer `layer` whose entries come in parts (`LayerApply::apply`, in tar order):
    /// its opaque markers and whiteouts act first (rules 2 and 3), so `markers` holds every
    /// one of them the parts will have (other entries in it are passed over). A writer that
    /// knows its layer's markers before its other entries (path mode's new layer) applies the
    /// layer as it writes it, without holding all of its entries.
    pub fn begin_layer(&mut self, layer: usize, markers: &Entries) -> LayerApply {
        self.hide_below_opaque_dirs(layer, markers);
        self.apply_whiteouts(layer, markers);
        LayerApply {
            layer,
            memo: Memo::default(),
            compacted: self.nodes.len(),
        }
    }

    /// Rule 2: opaque directories hide their lower children.
    fn hide_below_opaque_dirs(&mut self, layer: usize, entries: &Entries) {
        for e in entries.iter() {
            if let Op::Opaque = e.op {
                // A lower path that is no directory has no children to hide.
                let Ok(dir) = self.resolve(&e.path) else {
                    continue;
                };
                self.remove_children(&dir, &|n| n.layer() == layer);
            }
        }
    }

    /// Rule 3: whiteouts hide lower paths.
    fn apply_whiteouts(&mut self, layer: usize, entries: &Entries) {
        for e in entries.iter() {
            if let Op::Whiteout = e.op {
                let Ok(p) = self.resolve_parent(&e.path) else {
                    continue;
                };
                self.remove_tree(&p, &|n| n.layer() == layer);
            }
        }
    }

    /// Rules 4 and 5: one entry, in tar order.
    fn add_entry(&mut self, layer: usize, path: &Key, op: Op, memo: &mut Memo) -> Result<()> {
        if !matches!(op, Op::Put { .. } | Op::Skip | Op::Whiteout) {
            memo.0 = None;
        }
        match op {
            Op::Skip | Op::Whiteout => Ok(()),
            Op::Opaque => {
                let dir = same_or_new(path, self.resolve(path)?);
                self.ensure_dirs(&dir, dir.len(), layer)
            }
            Op::Put {
                kind,
                meta,
                size,
                data,
            } => self.put(
                layer,
                path,
                Put {
                    kind,
                    meta,
                    size,
                    data,
                },
                memo,
            ),
            // A hardlink's own header carries no attributes of its own in practice: the link
            // takes its target's.
            Op::Link { target, meta: _ } => self.link(layer, path, &target),
        }
    }

    /// Adds or replaces `path`: a directory over a directory keeps its children, anything
    /// else replaces what was there with its subtree.
    fn put(&mut self, layer: usize, path: &Key, put: Put, memo: &mut Memo) -> Result<()> {
        let p = same_or_new(path, memo.resolve_parent(self, path)?);
        let was_dir = self.nodes.get(&p).map(|n| n.kind == Kind::Dir);
        if was_dir.is_none() {
            memo.put(&p, self.outermost_missing(&p), None, &put.kind);
        }
        self.ensure_dirs(&p, parent_len(&p), layer)?;
        if was_dir.is_some() {
            memo.put(&p, &p, was_dir, &put.kind);
        }
        let is_dir = put.kind == Kind::Dir;
        match was_dir {
            Some(true) if is_dir => {}
            Some(_) => self.remove_tree(&p, &|_| false),
            None => {}
        }
        // The content's origin is the name as written; most often that is the key.
        let from = (*p != **path).then(|| Box::new((layer, path.clone())));
        let inode = self.inode()?;
        let mut node = Node::new(put.kind, put.meta, put.size, layer, put.data);
        node.from = from;
        node.inode = inode;
        self.nodes.insert(p, node);
        Ok(())
    }

    /// A hardlink at `path` to `target` as the view holds it now: it shares the target's
    /// content and inode.
    fn link(&mut self, layer: usize, path: &Key, target: &[u8]) -> Result<()> {
        let p = same_or_new(path, self.resolve_parent(path)?);
        let t = self.resolve_parent(target)?;
        let Some((tk, tn)) = self.nodes.get_key_value(&t[..]) else {
            return Err(Error::Invalid(format!(
                "hardlink to {:?}, which does not exist (at this point of the layer)",
                crate::text::sanitize_bytes(target)
            )));
        };
        if tn.kind == Kind::Dir {
            return Err(Error::Invalid("hardlink to a directory".into()));
        }
        if *p == t[..] {
            return Ok(());
        }
        let from = Some(Box::new(tn.origin(tk)));
        let tn = tn.clone();
        self.ensure_dirs(&p, parent_len(&p), layer)?;
        if self.nodes.contains_key(&p) {
            self.remove_tree(&p, &|_| false);
        }
        let mut node = Node { from, ..tn };
        node.set_layer(layer);
        self.nodes.insert(p, node);
        Ok(())
    }
}

impl MergedView {
    /// `p` (missing) or its outermost missing parent: what putting `p` creates first.
    fn outermost_missing<'p>(&self, p: &'p [u8]) -> &'p [u8] {
        let mut end = p.len();
        loop {
            let parent = parent_len(&p[..end]);
            if parent == 0 || self.nodes.contains_key(&p[..parent]) {
                return &p[..end];
            }
            end = parent;
        }
    }
}

/// The key of a path resolved from `written`: `written`'s own when it resolved to itself.
fn same_or_new(written: &Key, resolved: Vec<u8>) -> Key {
    if resolved[..] == written[..] {
        written.clone()
    } else {
        Key::from(resolved)
    }
}

/// The length of the parent's part of a path (0 at the top).
fn parent_len(p: &[u8]) -> usize {
    p.iter().rposition(|&b| b == b'/').unwrap_or(0)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::layer::entry::classify;

    /// An entry that puts a `kind` at `p`.
    pub(in crate::view::merged) fn put(p: &str, kind: Kind) -> LayerEntry {
        LayerEntry {
            path: p.as_bytes().into(),
            op: Op::Put {
                kind,
                meta: Meta::default(),
                size: 0,
                data: None,
            },
        }
    }
    pub(super) fn file(p: &str, off: u64) -> LayerEntry {
        LayerEntry {
            path: p.as_bytes().into(),
            op: Op::Put {
                kind: Kind::File,
                meta: Meta::default(),
                size: 1,
                data: Some(DataAt::new(off)),
            },
        }
    }
    fn special(p: &str) -> LayerEntry {
        let (path, op) = classify(p.as_bytes().to_vec()).unwrap();
        LayerEntry {
            path: path.into(),
            op: op.unwrap(),
        }
    }
    fn link(p: &str, t: &str) -> LayerEntry {
        LayerEntry {
            path: p.as_bytes().into(),
            op: Op::Link {
                target: t.as_bytes().to_vec(),
                meta: Meta::default(),
            },
        }
    }
    fn paths(v: &MergedView) -> Vec<String> {
        v.nodes
            .keys()
            .map(|k| String::from_utf8_lossy(k).to_string())
            .collect()
    }

    #[test]
    fn whiteouts_opaque_and_replacement() {
        let mut v = MergedView::new();
        v.apply_layer(
            0,
            vec![
                put("a", Kind::Dir),
                file("a/x", 0),
                file("a/y", 1),
                put("b", Kind::Dir),
                file("b/z", 2),
                file("c", 3),
            ],
        )
        .unwrap();
        // Opaque after its sibling in the same layer still applies first; whiteout of c.
        v.apply_layer(
            1,
            vec![
                file("a/new", 4),
                special("a/.wh..wh..opq"),
                special(".wh.c"),
                put("c", Kind::Dir),
                file("c/in", 5),
            ],
        )
        .unwrap();
        assert_eq!(paths(&v), ["a", "a/new", "b", "b/z", "c", "c/in"]);
        // A file replaces a directory with its subtree.
        v.apply_layer(2, vec![file("b", 6)]).unwrap();
        assert_eq!(paths(&v), ["a", "a/new", "b", "c", "c/in"]);
        assert_eq!(v.get(b"b").unwrap().kind, Kind::File);
    }

    #[test]
    fn whiteout_under_new_file_as_umoci_writes_it() {
        let mut v = MergedView::new();
        v.apply_layer(0, vec![put("conf", Kind::Dir), file("conf/a.conf", 0)])
            .unwrap();
        v.apply_layer(1, vec![file("conf", 1), special("conf/.wh.a.conf")])
            .unwrap();
        assert_eq!(paths(&v), ["conf"]);
        assert_eq!(v.get(b"conf").unwrap().kind, Kind::File);
    }

    #[test]
    fn hardlinks_keep_content_when_target_is_replaced() {
        let mut v = MergedView::new();
        v.apply_layer(0, vec![file("t", 10)]).unwrap();
        v.apply_layer(1, vec![link("l", "t"), file("t", 20)])
            .unwrap();
        assert_eq!(v.get(b"l").unwrap().data(), Some(DataAt::new(10).of(1)));
        assert_eq!(v.get(b"t").unwrap().data(), Some(DataAt::new(20).of(1)));
        assert!(
            v.clone()
                .apply_layer(2, vec![link("m", "nothing")])
                .is_err()
        );
        assert!(
            v.clone()
                .apply_layer(2, vec![put("d", Kind::Dir), link("m", "d")])
                .is_err()
        );
        assert!(
            v.clone()
                .apply_layer(2, vec![link("m", "later"), file("later", 1)])
                .is_err()
        );
    }

    /// The last parent resolved is reused only while it would resolve the same: `a -> c/..`
    /// walks through a missing `c`, which a file then fills (now an error, as in the kernel);
    /// a symlink replaced elsewhere is followed anew.
    #[test]
    fn a_reused_parent_is_forgotten_when_it_would_change() {
        let mut v = MergedView::new();
        v.apply_layer(0, vec![put("b", Kind::Dir)]).unwrap();
        let e = v
            .clone()
            .apply_layer(
                1,
                vec![
                    put("a", Kind::symlink(&b"c/.."[..])),
                    file("a/x", 0),
                    file("c", 1),
                    file("a/y", 2),
                ],
            )
            .unwrap_err();
        assert!(e.to_string().contains("a/y"), "{e}");
        v.apply_layer(
            1,
            vec![
                put("a", Kind::symlink(&b"b"[..])),
                file("a/x", 0),
                put("a", Kind::symlink(&b"d"[..])),
                file("a/y", 1),
                put("d", Kind::Dir),
                file("a/z", 2),
            ],
        )
        .unwrap();
        assert_eq!(paths(&v), ["a", "b", "b/x", "d", "d/y", "d/z"]);
    }

    #[test]
    fn entries_through_symlinked_parents() {
        let mut v = MergedView::new();
        v.apply_layer(
            0,
            vec![
                put("usr", Kind::Dir),
                put("usr/lib", Kind::Dir),
                put("lib", Kind::symlink(&b"usr/lib"[..])),
            ],
        )
        .unwrap();
        v.apply_layer(1, vec![file("lib/x.so", 0)]).unwrap();
        assert!(v.get(b"usr/lib/x.so").is_some());
        // A symlink leaving the root is clamped at the root, as in a chroot.
        v.apply_layer(
            2,
            vec![
                put("esc", Kind::symlink(&b"../../../../tmp"[..])),
                file("esc/f", 1),
            ],
        )
        .unwrap();
        assert!(v.get(b"tmp/f").is_some());
        // A loop is an error, not a hang.
        let mut w = MergedView::new();
        w.apply_layer(
            0,
            vec![
                put("a", Kind::symlink(&b"b"[..])),
                put("b", Kind::symlink(&b"a"[..])),
            ],
        )
        .unwrap();
        assert!(w.apply_layer(1, vec![file("a/x", 0)]).is_err());
        // A file parent is an error.
        let mut f = MergedView::new();
        f.apply_layer(0, vec![file("f", 0)]).unwrap();
        assert!(f.apply_layer(1, vec![file("f/x", 0)]).is_err());
    }
}

/// The merged view against a plain model: a HashMap and loops, no ranges and no symlinked
/// parents, over random layer stacks of files, directories, symlinks, hardlinks, whiteouts and
/// opaque markers.
#[cfg(test)]
mod model_tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Clone, Debug)]
    enum G {
        File(String, u64),
        Dir(String),
        Sym(String),
        Wh(String),
        Opq(String),
        Link(String, String),
    }

    #[derive(Clone, Debug, PartialEq)]
    enum M {
        File(u64),
        Dir,
        Sym,
    }

    fn path() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..4)
            .prop_map(|v| v.join("/"))
    }

    fn op() -> impl Strategy<Value = G> {
        prop_oneof![
            3 => (path(), 0u64..1000).prop_map(|(p, c)| G::File(p, c)),
            2 => path().prop_map(G::Dir),
            1 => path().prop_map(G::Sym),
            2 => path().prop_map(G::Wh),
            1 => path().prop_map(G::Opq),
            1 => (path(), path()).prop_map(|(p, t)| G::Link(p, t)),
        ]
    }

    fn parent(p: &str) -> Option<&str> {
        p.rsplit_once('/').map(|(d, _)| d)
    }

    fn under(p: &str, d: &str) -> bool {
        p.starts_with(&format!("{d}/"))
    }

    /// The model; returns Err on what extraction refuses.
    fn model(layers: &[Vec<G>]) -> Result<HashMap<String, M>, ()> {
        let mut st: HashMap<String, (M, usize)> = HashMap::new();
        for (li, ops) in layers.iter().enumerate() {
            for o in ops {
                if let G::Opq(d) = o {
                    st.retain(|k, v| !(under(k, d) && v.1 < li));
                }
            }
            for o in ops {
                if let G::Wh(p) = o {
                    st.retain(|k, v| !((k == p || under(k, p)) && v.1 < li));
                }
            }
            for o in ops {
                let (p, m) = match o {
                    G::File(p, c) => (p.clone(), M::File(*c)),
                    G::Dir(p) => (p.clone(), M::Dir),
                    G::Sym(p) => (p.clone(), M::Sym),
                    G::Link(p, t) => match st.get(t) {
                        None | Some((M::Dir, _)) => return Err(()),
                        Some((m, _)) => {
                            if p == t {
                                continue;
                            }
                            (p.clone(), m.clone())
                        }
                    },
                    G::Wh(_) => continue,
                    G::Opq(d) => (d.clone(), M::Dir),
                };
                // Parents must be directories (created when missing).
                let mut anc = Vec::new();
                let mut cur = parent(&p);
                while let Some(a) = cur {
                    anc.push(a.to_string());
                    cur = parent(a);
                }
                for a in anc.iter().rev() {
                    match st.get(a) {
                        None => {
                            st.insert(a.clone(), (M::Dir, li));
                        }
                        Some((M::Dir, _)) => {}
                        Some(_) => return Err(()),
                    }
                }
                if let G::Opq(_) = o {
                    if !matches!(st.get(&p), Some((M::Dir, _))) {
                        if st.contains_key(&p) {
                            return Err(());
                        }
                        st.insert(p, (M::Dir, li));
                    }
                    continue;
                }
                let both_dirs = m == M::Dir && matches!(st.get(&p), Some((M::Dir, _)));
                if !both_dirs {
                    st.retain(|k, _| !(k == &p || under(k, &p)));
                }
                st.insert(p, (m, li));
            }
        }
        Ok(st.into_iter().map(|(k, v)| (k, v.0)).collect())
    }

    /// Drops ops the model does not cover: anything under a symlink (extraction follows it).
    fn sanitize_layers(layers: Vec<Vec<G>>) -> Vec<Vec<G>> {
        let mut syms: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for ops in layers {
            let mut keep = Vec::new();
            for o in ops {
                let paths: Vec<&String> = match &o {
                    G::Link(p, t) => vec![p, t],
                    G::File(p, _) | G::Dir(p) | G::Sym(p) | G::Wh(p) | G::Opq(p) => vec![p],
                };
                if paths.iter().any(|p| syms.iter().any(|s| under(p, s))) {
                    continue;
                }
                // An opaque marker lives inside its directory: `d/.wh..wh..opq`.
                if let G::Opq(d) = &o
                    && syms.contains(d)
                {
                    continue;
                }
                match &o {
                    G::Sym(p) => syms.push(p.clone()),
                    // A hardlink to a symlink is a symlink too.
                    G::Link(p, t) if syms.contains(t) => syms.push(p.clone()),
                    _ => {}
                }
                keep.push(o);
            }
            out.push(keep);
        }
        out
    }

    fn to_entries(ops: &[G]) -> Vec<LayerEntry> {
        ops.iter()
            .map(|o| {
                let put = |p: &str, kind: Kind, c: u64| LayerEntry {
                    path: p.as_bytes().into(),
                    op: Op::Put {
                        kind,
                        meta: Meta::default(),
                        size: 1,
                        data: Some(DataAt::new(c)),
                    },
                };
                match o {
                    G::File(p, c) => put(p, Kind::File, *c),
                    G::Dir(p) => put(p, Kind::Dir, 0),
                    G::Sym(p) => put(p, Kind::symlink(&b"/nowhere"[..]), 0),
                    G::Wh(p) => LayerEntry {
                        path: p.as_bytes().into(),
                        op: Op::Whiteout,
                    },
                    G::Opq(p) => LayerEntry {
                        path: p.as_bytes().into(),
                        op: Op::Opaque,
                    },
                    G::Link(p, t) => LayerEntry {
                        path: p.as_bytes().into(),
                        op: Op::Link {
                            target: t.as_bytes().to_vec(),
                            meta: Meta::default(),
                        },
                    },
                }
            })
            .collect()
    }

    /// `apply_layer` without reusing a parent: each entry resolves its own.
    fn apply_unmemoized(v: &mut MergedView, layer: usize, entries: Vec<LayerEntry>) -> Result<()> {
        let entries = Entries::from(entries);
        v.hide_below_opaque_dirs(layer, &entries);
        v.apply_whiteouts(layer, &entries);
        for LayerEntry { path, op } in entries {
            v.add_entry(layer, &Key::new(&path), op, &mut Memo::default())
                .map_err(|e| {
                    Error::context(format!("layer {layer}: {}", path.escape_ascii()), e)
                })?;
        }
        Ok(())
    }

    /// A symlink target: a path, maybe absolute, maybe through `..` and a component that may
    /// be missing (`x` always is; `c` may be filled later).
    fn target() -> impl Strategy<Value = String> {
        (path(), 0..5usize).prop_map(|(p, how)| match how {
            0 => p,
            1 => format!("/{p}"),
            2 => format!("x/../{p}"),
            3 => format!("c/../{p}"),
            _ => format!("{p}/../.."),
        })
    }

    /// Entries over the paths `path()` makes, symlinks with `target()`s among them.
    fn entry() -> impl Strategy<Value = LayerEntry> {
        prop_oneof![
            1 => (op(), target()).prop_map(|(o, t)| match o {
                G::Sym(p) => to_entries(&[G::Sym(p.clone())])
                    .pop()
                    .map(|mut e| {
                        if let Op::Put { kind, .. } = &mut e.op {
                            *kind = Kind::symlink(t.into_bytes());
                        }
                        e
                    })
                    .unwrap(),
                o => to_entries(&[o]).pop().unwrap(),
            }),
            2 => (path(), path()).prop_map(|(d, f)| {
                to_entries(&[G::File(format!("{d}/{f}"), 7)]).pop().unwrap()
            }),
        ]
    }

    fn kinds(v: &MergedView) -> Vec<(Vec<u8>, Kind)> {
        v.nodes
            .iter()
            .map(|(k, n)| (k.to_vec(), n.kind.clone()))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Reusing the last parent resolved changes nothing, whatever the symlinks.
        #[test]
        fn reusing_a_parent_changes_nothing(
            layers in prop::collection::vec(prop::collection::vec(entry(), 0..12), 1..4)
        ) {
            let (mut a, mut b) = (MergedView::new(), MergedView::new());
            for (i, es) in layers.into_iter().enumerate() {
                let ra = a.apply_layer(i, es.clone()).map_err(|e| format!("{e:?}"));
                let rb = apply_unmemoized(&mut b, i, es).map_err(|e| format!("{e:?}"));
                prop_assert_eq!(&ra, &rb);
                prop_assert_eq!(kinds(&a), kinds(&b));
                if ra.is_err() {
                    break;
                }
                // Every field, origins included: the compactions, the shared key buffers and
                // the chunked entries of `apply_layer` (not in `apply_unmemoized`) change
                // nothing either.
                prop_assert_eq!(&a.nodes, &b.nodes);
            }
        }
    }

    /// A layer of several entry chunks (several key buffers, several compactions) gives the
    /// view entry-by-entry application gives, node for node and in the same order.
    #[test]
    fn big_layers_apply_as_entry_by_entry() {
        let mut es = Vec::new();
        for i in 0..(3 * Entries::CHUNK + 17) {
            let d = i % 97;
            es.push(tests::file(&format!("opt/d{d}/f{i}"), i as u64));
            if i % 50 == 0 {
                es.push(tests::put(
                    &format!("opt/l{i}"),
                    Kind::symlink(format!("d{d}").into_bytes()),
                ));
            }
            if i % 70 == 35 && i > 50 {
                es.push(tests::file(&format!("opt/l{}/g{i}", i - i % 50), 0));
            }
            if i % 70 == 0 {
                es.push(LayerEntry {
                    path: format!("opt/l{}/h{i}", i - i % 50).into_bytes().into(),
                    op: Op::Link {
                        target: format!("opt/d{d}/f{i}").into_bytes(),
                        meta: Meta::default(),
                    },
                });
            }
        }
        let (mut a, mut b) = (MergedView::new(), MergedView::new());
        a.apply_layer(0, es.clone()).unwrap();
        apply_unmemoized(&mut b, 0, es).unwrap();
        assert!(a.nodes.len() > 3 * Entries::CHUNK);
        assert!(a.nodes.iter().eq(b.nodes.iter()));
        // A name written through a symlink keeps its origin as written; a hardlink, its
        // target's.
        let (k, n) = a.nodes.get_key_value(&b"opt/d3/g105"[..]).unwrap();
        assert_eq!(&n.origin(k).1[..], b"opt/l100/g105");
        let (k, n) = a.nodes.get_key_value(&b"opt/d0/h0"[..]).unwrap();
        assert_eq!((n.origin(k).0, &n.origin(k).1[..]), (0, &b"opt/d0/f0"[..]));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn merged_view_matches_model(layers in prop::collection::vec(prop::collection::vec(op(), 0..8), 1..5)) {
            let layers = sanitize_layers(layers);
            let want = model(&layers);
            let mut v = MergedView::new();
            let mut got = Ok(());
            for (i, ops) in layers.iter().enumerate() {
                got = v.apply_layer(i, to_entries(ops));
                if got.is_err() {
                    break;
                }
            }
            match (want, got) {
                (Err(()), Err(_)) => {}
                (Ok(w), Ok(())) => {
                    let g: HashMap<String, M> = v
                        .nodes
                        .iter()
                        .map(|(k, n)| {
                            let m = match &n.kind {
                                Kind::File => M::File(n.data().map(|d| d.offset).unwrap_or(u64::MAX)),
                                Kind::Dir => M::Dir,
                                _ => M::Sym,
                            };
                            (String::from_utf8(k.to_vec()).unwrap(), m)
                        })
                        .collect();
                    prop_assert_eq!(g, w);
                }
                (w, g) => prop_assert!(false, "model {:?} vs view {:?}", w.is_ok(), g),
            }
        }
    }
}
