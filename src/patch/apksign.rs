//! apk signatures, checked against the keys the user trusts (`--keyring`: apk's public keys,
//! `*.rsa.pub` files in PEM, or directories of them such as `/etc/apk/keys`). apk-tools 2 signs
//! a package's control segment and an index's index segment: the first gzip segment is a tar
//! holding one `.SIGN.RSA.KEYNAME` (RSA PKCS#1 v1.5 over SHA-1) or `.SIGN.RSA256.KEYNAME`
//! (over SHA-256) whose body is the signature of the compressed bytes that follow it (the
//! control segment of a package; the rest of an `APKINDEX.tar.gz`). The key is found by
//! KEYNAME among the trusted keys' file names, as apk finds it in `/etc/apk/keys`.
//!
//! The RSA arithmetic is OpenSSL's: `openssl dgst -verify`, offline (the Debian package
//! `openssl`), as the apt side leaves signatures to gpgv. Its verdict is read from its exit
//! status and its "Verified OK".

use crate::error::{Error, IoContext, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The trusted public keys, by file name.
#[derive(Debug, Default)]
pub struct Keys {
    keys: Vec<(String, PathBuf)>,
}

impl Keys {
    /// The keys of `paths`: each a key file, or a directory whose `*.pub` files are keys.
    pub fn read(paths: &[PathBuf]) -> Result<Keys> {
        let mut keys = Vec::new();
        for p in paths {
            let m = std::fs::metadata(p).at(p)?;
            let files: Vec<PathBuf> = if m.is_dir() {
                let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                    .at(p)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.extension().is_some_and(|e| e == "pub"))
                    .collect();
                v.sort();
                v
            } else {
                vec![p.clone()]
            };
            for f in files {
                let name = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                keys.push((name, f));
            }
        }
        if keys.is_empty() {
            return Err(Error::Usage(format!(
                "--keyring {}: no apk public key (*.pub) there",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(Keys { keys })
    }

    /// Checks the signature `sig` (the body of the tar entry `entry`, `.SIGN.RSA.KEY` or
    /// `.SIGN.RSA256.KEY`) of `data`, the bytes it signs in `file`. Returns the key's name.
    pub fn verify(&self, file: &Path, entry: &str, sig: &[u8], data: &[u8]) -> Result<String> {
        let entry = entry.trim_start_matches("./");
        let (digest, key) = if let Some(k) = entry.strip_prefix(".SIGN.RSA256.") {
            ("-sha256", k)
        } else if let Some(k) = entry.strip_prefix(".SIGN.RSA.") {
            ("-sha1", k)
        } else {
            return Err(Error::Invalid(format!(
                "{}: signature {}: not an RSA signature apk-tools 2 writes",
                file.display(),
                crate::text::sanitize(entry)
            )));
        };
        let Some((_, path)) = self.keys.iter().find(|(n, _)| n == key) else {
            return Err(Error::Invalid(format!(
                "{}: signed by key {}, which is not among the --keyring keys ({})",
                file.display(),
                crate::text::sanitize(key),
                self.keys
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let (sf, df) = (tmp.path().join("sig"), tmp.path().join("data"));
        std::fs::write(&sf, sig).at(&sf)?;
        std::fs::write(&df, data).at(&df)?;
        let out = Command::new("openssl")
            .args(["dgst", digest, "-verify"])
            .arg(path)
            .arg("-signature")
            .arg(&sf)
            .arg(&df)
            .output()
            .map_err(|e| {
                Error::Invalid(format!(
                    "{}: cannot run openssl to verify its signature: {e}",
                    file.display()
                ))
            })?;
        let said = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && said.trim() == "Verified OK" {
            return Ok(key.to_string());
        }
        Err(Error::Invalid(format!(
            "{}: the signature by key {} does not verify ({}: {})",
            file.display(),
            crate::text::sanitize(key),
            path.display(),
            crate::text::sanitize(
                format!(
                    "{} {}",
                    said.trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )
                .trim()
            )
        )))
    }
}
