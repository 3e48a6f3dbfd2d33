//! The merged filesystem of a stack of layers: the node store and the queries over it. How a
//! layer is applied (whiteouts, opaque directories, hardlinks) is written down in `apply`,
//! how paths are resolved through symlinks inside the root in `resolve`. Pure code over
//! parsed tar entries; file data stays wherever the caller put it.

use crate::error::{Error, Result};
use crate::layer::entry::{DataAt, DataRef, Kind, Meta};
use std::collections::BTreeMap;
use std::collections::btree_map::Range;
use std::ops::Bound;

mod apply;
mod key;
mod resolve;

pub use apply::LayerApply;
pub use key::Key;

/// One node of the merged view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    pub meta: Meta,
    pub size: u64,
    /// The layer the node's entry came from (`layer()`; four bytes: an image has far fewer),
    /// with `IMPLICIT` set for a directory no entry created (a missing parent: `implicit()`).
    layer: u32,
    /// Where the content came from, when that is not this node's own layer and path (a
    /// hardlink's target, or a name written through a symlinked parent); read it with
    /// `origin`. Out of line: most nodes have none.
    pub from: Option<Box<Origin>>,
    /// Where a file's `size` bytes are (`data`, `set_data`). One word, not a `DataRef`'s
    /// three: the length is the size.
    at: Option<DataAt>,
    /// Hardlink group: nodes with the same inode share content.
    pub inode: u32,
}

/// The bit of `Node::layer` that marks an implicit directory.
const IMPLICIT: u32 = 1 << 31;

/// A layer's index as a node stores it. Images are bounded by `limits::MAX_LAYERS` long before.
fn layer32(layer: usize) -> u32 {
    u32::try_from(layer)
        .ok()
        .filter(|l| l & IMPLICIT == 0)
        .expect("2 billion layers")
}

/// A layer and a path in it, as written: where a node's content came from.
pub type Origin = (usize, Key);

impl Node {
    /// A node of `layer`, with its `size` bytes where `data` says.
    pub fn new(kind: Kind, meta: Meta, size: u64, layer: usize, data: Option<DataAt>) -> Node {
        Node {
            kind,
            meta,
            size,
            layer: layer32(layer),
            from: None,
            at: data,
            inode: 0,
        }
    }

    /// The layer the node's entry came from.
    pub fn layer(&self) -> usize {
        (self.layer & !IMPLICIT) as usize
    }

    /// Whether the node is a directory no entry created (a missing parent).
    pub fn implicit(&self) -> bool {
        self.layer & IMPLICIT != 0
    }

    /// Makes the node an entry's of `layer` (not implicit).
    pub fn set_layer(&mut self, layer: usize) {
        self.layer = layer32(layer);
    }

    /// Where the file's bytes are, when they are kept.
    pub fn data(&self) -> Option<DataRef> {
        self.at.map(|a| a.of(self.size))
    }

    /// Sets where the file's bytes are: the node's `size` bytes at `d.offset` (`d.len` is
    /// not kept; every reference made is to a whole file of that size).
    pub fn set_data(&mut self, d: Option<DataRef>) {
        self.at = d.map(|d| DataAt::new(d.offset));
    }

    /// The layer and path the content came from (differs for hardlinks); `key` is the node's
    /// own path in the view (a key with the same bytes will do).
    pub fn origin(&self, key: &Key) -> Origin {
        match &self.from {
            Some(o) => (**o).clone(),
            None => (self.layer(), key.clone()),
        }
    }
}

/// The merged filesystem of a stack of layers. Every node's parents are directories of the
/// view (the resolution relies on it).
#[derive(Default, Clone, Debug)]
pub struct MergedView {
    pub nodes: BTreeMap<Key, Node>,
    next_inode: u64,
}

impl MergedView {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, path: &[u8]) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Every node at or below `path`, in path order.
    pub fn subtree<'a>(&'a self, path: &[u8]) -> impl Iterator<Item = (&'a Key, &'a Node)> + 'a {
        // The root (an empty path) is every node: `below` is then unbounded.
        let this = self.nodes.get_key_value(path);
        this.into_iter().chain(self.below(path))
    }

    /// The paths of `dir`'s own children, in path order; a child's subtree is skipped, not
    /// walked, so a directory costs its children, not everything below it.
    pub fn children<'a>(&'a self, dir: &[u8]) -> impl Iterator<Item = &'a Key> + 'a {
        // Where a child's name starts in its path, and the bound past everything below `dir`.
        let start = dir.len() + usize::from(!dir.is_empty());
        let end = (!dir.is_empty()).then(|| [dir, b"0"].concat());
        let mut from = Some(if dir.is_empty() {
            Vec::new()
        } else {
            [dir, b"/"].concat()
        });
        std::iter::from_fn(move || {
            loop {
                let lo = from.take()?;
                let hi = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
                let (k, _) = self
                    .nodes
                    .range::<[u8], _>((Bound::Included(&lo[..]), hi))
                    .next()?;
                match k[start..].iter().position(|&b| b == b'/') {
                    // A child: next, the first path after it.
                    None => {
                        from = Some([&k[..], b"\0"].concat());
                        return Some(k);
                    }
                    // Below the child `k[start..start + i]`: next, the first path after its subtree.
                    Some(i) => from = Some([&k[..start + i], b"0"].concat()),
                }
            }
        })
    }

    /// Moves the node at `path` and every node below it out of the view.
    pub fn take_subtree(&mut self, path: &[u8]) -> BTreeMap<Key, Node> {
        if path.is_empty() {
            return std::mem::take(&mut self.nodes);
        }
        // Below `path`: from `path/` up to `path0` ('0' follows '/'), not `path.x`.
        let mut below = self.nodes.split_off(&[path, b"/"].concat()[..]);
        let mut after = below.split_off(&[path, b"0"].concat()[..]);
        self.nodes.append(&mut after);
        if let Some((k, n)) = self.nodes.remove_entry(path) {
            below.insert(k, n);
        }
        below
    }

    /// Every node strictly below `dir`, in path order.
    fn below(&self, dir: &[u8]) -> Range<'_, Key, Node> {
        if dir.is_empty() {
            return self.nodes.range::<[u8], _>(..);
        }
        let mut lo = dir.to_vec();
        lo.push(b'/');
        let mut hi = dir.to_vec();
        hi.push(b'/' + 1);
        self.nodes
            .range::<[u8], _>((Bound::Included(&lo[..]), Bound::Excluded(&hi[..])))
    }

    /// Rebuilds the tree with full nodes. Inserts in path order, as a tar lists its entries,
    /// leave the B-tree's leaves about half full; a rebuild by `append` (a bulk build from one
    /// sorted run) fills them, for about half the memory. The old tree is freed as the new
    /// one is built. Contents and order are unchanged.
    pub fn compact(&mut self) {
        let mut rest = std::mem::take(&mut self.nodes);
        if let Some((k, v)) = rest.pop_first() {
            self.nodes.insert(k, v);
            self.nodes.append(&mut rest);
        }
    }

    /// Removes `path` and everything below it, but the nodes `keep` says to keep.
    fn remove_tree(&mut self, path: &[u8], keep: &dyn Fn(&Node) -> bool) {
        if let Some(n) = self.nodes.get(path)
            && !keep(n)
        {
            self.nodes.remove(path);
        }
        self.remove_children(path, keep);
    }

    /// Removes everything below `path`, but the nodes `keep` says to keep.
    fn remove_children(&mut self, path: &[u8], keep: &dyn Fn(&Node) -> bool) {
        let doomed: Vec<Key> = self
            .below(path)
            .filter(|(_, n)| !keep(n))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// Creates the first `len` bytes of `path` (a directory) and its missing parents as
    /// implicit directories of `layer`, their keys sharing `path`'s bytes; fails where one of
    /// them is something else. Looks up from the deepest, so an existing directory costs one
    /// lookup.
    fn ensure_dirs(&mut self, path: &Key, len: usize, layer: usize) -> Result<()> {
        let dir = &path[..len];
        let mut end = len;
        while end > 0 {
            match self.nodes.get(&dir[..end]).map(|n| &n.kind) {
                Some(Kind::Dir) => break,
                Some(k) => {
                    return Err(Error::Invalid(format!(
                        "{}: parent is a {}, not a directory",
                        crate::text::sanitize_bytes(&dir[..end]),
                        k.name()
                    )));
                }
                None => end = dir[..end].iter().rposition(|&b| b == b'/').unwrap_or(0),
            }
        }
        // `end` exists (or is the root); create what is missing below it, outermost first.
        let missing = (end + 1..len)
            .filter(|&i| dir[i] == b'/')
            .chain(std::iter::once(len))
            .filter(|&i| i > end);
        for i in missing.collect::<Vec<_>>() {
            let key = path.prefix(i);
            let node = self.implicit_dir(layer)?;
            self.nodes.insert(key, node);
        }
        Ok(())
    }

    /// A directory no entry created, at `key`.
    fn implicit_dir(&mut self, layer: usize) -> Result<Node> {
        let mut n = Node::new(
            Kind::Dir,
            Meta {
                mode: 0o755,
                ..Default::default()
            },
            0,
            layer,
            None,
        );
        n.inode = self.inode()?;
        n.layer |= IMPLICIT;
        Ok(n)
    }

    /// A fresh inode number (a new hardlink group): four bytes a node, so a view holds at
    /// most 2^32 - 1 nodes' worth of entries (a 2 TiB tar of headers).
    fn inode(&mut self) -> Result<u32> {
        self.next_inode += 1;
        u32::try_from(self.next_inode)
            .map_err(|_| Error::Invalid("more than 2^32 - 1 entries in one merged view".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::entry::{LayerEntry, Op};

    #[test]
    fn a_node_stays_small() {
        // Every entry of every view holds one (in a B-tree slot beside its 16-byte key): the
        // memory budget in BENCHMARKS.md counts on it.
        assert_eq!(std::mem::size_of::<Key>(), 16);
        assert!(
            std::mem::size_of::<Node>() <= 96,
            "{}",
            std::mem::size_of::<Node>()
        );
        // A layer's entries are all held before they are applied.
        let e = std::mem::size_of::<crate::layer::entry::LayerEntry>();
        assert!(e <= 96, "{e}");
    }

    #[test]
    fn children_skip_their_subtrees() {
        let mut v = MergedView::new();
        let file = |p: &str| LayerEntry {
            path: p.as_bytes().into(),
            op: Op::Put {
                kind: Kind::File,
                meta: Meta::default(),
                size: 0,
                data: None,
            },
        };
        let names = ["d/a.x", "d/a-", "d/a/deep/f", "d/b/c", "d/c", "e/f", "top"];
        assert!(
            v.apply_layer(0, names.iter().map(|p| file(p)).collect::<Vec<_>>())
                .is_ok()
        );
        let kids = |d: &str| -> Vec<String> {
            v.children(d.as_bytes())
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect()
        };
        assert_eq!(kids("d"), ["d/a", "d/a-", "d/a.x", "d/b", "d/c"]);
        assert_eq!(kids(""), ["d", "e", "top"]);
        assert_eq!(kids("d/b"), ["d/b/c"]);
        assert!(kids("top").is_empty());
    }
}
