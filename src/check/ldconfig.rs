//! The dynamic loader's configuration as the result image has it: `/etc/ld.so.cache`,
//! `/etc/ld.so.conf` with its `include`s, `/etc/ld-musl-ARCH.path`, the config's
//! `LD_LIBRARY_PATH`, and which C library's loader the base provides.

use super::Libc;
use super::loader::{self, Loader};
use super::report::{Finding, Severity};
use crate::error::{Error, Result};
use crate::formats::{elf, ldcache};
use crate::layer::entry::Kind;
use crate::model::glob::Glob;
use crate::model::limits::{MAX_LD_SO_CONF_INCLUDES, PATH_MAX};
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
    let conf_dirs = ld_so_conf_dirs(fs, out)?;
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
    let parsed = match fs.read_result("/etc/ld.so.cache") {
        Ok(None) => return Ok(None),
        Ok(Some(b)) => ldcache::LdCache::parse(&b),
        Err(e @ Error::Limit { .. }) => Err(e),
        Err(e) => return Err(e),
    };
    match parsed {
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
/// Each file is read once, where it is first named, and each pattern expanded once; files read
/// and patterns expanded together stop at `MAX_LD_SO_CONF_INCLUDES`, and a file past that or past `MAX_SYSTEM_FILE` is a
/// warning in `out` (the directories read so far count).
pub fn ld_so_conf_dirs(fs: &Fs, out: &mut Vec<Finding>) -> Result<Vec<(String, String)>> {
    let mut conf = Conf {
        fs,
        dirs: Vec::new(),
        todo: vec![LD_SO_CONF.to_string()],
        seen: BTreeSet::from([LD_SO_CONF.to_string()]),
        patterns: BTreeSet::new(),
        work: 0,
    };
    while let Some(f) = conf.todo.pop() {
        if let Err(e) = conf.read(&f) {
            out.push(Finding::new(
                Severity::Warning,
                "unreadable-ld-so-conf",
                &f,
                "an ld.so.conf the check reads in full".into(),
                e.chain(),
            ));
            break;
        }
    }
    Ok(conf.dirs)
}

const LD_SO_CONF: &str = "/etc/ld.so.conf";

/// `ld.so.conf` and its includes as they are read.
struct Conf<'a> {
    fs: &'a Fs,
    /// The directories so far, with the file naming each.
    dirs: Vec<(String, String)>,
    /// Files still to read, the next last, and every file ever put there.
    todo: Vec<String>,
    seen: BTreeSet<String>,
    /// Every pattern expanded: a second expansion could name no new file.
    patterns: BTreeSet<String>,
    /// Files read and patterns expanded.
    work: usize,
}

impl Conf<'_> {
    /// Reads file `f`: its directories, and the files its includes name that are new.
    fn read(&mut self, f: &str) -> Result<()> {
        let Some(b) = self.fs.read_result(f)? else {
            return Ok(());
        };
        self.count(f)?;
        let (dirs, includes) = parse_ld_so_conf(&String::from_utf8_lossy(&b));
        self.dirs
            .extend(dirs.into_iter().map(|d| (d, f.to_string())));
        for inc in includes {
            if !self.patterns.insert(inc.clone()) {
                continue;
            }
            self.count(f)?;
            let mut files = included(self.fs, &inc);
            files.retain(|x| self.seen.insert(x.clone()));
            // Pushed last first: the stack then reads them in name order.
            files.reverse();
            self.todo.extend(files);
        }
        Ok(())
    }

    /// One more file read or pattern expanded, in `f`.
    fn count(&mut self, f: &str) -> Result<()> {
        self.work += 1;
        if self.work > MAX_LD_SO_CONF_INCLUDES.get() {
            let what = format!("{f}: ld.so.conf and its includes");
            let found = format!("{} files read and patterns expanded", self.work);
            return Err(MAX_LD_SO_CONF_INCLUDES.error(what, found));
        }
        Ok(())
    }
}

/// The files an `include` pattern names (relative to `/etc`; the glob is over the last
/// component), in name order. A pattern longer than `PATH_MAX` names none.
fn included(fs: &Fs, inc: &str) -> Vec<String> {
    if inc.len() > PATH_MAX.get() {
        return Vec::new();
    }
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
        .children(&rdir)
        .map(|k| String::from_utf8_lossy(&k[rdir.len() + 1..]).into_owned())
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
    use crate::model::image::Layer;
    use crate::view::fs::FsInput;

    /// The check's filesystem of one layer (the base, and no application).
    fn fs_of(l: Layer) -> Fs {
        Fs::build(&FsInput {
            name: "img",
            layers: &[l],
            boundary: 1,
            max_layer_size: u64::MAX,
            verify: crate::view::fs::Verify::Here,
            owned: None,
        })
        .unwrap()
    }

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
        let fs = fs_of(conf);
        let mut out = Vec::new();
        let got = ld_so_conf_dirs(&fs, &mut out).unwrap();
        assert!(out.is_empty(), "{out:?}");
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

    /// Regression: each `include *` line pushed every match before the files were deduplicated
    /// (10,000 lines over 1,000 files: 556 MB from 100 KB). A file is read once, and files and
    /// patterns together stop at the limit with a warning.
    #[test]
    fn include_fan_out_stops_at_the_limit() {
        let conf: String = (0..1000)
            .map(|i| format!("include ld.so.conf.d/*{i}\n"))
            .collect();
        let conf = conf + &"include ld.so.conf.d/*\n".repeat(1000) + "/opt/first\n";
        let mut files = vec![T::File("etc/ld.so.conf", 0o644, &conf)];
        let names: Vec<String> = (0..100)
            .map(|i| format!("etc/ld.so.conf.d/{i:03}"))
            .collect();
        files.extend(names.iter().map(|n| T::File(n, 0o644, "/opt/d\n")));
        let fs = fs_of(layer(&files));
        let mut out = Vec::new();
        let got = ld_so_conf_dirs(&fs, &mut out).unwrap();
        assert_eq!(got[0], ("/opt/first".into(), "/etc/ld.so.conf".into()));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].check, "unreadable-ld-so-conf");
        assert!(
            out[0].missing.ends_with("(MAX_LD_SO_CONF_INCLUDES)"),
            "{:?}",
            out[0]
        );
    }
}
