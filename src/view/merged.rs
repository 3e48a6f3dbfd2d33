//! The merged filesystem of a stack of layers: the node store and the queries over it. How a
//! layer is applied (whiteouts, opaque directories, hardlinks) is written down in `apply`,
//! how paths are resolved through symlinks inside the root in `resolve`. Pure code over
//! parsed tar entries; file data stays wherever the caller put it.

use crate::error::{Error, Result};
use crate::layer::entry::{DataRef, Kind, Meta, split_parent};
use std::collections::BTreeMap;
use std::ops::Bound;

mod apply;
mod resolve;

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
fn below(dir: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
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

    /// Creates `dir` and its missing parents as implicit directories of `layer`; fails where
    /// one of them is something else.
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

    /// A fresh inode number (a new hardlink group).
    fn inode(&mut self) -> u64 {
        self.next_inode += 1;
        self.next_inode
    }
}
