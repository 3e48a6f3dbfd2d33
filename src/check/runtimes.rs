//! Runtime ABI checks: what an application built for one language runtime needs of the runtime
//! the result gives it. A Python venv's `pyvenv.cfg` names the Python that made it (`version`)
//! and where it runs from (`home`); its packages live in `lib/pythonX.Y/site-packages`, which
//! only a Python X.Y searches, so the result's `home` must have that `pythonX.Y`. Each finding
//! names both versions.

use super::abs;
use super::report::{Finding, Severity};
use crate::error::Result;
use crate::formats::pyvenv;
use crate::layer::entry::Kind;
use crate::view::Node;
use crate::view::fs::{Fs, lookup_in};

/// Checks every `pyvenv.cfg` among the application's nodes.
pub fn check(fs: &Fs, nodes: &[(Vec<u8>, Node)], out: &mut Vec<Finding>) -> Result<()> {
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
    }
    Ok(())
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
