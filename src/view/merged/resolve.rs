//! Path resolution in the merged view: symlinks are followed the way extraction into a root
//! would follow them, so a link that climbs out of the root is clamped at it, a loop is an
//! error after 40 levels, and a file where a directory is needed is an error.

use super::MergedView;
use crate::error::{Error, Result};
use crate::layer::entry::{Kind, split_parent};

/// How many symlinks one resolution may follow (as Linux's `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

impl MergedView {
    /// Resolves `path`'s directory part through symlinks that stay inside the root, the way
    /// extraction would. Returns the resolved path. Errors on a file parent or a loop.
    pub fn resolve_parent(&self, path: &[u8]) -> Result<Vec<u8>> {
        let (dir, base) = split_parent(path);
        if dir.is_empty() {
            return Ok(path.to_vec());
        }
        let mut out = self.resolve(dir, 0)?;
        if !out.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(base);
        Ok(out)
    }

    /// Resolves every component of `path` (including the last) through symlinks inside the root.
    pub fn resolve(&self, path: &[u8], depth: usize) -> Result<Vec<u8>> {
        if depth > MAX_LINKS {
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
            match *c {
                b"." => continue,
                b".." => {
                    cur = split_parent(&cur).0.to_vec();
                    continue;
                }
                _ => {}
            }
            let next = crate::model::path::join(&cur, c);
            match self.nodes.get(&next).map(|n| &n.kind) {
                Some(Kind::Symlink(t)) => cur = self.resolve(&link_target(&cur, t), depth + 1)?,
                Some(Kind::Dir) | None => cur = next,
                // The last component may be anything.
                Some(_) if i + 1 == comps.len() => cur = next,
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
}

/// Where a symlink in directory `dir` pointing at `target` leads, before resolution: an
/// absolute target from the root, a relative one from `dir`.
fn link_target(dir: &[u8], target: &[u8]) -> Vec<u8> {
    if target.starts_with(b"/") {
        return target.to_vec();
    }
    let mut j = dir.to_vec();
    j.push(b'/');
    j.extend_from_slice(target);
    j
}
