//! "Will it run?": checks a result image's application files against what the result gives
//! them, before a graft ships. For the application's files (path mode: the selected subtrees;
//! layer mode and `regraft check`: the layers above the base):
//! - ELF programs and libraries: class and machine, the `PT_INTERP` loader, every `DT_NEEDED`
//!   library found the way the loader finds it ([`loader`]), the symbol versions needed from
//!   the libraries that would load, the libc family (glibc program on a musl-only base, or the
//!   reverse);
//! - scripts: the `#!` interpreter exists and is executable (`/usr/bin/env NAME` through PATH);
//! - Entrypoint/Cmd: the program they start exists, through the image's PATH;
//! - User: the config's user and group exist (numeric ids need not);
//! - type conflicts: an application entry whose type differs from the base's at that path;
//! - shadowed OS packages ([`pkgs`]): application entries, whiteouts and opaque markers over
//!   files the base's package manager owns, with both versions.
//!
//! Missing things, wrong machine, libc mismatch, type conflicts and a vendor package older than
//! the base's are errors; the rest are warnings. Every finding names the file, what it needs and
//! what is missing.

pub mod dbmerge;
pub mod loader;
pub mod pkgs;

use crate::error::Result;
use crate::formats::{elf, ldcache, users};
use crate::layer::entry::Kind;
use crate::model::image::Layer;
use crate::view::Node;
use crate::view::fs::{self, AppOp, Fs, FsInput};
use loader::{Found, Loader, Object};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

pub use crate::formats::elf::Libc;

/// One finding: the file, what it needs, what is missing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A short kebab-case name: `missing-library`, `libc-mismatch`, ...
    pub check: String,
    /// The file (absolute path in the result) or config field the finding is about.
    pub path: String,
    pub needs: String,
    pub missing: String,
}

impl Finding {
    fn new(sev: Severity, check: &str, path: &str, needs: String, missing: String) -> Finding {
        Finding {
            severity: sev,
            check: check.into(),
            path: path.into(),
            needs,
            missing,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Checked {
    pub elf_files: usize,
    pub scripts: usize,
    pub application_entries: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub image: String,
    /// What counted as the application.
    pub application: String,
    pub checked: Checked,
    pub errors: usize,
    pub warnings: usize,
    pub findings: Vec<Finding>,
    /// Set when a graft adds a merged package database layer.
    pub package_database: Option<dbmerge::MergeSummary>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// The findings for people, one block per finding, errors first.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let z = crate::text::sanitize;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "regraft check: {} error(s), {} warning(s) in {} ({}; {} ELF file(s), {} script(s))",
            self.errors,
            self.warnings,
            z(&self.image),
            z(&self.application),
            self.checked.elf_files,
            self.checked.scripts
        );
        for f in &self.findings {
            let sev = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let _ = writeln!(o, "  {sev}[{}] {}", f.check, z(&f.path));
            let _ = writeln!(o, "      needs:   {}", z(&f.needs));
            let _ = writeln!(o, "      missing: {}", z(&f.missing));
        }
        if let Some(m) = &self.package_database {
            let _ = writeln!(o, "  {}", z(&m.text()));
        }
        o
    }

    fn finish(&mut self) {
        self.findings.sort();
        self.findings.dedup();
        self.errors = self
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        self.warnings = self.findings.len() - self.errors;
    }
}

/// What to check.
pub struct CheckInput<'a> {
    /// For messages.
    pub name: &'a str,
    pub layers: &'a [Layer],
    /// Layers at and above this index are the application's (the base is below).
    pub boundary: usize,
    /// When not empty, the application is these subtrees (cleaned, relative) instead.
    pub paths: &'a [Vec<u8>],
    /// The result's full config JSON.
    pub config: &'a Value,
    pub max_layer_size: u64,
    /// Who verifies the layers on disk (see `fs::Verify`).
    pub verify: fs::Verify,
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn abs(p: &[u8]) -> String {
    format!("/{}", String::from_utf8_lossy(p))
}

fn under(p: &[u8], sel: &[u8]) -> bool {
    p == sel || (p.starts_with(sel) && p.get(sel.len()) == Some(&b'/'))
}

struct Cfg {
    arch: String,
    env: BTreeMap<String, String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    workdir: String,
    user: String,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn read_cfg(c: &Value) -> Cfg {
    let rc = c.get("config");
    let s = |k: &str| {
        rc.and_then(|r| r.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let mut env = BTreeMap::new();
    for e in strings(rc.and_then(|r| r.get("Env"))) {
        if let Some((k, v)) = e.split_once('=') {
            env.insert(k.to_string(), v.to_string());
        }
    }
    Cfg {
        arch: c
            .get("architecture")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        env,
        entrypoint: strings(rc.and_then(|r| r.get("Entrypoint"))),
        cmd: strings(rc.and_then(|r| r.get("Cmd"))),
        workdir: s("WorkingDir"),
        user: s("User"),
    }
}

/// An application ELF file, parsed.
struct AppElf {
    path: String,
    elf: elf::Elf,
}

/// Runs every check on the result described by `input`. Returns the report and the
/// filesystem it looked at (the package database merge reuses it).
/// `built`: the filesystem of exactly these layers when the caller already walked them (the
/// graft walks the base and adds its new layer).
pub fn check(input: &CheckInput<'_>, built: Option<Fs>) -> Result<(Report, Fs)> {
    let mut fs = match built {
        Some(fs) => fs,
        None => Fs::build(&FsInput {
            name: input.name,
            layers: input.layers,
            boundary: input.boundary,
            max_layer_size: input.max_layer_size,
            verify: input.verify,
        })?,
    };
    let cfg = read_cfg(input.config);
    let mut findings: Vec<Finding> = Vec::new();
    let mut checked = Checked::default();
    use Severity::{Error as E, Warning as W};

    // The application's nodes in the result.
    let sels: Vec<Vec<u8>> = input
        .paths
        .iter()
        .map(|p| fs.result.resolve(p, 0).unwrap_or_else(|_| p.clone()))
        .collect();
    let app_nodes: Vec<(Vec<u8>, Node)> = if sels.is_empty() {
        fs.result
            .nodes
            .iter()
            .filter(|(_, n)| n.layer >= input.boundary)
            .map(|(k, n)| (k.clone(), n.clone()))
            .collect()
    } else {
        let mut v: Vec<(Vec<u8>, Node)> = Vec::new();
        for s in &sels {
            v.extend(fs.result.subtree(s).map(|(k, n)| (k.clone(), n.clone())));
        }
        v
    };
    checked.application_entries = app_nodes.len();
    let app_raw: Vec<fs::AppEntry> = if input.paths.is_empty() {
        fs.app.clone()
    } else {
        // `check --path`: the entries of every layer above the base under the selections.
        fs.app
            .iter()
            .filter(|e| input.paths.iter().chain(&sels).any(|s| under(&e.path, s)))
            .cloned()
            .collect()
    };

    // Machine and class the image's architecture runs.
    let expected = elf::expected_machine(&cfg.arch);

    // The application's ELF files and scripts.
    let mut elves: Vec<AppElf> = Vec::new();
    let mut scripts: Vec<(String, Vec<u8>)> = Vec::new();
    for (p, n) in &app_nodes {
        if n.kind != Kind::File {
            continue;
        }
        // Files are sniffed first: an uncompressed layer's data is read where it lies, and
        // only ELF files and scripts are read whole.
        match fs.head(n, 4)? {
            Some(h) if elf::is_elf(&h) || h.starts_with(b"#!") => {}
            _ => continue,
        }
        let Some(d) = fs.data(n)? else { continue };
        if elf::is_elf(&d) {
            match elf::parse(&d) {
                Ok(e) => elves.push(AppElf {
                    path: abs(p),
                    elf: e,
                }),
                Err(e) => findings.push(Finding::new(
                    W,
                    "unreadable-elf",
                    &abs(p),
                    "a readable ELF file".into(),
                    e.to_string(),
                )),
            }
        } else if d.starts_with(b"#!") && n.meta.mode & 0o111 != 0 {
            let line = d[2..]
                .split(|&b| b == b'\n')
                .next()
                .unwrap_or_default()
                .to_vec();
            scripts.push((abs(p), line));
        }
    }
    checked.elf_files = elves.len();
    checked.scripts = scripts.len();

    // The loader's configuration in the result.
    let machine = elves
        .iter()
        .map(|e| e.elf.machine)
        .next()
        .or(expected.map(|e| e.1))
        .unwrap_or(elf::EM_X86_64);
    let march = loader::musl_arch(machine);
    let cache = match fs.read_result("/etc/ld.so.cache")? {
        Some(b) => match ldcache::LdCache::parse(&b) {
            Ok(c) => Some(c),
            Err(e) => {
                findings.push(Finding::new(
                    W,
                    "unreadable-ld-so-cache",
                    "/etc/ld.so.cache",
                    "a glibc-ld.so.cache1.1 file".into(),
                    e.to_string(),
                ));
                None
            }
        },
        None => None,
    };
    let conf_dirs = ld_so_conf_dirs(&fs)?;
    let musl_path = fs
        .read_result(&format!("/etc/ld-musl-{march}.path"))?
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split(['\n', ':'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        });
    let is_file = |p: &str| matches!(fs.lookup(p), Some((_, n)) if n.kind == Kind::File);
    let glibc_loader = match machine {
        elf::EM_X86_64 => "/lib64/ld-linux-x86-64.so.2",
        elf::EM_AARCH64 => "/lib/ld-linux-aarch64.so.1",
        elf::EM_386 => "/lib/ld-linux.so.2",
        elf::EM_ARM => "/lib/ld-linux-armhf.so.3",
        _ => "/lib/ld-linux.so.2",
    };
    let has_glibc = is_file(glibc_loader);
    let musl_loader = format!("/lib/ld-musl-{march}.so.1");
    let has_musl = is_file(&musl_loader);
    let base_libc = if has_glibc {
        Some(Libc::Glibc)
    } else if has_musl {
        Some(Libc::Musl)
    } else {
        None
    };
    let ld_library_path: Vec<String> = cfg
        .env
        .get("LD_LIBRARY_PATH")
        .map(|v| {
            v.split([':', ';'])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let ld = Loader {
        fs: &fs,
        ld_library_path,
        cache,
        conf_dirs,
        musl_path,
        triplet: loader::triplet(machine),
    };

    // Phase A: resolve every object's direct dependencies.
    struct Need {
        obj: usize,
        name: String,
        real: Vec<u8>,
        path: String,
    }
    let mut needs: Vec<Need> = Vec::new();
    for (i, a) in elves.iter().enumerate() {
        let e = &a.elf;
        if let Some((class, m)) = expected
            && (e.class != class || e.machine != m)
        {
            findings.push(Finding::new(
                E,
                "wrong-machine",
                &a.path,
                format!("a {}-bit {} CPU", e.class, elf::machine_name(e.machine)),
                format!(
                    "the image is {} ({}-bit {})",
                    cfg.arch,
                    class,
                    elf::machine_name(m)
                ),
            ));
            continue;
        }
        if !e.dynamic && e.interp.is_none() {
            continue; // static
        }
        let family = e.libc().or(base_libc).unwrap_or(Libc::Glibc);
        if let Some(interp) = &e.interp {
            let want = e.libc();
            if let Some(w) = want
                && base_libc.is_some_and(|b| b != w)
                && !is_file(interp)
            {
                let other = base_libc.map(Libc::name).unwrap_or("no");
                findings.push(Finding::new(
                    E,
                    "libc-mismatch",
                    &a.path,
                    format!("{} (its loader {interp})", w.name()),
                    format!(
                        "the result is a {other}-only base: a {} program cannot run on it",
                        w.name()
                    ),
                ));
                continue;
            }
            if !is_file(interp) {
                findings.push(Finding::new(
                    E,
                    "missing-loader",
                    &a.path,
                    format!("the program loader {interp} (PT_INTERP)"),
                    format!("{interp} does not exist in the result"),
                ));
                continue;
            }
        }
        let obj = Object {
            path: a.path.clone(),
            elf: e,
        };
        let main = None;
        for name in &e.needed {
            match ld.find(family, name, &obj, main) {
                Found::At { path, real, .. } => needs.push(Need {
                    obj: i,
                    name: name.clone(),
                    real,
                    path,
                }),
                Found::Libc => {}
                Found::Missing { searched, conf_hit } => match conf_hit {
                    Some((p, conf)) => findings.push(Finding::new(
                        E,
                        "library-not-in-ld-so-cache",
                        &a.path,
                        format!("the library {name} (DT_NEEDED)"),
                        format!(
                            "{p} is only reachable through {conf}, and /etc/ld.so.cache does not list it (glibc reads only the cache at run time): run ldconfig in the image"
                        ),
                    )),
                    None => findings.push(Finding::new(
                        E,
                        "missing-library",
                        &a.path,
                        format!("the library {name} (DT_NEEDED)"),
                        format!("not found; searched {}", searched.join(", ")),
                    )),
                },
            }
        }
    }
    drop(ld);

    // Phase B: keep the bytes of the libraries that would load.
    let wanted: Vec<Vec<u8>> = needs
        .iter()
        .map(|n| n.real.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    fs.fetch(&wanted)?;

    // Phase C: each library's machine and the versions it defines.
    let mut libs: BTreeMap<Vec<u8>, Option<elf::Elf>> = BTreeMap::new();
    for r in &wanted {
        let parsed = match fs.result.get(r) {
            Some(n) => fs.data(n)?.and_then(|d| elf::parse(&d).ok()),
            None => None,
        };
        libs.insert(r.clone(), parsed);
    }
    for n in &needs {
        let a = &elves[n.obj];
        match libs.get(&n.real).and_then(Option::as_ref) {
            None => findings.push(Finding::new(
                E,
                "bad-library",
                &a.path,
                format!("the library {} (DT_NEEDED)", n.name),
                format!("{} is not an ELF shared object", n.path),
            )),
            Some(l) if l.class != a.elf.class || l.machine != a.elf.machine => {
                findings.push(Finding::new(
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
            Some(_) => {}
        }
    }
    for a in &elves {
        for vn in &a.elf.version_needs {
            let Some(n) = needs
                .iter()
                .find(|n| elves[n.obj].path == a.path && n.name == vn.file)
            else {
                continue; // the library itself is missing: reported above
            };
            let Some(Some(l)) = libs.get(&n.real) else {
                continue;
            };
            if !l.version_defs.iter().any(|d| d == &vn.version) {
                let newest = newest_version(&l.version_defs, &vn.version);
                findings.push(Finding::new(
                    if vn.weak { W } else { E },
                    "missing-symbol-version",
                    &a.path,
                    format!("{} from {}", vn.version, vn.file),
                    format!(
                        "{}{} does not define {}{}",
                        n.path,
                        if abs(&n.real) == n.path {
                            String::new()
                        } else {
                            format!(" (really {})", abs(&n.real))
                        },
                        vn.version,
                        newest
                            .map(|v| format!("; the newest it defines is {v}"))
                            .unwrap_or_default()
                    ),
                ));
            }
        }
    }

    // Scripts.
    let path_env = cfg
        .env
        .get("PATH")
        .cloned()
        .unwrap_or_else(|| DEFAULT_PATH.to_string());
    let executable = |p: &str| -> Option<String> {
        match fs.lookup(p) {
            Some((r, n)) if n.kind == Kind::File && n.meta.mode & 0o111 != 0 => Some(abs(&r)),
            _ => None,
        }
    };
    let in_path = |name: &str| -> Option<String> {
        path_env
            .split(':')
            .filter(|d| !d.is_empty())
            .find_map(|d| executable(&format!("{}/{name}", d.trim_end_matches('/'))))
    };
    for (p, line) in &scripts {
        let line = String::from_utf8_lossy(line);
        let mut words = line.split_whitespace();
        let Some(interp) = words.next() else {
            findings.push(Finding::new(
                E,
                "missing-interpreter",
                p,
                "an interpreter on its #! line".into(),
                "the #! line is empty".into(),
            ));
            continue;
        };
        if executable(interp).is_none() {
            findings.push(Finding::new(
                E,
                "missing-interpreter",
                p,
                format!("the interpreter {interp} (#!)"),
                format!("{interp} does not exist in the result or is not executable"),
            ));
            continue;
        }
        if interp.ends_with("/env")
            && let Some(prog) = words.find(|w| !w.starts_with('-'))
            && !prog.contains('=')
            && in_path(prog).is_none()
        {
            findings.push(Finding::new(
                E,
                "missing-interpreter",
                p,
                format!("the interpreter {prog} (#!{interp} {prog}, through PATH)"),
                format!("no executable {prog} in PATH={path_env}"),
            ));
        }
    }

    // Entrypoint and Cmd.
    let argv = if cfg.entrypoint.is_empty() {
        &cfg.cmd
    } else {
        &cfg.entrypoint
    };
    if let Some(prog) = argv.first() {
        let field = if cfg.entrypoint.is_empty() {
            "config Cmd"
        } else {
            "config Entrypoint"
        };
        let found = if prog.contains('/') {
            let p = if prog.starts_with('/') {
                prog.clone()
            } else {
                format!(
                    "{}/{prog}",
                    if cfg.workdir.is_empty() {
                        "/"
                    } else {
                        &cfg.workdir
                    }
                )
            };
            executable(&p)
        } else {
            in_path(prog)
        };
        if found.is_none() {
            findings.push(Finding::new(
                E,
                "missing-entrypoint",
                field,
                format!("the program {prog}"),
                if prog.contains('/') {
                    format!("{prog} does not exist in the result or is not executable")
                } else {
                    format!("no executable {prog} in PATH={path_env}")
                },
            ));
        }
    }

    // User.
    if !cfg.user.is_empty() {
        let (u, g) = users::wanted(&cfg.user);
        for (name, file, what) in [(u, "/etc/passwd", "user"), (g, "/etc/group", "group")] {
            let Some(name) = name else { continue };
            let known = fs
                .read_result(file)?
                .map(|b| users::names(&String::from_utf8_lossy(&b)))
                .unwrap_or_default();
            if !known.contains(&name) {
                findings.push(Finding::new(
                    E,
                    &format!("missing-{what}"),
                    "config User",
                    format!("the {what} {name} (User {})", cfg.user),
                    format!("{file} of the result has no {what} {name}"),
                ));
            }
        }
    }

    // Type conflicts with the base.
    for e in &app_raw {
        let AppOp::Put(kind) = &e.op else { continue };
        let Ok(at) = fs.base.resolve_parent(&e.path) else {
            continue;
        };
        let Some(b) = fs.base.get(&at) else { continue };
        let (app_dir, base_dir) = (*kind == Kind::Dir, b.kind == Kind::Dir);
        if app_dir == base_dir {
            continue;
        }
        let base_desc = match &b.kind {
            Kind::Symlink(t) => format!(
                "the base's symlink {} -> {}",
                abs(&at),
                String::from_utf8_lossy(t)
            ),
            k => format!("the base's {} {}", k.name(), abs(&at)),
        };
        findings.push(Finding::new(
            E,
            "type-conflict",
            &abs(&e.path),
            format!("a {} (layer {})", kind.name(), e.layer),
            format!("it replaces {base_desc}, and everything the base has through it"),
        ));
    }

    // Shadowed OS packages.
    findings.extend(pkgs::shadowed(&fs, &app_raw)?);

    let application = if input.paths.is_empty() {
        format!(
            "the {} layer(s) above the base's {}",
            input.layers.len().saturating_sub(input.boundary),
            input.boundary
        )
    } else {
        input
            .paths
            .iter()
            .map(|p| abs(p))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut report = Report {
        image: input.name.to_string(),
        application,
        checked,
        errors: 0,
        warnings: 0,
        findings,
        package_database: None,
    };
    report.finish();
    Ok((report, fs))
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

/// The directories `/etc/ld.so.conf` names (with its `include`s), with the file naming each.
fn ld_so_conf_dirs(fs: &Fs) -> Result<Vec<(String, String)>> {
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
        let (dirs, includes) = loader::parse_ld_so_conf(&String::from_utf8_lossy(&b));
        out.extend(dirs.into_iter().map(|d| (d, f.clone())));
        for inc in includes {
            let inc = if inc.starts_with('/') {
                inc
            } else {
                format!("/etc/{inc}")
            };
            let (dir, pat) = inc.rsplit_once('/').unwrap_or(("", &inc));
            let Some((rdir, n)) = fs.lookup(dir) else {
                continue;
            };
            if n.kind != Kind::Dir {
                continue;
            }
            let mut files: Vec<String> = fs
                .result
                .subtree(&rdir)
                .filter(|(k, _)| k.len() > rdir.len() && !k[rdir.len() + 1..].contains(&b'/'))
                .map(|(k, _)| String::from_utf8_lossy(&k[rdir.len() + 1..]).into_owned())
                .filter(|name| glob_name(pat, name))
                .map(|name| format!("{dir}/{name}"))
                .collect();
            files.sort();
            files.reverse();
            todo.extend(files);
        }
    }
    Ok(out)
}

/// A shell glob over one name (`*` and `?`).
pub fn glob_name(pat: &str, name: &str) -> bool {
    fn m(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], n) || (!n.is_empty() && m(p, &n[1..])),
            (Some(b'?'), Some(_)) => m(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &n[1..]),
            _ => false,
        }
    }
    m(pat.as_bytes(), name.as_bytes())
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

    #[test]
    fn globs() {
        assert!(glob_name("*.conf", "x.conf"));
        assert!(!glob_name("*.conf", "x.conf.bak"));
        assert!(glob_name("a?c", "abc"));
        assert!(!glob_name("*.conf", ".confx"));
    }
}
