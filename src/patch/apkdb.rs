//! apk-tools 2's database files as a patch reads and writes them: `installed` blocks (their
//! files with their `Z:` checksums), a new version's block in `apk_db_write_fdb`'s order,
//! `scripts.tar` (entries named after each package's identity), and apk's protected paths
//! (`+etc`, `@etc/init.d`, `!etc/apk`, `etc/apk/protected_paths.d/*.list`).

use super::apk::{self, Apk};
use super::apkrepo::{fields_of, letter, parse_block};
use crate::layer::entry::{Kind, Meta};
use crate::model::limits::MAX_SYSTEM_FILE;
use crate::view::contents::Contents;
use sha1::Digest as _;
use std::io::Read;

/// One `installed` block: its raw text and its fields.
pub struct Block {
    pub raw: String,
    pub fields: Vec<(String, String)>,
}

impl Block {
    pub fn get(&self, l: &str) -> Option<String> {
        letter(&self.fields, l)
    }
    /// The files and symlinks the block owns: (path, `Z:` checksum).
    pub fn files(&self) -> Vec<(String, Option<String>)> {
        let mut out: Vec<(String, Option<String>)> = Vec::new();
        let mut dir = String::new();
        for (k, v) in &self.fields {
            match k.as_str() {
                "F" => dir = v.clone(),
                "R" if dir.is_empty() => out.push((v.clone(), None)),
                "R" => out.push((format!("{dir}/{v}"), None)),
                "Z" => {
                    if let Some(last) = out.last_mut() {
                        last.1 = Some(v.clone());
                    }
                }
                _ => {}
            }
        }
        out
    }
}

pub fn blocks(db: &str) -> Vec<Block> {
    db.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| Block {
            raw: b.trim_matches('\n').to_string(),
            fields: parse_block(b),
        })
        .collect()
}

/// apk's protected paths: the defaults (`+etc`, `@etc/init.d`, `!etc/apk`) and the `.list`
/// files of `etc/apk/protected_paths.d`; the longest rule that covers a directory decides,
/// `-` unprotects.
pub struct Protect(Vec<(Vec<u8>, bool)>);

impl Protect {
    pub fn read(c: &Contents) -> Protect {
        let mut rules: Vec<(Vec<u8>, bool)> = vec![
            (b"etc".to_vec(), true),
            (b"etc/init.d".to_vec(), true),
            (b"etc/apk".to_vec(), true),
        ];
        let dir = b"etc/apk/protected_paths.d";
        for (k, n) in c.view.subtree(dir) {
            if n.kind != Kind::File || !k.as_bytes().ends_with(b".list") {
                continue;
            }
            let Some(body) = c.kept_at(k.as_bytes()) else {
                continue;
            };
            for l in String::from_utf8_lossy(body).lines() {
                let (on, p) = match l.as_bytes().first() {
                    Some(b'-') => (false, &l[1..]),
                    Some(b'+' | b'@' | b'!') => (true, &l[1..]),
                    Some(_) => (true, l),
                    None => continue,
                };
                let p = p.trim_matches('/');
                if !p.is_empty() {
                    rules.push((p.as_bytes().to_vec(), on));
                }
            }
        }
        Protect(rules)
    }
    pub fn covers(&self, path: &[u8]) -> bool {
        let dir = path
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(&b""[..], |i| &path[..i]);
        let under = |r: &[u8]| {
            crate::model::glob::matches(r, dir)
                || (dir.starts_with(r) && dir.get(r.len()) == Some(&b'/'))
        };
        self.0
            .iter()
            .filter(|(r, _)| under(r))
            .max_by_key(|(r, _)| r.len())
            .is_some_and(|(_, on)| *on)
    }
}

/// What the image has at `dest` as apk would hash it (a file's or a symlink target's SHA1),
/// when regraft read it.
pub fn on_disk(c: &Contents, dest: &[u8]) -> Option<Vec<u8>> {
    let n = c.view.get(dest)?;
    match &n.kind {
        Kind::Symlink(t) => Some(sha1::Sha1::digest(&t[..]).to_vec()),
        Kind::File => c.kept_at(dest).map(|b| sha1::Sha1::digest(b).to_vec()),
        _ => None,
    }
}

/// One file of a new version, for its block: (dir, name, mode, uid, gid, sha1).
pub struct Owned {
    pub dir: String,
    pub name: String,
    pub meta: Meta,
    pub sha1: Option<Vec<u8>>,
}

/// The `installed` block of a new version (apk-tools 2's `apk_db_write_fdb`).
pub fn new_block(a: &Apk, old: Option<&Block>, dirs: &[(String, Meta)], files: &[Owned]) -> String {
    let f = fields_of(a);
    let get = |l| letter(&f, l);
    let mut s = String::new();
    let mut line = |k: &str, v: &str| {
        s.push_str(k);
        s.push(':');
        s.push_str(v);
        s.push('\n');
    };
    line("C", &a.identity);
    line("P", a.name());
    line("V", a.version());
    if let Some(v) = get("A") {
        line("A", &v);
    }
    line("S", &a.size.to_string());
    line("I", &get("I").unwrap_or_else(|| "0".into()));
    for l in ["T", "U", "L"] {
        line(l, &get(l).unwrap_or_default());
    }
    for l in ["o", "m", "t", "c", "k"] {
        if let Some(v) = get(l) {
            line(l, &v);
        }
    }
    for l in ["D", "p", "i"] {
        let v: Vec<String> = f
            .iter()
            .filter(|(k, _)| k == l)
            .flat_map(|(_, v)| v.split_whitespace().map(str::to_string))
            .collect();
        if !v.is_empty() {
            line(l, &v.join(" "));
        }
    }
    let replaces = a.all("replaces");
    if !replaces.is_empty() {
        line("r", &replaces.join(" "));
    }
    if let Some(q) = a.get("replaces_priority").filter(|q| *q != "0") {
        line("q", q);
    }
    if let Some(tag) = old.and_then(|o| o.get("s")) {
        line("s", &tag);
    }
    let acl = |m: &Meta| format!("{}:{}:{:o}", m.uid, m.gid, m.mode & 0o7777);
    for (dir, meta) in dirs {
        line("F", dir);
        if (meta.mode & 0o7777, meta.uid, meta.gid) != (0o755, 0, 0) {
            line("M", &acl(meta));
        }
        for o in files.iter().filter(|o| o.dir == *dir) {
            line("R", &o.name);
            if (o.meta.mode & 0o7777, o.meta.uid, o.meta.gid) != (0o644, 0, 0) {
                line("a", &acl(&o.meta));
            }
            if let Some(h) = &o.sha1 {
                line("Z", &apk::q1(h));
            }
        }
    }
    s
}

/// `scripts.tar` with the entries of the old versions (`NAME-VERSION.CSUM.ACTION`) taken out and
/// the new versions' scripts added at the end (as apk appends a newly installed package), each
/// mode 0755 with the package's build time, as `apk_db_scriptdb_write` writes them.
pub fn scripts_tar(
    old: &[u8],
    olds: &[(String, String, String)],
    apks: &[Apk],
) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let mut put = |name: &str, mode: u32, mtime: u64, data: &[u8]| -> std::io::Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_path(name)?;
        h.set_cksum();
        b.append(&h, data)
    };
    if !old.is_empty() {
        let mut ar = tar::Archive::new(old);
        for e in ar.entries()? {
            let mut e = e?;
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let gone = olds
                .iter()
                .any(|(n, v, c)| name.starts_with(&format!("{n}-{v}.{c}.")));
            if gone || e.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let (mode, mtime) = (e.header().mode()?, e.header().mtime()?);
            let mut v = Vec::new();
            (&mut e).take(MAX_SYSTEM_FILE.value).read_to_end(&mut v)?;
            put(&name, mode, mtime, &v)?;
        }
    }
    for a in apks {
        let t: u64 = a.get("builddate").and_then(|t| t.parse().ok()).unwrap_or(0);
        for s in apk::SCRIPTS {
            if let Some(body) = a.scripts.get(*s) {
                put(
                    &format!("{}-{}.{}.{s}", a.name(), a.version(), a.identity),
                    0o755,
                    t,
                    body,
                )?;
            }
        }
    }
    b.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_files_pair_paths_with_checksums() {
        let b =
            &blocks("C:Q1x=\nP:a\nV:1\nF:usr\nF:usr/bin\nR:a\na:0:0:755\nZ:Q1abc=\nR:b\n\nP:c\n")
                [0];
        assert_eq!(
            b.files(),
            [
                ("usr/bin/a".to_string(), Some("Q1abc=".to_string())),
                ("usr/bin/b".to_string(), None)
            ]
        );
    }
}
