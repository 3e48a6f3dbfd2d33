//! The files of two merged filesystems compared entry by entry: type, mode, owner, size,
//! content digest and symlink target (mtimes are left out: any rebuild changes them all).

use crate::layer::entry::Kind;
use crate::view::Node;
use crate::view::contents::Contents;
use crate::view::merged::Key;
use serde::Serialize;

/// One entry of a merged filesystem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Permission bits in octal, setuid/setgid/sticky included (`0755`, `4755`).
    pub mode: String,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub digest: Option<String>,
    pub link: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FileChange {
    pub path: String,
    /// Which of type, mode, owner, size, digest, link changed.
    pub changed: Vec<&'static str>,
    pub old: FileEntry,
    pub new: FileEntry,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FileChanges {
    pub added: Vec<FileEntry>,
    pub removed: Vec<FileEntry>,
    pub changed: Vec<FileChange>,
}

fn entry(path: &Key, n: &Node, c: &Contents) -> FileEntry {
    FileEntry {
        path: format!("/{}", String::from_utf8_lossy(path)),
        kind: n.kind.short_name(),
        mode: format!("{:04o}", n.meta.mode & 0o7777),
        uid: n.meta.uid,
        gid: n.meta.gid,
        size: if n.kind == Kind::File { n.size } else { 0 },
        digest: if n.kind == Kind::File {
            c.digests.get(&n.origin(path)).map(|d| d.to_string())
        } else {
            None
        },
        link: match &n.kind {
            Kind::Symlink(t) => Some(String::from_utf8_lossy(t).into_owned()),
            _ => None,
        },
    }
}

pub fn file_changes(old: &Contents, new: &Contents) -> FileChanges {
    let mut out = FileChanges::default();
    for (p, n) in &old.view.nodes {
        let a = entry(p, n, old);
        let Some(m) = new.view.nodes.get(p) else {
            out.removed.push(a);
            continue;
        };
        let b = entry(p, m, new);
        let changed = a.differences(&b);
        if !changed.is_empty() {
            out.changed.push(FileChange {
                path: a.path.clone(),
                changed,
                old: a,
                new: b,
            });
        }
    }
    for (p, m) in &new.view.nodes {
        if !old.view.nodes.contains_key(p) {
            out.added.push(entry(p, m, new));
        }
    }
    out
}

impl FileEntry {
    /// Which of type, mode, owner, size, digest and link differ from `other`, in that order.
    fn differences(&self, other: &FileEntry) -> Vec<&'static str> {
        [
            ("type", self.kind != other.kind),
            ("mode", self.mode != other.mode),
            ("owner", (self.uid, self.gid) != (other.uid, other.gid)),
            ("size", self.size != other.size),
            ("digest", self.digest != other.digest),
            ("link", self.link != other.link),
        ]
        .into_iter()
        .filter_map(|(name, differs)| differs.then_some(name))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_each_attribute_once_in_order() {
        let a = FileEntry {
            path: "/x".into(),
            kind: "file",
            mode: "0644".into(),
            uid: 0,
            gid: 0,
            size: 3,
            digest: Some("sha256:a".into()),
            link: None,
        };
        assert!(a.differences(&a.clone()).is_empty());
        let mut b = a.clone();
        b.gid = 1;
        b.size = 4;
        b.digest = Some("sha256:b".into());
        assert_eq!(a.differences(&b), ["owner", "size", "digest"]);
        let l = FileEntry {
            kind: "symlink",
            size: 0,
            digest: None,
            link: Some("y".into()),
            ..a.clone()
        };
        assert_eq!(a.differences(&l), ["type", "size", "digest", "link"]);
    }
}
