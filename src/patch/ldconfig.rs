//! What `ldconfig` (glibc 2.36 as Debian builds it, `elf/ldconfig.c`) would write to
//! `/etc/ld.so.cache` for the patched filesystem, without running it: the directories of
//! `/etc/ld.so.conf` (its `include` globs read where they stand, in name order), then the
//! built-in ones (`/lib/TRIPLET`, `/usr/lib/TRIPLET`, `/lib`, `/usr/lib`), a directory reached
//! twice kept where it was first named; in each, the files named like libraries
//! (`lib*.so*`, `ld-*.so*`, `ld.so.*`, `ld64.so.*`) that are shared objects (`ET_DYN` with a
//! dynamic section and string table), by their `SONAME` (else their name); a symlink counts
//! as itself only when it is named for the soname or is the `.so` link of ld(1), and a file
//! beats a link, a higher version a lower one; the soname link of each file is made where it
//! is missing or points elsewhere (`create_links`). The flags are ldconfig's: `FLAG_ELF_LIBC6`
//! with the architecture's bits (x86-64 0x0303, x32 0x0803, AArch64 0x0a03), or for i386
//! objects `FLAG_ELF_LIBC6` when they need libc/libm or name glibc's loader, else
//! `FLAG_ELF`. Directories with hwcap subdirectories (`glibc-hwcaps/`, `tls/`, `x86_64/`,
//! `haswell/`, ...) are refused: their entries would need the hwcap fields.

use crate::error::{Error, Result};
use crate::formats::elf;
use crate::formats::ldcache_write::{NewEntry, libcmp, write};
use crate::layer::entry::Kind;
use crate::model::glob::Glob;
use crate::model::limits::{MAX_LD_SO_CONF_INCLUDES, PATH_MAX};
use crate::view::fs::Fs;
use std::cmp::Ordering;
use std::collections::BTreeSet;

const FLAG_ELF: u32 = 0x0001;
const FLAG_ELF_LIBC6: u32 = 0x0003;

/// The cache and what it holds, for the summary.
pub struct Cache {
    pub bytes: Vec<u8>,
    pub entries: usize,
    pub dirs: Vec<String>,
    /// The soname links ldconfig would make: (path in the image, resolved; target name).
    pub links: Vec<(Vec<u8>, String)>,
}

/// The dpkg architectures regraft writes a cache for: (GNU triplet, x86 rules?).
fn triplet(dpkg_arch: &str) -> Result<(&'static str, bool)> {
    match dpkg_arch {
        "amd64" => Ok(("x86_64-linux-gnu", true)),
        "arm64" => Ok(("aarch64-linux-gnu", false)),
        a => Err(Error::Invalid(format!(
            "regraft writes /etc/ld.so.cache for amd64 and arm64 images; this one is {a}"
        ))),
    }
}

/// Names ldconfig takes for hwcap or platform subdirectories on x86 (and `tls` everywhere).
const HWCAP_NAMES: &[&str] = &[
    "tls", "sse2", "x86_64", "avx512_1", "i586", "i686", "haswell", "xeon_phi",
];

/// The cache ldconfig would write for `fs`'s result.
pub fn regenerate(fs: &mut Fs, dpkg_arch: &str) -> Result<Cache> {
    let (triplet, x86) = triplet(dpkg_arch)?;
    let mut conf = Conf {
        fs,
        dirs: Vec::new(),
        work: 0,
    };
    conf.parse("/etc/ld.so.conf")?;
    let mut named = conf.dirs;
    for d in [
        format!("/lib/{triplet}"),
        format!("/usr/lib/{triplet}"),
        "/lib".into(),
        "/usr/lib".into(),
    ] {
        named.push(d);
    }
    // Each directory once, where it was first named (ldconfig compares inodes).
    let mut seen = BTreeSet::new();
    let mut dirs: Vec<(String, Vec<u8>)> = Vec::new();
    for d in named {
        let d = d.trim_end().trim_end_matches('/').to_string();
        if d.is_empty() {
            continue;
        }
        if d.contains('=') {
            return Err(Error::Invalid(format!(
                "/etc/ld.so.conf names {d}: library types (DIR=TYPE) are not written by regraft's ldconfig"
            )));
        }
        let Some((real, n)) = fs.lookup(&d) else {
            continue;
        };
        if n.kind != Kind::Dir || !seen.insert(real.clone()) {
            continue;
        }
        if let Some(c) = d.rsplit('/').next().filter(|c| HWCAP_NAMES.contains(c)) {
            return Err(hwcaps(&d, c));
        }
        dirs.push((d, real));
    }
    // Every candidate's resolved file, read once.
    let mut candidates: Vec<(usize, String, bool, Vec<u8>)> = Vec::new();
    for (i, (d, real)) in dirs.iter().enumerate() {
        let names: Vec<String> = fs
            .result
            .children(real)
            .map(|k| String::from_utf8_lossy(&k.as_bytes()[real.len() + 1..]).into_owned())
            .collect();
        for name in names {
            let key = [real.as_slice(), b"/", name.as_bytes()].concat();
            let Some(n) = fs.result.get(&key) else {
                continue;
            };
            let is_link = matches!(n.kind, Kind::Symlink(_));
            let target = if is_link {
                match fs.lookup(&format!("{d}/{name}")) {
                    Some((r, t)) => Some((r, t.kind.clone())),
                    None => continue, // a dangling link
                }
            } else {
                Some((key.clone(), n.kind.clone()))
            };
            let Some((resolved, kind)) = target else {
                continue;
            };
            if kind == Kind::Dir {
                if name == "glibc-hwcaps" || HWCAP_NAMES.contains(&name.as_str()) {
                    return Err(hwcaps(&format!("{d}/{name}"), &name));
                }
                continue;
            }
            if !is_dso(&name) || kind != Kind::File {
                continue;
            }
            if name.ends_with(".#prelink#") || name.contains(".#prelink#.") {
                continue;
            }
            candidates.push((i, name, is_link, resolved));
        }
    }
    let paths: Vec<Vec<u8>> = candidates.iter().map(|c| c.3.clone()).collect();
    fs.fetch(&paths)?;
    let mut entries = Vec::new();
    let mut links = Vec::new();
    for (i, (d, _)) in dirs.iter().enumerate() {
        // (name, soname, flags, is_link), as ldconfig's dlibs.
        let mut dlibs: Vec<(String, String, u32, bool)> = Vec::new();
        for (_, name, is_link, resolved) in candidates.iter().filter(|c| c.0 == i) {
            let mut is_link = *is_link;
            let Some(n) = fs.result.get(resolved) else {
                continue;
            };
            let Some(bytes) = fs.data(n)? else {
                return Err(Error::Invalid(format!(
                    "{d}/{name}: its bytes could not be read for ld.so.cache"
                )));
            };
            let Some((flags, soname)) = classify(&bytes, name, x86) else {
                continue;
            };
            let mut soname = soname.unwrap_or_else(|| name.clone());
            if is_link
                && *name != soname
                && !(name.ends_with(".so") && soname.starts_with(name.as_str()))
            {
                is_link = false;
            }
            if is_link {
                soname = name.clone();
            }
            match dlibs.iter_mut().find(|l| l.1 == soname) {
                Some(l) => {
                    let newer = (!is_link && l.3)
                        || (is_link == l.3
                            && libcmp(l.0.as_bytes(), name.as_bytes()) == Ordering::Less);
                    if newer {
                        let libc = |f| f == 0x0002 || f == FLAG_ELF_LIBC6;
                        if l.2 != flags
                            && ((l.2 == FLAG_ELF && libc(flags))
                                || (libc(l.2) && flags == FLAG_ELF))
                        {
                            l.2 = flags;
                        }
                        l.0 = name.clone();
                        l.3 = is_link;
                    }
                }
                None => dlibs.push((name.clone(), soname, flags, is_link)),
            }
        }
        for (name, soname, flags, is_link) in dlibs {
            // create_links: SONAME -> NAME where SONAME is missing, a dangling link, or a
            // link to another file (a file of that name is left alone).
            if !is_link {
                let lib = fs.lookup(&format!("{d}/{name}")).map(|(r, n)| (r, n.inode));
                let so = fs
                    .lookup(&format!("{d}/{soname}"))
                    .map(|(r, n)| (r, n.inode));
                let key = [dirs[i].1.as_slice(), b"/", soname.as_bytes()].concat();
                let is_symlink = fs
                    .result
                    .get(&key)
                    .is_some_and(|n| matches!(n.kind, Kind::Symlink(_)));
                let relink = match (&so, &lib) {
                    (None, _) => true,
                    (Some(s), Some(l)) => s != l && is_symlink,
                    (Some(_), None) => false,
                };
                if relink {
                    links.push((key, name.clone()));
                }
            }
            entries.push(NewEntry {
                flags,
                path: format!("{d}/{soname}"),
                name: soname,
            });
        }
    }
    let generator = generator(fs)?;
    Ok(Cache {
        bytes: write(&entries, &generator),
        entries: entries.len(),
        dirs: dirs.into_iter().map(|(d, _)| d).collect(),
        links,
    })
}

fn hwcaps(path: &str, name: &str) -> Error {
    Error::Invalid(format!(
        "{path}: a hwcap subdirectory ({name}): regraft does not write the hwcap entries ldconfig would give it in /etc/ld.so.cache"
    ))
}

/// `_dl_is_dso`.
fn is_dso(name: &str) -> bool {
    ((name.starts_with("lib") || name.starts_with("ld-")) && name.contains(".so"))
        || name.starts_with("ld.so.")
        || name.starts_with("ld64.so.")
}

/// ldconfig's `process_file`: (flags, SONAME) of a library, None for what it skips (too
/// small, not ELF, not a shared object, no dynamic string table, another machine). a.out
/// libraries (`FLAG_LIBC4`) are not read: None.
fn classify(b: &[u8], name: &str, x86: bool) -> Option<(u32, Option<String>)> {
    if b.len() < 64 || !elf::is_elf(b) {
        let _ = name;
        return None;
    }
    let e = elf::parse(b).ok()?;
    if e.e_type != 3 || !e.dynamic {
        return None;
    }
    let interps: &[&str] = if x86 {
        &[
            "/lib/ld-linux-x86-64.so.2",
            "/lib/ld-linux.so.2",
            "/libx32/ld-linux-x32.so.2",
            "/lib64/ld-linux-x86-64.so.2",
        ]
    } else {
        &[
            "/lib/ld-linux-aarch64.so.1",
            "/lib/ld-linux-aarch64_be.so.1",
            "/lib/ld-linux-aarch64_ilp32.so.1",
            "/lib/ld-linux-aarch64_be_ilp32.so.1",
            "/lib/ld-linux.so.3",
            "/lib/ld-linux-armhf.so.3",
        ]
    };
    let libc6 = e.interp.as_deref().is_some_and(|i| interps.contains(&i))
        || e.needed
            .iter()
            .any(|n| n == "libc.so.6" || n == "libm.so.6");
    let generic = if libc6 { FLAG_ELF_LIBC6 } else { FLAG_ELF };
    let flags = if x86 {
        match (e.machine, e.class) {
            (elf::EM_X86_64, 64) => 0x0300 | FLAG_ELF_LIBC6,
            (elf::EM_X86_64, _) => 0x0800 | FLAG_ELF_LIBC6,
            (elf::EM_386, 32) => generic,
            _ => return None,
        }
    } else if e.class == 64 {
        0x0a00 | FLAG_ELF_LIBC6
    } else {
        // 32-bit ARM objects take their float ABI from e_flags, which regraft does not read.
        return None;
    };
    Some((flags, e.soname))
}

/// The generator string of the `ldconfig` the patched image has (as it would write it):
/// "ldconfig (Debian GLIBC ...) stable release version ...".
fn generator(fs: &mut Fs) -> Result<String> {
    let Some((real, _)) = fs.lookup("/sbin/ldconfig") else {
        return Err(Error::Invalid(
            "the image has no /sbin/ldconfig: regraft takes the cache's generator string from it"
                .into(),
        ));
    };
    fs.fetch(std::slice::from_ref(&real))?;
    let n = fs.result.get(&real).cloned();
    let bytes = match n {
        Some(n) => fs.data(&n)?.unwrap_or_default(),
        None => Vec::new(),
    };
    bytes
        .split(|&b| b == 0)
        .find(|s| s.starts_with(b"ldconfig (") && s.windows(17).any(|w| w == b" release version "))
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .ok_or_else(|| {
            Error::Invalid(
                "/sbin/ldconfig: no \"ldconfig (...) release version ...\" string (not glibc's ldconfig?)"
                    .into(),
            )
        })
}

/// `/etc/ld.so.conf` read as ldconfig reads it: `#` ends a line, `include` takes glob
/// patterns (relative ones beside the file) whose files are read in place, in name order;
/// `hwcap` lines are ignored; any other line is one directory.
struct Conf<'a> {
    fs: &'a Fs,
    dirs: Vec<String>,
    work: usize,
}

impl Conf<'_> {
    fn parse(&mut self, file: &str) -> Result<()> {
        self.work += 1;
        if self.work > MAX_LD_SO_CONF_INCLUDES.get() {
            return Err(MAX_LD_SO_CONF_INCLUDES.error(
                format!("{file}: ld.so.conf and its includes"),
                format!("{} files read and patterns expanded", self.work),
            ));
        }
        let Some(b) = self.fs.read_result(file)? else {
            return Ok(());
        };
        for line in String::from_utf8_lossy(&b).lines() {
            let line = line.split('#').next().unwrap_or("");
            let cp = line.trim_start();
            if cp.is_empty() {
                continue;
            }
            if let Some(rest) = cp.strip_prefix("include")
                && rest.starts_with([' ', '\t'])
            {
                for pat in rest[1..].split([' ', '\t']).filter(|p| !p.is_empty()) {
                    let pat = if pat.starts_with('/') {
                        pat.to_string()
                    } else {
                        // ldconfig -r needs absolute patterns; a relative one is beside the file.
                        let dir = file.rsplit_once('/').map_or("", |x| x.0);
                        format!("{dir}/{pat}")
                    };
                    for f in self.glob(&pat) {
                        self.parse(&f)?;
                    }
                }
            } else if cp.len() >= 6
                && cp[..5].eq_ignore_ascii_case("hwcap")
                && cp[5..].starts_with([' ', '\t'])
            {
                continue;
            } else {
                self.dirs.push(cp.to_string());
            }
        }
        Ok(())
    }

    /// The files a pattern names (the glob over its last component), in name order.
    fn glob(&self, pat: &str) -> Vec<String> {
        if pat.len() > PATH_MAX.get() {
            return Vec::new();
        }
        let (dir, last) = pat.rsplit_once('/').unwrap_or(("", pat));
        let Some((rdir, n)) = self.fs.lookup(if dir.is_empty() { "/" } else { dir }) else {
            return Vec::new();
        };
        if n.kind != Kind::Dir {
            return Vec::new();
        }
        let g = Glob::new(last.as_bytes());
        let mut v: Vec<String> = self
            .fs
            .result
            .children(&rdir)
            .map(|k| String::from_utf8_lossy(&k.as_bytes()[rdir.len() + 1..]).into_owned())
            .filter(|name| !name.starts_with('.') && g.matches(name.as_bytes()))
            .map(|name| format!("{dir}/{name}"))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names_as_ldconfig_takes_them() {
        for (n, want) in [
            ("libc.so.6", true),
            ("ld-linux-x86-64.so.2", true),
            ("libfoo.so", true),
            ("libfoo.a", false),
            ("ld.so.1", true),
            ("foo.so.1", false),
        ] {
            assert_eq!(is_dso(n), want, "{n}");
        }
    }
}
