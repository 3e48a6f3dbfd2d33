//! Shared helpers: running regraft and the peer tools, unpacking images, and comparing trees.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A small fixture (committed, made by fixtures/build-small.sh).
pub fn fixture(name: &str) -> String {
    root().join("fixtures").join(name).display().to_string()
}

/// A large real fixture from fixtures/build-real.sh; fails loudly when missing.
pub fn real(name: &str) -> String {
    let p = root().join("fixtures/real").join(name);
    assert!(
        p.exists(),
        "{} is missing: run `bash fixtures/build-real.sh` (tests/run.sh does)",
        p.display()
    );
    p.display().to_string()
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("regraft-test-")
        .tempdir()
        .unwrap()
}

pub fn regraft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regraft"))
        .args(args)
        .output()
        .expect("run regraft")
}

/// Runs regraft and asserts exit 0; returns stdout.
pub fn regraft_ok(args: &[&str]) -> String {
    let o = regraft(args);
    assert!(
        o.status.success(),
        "regraft {:?} failed ({:?}):\n{}",
        args,
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Runs regraft and asserts the exit code; returns stderr.
pub fn regraft_fails(args: &[&str], code: i32) -> String {
    let o = regraft(args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(
        o.status.code(),
        Some(code),
        "regraft {args:?}: expected exit {code}, stderr:\n{err}"
    );
    err
}

pub fn tool(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

pub fn tool_ok(cmd: &str, args: &[&str]) -> String {
    let o = tool(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {:?} failed:\n{}\n{}",
        args,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// skopeo inspect --raw / --config of a transport reference; returns the JSON.
pub fn skopeo_inspect(r: &str) -> serde_json::Value {
    serde_json::from_str(&tool_ok("skopeo", &["inspect", r])).unwrap()
}

/// Copies any reference skopeo reads into a fresh OCI layout and unpacks it with umoci (both
/// verify every digest). Returns the rootfs path (inside `dir`).
pub fn unpack(r: &str, dir: &Path) -> PathBuf {
    let layout = dir.join("layout");
    tool_ok(
        "skopeo",
        &["copy", "-q", r, &format!("oci:{}:x", layout.display())],
    );
    let bundle = dir.join("bundle");
    tool_ok(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:x", layout.display()),
            &bundle.display().to_string(),
        ],
    );
    bundle.join("rootfs")
}

/// `podman load` into a throwaway storage root; returns podman's output.
pub fn podman_load(archive: &str) -> String {
    let d = tmp();
    let root = d.path().join("root");
    let run = d.path().join("run");
    tool_ok(
        "podman",
        &[
            "--root",
            &root.display().to_string(),
            "--runroot",
            &run.display().to_string(),
            "--storage-driver",
            "vfs",
            "load",
            "-i",
            archive,
        ],
    )
}

/// What a test compares of one file system entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attrs {
    pub kind: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub size: u64,
    pub content: Option<String>,
    pub link: Option<String>,
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// Paths sharing this entry's inode, for regular files with more than one link.
    pub nlink: u64,
}

fn xattrs(p: &Path) -> Vec<(String, Vec<u8>)> {
    // getfattr is not always installed; read through the xattr syscalls via Python's os module.
    let out = Command::new("python3")
        .args([
            "-c",
            "import os,sys\np=sys.argv[1]\nfor k in sorted(os.listxattr(p, follow_symlinks=False)):\n  print(k, os.getxattr(p,k,follow_symlinks=False).hex())",
            &p.display().to_string(),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), hex_decode(v)))
        })
        .collect()
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Walks a tree (without following symlinks) into path -> attributes. Paths are relative.
pub fn tree(rootfs: &Path, with_xattrs: bool) -> BTreeMap<String, Attrs> {
    let mut out = BTreeMap::new();
    walk(rootfs, rootfs, with_xattrs, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, with_xattrs: bool, out: &mut BTreeMap<String, Attrs>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else {
            "special"
        };
        let content = if ft.is_file() {
            use sha2::Digest;
            Some(hex::encode(sha2::Sha256::digest(
                std::fs::read(&p).unwrap(),
            )))
        } else {
            None
        };
        let link = if ft.is_symlink() {
            Some(std::fs::read_link(&p).unwrap().display().to_string())
        } else {
            None
        };
        out.insert(
            rel,
            Attrs {
                kind: kind.into(),
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                mtime: if ft.is_symlink() { 0 } else { m.mtime() },
                size: if ft.is_file() { m.len() } else { 0 },
                content,
                link,
                xattrs: if with_xattrs && !ft.is_symlink() {
                    xattrs(&p)
                } else {
                    vec![]
                },
                nlink: if ft.is_file() { m.nlink() } else { 0 },
            },
        );
        if ft.is_dir() {
            walk(root, &p, with_xattrs, out);
        }
    }
}

/// The entries of `t` at or below `prefix` (relative, no leading slash).
pub fn subtree(t: &BTreeMap<String, Attrs>, prefix: &str) -> BTreeMap<String, Attrs> {
    t.iter()
        .filter(|(k, _)| k.as_str() == prefix || k.starts_with(&format!("{prefix}/")))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Runs a program inside `rootfs` with chroot (proc mounted for $ORIGIN); returns stdout.
pub fn chroot_run(rootfs: &Path, argv: &[&str]) -> Output {
    let proc_dir = rootfs.join("proc");
    let _ = std::fs::create_dir_all(&proc_dir);
    let mounted = Command::new("mount")
        .args(["-t", "proc", "proc", &proc_dir.display().to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let mut args = vec![rootfs.display().to_string()];
    args.extend(argv.iter().map(|s| s.to_string()));
    let o = Command::new("chroot")
        .args(&args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .output()
        .unwrap();
    if mounted {
        let _ = Command::new("umount").arg(&proc_dir).status();
    }
    o
}

/// The sha256 of a file, hex.
pub fn sha256_file(p: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

/// Reads a JSON member out of a tar archive with GNU tar.
pub fn tar_member_json(archive: &str, member: &str) -> serde_json::Value {
    let out = tool_ok("tar", &["-xOf", archive, member]);
    serde_json::from_str(&out).unwrap()
}

/// Like `unpack`, with extra `skopeo copy` arguments (for example `--dest-compress-format gzip`
/// for zstd layers, which umoci 0.4.7 cannot unpack, or `--override-arch` for an index).
pub fn unpack_with(r: &str, skopeo_args: &[&str], dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let layout = dir.join("layout");
    let dest = format!("oci:{}:x", layout.display());
    let mut args = vec!["copy", "-q"];
    args.extend_from_slice(skopeo_args);
    args.extend_from_slice(&[r, &dest]);
    tool_ok("skopeo", &args);
    let bundle = dir.join("bundle");
    tool_ok(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:x", layout.display()),
            &bundle.display().to_string(),
        ],
    );
    bundle.join("rootfs")
}

/// Asserts two trees from `tree()` are equal, naming the first differing paths (a plain
/// assert_eq on thousands of entries is unreadable).
pub fn assert_trees_eq(
    expected: &BTreeMap<String, Attrs>,
    actual: &BTreeMap<String, Attrs>,
    what: &str,
) {
    let mut diffs = Vec::new();
    for (k, v) in expected {
        match actual.get(k) {
            None => diffs.push(format!("missing {k}")),
            Some(a) if a != v => diffs.push(format!("{k}: expected {v:?}\n   found {a:?}")),
            Some(_) => {}
        }
    }
    diffs.extend(
        actual
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .map(|k| format!("extra {k}")),
    );
    assert!(
        diffs.is_empty(),
        "{what}: {} differences, the first ones:\n{}",
        diffs.len(),
        diffs
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Everything under `dir`, recursively: relative path -> "dir", "link:TARGET" or the file's
/// sha256. Two equal snapshots mean nothing was created, removed or changed.
pub fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    fn go(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                out.insert(rel, "dir".into());
                go(root, &p, out);
            } else if m.file_type().is_symlink() {
                out.insert(
                    rel,
                    format!("link:{}", std::fs::read_link(&p).unwrap().display()),
                );
            } else {
                out.insert(rel, sha256_file(&p));
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        go(dir, dir, &mut out);
    }
    out
}

/// `regraft inspect --json` (plus `extra` flags) of an image, parsed.
pub fn inspect_json(image: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["inspect", "--json"];
    args.extend_from_slice(extra);
    args.push(image);
    serde_json::from_str(&regraft_ok(&args)).unwrap()
}

/// Like `tree`, but only the entry at `rel` (relative, no leading slash) and everything below
/// it; keys stay relative to `rootfs`. Reads xattrs only there, so it is cheap on a big image.
pub fn tree_under(rootfs: &Path, rel: &str, with_xattrs: bool) -> BTreeMap<String, Attrs> {
    let p = rootfs.join(rel);
    assert!(
        std::fs::symlink_metadata(&p).is_ok(),
        "{} is missing",
        p.display()
    );
    // `walk` lists a directory's children, so walk the parent and keep `rel` and below.
    let mut all = BTreeMap::new();
    walk(rootfs, p.parent().unwrap(), false, &mut all);
    let mut out = subtree(&all, rel);
    if with_xattrs {
        for (k, v) in out.iter_mut() {
            if v.kind != "symlink" {
                v.xattrs = xattrs(&rootfs.join(k));
            }
        }
    }
    out
}

/// A raw tar entry with any name (no validation: hostile inputs are the point), for test
/// generators. `kind` is the typeflag byte.
pub fn raw_entry(name: &[u8], kind: u8, data: &[u8], link: &[u8], mode: u32) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    {
        let old = h.as_old_mut();
        let n = name.len().min(100);
        old.name[..n].copy_from_slice(&name[..n]);
        let l = link.len().min(100);
        old.linkname[..l].copy_from_slice(&link[..l]);
    }
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_size(data.len() as u64);
    h.as_old_mut().linkflag = [kind];
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// A PAX extended header entry carrying `records` (key, value), applying to the next entry.
pub fn pax_entry(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in records {
        let base = k.len() + v.len() + 3;
        let mut len = base + 1;
        while base + len.to_string().len() != len {
            len = base + len.to_string().len();
        }
        body.extend_from_slice(format!("{len} {k}=").as_bytes());
        body.extend_from_slice(v);
        body.push(b'\n');
    }
    raw_entry(b"././@PaxHeader", b'x', &body, b"", 0o644)
}

/// Ends a tar made of raw entries.
pub fn end_tar(mut entries: Vec<u8>) -> Vec<u8> {
    entries.extend_from_slice(&[0u8; 1024]);
    entries
}

/// Builds a valid single-image OCI layout (tag `t`) from uncompressed layer tars, with the
/// right digests and diff_ids, so that only the layers' contents are under test.
pub fn layout_from_layers(dir: &Path, layers: &[Vec<u8>]) -> String {
    use sha2::Digest;
    let hexd = |b: &[u8]| hex::encode(sha2::Sha256::digest(b));
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |b: &[u8]| {
        let h = hexd(b);
        std::fs::write(blobs.join(&h), b).unwrap();
        h
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        let h = put(l);
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{h}"), "size": l.len()}));
        diff_ids.push(format!("sha256:{h}"));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2020-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let ch = put(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{ch}"), "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    let mh = put(&manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{mh}"), "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "t"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    format!("oci:{}:t", dir.display())
}

/// Like `chroot_run`, with extra environment variables and an optional `--userspec`.
pub fn chroot_run_env(
    rootfs: &Path,
    env: &[(&str, &str)],
    userspec: Option<&str>,
    argv: &[&str],
) -> Output {
    let proc_dir = rootfs.join("proc");
    let _ = std::fs::create_dir_all(&proc_dir);
    let mounted = Command::new("mount")
        .args(["-t", "proc", "proc", &proc_dir.display().to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let mut args: Vec<String> = Vec::new();
    if let Some(u) = userspec {
        args.push(format!("--userspec={u}"));
    }
    args.push(rootfs.display().to_string());
    args.extend(argv.iter().map(|s| s.to_string()));
    // By absolute path: a PATH in `env` also decides where the child itself is looked up.
    let mut c = Command::new("/usr/sbin/chroot");
    c.args(&args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    if mounted {
        let _ = Command::new("umount").arg(&proc_dir).status();
    }
    o
}

/// What a bounded run of regraft did: its exit code, stderr, stdout, wall time, CPU time
/// (user and system) and peak RSS.
pub struct Bounded {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub secs: f64,
    pub cpu_secs: f64,
    pub max_rss_mib: f64,
}

/// Runs regraft with `args`, killed after `kill_after` seconds; returns its wall time, and its
/// CPU time and peak RSS as the kernel accounts them for a child (`wait4`). GNU time forks regraft and
/// reports that: a process this test binary spawns itself would carry the test binary's own
/// peak into its `ru_maxrss` (exec records the peak of the memory it replaces).
// The child is reaped with waitpid below, which std's Child cannot see.
#[allow(clippy::zombie_processes)]
pub fn regraft_bounded(args: &[&str], kill_after: f64) -> Bounded {
    use std::os::unix::process::CommandExt;
    const MARK: &str = "regraft-bounded:";
    let d = tmp();
    let (out, err) = (d.path().join("out"), d.path().join("err"));
    let start = std::time::Instant::now();
    let child = Command::new("/usr/bin/time")
        .args([
            "-f",
            &format!("{MARK} %e %M %x %U %S"),
            env!("CARGO_BIN_EXE_regraft"),
        ])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .process_group(0)
        .spawn()
        .expect("run regraft under /usr/bin/time");
    let pid = child.id() as libc::pid_t;
    loop {
        let mut status = 0;
        // SAFETY: waiting for our own child; no rusage asked for.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if r == pid {
            break;
        }
        if start.elapsed().as_secs_f64() > kill_after {
            // SAFETY: signalling the process group of our own child (time and regraft).
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let secs = start.elapsed().as_secs_f64();
    let all = String::from_utf8_lossy(&std::fs::read(&err).unwrap()).into_owned();
    let (stderr, report) = match all.rfind(MARK) {
        Some(i) => (all[..i].to_string(), all[i + MARK.len()..].to_string()),
        None => (all.clone(), String::new()),
    };
    let f: Vec<f64> = report
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    Bounded {
        code: f.get(2).map(|&c| c as i32),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr,
        secs,
        // A killed run has no report: its CPU time and peak are unknown, not zero.
        cpu_secs: match (f.get(3), f.get(4)) {
            (Some(u), Some(s)) => u + s,
            _ => f64::INFINITY,
        },
        // %M is in KiB.
        max_rss_mib: f.get(1).map_or(f64::INFINITY, |k| k / 1024.0),
    }
}
