//! A local package repository on disk: a directory of `.deb` files (each one's control read
//! from the file itself), or an apt repository: `dists/SUITE/Release` naming its `Packages`
//! indexes with their SHA256 and size, or a flat one (`Packages[.gz|.xz]` at its top, as
//! `dpkg-scanpackages` writes). Every index read is checked against the `Release` that names
//! it, and every `.deb` used against the size and SHA256 its index gives. Signatures of
//! `Release` (`InRelease`, `Release.gpg`) are not verified: regraft has no OpenPGP verifier,
//! and says so in the plan.

use super::deb::{self, Deb};
use crate::error::{Error, IoContext, Result};
use crate::model::digest::Hasher;
use crate::model::limits::MAX_PACKAGE_DB;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A package the repository offers.
#[derive(Debug, Clone)]
pub struct Available {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// The stanza's fields (its index entry, or the `.deb`'s control).
    pub fields: Vec<(String, String)>,
    pub path: PathBuf,
    /// From the index: what the file must be.
    pub size: Option<u64>,
    pub sha256: Option<String>,
}

impl Available {
    pub fn field(&self, name: &str) -> Option<&str> {
        deb::field(&self.fields, name)
    }
}

/// What was read, for the plan: each repository and how its packages were vouched for.
#[derive(Debug, Default)]
pub struct Repos {
    pub packages: Vec<Available>,
    pub notes: Vec<String>,
}

impl Repos {
    /// Reads each repository (a directory or one `.deb` file).
    pub fn read(paths: &[PathBuf]) -> Result<Repos> {
        let mut r = Repos::default();
        for p in paths {
            r.read_one(p)?;
        }
        Ok(r)
    }

    fn read_one(&mut self, p: &Path) -> Result<()> {
        let meta = std::fs::metadata(p).at(p)?;
        if meta.is_file() {
            self.add_deb(p)?;
            self.notes.push(format!(
                "{}: a .deb given by path (no index vouches for it)",
                p.display()
            ));
            return Ok(());
        }
        let dists = p.join("dists");
        if dists.is_dir() {
            let mut suites: Vec<PathBuf> = std::fs::read_dir(&dists)
                .at(&dists)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|s| s.join("Release").is_file())
                .collect();
            suites.sort();
            if suites.is_empty() {
                return Err(Error::Invalid(format!(
                    "{}: no dists/*/Release",
                    p.display()
                )));
            }
            for s in suites {
                self.read_release(p, &s)?;
            }
            return Ok(());
        }
        for name in ["Packages", "Packages.gz", "Packages.xz"] {
            let idx = p.join(name);
            if idx.is_file() {
                let text = read_index(&idx, None)?;
                self.add_index(p, &text, &idx)?;
                self.notes.push(format!(
                    "{}: a flat repository; {name} is not vouched for by a Release (checksums of the .debs from it are checked)",
                    p.display()
                ));
                return Ok(());
            }
        }
        let mut debs: Vec<PathBuf> = std::fs::read_dir(p)
            .at(p)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| f.extension().is_some_and(|e| e == "deb"))
            .collect();
        debs.sort();
        for d in &debs {
            self.add_deb(d)?;
        }
        self.notes.push(format!(
            "{}: a directory of {} .deb file(s) (no index vouches for them)",
            p.display(),
            debs.len()
        ));
        Ok(())
    }

    fn add_deb(&mut self, path: &Path) -> Result<()> {
        let c = Deb::open(path)?.control()?;
        let fields = deb::fields(&c.control);
        let get = |k| deb::field(&fields, k).map(str::to_string);
        let (Some(name), Some(version)) = (get("Package"), get("Version")) else {
            return Err(Error::Invalid(format!(
                "{}: control without Package or Version",
                path.display()
            )));
        };
        self.packages.push(Available {
            name,
            version,
            arch: get("Architecture").unwrap_or_default(),
            fields,
            path: path.to_path_buf(),
            size: None,
            sha256: None,
        });
        Ok(())
    }

    /// `dists/SUITE/Release`: its SHA256 list names the `Packages` indexes; each is read and
    /// checked against it (the first of `Packages.xz`, `.gz`, plain that is there).
    fn read_release(&mut self, root: &Path, suite: &Path) -> Result<()> {
        let rel_path = suite.join("Release");
        let text = std::fs::read_to_string(&rel_path).at(&rel_path)?;
        let fields = deb::fields(&text);
        let sums = deb::field(&fields, "SHA256")
            .ok_or_else(|| Error::Invalid(format!("{}: no SHA256 field", rel_path.display())))?;
        let mut listed: Vec<(String, u64, String)> = Vec::new();
        for l in sums.lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            if let [hash, size, name] = w[..]
                && let Ok(size) = size.parse()
            {
                listed.push((name.to_string(), size, hash.to_ascii_lowercase()));
            }
        }
        let mut bases: Vec<&str> = listed
            .iter()
            .filter_map(|(n, _, _)| {
                let base = n
                    .strip_suffix(".xz")
                    .or_else(|| n.strip_suffix(".gz"))
                    .unwrap_or(n);
                base.ends_with("/Packages").then_some(base)
            })
            .collect();
        bases.sort();
        bases.dedup();
        for base in bases {
            let pick = [format!("{base}.xz"), format!("{base}.gz"), base.to_string()]
                .into_iter()
                .find_map(|n| {
                    let e = listed.iter().find(|(m, _, _)| *m == n)?;
                    suite.join(&n).is_file().then(|| e.clone())
                });
            let Some((name, size, hash)) = pick else {
                continue;
            };
            let idx = suite.join(&name);
            let text = read_index(&idx, Some((size, &hash)))?;
            self.add_index(root, &text, &idx)?;
        }
        let signed = suite.join("InRelease").is_file() || suite.join("Release.gpg").is_file();
        self.notes.push(format!(
            "{}: indexes checked against {} (SHA256); its signature {}",
            root.display(),
            rel_path.display(),
            if signed {
                "is NOT verified (regraft has no OpenPGP verifier)"
            } else {
                "is absent (unsigned repository)"
            }
        ));
        Ok(())
    }

    fn add_index(&mut self, root: &Path, text: &str, idx: &Path) -> Result<()> {
        for stanza in text.split("\n\n") {
            let fields = deb::fields(stanza);
            let get = |k| deb::field(&fields, k).map(str::to_string);
            let (Some(name), Some(version), Some(file)) =
                (get("Package"), get("Version"), get("Filename"))
            else {
                continue;
            };
            let rel = crate::model::path::clean_selection(&format!("/{file}")).map_err(|e| {
                Error::Invalid(format!(
                    "{}: package {name}: Filename {file:?}: {e}",
                    idx.display()
                ))
            })?;
            let path = root.join(String::from_utf8_lossy(&rel).as_ref());
            self.packages.push(Available {
                name,
                version,
                arch: get("Architecture").unwrap_or_default(),
                size: get("Size").and_then(|s| s.parse().ok()),
                sha256: get("SHA256").map(|s| s.to_ascii_lowercase()),
                fields,
                path,
            });
        }
        Ok(())
    }
}

/// An index file, decompressed, at most `MAX_PACKAGE_DB`; checked against (size, sha256) of
/// the compressed file when a Release gives them.
fn read_index(path: &Path, want: Option<(u64, &str)>) -> Result<String> {
    let raw = std::fs::read(path).at(path)?;
    if let Some((size, hash)) = want {
        let mut h = Hasher::new();
        h.update(&raw);
        let got = h.finish().0.hex();
        if raw.len() as u64 != size || got != hash {
            return Err(Error::Invalid(format!(
                "{}: checksum mismatch: the Release says {size} bytes, sha256 {hash}; the file has {} bytes, sha256 {got}",
                path.display(),
                raw.len()
            )));
        }
    }
    let name = path.to_string_lossy();
    let mut text = Vec::new();
    let limit = MAX_PACKAGE_DB.value + 1;
    let r: Box<dyn Read> = if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(&raw[..]))
    } else if name.ends_with(".xz") {
        let mut out = Vec::new();
        lzma_rs::xz_decompress(&mut &raw[..], &mut out)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        Box::new(std::io::Cursor::new(out))
    } else {
        Box::new(&raw[..])
    };
    r.take(limit).read_to_end(&mut text).at(path)?;
    if text.len() as u64 >= limit {
        return Err(MAX_PACKAGE_DB.error(path.display(), "more bytes"));
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Checks a `.deb` against the size and SHA256 its index gives, before it is used.
pub fn verify(a: &Available) -> Result<()> {
    let (Some(size), Some(hash)) = (a.size, a.sha256.as_deref()) else {
        return Ok(());
    };
    let mut f = std::fs::File::open(&a.path).at(&a.path)?;
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).at(&a.path)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    let got = h.finish().0.hex();
    if n != size || got != hash {
        return Err(Error::Invalid(format!(
            "{}: checksum mismatch for {} {}: the index says {size} bytes, sha256 {hash}; the file has {n} bytes, sha256 {got}",
            a.path.display(),
            a.name,
            a.version
        )));
    }
    Ok(())
}
