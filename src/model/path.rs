//! Paths inside an image, as regraft keeps them: relative to the root, `/`-separated, no `.`
//! or `..` components, no leading or trailing `/` (`opt/vendor/bin`); the root is the empty
//! path. Tar names are cleaned into this form by `layer::entry::clean_path`; user-given paths
//! by `clean_selection`.

use crate::error::{Error, Result};

/// Cleans a `--path`: absolute or relative to the root, `..` resolved lexically and never
/// above the root. The root itself is refused (that is layer mode's job).
pub fn clean_selection(p: &str) -> Result<Vec<u8>> {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(Error::Usage(format!("--path {p:?} leaves the image root")));
                }
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(Error::Usage(format!(
            "--path {p:?} selects the whole root; omit --path to move the vendor's layers (layer mode)"
        )));
    }
    if p.contains('\0') {
        return Err(Error::Usage("--path contains NUL".into()));
    }
    Ok(parts.join("/").into_bytes())
}

/// Drops selections inside other selections.
pub fn dedupe_selections(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v.dedup();
    let mut out: Vec<Vec<u8>> = Vec::new();
    for p in v {
        if !out
            .iter()
            .any(|a| p.starts_with(a) && p.get(a.len()) == Some(&b'/'))
        {
            out.push(p);
        }
    }
    out
}

/// True when `p` is `sel` or lies below it.
pub fn is_under(p: &[u8], sel: &[u8]) -> bool {
    p == sel || (p.starts_with(sel) && p.get(sel.len()) == Some(&b'/'))
}

/// `a/b` (either may be the root).
pub fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut k = a.to_vec();
    if !k.is_empty() && !b.is_empty() {
        k.push(b'/');
    }
    k.extend_from_slice(b);
    k
}

/// Every proper ancestor of `p` but the root, outermost first (`a`, `a/b` for `a/b/c`).
pub fn ancestors(p: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, b) in p.iter().enumerate() {
        if *b == b'/' {
            out.push(p[..i].to_vec());
        }
    }
    out
}
