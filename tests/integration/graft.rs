//! The graft (issue 3), on the small committed fixtures and on the real Debian images from
//! `fixtures/build-real.sh`, in both modes and across formats. Every output is checked by the
//! peer tools (skopeo inspect/copy, umoci unpack, podman load), by a chroot that runs the grafted
//! programs, against `umoci unpack` of the vendor, and against this file's own model: a plain
//! walk of the raw layer tars with the `tar` crate that applies whiteouts and opaque markers in
//! an in-memory map, sharing no code with regraft.

use crate::common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------------------------------------
// The test's own model of a layer stack.

#[derive(Clone, Debug, PartialEq, Eq)]
struct MEntry {
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    size: u64,
    content: Option<String>,
    link: Option<String>,
    xattrs: Vec<(String, Vec<u8>)>,
    inode: u64,
}

enum Raw {
    Opaque(String),
    Whiteout(String),
    Put(String, MEntry),
    Hardlink(String, String),
}

#[derive(Default)]
struct Model {
    nodes: BTreeMap<String, MEntry>,
    next_inode: u64,
}

/// `./a//b/` -> `a/b`; the root is "".
fn clean(p: &str) -> String {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

fn split_parent(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(i) => (&p[..i], &p[i + 1..]),
        None => ("", p),
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

fn sha_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// Decompresses by magic: gzip, zstd or a plain tar.
fn decompressed(blob: &Path) -> Box<dyn Read> {
    let mut f = std::fs::File::open(blob).unwrap();
    let mut head = [0u8; 4];
    f.read_exact(&mut head).unwrap();
    let f = std::fs::File::open(blob).unwrap();
    if head[..2] == [0x1f, 0x8b] {
        // Every member: regraft writes a member per 1 MiB.
        Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
            f,
        )))
    } else if head == [0x28, 0xb5, 0x2f, 0xfd] {
        Box::new(zstd::stream::read::Decoder::new(f).unwrap())
    } else {
        Box::new(std::io::BufReader::new(f))
    }
}

/// Parses one layer tar into the model's operations (file data hashed on the way).
fn read_layer(blob: &Path) -> Vec<Raw> {
    let mut ar = tar::Archive::new(decompressed(blob));
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = clean(std::str::from_utf8(&e.path_bytes()).unwrap());
        if path.is_empty() {
            continue; // the root itself: not compared
        }
        let (parent, name) = split_parent(&path);
        if name == ".wh..wh..opq" {
            out.push(Raw::Opaque(parent.to_string()));
            continue;
        }
        if let Some(n) = name.strip_prefix(".wh.") {
            out.push(Raw::Whiteout(join(parent, n)));
            continue;
        }
        let h = e.header().clone();
        let t = h.entry_type();
        if t.is_hard_link() {
            let target = clean(std::str::from_utf8(&e.link_name_bytes().unwrap()).unwrap());
            out.push(Raw::Hardlink(path, target));
            continue;
        }
        let mut xattrs = Vec::new();
        if let Some(exts) = e.pax_extensions().unwrap() {
            for x in exts {
                let x = x.unwrap();
                if let Some(k) = x.key().unwrap().strip_prefix("SCHILY.xattr.") {
                    xattrs.push((k.to_string(), x.value_bytes().to_vec()));
                }
            }
        }
        xattrs.sort();
        let (kind, content, link, size) = if t.is_dir() {
            ("dir", None, None, 0)
        } else if t.is_symlink() {
            let l = String::from_utf8(e.link_name_bytes().unwrap().to_vec()).unwrap();
            ("symlink", None, Some(l), 0)
        } else if t.is_file() {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            ("file", Some(sha_hex(&data)), None, data.len() as u64)
        } else {
            ("special", None, None, 0)
        };
        out.push(Raw::Put(
            path,
            MEntry {
                kind,
                mode: if kind == "symlink" {
                    0o777
                } else {
                    h.mode().unwrap() & 0o7777
                },
                uid: h.uid().unwrap() as u32,
                gid: h.gid().unwrap() as u32,
                mtime: if kind == "symlink" {
                    0
                } else {
                    h.mtime().unwrap() as i64
                },
                size,
                content,
                link,
                xattrs,
                inode: 0,
            },
        ));
    }
    out
}

impl Model {
    fn remove_tree(&mut self, p: &str) {
        let pre = format!("{p}/");
        self.nodes.retain(|k, _| k != p && !k.starts_with(&pre));
    }

    /// One layer: opaque markers first (they hide only what lies below), then in tar order.
    fn apply(&mut self, raws: Vec<Raw>) {
        for r in &raws {
            if let Raw::Opaque(d) = r {
                let pre = if d.is_empty() {
                    String::new()
                } else {
                    format!("{d}/")
                };
                self.nodes.retain(|k, _| !k.starts_with(&pre));
            }
        }
        for r in raws {
            match r {
                Raw::Opaque(_) => {}
                Raw::Whiteout(p) => self.remove_tree(&p),
                Raw::Put(p, mut e) => {
                    if e.kind == "dir" && self.nodes.get(&p).is_some_and(|o| o.kind == "dir") {
                        self.nodes.insert(p, e); // a directory over a directory keeps its children
                    } else {
                        self.remove_tree(&p);
                        self.next_inode += 1;
                        e.inode = self.next_inode;
                        self.nodes.insert(p, e);
                    }
                }
                Raw::Hardlink(p, target) => {
                    let t = self
                        .nodes
                        .get(&target)
                        .cloned()
                        .unwrap_or_else(|| panic!("hardlink {p} -> missing {target}"));
                    self.remove_tree(&p);
                    self.nodes.insert(p, t);
                }
            }
        }
    }

    /// The model's entries at or below `sel`, moved to `dst`, as `common::Attrs` (hardlink
    /// counts taken inside that set only, as the graft does).
    fn attrs(&self, sel: &str, dst: &str, with_xattrs: bool) -> BTreeMap<String, Attrs> {
        let pre = format!("{sel}/");
        let picked: Vec<(String, &MEntry)> = self
            .nodes
            .iter()
            .filter(|(k, _)| sel.is_empty() || *k == sel || k.starts_with(&pre))
            .map(|(k, v)| {
                (
                    if sel.is_empty() {
                        k.clone()
                    } else {
                        format!("{dst}{}", &k[sel.len()..])
                    },
                    v,
                )
            })
            .collect();
        let mut links: BTreeMap<u64, u64> = BTreeMap::new();
        for (_, v) in &picked {
            if v.kind == "file" {
                *links.entry(v.inode).or_default() += 1;
            }
        }
        picked
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    Attrs {
                        kind: v.kind.into(),
                        mode: v.mode,
                        uid: v.uid,
                        gid: v.gid,
                        mtime: v.mtime,
                        size: v.size,
                        content: v.content.clone(),
                        link: v.link.clone(),
                        xattrs: if with_xattrs {
                            v.xattrs.clone()
                        } else {
                            vec![]
                        },
                        nlink: if v.kind == "file" { links[&v.inode] } else { 0 },
                    },
                )
            })
            .collect()
    }
}

/// The layer blobs of `tag` in an OCI layout, in order.
fn layout_layers(layout: &Path, tag: Option<&str>) -> Vec<PathBuf> {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let ms = index["manifests"].as_array().unwrap();
    let m = match tag {
        Some(t) => ms
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == t)
            .unwrap(),
        None => {
            assert_eq!(ms.len(), 1);
            &ms[0]
        }
    };
    let manifest = blob_json(layout, m["digest"].as_str().unwrap());
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| blob_path(layout, l["digest"].as_str().unwrap()))
        .collect()
}

fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

fn blob_json(layout: &Path, digest: &str) -> Value {
    serde_json::from_slice(&std::fs::read(blob_path(layout, digest)).unwrap()).unwrap()
}

fn model_of(blobs: &[PathBuf]) -> Model {
    let mut m = Model::default();
    for b in blobs {
        m.apply(read_layer(b));
    }
    m
}

// ---------------------------------------------------------------------------------------------
// Helpers for outputs.

/// The manifest and config of the single image in an OCI layout.
fn layout_image(layout: &Path) -> (String, Value, Value) {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let ms = index["manifests"].as_array().unwrap();
    assert_eq!(ms.len(), 1, "{index}");
    let d = ms[0]["digest"].as_str().unwrap().to_string();
    let m = blob_json(layout, &d);
    let c = blob_json(layout, m["config"]["digest"].as_str().unwrap());
    (d, m, c)
}

/// Extracts an archive (docker-archive or oci-archive written by regraft; both hold an OCI
/// layout) into `dir` with GNU tar, for reading manifests and blobs.
fn extract(archive: &Path, dir: &Path) -> PathBuf {
    let d = dir.join("extracted");
    std::fs::create_dir_all(&d).unwrap();
    tool_ok(
        "tar",
        &[
            "-xf",
            &archive.display().to_string(),
            "-C",
            &d.display().to_string(),
        ],
    );
    d
}

fn manifest_digests(m: &Value) -> Vec<String> {
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// The peer tools accept the output: skopeo inspect and copy, and podman load.
fn peer_tools_accept(skopeo_ref: &str, podman_path: &str, dir: &Path) {
    let i = skopeo_inspect(skopeo_ref);
    assert_eq!(i["Architecture"], "amd64");
    let copy = dir.join("skopeo-copy");
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            skopeo_ref,
            &format!("oci:{}:copy", copy.display()),
        ],
    );
    let out = if Path::new(podman_path).is_dir() {
        // podman 4.3 names a loaded layout after its path and refuses upper-case letters (the
        // temp dirs have some): load it through a lower-case symlink.
        let link_dir = std::env::temp_dir().join(format!(
            "regraft-podman-{}",
            &sha_hex(podman_path.as_bytes())[..16]
        ));
        std::fs::create_dir_all(&link_dir).unwrap();
        let link = link_dir.join("img");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(podman_path, &link).unwrap();
        let out = podman_load(&s(&link));
        std::fs::remove_dir_all(&link_dir).unwrap();
        out
    } else {
        podman_load(podman_path)
    };
    assert!(out.contains("Loaded image"), "podman load: {out}");
}

/// A fresh, test-owned copy of the small `fixtures/oci` layout.
fn small_layout_copy(dir: &Path) -> PathBuf {
    let l = dir.join("layout-copy");
    tool_ok("cp", &["-a", &fixture("oci"), &l.display().to_string()]);
    l
}

/// `umoci unpack` TAG, let `f` change the rootfs, `umoci repack` as NEW (same layout).
fn umoci_derive(layout: &Path, tag: &str, new: &str, f: impl FnOnce(&Path)) {
    let bundle = layout.with_file_name(format!("bundle-{new}"));
    let l = layout.display().to_string();
    tool_ok(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{l}:{tag}"),
            &bundle.display().to_string(),
        ],
    );
    f(&bundle.join("rootfs"));
    tool_ok(
        "umoci",
        &[
            "repack",
            "--image",
            &format!("{l}:{new}"),
            &bundle.display().to_string(),
        ],
    );
}

fn assert_no_output(dir: &Path, out: &Path) {
    assert!(!out.exists(), "{} was written", out.display());
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".regraft") || n.starts_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

fn env_of(cfg: &Value) -> Vec<String> {
    cfg["config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Asserts that `got` equals `want`, naming the first differing path.
fn assert_trees_eq(got: &BTreeMap<String, Attrs>, want: &BTreeMap<String, Attrs>, what: &str) {
    let gk: BTreeSet<_> = got.keys().collect();
    let wk: BTreeSet<_> = want.keys().collect();
    assert_eq!(gk, wk, "{what}: path sets differ");
    for (k, w) in want {
        assert_eq!(&got[k], w, "{what}: /{k} differs");
    }
}

/// The result tree outside the selections equals the base tree, except for `created` parents.
fn assert_outside_is_base(
    result: &BTreeMap<String, Attrs>,
    base: &BTreeMap<String, Attrs>,
    sels: &[&str],
    created: &[&str],
) {
    let inside = |k: &str| {
        sels.iter()
            .any(|s| k == *s || k.starts_with(&format!("{s}/")))
    };
    let r: BTreeMap<_, _> = result
        .iter()
        .filter(|(k, _)| !inside(k) && !created.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let b: BTreeMap<_, _> = base
        .iter()
        .filter(|(k, _)| !inside(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_trees_eq(&r, &b, "outside the selection vs the base");
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

// ---------------------------------------------------------------------------------------------
// Small fixtures: path mode.

#[test]
fn small_path_mode_docker_archive_matches_vendor_model_and_base() {
    let d = tmp();
    let out = d.path().join("out.tar");
    let o = regraft(&[
        "--from",
        &fixture("vendor.tar"),
        "--onto",
        &fixture("base.tar"),
        "--path",
        "/opt/vendor",
        "-o",
        &s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty(), "stdout must stay empty without --json");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("guess"),
        "no old-base info: the split is a guess: {err}"
    );
    assert!(
        err.contains("--old-base"),
        "says how to make it exact: {err}"
    );

    let r = format!("docker-archive:{}", s(&out));
    peer_tools_accept(&r, &s(&out), d.path());
    let root = unpack_to(&r, &d.path().join("result"));
    let vroot = unpack_to(
        &format!("docker-archive:{}", fixture("vendor.tar")),
        &d.path().join("vendor"),
    );
    let broot = unpack_to(
        &format!("docker-archive:{}", fixture("base.tar")),
        &d.path().join("base"),
    );

    // The grafted subtree is the vendor's merged view, attribute by attribute.
    let got = tree_under(&root, "opt/vendor", true);
    assert_trees_eq(
        &got,
        &tree_under(&vroot, "opt/vendor", true),
        "result vs umoci unpack of the vendor",
    );
    // ... and the test's own walk of the vendor's layer tars.
    let model = model_of(&layout_layers(Path::new(&fixture("oci")), Some("vendor")));
    assert_trees_eq(
        &got,
        &model.attrs("opt/vendor", "opt/vendor", true),
        "result vs the tar model",
    );
    // The details the fixture was made for.
    assert_eq!(got["opt/vendor/bin/suid-tool"].mode, 0o4755);
    assert_eq!(got["opt/vendor/bin/greet"].link.as_deref(), Some("hello"));
    assert_eq!(got["opt/vendor/bin/hello"].nlink, 2);
    assert_eq!(got["opt/vendor/bin/hello-link"].nlink, 2);
    assert_eq!(got["opt/vendor/bin/hello"].mtime, 1640995200); // 2022-01-01
    let share: Vec<_> = got
        .keys()
        .filter(|k| k.starts_with("opt/vendor/share/"))
        .collect();
    assert_eq!(
        share,
        ["opt/vendor/share/new.txt"],
        "the opaque layer 3 hides the rest of share/"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("opt/vendor/etc/app.conf")).unwrap(),
        "greeting=hello\nversion=2\n"
    );

    // Everything else is the base; /opt did not exist there and comes with the vendor's attributes.
    let rt = tree(&root, false);
    assert_outside_is_base(&rt, &tree(&broot, false), &["opt/vendor"], &["opt"]);
    assert_eq!(rt["opt"], tree(&vroot, false)["opt"]);
    assert!(
        std::fs::symlink_metadata(root.join("lib"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "/lib stays the base's symlink"
    );

    let run = chroot_run(&root, &["/opt/vendor/bin/hello"]);
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "hello from vendor\n",
        "{run:?}"
    );
    let run = chroot_run(&root, &["/usr/bin/basetool"]);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "base tool\n");

    // Config: no old-base config known, so all of the vendor's Env and Labels count.
    let c = skopeo_inspect_config(&r);
    assert_eq!(
        c["config"]["Labels"]["org.example.base"], "old",
        "old config unknown: the vendor's value wins"
    );
    assert_eq!(c["config"]["Labels"]["org.example.vendor"], "yes");
    // Manifest annotations: the base's fully-qualified name and its manifest digest.
    let x = extract(&out, d.path());
    let (_, m, _) = layout_image(&x);
    assert_eq!(
        m["annotations"]["org.opencontainers.image.base.name"],
        "docker.io/library/base:2"
    );
    let base_digest = regraft_inspect(&fixture("base.tar"))["manifest_digest"].clone();
    assert_eq!(
        m["annotations"]["org.opencontainers.image.base.digest"],
        base_digest
    );
    // Default compression follows the base's top layer: base.tar's layers are plain tars.
    let new = manifest_digests(&m).pop().unwrap();
    let head = std::fs::read(blob_path(&x, &new)).unwrap();
    assert_eq!(
        &head[257..262],
        b"ustar",
        "the new layer is an uncompressed tar like base.tar's"
    );
}

/// The small vendor in `fixtures/oci`: manifest digest, manifest and config (read, not
/// hardcoded: the fixtures are rebuilt now and then).
fn small_vendor() -> (String, Value, Value) {
    let l = PathBuf::from(fixture("oci"));
    let index: Value =
        serde_json::from_slice(&std::fs::read(l.join("index.json")).unwrap()).unwrap();
    let e = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "vendor")
        .unwrap();
    let d = e["digest"].as_str().unwrap().to_string();
    let m = blob_json(&l, &d);
    let c = blob_json(&l, m["config"]["digest"].as_str().unwrap());
    (d, m, c)
}

fn skopeo_inspect_config(r: &str) -> Value {
    serde_json::from_str(&tool_ok("skopeo", &["inspect", "--config", r])).unwrap()
}

fn regraft_inspect(r: &str) -> Value {
    serde_json::from_str(&regraft_ok(&["inspect", "--json", r])).unwrap()
}

#[test]
fn small_path_mode_oci_layout_annotation_route_and_config() {
    let d = tmp();
    let out = d.path().join("lay");
    let o = regraft(&[
        "--from",
        &format!("oci:{}:vendor", fixture("oci")),
        "--onto",
        &format!("oci:{}:base", fixture("oci")),
        "--path",
        "/opt/vendor",
        "-o",
        &format!("oci:{}:grafted:1", s(&out)),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("annotation"),
        "the old base comes from the vendor's annotations: {err}"
    );
    assert!(!err.contains("guess"), "{err}");

    let r = format!("oci:{}:grafted:1", s(&out));
    peer_tools_accept(&r, &s(&out), d.path());
    let root = unpack_to(&r, &d.path().join("result"));
    let run = chroot_run(&root, &["/opt/vendor/bin/hello"]);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hello from vendor\n");

    let (_, m, c) = layout_image(&out);
    let base_m = blob_json(
        Path::new(&fixture("oci")),
        "sha256:92fc372024a81cedcab9c511fc3abca6fb72629e7afd0d26d7fffbcb1d00a3a8",
    );
    let base_c = blob_json(
        Path::new(&fixture("oci")),
        base_m["config"]["digest"].as_str().unwrap(),
    );
    let (vendor_md, _, vendor_c) = small_vendor();
    // Base layers keep their digests; one new layer on top, gzip like the base's top layer.
    let layers = manifest_digests(&m);
    assert_eq!(layers.len(), 3);
    assert_eq!(layers[..2], manifest_digests(&base_m)[..]);
    let head = std::fs::read(blob_path(&out, &layers[2])).unwrap();
    assert_eq!(
        head[..2],
        [0x1f, 0x8b],
        "default compression: the base's top layer is gzip"
    );
    assert_eq!(
        m["layers"][2]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    // rootfs: base's diff_ids, then the new layer's (the sha256 of the uncompressed tar).
    let mut raw = Vec::new();
    flate2::read::MultiGzDecoder::new(&head[..])
        .read_to_end(&mut raw)
        .unwrap();
    let mut want_ids: Vec<Value> = base_c["rootfs"]["diff_ids"].as_array().unwrap().clone();
    want_ids.push(Value::String(format!("sha256:{}", sha_hex(&raw))));
    assert_eq!(c["rootfs"]["diff_ids"], Value::Array(want_ids));
    // Top level from the base, author from the vendor, created the later of the two.
    assert_eq!(c["architecture"], "amd64");
    assert_eq!(c["os"], "linux");
    assert_eq!(c["author"], "Example Vendor");
    assert_eq!(c["created"], "2022-01-03T00:00:00Z");
    // The runtime config from the vendor.
    let cc = &c["config"];
    assert_eq!(
        cc["Entrypoint"],
        serde_json::json!(["/opt/vendor/bin/hello"])
    );
    assert_eq!(cc["Cmd"], serde_json::json!(["--version"]));
    assert_eq!(cc["WorkingDir"], "/opt/vendor");
    assert_eq!(cc["User"], "app");
    assert_eq!(cc["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    // PATH: the vendor's entries the base lacks, then the base's; other Env: base's, then the
    // vendor's values that differ from the old base's.
    assert_eq!(
        env_of(&c),
        [
            "PATH=/opt/vendor/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=C.UTF-8",
            "VENDOR_HOME=/opt/vendor"
        ]
    );
    // Labels: the old base's inherited org.example.base=old does not override the new base's.
    assert_eq!(
        cc["Labels"],
        serde_json::json!({"org.example.base": "new", "org.example.vendor": "yes"})
    );
    // History: the base's, then one entry naming the path and the vendor by tag and digest.
    let h = c["history"].as_array().unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[..2], base_c["history"].as_array().unwrap()[..]);
    let by = h[2]["created_by"].as_str().unwrap();
    assert!(
        by.contains("/opt/vendor") && by.contains(&vendor_md),
        "{by}"
    );
    assert!(
        !by.contains(&fixture("oci")),
        "no host path in history: {by}"
    );
    assert!(h[2].get("empty_layer").is_none());
    // Annotations: base.digest is the base's manifest; base's tag `base` is not a full name.
    assert_eq!(
        m["annotations"]["org.opencontainers.image.base.digest"],
        "sha256:92fc372024a81cedcab9c511fc3abca6fb72629e7afd0d26d7fffbcb1d00a3a8"
    );
    assert!(
        m["annotations"]
            .get("org.opencontainers.image.base.name")
            .is_none(),
        "{}",
        m["annotations"]
    );
    assert_ne!(vendor_c["created"], Value::Null);
}

#[test]
fn small_path_mode_oci_archive_in_and_out() {
    let d = tmp();
    let base = d.path().join("base-oci.tar");
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("oci:{}:base", fixture("oci")),
            &format!("oci-archive:{}:base", s(&base)),
        ],
    );
    let out = d.path().join("out-oci.tar");
    regraft_ok(&[
        "--from",
        &format!("oci-archive:{}", fixture("vendor-oci.tar")),
        "--onto",
        &format!("oci-archive:{}", s(&base)),
        "--path",
        "/opt/vendor/bin",
        "-o",
        &format!("oci-archive:{}", s(&out)),
    ]);
    let r = format!("oci-archive:{}", s(&out));
    peer_tools_accept(&r, &s(&out), d.path());
    let root = unpack_to(&r, &d.path().join("result"));
    let model = model_of(&layout_layers(Path::new(&fixture("oci")), Some("vendor")));
    let got = tree_under(&root, "opt/vendor/bin", true);
    assert_trees_eq(
        &got,
        &model.attrs("opt/vendor/bin", "opt/vendor/bin", true),
        "bin vs the tar model",
    );
    // Created parents come with the vendor's attributes.
    let vroot = unpack_to(
        &format!("oci-archive:{}", fixture("vendor-oci.tar")),
        &d.path().join("vendor"),
    );
    let rt = tree(&root, false);
    let vt = tree(&vroot, false);
    assert_eq!(rt["opt"], vt["opt"]);
    assert_eq!(rt["opt/vendor"], vt["opt/vendor"]);
    assert!(
        !rt.contains_key("opt/vendor/etc"),
        "only the selection is grafted"
    );
    let broot = unpack_to(
        &format!("oci:{}:base", fixture("oci")),
        &d.path().join("base"),
    );
    assert_outside_is_base(
        &rt,
        &tree(&broot, false),
        &["opt/vendor/bin"],
        &["opt", "opt/vendor"],
    );
    let run = chroot_run(&root, &["/opt/vendor/bin/greet"]);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hello from vendor\n");
}

/// xattrs and an old mtime live in vendor layer 1 under /opt/vendor/share, which layer 3's opaque
/// marker hides; a test-made vendor with only layers 0-1 shows that they survive the graft.
#[test]
fn small_path_mode_keeps_xattrs_and_old_mtimes() {
    let d = tmp();
    let l = small_layout_copy(d.path());
    // vendor2 = vendor's first two layers (manifest, config and index written by the test).
    let index_path = l.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let vm = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "vendor")
        .unwrap()
        .clone();
    let mut m = blob_json(&l, vm["digest"].as_str().unwrap());
    let mut c = blob_json(&l, m["config"]["digest"].as_str().unwrap());
    m["layers"].as_array_mut().unwrap().truncate(2);
    c["rootfs"]["diff_ids"].as_array_mut().unwrap().truncate(2);
    c["history"].as_array_mut().unwrap().truncate(2);
    let put = |v: &Value| {
        let b = serde_json::to_vec(v).unwrap();
        let h = sha_hex(&b);
        std::fs::write(l.join("blobs/sha256").join(&h), &b).unwrap();
        (format!("sha256:{h}"), b.len())
    };
    let (cd, cs) = put(&c);
    m["config"]["digest"] = cd.into();
    m["config"]["size"] = cs.into();
    let (md, ms) = put(&m);
    let mut e = vm.clone();
    e["digest"] = md.into();
    e["size"] = ms.into();
    e["annotations"]["org.opencontainers.image.ref.name"] = "vendor2".into();
    index["manifests"].as_array_mut().unwrap().push(e);
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();

    let out = d.path().join("out");
    regraft_ok(&[
        "--from",
        &format!("oci:{}:vendor2", s(&l)),
        "--onto",
        &format!("oci:{}:base", s(&l)),
        "--path",
        "/opt/vendor/share",
        "--force", // the vendor's entrypoint is not in the selection: the run check objects
        "-o",
        &format!("oci:{}:x", s(&out)),
    ]);
    let root = unpack_to(&format!("oci:{}:x", s(&out)), &d.path().join("result"));
    let got = tree_under(&root, "opt/vendor/share", true);
    assert_eq!(
        got["opt/vendor/share/xattr.txt"].xattrs,
        [("user.regraft".to_string(), b"test".to_vec())]
    );
    assert_eq!(got["opt/vendor/share/old-mtime.txt"].mtime, 981173106);
    assert_eq!(
        got["opt/vendor/share/olddir"].kind, "dir",
        "layer 2 is not part of vendor2"
    );
    let model = model_of(&layout_layers(&l, Some("vendor2")));
    assert_trees_eq(
        &got,
        &model.attrs("opt/vendor/share", "opt/vendor/share", true),
        "share vs the tar model",
    );
    let vroot = unpack_to(&format!("oci:{}:vendor2", s(&l)), &d.path().join("vendor"));
    assert_trees_eq(
        &got,
        &tree_under(&vroot, "opt/vendor/share", true),
        "share vs umoci unpack of vendor2",
    );
}

#[test]
fn small_path_mode_several_paths_and_replacement_of_base_entries() {
    let d = tmp();
    let out = d.path().join("out.tar");
    regraft_ok(&[
        "--from",
        &fixture("vendor.tar"),
        "--onto",
        &fixture("base.tar"),
        "--old-base",
        &fixture("oldbase.tar"),
        "--path",
        "/opt/vendor/bin",
        "--path",
        "/opt/vendor/etc/app.conf",
        "--path",
        "etc/os-release",
        "-o",
        &s(&out),
    ]);
    let r = format!("docker-archive:{}", s(&out));
    let root = unpack_to(&r, &d.path().join("result"));
    let model = model_of(&layout_layers(Path::new(&fixture("oci")), Some("vendor")));
    let rt = tree(&root, true);
    for sel in [
        "opt/vendor/bin",
        "opt/vendor/etc/app.conf",
        "etc/os-release",
    ] {
        assert_trees_eq(&subtree(&rt, sel), &model.attrs(sel, sel, true), sel);
    }
    assert_eq!(
        std::fs::read_to_string(root.join("etc/os-release"))
            .unwrap()
            .lines()
            .next(),
        Some("NAME=\"Oldbase\"")
    );
    // /etc/base-version (base) survives: a file replaces a file, not its directory.
    assert_eq!(
        std::fs::read_to_string(root.join("etc/base-version")).unwrap(),
        "2\n"
    );
    let etc: Vec<_> = rt
        .keys()
        .filter(|k| k.starts_with("opt/vendor/etc/"))
        .collect();
    assert_eq!(etc, ["opt/vendor/etc/app.conf"]);
    // Missing parents come with the vendor's attributes; existing ones keep the base's.
    let vroot = unpack_to(
        &format!("docker-archive:{}", fixture("vendor.tar")),
        &d.path().join("vendor"),
    );
    let vt = tree(&vroot, false);
    for p in ["opt", "opt/vendor", "opt/vendor/etc"] {
        assert_eq!(subtree(&rt, p)[p].mtime, vt[p].mtime, "{p}");
        assert_eq!(rt[p].mode, vt[p].mode, "{p}");
    }
    let broot = unpack_to(
        &format!("docker-archive:{}", fixture("base.tar")),
        &d.path().join("base"),
    );
    let bt = tree(&broot, false);
    let rt = tree(&root, false);
    assert_eq!(rt["etc"], bt["etc"], "/etc is the base's directory");
    assert_outside_is_base(
        &rt,
        &bt,
        &[
            "opt/vendor/bin",
            "opt/vendor/etc/app.conf",
            "etc/os-release",
        ],
        &["opt", "opt/vendor", "opt/vendor/etc"],
    );

    // A whole directory the base also has is replaced (opaque), not merged.
    let out2 = d.path().join("out2");
    regraft_ok(&[
        "--from",
        &fixture("vendor.tar"),
        "--onto",
        &fixture("base.tar"),
        "--path",
        "/etc",
        "--force", // the vendor's entrypoint is not in the selection
        "-o",
        &format!("oci:{}:x", s(&out2)),
    ]);
    let (_, m, _) = layout_image(&out2);
    let new = manifest_digests(&m).pop().unwrap();
    let names: Vec<String> = tar::Archive::new(decompressed(&blob_path(&out2, &new)))
        .entries()
        .unwrap()
        .map(|e| clean(std::str::from_utf8(&e.unwrap().path_bytes()).unwrap()))
        .collect();
    assert!(names.contains(&"etc/.wh..wh..opq".to_string()), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.contains("/.wh.") && !n.ends_with(".wh..wh..opq")),
        "{names:?}"
    );
    let root2 = unpack_to(&format!("oci:{}:x", s(&out2)), &d.path().join("result2"));
    assert!(
        !root2.join("etc/base-version").exists(),
        "the vendor's /etc replaces the base's"
    );
    assert_trees_eq(
        &tree_under(&root2, "etc", true),
        &model.attrs("etc", "etc", true),
        "/etc vs the tar model",
    );
    peer_tools_accept(&format!("oci:{}:x", s(&out2)), &s(&out2), d.path());
}

/// merged-/usr: the vendor's /lib is a real directory (old base), the new base's /lib is a
/// symlink to usr/lib; the grafted file goes to the resolved path and /lib stays a symlink.
#[test]
fn small_merged_usr_parent_symlink_is_followed() {
    let d = tmp();
    let l = small_layout_copy(d.path());
    umoci_derive(&l, "vendor", "vendor-lib", |r| {
        std::fs::write(r.join("lib/libvendor.txt"), "vendor lib\n").unwrap();
    });
    let out = d.path().join("out.tar");
    regraft_ok(&[
        "--from",
        &format!("oci:{}:vendor-lib", s(&l)),
        "--onto",
        &format!("oci:{}:base", s(&l)),
        "--path",
        "/lib/libvendor.txt",
        "--force", // the vendor's entrypoint is not in the selection
        "-o",
        &s(&out),
    ]);
    let r = format!("docker-archive:{}", s(&out));
    peer_tools_accept(&r, &s(&out), d.path());
    let root = unpack_to(&r, &d.path().join("result"));
    assert_eq!(
        std::fs::read_link(root.join("lib")).unwrap(),
        Path::new("usr/lib")
    );
    assert_eq!(
        std::fs::read_to_string(root.join("usr/lib/libvendor.txt")).unwrap(),
        "vendor lib\n"
    );
    let model = model_of(&layout_layers(&l, Some("vendor-lib")));
    assert_trees_eq(
        &tree_under(&root, "usr/lib/libvendor.txt", true),
        &model.attrs("lib/libvendor.txt", "usr/lib/libvendor.txt", true),
        "resolved path vs model",
    );
    let broot = unpack_to(&format!("oci:{}:base", s(&l)), &d.path().join("base"));
    assert_outside_is_base(
        &tree(&root, false),
        &tree(&broot, false),
        &["usr/lib/libvendor.txt"],
        &[],
    );
}

// ---------------------------------------------------------------------------------------------
// Small fixtures: layer mode.

#[test]
fn small_layer_mode_oci_archive_onto_docker_archive_to_oci_layout() {
    let d = tmp();
    let out = d.path().join("lay");
    let args = [
        "--from",
        &format!("oci-archive:{}", fixture("vendor-oci.tar")),
        "--old-base",
        &fixture("oldbase.tar"),
        "--onto",
        &fixture("base.tar"),
        "-o",
        &format!("oci:{}:rebased:1", s(&out)),
    ];
    // Vendor layer 2 has a `lib/` directory entry (the old base's /lib was a real directory); on
    // this merged-/usr base it replaces the /lib symlink, as in any rebase. The run check says
    // so and writes nothing (exit 3); --force writes it anyway.
    let err = regraft_fails(&args, 3);
    assert!(err.contains("/lib"), "{err}");
    assert_no_output(d.path(), &out);
    let mut forced = args.to_vec();
    forced.push("--force");
    let o = regraft(&forced);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--old-base"));
    let r = format!("oci:{}:rebased:1", s(&out));
    peer_tools_accept(&r, &s(&out), d.path());
    let (_, m, c) = layout_image(&out);
    // Base layers keep their digests (base.tar: plain tars), the vendor's app layers theirs.
    let (_, vendor_m, vendor_c) = small_vendor();
    let base_info = regraft_inspect(&fixture("base.tar"));
    let base_layers: Vec<String> = base_info["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = base_layers
        .iter()
        .cloned()
        .chain(manifest_digests(&vendor_m).into_iter().skip(1))
        .collect();
    assert_eq!(manifest_digests(&m), want);
    let base_c = skopeo_inspect_config(&format!("docker-archive:{}", fixture("base.tar")));
    let ids: Vec<Value> = base_c["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .chain(&vendor_c["rootfs"]["diff_ids"].as_array().unwrap()[1..])
        .cloned()
        .collect();
    assert_eq!(c["rootfs"]["diff_ids"], Value::Array(ids));
    let h: Vec<Value> = base_c["history"]
        .as_array()
        .unwrap()
        .iter()
        .chain(&vendor_c["history"].as_array().unwrap()[1..])
        .cloned()
        .collect();
    assert_eq!(c["history"], Value::Array(h));
    assert_eq!(
        c["config"]["Labels"],
        serde_json::json!({"org.example.base": "new", "org.example.vendor": "yes"})
    );

    // The unpacked result is the base's layers with the vendor's app layers applied on top.
    let root = unpack_to(&r, &d.path().join("result"));
    let mut blobs: Vec<PathBuf> = layout_layers(Path::new(&fixture("oci")), Some("base"));
    blobs.extend(
        layout_layers(Path::new(&fixture("oci")), Some("vendor"))
            .into_iter()
            .skip(1),
    );
    assert_trees_eq(
        &tree(&root, false),
        &model_of(&blobs).attrs("", "", false),
        "layer mode vs the tar model",
    );
    let run = chroot_run(&root, &["/opt/vendor/bin/hello"]);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hello from vendor\n");
}

#[test]
fn small_layer_mode_docker_archive_round_trip_and_determinism() {
    let d = tmp();
    let a = d.path().join("a.tar");
    let b = d.path().join("b.tar");
    for out in [&a, &b] {
        regraft_ok(&[
            "--from",
            &fixture("vendor.tar"),
            "--onto",
            &fixture("base.tar"),
            "--old-base-layers",
            "1",
            "--force", // vendor layer 2's `lib/` replaces the base's /lib symlink (see below)
            "-o",
            &s(out),
        ]);
    }
    assert_eq!(
        sha256_file(&a),
        sha256_file(&b),
        "two runs give the same bytes"
    );
    let r = format!("docker-archive:{}", s(&a));
    peer_tools_accept(&r, &s(&a), d.path());
    let root = unpack_to(&r, &d.path().join("result"));
    let run = chroot_run(&root, &["/opt/vendor/bin/hello"]);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hello from vendor\n");
    // Without the old base's config, every vendor label counts.
    let c = skopeo_inspect_config(&r);
    assert_eq!(c["config"]["Labels"]["org.example.base"], "old");
    assert_eq!(c["history"].as_array().unwrap().len(), 2 + 3);

    // Path mode: deterministic too, across formats.
    for (x, y) in [("p1.tar", "p2.tar"), ("p1-oci.tar", "p2-oci.tar")] {
        let (x, y) = (d.path().join(x), d.path().join(y));
        let fmt = if s(&x).ends_with("-oci.tar") {
            "oci-archive:"
        } else {
            ""
        };
        for out in [&x, &y] {
            regraft_ok(&[
                "--from",
                &fixture("vendor.tar"),
                "--onto",
                &format!("oci:{}:base", fixture("oci")),
                "--path",
                "/opt/vendor",
                "-o",
                &format!("{fmt}{}", s(out)),
            ]);
        }
        assert_eq!(sha256_file(&x), sha256_file(&y), "{}", s(&x));
    }
}

// ---------------------------------------------------------------------------------------------
// Small fixtures: options and summaries.

#[test]
fn small_dry_run_writes_nothing_and_json_matches_the_written_manifest() {
    let d = tmp();
    let out = d.path().join("lay");
    let o = regraft(&[
        "--from",
        &fixture("vendor.tar"),
        "--onto",
        &fixture("base.tar"),
        "--path",
        "/opt/vendor",
        "--dry-run",
        "--json",
        "-o",
        &format!("oci:{}:x", s(&out)),
    ]);
    assert!(o.status.success());
    let dry: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        std::fs::read_dir(d.path()).unwrap().count(),
        0,
        "--dry-run wrote something"
    );

    let stdout = regraft_ok(&[
        "--from",
        &fixture("vendor.tar"),
        "--onto",
        &fixture("base.tar"),
        "--path",
        "/opt/vendor",
        "--json",
        "-o",
        &format!("oci:{}:x", s(&out)),
    ]);
    let j: Value = serde_json::from_str(&stdout).unwrap();
    let (digest, m, _) = layout_image(&out);
    assert_eq!(j["manifest_digest"], digest.as_str());
    assert_eq!(j["config_digest"], m["config"]["digest"]);
    assert_eq!(j["mode"], "path");
    assert_eq!(j["paths"], serde_json::json!(["/opt/vendor"]));
    assert_eq!(j["new_layer"]["digest"], manifest_digests(&m)[2].as_str());
    assert_eq!(
        dry["manifest_digest"], j["manifest_digest"],
        "the dry run plans the same image"
    );
    let fv: Vec<&str> = j["from_vendor"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for k in [
        "Entrypoint",
        "Cmd",
        "WorkingDir",
        "User",
        "ExposedPorts",
        "Env VENDOR_HOME",
    ] {
        assert!(fv.contains(&k), "{k} missing from {fv:?}");
    }
}

#[test]
fn small_overrides_and_source_date_epoch() {
    let d = tmp();
    let out = d.path().join("lay");
    let o = Command::new(env!("CARGO_BIN_EXE_regraft"))
        .args([
            "--from",
            &format!("oci:{}:vendor", fixture("oci")),
            "--onto",
            &format!("oci:{}:base", fixture("oci")),
            "--path",
            "/opt/vendor",
            "--env",
            "LANG=de_DE.UTF-8",
            "--env",
            "EXTRA=1",
            "--entrypoint",
            "/opt/vendor/bin/greet",
            "--user",
            "1000:1000",
            "--workdir",
            "/tmp",
            "--label",
            "org.example.extra=z",
            "-o",
            &format!("oci:{}:x", s(&out)),
        ])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, _, c) = layout_image(&out);
    assert_eq!(c["created"], "2023-11-14T22:13:20Z");
    assert_eq!(c["history"][2]["created"], "2023-11-14T22:13:20Z");
    let cc = &c["config"];
    assert_eq!(
        cc["Entrypoint"],
        serde_json::json!(["/opt/vendor/bin/greet"])
    );
    assert!(
        cc.get("Cmd")
            .is_none_or(|v| v.is_null() || v == &serde_json::json!([])),
        "a new entrypoint clears Cmd: {cc}"
    );
    assert_eq!(cc["User"], "1000:1000");
    assert_eq!(cc["WorkingDir"], "/tmp");
    assert_eq!(
        env_of(&c),
        [
            "PATH=/opt/vendor/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=de_DE.UTF-8",
            "VENDOR_HOME=/opt/vendor",
            "EXTRA=1"
        ]
    );
    assert_eq!(cc["Labels"]["org.example.extra"], "z");
    // SOURCE_DATE_EPOCH does not touch file mtimes in a graft.
    let root = unpack_to(&format!("oci:{}:x", s(&out)), &d.path().join("result"));
    assert_eq!(
        tree_under(&root, "opt/vendor/bin/hello", false)["opt/vendor/bin/hello"].mtime,
        1640995200
    );
    // --entrypoint with --cmd keeps the given Cmd.
    let out2 = d.path().join("lay2");
    regraft_ok(&[
        "--from",
        &format!("oci:{}:vendor", fixture("oci")),
        "--onto",
        &format!("oci:{}:base", fixture("oci")),
        "--path",
        "/opt/vendor",
        "--entrypoint",
        "[\"/opt/vendor/bin/hello\"]",
        "--cmd",
        "[\"a\",\"b\"]",
        "-o",
        &format!("oci:{}:x", s(&out2)),
    ]);
    let (_, _, c2) = layout_image(&out2);
    assert_eq!(c2["config"]["Cmd"], serde_json::json!(["a", "b"]));
}

#[test]
fn small_compression_choices() {
    let d = tmp();
    let mut diff_ids = BTreeSet::new();
    for (codec, magic) in [
        ("gzip", &[0x1f, 0x8b][..]),
        ("gzip:9", &[0x1f, 0x8b][..]),
        ("zstd", &[0x28, 0xb5, 0x2f, 0xfd][..]),
        ("zstd:19", &[0x28, 0xb5, 0x2f, 0xfd][..]),
        ("none", &b"opt/"[..]),
    ] {
        let dir = d.path().join(codec.replace(':', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("lay");
        let r = format!("oci:{}:x", s(&out));
        regraft_ok(&[
            "--from",
            &fixture("vendor.tar"),
            "--onto",
            &fixture("base.tar"),
            "--path",
            "/opt/vendor",
            "--compression",
            codec,
            "-o",
            &r,
        ]);
        let (_, m, c) = layout_image(&out);
        let new = manifest_digests(&m).pop().unwrap();
        let blob = std::fs::read(blob_path(&out, &new)).unwrap();
        assert_eq!(&blob[..magic.len()], magic, "{codec}");
        let mt = m["layers"][2]["mediaType"].as_str().unwrap();
        let want_mt = match &codec[..4] {
            "gzip" => "application/vnd.oci.image.layer.v1.tar+gzip",
            "zstd" => "application/vnd.oci.image.layer.v1.tar+zstd",
            _ => "application/vnd.oci.image.layer.v1.tar",
        };
        assert_eq!(mt, want_mt, "{codec}");
        // The diff_id is that of the same tar whatever the codec: the uncompressed blob's.
        diff_ids.insert(c["rootfs"]["diff_ids"][2].as_str().unwrap().to_string());
        if codec == "none" {
            assert_eq!(
                c["rootfs"]["diff_ids"][2],
                format!("sha256:{}", sha_hex(&blob))
            );
        }
        skopeo_inspect(&r);
        if codec.starts_with("zstd") {
            // umoci 0.4.7 cannot unpack zstd: let skopeo (which reads it) recompress first.
            let g = dir.join("gz");
            tool_ok(
                "skopeo",
                &[
                    "copy",
                    "-q",
                    "--dest-compress-format",
                    "gzip",
                    "--dest-compress",
                    &r,
                    &format!("oci:{}:x", s(&g)),
                ],
            );
            let root = unpack_to(&format!("oci:{}:x", s(&g)), &dir.join("u"));
            assert!(root.join("opt/vendor/bin/hello").is_file());
        } else {
            let root = unpack_to(&r, &dir.join("u"));
            assert!(root.join("opt/vendor/bin/hello").is_file());
        }
    }
    assert_eq!(
        diff_ids.len(),
        1,
        "one tar, whatever the codec: {diff_ids:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Old base.

#[test]
fn small_old_base_wrong_image_names_where_they_part() {
    let d = tmp();
    let out = d.path().join("out.tar");
    let err = regraft_fails(
        &[
            "--from",
            &fixture("vendor.tar"),
            "--onto",
            &fixture("base.tar"),
            "--old-base",
            &fixture("base.tar"),
            "-o",
            &s(&out),
        ],
        1,
    );
    assert!(err.contains("part at layer 0"), "{err}");
    assert!(
        err.contains("5f92c62f898a7a7bed3190e3f3b932fd89aeaf8cfb09385d3cacaa165cc5a04a")
            && err.contains("6eba2dbac314fd703188ef27ee28459bb7d6a392c032a606240b99b30330500f"),
        "{err}"
    );
    assert_no_output(d.path(), &out);
}

#[test]
fn small_old_base_guess_names_the_annotated_base() {
    // vendor-zstd.oci keeps the base.* annotations, but oldbase is not in that layout.
    let d = tmp();
    let out = d.path().join("out.tar");
    let o = regraft(&[
        "--from",
        &format!("oci:{}:vendor", fixture("vendor-zstd.oci")),
        "--onto",
        &fixture("base.tar"),
        "--dry-run",
        "--force",
        "-o",
        &s(&out),
    ]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("guess"), "{err}");
    assert!(
        err.contains(
            "oldbase:1@sha256:94cadb33065e59f37bd3fb9d9b6c59c43c0cccedea03541a7184410c6118b265"
        ),
        "{err}"
    );
    assert!(err.contains("--old-base"), "{err}");
    assert!(!out.exists());
}

// ---------------------------------------------------------------------------------------------
// Errors: each leaves no output behind.

#[test]
fn small_errors_leave_no_output() {
    let d = tmp();
    let l = small_layout_copy(d.path());
    // Bases where /opt, or /opt/vendor, is a regular file.
    umoci_derive(&l, "base", "base-opt-file", |r| {
        std::fs::write(r.join("opt"), "a file\n").unwrap()
    });
    umoci_derive(&l, "base", "base-vendor-file", |r| {
        std::fs::create_dir(r.join("opt")).unwrap();
        std::fs::write(r.join("opt/vendor"), "a file\n").unwrap();
    });
    // An arm64 vendor.
    tool_ok(
        "umoci",
        &[
            "config",
            "--image",
            &format!("{}:vendor", s(&l)),
            "--tag",
            "vendor-arm64",
            "--architecture",
            "arm64",
        ],
    );
    let work = d.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let out = work.join("out.tar");
    let v = fixture("vendor.tar");
    let b = fixture("base.tar");
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec![
                "--from".into(),
                v.clone(),
                "--onto".into(),
                b.clone(),
                "--path".into(),
                "/opt/nope".into(),
            ],
            1,
            "/opt/nope",
        ),
        (
            vec![
                "--from".into(),
                v.clone(),
                "--onto".into(),
                b.clone(),
                "--path".into(),
                "/".into(),
            ],
            2,
            "--path",
        ),
        (
            vec![
                "--from".into(),
                v.clone(),
                "--onto".into(),
                b.clone(),
                "--path".into(),
                "../..".into(),
            ],
            2,
            "--path",
        ),
        (
            vec![
                "--from".into(),
                v.clone(),
                "--onto".into(),
                b.clone(),
                "--path".into(),
                "/opt/../../etc".into(),
            ],
            2,
            "--path",
        ),
        (
            vec![
                "--from".into(),
                v.clone(),
                "--onto".into(),
                b.clone(),
                "--path".into(),
                "/lib".into(),
            ],
            1,
            "symlink",
        ),
        (
            vec![
                "--from".into(),
                v.clone(),
                "--onto".into(),
                format!("oci:{}:base-opt-file", s(&l)),
                "--path".into(),
                "/opt/vendor".into(),
            ],
            1,
            "/opt",
        ),
        (
            vec![
                "--from".into(),
                v.clone(),
                "--onto".into(),
                format!("oci:{}:base-vendor-file", s(&l)),
                "--path".into(),
                "/opt/vendor".into(),
            ],
            1,
            "/opt/vendor",
        ),
        (
            vec![
                "--from".into(),
                format!("oci:{}:vendor-arm64", s(&l)),
                "--onto".into(),
                b.clone(),
                "--path".into(),
                "/opt/vendor".into(),
            ],
            1,
            "arm64",
        ),
        (
            vec![
                "--from".into(),
                format!("oci:{}:vendor-arm64", s(&l)),
                "--onto".into(),
                b.clone(),
            ],
            1,
            "arm64",
        ),
        (
            vec![
                "--from".into(),
                v.clone(),
                "--onto".into(),
                b.clone(),
                "--path".into(),
                "/opt/vendor".into(),
                "--tag".into(),
                "other:2".into(),
            ],
            2,
            "--tag",
        ),
    ];
    for (mut args, code, needle) in cases {
        let tag_case = args.contains(&"--tag".to_string());
        let target = if tag_case {
            format!("docker-archive:{}:vendor:1.0", s(&out))
        } else {
            s(&out)
        };
        args.extend(["-o".to_string(), target]);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = regraft_fails(&a, code);
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
        assert_no_output(&work, &out);
    }
    // The oci layout output, too.
    let lay = work.join("lay");
    regraft_fails(
        &[
            "--from",
            &v,
            "--onto",
            &b,
            "--path",
            "/opt/vendor",
            "--tag",
            "a:1",
            "-o",
            &format!("oci:{}:b:2", s(&lay)),
        ],
        2,
    );
    assert_no_output(&work, &lay);
}

// ---------------------------------------------------------------------------------------------
// Real Debian images.

const STATIC_OK: &str = "static-app ok\n";
const DYN_OK: &str = "dyn-app ok: libvendor.so.1 says hello\n";

fn run_real_programs(root: &Path) {
    for (prog, want) in [
        ("/opt/vendor/bin/static-app", STATIC_OK),
        ("/opt/vendor/bin/static-app-hl", STATIC_OK),
        ("/opt/vendor/bin/app", DYN_OK),
        ("/opt/vendor/bin/run.sh", DYN_OK),
    ] {
        let o = chroot_run(root, &[prog]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            want,
            "{prog}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

fn real_layout(name: &str) -> PathBuf {
    PathBuf::from(real(name))
}

#[test]
fn real_path_mode_docker_archive() {
    let d = tmp();
    let out = d.path().join("out.tar");
    let o = regraft(&[
        "--from",
        &real("vendor-real.tar"),
        "--old-base",
        &real("debian-old.tar"),
        "--onto",
        &real("debian-new.tar"),
        "--path",
        "/opt/vendor",
        "-o",
        &s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = format!("docker-archive:{}", s(&out));
    peer_tools_accept(&r, &s(&out), d.path());
    let root = unpack_to(&r, &d.path().join("result"));
    run_real_programs(&root);

    let vroot = unpack_to(
        &format!("oci:{}:1.0", real("vendor-real.oci")),
        &d.path().join("vendor"),
    );
    let got = tree_under(&root, "opt/vendor", true);
    assert_trees_eq(
        &got,
        &tree_under(&vroot, "opt/vendor", true),
        "result vs umoci unpack of the vendor",
    );
    let model = model_of(&layout_layers(&real_layout("vendor-real.oci"), Some("1.0")));
    assert_trees_eq(
        &got,
        &model.attrs("opt/vendor", "opt/vendor", true),
        "result vs the tar model",
    );
    assert_eq!(got["opt/vendor/bin/static-app"].nlink, 2);
    assert_eq!(got["opt/vendor/conf"].kind, "file");
    assert_eq!(got["opt/vendor/bin/app"].link.as_deref(), Some("dyn-app"));
    assert!(
        got.contains_key("opt/vendor/share/old")
            && !got.contains_key("opt/vendor/share/old/obsolete.txt")
    );

    let broot = unpack_to(
        &format!("oci:{}:trixie", real("debian-new.oci")),
        &d.path().join("base"),
    );
    let rt = tree(&root, false);
    assert_outside_is_base(&rt, &tree(&broot, false), &["opt/vendor"], &[]);
    assert!(
        rt.contains_key("etc/motd"),
        "path mode does not carry the vendor's deletion of /etc/motd"
    );

    // Config and manifest.
    let c = skopeo_inspect_config(&r);
    let cc = &c["config"];
    assert_eq!(cc["Entrypoint"], serde_json::json!(["/opt/vendor/bin/app"]));
    assert!(
        cc.get("Cmd").is_none_or(Value::is_null),
        "the vendor cleared Cmd; the base's [bash] must not come back: {cc}"
    );
    assert_eq!(cc["WorkingDir"], "/opt/vendor");
    assert_eq!(cc["User"], "root");
    assert_eq!(
        env_of(&c),
        [
            "PATH=/opt/vendor/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "VENDOR_HOME=/opt/vendor"
        ]
    );
    assert_eq!(
        cc["Labels"],
        serde_json::json!({"org.example.debian.suite": "trixie", "org.example.debian.usr": "merged /usr", "org.example.fixture": "vendor-real", "org.example.vendor": "real"})
    );
    assert_eq!(c["created"], "2023-11-16T22:14:20Z");
    assert_eq!(c["author"], "regraft fixtures/build-real.sh");
    let base_c = skopeo_inspect_config(&format!("docker-archive:{}", real("debian-new.tar")));
    assert_eq!(
        c["history"].as_array().unwrap()[..2],
        base_c["history"].as_array().unwrap()[..]
    );
    assert_eq!(c["history"].as_array().unwrap().len(), 3);
    assert_eq!(c["rootfs"]["diff_ids"][0], base_c["rootfs"]["diff_ids"][0]);
    let x = extract(&out, d.path());
    let (_, m, _) = layout_image(&x);
    assert_eq!(
        m["annotations"]["org.opencontainers.image.base.name"],
        "docker.io/library/debian-new:trixie"
    );
    assert_eq!(
        m["annotations"]["org.opencontainers.image.base.digest"],
        regraft_inspect(&real("debian-new.tar"))["manifest_digest"]
    );
}

#[test]
fn real_path_mode_oci_layout_deterministic_and_base_layer_kept() {
    let d = tmp();
    let a = d.path().join("a");
    let b = d.path().join("b");
    for out in [&a, &b] {
        regraft_ok(&[
            "--from",
            &format!("oci:{}:1.0", real("vendor-real.oci")),
            "--onto",
            &format!("oci:{}:trixie", real("debian-new.oci")),
            "--path",
            "/opt/vendor",
            "-o",
            &format!("oci:{}:vendor-real:2", s(out)),
        ]);
    }
    let files = |p: &Path| -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        for f in ["index.json", "oci-layout"] {
            m.insert(f.to_string(), sha256_file(&p.join(f)));
        }
        for e in std::fs::read_dir(p.join("blobs/sha256")).unwrap() {
            let e = e.unwrap();
            m.insert(
                e.file_name().to_string_lossy().to_string(),
                sha256_file(&e.path()),
            );
        }
        m
    };
    assert_eq!(files(&a), files(&b), "two runs give byte-identical layouts");
    let (_, m, _) = layout_image(&a);
    let base_index: Value = serde_json::from_slice(
        &std::fs::read(real_layout("debian-new.oci").join("index.json")).unwrap(),
    )
    .unwrap();
    let base_md = base_index["manifests"][0]["digest"].as_str().unwrap();
    let base_m = blob_json(&real_layout("debian-new.oci"), base_md);
    let layers = manifest_digests(&m);
    assert_eq!(layers[..1], manifest_digests(&base_m)[..]);
    assert_eq!(
        std::fs::read(blob_path(&a, &layers[1])).unwrap()[..2],
        [0x1f, 0x8b]
    );
    assert_eq!(
        m["annotations"]["org.opencontainers.image.base.digest"],
        base_md
    );
    let r = format!("oci:{}:vendor-real:2", s(&a));
    peer_tools_accept(&r, &s(&a), d.path());
    let root = unpack_to(&r, &d.path().join("result"));
    run_real_programs(&root);
}

#[test]
fn real_layer_mode_oci_archive_keeps_app_layer_digests() {
    let d = tmp();
    let out = d.path().join("out-oci.tar");
    regraft_ok(&[
        "--from",
        &format!("oci-archive:{}", real("vendor-real-oci.tar")),
        "--old-base",
        &format!("oci-archive:{}", real("debian-old-oci.tar")),
        "--onto",
        &format!("oci-archive:{}", real("debian-new-oci.tar")),
        "-o",
        &format!("oci-archive:{}", s(&out)),
    ]);
    let r = format!("oci-archive:{}", s(&out));
    peer_tools_accept(&r, &s(&out), d.path());
    let x = extract(&out, d.path());
    let (_, m, c) = layout_image(&x);
    let vl = real_layout("vendor-real.oci");
    let nl = real_layout("debian-new.oci");
    let vendor_i: Value =
        serde_json::from_slice(&std::fs::read(vl.join("index.json")).unwrap()).unwrap();
    let vm = blob_json(&vl, vendor_i["manifests"][0]["digest"].as_str().unwrap());
    let vc = blob_json(&vl, vm["config"]["digest"].as_str().unwrap());
    let base_i: Value =
        serde_json::from_slice(&std::fs::read(nl.join("index.json")).unwrap()).unwrap();
    let bm = blob_json(&nl, base_i["manifests"][0]["digest"].as_str().unwrap());
    let bc = blob_json(&nl, bm["config"]["digest"].as_str().unwrap());
    let want: Vec<String> = manifest_digests(&bm)
        .into_iter()
        .chain(manifest_digests(&vm).into_iter().skip(1))
        .collect();
    assert_eq!(
        manifest_digests(&m),
        want,
        "base layer + the vendor's app layers, same digests"
    );
    let ids: Vec<Value> = bc["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .chain(&vc["rootfs"]["diff_ids"].as_array().unwrap()[1..])
        .cloned()
        .collect();
    assert_eq!(c["rootfs"]["diff_ids"], Value::Array(ids));
    // History: the base's 2 entries, then the vendor's past the old base's 2 (empty_layer kept).
    let h: Vec<Value> = bc["history"]
        .as_array()
        .unwrap()
        .iter()
        .chain(&vc["history"].as_array().unwrap()[2..])
        .cloned()
        .collect();
    assert_eq!(c["history"], Value::Array(h.clone()));
    assert_eq!(
        h.iter()
            .filter(|e| e.get("empty_layer") != Some(&Value::Bool(true)))
            .count(),
        c["rootfs"]["diff_ids"].as_array().unwrap().len()
    );

    let root = unpack_to(&r, &d.path().join("result"));
    run_real_programs(&root);
    assert!(
        !root.join("etc/motd").exists(),
        "the vendor's whiteout of /etc/motd applies to the new base"
    );
    let mut blobs = layout_layers(&nl, None);
    blobs.extend(layout_layers(&vl, None).into_iter().skip(1));
    assert_trees_eq(
        &tree(&root, false),
        &model_of(&blobs).attrs("", "", false),
        "layer mode vs the tar model",
    );
}

#[test]
fn real_old_base_guess_and_wrong_old_base() {
    let d = tmp();
    let out = d.path().join("out.tar");
    let o = regraft(&[
        "--from",
        &format!("oci:{}:vendor-real", real("vendor-with-base.oci")),
        "--onto",
        &real("debian-new.tar"),
        "--dry-run",
        "--json",
        "-o",
        &s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("guess"));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["old_base"]["how"], "guess");
    assert_eq!(j["mode"], "layer");
    assert_eq!(j["grafted_layers"].as_array().unwrap().len(), 2);
    assert!(!out.exists());
    let err = regraft_fails(
        &[
            "--from",
            &real("vendor-real.tar"),
            "--old-base",
            &real("debian-new.tar"),
            "--onto",
            &real("debian-new.tar"),
            "-o",
            &s(&out),
        ],
        1,
    );
    assert!(err.contains("part at layer 0"), "{err}");
    assert_no_output(d.path(), &out);
}

/// merged-/usr on the real images: a bookworm library under the real /lib directory goes to
/// /usr/lib on trixie, where /lib is a symlink; /lib stays a symlink.
#[test]
fn real_merged_usr_and_zstd() {
    let d = tmp();
    let out = d.path().join("lay");
    let sel = "lib/x86_64-linux-gnu/libz.so.1.2.13";
    regraft_ok(&[
        "--from",
        &format!("oci:{}:1.0", real("vendor-real.oci")),
        "--onto",
        &format!("oci:{}:trixie", real("debian-new.oci")),
        "--path",
        &format!("/{sel}"),
        "--path",
        "/opt/vendor",
        "--compression",
        "zstd",
        "-o",
        &format!("oci:{}:x", s(&out)),
    ]);
    let (_, m, _) = layout_image(&out);
    let new = manifest_digests(&m).pop().unwrap();
    assert_eq!(
        std::fs::read(blob_path(&out, &new)).unwrap()[..4],
        [0x28, 0xb5, 0x2f, 0xfd]
    );
    let names: Vec<String> = tar::Archive::new(decompressed(&blob_path(&out, &new)))
        .entries()
        .unwrap()
        .map(|e| clean(std::str::from_utf8(&e.unwrap().path_bytes()).unwrap()))
        .collect();
    assert!(names.contains(&format!("usr/{sel}")), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "lib" || n.starts_with("lib/")),
        "nothing under the base's /lib symlink: {names:?}"
    );
    let r = format!("oci:{}:x", s(&out));
    skopeo_inspect(&r);
    let g = d.path().join("gz");
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            "--dest-compress-format",
            "gzip",
            "--dest-compress",
            &r,
            &format!("oci:{}:x", s(&g)),
        ],
    );
    let root = unpack_to(&format!("oci:{}:x", s(&g)), &d.path().join("result"));
    assert_eq!(
        std::fs::read_link(root.join("lib")).unwrap(),
        Path::new("usr/lib")
    );
    let model = model_of(&layout_layers(&real_layout("vendor-real.oci"), Some("1.0")));
    let want = model.attrs(sel, &format!("usr/{sel}"), true);
    assert_eq!(want.len(), 1);
    assert_trees_eq(
        &tree_under(&root, &format!("usr/{sel}"), true),
        &want,
        "the library at its resolved path",
    );
    assert!(
        root.join("usr/lib/x86_64-linux-gnu/libz.so.1.3.1")
            .is_file(),
        "the base's own library stays"
    );
    run_real_programs(&root);
}

/// `common::unpack` into a directory it creates first.
fn unpack_to(r: &str, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    unpack(r, dir)
}

/// Regression: a base whose /opt is a regular file got a directory /opt from the vendor's
/// `--path /opt/vendor` without complaint (the parent check let a non-directory last parent
/// through), silently replacing the base's file.
#[test]
fn path_mode_refuses_directory_over_base_file_parent() {
    let d = tmp();
    let l = small_layout_copy(d.path());
    umoci_derive(&l, "base", "base-opt-file", |r| {
        std::fs::write(r.join("opt"), "a file\n").unwrap()
    });
    let out = d.path().join("out.tar");
    let err = regraft_fails(
        &[
            "--from",
            &fixture("vendor.tar"),
            "--onto",
            &format!("oci:{}:base-opt-file", s(&l)),
            "--path",
            "/opt/vendor/bin",
            "-o",
            &s(&out),
        ],
        1,
    );
    assert!(err.contains("/opt") && err.contains("file"), "{err}");
    assert_no_output(d.path(), &out);
}

/// Layout to layout on the same filesystem: every layer blob of the result is a hard link to
/// a blob this run already read whole and verified (the check read them), so none is read a
/// second time, and the process reads at most 1.05x the input layer blobs the job needs (the
/// vendor's old base layer is not among them; `-v`'s figure counts those it needs since issue
/// 19's tee). skopeo copies the result out, verifying every digest.
#[test]
fn layout_to_layout_links_blobs_without_reading_them_again() {
    let t = tmp();
    let vendor = t.path().join("vendor.oci");
    let base = t.path().join("base.oci");
    for (from, to) in [
        (real("vendor-real.oci"), &vendor),
        (real("debian-new.oci"), &base),
    ] {
        tool_ok("cp", &["-a", &from, to.to_str().unwrap()]);
    }
    let out = t.path().join("out.oci");
    let o = regraft(&[
        "-v",
        "--from",
        &format!("oci:{}:1.0", vendor.display()),
        "--onto",
        &format!("oci:{}:trixie", base.display()),
        "--old-base-layers",
        "1",
        "-o",
        &format!("oci:{}:out", out.display()),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let linked = err.matches("linked, verified when it was read").count();
    assert_eq!(
        linked, 3,
        "every layer linked without a second read:\n{err}"
    );
    let io = err.lines().find(|l| l.contains("I/O: read"));
    let ratio: f64 = io
        .and_then(|l| l.rsplit("read ").next())
        .and_then(|r| r.trim().trim_end_matches('x').parse().ok())
        .unwrap_or_else(|| panic!("no I/O line:\n{err}"));
    assert!(
        ratio <= 1.05,
        "read {ratio}x the input layer blobs needed:\n{err}"
    );
    for l in layout_layers(&out, Some("out")) {
        let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
        let name = l.file_name().unwrap();
        let src = [&vendor, &base]
            .iter()
            .map(|d| d.join("blobs/sha256").join(name))
            .find(|p| p.exists())
            .expect("every layer of the result is an input blob");
        assert_eq!(ino(&l), ino(&src), "{} is a hard link", l.display());
    }
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("oci:{}:out", out.display()),
            &format!("dir:{}", t.path().join("copied").display()),
        ],
    );
}
