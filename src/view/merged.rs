//! Layer walking: tar headers to entries, and a stack of layers to the merged filesystem, by
//! the image-spec rules. Pure code over headers; file data stays wherever the caller put it.
//!
//! The rules, applied per layer:
//! 1. Names are cleaned (`./`, `//`, `.` and a leading `/` dropped); a `..` component, an empty
//!    name or a NUL is an error; the root itself is skipped.
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

use crate::error::{Error, Result};
use crate::layer::entry::{DataRef, Kind, LayerEntry, Meta, Op, split_parent};
use std::collections::BTreeMap;

/// One node of the merged view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    pub meta: Meta,
    pub size: u64,
    /// The layer the node's entry came from.
    pub layer: usize,
    /// The layer and path the content came from (differs for hardlinks).
    pub origin: (usize, Vec<u8>),
    pub data: Option<DataRef>,
    /// Hardlink group: nodes with the same inode share content.
    pub inode: u64,
    /// A directory no entry created (a missing parent).
    pub implicit: bool,
}

/// The merged filesystem of a stack of layers.
#[derive(Default, Clone, Debug)]
pub struct MergedView {
    pub nodes: BTreeMap<Vec<u8>, Node>,
    next_inode: u64,
}

/// The key range of everything strictly below `dir`.
fn below(dir: &[u8]) -> (std::ops::Bound<Vec<u8>>, std::ops::Bound<Vec<u8>>) {
    use std::ops::Bound;
    if dir.is_empty() {
        return (Bound::Unbounded, Bound::Unbounded);
    }
    let mut lo = dir.to_vec();
    lo.push(b'/');
    let mut hi = dir.to_vec();
    hi.push(b'/' + 1);
    (Bound::Included(lo), Bound::Excluded(hi))
}

impl MergedView {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, path: &[u8]) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Every node at or below `path`, in path order.
    pub fn subtree<'a>(
        &'a self,
        path: &'a [u8],
    ) -> impl Iterator<Item = (&'a Vec<u8>, &'a Node)> + 'a {
        // The root (an empty path) is every node: `below` is then unbounded.
        let this = self.nodes.get_key_value(path);
        this.into_iter().chain(self.nodes.range(below(path)))
    }

    fn remove_tree(&mut self, path: &[u8], keep: &dyn Fn(&Node) -> bool) {
        if let Some(n) = self.nodes.get(path)
            && !keep(n)
        {
            self.nodes.remove(path);
        }
        self.remove_children(path, keep);
    }

    fn remove_children(&mut self, path: &[u8], keep: &dyn Fn(&Node) -> bool) {
        let doomed: Vec<Vec<u8>> = self
            .nodes
            .range(below(path))
            .filter(|(_, n)| !keep(n))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// Resolves `path`'s directory part through symlinks that stay inside the root, the way
    /// extraction would. Returns the resolved path. Errors on a file parent or a loop.
    pub fn resolve_parent(&self, path: &[u8]) -> Result<Vec<u8>> {
        let (dir, base) = split_parent(path);
        if dir.is_empty() {
            return Ok(path.to_vec());
        }
        let d = self.resolve(dir, 0)?;
        let mut out = d;
        if !out.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(base);
        Ok(out)
    }

    /// Resolves every component of `path` (including the last) through symlinks inside the root.
    pub fn resolve(&self, path: &[u8], depth: usize) -> Result<Vec<u8>> {
        if depth > 40 {
            return Err(Error::Invalid(format!(
                "{}: too many levels of symbolic links",
                crate::text::sanitize_bytes(path)
            )));
        }
        let mut cur: Vec<u8> = Vec::new();
        let comps: Vec<&[u8]> = path
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        for (i, c) in comps.iter().enumerate() {
            let mut next = cur.clone();
            if *c == b"." {
                continue;
            }
            if *c == b".." {
                let (p, _) = split_parent(&cur);
                cur = p.to_vec();
                continue;
            }
            if !next.is_empty() {
                next.push(b'/');
            }
            next.extend_from_slice(c);
            match self.nodes.get(&next).map(|n| &n.kind) {
                Some(Kind::Symlink(t)) => {
                    let joined = if t.starts_with(b"/") {
                        t.clone()
                    } else {
                        let mut j = cur.clone();
                        j.push(b'/');
                        j.extend_from_slice(t);
                        j
                    };
                    cur = self.resolve(&joined, depth + 1)?;
                }
                Some(Kind::Dir) | None => cur = next,
                Some(k) if i + 1 == comps.len() => {
                    let _ = k;
                    cur = next
                }
                Some(k) => {
                    return Err(Error::Invalid(format!(
                        "{}: {} is a {}, not a directory",
                        crate::text::sanitize_bytes(path),
                        crate::text::sanitize_bytes(&next),
                        k.name()
                    )));
                }
            }
        }
        Ok(cur)
    }

    fn ensure_dirs(&mut self, dir: &[u8], layer: usize) -> Result<()> {
        if dir.is_empty() {
            return Ok(());
        }
        let (parent, _) = split_parent(dir);
        self.ensure_dirs(parent, layer)?;
        match self.nodes.get(dir).map(|n| &n.kind) {
            Some(Kind::Dir) => Ok(()),
            None => {
                let inode = self.inode();
                self.nodes.insert(
                    dir.to_vec(),
                    Node {
                        kind: Kind::Dir,
                        meta: Meta {
                            mode: 0o755,
                            ..Default::default()
                        },
                        size: 0,
                        layer,
                        origin: (layer, dir.to_vec()),
                        data: None,
                        inode,
                        implicit: true,
                    },
                );
                Ok(())
            }
            Some(k) => Err(Error::Invalid(format!(
                "{}: parent is a {}, not a directory",
                crate::text::sanitize_bytes(dir),
                k.name()
            ))),
        }
    }

    fn inode(&mut self) -> u64 {
        self.next_inode += 1;
        self.next_inode
    }

    /// Applies one layer's entries (in tar order) on top of the view.
    pub fn apply_layer(&mut self, layer: usize, entries: Vec<LayerEntry>) -> Result<()> {
        let ctx = |e: Error, p: &[u8]| {
            Error::Invalid(format!(
                "layer {layer}: {}: {e}",
                crate::text::sanitize_bytes(p)
            ))
        };
        // 1. Opaque directories hide their lower children.
        for e in &entries {
            if let Op::Opaque = e.op {
                // A lower path that is no directory has no children to hide.
                let Ok(dir) = self.resolve(&e.path, 0) else {
                    continue;
                };
                self.remove_children(&dir, &|n| n.layer == layer);
            }
        }
        // 2. Whiteouts hide lower paths.
        for e in &entries {
            if let Op::Whiteout = e.op {
                let Ok(p) = self.resolve_parent(&e.path) else {
                    continue;
                };
                self.remove_tree(&p, &|n| n.layer == layer);
            }
        }
        // 3. Entries in order.
        for e in entries {
            match e.op {
                Op::Skip | Op::Whiteout => {}
                Op::Opaque => {
                    let dir = self.resolve(&e.path, 0).map_err(|x| ctx(x, &e.path))?;
                    self.ensure_dirs(&dir, layer).map_err(|x| ctx(x, &e.path))?;
                }
                Op::Put {
                    kind,
                    meta,
                    size,
                    data,
                } => {
                    let p = self.resolve_parent(&e.path).map_err(|x| ctx(x, &e.path))?;
                    let (parent, _) = split_parent(&p);
                    self.ensure_dirs(parent, layer)
                        .map_err(|x| ctx(x, &e.path))?;
                    let is_dir = kind == Kind::Dir;
                    match self.nodes.get(&p).map(|n| n.kind == Kind::Dir) {
                        Some(true) if is_dir => {}
                        Some(_) => self.remove_tree(&p, &|_| false),
                        None => {}
                    }
                    let inode = self.inode();
                    self.nodes.insert(
                        p.clone(),
                        Node {
                            kind,
                            meta,
                            size,
                            layer,
                            origin: (layer, e.path.clone()),
                            data,
                            inode,
                            implicit: false,
                        },
                    );
                }
                Op::Link { target, meta } => {
                    let p = self.resolve_parent(&e.path).map_err(|x| ctx(x, &e.path))?;
                    let t = self.resolve_parent(&target).map_err(|x| ctx(x, &e.path))?;
                    let Some(tn) = self.nodes.get(&t).cloned() else {
                        return Err(ctx(
                            Error::Invalid(format!(
                                "hardlink to {:?}, which does not exist (at this point of the layer)",
                                crate::text::sanitize_bytes(&target)
                            )),
                            &e.path,
                        ));
                    };
                    if tn.kind == Kind::Dir {
                        return Err(ctx(
                            Error::Invalid("hardlink to a directory".into()),
                            &e.path,
                        ));
                    }
                    if p == t {
                        continue;
                    }
                    let (parent, _) = split_parent(&p);
                    self.ensure_dirs(parent, layer)
                        .map_err(|x| ctx(x, &e.path))?;
                    if self.nodes.contains_key(&p) {
                        self.remove_tree(&p, &|_| false);
                    }
                    // The link shares the target's content and inode; a hardlink's own header
                    // carries no attributes of its own in practice, so it takes the target's.
                    let _ = meta;
                    let node = Node {
                        layer,
                        implicit: false,
                        ..tn
                    };
                    self.nodes.insert(p, node);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::entry::classify;

    fn put(p: &str, kind: Kind) -> LayerEntry {
        LayerEntry {
            path: p.as_bytes().to_vec(),
            op: Op::Put {
                kind,
                meta: Meta::default(),
                size: 0,
                data: None,
            },
        }
    }
    fn file(p: &str, off: u64) -> LayerEntry {
        LayerEntry {
            path: p.as_bytes().to_vec(),
            op: Op::Put {
                kind: Kind::File,
                meta: Meta::default(),
                size: 1,
                data: Some(DataRef {
                    offset: off,
                    len: 1,
                }),
            },
        }
    }
    fn special(p: &str) -> LayerEntry {
        let (path, op) = classify(p.as_bytes().to_vec()).unwrap();
        LayerEntry {
            path,
            op: op.unwrap(),
        }
    }
    fn link(p: &str, t: &str) -> LayerEntry {
        LayerEntry {
            path: p.as_bytes().to_vec(),
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
        assert_eq!(
            v.get(b"l").unwrap().data,
            Some(DataRef { offset: 10, len: 1 })
        );
        assert_eq!(
            v.get(b"t").unwrap().data,
            Some(DataRef { offset: 20, len: 1 })
        );
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

    #[test]
    fn entries_through_symlinked_parents() {
        let mut v = MergedView::new();
        v.apply_layer(
            0,
            vec![
                put("usr", Kind::Dir),
                put("usr/lib", Kind::Dir),
                put("lib", Kind::Symlink(b"usr/lib".to_vec())),
            ],
        )
        .unwrap();
        v.apply_layer(1, vec![file("lib/x.so", 0)]).unwrap();
        assert!(v.get(b"usr/lib/x.so").is_some());
        // A symlink leaving the root is clamped at the root, as in a chroot.
        v.apply_layer(
            2,
            vec![
                put("esc", Kind::Symlink(b"../../../../tmp".to_vec())),
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
                put("a", Kind::Symlink(b"b".to_vec())),
                put("b", Kind::Symlink(b"a".to_vec())),
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
                    path: p.as_bytes().to_vec(),
                    op: Op::Put {
                        kind,
                        meta: Meta::default(),
                        size: 1,
                        data: Some(DataRef { offset: c, len: 1 }),
                    },
                };
                match o {
                    G::File(p, c) => put(p, Kind::File, *c),
                    G::Dir(p) => put(p, Kind::Dir, 0),
                    G::Sym(p) => put(p, Kind::Symlink(b"/nowhere".to_vec()), 0),
                    G::Wh(p) => LayerEntry {
                        path: p.as_bytes().to_vec(),
                        op: Op::Whiteout,
                    },
                    G::Opq(p) => LayerEntry {
                        path: p.as_bytes().to_vec(),
                        op: Op::Opaque,
                    },
                    G::Link(p, t) => LayerEntry {
                        path: p.as_bytes().to_vec(),
                        op: Op::Link {
                            target: t.as_bytes().to_vec(),
                            meta: Meta::default(),
                        },
                    },
                }
            })
            .collect()
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
                                Kind::File => M::File(n.data.map(|d| d.offset).unwrap_or(u64::MAX)),
                                Kind::Dir => M::Dir,
                                _ => M::Sym,
                            };
                            (String::from_utf8(k.clone()).unwrap(), m)
                        })
                        .collect();
                    prop_assert_eq!(g, w);
                }
                (w, g) => prop_assert!(false, "model {:?} vs view {:?}", w.is_ok(), g),
            }
        }
    }
}
