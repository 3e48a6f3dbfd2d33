//! The key of a node of the merged view: its path, whose bytes may be shared. The implicit
//! parent directories one tar entry creates are prefixes of its path and keep no copy of their
//! own, so an entry costs memory linear in its name, not its depth times its name; a hardlink's
//! origin shares its target's.

use std::borrow::Borrow;
use std::sync::Arc;

/// A path inside the image (`usr/lib/x`): `len` bytes at `off` of a shared buffer (one per
/// path, or one for a batch of a layer's paths: `Key::many`). Compares, orders and hashes as
/// those bytes, so maps keyed by it are looked up with a `&[u8]`. Two words: the buffer is
/// behind a thin pointer.
#[derive(Clone)]
pub struct Key {
    buf: Arc<Box<[u8]>>,
    off: u32,
    len: u32,
}

/// A path's length as a key stores it. Paths are bounded by `limits::PATH_MAX` long before.
fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("a path of 4 GiB")
}

impl Key {
    pub fn new(p: &[u8]) -> Key {
        Key {
            buf: Arc::new(p.into()),
            off: 0,
            len: len32(p.len()),
        }
    }

    /// Keys for `paths` sharing one buffer, so that a batch of a layer's paths costs their
    /// bytes and not an allocation each.
    pub fn many<'a>(paths: impl Iterator<Item = &'a [u8]> + Clone) -> Vec<Key> {
        let total: usize = paths.clone().map(<[u8]>::len).sum();
        if u32::try_from(total).is_err() {
            return paths.map(Key::new).collect();
        }
        let mut bytes = Vec::with_capacity(total);
        let mut spans = Vec::new();
        for p in paths {
            spans.push((len32(bytes.len()), len32(p.len())));
            bytes.extend_from_slice(p);
        }
        let buf = Arc::new(bytes.into_boxed_slice());
        spans
            .into_iter()
            .map(|(off, len)| Key {
                buf: Arc::clone(&buf),
                off,
                len,
            })
            .collect()
    }

    /// The first `len` bytes (a parent's path), sharing the bytes.
    pub fn prefix(&self, len: usize) -> Key {
        Key {
            buf: Arc::clone(&self.buf),
            off: self.off,
            len: len32(len).min(self.len),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        let off = self.off as usize;
        &self.buf[off..off + self.len as usize]
    }
}

impl From<Vec<u8>> for Key {
    fn from(v: Vec<u8>) -> Key {
        let len = len32(v.len());
        Key {
            buf: Arc::new(v.into_boxed_slice()),
            off: 0,
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
        let ks = Key::many([&b"x/y"[..], b"", b"zz"].into_iter());
        assert_eq!(
            ks.iter().map(|k| k.to_vec()).collect::<Vec<_>>(),
            [&b"x/y"[..], b"", b"zz"]
        );
        assert!(Arc::ptr_eq(&ks[0].buf, &ks[2].buf));
        assert_eq!(ks[0].prefix(1), Key::new(b"x"));
        assert_eq!(std::mem::size_of::<Key>(), 16);
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
