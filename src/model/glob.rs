//! `--exclude GLOB`: patterns matched against an entry's cleaned absolute path (`/opt/x/y`).
//! `*` and `?` stop at `/`, `**` crosses it. A path is excluded when it or any of its parent
//! directories matches, so a matching directory drops its subtree. A whiteout is matched by
//! the path it deletes.

use crate::error::{Error, Result};

#[derive(Clone, Debug, Default)]
pub struct Excludes {
    pats: Vec<Vec<u8>>,
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') if p.get(1) == Some(&b'*') => {
            let rest = &p[2..];
            // `**/` also matches no directory at all.
            if rest.first() == Some(&b'/') && glob(&rest[1..], s) {
                return true;
            }
            (0..=s.len()).any(|i| glob(rest, &s[i..]))
        }
        Some(b'*') => {
            let rest = &p[1..];
            let mut i = 0;
            loop {
                if glob(rest, &s[i..]) {
                    return true;
                }
                if i == s.len() || s[i] == b'/' {
                    return false;
                }
                i += 1;
            }
        }
        Some(b'?') => !s.is_empty() && s[0] != b'/' && glob(&p[1..], &s[1..]),
        Some(c) => s.first() == Some(c) && glob(&p[1..], &s[1..]),
    }
}

impl Excludes {
    pub fn new(globs: &[String]) -> Result<Excludes> {
        let mut pats = Vec::new();
        for g in globs {
            if g.is_empty() {
                return Err(Error::Usage("--exclude needs a pattern".into()));
            }
            // Patterns are absolute; a relative one is taken from the root.
            let mut p = g.trim_end_matches('/').as_bytes().to_vec();
            if !p.starts_with(b"/") {
                p.insert(0, b'/');
            }
            pats.push(p);
        }
        Ok(Excludes { pats })
    }

    pub fn is_empty(&self) -> bool {
        self.pats.is_empty()
    }

    /// Whether the cleaned relative path `rel` (`opt/x`) or a parent of it matches.
    pub fn excludes(&self, rel: &[u8]) -> bool {
        if self.pats.is_empty() || rel.is_empty() {
            return false;
        }
        let mut abs = Vec::with_capacity(rel.len() + 1);
        abs.push(b'/');
        abs.extend_from_slice(rel);
        let mut ends: Vec<usize> = abs
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, b)| **b == b'/')
            .map(|(i, _)| i)
            .collect();
        ends.push(abs.len());
        ends.iter()
            .any(|&e| self.pats.iter().any(|p| glob(p, &abs[..e])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let e = Excludes::new(&[
            "/opt/vendor/*.jar".into(),
            "**/__pycache__".into(),
            "/srv/?.txt".into(),
        ])
        .unwrap();
        assert!(e.excludes(b"opt/vendor/a.jar"));
        assert!(!e.excludes(b"opt/vendor/lib/a.jar"), "* stops at /");
        assert!(
            e.excludes(b"usr/lib/python3/__pycache__/x.pyc"),
            "a matching directory drops its subtree"
        );
        assert!(e.excludes(b"__pycache__"), "**/ matches no directory too");
        assert!(e.excludes(b"srv/a.txt"));
        assert!(!e.excludes(b"srv/ab.txt"));
        let all = Excludes::new(&["/opt/**".into()]).unwrap();
        assert!(all.excludes(b"opt/a/b/c"));
        assert!(!all.excludes(b"optx"));
        assert!(!Excludes::default().excludes(b"anything"));
    }
}
