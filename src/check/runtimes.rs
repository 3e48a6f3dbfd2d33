//! Runtime ABI checks: what an application built for one language runtime needs of the runtime
//! the result gives it. A Python venv's `pyvenv.cfg` names the Python that made it (`version`)
//! and where it runs from (`home`); its packages live in `lib/pythonX.Y/site-packages`, which
//! only a Python X.Y searches, so the result's `home` must have that `pythonX.Y`. A compiled
//! extension module's ABI tag (`_x.cpython-311-x86_64-linux-gnu.so`) names the one Python that
//! imports it: the result must have that `pythonX.Y` in `/usr/bin`, `/usr/local/bin` or a venv's
//! `home`. The application's class files (loose, or inside a jar, war or ear; their header's
//! major version: 61 is Java 17) against the `release` file (`JAVA_VERSION="17.0.9"`) of the
//! JVM it runs with, its own or else the result's `java`'s: a class file newer than the JVM is
//! an error. A Node addon's
//! `NODE_MODULE_VERSION` (its `node_register_module_vN` symbol) against the result's `node`
//! (Debian's links `libnode.so.N`; an official build ships `include/node/node_version.h`): node
//! refuses an addon built for another version. Each finding names both versions.

use super::abs;
use super::app::App;
use super::programs::Programs;
use super::report::{Finding, Severity};
use crate::error::Result;
use crate::formats::{elf, pyvenv, zip};
use crate::layer::entry::Kind;
use crate::model::limits::MAX_SYSTEM_FILE;
use crate::view::Node;
use crate::view::fs::{Fs, lookup_in};
use crate::view::merged::Key;
use std::collections::BTreeMap;

/// Checks every `pyvenv.cfg`, compiled extension module, class file (loose or in a jar) and
/// Node addon among the application's nodes. `env` is the result's Env (its PATH finds the
/// result's `java` and `node`).
pub fn check(
    fs: &mut Fs,
    env: &BTreeMap<String, String>,
    app: &App,
    out: &mut Vec<Finding>,
) -> Result<()> {
    let mut homes = vec!["/usr/bin".to_string(), "/usr/local/bin".to_string()];
    let nodes = &refs(fs, app)[..];
    for (p, n) in nodes {
        let name_ok = p.as_bytes() == b"pyvenv.cfg" || p.ends_with(b"/pyvenv.cfg");
        if n.kind != Kind::File || !name_ok {
            continue;
        }
        let Some(d) = fs.data(n)? else { continue };
        let cfg = pyvenv::parse(&String::from_utf8_lossy(&d));
        if let Some(f) = venv_version(fs, &abs(p), &cfg) {
            out.push(f);
        }
        homes.extend(cfg.home);
    }
    extensions(fs, nodes, &homes, out);
    let classes = newest_class(fs, nodes, out)?;
    let addons = node_addons(fs, nodes)?;
    // What the result runs them with, read only when the application has some: the files of
    // the base are not kept unless asked for.
    let programs = Programs::new(fs, env);
    let java = classes.as_ref().and_then(|_| programs.in_path("java"));
    let node = (!addons.is_empty())
        .then(|| {
            programs
                .in_path("node")
                .or_else(|| programs.in_path("nodejs"))
        })
        .flatten();
    let jvm_files: Vec<String> = java.iter().flat_map(|j| release_candidates(j)).collect();
    // The PATH node and the application's own (`.../bin/node`, read only when it has addons).
    let mut all_nodes: Vec<String> = node.into_iter().collect();
    if !addons.is_empty() {
        all_nodes.extend(
            nodes
                .iter()
                .filter(|(p, n)| {
                    n.kind == Kind::File
                        && (p.as_bytes() == b"bin/node" || p.ends_with(b"/bin/node"))
                })
                .map(|(p, _)| abs(p)),
        );
    }
    let node_files: Vec<String> = all_nodes.iter().flat_map(|n| node_abi_files(n)).collect();
    // Only files small enough to be read are fetched (an official node is ~100 MB: its
    // headers tell its version instead).
    let keys: Vec<Vec<u8>> = jvm_files
        .iter()
        .chain(&node_files)
        .filter_map(|p| fs.lookup(p))
        .filter(|(_, n)| n.size <= MAX_SYSTEM_FILE.value)
        .map(|(k, _)| k)
        .collect();
    fs.fetch(&keys)?;
    if let Some(newest) = classes {
        java_classes(fs, &refs(fs, app), &jvm_files, newest, out)?;
    }
    if !addons.is_empty() {
        let abis: Vec<(u32, String)> = all_nodes.iter().filter_map(|n| node_abi(fs, n)).collect();
        addon_findings(&addons, &abis, out);
    }
    Ok(())
}

/// The application's files these checks look at, by name: `pyvenv.cfg`, Python extension
/// modules, class files and archives, Node addons and `bin/node`, and `release` files (a
/// list of every node would cost 16 bytes an entry of a large application).
fn refs<'a>(fs: &'a Fs, app: &'a App) -> Vec<(&'a Key, &'a Node)> {
    app.nodes(fs)
        .filter(|(p, n)| n.kind == Kind::File && looked_at(p))
        .collect()
}

/// Whether a path's name is one a check here reads.
fn looked_at(p: &[u8]) -> bool {
    let name = p.rsplit(|&b| b == b'/').next().unwrap_or(p);
    let ends = |s: &[u8]| name.ends_with(s);
    name == b"pyvenv.cfg"
        || name == b"release"
        || abi_tag(name).is_some()
        || [&b".class"[..], b".jar", b".war", b".ear", b".node"]
            .iter()
            .any(|s| ends(s))
        || p == b"bin/node"
        || p.ends_with(b"/bin/node")
}

/// The Java feature version of a JDK's `release` file: `17` of `JAVA_VERSION="17.0.9"`, `8` of
/// `JAVA_VERSION="1.8.0_392"`.
fn java_feature(release: &str) -> Option<u32> {
    let line = release
        .lines()
        .find_map(|l| l.strip_prefix("JAVA_VERSION="))?;
    let v = line.trim().trim_matches('"');
    let mut parts = v.split(['.', '_', '-', '+']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        return parts.next()?.parse().ok();
    }
    Some(first)
}

/// The major version in a class file's header (`CAFEBABE`, minor, major).
fn class_major(head: &[u8]) -> Option<u16> {
    match head {
        [0xca, 0xfe, 0xba, 0xbe, _, _, a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    }
}

/// The newest class file of the application: its major version, where it is (a class file,
/// or a jar and the entry in it), and how many class files there are in all.
struct Newest {
    major: u16,
    path: String,
    entry: Option<String>,
    count: usize,
}

impl Newest {
    fn see(slot: &mut Option<Newest>, major: u16, path: &str, entry: Option<&[u8]>) {
        let count = slot.as_ref().map_or(0, |x| x.count) + 1;
        match slot {
            Some(x) if major <= x.major => x.count = count,
            _ => {
                *slot = Some(Newest {
                    major,
                    path: path.to_string(),
                    entry: entry.map(|e| String::from_utf8_lossy(e).into_owned()),
                    count,
                })
            }
        }
    }
}

/// Whether a jar entry is a class any JVM loads: not `module-info.class` (a Java 8 JVM ignores
/// it) and not under `META-INF/versions/N/` (a multi-release jar's classes for JVMs from N on).
fn loaded_class(name: &[u8]) -> bool {
    name.ends_with(b".class")
        && !name.starts_with(b"META-INF/versions/")
        && name.rsplit(|&b| b == b'/').next() != Some(b"module-info.class")
}

/// The newest class file of the application, loose or inside a jar, war or ear (one level: a
/// jar inside a jar is not opened). A jar that cannot be read is a warning.
fn newest_class(
    fs: &Fs,
    nodes: &[(&Key, &Node)],
    out: &mut Vec<Finding>,
) -> Result<Option<Newest>> {
    let mut newest = None;
    let mut heads = zip::Heads::default();
    for (p, n) in nodes.iter().filter(|(_, n)| n.kind == Kind::File) {
        if p.ends_with(b".class") {
            if let Some(m) = fs.head(n, 8)?.as_deref().and_then(class_major) {
                Newest::see(&mut newest, m, &abs(p), None);
            }
            continue;
        }
        if !(p.ends_with(b".jar") || p.ends_with(b".war") || p.ends_with(b".ear"))
            || n.data().is_none()
        {
            continue;
        }
        let path = abs(p);
        let mut read_at = |o: u64, len: usize| -> Result<Vec<u8>> {
            Ok(fs.read_at(n, o, len as u64)?.unwrap_or_default())
        };
        let read = zip::entries(n.size, &mut read_at, loaded_class).and_then(|entries| {
            for e in entries {
                if let Some(m) = heads
                    .head(&e, 8, &mut read_at)?
                    .as_deref()
                    .and_then(class_major)
                {
                    Newest::see(&mut newest, m, &path, Some(&e.name));
                }
            }
            Ok(())
        });
        if let Err(e) = read {
            if !matches!(
                e,
                crate::error::Error::Invalid(_) | crate::error::Error::Limit { .. }
            ) {
                return Err(e);
            }
            out.push(Finding::new(
                Severity::Warning,
                "unreadable-jar",
                &path,
                "a readable jar (zip) whose class files the JVM check reads".into(),
                e.chain(),
            ));
        }
    }
    Ok(newest)
}

/// Where the `release` file of the JVM whose launcher is `java` may be: `bin/java`'s JDK
/// (`JDK/bin/java`), or a Java 8 JRE's (`JDK/jre/bin/java`).
fn release_candidates(java: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut dir = java.rsplit_once('/').map_or("", |x| x.0);
    for _ in 0..2 {
        dir = dir.rsplit_once('/').map_or("", |x| x.0);
        v.push(format!("{dir}/release"));
    }
    v
}

/// The feature version of the JVM the application runs with: its own `release` file, else the
/// one of the result's `java` (through PATH: `jvm_files`).
fn application_jvm(
    fs: &Fs,
    nodes: &[(&Key, &Node)],
    jvm_files: &[String],
) -> Result<Option<(u32, String)>> {
    for (p, n) in nodes.iter().filter(|(_, n)| n.kind == Kind::File) {
        let named = p.as_bytes() == b"release" || p.ends_with(b"/release");
        if named && n.size <= MAX_SYSTEM_FILE.value {
            let text = fs
                .data(n)?
                .map(|d| String::from_utf8_lossy(&d).into_owned());
            if let Some(f) = text.as_deref().and_then(java_feature) {
                return Ok(Some((f, abs(p))));
            }
        }
    }
    for f in jvm_files {
        // A candidate that cannot be read (too large to be a release file) is no JVM's.
        let text = fs
            .read_result(f)
            .ok()
            .flatten()
            .map(|d| String::from_utf8_lossy(&d).into_owned());
        if let Some(v) = text.as_deref().and_then(java_feature) {
            return Ok(Some((v, format!("{f}, the JVM of the result's java"))));
        }
    }
    Ok(None)
}

/// Class files of the application newer than the JVM it runs with (see `application_jvm`).
fn java_classes(
    fs: &Fs,
    nodes: &[(&Key, &Node)],
    jvm_files: &[String],
    newest: Newest,
    out: &mut Vec<Finding>,
) -> Result<()> {
    let Some((feature, release)) = application_jvm(fs, nodes, jvm_files)? else {
        return Ok(());
    };
    let Newest {
        major,
        path,
        entry,
        count,
    } = newest;
    let supported = feature + 44;
    if u32::from(major) > supported {
        let inside = entry.map(|e| format!(" ({e} in it)")).unwrap_or_default();
        out.push(Finding::new(
            Severity::Error,
            "java-class-version",
            &path,
            format!(
                "a JVM for class file version {major} (Java {}){inside}, the newest of \
                 {count} class file(s)",
                u32::from(major).saturating_sub(44)
            ),
            format!(
                "the application's JVM is Java {feature} ({release}), which runs class files up \
                 to version {supported}"
            ),
        ));
    }
    Ok(())
}

/// A Node addon of the application: its path and the `NODE_MODULE_VERSION` it was built for.
struct Addon {
    path: String,
    abi: u32,
}

/// The application's Node addons (`*.node` ELF files) that name their `NODE_MODULE_VERSION`:
/// those registered through `NODE_MODULE_INIT` or `NODE_MODULE_INITIALIZER` export
/// `node_register_module_vN`. Node-API addons (`napi_register_module_v1`) are ABI-stable and
/// not checked; addons registered only through a static constructor (the `NODE_MODULE`
/// macro) carry the version in data no symbol names, and are not checked either.
fn node_addons(fs: &Fs, nodes: &[(&Key, &Node)]) -> Result<Vec<Addon>> {
    let mut v = Vec::new();
    for (p, n) in nodes {
        if n.kind != Kind::File || !p.ends_with(b".node") {
            continue;
        }
        match fs.head(n, 4)? {
            Some(h) if elf::is_elf(&h) => {}
            _ => continue,
        }
        let Some(d) = fs.data(n)? else { continue };
        // An unreadable ELF file is already a finding of the ELF checks.
        let Ok(syms) = elf::defined_symbols_starting(&d, NODE_REGISTER.as_bytes()) else {
            continue;
        };
        if let Some(abi) = syms
            .iter()
            .find_map(|s| s[NODE_REGISTER.len()..].parse().ok())
        {
            v.push(Addon { path: abs(p), abi });
        }
    }
    Ok(v)
}

const NODE_REGISTER: &str = "node_register_module_v";

/// The files that tell the `NODE_MODULE_VERSION` of the node at `node`: the program itself
/// (Debian's links `libnode.so.N`, N being the version) and the headers an official build
/// installs beside it (`PREFIX/include/node/node_version.h`).
fn node_abi_files(node: &str) -> Vec<String> {
    let bin = node.rsplit_once('/').map_or("", |x| x.0);
    let prefix = bin.rsplit_once('/').map_or("", |x| x.0);
    vec![
        node.to_string(),
        format!("{prefix}/include/node/node_version.h"),
    ]
}

/// The `NODE_MODULE_VERSION` of the node at `node` and how it is known, when the result tells.
fn node_abi(fs: &Fs, node: &str) -> Option<(u32, String)> {
    let files = node_abi_files(node);
    if let Some((_, n)) = fs.lookup(node)
        && n.size <= MAX_SYSTEM_FILE.value
        && let Ok(Some(d)) = fs.data(n)
        && let Ok(e) = elf::parse(&d)
        && let Some(v) = e
            .needed
            .iter()
            .find_map(|l| l.strip_prefix("libnode.so.")?.parse().ok())
    {
        return Some((v, format!("{node}, which links libnode.so.{v}")));
    }
    let text = fs.read_result(&files[1]).ok()??;
    let text = String::from_utf8_lossy(&text);
    let v = text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("#define")?.trim_start();
        rest.strip_prefix("NODE_MODULE_VERSION")?
            .trim()
            .parse()
            .ok()
    })?;
    Some((v, format!("{node}, whose {} says so", files[1])))
}

/// One finding per `NODE_MODULE_VERSION` the application's addons are built for that no node
/// of the result (`abis`: the one in PATH, the application's own) is. Nothing when the result
/// has no node whose version can be told.
fn addon_findings(addons: &[Addon], abis: &[(u32, String)], out: &mut Vec<Finding>) {
    if abis.is_empty() {
        return;
    }
    let mut by_abi: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for a in addons {
        by_abi.entry(a.abi).or_default().push(&a.path);
    }
    let have: Vec<String> = abis
        .iter()
        .map(|(v, how)| format!("NODE_MODULE_VERSION {v} ({how})"))
        .collect();
    for (abi, files) in by_abi {
        if abis.iter().any(|(v, _)| *v == abi) {
            continue;
        }
        out.push(Finding::new(
            Severity::Error,
            "node-addon-abi",
            files[0],
            format!(
                "a node of NODE_MODULE_VERSION {abi} ({} addon(s) built for it, the first {})",
                files.len(),
                files[0]
            ),
            format!(
                "the result's node is {}: it refuses to load them",
                have.join(", ")
            ),
        ));
    }
}

/// `3.11` of an extension module's name `NAME.cpython-311[-PLATFORM].so`.
fn abi_tag(name: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(name).ok()?.strip_suffix(".so")?;
    let tag = name.rsplit_once(".cpython-")?.1;
    let digits: String = tag.chars().take_while(char::is_ascii_digit).collect();
    let (major, minor) = digits.split_at_checked(1)?;
    (!minor.is_empty() && matches!(tag[digits.len()..].chars().next(), None | Some('-')))
        .then(|| format!("{major}.{minor}"))
}

/// One finding per Python version the application's extension modules are built for and the
/// result has in none of `homes`.
fn extensions(fs: &Fs, nodes: &[(&Key, &Node)], homes: &[String], out: &mut Vec<Finding>) {
    let mut by_version: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (p, n) in nodes {
        let name = p.rsplit(|&b| b == b'/').next().unwrap_or(p);
        if n.kind == Kind::File
            && let Some(v) = abi_tag(name)
        {
            by_version.entry(v).or_default().push(abs(p));
        }
    }
    let have: std::collections::BTreeSet<String> =
        homes.iter().flat_map(|h| pythons_in(fs, h)).collect();
    for (v, files) in by_version {
        if have.contains(&v) {
            continue;
        }
        let has = if have.is_empty() {
            "the result has no Python in /usr/bin, /usr/local/bin or a venv's home".to_string()
        } else {
            let list: Vec<&str> = have.iter().map(String::as_str).collect();
            format!("the result has Python {} only", list.join(", "))
        };
        out.push(Finding::new(
            Severity::Error,
            "python-extension-abi",
            &files[0],
            format!(
                "Python {v} ({} extension module(s) built for cpython-{}, the first {})",
                files.len(),
                v.replace('.', ""),
                files[0]
            ),
            format!("{has}: no Python but {v} imports them"),
        ));
    }
}

/// The `pythonX.Y` names (`X.Y`) in directory `dir` of the result.
fn pythons_in(fs: &Fs, dir: &str) -> Vec<String> {
    let Some((real, n)) = lookup_in(&fs.result, dir) else {
        return Vec::new();
    };
    if n.kind != Kind::Dir {
        return Vec::new();
    }
    let mut v: Vec<String> = fs
        .result
        .subtree(&real)
        .filter_map(|(k, _)| {
            let name = k.strip_prefix(real.as_slice())?.strip_prefix(b"/")?;
            let ver = std::str::from_utf8(name).ok()?.strip_prefix("python")?;
            let (a, b) = ver.split_once('.')?;
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
            (digits(a) && digits(b)).then(|| ver.to_string())
        })
        .collect();
    v.sort();
    v
}

/// A venv whose Python the result's `home` lacks.
fn venv_version(fs: &Fs, path: &str, cfg: &pyvenv::PyVenv) -> Option<Finding> {
    let (home, mm) = (cfg.home.as_deref()?, cfg.major_minor()?);
    let home = home.trim_end_matches('/');
    let want = format!("{home}/python{mm}");
    if lookup_in(&fs.result, &want).is_some_and(|(_, n)| n.kind == Kind::File) {
        return None;
    }
    let have = pythons_in(fs, home);
    let missing = if have.is_empty() {
        format!("{home} in the result has no Python at all (no {want})")
    } else {
        format!(
            "{home} in the result has Python {} (no {want}): the venv would run Python {}, which \
             does not search lib/python{mm}/site-packages",
            have.join(", "),
            have.last().map_or("", String::as_str)
        )
    };
    Some(Finding::new(
        Severity::Error,
        "python-venv-version",
        path,
        format!(
            "Python {mm} (pyvenv.cfg: version {}, home {home}): its packages are in \
             lib/python{mm}/site-packages",
            cfg.version.as_deref().unwrap_or("?")
        ),
        missing,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_versions_of_release_files_and_class_headers() {
        assert_eq!(
            java_feature("IMPLEMENTOR=x\nJAVA_VERSION=\"17.0.9\"\n"),
            Some(17)
        );
        assert_eq!(java_feature("JAVA_VERSION=\"1.8.0_392\""), Some(8));
        assert_eq!(java_feature("JAVA_VERSION=\"21\""), Some(21));
        assert_eq!(java_feature("JAVA_RUNTIME_VERSION=\"21\""), None);
        assert_eq!(
            class_major(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 65]),
            Some(65)
        );
        assert_eq!(class_major(b"PK\x03\x04xxxx"), None);
        assert_eq!(class_major(&[0xca, 0xfe]), None);
    }

    #[test]
    fn abi_tags_of_extension_module_names() {
        let cases: [(&str, Option<&str>); 6] = [
            ("_ssl.cpython-311-x86_64-linux-gnu.so", Some("3.11")),
            ("_x.cpython-39.so", Some("3.9")),
            ("_x.abi3.so", None),
            ("_x.cpython-3.so", None),
            ("_x.cpython-311d.so", None),
            ("libfoo.so", None),
        ];
        for (name, want) in cases {
            assert_eq!(abi_tag(name.as_bytes()).as_deref(), want, "{name}");
        }
    }
}
