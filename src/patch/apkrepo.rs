//! A local apk repository on disk: a directory with `APKINDEX.tar.gz` (gzip tar segments, an
//! optional signature segment first, then a tar holding `APKINDEX`: one block per package of
//! `C:` identity, `P:`, `V:`, `A:`, `S:` file size, `I:`, `D:`, `p:` ... lines), its packages
//! beside it as `P-V.apk`; or a directory of `.apk` files (each one's `.PKGINFO` read from the
//! file itself); or one `.apk` file. Every package used is checked against its index entry
//! (size, and the `C:` SHA1 of its control segment, which vouches for the data through
//! `datahash`) before it is read. Signatures (`.SIGN.RSA.*`) are checked only with
//! `--keyring` (`apksign`): then every index, and every package no index vouches for, must be
//! signed by one of its keys; without it the plan says plainly that they are not verified.

use super::apk::Apk;
use super::repo::Available;
use crate::error::{Error, IoContext, Result};
use crate::model::limits::MAX_PACKAGE_DB;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The value of an apk field letter (case-sensitive: `P:` is the name, `p:` provides).
pub fn letter(fields: &[(String, String)], l: &str) -> Option<String> {
    let v: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == l)
        .map(|(_, v)| v.as_str())
        .collect();
    (!v.is_empty()).then(|| v.join(" "))
}

/// The index letters of a `.PKGINFO` (apk-tools' `read_info_line`), with `C:` and `S:`.
pub fn fields_of(a: &Apk) -> Vec<(String, String)> {
    const MAP: &[(&str, &str)] = &[
        ("pkgname", "P"),
        ("pkgver", "V"),
        ("pkgdesc", "T"),
        ("url", "U"),
        ("size", "I"),
        ("license", "L"),
        ("arch", "A"),
        ("depend", "D"),
        ("install_if", "i"),
        ("provides", "p"),
        ("origin", "o"),
        ("maintainer", "m"),
        ("builddate", "t"),
        ("commit", "c"),
        ("provider_priority", "k"),
    ];
    let mut out = vec![
        ("C".to_string(), a.identity.clone()),
        ("S".to_string(), a.size.to_string()),
    ];
    for (k, v) in &a.info {
        if let Some((_, l)) = MAP.iter().find(|(n, _)| n == k) {
            out.push((l.to_string(), v.clone()));
        }
    }
    out
}

/// The packages of apk repositories, and how each was vouched for.
#[derive(Debug, Default)]
pub struct ApkRepos {
    pub packages: Vec<Available>,
    pub notes: Vec<String>,
}

fn available(fields: Vec<(String, String)>, path: PathBuf, size: Option<u64>) -> Available {
    let get = |l| letter(&fields, l).unwrap_or_default();
    Available {
        name: get("P"),
        version: get("V"),
        arch: get("A"),
        path,
        size,
        sha256: None,
        // Alpine's repositories say nothing of security (no --only-security for apk images).
        security: false,
        fields,
    }
}

impl ApkRepos {
    /// The repositories of `paths`; with `keys`, every index, and every package no index
    /// vouches for, must carry a signature that one of the keys verifies.
    pub fn read(paths: &[PathBuf], keys: Option<&super::apksign::Keys>) -> Result<ApkRepos> {
        let mut r = ApkRepos::default();
        for p in paths {
            r.read_one(p, keys)?;
        }
        Ok(r)
    }

    /// Adds a package no index vouches for; with `keys`, its signature checked (the key's name).
    fn add_apk(&mut self, p: &Path, keys: Option<&super::apksign::Keys>) -> Result<Option<String>> {
        let a = Apk::open(p)?;
        let key = keys.map(|k| a.verify_signature(k)).transpose()?;
        self.packages
            .push(available(fields_of(&a), p.to_path_buf(), None));
        Ok(key)
    }

    fn read_one(&mut self, p: &Path, keys: Option<&super::apksign::Keys>) -> Result<()> {
        let meta = std::fs::metadata(p).at(p)?;
        if meta.is_file() {
            let key = self.add_apk(p, keys)?;
            self.notes.push(format!(
                "{}: an .apk given by path (no index vouches for it; {})",
                p.display(),
                match key {
                    Some(k) => format!("its signature verified with key {k}"),
                    None => "its signature is NOT verified: no --keyring".into(),
                }
            ));
            return Ok(());
        }
        let idx = p.join("APKINDEX.tar.gz");
        if idx.is_file() {
            let (text, signed, key) = read_apkindex_signed(&idx, keys)?;
            let mut n = 0;
            for block in text.split("\n\n") {
                let fields = parse_block(block);
                let get = |l| letter(&fields, l);
                let (Some(name), Some(version), Some(_)) = (get("P"), get("V"), get("C")) else {
                    continue;
                };
                let file = format!("{name}-{version}.apk");
                if file.contains('/') || name.starts_with('.') {
                    return Err(Error::Invalid(format!(
                        "{}: package {name:?} {version:?}: not a file name",
                        idx.display()
                    )));
                }
                let size = get("S").and_then(|s| s.parse().ok());
                self.packages.push(available(fields, p.join(file), size));
                n += 1;
            }
            self.notes.push(format!(
                "{}: {n} package(s); each checked against APKINDEX.tar.gz (size, C: SHA1 of its control segment, its datahash); the index's signature {}",
                p.display(),
                match (key, signed) {
                    (Some(k), _) => format!("verified with key {k}"),
                    (None, true) => "is NOT verified: no --keyring".into(),
                    (None, false) => "is absent (unsigned index)".into(),
                }
            ));
            return Ok(());
        }
        let mut apks: Vec<PathBuf> = std::fs::read_dir(p)
            .at(p)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| f.extension().is_some_and(|e| e == "apk"))
            .collect();
        apks.sort();
        let mut verified = Vec::new();
        for a in &apks {
            verified.extend(self.add_apk(a, keys)?);
        }
        verified.sort();
        verified.dedup();
        self.notes.push(format!(
            "{}: a directory of {} .apk file(s) (no index vouches for them; {})",
            p.display(),
            apks.len(),
            if keys.is_some() {
                format!(
                    "each signature verified, with key(s) {}",
                    verified.join(", ")
                )
            } else {
                "signatures NOT verified: no --keyring".into()
            }
        ));
        Ok(())
    }
}

/// An `installed`/`APKINDEX` block's `X:value` lines, in order.
pub fn parse_block(block: &str) -> Vec<(String, String)> {
    block
        .lines()
        .filter_map(|l| {
            let mut cs = l.char_indices();
            let (_, k) = cs.next()?;
            (cs.next()?.1 == ':').then(|| (k.to_string(), l[k.len_utf8() + 1..].to_string()))
        })
        .collect()
}

/// The `APKINDEX` text of an `APKINDEX.tar.gz` (at most `MAX_PACKAGE_DB`), and whether a
/// signature segment is there.
pub fn read_apkindex(path: &Path) -> Result<(String, bool)> {
    read_apkindex_signed(path, None).map(|(t, s, _)| (t, s))
}

/// `read_apkindex`, and with `keys` the index's signature checked (it must have one): the
/// signature segment's entry signs the rest of the file. Returns the key's name too.
pub fn read_apkindex_signed(
    path: &Path,
    keys: Option<&super::apksign::Keys>,
) -> Result<(String, bool, Option<String>)> {
    let raw = std::fs::read(path).at(path)?;
    let limit = MAX_PACKAGE_DB.value + 1;
    let mut tar = Vec::new();
    flate2::read::MultiGzDecoder::new(&raw[..])
        .take(4 * limit)
        .read_to_end(&mut tar)
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    let mut signed = false;
    let mut text = None;
    let mut ar = tar::Archive::new(&tar[..]);
    let what = |e: &dyn std::fmt::Display| Error::Invalid(format!("{}: {e}", path.display()));
    for e in ar.entries().map_err(|e| what(&e))? {
        let mut e = e.map_err(|e| what(&e))?;
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let name = name.trim_start_matches("./");
        if name.starts_with(".SIGN.") {
            signed = true;
        } else if name == "APKINDEX" {
            if e.size() >= limit {
                return Err(MAX_PACKAGE_DB.error(path.display(), format!("{} bytes", e.size())));
            }
            let mut v = Vec::new();
            e.read_to_end(&mut v).map_err(|x| what(&x))?;
            text = Some(String::from_utf8_lossy(&v).into_owned());
        }
    }
    let text = text.ok_or_else(|| what(&"no APKINDEX inside"))?;
    let Some(keys) = keys else {
        return Ok((text, signed, None));
    };
    // The first gzip member alone: the signature segment, and where the signed bytes start.
    let mut first = flate2::bufread::GzDecoder::new(&raw[..]);
    let mut sig_tar = Vec::new();
    (&mut first)
        .take(4 * limit)
        .read_to_end(&mut sig_tar)
        .map_err(|e| what(&e))?;
    let rest = first.into_inner();
    let mut sig = None;
    if let Ok(mut es) = tar::Archive::new(&sig_tar[..]).entries()
        && let Some(Ok(mut e)) = es.next()
    {
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        if name.trim_start_matches("./").starts_with(".SIGN.") {
            let mut body = Vec::new();
            e.read_to_end(&mut body).map_err(|x| what(&x))?;
            sig = Some((name, body));
        }
    }
    let Some((entry, body)) = sig else {
        return Err(what(&"not signed, and --keyring asks for signed indexes"));
    };
    let key = keys.verify(path, &entry, &body, rest)?;
    Ok((text, signed, Some(key)))
}

/// Opens a package and checks it against what its index says (size, `C:`), and that it is the
/// package the index names.
pub fn verify(a: &Available) -> Result<Apk> {
    let apk = Apk::open(&a.path)?;
    let want_c = letter(&a.fields, "C").unwrap_or_default();
    if let Some(size) = a.size
        && size != apk.size
    {
        return Err(Error::Invalid(format!(
            "{}: size mismatch for {} {}: the index says {size} bytes, the file has {}",
            a.path.display(),
            a.name,
            a.version,
            apk.size
        )));
    }
    if want_c != apk.identity {
        return Err(Error::Invalid(format!(
            "{}: checksum mismatch for {} {}: the index says C:{want_c}, the control segment's SHA1 is {}",
            a.path.display(),
            a.name,
            a.version,
            apk.identity
        )));
    }
    if apk.name() != a.name || apk.version() != a.version {
        return Err(Error::Invalid(format!(
            "{}: the index says {} {}, the package's .PKGINFO {} {}",
            a.path.display(),
            a.name,
            a.version,
            apk.name(),
            apk.version()
        )));
    }
    Ok(apk)
}
