//! Runtime ABI checks: what an application built for one language runtime needs of the runtime
//! the result gives it. A Python venv's `pyvenv.cfg` names the Python that made it (`version`)
//! and where it runs from (`home`); its packages live in `lib/pythonX.Y/site-packages`, which
//! only a Python X.Y searches, so the result's `home` must have that `pythonX.Y`. A compiled
//! extension module's ABI tag (`_x.cpython-311-x86_64-linux-gnu.so`) names the one Python that
//! imports it: the result must have that `pythonX.Y` in `/usr/bin`, `/usr/local/bin` or a venv's
//! `home`. A JVM's `release` file (`JAVA_VERSION="17.0.9"`) against the class files of the
//! application (their header's major version: 61 is Java 17), when both are in the
//! application: a class file newer than the JVM is an error. Each finding names both versions.

use super::abs;
use super::report::{Finding, Severity};
use crate::error::Result;
use crate::formats::pyvenv;
use crate::layer::entry::Kind;
use crate::view::Node;
use crate::view::fs::{Fs, lookup_in};
use crate::view::merged::Key;

/// Checks every `pyvenv.cfg` and compiled extension module among the application's nodes.
pub fn check(fs: &Fs, nodes: &[(Key, Node)], out: &mut Vec<Finding>) -> Result<()> {
    let mut homes = vec!["/usr/bin".to_string(), "/usr/local/bin".to_string()];
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
    java_classes(fs, nodes, out)
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

/// Class files of the application newer than the application's JVM, when it has both.
fn java_classes(fs: &Fs, nodes: &[(Key, Node)], out: &mut Vec<Finding>) -> Result<()> {
    let mut jvm = None;
    let mut newest: Option<(u16, String, usize)> = None;
    for (p, n) in nodes.iter().filter(|(_, n)| n.kind == Kind::File) {
        if p.ends_with(b".class") {
            let Some(m) = fs.head(n, 8)?.as_deref().and_then(class_major) else {
                continue;
            };
            let count = newest.as_ref().map_or(0, |x| x.2) + 1;
            if newest.as_ref().is_none_or(|x| m > x.0) {
                newest = Some((m, abs(p), count));
            } else if let Some(x) = newest.as_mut() {
                x.2 = count;
            }
        } else if (p.as_bytes() == b"release" || p.ends_with(b"/release")) && jvm.is_none() {
            let text = fs
                .data(n)?
                .map(|d| String::from_utf8_lossy(&d).into_owned());
            jvm = text.as_deref().and_then(java_feature).map(|f| (f, abs(p)));
        }
    }
    let (Some((feature, release)), Some((major, first, count))) = (jvm, newest) else {
        return Ok(());
    };
    let supported = feature + 44;
    if u32::from(major) > supported {
        out.push(Finding::new(
            Severity::Error,
            "java-class-version",
            &first,
            format!(
                "a JVM for class file version {major} (Java {}), the newest of {count} class \
                 file(s)",
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
fn extensions(fs: &Fs, nodes: &[(Key, Node)], homes: &[String], out: &mut Vec<Finding>) {
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
