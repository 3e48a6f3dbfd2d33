//! The dynamic loader's configuration as the result image has it: `/etc/ld.so.cache`,
//! `/etc/ld.so.conf` with its `include`s, `/etc/ld-musl-ARCH.path`, the config's
//! `LD_LIBRARY_PATH`, and which C library's loader the base provides.

use super::Libc;
use super::loader::{self, Loader};
use super::report::{Finding, Severity};
use crate::error::Result;
use crate::formats::{elf, ldcache};
use crate::layer::entry::Kind;
use crate::model::glob::Glob;
use crate::view::fs::Fs;
use std::collections::{BTreeMap, BTreeSet};

/// The loader of the result for programs of `machine`; an unreadable cache is a warning in
/// `out`.
pub fn loader<'a>(
    fs: &'a Fs,
    env: &BTreeMap<String, String>,
    machine: u16,
    out: &mut Vec<Finding>,
) -> Result<Loader<'a>> {
    let cache = cache(fs, out)?;
    let conf_dirs = ld_so_conf_dirs(fs)?;
    let musl_path = musl_path(fs, machine)?;
    Ok(Loader {
        fs,
        ld_library_path: ld_library_path(env),
        cache,
        conf_dirs,
        musl_path,
        triplet: loader::triplet(machine),
    })
}

/// `/etc/ld-musl-ARCH.path`: directories, one a line or `:`-separated.
fn musl_path(fs: &Fs, machine: u16) -> Result<Option<Vec<String>>> {
    let march = loader::musl_arch(machine);
    Ok(fs
        .read_result(&format!("/etc/ld-musl-{march}.path"))?
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split(['\n', ':'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        }))
}

/// `/etc/ld.so.cache`, when the result has a readable one.
fn cache(fs: &Fs, out: &mut Vec<Finding>) -> Result<Option<ldcache::LdCache>> {
    let Some(b) = fs.read_result("/etc/ld.so.cache")? else {
        return Ok(None);
    };
    match ldcache::LdCache::parse(&b) {
        Ok(c) => Ok(Some(c)),
        Err(e) => {
            out.push(Finding::new(
                Severity::Warning,
                "unreadable-ld-so-cache",
                "/etc/ld.so.cache",
                "a glibc-ld.so.cache1.1 file".into(),
                e.chain(),
            ));
            Ok(None)
        }
    }
}

/// The config's `LD_LIBRARY_PATH` (`:` or `;` separated), empty elements dropped.
fn ld_library_path(env: &BTreeMap<String, String>) -> Vec<String> {
    env.get("LD_LIBRARY_PATH")
        .map(|v| {
            v.split([':', ';'])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The C library whose loader the result has for `machine`, glibc's first.
pub fn base_libc(ld: &Loader<'_>, machine: u16) -> Option<Libc> {
    let glibc_loader = match machine {
        elf::EM_X86_64 => "/lib64/ld-linux-x86-64.so.2",
        elf::EM_AARCH64 => "/lib/ld-linux-aarch64.so.1",
        elf::EM_386 => "/lib/ld-linux.so.2",
        elf::EM_ARM => "/lib/ld-linux-armhf.so.3",
        _ => "/lib/ld-linux.so.2",
    };
    let musl_loader = format!("/lib/ld-musl-{}.so.1", loader::musl_arch(machine));
    if ld.file_at(glibc_loader).is_some() {
        Some(Libc::Glibc)
    } else if ld.file_at(&musl_loader).is_some() {
        Some(Libc::Musl)
    } else {
        None
    }
}

/// The directories `/etc/ld.so.conf` names (with its `include`s), with the file naming each.
pub fn ld_so_conf_dirs(fs: &Fs) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut todo = vec!["/etc/ld.so.conf".to_string()];
    let mut seen = BTreeSet::new();
    while let Some(f) = todo.pop() {
        if !seen.insert(f.clone()) || seen.len() > 256 {
            continue;
        }
        let Some(b) = fs.read_result(&f)? else {
            continue;
        };
        let (dirs, includes) = parse_ld_so_conf(&String::from_utf8_lossy(&b));
        out.extend(dirs.into_iter().map(|d| (d, f.clone())));
        for inc in includes {
            // Pushed last first: the stack then reads them in name order.
            let mut files = included(fs, &inc);
            files.reverse();
            todo.extend(files);
        }
    }
    Ok(out)
}

/// The files an `include` pattern names (relative to `/etc`; the glob is over the last
/// component), in name order.
fn included(fs: &Fs, inc: &str) -> Vec<String> {
    let inc = if inc.starts_with('/') {
        inc.to_string()
    } else {
        format!("/etc/{inc}")
    };
    let (dir, pat) = inc.rsplit_once('/').unwrap_or(("", &inc));
    let Some((rdir, n)) = fs.lookup(dir) else {
        return Vec::new();
    };
    if n.kind != Kind::Dir {
        return Vec::new();
    }
    let glob = Glob::new(pat.as_bytes());
    let mut files: Vec<String> = fs
        .result
        .subtree(&rdir)
        .filter(|(k, _)| k.len() > rdir.len() && !k[rdir.len() + 1..].contains(&b'/'))
        .map(|(k, _)| String::from_utf8_lossy(&k[rdir.len() + 1..]).into_owned())
        .filter(|name| glob.matches(name.as_bytes()))
        .map(|name| format!("{dir}/{name}"))
        .collect();
    files.sort();
    files
}

/// Parses `ld.so.conf`-style text: directories, and `include` globs (returned separately).
pub fn parse_ld_so_conf(text: &str) -> (Vec<String>, Vec<String>) {
    let mut dirs = Vec::new();
    let mut includes = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("include")
            && rest.starts_with(char::is_whitespace)
        {
            includes.extend(rest.split_whitespace().map(str::to_string));
            continue;
        }
        if line.starts_with("hwcap") {
            continue;
        }
        dirs.extend(
            line.split(|c: char| c == ':' || c == ',' || c.is_whitespace())
                .filter(|d| !d.is_empty())
                .map(str::to_string),
        );
    }
    (dirs, includes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::tests::{T, layer};
    use crate::view::fs::FsInput;

    #[test]
    fn ld_so_conf() {
        let (d, i) = parse_ld_so_conf(
            "# comment\ninclude /etc/ld.so.conf.d/*.conf\n/opt/a/lib\n/opt/b:/opt/c # x\nhwcap 0 nosegneg\n",
        );
        assert_eq!(d, vec!["/opt/a/lib", "/opt/b", "/opt/c"]);
        assert_eq!(i, vec!["/etc/ld.so.conf.d/*.conf"]);
    }

    #[test]
    fn ld_so_conf_with_includes() {
        let conf = layer(&[
            T::File(
                "etc/ld.so.conf",
                0o644,
                "include /etc/ld.so.conf.d/*.conf\n/opt/a\n",
            ),
            T::File("etc/ld.so.conf.d/x.conf", 0o644, "/opt/x\n"),
            T::File(
                "etc/ld.so.conf.d/y.conf",
                0o644,
                "/opt/y\ninclude ld.so.conf.d/more/?.conf\n",
            ),
            T::File("etc/ld.so.conf.d/more/z.conf", 0o644, "/opt/z:/opt/zz\n"),
            T::File("etc/ld.so.conf.d/more/zz.conf", 0o644, "/opt/no\n"),
            T::File("etc/ld.so.conf.d/notes.txt", 0o644, "/opt/no\n"),
        ]);
        let fs = Fs::build(&FsInput {
            name: "img",
            layers: &[conf],
            boundary: 1,
            max_layer_size: u64::MAX,
            verify: crate::view::fs::Verify::Here,
        })
        .unwrap();
        let got = ld_so_conf_dirs(&fs).unwrap();
        let want = [
            ("/opt/a", "/etc/ld.so.conf"),
            ("/opt/x", "/etc/ld.so.conf.d/x.conf"),
            ("/opt/y", "/etc/ld.so.conf.d/y.conf"),
            ("/opt/z", "/etc/ld.so.conf.d/more/z.conf"),
            ("/opt/zz", "/etc/ld.so.conf.d/more/z.conf"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(d, f)| (d.to_string(), f.to_string()))
            .collect();
        assert_eq!(got, want);
    }
}
