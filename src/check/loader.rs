//! Where the dynamic loader finds a `DT_NEEDED` library, in the order it looks.
//!
//! glibc: `DT_RPATH` of the object and then of the program (each only when that object has no
//! `DT_RUNPATH`), `LD_LIBRARY_PATH`, the object's `DT_RUNPATH` (its direct dependencies only),
//! `/etc/ld.so.cache`, then the default directories (Debian's multiarch directories, `/lib`,
//! `/usr/lib`, and `/lib64`, `/usr/lib64` for 64-bit objects as other distributions build it).
//! `ld.so.conf` is never read at run time: a library only an `ld.so.conf` directory holds, with
//! a cache that does not list it, is not found (and the finding says to run ldconfig).
//!
//! musl: `LD_LIBRARY_PATH`, then the `DT_RUNPATH`/`DT_RPATH` of the object and of the objects
//! that loaded it, then `/etc/ld-musl-ARCH.path` (lines or `:`-separated), else
//! `/lib:/usr/local/lib:/usr/lib`. Names `libc.*`, `libpthread.*`, `libm.*`, ... are musl
//! itself. `$ORIGIN` (and `${ORIGIN}`) is the object's directory; for the program glibc takes it
//! from `/proc/self/exe`, the real path.

use super::Libc;
use crate::formats::elf::{self, Elf};
use crate::formats::ldcache::LdCache;
use crate::layer::entry::Kind;
use crate::view::fs::Fs;

/// An object whose dependencies are being resolved.
pub struct Object<'a> {
    /// The path it was loaded from (absolute), as the loader knows it.
    pub path: String,
    pub elf: &'a Elf,
}

/// How a library was found, or what was searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The path the loader opens, and the real file (resolved, relative to the root).
    At {
        path: String,
        real: Vec<u8>,
        via: &'static str,
    },
    /// Provided by the C library itself (musl).
    Libc,
    /// Not found: the directories searched, and an ld.so.conf directory that has it.
    Missing {
        searched: Vec<String>,
        conf_hit: Option<(String, String)>,
    },
}

/// The loader's view of the result image.
pub struct Loader<'a> {
    pub fs: &'a Fs,
    pub ld_library_path: Vec<String>,
    pub cache: Option<LdCache>,
    /// ld.so.conf directories and the file that names each.
    pub conf_dirs: Vec<(String, String)>,
    pub musl_path: Option<Vec<String>>,
    pub triplet: &'static str,
}

pub fn triplet(machine: u16) -> &'static str {
    match machine {
        elf::EM_X86_64 => "x86_64-linux-gnu",
        elf::EM_AARCH64 => "aarch64-linux-gnu",
        elf::EM_386 => "i386-linux-gnu",
        elf::EM_ARM => "arm-linux-gnueabihf",
        elf::EM_PPC64 => "powerpc64le-linux-gnu",
        elf::EM_S390 => "s390x-linux-gnu",
        elf::EM_RISCV => "riscv64-linux-gnu",
        _ => "unknown",
    }
}

/// The musl architecture name in `ld-musl-ARCH.so.1` / `ld-musl-ARCH.path`.
pub fn musl_arch(machine: u16) -> &'static str {
    match machine {
        elf::EM_X86_64 => "x86_64",
        elf::EM_AARCH64 => "aarch64",
        elf::EM_386 => "i386",
        elf::EM_ARM => "armhf",
        elf::EM_PPC64 => "powerpc64le",
        elf::EM_S390 => "s390x",
        elf::EM_RISCV => "riscv64",
        _ => "unknown",
    }
}

fn dirname(p: &str) -> String {
    match p.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => p[..i].into(),
        None => ".".into(),
    }
}

/// Splits a path list (`:`-separated; an empty element means the current directory to glibc,
/// which a container's `/` makes the root) and expands `$ORIGIN` and `$LIB`. A directory that
/// expands past `PATH_MAX` is dropped: no loader could open it.
pub fn expand(list: &str, origin: &str, triplet: &str) -> Vec<String> {
    list.split(':')
        .map(|d| {
            let d = d
                .replace("${ORIGIN}", origin)
                .replace("$ORIGIN", origin)
                .replace("${LIB}", &format!("lib/{triplet}"))
                .replace("$LIB", &format!("lib/{triplet}"));
            if d.is_empty() { "/".to_string() } else { d }
        })
        .filter(|d| d.len() <= crate::model::limits::PATH_MAX.get())
        .collect()
}

/// musl's own names: `lib` + one of its libraries + `.`.
fn is_musl_self(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("lib") else {
        return false;
    };
    ["c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."]
        .iter()
        .any(|r| rest.starts_with(r))
}

/// Which object `$ORIGIN` is asked for: glibc takes the program's from `/proc/self/exe` (its
/// real path, symlinks resolved) and a library's from the path it was loaded by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Program,
    Library,
}

impl Loader<'_> {
    /// The resolved real path of a regular file at `path`, if there is one.
    pub fn file_at(&self, path: &str) -> Option<Vec<u8>> {
        match self.fs.lookup(path) {
            Some((r, n)) if n.kind == Kind::File => Some(r),
            _ => None,
        }
    }

    /// The directory `$ORIGIN` names for an object.
    pub fn origin(&self, o: &Object<'_>, role: Role) -> String {
        if role == Role::Program
            && let Some((r, _)) = self.fs.lookup(&o.path)
        {
            return dirname(&format!("/{}", String::from_utf8_lossy(&r)));
        }
        dirname(&o.path)
    }

    /// Finds `name`, needed by `obj`, which `main` (the program, if obj is not it) loaded.
    pub fn find(
        &self,
        libc: Libc,
        name: &str,
        obj: &Object<'_>,
        main: Option<&Object<'_>>,
    ) -> Found {
        if name.contains('/') {
            return self.find_path(name);
        }
        let mut s = Search {
            ld: self,
            name,
            searched: Vec::new(),
        };
        match libc {
            Libc::Musl if is_musl_self(name) => Found::Libc,
            Libc::Musl => s.musl(obj, main).unwrap_or_else(|| s.missing(None)),
            Libc::Glibc => s
                .glibc(obj, main)
                .unwrap_or_else(|| s.missing(self.conf_hit(name))),
        }
    }

    /// A name with a `/` is a path, taken from the root.
    fn find_path(&self, name: &str) -> Found {
        let p = if name.starts_with('/') {
            name.to_string()
        } else {
            format!("/{name}")
        };
        match self.file_at(&p) {
            Some(real) => Found::At {
                path: p,
                real,
                via: "path",
            },
            None => Found::Missing {
                searched: vec![p],
                conf_hit: None,
            },
        }
    }

    /// An `ld.so.conf` directory that has `name`, with the file that names the directory.
    fn conf_hit(&self, name: &str) -> Option<(String, String)> {
        self.conf_dirs.iter().find_map(|(d, conf)| {
            let p = format!("{}/{}", d.trim_end_matches('/'), name);
            self.file_at(&p).map(|_| (p, conf.clone()))
        })
    }
}

/// `DT_RPATH` as glibc reads it: only for an object without `DT_RUNPATH`.
fn legacy_rpath(e: &Elf) -> Option<&str> {
    match e.runpath {
        None => e.rpath.as_deref(),
        Some(_) => None,
    }
}

/// One search for one library name, and the places it looked so far.
struct Search<'l, 'a> {
    ld: &'l Loader<'a>,
    name: &'l str,
    searched: Vec<String>,
}

impl Search<'_, '_> {
    /// The first of `dirs` that has the name.
    fn dirs(&mut self, dirs: &[String], via: &'static str) -> Option<Found> {
        for d in dirs {
            let p = format!("{}/{}", d.trim_end_matches('/'), self.name);
            self.searched.push(format!("{d} ({via})"));
            if let Some(real) = self.ld.file_at(&p) {
                return Some(Found::At { path: p, real, via });
            }
        }
        None
    }

    /// A path list of an object (`DT_RPATH`, `DT_RUNPATH`), `$ORIGIN` being `origin`.
    fn list(&mut self, list: &str, origin: &str, via: &'static str) -> Option<Found> {
        let dirs = expand(list, origin, self.ld.triplet);
        self.dirs(&dirs, via)
    }

    fn ld_library_path(&mut self) -> Option<Found> {
        let ld = self.ld;
        self.dirs(&ld.ld_library_path, "LD_LIBRARY_PATH")
    }

    fn missing(self, conf_hit: Option<(String, String)>) -> Found {
        Found::Missing {
            searched: self.searched,
            conf_hit,
        }
    }

    /// musl: `LD_LIBRARY_PATH`, the run paths of the object and of the program, the system path.
    fn musl(&mut self, obj: &Object<'_>, main: Option<&Object<'_>>) -> Option<Found> {
        if let Some(f) = self.ld_library_path() {
            return Some(f);
        }
        let mut chain = vec![(obj, self.ld.origin(obj, role_of(main)))];
        if let Some(m) = main {
            chain.push((m, self.ld.origin(m, Role::Program)));
        }
        for (o, origin) in chain {
            if let Some(rp) = o.elf.runpath.as_deref().or(o.elf.rpath.as_deref())
                && let Some(f) = self.list(rp, &origin, "RPATH")
            {
                return Some(f);
            }
        }
        let sys = self
            .ld
            .musl_path
            .clone()
            .unwrap_or_else(|| vec!["/lib".into(), "/usr/local/lib".into(), "/usr/lib".into()]);
        self.dirs(&sys, "musl path")
    }

    /// glibc: the object's and the program's `DT_RPATH`, `LD_LIBRARY_PATH`, the object's
    /// `DT_RUNPATH`, the cache, the default directories.
    fn glibc(&mut self, obj: &Object<'_>, main: Option<&Object<'_>>) -> Option<Found> {
        let ld = self.ld;
        let origin = ld.origin(obj, role_of(main));
        if let Some(f) = legacy_rpath(obj.elf).and_then(|rp| self.list(rp, &origin, "DT_RPATH")) {
            return Some(f);
        }
        if let Some(m) = main
            && let Some(rp) = legacy_rpath(m.elf)
            && let Some(f) = self.list(rp, &ld.origin(m, Role::Program), "program's DT_RPATH")
        {
            return Some(f);
        }
        if let Some(f) = self.ld_library_path() {
            return Some(f);
        }
        if let Some(rp) = &obj.elf.runpath
            && let Some(f) = self.list(rp, &origin, "DT_RUNPATH")
        {
            return Some(f);
        }
        self.cache(obj.elf).or_else(|| {
            self.dirs(
                &default_dirs(ld.triplet, obj.elf.class),
                "default directory",
            )
        })
    }

    /// `/etc/ld.so.cache`, when the result has one: the first entry for the object's class and
    /// machine that exists.
    fn cache(&mut self, e: &Elf) -> Option<Found> {
        let ld = self.ld;
        let c = ld.cache.as_ref()?;
        self.searched.push("/etc/ld.so.cache".into());
        c.lookup(self.name, e.class, e.machine)
            .into_iter()
            .find_map(|p| {
                ld.file_at(p).map(|real| Found::At {
                    path: p.to_string(),
                    real,
                    via: "ld.so.cache",
                })
            })
    }
}

/// The object is the program when nothing loaded it.
fn role_of(main: Option<&Object<'_>>) -> Role {
    match main {
        None => Role::Program,
        Some(_) => Role::Library,
    }
}

/// glibc's default directories: Debian's multiarch ones, `/lib`, `/usr/lib`, and for a 64-bit
/// object `/lib64`, `/usr/lib64`.
fn default_dirs(triplet: &str, class: u8) -> Vec<String> {
    let mut dirs: Vec<String> = vec![
        format!("/lib/{triplet}"),
        format!("/usr/lib/{triplet}"),
        "/lib".into(),
        "/usr/lib".into(),
    ];
    if class == 64 {
        dirs.push("/lib64".into());
        dirs.push("/usr/lib64".into());
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_and_lib_expand() {
        assert_eq!(
            expand(
                "$ORIGIN/../lib:${ORIGIN}/x:/opt/$LIB",
                "/opt/v/bin",
                "x86_64-linux-gnu"
            ),
            vec![
                "/opt/v/bin/../lib",
                "/opt/v/bin/x",
                "/opt/lib/x86_64-linux-gnu"
            ]
        );
        assert_eq!(expand("", "/o", "t"), vec!["/"]);
    }

    #[test]
    fn musl_reserved_names() {
        for (n, want) in [
            ("libc.so", true),
            ("libc.musl-x86_64.so.1", true),
            ("libpthread.so.0", true),
            ("libm.so.6", true),
            ("libcrypto.so.3", false),
            ("libmagic.so.1", false),
            ("libvendor.so.1", false),
        ] {
            assert_eq!(is_musl_self(n), want, "{n}");
        }
    }

    use crate::check::tests::{T, layer};
    use crate::view::fs::FsInput;

    /// A result whose files are `files` and whose symlinks are `links` (path -> target).
    fn fs_with(files: &[&str], links: &[(&str, &str)]) -> Fs {
        let mut entries: Vec<T<'_>> = files.iter().map(|p| T::File(p, 0o644, "")).collect();
        entries.extend(links.iter().map(|(p, t)| T::Symlink(p, t)));
        Fs::build(&FsInput {
            name: "t",
            layers: &[layer(&entries)],
            boundary: 1,
            max_layer_size: u64::MAX,
            verify: crate::view::fs::Verify::Here,
            owned: None,
        })
        .unwrap()
    }

    fn loader<'a>(fs: &'a Fs, musl_path: Option<Vec<String>>) -> Loader<'a> {
        Loader {
            fs,
            ld_library_path: vec!["/L".into()],
            cache: None,
            conf_dirs: vec![("/conf/lib".into(), "/etc/ld.so.conf.d/x.conf".into())],
            musl_path,
            triplet: "x86_64-linux-gnu",
        }
    }

    fn elf(rpath: Option<&str>, runpath: Option<&str>) -> Elf {
        Elf {
            class: 64,
            machine: elf::EM_X86_64,
            rpath: rpath.map(str::to_string),
            runpath: runpath.map(str::to_string),
            dynamic: true,
            ..Elf::default()
        }
    }

    fn searched(f: Found) -> Vec<String> {
        match f {
            Found::Missing { searched, .. } => searched,
            other => panic!("found: {other:?}"),
        }
    }

    #[test]
    fn glibc_search_order() {
        let fs = fs_with(&[], &[]);
        let ld = loader(&fs, None);
        let (prog, lib) = (elf(Some("/m"), None), elf(Some("/r:$ORIGIN"), None));
        let main = Object {
            path: "/app/bin/prog".into(),
            elf: &prog,
        };
        let obj = Object {
            path: "/app/lib/libx.so".into(),
            elf: &lib,
        };
        let defaults = [
            "/lib/x86_64-linux-gnu (default directory)",
            "/usr/lib/x86_64-linux-gnu (default directory)",
            "/lib (default directory)",
            "/usr/lib (default directory)",
            "/lib64 (default directory)",
            "/usr/lib64 (default directory)",
        ];
        let mut want = vec![
            "/r (DT_RPATH)",
            "/app/lib (DT_RPATH)",
            "/m (program's DT_RPATH)",
            "/L (LD_LIBRARY_PATH)",
        ];
        want.extend(defaults);
        assert_eq!(
            searched(ld.find(Libc::Glibc, "liby.so", &obj, Some(&main))),
            want
        );
        // DT_RUNPATH turns the object's DT_RPATH off and comes after LD_LIBRARY_PATH.
        let lib = elf(Some("/r"), Some("/rp"));
        let obj = Object {
            path: "/app/lib/libx.so".into(),
            elf: &lib,
        };
        let mut want = vec!["/L (LD_LIBRARY_PATH)", "/rp (DT_RUNPATH)"];
        want.extend(defaults);
        assert_eq!(searched(ld.find(Libc::Glibc, "liby.so", &obj, None)), want);
        // A 32-bit object has no lib64 directories.
        let lib32 = Elf {
            class: 32,
            ..elf(None, None)
        };
        let obj = Object {
            path: "/p".into(),
            elf: &lib32,
        };
        let mut want = vec!["/L (LD_LIBRARY_PATH)"];
        want.extend(&defaults[..4]);
        assert_eq!(searched(ld.find(Libc::Glibc, "liby.so", &obj, None)), want);
    }

    #[test]
    fn glibc_finds_and_names_the_way() {
        let fs = fs_with(
            &[
                "r/liba.so",
                "L/libb.so",
                "usr/lib/libc.so",
                "conf/lib/libconf.so",
                "abs/libp.so",
            ],
            &[],
        );
        let ld = loader(&fs, None);
        let lib = elf(Some("/r"), None);
        let obj = Object {
            path: "/app/prog".into(),
            elf: &lib,
        };
        let via = |name: &str| match ld.find(Libc::Glibc, name, &obj, None) {
            Found::At { path, real, via } => (path, String::from_utf8(real).unwrap(), via),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(
            via("liba.so"),
            ("/r/liba.so".into(), "r/liba.so".into(), "DT_RPATH")
        );
        assert_eq!(via("libb.so").2, "LD_LIBRARY_PATH");
        assert_eq!(via("libc.so").2, "default directory");
        assert_eq!(
            via("/abs/libp.so"),
            ("/abs/libp.so".into(), "abs/libp.so".into(), "path")
        );
        assert_eq!(via("abs/libp.so").0, "/abs/libp.so");
        match ld.find(Libc::Glibc, "libconf.so", &obj, None) {
            Found::Missing { conf_hit, .. } => assert_eq!(
                conf_hit,
                Some((
                    "/conf/lib/libconf.so".into(),
                    "/etc/ld.so.conf.d/x.conf".into()
                ))
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            ld.find(Libc::Glibc, "/abs/nope.so", &obj, None),
            Found::Missing {
                searched: vec!["/abs/nope.so".into()],
                conf_hit: None
            }
        );
    }

    #[test]
    fn musl_search_order() {
        let fs = fs_with(&["usr/lib/libz.so"], &[]);
        let ld = loader(&fs, None);
        let (prog, lib) = (elf(None, Some("/m")), elf(Some("/r"), None));
        let main = Object {
            path: "/app/prog".into(),
            elf: &prog,
        };
        let obj = Object {
            path: "/app/libx.so".into(),
            elf: &lib,
        };
        assert_eq!(ld.find(Libc::Musl, "libc.so", &obj, None), Found::Libc);
        assert_eq!(
            searched(ld.find(Libc::Musl, "liby.so", &obj, Some(&main))),
            vec![
                "/L (LD_LIBRARY_PATH)",
                "/r (RPATH)",
                "/m (RPATH)",
                "/lib (musl path)",
                "/usr/local/lib (musl path)",
                "/usr/lib (musl path)"
            ]
        );
        assert!(matches!(
            ld.find(Libc::Musl, "libz.so", &obj, None),
            Found::At {
                via: "musl path",
                ..
            }
        ));
        let ld = loader(&fs, Some(vec!["/opt".into()]));
        assert_eq!(
            searched(ld.find(Libc::Musl, "liby.so", &obj, None)),
            vec!["/L (LD_LIBRARY_PATH)", "/r (RPATH)", "/opt (musl path)"]
        );
    }

    #[test]
    fn program_origin_is_its_real_directory() {
        let fs = fs_with(&["opt/v/bin/prog"], &[("usr/bin/prog", "/opt/v/bin/prog")]);
        let ld = loader(&fs, None);
        let e = elf(None, None);
        let o = Object {
            path: "/usr/bin/prog".into(),
            elf: &e,
        };
        assert_eq!(ld.origin(&o, Role::Program), "/opt/v/bin");
        assert_eq!(ld.origin(&o, Role::Library), "/usr/bin");
    }
}
