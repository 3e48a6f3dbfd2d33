//! One registry host over HTTP(S): the scheme (HTTPS, or plain HTTP where allowed), TLS roots,
//! authentication (anonymous, basic, bearer token exchange as the distribution spec's token
//! auth describes it), and retries with backoff on connection errors, 429 and 5xx. Requests
//! whose body is a stream are sent once: callers make one bodyless request first with the
//! same scope, so that the credentials are settled before the stream starts.

use super::creds::{self, Credential};
use super::options;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use ureq::http;

/// What a request sends.
pub enum Body {
    None,
    Bytes(Vec<u8>),
    /// A stream of `len` bytes, sent once.
    Stream(Box<dyn Read + Send + Sync>, u64),
}

pub type Response = http::Response<ureq::Body>;

/// One registry host.
pub struct Client {
    /// As written in the reference: `HOST[:PORT]`.
    pub host: String,
    agent: ureq::Agent,
    /// `https://HOST` or `http://HOST`, decided by the first request.
    base: OnceLock<String>,
    /// Whether plain HTTP may be tried (a loopback host, or `--tls-verify=false`).
    http_allowed: bool,
    creds: OnceLock<Option<Credential>>,
    /// The Authorization header per scope, once the registry asked for one.
    auth: Mutex<HashMap<String, String>>,
}

const ATTEMPTS: u32 = 5;

impl Client {
    pub fn new(host: &str) -> Result<Client> {
        let o = options();
        let verify = o.tls_verify.unwrap_or(true);
        let mut tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .disable_verification(!verify);
        let roots = root_certs(host, o.cert_dir.as_deref())?;
        if !roots.is_empty() {
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls.build())
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .max_redirects(5)
            .user_agent(concat!("regraft/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client {
            host: host.to_string(),
            agent: ureq::Agent::new_with_config(config),
            base: OnceLock::new(),
            http_allowed: !verify || is_loopback(host),
            creds: OnceLock::new(),
            auth: Mutex::new(HashMap::new()),
        })
    }

    /// `https://HOST`, or `http://HOST` where plain HTTP is allowed and HTTPS does not answer
    /// (as Docker does for an insecure registry).
    fn base(&self) -> Result<&str> {
        if let Some(b) = self.base.get() {
            return Ok(b);
        }
        let https = format!("https://{}", self.host);
        let chosen = if self.http_allowed {
            match self.agent.get(format!("{https}/v2/")).call() {
                Ok(_) => https,
                Err(e) => {
                    // Plain HTTP only when a registry answers there (200 or 401 at /v2/): an
                    // HTTPS server's "400 plain HTTP sent to HTTPS" means the HTTPS error
                    // (an unknown certificate) is the one to report.
                    let http = format!("http://{}", self.host);
                    match self.agent.get(format!("{http}/v2/")).call() {
                        Ok(r) if matches!(r.status().as_u16(), 200 | 401) => http,
                        _ => {
                            return Err(self.transport_error(&format!("GET {https}/v2/"), &e));
                        }
                    }
                }
            }
        } else {
            https
        };
        Ok(self.base.get_or_init(|| chosen))
    }

    /// The credentials for this host, looked up once.
    fn credential(&self) -> Result<Option<&Credential>> {
        if let Some(c) = self.creds.get() {
            return Ok(c.as_ref());
        }
        let c = creds::lookup(&self.host)?;
        Ok(self.creds.get_or_init(|| c).as_ref())
    }

    /// Sends a request to `path` (below the host, `/v2/...`, or an absolute URL the registry
    /// gave), authenticating for `scope` (`repository:NAME:pull[,push]`, space-separated)
    /// when the registry asks. Returns the response whatever its status; connection errors,
    /// 429 and 5xx are retried (bodies that are not streams) with backoff.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        scope: &str,
        headers: &[(&str, &str)],
        mut body: Body,
    ) -> Result<Response> {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base()?)
        };
        let what = format!("{method} {}", redact_query(&url));
        let mut attempt = 0;
        let mut authed_again = false;
        loop {
            attempt += 1;
            let streamed = matches!(body, Body::Stream(..));
            let sent = self.once(method, &url, scope, headers, &mut body);
            let retry = match &sent {
                Ok(r) => {
                    let s = r.status().as_u16();
                    if s == 401 && !authed_again && !streamed {
                        let challenge = r
                            .headers()
                            .get(http::header::WWW_AUTHENTICATE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        self.authenticate(&challenge, scope, &what)?;
                        authed_again = true;
                        continue;
                    }
                    s == 429 || s >= 500
                }
                Err(e) => retryable(e),
            };
            if !retry || streamed || attempt >= ATTEMPTS {
                return match sent {
                    Ok(r) => Ok(r),
                    Err(e) => Err(self.transport_error(&what, &e)),
                };
            }
            std::thread::sleep(Duration::from_millis(200 << attempt));
        }
    }

    fn once(
        &self,
        method: &str,
        url: &str,
        scope: &str,
        headers: &[(&str, &str)],
        body: &mut Body,
    ) -> std::result::Result<Response, ureq::Error> {
        let mut b = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let auth = self.auth.lock().ok().and_then(|m| m.get(scope).cloned());
        if let Some(a) = auth {
            b = b.header(http::header::AUTHORIZATION, a);
        }
        match body {
            Body::None => {
                if method == "PUT" || method == "POST" || method == "PATCH" {
                    b = b.header(http::header::CONTENT_LENGTH, "0");
                }
                self.agent.run(b.body(()).map_err(ureq::Error::Http)?)
            }
            Body::Bytes(v) => {
                b = b.header(http::header::CONTENT_LENGTH, v.len().to_string());
                self.agent.run(b.body(&v[..]).map_err(ureq::Error::Http)?)
            }
            Body::Stream(r, len) => {
                b = b.header(http::header::CONTENT_LENGTH, len.to_string());
                let mut empty: Box<dyn Read + Send + Sync> = Box::new(std::io::empty());
                std::mem::swap(r, &mut empty);
                let body = ureq::SendBody::from_owned_reader(empty);
                self.agent.run(b.body(body).map_err(ureq::Error::Http)?)
            }
        }
    }

    /// Answers a 401's challenge for `scope`: basic credentials, or a bearer token from the
    /// realm the challenge names.
    fn authenticate(&self, challenge: &str, scope: &str, what: &str) -> Result<()> {
        let (kind, params) = parse_challenge(challenge);
        let cred = self.credential()?;
        let header = match kind.to_ascii_lowercase().as_str() {
            "basic" => match cred {
                Some(c) => c.basic_header(),
                None => {
                    return Err(Error::registry(
                        what,
                        format!(
                            "401 Unauthorized: {} asks for a user name and password; give \
                             --creds USER:PASS, --authfile FILE, or log in (docker login, \
                             podman login)",
                            self.host
                        ),
                    ));
                }
            },
            "bearer" => format!("Bearer {}", self.token(&params, scope, cred, what)?),
            _ => {
                return Err(Error::registry(
                    what,
                    format!(
                        "401 Unauthorized, with no challenge regraft can answer ({:?})",
                        crate::text::sanitize(&kind)
                    ),
                ));
            }
        };
        if let Ok(mut m) = self.auth.lock() {
            m.insert(scope.to_string(), header);
        }
        Ok(())
    }

    /// Asks the token server (`realm`) for a token for `scope` (and the challenge's own).
    fn token(
        &self,
        params: &HashMap<String, String>,
        scope: &str,
        cred: Option<&Credential>,
        what: &str,
    ) -> Result<String> {
        let realm = params.get("realm").ok_or_else(|| {
            Error::registry(
                what,
                "401 Unauthorized: the bearer challenge names no realm",
            )
        })?;
        let mut url = realm.clone();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        let mut add = |k: &str, v: &str| {
            url.push(sep);
            url.push_str(k);
            url.push('=');
            url.push_str(&percent(v));
            sep = '&';
        };
        if let Some(s) = params.get("service") {
            add("service", s);
        }
        let mut scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
        if let Some(s) = params.get("scope") {
            for s in s.split(' ') {
                if !s.is_empty() && !scopes.contains(&s) {
                    scopes.push(s);
                }
            }
        }
        for s in scopes {
            add("scope", s);
        }
        let mut req = self.agent.get(&url);
        if let Some(c) = cred {
            req = req.header("Authorization", &c.basic_header());
        }
        let token_what = format!("token from {}", redact_query(realm));
        let mut resp = req
            .call()
            .map_err(|e| self.transport_error(&token_what, &e))?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(Error::registry(
                what,
                format!(
                    "{status} {}: the token server {} refused {}",
                    reason(status),
                    redact_query(realm),
                    match cred {
                        Some(c) => format!("the credentials of user {:?} ({})", c.user, c.source),
                        None => "an anonymous request; give --creds or log in".into(),
                    }
                ),
            ));
        }
        if status != 200 {
            return Err(Error::registry(
                &token_what,
                format!("{status} {}", reason(status)),
            ));
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .map_err(|e| self.transport_error(&token_what, &e))?;
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| Error::Json {
            what: token_what.clone(),
            source: e,
        })?;
        v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| Error::registry(&token_what, "the answer holds no token"))
    }

    /// An error for a request that got no HTTP answer.
    pub fn transport_error(&self, what: &str, e: &ureq::Error) -> Error {
        Error::registry(what, format!("{}: {e}", self.host))
    }

    /// The message for a response that is not what the caller wanted: status, and the
    /// registry's own error codes when it sent some. Credentials never appear here.
    pub fn status_error(&self, what: &str, resp: &mut Response) -> Error {
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_vec()
            .unwrap_or_default();
        let mut msg = format!("{status} {}", reason(status));
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
            && let Some(errs) = v.get("errors").and_then(|e| e.as_array())
        {
            for e in errs {
                let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
                let m = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
                msg.push_str(&format!(": {code} {m}"));
            }
        }
        if status == 401 || status == 403 {
            let who = match self.creds.get() {
                Some(Some(c)) => format!(
                    "; the credentials of user {:?} ({}) were refused",
                    c.user, c.source
                ),
                _ => "; no credentials were given (--creds, --authfile, or log in)".into(),
            };
            msg.push_str(&who);
        }
        Error::registry(what, crate::text::sanitize(&msg))
    }
}

fn retryable(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_) | ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed
    )
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// A URL without its query (upload locations carry state; token realms may carry anything).
fn redact_query(url: &str) -> String {
    crate::text::sanitize(url.split('?').next().unwrap_or(url))
}

/// Whether a host is this machine: plain HTTP is allowed to it, as Docker allows.
pub fn is_loopback(host: &str) -> bool {
    let h = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host),
    };
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `Bearer realm="...",service="...",scope="..."` -> ("Bearer", params).
pub fn parse_challenge(h: &str) -> (String, HashMap<String, String>) {
    let h = h.trim();
    let (kind, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = HashMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let Some((k, after)) = s.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.insert(k, v.to_string());
        s = next.trim_start_matches([',', ' ']);
    }
    (kind.to_string(), params)
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The CA certificates to trust: the system bundle, the certificates of
/// `/etc/containers/certs.d/HOST` and `/etc/docker/certs.d/HOST`, and `--cert-dir`'s `*.crt`.
/// Empty: the built-in Mozilla roots.
fn root_certs(
    host: &str,
    cert_dir: Option<&std::path::Path>,
) -> Result<Vec<ureq::tls::Certificate<'static>>> {
    let mut certs = Vec::new();
    let system = std::path::Path::new("/etc/ssl/certs/ca-certificates.crt");
    if let Ok(pem) = std::fs::read(system) {
        certs.extend(pem_certs(&pem));
    }
    let mut dirs: Vec<std::path::PathBuf> = vec![
        format!("/etc/containers/certs.d/{host}").into(),
        format!("/etc/docker/certs.d/{host}").into(),
    ];
    if let Some(d) = cert_dir {
        if !d.is_dir() {
            return Err(Error::Usage(format!(
                "--cert-dir {}: not a directory",
                d.display()
            )));
        }
        dirs.push(d.to_path_buf());
    }
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut names: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        names.sort();
        for p in names {
            if p.extension().is_some_and(|e| e == "crt") {
                let pem = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
                let found = pem_certs(&pem);
                if found.is_empty() {
                    return Err(Error::format(p.display(), "holds no PEM certificate"));
                }
                certs.extend(found);
            }
        }
    }
    Ok(certs)
}

fn pem_certs(pem: &[u8]) -> Vec<ureq::tls::Certificate<'static>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut rest: &str = &text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(end) = rest[start..].find(END) else {
            break;
        };
        let block = &rest[start..start + end + END.len()];
        if let Ok(c) = ureq::tls::Certificate::from_pem(block.as_bytes()) {
            out.push(c);
        }
        rest = &rest[start + end + END.len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let (k, p) = parse_challenge(
            r#"Bearer realm="http://127.0.0.1:9/token",service="reg",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(k, "Bearer");
        assert_eq!(p["realm"], "http://127.0.0.1:9/token");
        assert_eq!(p["service"], "reg");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
        let (k, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(k, "Basic");
        assert_eq!(p["realm"], "Registry Realm");
    }

    #[test]
    fn loopback() {
        for h in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.0.0.1",
            "[::1]:5000",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "reg.example.com:5000",
            "10.0.0.1:5000",
            "localhost.example:5000",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn queries_are_left_out_of_messages() {
        assert_eq!(
            redact_query("http://h/v2/r/blobs/uploads/x?_state=secret"),
            "http://h/v2/r/blobs/uploads/x"
        );
    }
}
