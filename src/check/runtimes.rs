//! Runtime ABI checks: what an application built for one language runtime needs of the runtime
//! the result gives it. A Python venv's `pyvenv.cfg` names the Python that made it (`version`)
//! and where it runs from (`home`); its packages live in `lib/pythonX.Y/site-packages`, which
//! only a Python X.Y searches, so the result's `home` must have that `pythonX.Y`. A compiled
//! extension module's ABI tag (`_x.cpython-311-x86_64-linux-gnu.so`) names the one Python that
//! imports it: the result must have that `pythonX.Y` in `/usr/bin`, `/usr/local/bin` or a venv's
//! `home`. Each finding names both versions.

use super::abs;
use super::report::{Finding, Severity};
use crate::error::Result;
use crate::formats::pyvenv;
use crate::layer::entry::Kind;
use crate::view::Node;
use crate::view::fs::{Fs, lookup_in};

/// Checks every `pyvenv.cfg` and compiled extension module among the application's nodes.
pub fn check(fs: &Fs, nodes: &[(Vec<u8>, Node)], out: &mut Vec<Finding>) -> Result<()> {
    let mut homes = vec!["/usr/bin".to_string(), "/usr/local/bin".to_string()];
    for (p, n) in nodes {
        let name_ok = p == b"pyvenv.cfg" || p.ends_with(b"/pyvenv.cfg");
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
fn extensions(fs: &Fs, nodes: &[(Vec<u8>, Node)], homes: &[String], out: &mut Vec<Finding>) {
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
