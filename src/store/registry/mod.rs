//! A registry repository as a store (the distribution spec's HTTP API, over `client.rs`):
//! blobs opened as streams (`BlobStore`), manifests fetched by tag or digest, and the writes
//! a push makes: HEAD, cross-repository mount, upload (POST then one PUT of the whole blob),
//! manifest PUT. Bytes are returned unverified, as every store's: the callers check them
//! against their descriptors. Names of blobs are a store's usual `blobs/sha256/HEX`.

pub mod client;
pub mod creds;

use crate::error::{Error, Result};
use client::{Body, Client};
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// The registry flags, the same for every registry a run talks to.
#[derive(Default)]
pub struct Options {
    /// `--creds USER:PASS`.
    pub creds: Option<creds::Credential>,
    /// `--authfile FILE`.
    pub authfile: Option<PathBuf>,
    /// `--tls-verify=BOOL`; None: verify, plain HTTP only to loopback hosts.
    pub tls_verify: Option<bool>,
    /// `--cert-dir DIR`.
    pub cert_dir: Option<PathBuf>,
}

static OPTIONS: OnceLock<Options> = OnceLock::new();

/// Sets the registry flags for the run (once, before any registry is opened; the command
/// line does it). Like the environment's `DOCKER_CONFIG`, they hold for the whole process.
pub fn configure(o: Options) {
    let _ = OPTIONS.set(o);
}

fn options() -> &'static Options {
    OPTIONS.get_or_init(Options::default)
}

/// Layer blobs kept on disk for a second read, by digest (`keep_blobs`).
struct Kept {
    on: bool,
    files: std::collections::BTreeMap<String, Arc<tempfile::TempPath>>,
}

static KEPT: Mutex<Kept> = Mutex::new(Kept {
    on: false,
    files: std::collections::BTreeMap::new(),
});

/// For jobs that read a layer more than once (a graft reads the vendor's application for
/// its check and again for the baseline, and copies what it checked): each blob read whole
/// from a registry is kept in a temporary file as it streams, and read from there again.
/// Off (the default), blobs are streamed and never written to disk. Readers verify the kept
/// bytes as they verify the registry's.
pub fn keep_blobs(on: bool) {
    if let Ok(mut k) = KEPT.lock() {
        k.on = on;
    }
}

/// Removes the kept blobs (the end of a run).
pub fn forget_kept_blobs() {
    if let Ok(mut k) = KEPT.lock() {
        k.files.clear();
    }
}

/// A blob streamed from a registry and copied into a temporary file; kept for the next read
/// once read to its end.
struct Keeping {
    inner: Box<dyn Read + Send>,
    file: Option<tempfile::NamedTempFile>,
    digest: String,
}

impl Read for Keeping {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            if let Some(f) = &mut self.file
                && std::io::Write::write_all(f, &buf[..n]).is_err()
            {
                self.file = None;
            }
        } else if let Some(f) = self.file.take()
            && let Ok(mut k) = KEPT.lock()
        {
            k.files.insert(
                std::mem::take(&mut self.digest),
                Arc::new(f.into_temp_path()),
            );
        }
        Ok(n)
    }
}

/// One client per host for the run, so that a source and a sink on the same registry share
/// the scheme and the tokens.
fn client(host: &str) -> Result<Arc<Client>> {
    static CLIENTS: OnceLock<Mutex<Vec<Arc<Client>>>> = OnceLock::new();
    let m = CLIENTS.get_or_init(Default::default);
    let mut v = m
        .lock()
        .map_err(|_| Error::Invalid("internal: registry clients poisoned".into()))?;
    if let Some(c) = v.iter().find(|c| c.host == host) {
        return Ok(c.clone());
    }
    let c = Arc::new(Client::new(host)?);
    v.push(c.clone());
    Ok(c)
}

/// Bytes moved to and from registries, for the summary.
#[derive(Default, Debug)]
pub struct Transfer {
    pub uploaded: std::sync::atomic::AtomicU64,
    pub blobs_uploaded: std::sync::atomic::AtomicU64,
    pub blobs_present: std::sync::atomic::AtomicU64,
    pub blobs_mounted: std::sync::atomic::AtomicU64,
}

/// One repository of one registry (a clone shares the connection and the credentials).
#[derive(Clone)]
pub struct RegistryStore {
    client: Arc<Client>,
    pub repo: String,
    display: String,
}

/// The media types a manifest GET accepts.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// What a manifest GET returned: the bytes (unverified), the Content-Type, and the
/// Docker-Content-Digest the registry claims.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: Option<String>,
    pub digest: Option<String>,
}

impl RegistryStore {
    pub fn open(host: &str, repo: &str) -> Result<RegistryStore> {
        Ok(RegistryStore {
            client: client(host)?,
            repo: repo.to_string(),
            display: format!("{host}/{repo}"),
        })
    }

    pub fn host(&self) -> &str {
        &self.client.host
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    fn pull(&self) -> String {
        format!("repository:{}:pull", self.repo)
    }

    fn push(&self) -> String {
        format!("repository:{}:pull,push", self.repo)
    }

    /// GET a manifest by tag or digest, at most `limit` bytes.
    pub fn manifest(&self, reference: &str, limit: u64) -> Result<Fetched> {
        let path = format!("/v2/{}/manifests/{reference}", self.repo);
        let what = format!(
            "{}: manifest {}",
            self.display,
            crate::text::sanitize(reference)
        );
        let mut r = self.client.send(
            "GET",
            &path,
            &self.pull(),
            &[("Accept", MANIFEST_ACCEPT)],
            Body::None,
        )?;
        match r.status().as_u16() {
            200 => {}
            404 => {
                return Err(Error::registry(
                    &what,
                    "not found (404): no such tag or digest in this repository",
                ));
            }
            _ => return Err(self.client.status_error(&what, &mut r)),
        }
        let header = |k: &str| {
            r.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
        };
        let media_type = header("Content-Type");
        let digest = header("Docker-Content-Digest");
        let bytes = r
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| self.client.transport_error(&what, &e))?;
        Ok(Fetched {
            bytes,
            media_type,
            digest,
        })
    }

    /// GET a blob (`sha256:HEX`) as a stream (or its kept copy, `keep_blobs`).
    pub fn blob(&self, digest: &str) -> Result<Box<dyn Read + Send>> {
        let (on, kept) = match KEPT.lock() {
            Ok(k) => (k.on, k.files.get(digest).cloned()),
            Err(_) => (false, None),
        };
        if let Some(p) = kept {
            let f = std::fs::File::open(&*p).map_err(|e| Error::io(p.to_path_buf(), e))?;
            return Ok(Box::new(f));
        }
        let r = self.fetch_blob(digest)?;
        if !on {
            return Ok(r);
        }
        let file = crate::store::temp::temp_file_in(&std::env::temp_dir()).ok();
        Ok(Box::new(Keeping {
            inner: r,
            file,
            digest: digest.to_string(),
        }))
    }

    fn fetch_blob(&self, digest: &str) -> Result<Box<dyn Read + Send>> {
        let path = format!("/v2/{}/blobs/{digest}", self.repo);
        let what = format!("{}: blob {digest}", self.display);
        let mut r = self
            .client
            .send("GET", &path, &self.pull(), &[], Body::None)?;
        match r.status().as_u16() {
            200 => {}
            404 => {
                return Err(Error::MissingBlob {
                    container: self.display.clone(),
                    name: digest.to_string(),
                });
            }
            _ => return Err(self.client.status_error(&what, &mut r)),
        }
        let (_, body) = r.into_parts();
        Ok(Box::new(body.into_reader()))
    }

    /// Whether this repository has the blob (HEAD).
    pub fn has_blob(&self, digest: &str) -> Result<bool> {
        let path = format!("/v2/{}/blobs/{digest}", self.repo);
        let what = format!("{}: HEAD blob {digest}", self.display);
        let mut r = self
            .client
            .send("HEAD", &path, &self.push(), &[], Body::None)?;
        match r.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.client.status_error(&what, &mut r)),
        }
    }

    /// Mounts a blob from another repository of the same registry; false when the registry
    /// declined (it then answers with an upload session, which is dropped).
    pub fn mount(&self, digest: &str, from: &str) -> Result<bool> {
        let path = format!(
            "/v2/{}/blobs/uploads/?mount={digest}&from={from}",
            self.repo
        );
        let scope = format!("{} repository:{from}:pull", self.push());
        let what = format!("{}: mounting blob {digest} from {from}", self.display);
        let mut r = self.client.send("POST", &path, &scope, &[], Body::None)?;
        match r.status().as_u16() {
            201 => Ok(true),
            202 => {
                if let Some(loc) = self.location(&r) {
                    let _ = self
                        .client
                        .send("DELETE", &loc, &self.push(), &[], Body::None);
                }
                Ok(false)
            }
            _ => Err(self.client.status_error(&what, &mut r)),
        }
    }

    /// Uploads a blob of `size` bytes, read from what `open` returns: POST opens the session
    /// (and settles the credentials), one PUT sends the bytes and names their digest, which
    /// the registry checks before the blob exists. A PUT that gets no answer, 429 or 5xx is
    /// tried again from a new session and a new reader (three times in all, with backoff),
    /// unless `gave_up` says the reader's producer failed (its error is the one to report).
    pub fn upload(
        &self,
        digest: &str,
        size: u64,
        open: &mut dyn FnMut() -> Result<Box<dyn Read + Send + Sync>>,
        gave_up: &dyn Fn() -> bool,
    ) -> Result<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.upload_once(digest, size, open()?) {
                Ok(()) => return Ok(()),
                Err((e, again)) => {
                    if !again || attempt >= 3 || gave_up() {
                        return Err(e);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(400 << attempt));
                }
            }
        }
    }

    /// One upload; the error says whether another attempt may succeed.
    fn upload_once(
        &self,
        digest: &str,
        size: u64,
        data: Box<dyn Read + Send + Sync>,
    ) -> std::result::Result<(), (Error, bool)> {
        let what = format!("{}: uploading blob {digest}", self.display);
        let path = format!("/v2/{}/blobs/uploads/", self.repo);
        let mut r = self
            .client
            .send("POST", &path, &self.push(), &[], Body::None)
            .map_err(|e| (e, false))?;
        if r.status().as_u16() != 202 {
            return Err((self.client.status_error(&what, &mut r), false));
        }
        let loc = self.location(&r).ok_or_else(|| {
            (
                Error::registry(&what, "202 without a Location header"),
                false,
            )
        })?;
        let sep = if loc.contains('?') { '&' } else { '?' };
        let put = format!("{loc}{sep}digest={digest}");
        // A PUT that got no answer (the send's own error) may go again.
        let mut r = self
            .client
            .send(
                "PUT",
                &put,
                &self.push(),
                &[("Content-Type", "application/octet-stream")],
                Body::Stream(data, size),
            )
            .map_err(|e| (e, true))?;
        let status = r.status().as_u16();
        if status != 201 {
            return Err((
                self.client.status_error(&what, &mut r),
                status == 429 || status >= 500,
            ));
        }
        Ok(())
    }

    /// PUT a manifest under a tag or digest.
    pub fn put_manifest(&self, reference: &str, media_type: &str, bytes: Vec<u8>) -> Result<()> {
        let path = format!("/v2/{}/manifests/{reference}", self.repo);
        let what = format!(
            "{}: PUT manifest {}",
            self.display,
            crate::text::sanitize(reference)
        );
        let mut r = self.client.send(
            "PUT",
            &path,
            &self.push(),
            &[("Content-Type", media_type)],
            Body::Bytes(bytes),
        )?;
        if r.status().as_u16() != 201 {
            return Err(self.client.status_error(&what, &mut r));
        }
        Ok(())
    }

    /// An upload's Location, made absolute.
    fn location(&self, r: &client::Response) -> Option<String> {
        let l = r.headers().get("Location")?.to_str().ok()?.to_string();
        Some(l)
    }
}

/// `blobs/sha256/HEX` -> `sha256:HEX`.
fn digest_of_name(name: &str) -> Option<String> {
    let rest = name.strip_prefix("blobs/")?;
    let (alg, hex) = rest.split_once('/')?;
    Some(format!("{alg}:{hex}"))
}

impl super::BlobStore for RegistryStore {
    fn open(&self, name: &str) -> Result<Box<dyn Read + Send>> {
        let d = digest_of_name(name).ok_or_else(|| Error::MissingBlob {
            container: self.display.clone(),
            name: name.to_string(),
        })?;
        self.blob(&d)
    }
    fn locate(&self, _name: &str) -> Result<Option<super::Located>> {
        Ok(None)
    }
    fn whole_files(&self) -> bool {
        false
    }
    fn registry(&self) -> Option<(&str, &str)> {
        Some((self.host(), &self.repo))
    }
}
