//! Where a registry's credentials come from, first match wins: `--creds USER:PASS`; else
//! `--authfile FILE` alone when given; else `$REGISTRY_AUTH_FILE`,
//! `$XDG_RUNTIME_DIR/containers/auth.json` (podman, skopeo, buildah),
//! `~/.config/containers/auth.json`, and Docker's `config.json` (`$DOCKER_CONFIG` or
//! `~/.docker`). In each file: `credHelpers` for the host, then `auths` (a base64
//! `USER:PASS`), then `credsStore`; a helper is run as `docker-credential-NAME get` with the
//! host on stdin, as Docker runs it. A credential prints its user and source, never its secret.

use super::options;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A user name and secret, and where they were found (for messages).
#[derive(Clone)]
pub struct Credential {
    pub user: String,
    secret: String,
    pub source: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({:?} from {})", self.user, self.source)
    }
}

impl Credential {
    pub fn new(user: String, secret: String, source: String) -> Credential {
        Credential {
            user,
            secret,
            source,
        }
    }

    /// The `Authorization: Basic` value.
    pub fn basic_header(&self) -> String {
        use base64::Engine;
        let raw = format!("{}:{}", self.user, self.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// The credential for `host` (`HOST[:PORT]`), if any source has one.
pub fn lookup(host: &str) -> Result<Option<Credential>> {
    let o = options();
    if let Some(c) = &o.creds {
        return Ok(Some(c.clone()));
    }
    if let Some(f) = &o.authfile {
        if !f.is_file() {
            return Err(Error::Usage(format!(
                "--authfile {}: no such file",
                f.display()
            )));
        }
        return from_file(f, host);
    }
    for f in default_files() {
        if f.is_file()
            && let Some(c) = from_file(&f, host)?
        {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

fn default_files() -> Vec<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut v = Vec::new();
    if let Some(f) = env("REGISTRY_AUTH_FILE") {
        v.push(f);
    }
    if let Some(d) = env("XDG_RUNTIME_DIR") {
        v.push(d.join("containers/auth.json"));
    }
    if let Some(h) = env("HOME") {
        v.push(h.join(".config/containers/auth.json"));
    }
    match env("DOCKER_CONFIG") {
        Some(d) => v.push(d.join("config.json")),
        None => {
            if let Some(h) = env("HOME") {
                v.push(h.join(".docker/config.json"));
            }
        }
    }
    v
}

/// The keys a file may list `host` under.
fn keys(host: &str) -> Vec<String> {
    let mut k = vec![
        host.to_string(),
        format!("https://{host}"),
        format!("http://{host}"),
        format!("https://{host}/v1/"),
        format!("https://{host}/v2/"),
    ];
    if host == "registry-1.docker.io" || host == "docker.io" || host == "index.docker.io" {
        k.push("https://index.docker.io/v1/".into());
        k.push("docker.io".into());
        k.push("index.docker.io".into());
    }
    k
}

/// The credential a docker `config.json` or containers `auth.json` gives for `host`.
pub fn from_file(path: &Path, host: &str) -> Result<Option<Credential>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::format_from(path.display(), "not a JSON auth file", e))?;
    let keys = keys(host);
    if let Some(helpers) = v.get("credHelpers").and_then(|h| h.as_object()) {
        for k in &keys {
            if let Some(name) = helpers.get(k).and_then(|n| n.as_str()) {
                return helper(name, k, path);
            }
        }
    }
    if let Some(auths) = v.get("auths").and_then(|a| a.as_object()) {
        for k in &keys {
            if let Some(e) = auths.get(k)
                && let Some(c) = from_entry(e, path)?
            {
                return Ok(Some(c));
            }
        }
    }
    if let Some(store) = v.get("credsStore").and_then(|n| n.as_str()) {
        return helper(store, &keys[0], path);
    }
    Ok(None)
}

/// One `auths` entry: `auth` (base64 `USER:PASS`) or `username`/`password`.
fn from_entry(e: &serde_json::Value, path: &Path) -> Result<Option<Credential>> {
    use base64::Engine;
    let source = path.display().to_string();
    if let Some(a) = e
        .get("auth")
        .and_then(|a| a.as_str())
        .filter(|a| !a.is_empty())
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.trim())
            .map_err(|_| Error::format(&source, "an auths entry's auth is not base64"))?;
        let s = String::from_utf8(raw)
            .map_err(|_| Error::format(&source, "an auths entry's auth is not UTF-8"))?;
        let (u, p) = s
            .split_once(':')
            .ok_or_else(|| Error::format(&source, "an auths entry's auth is not USER:PASS"))?;
        return Ok(Some(Credential::new(u.into(), p.into(), source)));
    }
    let u = e.get("username").and_then(|u| u.as_str());
    let p = e.get("password").and_then(|u| u.as_str());
    Ok(match (u, p) {
        (Some(u), Some(p)) => Some(Credential::new(u.into(), p.into(), source)),
        _ => None,
    })
}

/// Runs `docker-credential-NAME get` with `server` on stdin.
fn helper(name: &str, server: &str, file: &Path) -> Result<Option<Credential>> {
    use std::io::Write;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Error::format(
            file.display(),
            format!(
                "credential helper name {:?} is not a plain name",
                crate::text::sanitize(name)
            ),
        ));
    }
    let prog = format!("docker-credential-{name}");
    let mut child = std::process::Command::new(&prog)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::Context {
            what: format!("{}: running {prog} (named by {})", server, file.display()),
            source: Box::new(e),
        })?;
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(server.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| Error::Context {
        what: format!("running {prog}"),
        source: Box::new(e),
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // "credentials not found in native keychain": no credential, not an error.
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        return Err(Error::Invalid(format!(
            "{prog} get {server} failed ({})",
            out.status
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| Error::Json {
        what: format!("{prog} get {server}: its answer"),
        source: e,
    })?;
    let u = v.get("Username").and_then(|u| u.as_str()).unwrap_or("");
    let s = v.get("Secret").and_then(|u| u.as_str()).unwrap_or("");
    if s.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credential::new(
        u.into(),
        s.into(),
        format!("{prog}, named by {}", file.display()),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auths_and_keys() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("config.json");
        std::fs::write(
            &f,
            r#"{"auths":{"https://reg.example:5000":{"auth":"dTpwQHNzOndvcmQ="},
                "docker.io":{"username":"a","password":"b"}}}"#,
        )
        .unwrap();
        let c = from_file(&f, "reg.example:5000").unwrap().unwrap();
        assert_eq!(c.user, "u");
        assert_eq!(c.basic_header(), "Basic dTpwQHNzOndvcmQ=");
        assert!(!format!("{c:?}").contains("p@ss"));
        assert_eq!(
            from_file(&f, "registry-1.docker.io").unwrap().unwrap().user,
            "a"
        );
        assert!(from_file(&f, "other:5000").unwrap().is_none());
    }
}
