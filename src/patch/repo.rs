//! A local package repository on disk: a directory of `.deb` files (each one's control read
//! from the file itself), or an apt repository: `dists/SUITE/Release` naming its `Packages`
//! indexes with their SHA256 and size, or a flat one (`Packages[.gz|.xz]` at its top, as
//! `dpkg-scanpackages` writes). Every index read is checked against the `Release` that names
//! it, and every `.deb` used against the size and SHA256 its index gives. With `--keyring`,
//! every repository must be a signed apt repository: `InRelease` (the Release text taken from
//! what `gpgv` verified, not from the file around it) or `Release` with `Release.gpg`, each
//! checked by Debian's `gpgv` against the keyring files alone before any checksum in it is
//! trusted. Without `--keyring`, the plan says that signatures were not verified.

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
    /// From a suite whose Release says it is a security suite (`is_security_suite`).
    pub security: bool,
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
    /// `--keyring` files (absolute): signatures are required and verified against them.
    keyrings: Vec<PathBuf>,
}

/// The note's words for repositories whose signatures nobody checked.
const NOT_VERIFIED: &str = "signatures not verified (no --keyring)";

impl Repos {
    /// Reads each repository (a directory or one `.deb` file); with `keyrings`, each must be a
    /// signed apt repository whose signatures verify against them.
    pub fn read(paths: &[PathBuf], keyrings: &[PathBuf]) -> Result<Repos> {
        let mut r = Repos::default();
        for k in keyrings {
            // gpgv takes a name without a slash as one in its home directory.
            let abs = std::fs::canonicalize(k).at(k)?;
            r.keyrings.push(abs);
        }
        for p in paths {
            r.read_one(p)?;
        }
        Ok(r)
    }

    fn read_one(&mut self, p: &Path) -> Result<()> {
        let meta = std::fs::metadata(p).at(p)?;
        let signed_apt = p.join("dists").is_dir();
        if !self.keyrings.is_empty() && !signed_apt {
            return Err(Error::Invalid(format!(
                "{}: --keyring asks for signed repositories, and this is {} (no dists/*/InRelease or Release.gpg to verify)",
                p.display(),
                if meta.is_file() {
                    "a .deb file"
                } else {
                    "not an apt repository"
                }
            )));
        }
        if meta.is_file() {
            self.add_deb(p)?;
            self.notes.push(format!(
                "{}: a .deb given by path (no index vouches for it; {NOT_VERIFIED})",
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
                self.add_index(p, &text, &idx, false)?;
                self.notes.push(format!(
                    "{}: a flat repository; {name} is not vouched for by a Release (checksums of the .debs from it are checked; {NOT_VERIFIED})",
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
            "{}: a directory of {} .deb file(s) (no index vouches for them; {NOT_VERIFIED})",
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
            security: false,
        });
        Ok(())
    }

    /// `dists/SUITE/Release`: its SHA256 list names the `Packages` indexes; each is read and
    /// checked against it (the first of `Packages.xz`, `.gz`, plain that is there).
    fn read_release(&mut self, root: &Path, suite: &Path) -> Result<()> {
        let (rel_path, text, how) = self.release_text(suite)?;
        let fields = deb::fields(&text);
        let security = is_security_suite(&fields);
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
            self.add_index(root, &text, &idx, security)?;
        }
        self.notes.push(format!(
            "{}: indexes checked against {} (SHA256); {how}{}",
            root.display(),
            rel_path.display(),
            if security { "; a security suite" } else { "" }
        ));
        Ok(())
    }

    /// A suite's Release text, the file it came from, and how its signature was checked:
    /// with keyrings, `InRelease` (the text gpgv verified) or `Release` + `Release.gpg`, and
    /// an error naming the file when neither verifies; without, `Release` as it is (else
    /// `InRelease`'s text unverified).
    fn release_text(&self, suite: &Path) -> Result<(PathBuf, String, String)> {
        let inrelease = suite.join("InRelease");
        let release = suite.join("Release");
        let detached = suite.join("Release.gpg");
        if self.keyrings.is_empty() {
            let signed = inrelease.is_file() || detached.is_file();
            let how = if signed {
                format!("{NOT_VERIFIED}: its signature is not checked")
            } else {
                "the repository is unsigned (signatures not verified)".to_string()
            };
            if release.is_file() {
                let text = std::fs::read_to_string(&release).at(&release)?;
                return Ok((release, text, how));
            }
            let text = gpgv(&[], &inrelease, None, false)?;
            return Ok((inrelease, text, how));
        }
        let shown = self
            .keyrings
            .iter()
            .map(|k| k.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if inrelease.is_file() {
            let text = gpgv(&self.keyrings, &inrelease, None, true)?;
            return Ok((
                inrelease,
                text,
                format!("its signature verified by gpgv against {shown}"),
            ));
        }
        if detached.is_file() && release.is_file() {
            gpgv(&self.keyrings, &detached, Some(&release), true)?;
            let text = std::fs::read_to_string(&release).at(&release)?;
            return Ok((
                release,
                text,
                format!("its signature (Release.gpg) verified by gpgv against {shown}"),
            ));
        }
        Err(Error::Invalid(format!(
            "{}: no InRelease and no Release.gpg: the suite is unsigned, and --keyring asks for signatures",
            suite.display()
        )))
    }

    fn add_index(&mut self, root: &Path, text: &str, idx: &Path, security: bool) -> Result<()> {
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
                security,
            });
        }
        Ok(())
    }
}

/// Whether a Release names a security suite: its `Suite` or `Codename` ends in `-security`
/// (`bookworm-security`, `stable-security`) or is `security`, or its `Label` has the word
/// `Security` (`Debian-Security`), as Debian's and Ubuntu's security archives say.
pub fn is_security_suite(release: &[(String, String)]) -> bool {
    let f = |k| {
        deb::field(release, k)
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    let suite_like = |v: String| v == "security" || v.ends_with("-security");
    suite_like(f("Suite"))
        || suite_like(f("Codename"))
        || f("Label")
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "security")
}

/// Runs Debian's `gpgv` on `sig` (an `InRelease`, or a detached `Release.gpg` over `data`)
/// with only `keyrings` (an empty home directory, no default keyring); returns the signed text
/// gpgv wrote out (for `InRelease`). Without `verify`, the clear-signed text is taken out of
/// `InRelease` without checking anything. A signature that does not verify, from a key not in
/// the keyrings, expired or revoked, is an error naming `sig`.
fn gpgv(keyrings: &[PathBuf], sig: &Path, data: Option<&Path>, verify: bool) -> Result<String> {
    if !verify {
        let raw = std::fs::read_to_string(sig).at(sig)?;
        return Ok(cleartext(&raw));
    }
    let home = tempfile::tempdir().map_err(|e| Error::io_while("a home directory for gpgv", e))?;
    let out = home.path().join("signed");
    let mut cmd = std::process::Command::new("gpgv");
    cmd.arg("--homedir")
        .arg(home.path())
        .arg("--status-fd")
        .arg("1");
    for k in keyrings {
        cmd.arg("--keyring").arg(k);
    }
    if data.is_none() {
        cmd.arg("--output").arg(&out);
    }
    cmd.arg(sig);
    if let Some(d) = data {
        cmd.arg(d);
    }
    let o = cmd.output().map_err(|e| {
        Error::Invalid(format!(
            "{}: running gpgv (Debian package gpgv) to verify it: {e}",
            sig.display()
        ))
    })?;
    let status = String::from_utf8_lossy(&o.stdout);
    let has = |w: &str| {
        status
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(w))
    };
    let bad = [
        "BADSIG",
        "EXPKEYSIG",
        "REVKEYSIG",
        "EXPSIG",
        "ERRSIG",
        "NO_PUBKEY",
    ]
    .iter()
    .find(|w| has(w));
    if !o.status.success() || !has("VALIDSIG") || bad.is_some() {
        let said = String::from_utf8_lossy(&o.stderr);
        let what = match data {
            Some(d) => format!("{} (signature {})", d.display(), sig.display()),
            None => sig.display().to_string(),
        };
        return Err(Error::Invalid(format!(
            "{what}: the signature does not verify against the --keyring files ({}): gpgv says: {}",
            bad.unwrap_or(&"no valid signature"),
            said.trim().replace('\n', "; ")
        )));
    }
    if data.is_some() {
        return Ok(String::new());
    }
    std::fs::read_to_string(&out).at(&out)
}

/// The text of a clear-signed message (an unverified `InRelease`): between the armor header's
/// blank line and the signature, dash-escapes removed.
fn cleartext(raw: &str) -> String {
    let mut lines = raw.lines();
    if !raw.starts_with("-----BEGIN PGP SIGNED MESSAGE-----") {
        return raw.to_string();
    }
    for l in lines.by_ref() {
        if l.trim().is_empty() {
            break;
        }
    }
    let mut out = String::new();
    for l in lines {
        if l.starts_with("-----BEGIN PGP SIGNATURE-----") {
            break;
        }
        out.push_str(l.strip_prefix("- ").unwrap_or(l));
        out.push('\n');
    }
    out
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
        Box::new(deb::xz_reader(&raw[..]).at(path)?)
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
