//! The key of a node of the merged view: its path, whose bytes may be shared. The implicit
//! parent directories one tar entry creates are prefixes of its path and keep no copy of their
//! own, so an entry costs memory linear in its name, not its depth times its name; a hardlink's
//! origin shares its target's.

use std::borrow::Borrow;
use std::sync::Arc;

/// A path inside the image (`usr/lib/x`): the first `len` bytes of a shared buffer. Compares,
/// orders and hashes as those bytes, so maps keyed by it are looked up with a `&[u8]`.
#[derive(Clone)]
pub struct Key {
    buf: Arc<[u8]>,
    len: usize,
}

impl Key {
    pub fn new(p: &[u8]) -> Key {
        Key {
            buf: Arc::from(p),
            len: p.len(),
        }
    }

    /// The first `len` bytes (a parent's path), sharing the bytes.
    pub fn prefix(&self, len: usize) -> Key {
        Key {
            buf: Arc::clone(&self.buf),
            len: len.min(self.len),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl From<Vec<u8>> for Key {
    fn from(v: Vec<u8>) -> Key {
        let len = v.len();
        Key {
            buf: Arc::from(v),
            len,
        }
    }
}

impl From<&[u8]> for Key {
    fn from(p: &[u8]) -> Key {
        Key::new(p)
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Key {
    fn eq(&self, o: &Key) -> bool {
        self.as_bytes() == o.as_bytes()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, o: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Key {
    fn cmp(&self, o: &Key) -> std::cmp::Ordering {
        self.as_bytes().cmp(o.as_bytes())
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_bytes().hash(h)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", crate::text::lossless(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap};

    #[test]
    fn a_prefix_is_its_bytes_in_maps() {
        let k = Key::new(b"a/b/c");
        let p = k.prefix(3);
        assert_eq!(&*p, b"a/b");
        assert!(Arc::ptr_eq(&k.buf, &p.buf));
        assert_eq!(p, Key::new(b"a/b"));
        let mut m = BTreeMap::new();
        m.insert(p.clone(), 1);
        m.insert(Key::from(b"a".to_vec()), 0);
        assert_eq!(m.get(&b"a/b"[..]), Some(&1));
        assert_eq!(
            m.keys().map(|k| k.to_vec()).collect::<Vec<_>>(),
            [&b"a"[..], b"a/b"]
        );
        let h: HashMap<(usize, Key), u8> = [((1, p), 7)].into();
        assert_eq!(h.get(&(1, Key::new(b"a/b"))), Some(&7));
    }
}
