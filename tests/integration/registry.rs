//! Registries as sources and sinks: Debian's `docker-registry` (distribution 2.8) started on
//! loopback by each test, with its storage and access log in a temp dir: no auth over plain
//! HTTP, htpasswd basic auth, TLS with a CA the test makes with openssl, and token auth with a
//! token server in the test. Images are pushed with skopeo, grafted registry to registry, and
//! every result is read back with skopeo and `regraft verify`.

use crate::common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const REGISTRY: &str = "/usr/bin/docker-registry";

/// A `docker-registry` on 127.0.0.1 at a free port, killed on drop.
struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether the registry binary is here; says so loudly when not (tests/run.sh installs it).
fn have_registry() -> bool {
    if Path::new(REGISTRY).exists() {
        return true;
    }
    eprintln!(
        "SKIPPED: {REGISTRY} is missing (Debian package docker-registry; tests/run.sh installs it)"
    );
    false
}

impl Registry {
    /// Starts a registry; `extra` is YAML added at the top level of its config (auth), and
    /// `tls` a (certificate, key) pair to serve HTTPS with.
    fn start(extra: &str, tls: Option<(&Path, &Path)>) -> Registry {
        let dir = tmp();
        let port = free_port();
        let tls = match tls {
            Some((c, k)) => format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                c.display(),
                k.display()
            ),
            None => String::new(),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n{tls}{extra}",
            dir.path().join("data").display()
        );
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::File::create(dir.path().join("access.log")).unwrap();
        let child = Command::new(REGISTRY)
            .arg("serve")
            .arg(&cfg)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let r = Registry { child, port, dir };
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return r;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("docker-registry did not listen on {port}: {}", r.log());
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn at(&self, repo_tag: &str) -> String {
        format!("docker://{}/{repo_tag}", self.host())
    }

    /// The request log so far.
    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.path().join("access.log")).unwrap())
            .into_owned()
    }

    /// The request lines (`METHOD PATH`) logged after `from` bytes of the log.
    fn requests_since(&self, from: usize) -> Vec<String> {
        let log = self.log();
        log[from.min(log.len())..]
            .lines()
            .filter_map(|l| {
                let start = l.find("\"")? + 1;
                let rest = &l[start..];
                let end = rest.find(" HTTP/")?;
                Some(rest[..end].to_string())
            })
            .collect()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// skopeo copy into a registry (plain HTTP or TLS as the extra flags say).
fn push(src: &str, dst: &str, extra: &[&str]) {
    let mut args = vec!["copy", "-q", "--dest-tls-verify=false"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[src, dst]);
    tool_ok("skopeo", &args);
}

fn skopeo_reg(args: &[&str], r: &str) -> serde_json::Value {
    let mut a = vec!["inspect", "--tls-verify=false"];
    a.extend_from_slice(args);
    a.push(r);
    serde_json::from_str(&tool_ok("skopeo", &a)).unwrap()
}

fn regraft_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regraft"));
    c.args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run regraft")
}

fn json_of(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Pushes the small fixtures: vend/app:1 (the vendor), debian:old, debian:12.
fn push_small(reg: &Registry, extra: &[&str]) {
    push(
        &format!("docker-archive:{}", fixture("vendor.tar")),
        &reg.at("vend/app:1"),
        extra,
    );
    push(
        &format!("docker-archive:{}", fixture("oldbase.tar")),
        &reg.at("debian:old"),
        extra,
    );
    push(
        &format!("docker-archive:{}", fixture("base.tar")),
        &reg.at("debian:12"),
        extra,
    );
}

/// The layer-mode graft of the small fixtures, registry to registry, with `extra` flags.
fn graft_small_layers(reg: &Registry, out_tag: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "--from",
        &reg.at("vend/app:1"),
        "--old-base",
        &reg.at("debian:old"),
        "--onto",
        &reg.at("debian:12"),
        "-o",
        &reg.at(out_tag),
        "--accept",
        "type-conflict:/lib",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn diff_ids(config: &serde_json::Value) -> serde_json::Value {
    config["rootfs"]["diff_ids"].clone()
}

#[test]
fn registry_to_registry_graft_both_modes_matches_the_file_graft() {
    if !have_registry() {
        return;
    }
    let reg = Registry::start("", None);
    push_small(&reg, &[]);
    let d = tmp();

    // Layer mode: same config as the file graft; the vendor's layers are there already, the
    // base's are mounted from debian, only the config is uploaded.
    let before = reg.log().len();
    let digestfile = d.path().join("digest");
    let mut a = graft_small_layers(&reg, "vend/app:1-fixed", &[]);
    a.extend(["--digestfile".into(), digestfile.display().to_string()]);
    let j = json_of(&regraft_ok(&strs(&a)));
    let reqs = reg.requests_since(before);
    let file = json_of(&regraft_ok(&[
        "-q",
        "--from",
        &fixture("vendor.tar"),
        "--old-base",
        &fixture("oldbase.tar"),
        "--onto",
        &fixture("base.tar"),
        "-o",
        &d.path().join("f.tar").display().to_string(),
        "--accept",
        "type-conflict:/lib",
        "--json",
    ]));
    assert_eq!(j["config_digest"], file["config_digest"]);
    let raw = skopeo_reg(&["--raw"], &reg.at("vend/app:1-fixed"));
    assert_eq!(raw["config"]["digest"], file["config_digest"]);
    let config = skopeo_reg(&["--config"], &reg.at("vend/app:1-fixed"));
    let fconfig = tar_member_json(
        &d.path().join("f.tar").display().to_string(),
        &format!(
            "blobs/sha256/{}",
            file["config_digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
        ),
    );
    assert_eq!(diff_ids(&config), diff_ids(&fconfig));
    // What moved: the config alone; the vendor's three layers are in vend/app, the base's
    // two mounted from debian.
    let moved = &j["moved"];
    assert_eq!(moved["blobs_uploaded"], 1, "{moved}");
    assert_eq!(moved["blobs_mounted"], 2, "{moved}");
    assert_eq!(moved["blobs_present"], 3, "{moved}");
    let config_size = raw["config"]["size"].as_u64().unwrap();
    assert_eq!(moved["bytes_uploaded"], config_size);
    let uploads: Vec<&String> = reqs
        .iter()
        .filter(|r| r.starts_with("PUT /v2/vend/app/blobs/uploads/") || r.starts_with("PATCH"))
        .collect();
    assert_eq!(uploads.len(), 1, "one upload (the config): {reqs:#?}");
    assert!(uploads[0].contains(&j["config_digest"].as_str().unwrap().to_string()));
    assert!(
        reqs.iter()
            .any(|r| r.starts_with("POST /v2/vend/app/blobs/uploads/?mount=")),
        "{reqs:#?}"
    );
    // The tag is written last.
    assert_eq!(
        reqs.iter()
            .filter(|r| r.starts_with("PUT /v2/vend/app/manifests/"))
            .count(),
        1
    );
    assert!(
        reqs.last()
            .unwrap()
            .starts_with("PUT /v2/vend/app/manifests/1-fixed")
    );

    // The digest file and the result's own digest are what the registry serves; base.digest
    // names the base's registry digest.
    let served = skopeo_reg(&[], &reg.at("vend/app:1-fixed"));
    let dig = std::fs::read_to_string(&digestfile).unwrap();
    assert_eq!(served["Digest"].as_str().unwrap(), dig.trim());
    assert_eq!(j["manifest_digest"].as_str().unwrap(), dig.trim());
    let base = skopeo_reg(&[], &reg.at("debian:12"));
    assert_eq!(
        raw["annotations"]["org.opencontainers.image.base.digest"],
        base["Digest"]
    );
    // Peers and regraft read it back, every digest checked.
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            "--src-tls-verify=false",
            &reg.at("vend/app:1-fixed"),
            &format!("dir:{}", d.path().join("dir").display()),
        ],
    );
    let v = regraft(&["verify", &reg.at("vend/app:1-fixed")]);
    let err = String::from_utf8_lossy(&v.stderr);
    assert!(
        v.status.success() && err.contains(": ok (5 layers"),
        "{err}"
    );

    // Path mode: the same new layer (diff_id) and base layers as the file graft.
    let j = json_of(&regraft_ok(&[
        "--from",
        &reg.at("vend/app:1"),
        "--onto",
        &reg.at("debian:12"),
        "--path",
        "/opt/vendor",
        "-o",
        &reg.at("vend/app:1-path"),
        "--json",
    ]));
    let file = json_of(&regraft_ok(&[
        "-q",
        "--from",
        &fixture("vendor.tar"),
        "--onto",
        &fixture("base.tar"),
        "--path",
        "/opt/vendor",
        "-o",
        &d.path().join("p.tar").display().to_string(),
        "--json",
    ]));
    assert_eq!(j["new_layer"]["diff_id"], file["new_layer"]["diff_id"]);
    // Regression: temporaries went "beside the output", a directory named after the
    // registry host made in the working directory.
    assert!(!root().join(reg.host()).exists());
    let config = skopeo_reg(&["--config"], &reg.at("vend/app:1-path"));
    let fconfig = tar_member_json(
        &d.path().join("p.tar").display().to_string(),
        &format!(
            "blobs/sha256/{}",
            file["config_digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
        ),
    );
    assert_eq!(diff_ids(&config), diff_ids(&fconfig));
    // The new layer is compressed like the registry base's top layer (gzip).
    assert!(
        j["new_layer"]["compression"]
            .as_str()
            .unwrap()
            .starts_with("gzip")
    );
    regraft_ok(&["verify", &reg.at("vend/app:1-path")]);
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            "--src-tls-verify=false",
            &reg.at("vend/app:1-path"),
            &format!("dir:{}", d.path().join("dir2").display()),
        ],
    );
    // Registry to file and back: convert, inspect, ls read a registry too.
    let out = d.path().join("c.tar").display().to_string();
    regraft_ok(&["convert", &reg.at("vend/app:1-path"), &out]);
    regraft_ok(&["verify", &out]);
    let listing = regraft_ok(&["ls", &reg.at("vend/app:1-path"), "/opt/vendor"]);
    assert!(listing.contains("/opt/vendor"), "{listing}");
    let i = regraft_ok(&["inspect", "--json", &reg.at("vend/app:1-path")]);
    assert_eq!(json_of(&i)["manifest_digest"], j["manifest_digest"]);
}

#[test]
fn registry_real_images_layer_mode_same_as_file_graft_and_no_layer_bytes() {
    if !have_registry() {
        return;
    }
    let reg = Registry::start("", None);
    for (f, t) in [
        ("vendor-real.tar", "vendor/real:1"),
        ("debian-old.tar", "debian:bookworm"),
        ("debian-new.tar", "debian:trixie"),
    ] {
        push(&format!("docker-archive:{}", real(f)), &reg.at(t), &[]);
    }
    let d = tmp();
    let before = reg.log().len();
    let j = json_of(&regraft_ok(&[
        "--from",
        &reg.at("vendor/real:1"),
        "--old-base",
        &reg.at("debian:bookworm"),
        "--onto",
        &reg.at("debian:trixie"),
        "-o",
        &reg.at("vendor/real:1-fixed"),
        "--json",
    ]));
    let reqs = reg.requests_since(before);
    let file = json_of(&regraft_ok(&[
        "-q",
        "--from",
        &real("vendor-real.tar"),
        "--old-base",
        &real("debian-old.tar"),
        "--onto",
        &real("debian-new.tar"),
        "-o",
        &d.path().join("f.tar").display().to_string(),
        "--json",
    ]));
    assert_eq!(j["config_digest"], file["config_digest"]);
    assert_eq!(j["moved"]["blobs_uploaded"], 1, "{}", j["moved"]);
    let uploads = reqs
        .iter()
        .filter(|r| r.contains("/blobs/uploads/") && !r.contains("?mount="))
        .filter(|r| r.starts_with("PUT") || r.starts_with("PATCH"))
        .count();
    assert_eq!(uploads, 1, "only the config is uploaded: {reqs:#?}");
    // Each blob is fetched once, though the check and the baseline read the application
    // twice: what the job reads again is kept on disk.
    let mut gets = std::collections::BTreeMap::new();
    for r in reqs
        .iter()
        .filter(|r| r.starts_with("GET") && r.contains("/blobs/"))
    {
        *gets.entry(r.clone()).or_insert(0) += 1;
    }
    assert!(!gets.is_empty());
    assert!(gets.values().all(|&n| n == 1), "{gets:#?}");
    regraft_ok(&["verify", &reg.at("vendor/real:1-fixed")]);
    let raw = skopeo_reg(&["--raw"], &reg.at("vendor/real:1-fixed"));
    let vendor = skopeo_reg(&["--raw"], &reg.at("vendor/real:1"));
    // The vendor's application layers keep their compressed bytes and digests.
    let top =
        |m: &serde_json::Value| m["layers"].as_array().unwrap().last().unwrap()["digest"].clone();
    assert_eq!(top(&raw), top(&vendor));
}

/// Makes a CA and a leaf certificate signed by it (with `san` as subjectAltName).
fn make_certs(dir: &Path, san: &str) -> (PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| dir.join(n).display().to_string();
    tool_ok(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("ca.crt"),
            "-days",
            "2",
            "-subj",
            "/CN=regraft test CA",
        ],
    );
    tool_ok(
        "openssl",
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &p("leaf.key"),
            "-out",
            &p("leaf.csr"),
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"),
    )
    .unwrap();
    tool_ok(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &p("leaf.csr"),
            "-CA",
            &p("ca.crt"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-out",
            &p("leaf.crt"),
            "-days",
            "2",
            "-extfile",
            &p("ext.cnf"),
        ],
    );
    (
        dir.join("ca.crt"),
        dir.join("leaf.crt"),
        dir.join("leaf.key"),
    )
}

fn htpasswd(dir: &Path, user: &str, pass: &str) -> PathBuf {
    let out = tool_ok("htpasswd", &["-Bbn", user, pass]);
    let f = dir.join("htpasswd");
    std::fs::write(&f, out).unwrap();
    f
}

#[test]
fn registry_basic_auth_from_every_source_and_a_clear_401() {
    if !have_registry() {
        return;
    }
    let d = tmp();
    let pw = "s3cret-Pa55word";
    let hp = htpasswd(d.path(), "alice", pw);
    let reg = Registry::start(
        &format!(
            "auth:\n  htpasswd:\n    realm: regraft-test\n    path: {}\n",
            hp.display()
        ),
        None,
    );
    push_small(&reg, &["--dest-creds", &format!("alice:{pw}")]);
    let creds = format!("alice:{pw}");

    // --creds
    let a = graft_small_layers(&reg, "vend/app:1-fixed", &["--creds", &creds]);
    let j = json_of(&regraft_ok(&strs(&a)));
    assert_eq!(j["moved"]["blobs_uploaded"], 1);

    // Docker's config.json through DOCKER_CONFIG (auths, base64 USER:PASS).
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&creds);
    let dc = d.path().join("docker");
    std::fs::create_dir(&dc).unwrap();
    std::fs::write(
        dc.join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{b64}"}}}}}}"#, reg.host()),
    )
    .unwrap();
    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let env = [
        ("DOCKER_CONFIG", dc.to_str().unwrap()),
        ("HOME", empty.to_str().unwrap()),
        ("XDG_RUNTIME_DIR", empty.to_str().unwrap()),
    ];
    let o = regraft_env(&["inspect", &reg.at("vend/app:1-fixed")], &env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // containers auth.json under XDG_RUNTIME_DIR.
    let xdg = d.path().join("xdg");
    std::fs::create_dir_all(xdg.join("containers")).unwrap();
    std::fs::write(
        xdg.join("containers/auth.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{b64}"}}}}}}"#, reg.host()),
    )
    .unwrap();
    let o = regraft_env(
        &["verify", &reg.at("vend/app:1-fixed")],
        &[
            ("HOME", empty.to_str().unwrap()),
            ("XDG_RUNTIME_DIR", xdg.to_str().unwrap()),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // --authfile, and a credential helper named by credHelpers.
    let o = regraft_env(
        &[
            "inspect",
            "--authfile",
            xdg.join("containers/auth.json").to_str().unwrap(),
            &reg.at("vend/app:1-fixed"),
        ],
        &[("HOME", empty.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bin = d.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let helper = bin.join("docker-credential-regrafttest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\n[ \"$1\" = get ] && [ \"$server\" = \"{}\" ] && \
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"{pw}\"}}' \"$server\"\n",
            reg.host()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        dc.join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"regrafttest"}}}}"#, reg.host()),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let o = regraft_env(
        &["inspect", &reg.at("vend/app:1-fixed")],
        &[
            ("DOCKER_CONFIG", dc.to_str().unwrap()),
            ("HOME", empty.to_str().unwrap()),
            ("XDG_RUNTIME_DIR", empty.to_str().unwrap()),
            ("PATH", &path),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Wrong password: a clear 401 naming the user and where the credentials came from,
    // never the password.
    let wrong = "Wr0ng-guess-xyz";
    let o = regraft_env(
        &[
            "inspect",
            "--creds",
            &format!("alice:{wrong}"),
            &reg.at("vend/app:1"),
        ],
        &[("HOME", empty.to_str().unwrap())],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("401"), "{err}");
    assert!(err.contains("alice") && err.contains("--creds"), "{err}");
    assert!(!err.contains(wrong) && !err.contains(pw), "{err}");
    // No credentials: says how to give them.
    let o = regraft_env(
        &["inspect", &reg.at("vend/app:1")],
        &[
            ("HOME", empty.to_str().unwrap()),
            ("XDG_RUNTIME_DIR", empty.to_str().unwrap()),
            ("DOCKER_CONFIG", empty.to_str().unwrap()),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("401") && err.contains("--creds"), "{err}");
    // The wrong password on a push: the tag stays as it was.
    let before = skopeo_reg(&["--creds", &creds], &reg.at("vend/app:1-fixed"))["Digest"].clone();
    let o = regraft_env(
        &[
            "--from",
            &fixture("vendor.tar"),
            "--onto",
            &fixture("base.tar"),
            "--path",
            "/opt/vendor",
            "-o",
            &reg.at("vend/app:1-fixed"),
            "--creds",
            &format!("alice:{wrong}"),
        ],
        &[("HOME", empty.to_str().unwrap())],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("401") && !err.contains(wrong), "{err}");
    assert_eq!(
        skopeo_reg(&["--creds", &creds], &reg.at("vend/app:1-fixed"))["Digest"],
        before
    );
}

#[test]
fn registry_over_tls_with_cert_dir() {
    if !have_registry() {
        return;
    }
    let d = tmp();
    let certs = d.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let (ca, leaf, key) = make_certs(&certs, "IP:127.0.0.1");
    let reg = Registry::start("", Some((&leaf, &key)));
    let cadir = d.path().join("ca");
    std::fs::create_dir(&cadir).unwrap();
    std::fs::copy(&ca, cadir.join("ca.crt")).unwrap();
    let cd = cadir.display().to_string();
    push_small(&reg, &["--dest-cert-dir", &cd]);
    let a = graft_small_layers(&reg, "vend/app:1-fixed", &["--cert-dir", &cd]);
    let j = json_of(&regraft_ok(&strs(&a)));
    assert_eq!(j["moved"]["blobs_uploaded"], 1);
    regraft_ok(&["verify", "--cert-dir", &cd, &reg.at("vend/app:1-fixed")]);
    tool_ok(
        "skopeo",
        &["inspect", "--cert-dir", &cd, &reg.at("vend/app:1-fixed")],
    );
    // Without the CA the certificate is refused; --tls-verify=false accepts it.
    let err = regraft_fails(&["inspect", &reg.at("vend/app:1-fixed")], 1);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    regraft_ok(&["inspect", "--tls-verify=false", &reg.at("vend/app:1-fixed")]);
}

/// A token server for distribution's `auth.token`: it checks basic credentials and issues a
/// JWT (RS256, signed with openssl by a key whose certificate the registry trusts) that grants
/// what was asked.
struct TokenServer {
    port: u16,
    requests: Arc<AtomicUsize>,
}

fn b64url(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl TokenServer {
    fn start(dir: &Path, user: &'static str, pass: &'static str) -> TokenServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (_, leaf, key) = ((), dir.join("leaf.crt"), dir.join("leaf.key"));
        let der = Command::new("openssl")
            .args(["x509", "-in", leaf.to_str().unwrap(), "-outform", "DER"])
            .output()
            .unwrap()
            .stdout;
        let x5c = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(der)
        };
        let requests = Arc::new(AtomicUsize::new(0));
        let count = requests.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let req = read_head(&mut c);
                let line = req.lines().next().unwrap_or("").to_string();
                let path = line.split(' ').nth(1).unwrap_or("").to_string();
                use base64::Engine;
                let want = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
                );
                let authed = req.lines().any(|l| {
                    l.to_ascii_lowercase().starts_with("authorization:") && l[14..].trim() == want
                });
                if !authed {
                    let _ = c.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    continue;
                }
                let query = path.split_once('?').map(|x| x.1).unwrap_or("");
                let mut access = Vec::new();
                for kv in query.split('&') {
                    if let Some(v) = kv.strip_prefix("scope=") {
                        let v = v
                            .replace("%3A", ":")
                            .replace("%2C", ",")
                            .replace("%2F", "/");
                        let parts: Vec<&str> = v.splitn(3, ':').collect();
                        if parts.len() == 3 {
                            access.push(serde_json::json!({
                                "type": parts[0], "name": parts[1],
                                "actions": parts[2].split(',').collect::<Vec<_>>()
                            }));
                        }
                    }
                }
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": [x5c]});
                let claims = serde_json::json!({
                    "iss": "regraft-test-issuer", "sub": user, "aud": "regraft-test",
                    "exp": now + 600, "nbf": now - 60, "iat": now - 60,
                    "jti": format!("{now}-{}", count.load(Ordering::SeqCst)), "access": access,
                });
                let signing = format!(
                    "{}.{}",
                    b64url(header.to_string().as_bytes()),
                    b64url(claims.to_string().as_bytes())
                );
                let mut sig = Command::new("openssl")
                    .args(["dgst", "-sha256", "-sign", key.to_str().unwrap()])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                sig.stdin
                    .take()
                    .unwrap()
                    .write_all(signing.as_bytes())
                    .unwrap();
                let sig = sig.wait_with_output().unwrap().stdout;
                let token = format!("{signing}.{}", b64url(&sig));
                let body = serde_json::json!({"token": token, "expires_in": 600}).to_string();
                let _ = c.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
        TokenServer { port, requests }
    }
}

/// Reads an HTTP request head (up to the blank line); empty for a TLS handshake (regraft
/// tries HTTPS first on loopback), which is refused by closing.
fn read_head(c: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match c.read(&mut b) {
            Ok(1) if buf.is_empty() && b[0] == 0x16 => return String::new(),
            Ok(1) => buf.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[test]
fn registry_token_auth() {
    if !have_registry() {
        return;
    }
    let d = tmp();
    make_certs(d.path(), "DNS:token.test");
    let token = TokenServer::start(d.path(), "bob", "t0ken-pass");
    let reg = Registry::start(
        &format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: regraft-test\n    \
             issuer: regraft-test-issuer\n    rootcertbundle: {}\n",
            token.port,
            d.path().join("ca.crt").display()
        ),
        None,
    );
    push_small(&reg, &["--dest-creds", "bob:t0ken-pass"]);
    let a = graft_small_layers(&reg, "vend/app:1-fixed", &["--creds", "bob:t0ken-pass"]);
    let j = json_of(&regraft_ok(&strs(&a)));
    assert_eq!(j["moved"]["blobs_uploaded"], 1, "{}", j["moved"]);
    assert_eq!(j["moved"]["blobs_mounted"], 2, "{}", j["moved"]);
    assert!(token.requests.load(Ordering::SeqCst) > 0);
    regraft_ok(&[
        "verify",
        "--creds",
        "bob:t0ken-pass",
        &reg.at("vend/app:1-fixed"),
    ]);
    let s = skopeo_reg(&["--creds", "bob:t0ken-pass"], &reg.at("vend/app:1-fixed"));
    assert_eq!(s["Digest"], j["manifest_digest"]);
    // Refused by the token server: a clear 401 without the password.
    let err = regraft_fails(
        &["inspect", "--creds", "bob:nope-Nope", &reg.at("vend/app:1")],
        1,
    );
    assert!(err.contains("401") && err.contains("token server"), "{err}");
    assert!(!err.contains("nope-Nope"), "{err}");
}

/// What the test proxy does to the traffic.
#[derive(Clone)]
enum Mangle {
    /// Flips one byte of the body of GETs of this blob.
    Corrupt(String),
    /// Cuts the body of GETs of this blob to half (the Content-Length stays).
    Truncate(String),
    /// Holds the PUT of a blob upload once `n` of them went through, and counts them.
    StallUploadAfter(usize),
}

/// A one-request-per-connection HTTP proxy to a registry on loopback.
struct Proxy {
    port: u16,
    uploads: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(upstream: u16, mangle: Mangle) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let uploads = Arc::new(AtomicUsize::new(0));
        let up = uploads.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(c) = conn else { continue };
                let mangle = mangle.clone();
                let up = up.clone();
                std::thread::spawn(move || proxy_one(c, upstream, &mangle, &up));
            }
        });
        Proxy { port, uploads }
    }

    fn at(&self, repo_tag: &str) -> String {
        format!("docker://127.0.0.1:{}/{repo_tag}", self.port)
    }
}

fn proxy_one(mut c: TcpStream, upstream: u16, mangle: &Mangle, uploads: &AtomicUsize) {
    let head = read_head(&mut c);
    if head.is_empty() {
        return;
    }
    let line = head.lines().next().unwrap_or("").to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    if c.read_exact(&mut body).is_err() {
        return;
    }
    if let Mangle::StallUploadAfter(n) = mangle
        && line.starts_with("PUT ")
        && line.contains("/blobs/uploads/")
    {
        let seen = uploads.fetch_add(1, Ordering::SeqCst);
        if seen >= *n {
            std::thread::sleep(Duration::from_secs(600));
            return;
        }
    }
    let head: String = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\r\n"))
        .collect::<String>()
        + "Connection: close\r\n\r\n";
    let mut u = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    u.write_all(head.as_bytes()).unwrap();
    u.write_all(&body).unwrap();
    let mut resp = Vec::new();
    let _ = u.read_to_end(&mut resp);
    if let Mangle::Corrupt(hex) = mangle
        && line.starts_with("GET ")
        && line.contains(&format!("/blobs/sha256:{hex}"))
        && let Some(i) = resp.windows(4).position(|w| w == b"\r\n\r\n")
        && resp.len() > i + 4 + 20
    {
        resp[i + 4 + 20] ^= 0x40;
    }
    if let Mangle::Truncate(hex) = mangle
        && line.starts_with("GET ")
        && line.contains(&format!("/blobs/sha256:{hex}"))
        && let Some(i) = resp.windows(4).position(|w| w == b"\r\n\r\n")
    {
        let body = resp.len() - (i + 4);
        resp.truncate(i + 4 + body / 2);
    }
    let _ = c.write_all(&resp);
}

#[test]
fn registry_corrupted_blob_names_the_blob_and_pushes_nothing() {
    if !have_registry() {
        return;
    }
    let reg = Registry::start("", None);
    push_small(&reg, &[]);
    let raw = skopeo_reg(&["--raw"], &reg.at("vend/app:1"));
    let layer = raw["layers"][1]["digest"].as_str().unwrap().to_string();
    let hex = layer.trim_start_matches("sha256:").to_string();
    for mangle in [Mangle::Corrupt(hex.clone()), Mangle::Truncate(hex)] {
        let proxy = Proxy::start(reg.port, mangle);
        for args in [
            vec![
                "--from",
                &proxy.at("vend/app:1"),
                "--onto",
                &proxy.at("debian:12"),
                "--path",
                "/opt/vendor",
                "-o",
                &proxy.at("vend/app:1-fixed"),
            ],
            vec!["verify", &proxy.at("vend/app:1")],
        ]
        .iter()
        .map(|a| a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        {
            let err = regraft_fails(&strs(&args), 1);
            eprintln!("corrupted {layer}: {err}");
            assert!(err.contains(&layer), "the error names the blob: {err}");
        }
    }
    let o = tool(
        "skopeo",
        &["inspect", "--tls-verify=false", &reg.at("vend/app:1-fixed")],
    );
    assert!(!o.status.success(), "nothing was tagged 1-fixed");
}

#[test]
fn registry_push_killed_midway_leaves_the_old_tag() {
    if !have_registry() {
        return;
    }
    let reg = Registry::start("", None);
    push_small(&reg, &[]);
    let a = graft_small_layers(&reg, "vend/app:1-fixed", &[]);
    let old = json_of(&regraft_ok(&strs(&a)))["manifest_digest"].clone();
    // A path-mode graft to the same tag: the new layer's upload goes through, the next
    // upload (the config) hangs, and regraft is killed there.
    let proxy = Proxy::start(reg.port, Mangle::StallUploadAfter(1));
    let mut child = Command::new(env!("CARGO_BIN_EXE_regraft"))
        .args([
            "--from",
            &proxy.at("vend/app:1"),
            "--onto",
            &proxy.at("debian:12"),
            "--path",
            "/opt/vendor",
            "-o",
            &proxy.at("vend/app:1-fixed"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..1200 {
        if proxy.uploads.load(Ordering::SeqCst) >= 2 {
            break;
        }
        if let Ok(Some(s)) = child.try_wait() {
            panic!("regraft ended ({s}) before its second upload");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        proxy.uploads.load(Ordering::SeqCst) >= 2,
        "no second upload"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let now = skopeo_reg(&[], &reg.at("vend/app:1-fixed"))["Digest"].clone();
    assert_eq!(now, old, "the tag still names the old image");
    regraft_ok(&["verify", &reg.at("vend/app:1-fixed")]);
}

#[test]
fn registry_index_platforms_and_the_subcommands() {
    if !have_registry() {
        return;
    }
    let reg = Registry::start("", None);
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            "--all",
            "--dest-tls-verify=false",
            &format!("oci:{}", fixture("multi.oci")),
            &reg.at("multi:1"),
        ],
    );
    let pushed = skopeo_reg(&["--raw"], &reg.at("multi:1"));
    let arm = pushed["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "arm64")
        .unwrap()["digest"]
        .clone();
    let i = json_of(&regraft_ok(&[
        "inspect",
        "--json",
        "--platform",
        "linux/arm64",
        &reg.at("multi:1"),
    ]));
    assert_eq!(i["manifest_digest"], arm);
    // The whole index to another repository: every blob mounted or there, nothing uploaded,
    // the same index digest.
    let o = regraft(&[
        "convert",
        "--all",
        &reg.at("multi:1"),
        &reg.at("copy/multi:1"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("0 byte(s) uploaded in 0 blob(s)"), "{err}");
    let copied = skopeo_reg(&["--raw"], &reg.at("copy/multi:1"));
    assert_eq!(copied, pushed);
    // A file added to a registry image, written to the registry, read back by cp, check, ls
    // and diff.
    let d = tmp();
    let f = d.path().join("hello.txt");
    std::fs::write(&f, "hello from the test\n").unwrap();
    regraft_ok(&[
        "add",
        "--platform",
        "linux/amd64",
        &reg.at("multi:1"),
        &format!("{}:/etc/hello.txt", f.display()),
        "-o",
        &reg.at("multi:added"),
    ]);
    let back = d.path().join("back.txt");
    regraft_ok(&[
        "cp",
        &format!("{}:/etc/hello.txt", reg.at("multi:added")),
        back.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&back).unwrap(),
        "hello from the test\n"
    );
    regraft_ok(&["check", "--old-base-layers", "1", &reg.at("multi:added")]);
    let ls = regraft_ok(&["ls", &reg.at("multi:added"), "/etc"]);
    assert!(ls.contains("/etc/hello.txt"), "{ls}");
    let diff = regraft_ok(&[
        "diff",
        "--platform",
        "linux/amd64",
        &reg.at("multi:1"),
        &reg.at("multi:added"),
    ]);
    assert!(diff.contains("/etc/hello.txt"), "{diff}");
    regraft_ok(&["verify", &reg.at("multi:added")]);
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            "--src-tls-verify=false",
            &reg.at("multi:added"),
            &format!("oci:{}:x", d.path().join("layout").display()),
        ],
    );
}

#[test]
fn registry_multi_platform_graft_writes_an_index_with_the_file_grafts_configs() {
    if !have_registry() {
        return;
    }
    let reg = Registry::start("", None);
    let m = |f: &str| real(&format!("multi/{f}"));
    for (f, t) in [
        ("vendor-oci.tar", "m/vendor:1"),
        ("base-new-oci.tar", "m/base:new"),
    ] {
        push(
            &format!("oci-archive:{}", m(f)),
            &reg.at(t),
            &["--all", "--preserve-digests"],
        );
    }
    let before = reg.log().len();
    let j = json_of(&regraft_ok(&[
        "--from",
        &reg.at("m/vendor:1"),
        "--onto",
        &reg.at("m/base:new"),
        "-o",
        &reg.at("m/vendor:1-fixed"),
        "--json",
    ]));
    assert_eq!(j["total"]["platforms"], 2);
    // Two new configs, the base's layers mounted, the vendor's there.
    assert_eq!(j["moved"]["blobs_uploaded"], 2, "{}", j["moved"]);
    let reqs = reg.requests_since(before);
    let layer_puts = reqs
        .iter()
        .filter(|r| r.starts_with("PUT /v2/m/vendor/blobs/uploads/"))
        .count();
    assert_eq!(layer_puts, 2, "{reqs:#?}");
    let d = tmp();
    let f = d.path().join("f.tar");
    let file = json_of(&regraft_ok(&[
        "-q",
        "--from",
        &format!("oci-archive:{}", m("vendor-oci.tar")),
        "--onto",
        &format!("oci-archive:{}", m("base-new-oci.tar")),
        "-o",
        &format!("oci-archive:{}", f.display()),
        "--json",
    ]));
    let configs = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["config_digest"].clone())
            .collect()
    };
    assert_eq!(configs(&j), configs(&file));
    let index = skopeo_reg(&["--raw"], &reg.at("m/vendor:1-fixed"));
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
    assert_eq!(
        skopeo_reg(&[], &reg.at("m/vendor:1-fixed"))["Digest"],
        j["index_digest"]
    );
    for p in ["linux/amd64", "linux/arm64"] {
        regraft_ok(&["verify", "--platform", p, &reg.at("m/vendor:1-fixed")]);
    }
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            "--all",
            "--src-tls-verify=false",
            &reg.at("m/vendor:1-fixed"),
            &format!("oci:{}:x", d.path().join("layout").display()),
        ],
    );
}

/// `--format docker` to a registry: `convert --all` of an index pushes a Docker manifest list
/// over schema 2 manifests (with the annotation on each), which the registry takes and
/// serves; skopeo copies the whole list out of it into a `dir:` (every file's
/// sha256 its name), and regraft verifies each platform read back.
#[test]
fn registry_takes_a_docker_manifest_list() {
    if !have_registry() {
        return;
    }
    let reg = Registry::start("", None);
    regraft_ok(&[
        "convert",
        "--all",
        &format!("oci:{}", fixture("multi.oci")),
        &reg.at("list:1"),
        "--format",
        "docker",
        "--annotation",
        "org.example.pushed=yes",
        "-q",
    ]);
    let list = skopeo_reg(&["--raw"], &reg.at("list:1"));
    assert_eq!(
        list["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    assert_eq!(list["annotations"]["org.example.pushed"], "yes");
    for m in list["manifests"].as_array().unwrap() {
        assert_eq!(
            m["mediaType"],
            "application/vnd.docker.distribution.manifest.v2+json"
        );
        let arch = m["platform"]["architecture"].as_str().unwrap();
        let one = skopeo_reg(
            &["--raw", "--override-arch", arch],
            &format!("{}@{}", reg.at("list"), m["digest"].as_str().unwrap()),
        );
        assert_eq!(one["annotations"]["org.example.pushed"], "yes");
        regraft_ok(&[
            "verify",
            "--platform",
            &format!("linux/{arch}"),
            &reg.at("list:1"),
        ]);
    }
    let d = tmp();
    let dir = d.path().join("copy");
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            "--all",
            "--src-tls-verify=false",
            &reg.at("list:1"),
            &format!("dir:{}", dir.display()),
        ],
    );
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let hex = name.strip_suffix(".manifest.json").unwrap_or(&name);
        if hex.len() == 64 {
            assert_eq!(sha256_file(&p), hex, "{name}");
        }
    }
    let served = tool_ok(
        "sh",
        &[
            "-c",
            &format!(
                "skopeo inspect --raw --tls-verify=false {} | sha256sum",
                reg.at("list:1")
            ),
        ],
    );
    assert_eq!(
        sha256_file(&dir.join("manifest.json")),
        served.split_whitespace().next().unwrap(),
        "the list copied byte for byte"
    );
}

/// Issue 19's tee into a registry: a graft of a gzip OCI layout (skopeo and umoci made it)
/// pushed to a registry, in both modes, uploads each layer from the check's own read of it
/// ("uploaded as it was read and verified", once per layer the result copies), so the process
/// reads at most 1.05x the input layer blobs the job needs; `regraft verify` and skopeo read
/// the result back.
#[test]
fn registry_output_from_a_gzip_layout_reads_each_blob_once() {
    if !have_registry() {
        return;
    }
    use crate::one_pass::{bytes_read, graft_args, layout_layers};
    let reg = Registry::start("", None);
    let (vendor, base) = (real("vendor-real.oci"), real("debian-new.oci"));
    let vlayers = layout_layers(Path::new(&vendor), "1.0");
    let blayers = layout_layers(Path::new(&base), "trixie");
    for mode in ["layer", "path"] {
        let skip = usize::from(mode == "layer");
        let needed: u64 = blayers.iter().chain(&vlayers[skip..]).map(|(_, n)| n).sum();
        let copied = blayers.len()
            + if mode == "layer" {
                vlayers.len() - 1
            } else {
                0
            };
        // A repository per mode: nothing there yet, so every layer is uploaded.
        let out = reg.at(&format!("one-pass/{mode}:1"));
        let args = graft_args(
            true,
            &format!("oci:{vendor}:1.0"),
            &format!("oci:{base}:trixie"),
            &out.clone(),
            mode,
        );
        let o = regraft(&strs(&args));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{mode}:\n{err}");
        let teed = err.matches("uploaded as it was read and verified").count();
        assert_eq!(
            teed, copied,
            "{mode}: every copied layer uploaded from the check's read:\n{err}"
        );
        assert!(
            !err.contains(": copying "),
            "{mode}: a layer was read again:\n{err}"
        );
        let ratio = bytes_read(&err) / needed as f64;
        assert!(
            ratio <= 1.05,
            "{mode}: read {ratio:.3}x the blobs needed:\n{err}"
        );
        regraft_ok(&["verify", &out]);
        let raw = skopeo_reg(&["--raw"], &out);
        let layers = raw["layers"].as_array().unwrap();
        assert_eq!(layers[0]["digest"], blayers[0].0.as_str(), "{mode}: {raw}");
    }
    // A base whose layer blob has one byte flipped inside its deflate data: the graft fails
    // naming the blob, and the tag is not written (the registry got a short upload at most).
    let t = tmp();
    let bad = t.path().join("bad.oci");
    tool_ok("cp", &["-a", &base, bad.to_str().unwrap()]);
    let blob = bad
        .join("blobs/sha256")
        .join(blayers[0].0.trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::remove_file(&blob).unwrap();
    std::fs::write(&blob, &bytes).unwrap();
    for mode in ["layer", "path"] {
        let out = reg.at(&format!("one-pass/bad-{mode}:1"));
        let args = graft_args(
            false,
            &format!("oci:{vendor}:1.0"),
            &format!("oci:{}:trixie", bad.display()),
            &out.clone(),
            mode,
        );
        let err = regraft_fails(&strs(&args), 1);
        assert!(err.contains(&blayers[0].0), "{mode}: names the blob: {err}");
        let o = tool("skopeo", &["inspect", "--tls-verify=false", &out]);
        assert!(!o.status.success(), "{mode}: {out} was tagged");
    }
}
