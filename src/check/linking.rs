//! Will the application's ELF files load: each file's class and machine against the image's
//! architecture, its `PT_INTERP` loader and libc family against the base's, every `DT_NEEDED`
//! library found the way the loader finds it ([`super::loader`]), each library's class and
//! machine, and the symbol versions needed from the libraries that would load.

use super::app::AppElf;
use super::graph;
use super::ldconfig;
use super::loader::{Found, Loader, Object};
use super::report::{Finding, Severity};
use super::{Libc, abs};
use crate::error::Result;
use crate::formats::elf;
use crate::view::fs::Fs;
use std::collections::{BTreeMap, BTreeSet};

use Severity::{Error as E, Warning as W};

/// A `DT_NEEDED` library found: which ELF file needs it, its name, the real file (relative to
/// the root) and the path the loader opens.
struct Need {
    obj: usize,
    name: String,
    real: Vec<u8>,
    path: String,
}

/// What the ELF files are checked against.
struct Target<'l, 'a> {
    ld: &'l Loader<'a>,
    /// The image's `architecture`, and the class and machine it runs.
    arch: &'l str,
    expected: Option<(u8, u16)>,
    /// The C library whose loader the result has.
    base_libc: Option<Libc>,
}

/// Checks the application's ELF files; `arch` is the config's architecture.
pub fn check(
    fs: &mut Fs,
    elves: &[AppElf],
    arch: &str,
    env: &BTreeMap<String, String>,
    out: &mut Vec<Finding>,
) -> Result<()> {
    let expected = elf::expected_machine(arch);
    // The loader's configuration is the one for the application's own machine.
    let machine = elves
        .iter()
        .map(|e| e.elf.machine)
        .next()
        .or(expected.map(|e| e.1))
        .unwrap_or(elf::EM_X86_64);
    let mut misses = Vec::new();
    let needs = {
        let ld = ldconfig::loader(fs, env, machine, out)?;
        let target = Target {
            base_libc: ldconfig::base_libc(&ld, machine),
            ld: &ld,
            arch,
            expected,
        };
        let mut needs = Vec::new();
        for (i, a) in elves.iter().enumerate() {
            needs.extend(target.resolve(i, a, out, &mut misses));
        }
        needs
    };
    judge_misses(elves, &needs, misses, out);
    let libs = load_libraries(fs, &needs)?;
    let loaded = Loaded { elves, needs, libs };
    loaded.check_libraries(out);
    loaded.check_versions(out);
    Ok(())
}

impl Target<'_, '_> {
    /// The libraries ELF file `i` needs that were found; what is wrong goes to `out`.
    /// Libraries the search did not find go to `misses`, judged once the load graph is known.
    fn resolve(
        &self,
        i: usize,
        a: &AppElf,
        out: &mut Vec<Finding>,
        misses: &mut Vec<Miss>,
    ) -> Vec<Need> {
        let e = &a.elf;
        if let Some(f) = self.wrong_machine(a) {
            out.push(f);
            return Vec::new();
        }
        if !e.dynamic && e.interp.is_none() {
            return Vec::new(); // static
        }
        if let Some(f) = self.interp_problem(a) {
            out.push(f);
            return Vec::new();
        }
        let family = e.libc().or(self.base_libc).unwrap_or(Libc::Glibc);
        let obj = Object {
            path: a.path.clone(),
            elf: e,
        };
        let mut needs = Vec::new();
        for name in &e.needed {
            match self.ld.find(family, name, &obj, None) {
                Found::At { path, real, .. } => needs.push(Need {
                    obj: i,
                    name: name.clone(),
                    real,
                    path,
                }),
                Found::Libc => {}
                Found::Missing { searched, conf_hit } => misses.push(Miss {
                    obj: i,
                    name: name.clone(),
                    searched,
                    conf_hit,
                }),
            }
        }
        needs
    }

    /// A file built for another class or machine than the image's architecture runs.
    fn wrong_machine(&self, a: &AppElf) -> Option<Finding> {
        let (class, m) = self.expected?;
        let e = &a.elf;
        if e.class == class && e.machine == m {
            return None;
        }
        Some(Finding::new(
            E,
            "wrong-machine",
            &a.path,
            format!("a {}-bit {} CPU", e.class, elf::machine_name(e.machine)),
            format!(
                "the image is {} ({}-bit {})",
                self.arch,
                class,
                elf::machine_name(m)
            ),
        ))
    }

    /// The program's `PT_INTERP` loader: absent from the result, or of the other libc family
    /// than the base's.
    fn interp_problem(&self, a: &AppElf) -> Option<Finding> {
        let interp = a.elf.interp.as_ref()?;
        if self.ld.file_at(interp).is_some() {
            return None;
        }
        if let Some(w) = a.elf.libc()
            && self.base_libc.is_some_and(|b| b != w)
        {
            let other = self.base_libc.map(Libc::name).unwrap_or("no");
            return Some(Finding::new(
                E,
                "libc-mismatch",
                &a.path,
                format!("{} (its loader {interp})", w.name()),
                format!(
                    "the result is a {other}-only base: a {} program cannot run on it",
                    w.name()
                ),
            ));
        }
        Some(Finding::new(
            E,
            "missing-loader",
            &a.path,
            format!("the program loader {interp} (PT_INTERP)"),
            format!("{interp} does not exist in the result"),
        ))
    }
}

/// A `DT_NEEDED` library the search did not find.
struct Miss {
    obj: usize,
    name: String,
    searched: Vec<String>,
    conf_hit: Option<(String, String)>,
}

/// Judges each miss in the application's load graph ([`graph`]): a soname every program
/// reaching the library has already loaded is no finding; one a library no program reaches
/// needs from another application file is a warning that says so; the rest are errors.
fn judge_misses(elves: &[AppElf], needs: &[Need], misses: Vec<Miss>, out: &mut Vec<Finding>) {
    let objs: Vec<graph::Obj<'_>> = elves
        .iter()
        .map(|a| graph::Obj {
            path: &a.path,
            soname: a.elf.soname.as_deref(),
            program: a.elf.interp.is_some(),
        })
        .collect();
    let edges: Vec<(usize, usize)> = needs
        .iter()
        .filter_map(|n| {
            let real = abs(&n.real);
            Some((n.obj, elves.iter().position(|a| a.path == real)?))
        })
        .collect();
    for m in misses {
        let a = &elves[m.obj];
        match graph::context(&objs, &edges, m.obj, &m.name) {
            graph::Context::LoadedByEveryProgram => {}
            graph::Context::Alone { provider } => out.push(Finding::new(
                W,
                "library-loaded-first",
                &a.path,
                format!("the library {} (DT_NEEDED)", m.name),
                format!(
                    "not on its search path; checked alone (no program of the application \
                     loads it through DT_NEEDED): the application has {} as {provider}, which \
                     a program that dlopens this library must load first (as the JDK's java \
                     launcher loads lib/server/libjvm.so)",
                    m.name
                ),
            )),
            graph::Context::Missing => {
                out.push(missing_library(a, &m.name, m.searched, m.conf_hit))
            }
        }
    }
}

/// A library the loader would not find; when only an ld.so.conf directory has it, the cache is
/// what is missing.
fn missing_library(
    a: &AppElf,
    name: &str,
    searched: Vec<String>,
    conf_hit: Option<(String, String)>,
) -> Finding {
    let needs = format!("the library {name} (DT_NEEDED)");
    match conf_hit {
        Some((p, conf)) => Finding::new(
            E,
            "library-not-in-ld-so-cache",
            &a.path,
            needs,
            format!(
                "{p} is only reachable through {conf}, and /etc/ld.so.cache does not list it (glibc reads only the cache at run time): run ldconfig in the image, by `RUN ldconfig` in a Dockerfile FROM the result, or without a daemon: `regraft cp IMAGE:/ ROOT && ldconfig -r ROOT && regraft add IMAGE ROOT/etc/ld.so.cache:/etc/ld.so.cache -o OUT` (or graft the vendor's regenerated /etc/ld.so.cache with --path)"
            ),
        ),
        None => Finding::new(
            E,
            "missing-library",
            &a.path,
            needs,
            format!("not found; searched {}", shown_dirs(&searched)),
        ),
    }
}

/// A library that would load, parsed; or why not: empty when it is no ELF file, else the
/// parser's error (a malformed or hostile file, a limit).
type Lib = std::result::Result<elf::Elf, String>;

/// The directories a search looked in, for a finding: the first `SHOWN_DIRS`, then a count
/// (a hostile run path may name thousands).
fn shown_dirs(searched: &[String]) -> String {
    const SHOWN_DIRS: usize = 32;
    let mut s = searched[..searched.len().min(SHOWN_DIRS)].join(", ");
    if searched.len() > SHOWN_DIRS {
        s.push_str(&format!(" and {} more", searched.len() - SHOWN_DIRS));
    }
    s
}

/// Keeps the bytes of the libraries that would load, and parses each.
fn load_libraries(fs: &mut Fs, needs: &[Need]) -> Result<BTreeMap<Vec<u8>, Lib>> {
    let wanted: Vec<Vec<u8>> = needs
        .iter()
        .map(|n| n.real.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    fs.fetch(&wanted)?;
    let mut libs = BTreeMap::new();
    for r in wanted {
        let parsed = match fs.result.get(&r) {
            Some(n) => match fs.data(n)? {
                Some(d) if elf::is_elf(&d) => elf::parse(&d).map_err(|e| e.chain()),
                _ => Err(String::new()),
            },
            None => Err(String::new()),
        };
        libs.insert(r, parsed);
    }
    Ok(libs)
}

/// Why the library the loader opens at `path` is no use, for a finding.
fn unreadable(path: &str, lib: Option<&Lib>) -> String {
    match lib {
        Some(Err(why)) if !why.is_empty() => {
            format!("{path} is not a readable ELF shared object: {why}")
        }
        _ => format!("{path} is not an ELF shared object"),
    }
}

/// The ELF files, the libraries they need that were found, and each of those parsed.
struct Loaded<'e> {
    elves: &'e [AppElf],
    needs: Vec<Need>,
    libs: BTreeMap<Vec<u8>, Lib>,
}

impl Loaded<'_> {
    /// Each library found: an ELF shared object of the class and machine of the file needing it.
    fn check_libraries(&self, out: &mut Vec<Finding>) {
        for n in &self.needs {
            let a = &self.elves[n.obj];
            match self.libs.get(&n.real) {
                None | Some(Err(_)) => out.push(Finding::new(
                    E,
                    "bad-library",
                    &a.path,
                    format!("the library {} (DT_NEEDED)", n.name),
                    unreadable(&n.path, self.libs.get(&n.real)),
                )),
                Some(Ok(l)) if l.class != a.elf.class || l.machine != a.elf.machine => {
                    out.push(Finding::new(
                        E,
                        "wrong-machine",
                        &a.path,
                        format!(
                            "the library {} for a {}-bit {} CPU",
                            n.name,
                            a.elf.class,
                            elf::machine_name(a.elf.machine)
                        ),
                        format!(
                            "{} is {}-bit {}",
                            n.path,
                            l.class,
                            elf::machine_name(l.machine)
                        ),
                    ))
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Every symbol version an ELF file needs is defined by the library that would load.
    fn check_versions(&self, out: &mut Vec<Finding>) {
        for a in self.elves {
            for vn in &a.elf.version_needs {
                let Some(n) = self
                    .needs
                    .iter()
                    .find(|n| self.elves[n.obj].path == a.path && n.name == vn.file)
                else {
                    continue; // the library itself is missing: reported above
                };
                let Some(Ok(l)) = self.libs.get(&n.real) else {
                    continue;
                };
                if l.version_defs.iter().any(|d| d == &vn.version) {
                    continue;
                }
                let really = if abs(&n.real) == n.path {
                    String::new()
                } else {
                    format!(" (really {})", abs(&n.real))
                };
                let newest = newest_version(&l.version_defs, &vn.version)
                    .map(|v| format!("; the newest it defines is {v}"))
                    .unwrap_or_default();
                out.push(Finding::new(
                    if vn.weak { W } else { E },
                    "missing-symbol-version",
                    &a.path,
                    format!("{} from {}", vn.version, vn.file),
                    format!("{}{really} does not define {}{newest}", n.path, vn.version),
                ));
            }
        }
    }
}

/// The newest version in `defs` of the same family as `want` (`GLIBC_2.36` for `GLIBC_2.38`).
fn newest_version(defs: &[String], want: &str) -> Option<String> {
    let prefix = want.rsplit_once('_').map(|(p, _)| p)?;
    let key = |v: &str| -> Vec<u64> {
        v.rsplit_once('_')
            .map(|(_, n)| n.split('.').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default()
    };
    defs.iter()
        .filter(|d| d.rsplit_once('_').is_some_and(|(p, _)| p == prefix))
        .max_by_key(|d| key(d))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_glibc_version() {
        let defs: Vec<String> = ["GLIBC_2.2.5", "GLIBC_2.36", "GLIBC_2.4", "GLIBC_PRIVATE"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            newest_version(&defs, "GLIBC_2.38").as_deref(),
            Some("GLIBC_2.36")
        );
        assert_eq!(newest_version(&defs, "GLIBCXX_3.4"), None);
    }
}
