//! Path resolution in the merged view: symlinks are followed the way extraction into a root
//! would follow them, so a link that climbs out of the root is clamped at it and a file where a
//! directory is needed is an error. One lookup follows at most `MAX_SYMLINKS` links in all, as
//! the kernel counts them (a loop ends there), and its result stays within `PATH_MAX` and
//! `MAX_PATH_DEPTH`. The walk is one loop over a stack of components, a link's target pushed
//! onto it: its work is bounded by the path and the targets of the links it follows, whatever
//! the image (nested resolution of a chain `s1 -> s2/../s2` doubled per link), and at most
//! `MAX_LOOKUP_STEPS` components (every entry below 40 links of 4 KB targets walked 65,000).

use super::MergedView;
use crate::error::{Error, Result};
use crate::layer::entry::{Kind, split_parent};
use crate::model::limits::{self, MAX_LOOKUP_STEPS, MAX_PATH_DEPTH, MAX_SYMLINKS, PATH_MAX};

impl MergedView {
    /// Resolves `path`'s directory part through symlinks that stay inside the root, the way
    /// extraction would. Returns the resolved path. Errors on a file parent or a loop.
    pub fn resolve_parent(&self, path: &[u8]) -> Result<Vec<u8>> {
        self.resolve_parent_with(path, |dir| Ok(self.resolve_watched(dir)?.0))
    }

    /// `resolve_parent` with `dir` (the directory part, not empty) resolved by `resolve`.
    pub(super) fn resolve_parent_with(
        &self,
        path: &[u8],
        resolve: impl FnOnce(&[u8]) -> Result<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        let (dir, base) = split_parent(path);
        if dir.is_empty() {
            return Ok(path.to_vec());
        }
        let mut out = resolve(dir)?;
        if !out.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(base);
        Ok(out)
    }

    /// Resolves every component of `path` (including the last) through symlinks inside the root.
    pub fn resolve(&self, path: &[u8]) -> Result<Vec<u8>> {
        Ok(self.resolve_watched(path)?.0)
    }

    /// `resolve`, and the paths that did not exist which the walk climbed (`..`) out of: the
    /// result holds while only directories and files at new paths are added (see
    /// `apply::Memo`) and none of these is created (a file there would make `x/..` an error).
    pub(super) fn resolve_watched(&self, path: &[u8]) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
        if path.len() > PATH_MAX.get() {
            let what = limits::shown(path);
            return Err(PATH_MAX.error(what, format!("{} bytes", path.len())));
        }
        // A node of the view other than a symlink is resolved already: keys are resolved,
        // clean paths whose parents are directories.
        match self.nodes.get(path).map(|n| &n.kind) {
            Some(Kind::Symlink(_)) | None => Walk::new(self, path).run(),
            Some(_) => Ok((path.to_vec(), Vec::new())),
        }
    }
}

/// One resolution in progress.
struct Walk<'a> {
    view: &'a MergedView,
    path: &'a [u8],
    /// Components still to walk, the next one last.
    todo: Vec<&'a [u8]>,
    /// Where the walk stands (resolved), its number of components, and how many of those
    /// exist in the view: below a missing one nothing can, so nothing is looked up there.
    cur: Vec<u8>,
    depth: usize,
    found: usize,
    links: usize,
    /// Components walked (see `MAX_LOOKUP_STEPS`).
    steps: usize,
    /// The end in `cur` of the first component that does not exist, when one does not.
    missing_end: usize,
    /// The missing paths a `..` climbed out of (see `resolve_watched`).
    watched: Vec<Vec<u8>>,
}

impl<'a> Walk<'a> {
    fn new(view: &'a MergedView, path: &'a [u8]) -> Walk<'a> {
        let mut w = Walk {
            view,
            path,
            todo: Vec::new(),
            cur: Vec::new(),
            depth: 0,
            found: 0,
            links: 0,
            steps: 0,
            missing_end: 0,
            watched: Vec::new(),
        };
        w.push(path);
        w
    }

    /// Puts the components of `p` in front of what is still to walk.
    fn push(&mut self, p: &'a [u8]) {
        let comps = p.split(|&b| b == b'/').filter(|c| !c.is_empty());
        let at = self.todo.len();
        self.todo.extend(comps);
        self.todo[at..].reverse();
    }

    fn run(mut self) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
        while let Some(c) = self.todo.pop() {
            self.steps += 1;
            if self.steps > MAX_LOOKUP_STEPS.get() {
                let what = format!("{}: resolved through symlinks", limits::shown(self.path));
                let found = format!("{} components walked", self.steps);
                return Err(MAX_LOOKUP_STEPS.error(what, found));
            }
            match c {
                b"." => {}
                b".." => self.up(),
                _ => self.down(c)?,
            }
        }
        self.watched.sort_unstable();
        self.watched.dedup();
        Ok((self.cur, self.watched))
    }

    /// `..`: one component up, never above the root.
    fn up(&mut self) {
        if self.found < self.depth {
            self.watched.push(self.cur[..self.missing_end].to_vec());
        }
        let keep = self.cur.iter().rposition(|&b| b == b'/').unwrap_or(0);
        self.cur.truncate(keep);
        self.depth = self.depth.saturating_sub(1);
        self.found = self.found.min(self.depth);
    }

    /// One component down: into a directory (or a missing one), through a symlink, or onto
    /// anything else when it is the last.
    fn down(&mut self, c: &'a [u8]) -> Result<()> {
        let before = self.cur.len();
        if !self.cur.is_empty() {
            self.cur.push(b'/');
        }
        self.cur.extend_from_slice(c);
        self.depth += 1;
        self.within_limits()?;
        if self.found + 1 < self.depth {
            return Ok(());
        }
        let view = self.view;
        match view.nodes.get(&self.cur[..]).map(|n| &n.kind) {
            None => self.missing_end = self.cur.len(),
            Some(Kind::Dir) => self.found = self.depth,
            Some(Kind::Symlink(t)) => self.follow(before, t)?,
            Some(_) if self.todo.is_empty() => self.found = self.depth,
            Some(k) => {
                return Err(Error::Invalid(format!(
                    "{}: {} is a {}, not a directory",
                    crate::text::sanitize_bytes(self.path),
                    crate::text::sanitize_bytes(&self.cur),
                    k.name()
                )));
            }
        }
        Ok(())
    }

    /// Replaces the symlink just walked into (`cur` was `before` bytes long without it) by
    /// its target: an absolute one from the root, a relative one from the link's directory.
    fn follow(&mut self, before: usize, target: &'a [u8]) -> Result<()> {
        self.links += 1;
        if self.links > MAX_SYMLINKS.get() {
            let what = format!(
                "{}: too many levels of symbolic links",
                limits::shown(self.path)
            );
            return Err(MAX_SYMLINKS.error(what, format!("{} links followed", self.links)));
        }
        self.cur.truncate(before);
        self.depth -= 1;
        if target.starts_with(b"/") {
            self.cur.clear();
            self.depth = 0;
            self.found = 0;
        }
        self.push(target);
        Ok(())
    }

    fn within_limits(&self) -> Result<()> {
        let what = || format!("{}: resolved through symlinks", limits::shown(self.path));
        if self.cur.len() > PATH_MAX.get() {
            return Err(PATH_MAX.error(what(), format!("{} bytes", self.cur.len())));
        }
        if self.depth > MAX_PATH_DEPTH.get() {
            return Err(MAX_PATH_DEPTH.error(what(), format!("{} components", self.depth)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::apply::tests::put;
    use super::*;
    use crate::layer::entry::LayerEntry;

    fn view(links: &[(&str, &str)], dirs: &[&str]) -> MergedView {
        let mut es: Vec<LayerEntry> = dirs.iter().map(|d| put(d, Kind::Dir)).collect();
        es.extend(
            links
                .iter()
                .map(|(p, t)| put(p, Kind::symlink(t.as_bytes()))),
        );
        let mut v = MergedView::new();
        v.apply_layer(0, es).unwrap();
        v
    }

    fn resolved(v: &MergedView, p: &str) -> std::result::Result<String, String> {
        v.resolve(p.as_bytes())
            .map(|r| String::from_utf8(r).unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn links_dots_and_the_root() {
        let v = view(
            &[
                ("lib", "usr/lib"),
                ("up", "../../.."),
                ("abs", "/usr"),
                ("l2", "lib"),
            ],
            &["usr", "usr/lib"],
        );
        for (p, want) in [
            ("lib", "usr/lib"),
            ("lib/x/y", "usr/lib/x/y"),
            ("l2/../bin", "usr/bin"),
            ("up/usr", "usr"),
            ("usr/../../abs/lib", "usr/lib"),
            ("./usr//lib/.", "usr/lib"),
            ("missing/../lib", "usr/lib"),
        ] {
            assert_eq!(resolved(&v, p).as_deref(), Ok(want), "{p}");
        }
    }

    /// A chain `s_i -> s_{i+1}/../s_{i+1}` follows 2^n links for n levels; a nesting-depth
    /// guard let it (38 levels, about 18 hours): counting the links followed ends it after 40,
    /// as the kernel does.
    #[test]
    fn a_doubling_chain_stops_after_forty_links() {
        let names: Vec<String> = (0..400).map(|i| format!("s{i}")).collect();
        let links: Vec<(String, String)> = (0..399)
            .map(|i| (names[i].clone(), format!("{0}/../{0}", names[i + 1])))
            .collect();
        let links: Vec<(&str, &str)> = links.iter().map(|(a, b)| (&a[..], &b[..])).collect();
        let v = view(&links, &["s399"]);
        let e = resolved(&v, "s0/x").unwrap_err();
        assert!(e.contains("too many levels of symbolic links"), "{e}");
        assert!(
            e.ends_with("over the limit of 40 links (MAX_SYMLINKS)"),
            "{e}"
        );
        // Four levels follow 15 links; five, 31.
        assert_eq!(resolved(&v, "s395/x").as_deref(), Ok("s399/x"));
        assert_eq!(resolved(&v, "s394/x").as_deref(), Ok("s399/x"));
    }

    /// Regression: 40 links each to a 4 KB `x/../x/../…/next` (1,600 components) cost every
    /// entry below them 65,000 steps: 20,000 entries took 49 s. A lookup walks at most
    /// `MAX_LOOKUP_STEPS` components; a chain of short targets is still followed.
    #[test]
    fn long_walks_through_padded_links_stop_at_the_limit() {
        let names: Vec<String> = (0..=40).map(|i| format!("L{i}")).collect();
        let chain = |pad: &str| -> Vec<(String, String)> {
            (0..40)
                .map(|i| (names[i].clone(), format!("{pad}{}", names[i + 1])))
                .collect()
        };
        for (pad, ok) in [("x/../".repeat(815), false), ("x/../".repeat(5), true)] {
            let links = chain(&pad);
            let links: Vec<(&str, &str)> = links.iter().map(|(a, b)| (&a[..], &b[..])).collect();
            let v = view(&links, &["L40"]);
            match resolved(&v, "L0/f") {
                Ok(r) => assert!(ok && r == "L40/f", "{r}"),
                Err(e) => {
                    assert!(!ok, "{e}");
                    assert!(
                        e.ends_with("over the limit of 1024 components (MAX_LOOKUP_STEPS)"),
                        "{e}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_loop_and_a_climb_past_path_max_are_errors() {
        let v = view(&[("a", "b"), ("b", "a")], &[]);
        assert!(resolved(&v, "a").unwrap_err().contains("MAX_SYMLINKS"));
        let long = "d/".repeat(200);
        let v = view(&[("deep", &long)], &["d"]);
        assert!(resolved(&v, &format!("deep/{}f", "a/".repeat(50))).is_ok());
        let e = resolved(&v, &format!("deep/{}f", "a/".repeat(60))).unwrap_err();
        assert!(e.contains("(MAX_PATH_DEPTH)"), "{e}");
    }
}
