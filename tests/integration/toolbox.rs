//! The everyday toolbox (issue 8): `cp`, `add`, `rm`, `ls`, `config`, `--digestfile`, `-o -`,
//! completions, the man page, progress and exit codes. Each command runs on the real Debian
//! images and the small fixtures, and its result is checked by a tool that shares no code with
//! regraft: `umoci unpack` (through `skopeo copy`) for trees, GNU tar for tars and layer blobs,
//! `skopeo inspect` for configs and manifests, `podman load` and a chroot for loadability.

use crate::common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SDE: &str = "1700000000";
const SDE_N: i64 = 1_700_000_000;

/// regraft with extra environment (`Some`) or variables removed (`None`).
fn regraft_env(args: &[&str], env: &[(&str, Option<&str>)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regraft"));
    c.args(args);
    for (k, v) in env {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.output().expect("run regraft")
}

fn ok_env(args: &[&str], env: &[(&str, Option<&str>)]) -> Output {
    let o = regraft_env(args, env);
    assert!(
        o.status.success(),
        "regraft {args:?} failed ({:?}):\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The small vendor as an OCI layout reference (skopeo and umoci read it in place).
fn small(tag: &str) -> String {
    format!("oci:{}:{tag}", fixture("oci"))
}

/// `t` with the prefix `from` of every key replaced by `to`.
fn rekey(t: &BTreeMap<String, Attrs>, from: &str, to: &str) -> BTreeMap<String, Attrs> {
    t.iter()
        .map(|(k, v)| (format!("{to}{}", &k[from.len()..]), v.clone()))
        .collect()
}

/// What `cp` promises on the host: setuid/setgid cleared (symlink modes are not compared).
fn without_special(t: &BTreeMap<String, Attrs>) -> BTreeMap<String, Attrs> {
    t.iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            if v.kind != "symlink" {
                v.mode &= !0o6000;
            }
            (k.clone(), v)
        })
        .collect()
}

/// Symlink modes and mtimes are not part of what Linux lets a copy keep.
fn norm_links(mut t: BTreeMap<String, Attrs>) -> BTreeMap<String, Attrs> {
    for v in t.values_mut() {
        if v.kind == "symlink" {
            v.mode = 0;
        }
    }
    t
}

fn special_paths(t: &BTreeMap<String, Attrs>) -> Vec<String> {
    t.iter()
        .filter(|(_, v)| v.kind == "file" && v.mode & 0o6000 != 0)
        .map(|(k, _)| k.clone())
        .collect()
}

fn set_mtime(p: &Path, t: i64) {
    let f = std::fs::File::options()
        .write(true)
        .open(p)
        .or_else(|_| std::fs::File::open(p))
        .unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t as u64))
        .unwrap();
}

/// `find ROOT` as `/path TYPE SIZE` (size only for regular files), without the root itself.
fn find_listing(rootfs: &Path, under: Option<&str>) -> BTreeSet<String> {
    let start = match under {
        Some(u) => rootfs.join(u),
        None => rootfs.to_path_buf(),
    };
    let min = if under.is_some() { "0" } else { "1" };
    let out = tool_ok(
        "find",
        &[&s(&start), "-mindepth", min, "-printf", "%p\t%y\t%s\n"],
    );
    let prefix = s(rootfs);
    out.lines()
        .map(|l| {
            let mut f = l.split('\t');
            let p = &f.next().unwrap()[prefix.len()..];
            let y = match f.next().unwrap() {
                "d" => "dir",
                "f" => "file",
                "l" => "symlink",
                "c" => "char",
                "b" => "block",
                "p" => "fifo",
                o => panic!("find type {o}"),
            };
            let size = if y == "file" { f.next().unwrap() } else { "0" };
            format!("{p}\t{y}\t{size}")
        })
        .collect()
}

/// `regraft ls --json` as the same `/path TYPE SIZE` lines.
fn ls_listing(image: &str, path: Option<&str>) -> BTreeSet<String> {
    let mut args = vec!["ls", "--json", image];
    if let Some(p) = path {
        args.push(p);
    }
    let v: Value = serde_json::from_str(&regraft_ok(&args)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}\t{}\t{}",
                e["path"].as_str().unwrap(),
                e["type"].as_str().unwrap(),
                e["size"]
            )
        })
        .collect()
}

fn assert_sets_eq(expected: &BTreeSet<String>, actual: &BTreeSet<String>, what: &str) {
    let missing: Vec<_> = expected.difference(actual).take(10).collect();
    let extra: Vec<_> = actual.difference(expected).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing {missing:?}, extra {extra:?}"
    );
}

/// The layer index each non-empty history entry belongs to -> created_by, from skopeo's view of
/// the config.
fn created_by_per_layer(r: &str) -> Vec<String> {
    let cfg: Value = serde_json::from_str(&tool_ok("skopeo", &["inspect", "--config", r])).unwrap();
    cfg["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| !h["empty_layer"].as_bool().unwrap_or(false))
        .map(|h| h["created_by"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Layer blob paths of an image in an OCI layout, in manifest order, from skopeo's raw manifest.
fn layer_blobs(layout: &str, tag: &str) -> Vec<PathBuf> {
    let raw = tool_ok(
        "skopeo",
        &["inspect", "--raw", &format!("oci:{layout}:{tag}")],
    );
    let m: Value = serde_json::from_str(&raw).unwrap();
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let d = l["digest"].as_str().unwrap();
            Path::new(layout)
                .join("blobs/sha256")
                .join(d.trim_start_matches("sha256:"))
        })
        .collect()
}

/// A layer blob as GNU tar lists it, as `(path, type, mode bits)`: names cleaned to absolute
/// paths, `.wh.X` shown as a whiteout of X, `.wh..wh..opq` as an opaque marker on its directory.
fn tar_layer_listing(blob: &Path) -> Vec<(String, String, String)> {
    let names = tool_ok("tar", &["--quoting-style=literal", "-tf", &s(blob)]);
    let long = tool_ok("tar", &["--quoting-style=literal", "-tvf", &s(blob)]);
    let names: Vec<&str> = names.lines().collect();
    let long: Vec<&str> = long.lines().collect();
    assert_eq!(names.len(), long.len());
    names
        .iter()
        .zip(long)
        .map(|(n, l)| {
            let clean: Vec<&str> = n
                .split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .collect();
            let path = format!("/{}", clean.join("/"));
            let (parent, base) = path.rsplit_once('/').unwrap();
            let parent = if parent.is_empty() { "/" } else { parent };
            if base == ".wh..wh..opq" {
                return (parent.to_string(), "opaque".to_string(), String::new());
            }
            if let Some(t) = base.strip_prefix(".wh.") {
                let p = if parent == "/" {
                    format!("/{t}")
                } else {
                    format!("{parent}/{t}")
                };
                return (p, "whiteout".to_string(), String::new());
            }
            let kind = match &l[..1] {
                "d" => "dir",
                "-" => "file",
                "l" => "symlink",
                "h" => "hardlink",
                "c" => "char",
                "b" => "block",
                "p" => "fifo",
                o => panic!("tar type {o} in {l}"),
            };
            (path, kind.to_string(), l[1..10].to_string())
        })
        .collect()
}

fn ls_layer_listing(image: &str, n: usize) -> Vec<(String, String, String)> {
    let v: Value = serde_json::from_str(&regraft_ok(&[
        "ls",
        "--json",
        "--layer",
        &n.to_string(),
        image,
    ]))
    .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let kind = e["type"].as_str().unwrap().to_string();
            let mode = e["mode"].as_str().unwrap();
            let mode = if mode.is_empty() {
                String::new()
            } else {
                mode[1..].to_string()
            };
            (e["path"].as_str().unwrap().to_string(), kind, mode)
        })
        .collect()
}

fn assert_layer_listing(image: &str, layout: &str, tag: &str) {
    for (i, blob) in layer_blobs(layout, tag).iter().enumerate() {
        let want = tar_layer_listing(blob);
        let got = ls_layer_listing(image, i);
        let first = want.iter().zip(&got).position(|(a, b)| a != b);
        assert!(
            want.len() == got.len() && first.is_none(),
            "{image} --layer {i}: {} entries in the blob, {} listed; first difference at {:?}: {:?} vs {:?}",
            want.len(),
            got.len(),
            first,
            first.map(|f| &want[f]),
            first.map(|f| &got[f])
        );
    }
}

/// `unpack` into a fresh directory `dir`.
fn unpacked(r: &str, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    unpack(r, dir)
}

fn sha256_bytes(b: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

/// sha256 of the raw manifest skopeo reads from `r`.
fn skopeo_manifest_digest(r: &str) -> String {
    let o = tool("skopeo", &["inspect", "--raw", r]);
    assert!(
        o.status.success(),
        "skopeo inspect --raw {r}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    sha256_bytes(&o.stdout)
}

/// A copy of the small layout with an image `withdev`: base plus a layer holding a character
/// device `/dev/null0` (1,3) next to a regular file, written by Python's tarfile and appended by
/// `umoci raw add-layer`.
fn image_with_device(d: &Path) -> String {
    let layout = d.join("oci");
    tool_ok("cp", &["-a", &fixture("oci"), &s(&layout)]);
    let layer = d.join("dev-layer.tar");
    let py = r#"import sys, tarfile, io
with tarfile.open(sys.argv[1], 'w', format=tarfile.USTAR_FORMAT) as t:
    def add(name, typ, mode, data=b'', **kw):
        i = tarfile.TarInfo(name); i.type = typ; i.mode = mode; i.mtime = 1600000000
        for k, v in kw.items(): setattr(i, k, v)
        i.size = len(data)
        t.addfile(i, io.BytesIO(data) if data else None)
    add('dev/', tarfile.DIRTYPE, 0o755)
    add('dev/null0', tarfile.CHRTYPE, 0o666, devmajor=1, devminor=3)
    add('dev/readme.txt', tarfile.REGTYPE, 0o644, b'next to a device\n')
"#;
    tool_ok("python3", &["-c", py, &s(&layer)]);
    tool_ok(
        "umoci",
        &[
            "raw",
            "add-layer",
            "--image",
            &format!("{}:base", layout.display()),
            "--tag",
            "withdev",
            &s(&layer),
        ],
    );
    format!("oci:{}:withdev", layout.display())
}

// ---------------------------------------------------------------------------------------------
// cp

#[test]
fn cp_small_vendor_matches_umoci_tree() {
    let d = tmp();
    let rootfs = unpacked(&small("vendor"), &d.path().join("u"));
    let image = small("vendor");
    let want = norm_links(tree_under(&rootfs, "opt/vendor", false));
    assert_eq!(
        special_paths(&want),
        vec!["opt/vendor/bin/suid-tool".to_string()],
        "the fixture has one setuid file"
    );
    assert_eq!(
        want["opt/vendor/bin/hello"].nlink, 2,
        "umoci keeps the hardlink"
    );

    // A new DEST becomes a copy of PATH; setuid is cleared, with a warning.
    let out = d.path().join("copy");
    let o = ok_env(&["cp", &format!("{image}:/opt/vendor"), &s(&out)], &[]);
    let err = stderr(&o);
    assert!(
        err.contains("suid-tool") && err.contains("setuid"),
        "no warning about the cleared setuid bit:\n{err}"
    );
    let got = norm_links(tree_under(d.path(), "copy", false));
    assert_trees_eq(
        &rekey(&without_special(&want), "opt/vendor", "copy"),
        &got,
        "cp /opt/vendor to a new DEST",
    );
    let a = std::fs::metadata(out.join("bin/hello")).unwrap();
    let b = std::fs::metadata(out.join("bin/hello-link")).unwrap();
    assert_eq!(
        (a.ino(), a.nlink()),
        (b.ino(), 2),
        "hello and hello-link are one inode"
    );
    assert_eq!(
        std::fs::read_link(out.join("bin/greet")).unwrap(),
        Path::new("hello")
    );

    // --preserve-special keeps the bit and says nothing about it.
    let out2 = d.path().join("special");
    let o = ok_env(
        &[
            "cp",
            "--preserve-special",
            &format!("{image}:/opt/vendor"),
            &s(&out2),
        ],
        &[],
    );
    assert!(!stderr(&o).contains("setuid"), "{}", stderr(&o));
    assert_trees_eq(
        &rekey(&want, "opt/vendor", "special"),
        &norm_links(tree_under(d.path(), "special", false)),
        "cp --preserve-special",
    );

    // An existing directory DEST receives PATH's basename.
    let ex = d.path().join("existing");
    std::fs::create_dir(&ex).unwrap();
    regraft_ok(&["cp", &format!("{image}:/opt/vendor/bin"), &s(&ex)]);
    assert_eq!(std::fs::read_dir(&ex).unwrap().count(), 1);
    let want_bin = without_special(&norm_links(tree_under(&rootfs, "opt/vendor/bin", false)));
    assert_trees_eq(
        &rekey(&want_bin, "opt/vendor/bin", "bin"),
        &norm_links(tree_under(&ex, "bin", false)),
        "cp into an existing dir",
    );

    // A single file, to a new name and into an existing directory.
    regraft_ok(&[
        "cp",
        &format!("{image}:/opt/vendor/etc/app.conf"),
        &s(&d.path().join("renamed.conf")),
    ]);
    regraft_ok(&["cp", &format!("{image}:/opt/vendor/etc/app.conf"), &s(&ex)]);
    let want_conf = &want["opt/vendor/etc/app.conf"];
    for p in [d.path().join("renamed.conf"), ex.join("app.conf")] {
        let t = tree_under(
            p.parent().unwrap(),
            p.file_name().unwrap().to_str().unwrap(),
            false,
        );
        assert_eq!(t.values().next().unwrap(), want_conf, "{}", p.display());
    }
}

#[test]
fn cp_to_stdout_is_a_tar_gnu_tar_extracts_to_the_same_tree() {
    let d = tmp();
    let rootfs = unpacked(&small("vendor"), &d.path().join("u"));
    let o = ok_env(
        &["cp", &format!("{}:/opt/vendor", fixture("vendor.tar")), "-"],
        &[],
    );
    let tarfile = d.path().join("vendor.tar");
    std::fs::write(&tarfile, &o.stdout).unwrap();
    let listing = tool_ok("tar", &["-tvf", &s(&tarfile)]);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with('h')
                && l.contains("vendor/bin/hello-link link to vendor/bin/hello")),
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("-rwsr-xr-x") && l.ends_with("vendor/bin/suid-tool")),
        "the tar keeps setuid:\n{listing}"
    );
    let x = d.path().join("x");
    std::fs::create_dir(&x).unwrap();
    tool_ok(
        "tar",
        &["-xpf", &s(&tarfile), "-C", &s(&x), "--numeric-owner"],
    );
    let want = rekey(
        &norm_links(tree_under(&rootfs, "opt/vendor", false)),
        "opt/vendor",
        "vendor",
    );
    assert_trees_eq(
        &want,
        &norm_links(tree(&x, false)),
        "GNU tar extraction of `cp IMAGE:/opt/vendor -`",
    );
}

/// One unpack of the real vendor serves cp (all three input formats), the tar stream and ls.
#[test]
fn real_vendor_cp_and_ls_match_umoci() {
    let d = tmp();
    let oci = format!("oci:{}:1.0", real("vendor-real.oci"));
    let rootfs = unpacked(&oci, &d.path().join("u"));

    // cp /opt/vendor from the docker archive to a new DEST.
    let want = norm_links(tree_under(&rootfs, "opt/vendor", false));
    assert_eq!(want["opt/vendor/bin/static-app"].nlink, 2);
    regraft_ok(&[
        "cp",
        &format!("{}:/opt/vendor", real("vendor-real.tar")),
        &s(&d.path().join("vendor")),
    ]);
    assert_trees_eq(
        &rekey(&want, "opt/vendor", "vendor"),
        &norm_links(tree_under(d.path(), "vendor", false)),
        "real cp /opt/vendor",
    );

    // cp /bin from the oci-archive into an existing directory: setuid programs (su, mount)
    // are cleared with a warning each; the base's hardlinks (gunzip/uncompress) stay links.
    let want_bin = norm_links(tree_under(&rootfs, "bin", false));
    let specials = special_paths(&want_bin);
    assert!(!specials.is_empty(), "debian's /bin has setuid programs");
    let hl: Vec<_> = want_bin
        .iter()
        .filter(|(_, v)| v.nlink == 2)
        .map(|(k, _)| k.clone())
        .collect();
    assert!(hl.contains(&"bin/uncompress".to_string()), "{hl:?}");
    let ex = d.path().join("host");
    std::fs::create_dir(&ex).unwrap();
    let o = ok_env(
        &[
            "cp",
            &format!("oci-archive:{}:/bin", real("vendor-real-oci.tar")),
            &s(&ex),
        ],
        &[],
    );
    let err = stderr(&o);
    for p in &specials {
        assert!(
            err.contains(&format!("/{p}: setuid/setgid cleared")),
            "no warning for {p}:\n{err}"
        );
    }
    assert_trees_eq(
        &without_special(&want_bin),
        &norm_links(tree_under(&ex, "bin", false)),
        "real cp /bin into a dir",
    );
    let (a, b) = (
        std::fs::metadata(ex.join("bin/uncompress")).unwrap(),
        std::fs::metadata(ex.join("bin/gunzip")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino());

    // The tar stream of the layout's /opt/vendor, extracted by GNU tar.
    let o = ok_env(
        &[
            "cp",
            &format!("{}:/opt/vendor", real("vendor-real.oci")),
            "-",
        ],
        &[],
    );
    let t = d.path().join("v.tar");
    std::fs::write(&t, &o.stdout).unwrap();
    let x = d.path().join("x");
    std::fs::create_dir(&x).unwrap();
    tool_ok("tar", &["-xpf", &s(&t), "-C", &s(&x), "--numeric-owner"]);
    assert_trees_eq(
        &rekey(&want, "opt/vendor", "vendor"),
        &norm_links(tree(&x, false)),
        "real cp - | tar -x",
    );

    // ls: the whole merged tree and a subtree equal find on the unpacked image.
    assert_sets_eq(
        &find_listing(&rootfs, None),
        &ls_listing(&real("vendor-real.tar"), None),
        "ls vs find",
    );
    assert_sets_eq(
        &find_listing(&rootfs, Some("opt/vendor")),
        &ls_listing(&oci, Some("/opt/vendor")),
        "ls /opt/vendor vs find",
    );
    // The trailing-slash and relative spellings name the same subtree.
    assert_eq!(
        ls_listing(&oci, Some("opt/vendor/")),
        ls_listing(&oci, Some("/opt/vendor"))
    );

    // --long / --json: each entry's layer and the history entry that made it, per skopeo.
    let by = created_by_per_layer(&oci);
    assert_eq!(by.len(), 3);
    let v: Value = serde_json::from_str(&regraft_ok(&["ls", "--json", &oci])).unwrap();
    let find = |p: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == p)
            .unwrap_or_else(|| panic!("{p} not listed"))
            .clone()
    };
    for (p, layer) in [
        ("/bin/bash", 0),
        ("/opt/vendor/bin/static-app", 1),
        ("/opt/vendor/conf", 2),
        ("/opt/vendor/share/doc/README", 2),
    ] {
        let e = find(p);
        assert_eq!(e["layer"], layer, "{p}");
        assert_eq!(e["created_by"].as_str().unwrap(), by[layer], "{p}");
    }
    let long = regraft_ok(&["ls", "--long", &oci, "/opt/vendor/conf"]);
    assert!(
        long.contains(" L2 ") && long.contains(&by[2]) && long.contains("/opt/vendor/conf"),
        "{long}"
    );
}

#[test]
fn cp_never_writes_through_a_symlink() {
    let d = tmp();
    let outside = tmp();
    let image = small("vendor");
    let refuse = |src: &str, dest: &Path| {
        let o = regraft(&["cp", &format!("{image}:{src}"), &s(dest)]);
        assert!(
            !o.status.success(),
            "cp {src} {} wrote through a symlink",
            dest.display()
        );
        assert!(
            stderr(&o).contains("symlink"),
            "unclear refusal: {}",
            stderr(&o)
        );
        assert!(
            snapshot(outside.path()).is_empty(),
            "something was written outside: {:?}",
            snapshot(outside.path())
        );
    };
    // DEST itself is a symlink to a directory outside.
    let link = d.path().join("dest");
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    refuse("/opt/vendor/etc", &link);
    // An existing DEST whose entry for PATH's basename is a symlink.
    let ex = d.path().join("ex");
    std::fs::create_dir(&ex).unwrap();
    std::os::unix::fs::symlink(outside.path(), ex.join("etc")).unwrap();
    refuse("/opt/vendor/etc", &ex);
    // A symlink deeper inside the existing tree.
    let ex2 = d.path().join("ex2");
    std::fs::create_dir_all(ex2.join("vendor")).unwrap();
    std::os::unix::fs::symlink(outside.path(), ex2.join("vendor/bin")).unwrap();
    refuse("/opt/vendor", &ex2);
    // A file entry that is a (dangling) symlink to a path outside.
    let ex3 = d.path().join("ex3");
    std::fs::create_dir_all(ex3.join("etc")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("app.conf"), ex3.join("etc/app.conf")).unwrap();
    refuse("/opt/vendor/etc", &ex3);
    assert!(
        std::fs::symlink_metadata(ex3.join("etc/app.conf"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn cp_skips_device_nodes_with_a_warning() {
    let d = tmp();
    let image = image_with_device(d.path());
    // umoci agrees the image holds a character device.
    let rootfs = unpacked(&image, &d.path().join("u"));
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &std::fs::symlink_metadata(rootfs.join("dev/null0"))
            .unwrap()
            .file_type()
    ));
    let out = d.path().join("devcopy");
    let o = ok_env(&["cp", &format!("{image}:/dev"), &s(&out)], &[]);
    let err = stderr(&o);
    assert!(
        err.contains("/dev/null0") && err.contains("skipped"),
        "no warning for the device:\n{err}"
    );
    assert!(
        std::fs::symlink_metadata(out.join("null0")).is_err(),
        "a device node was created"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("readme.txt")).unwrap(),
        "next to a device\n"
    );
    // The device alone: nothing is created.
    let single = d.path().join("single");
    let o = regraft(&["cp", &format!("{image}:/dev/null0"), &s(&single)]);
    assert!(
        std::fs::symlink_metadata(&single).is_err(),
        "a device node was created: {}",
        stderr(&o)
    );
    // ls reports it, as the layer holds it.
    let v: Value =
        serde_json::from_str(&regraft_ok(&["ls", "--json", &image, "/dev/null0"])).unwrap();
    assert_eq!(v[0]["type"], "char");
}

// ---------------------------------------------------------------------------------------------
// add

/// A source tree: app/{bin/tool, conf.txt, link -> bin/tool} and extra.txt, with mtimes after
/// SDE except extra.txt (before it).
fn add_sources(d: &Path) -> (PathBuf, PathBuf) {
    let app = d.join("src/app");
    std::fs::create_dir_all(app.join("bin")).unwrap();
    std::fs::write(app.join("bin/tool"), "#!/bin/sh\necho tool\n").unwrap();
    std::fs::set_permissions(
        app.join("bin/tool"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(app.join("conf.txt"), "key=value\n").unwrap();
    std::fs::set_permissions(
        app.join("conf.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    std::os::unix::fs::symlink("bin/tool", app.join("link")).unwrap();
    for p in ["bin/tool", "conf.txt", "bin", ""] {
        set_mtime(&app.join(p), 1_800_000_000);
    }
    let extra = d.join("src/extra.txt");
    std::fs::write(&extra, "extra\n").unwrap();
    set_mtime(&extra, 1_000_000_000);
    (app, extra)
}

#[test]
fn add_lands_files_with_owner_mode_and_clamped_mtimes() {
    let d = tmp();
    let (app, extra) = add_sources(d.path());
    let base_root = unpacked(&small("base"), &d.path().join("ub"));
    let base = tree(&base_root, false);

    let out = d.path().join("out.tar");
    let specs = [
        format!("{}:/opt/app", app.display()),
        format!("{}:/etc/extra.txt", extra.display()),
    ];
    ok_env(
        &[
            "add",
            &fixture("base.tar"),
            &specs[0],
            &specs[1],
            "-o",
            &s(&out),
        ],
        &[("SOURCE_DATE_EPOCH", Some(SDE))],
    );
    let root = unpacked(
        &format!("docker-archive:{}", out.display()),
        &d.path().join("u"),
    );
    let t = tree(&root, false);
    // Everything of the base is unchanged.
    let kept: BTreeMap<_, _> = t
        .iter()
        .filter(|(k, _)| base.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_trees_eq(&base, &kept, "the base under the added layer");
    let e = |p: &str| t.get(p).unwrap_or_else(|| panic!("{p} missing")).clone();
    assert_eq!(
        std::fs::read_to_string(root.join("opt/app/bin/tool")).unwrap(),
        "#!/bin/sh\necho tool\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("opt/app/conf.txt")).unwrap(),
        "key=value\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/extra.txt")).unwrap(),
        "extra\n"
    );
    assert_eq!(e("opt/app/link").link.as_deref(), Some("bin/tool"));
    for (p, mode) in [
        ("opt/app", 0o755),
        ("opt/app/bin", 0o755),
        ("opt/app/bin/tool", 0o755),
        ("opt/app/conf.txt", 0o644),
    ] {
        let a = e(p);
        assert_eq!(
            (a.uid, a.gid, a.mode, a.mtime),
            (0, 0, mode, SDE_N),
            "{p}: owner root, host mode, mtime clamped"
        );
    }
    assert_eq!(
        e("etc/extra.txt").mtime,
        1_000_000_000,
        "an mtime before SOURCE_DATE_EPOCH is kept"
    );
    assert_eq!(e("opt").kind, "dir");

    // --chown and --chmod apply to every added entry.
    let out2 = d.path().join("out2.tar");
    ok_env(
        &[
            "add",
            &fixture("base.tar"),
            &specs[0],
            "--chown",
            "1000:1000",
            "--chmod",
            "0640",
            "-o",
            &s(&out2),
        ],
        &[("SOURCE_DATE_EPOCH", Some(SDE))],
    );
    let root2 = unpacked(
        &format!("docker-archive:{}", out2.display()),
        &d.path().join("u2"),
    );
    for (p, a) in tree_under(&root2, "opt/app", false) {
        assert_eq!((a.uid, a.gid), (1000, 1000), "{p}");
        if a.kind != "symlink" {
            assert_eq!(a.mode, 0o640, "{p}");
        }
    }
}

#[test]
fn add_is_reproducible_with_source_date_epoch_and_warns_without() {
    let d = tmp();
    let (app, _) = add_sources(d.path());
    let spec = format!("{}:/opt/app", app.display());
    let (a, b) = (d.path().join("a.tar"), d.path().join("b.tar"));
    ok_env(
        &["add", &fixture("base.tar"), &spec, "-o", &s(&a)],
        &[("SOURCE_DATE_EPOCH", Some(SDE))],
    );
    // Touch the sources (still after SDE): the output must not change.
    set_mtime(&app.join("conf.txt"), 1_900_000_000);
    let o = ok_env(
        &["add", &fixture("base.tar"), &spec, "-o", &s(&b)],
        &[("SOURCE_DATE_EPOCH", Some(SDE))],
    );
    assert!(!stderr(&o).contains("reproducible"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "two runs with SOURCE_DATE_EPOCH differ"
    );

    // Without it: a warning, and the host's mtimes are kept.
    set_mtime(&app.join("conf.txt"), 1_234_567_890);
    let c = d.path().join("c.tar");
    let o = ok_env(
        &["add", &fixture("base.tar"), &spec, "-o", &s(&c)],
        &[("SOURCE_DATE_EPOCH", None)],
    );
    let err = stderr(&o);
    assert!(
        err.contains("SOURCE_DATE_EPOCH") && err.contains("not reproducible"),
        "{err}"
    );
    let root = unpacked(
        &format!("docker-archive:{}", c.display()),
        &d.path().join("u"),
    );
    assert_eq!(
        std::fs::metadata(root.join("opt/app/conf.txt"))
            .unwrap()
            .mtime(),
        1_234_567_890
    );
    assert_eq!(
        std::fs::metadata(root.join("opt/app/bin/tool"))
            .unwrap()
            .mtime(),
        1_800_000_000
    );
}

/// The new layer's compression without `--compression`: that of the image's top layer, gzip
/// for an image without layers (the rule the graft's new layer follows too).
#[test]
fn add_compresses_its_layer_as_the_top_layer_or_gzip_without_layers() {
    let d = tmp();
    let f = d.path().join("f");
    std::fs::write(&f, "x").unwrap();
    let spec = format!("{}:/f", f.display());
    let layer_of = |layers: &[Vec<u8>], name: &str| {
        let input = layout_from_layers(&d.path().join(format!("in-{name}")), layers);
        let out = format!("oci:{}:x", d.path().join(format!("out-{name}")).display());
        ok_env(
            &["add", &input, &spec, "-o", &out],
            &[("SOURCE_DATE_EPOCH", Some(SDE))],
        );
        let m: Value =
            serde_json::from_str(&tool_ok("skopeo", &["inspect", "--raw", &out])).unwrap();
        let layers = m["layers"].as_array().unwrap().clone();
        layers.last().unwrap()["mediaType"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        layer_of(&[], "empty"),
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let top = end_tar(raw_entry(b"a", b'0', b"a", b"", 0o644));
    assert_eq!(
        layer_of(&[top], "plain"),
        "application/vnd.oci.image.layer.v1.tar"
    );
}

/// The name of an edited image (here by `config`): `--tag`, else the output's name, else the
/// input's first tag in its familiar form with `-regraft` appended (so that loading the edited
/// image never moves the input's tag); `--tag` and an output name that disagree are a usage
/// error and write nothing (the graft names its result by the same rule).
#[test]
fn an_edited_image_is_named_by_tag_else_the_output_else_the_input() {
    let d = tmp();
    let repo_tags = |tag: Option<&str>, out: &str| {
        let vendor = fixture("vendor.tar");
        let mut args = vec!["config", &vendor, "--user", "1", "-o", out];
        if let Some(t) = tag {
            args.extend(["--tag", t]);
        }
        regraft_ok(&args);
        let path = out.trim_start_matches("docker-archive:");
        let path = path.split(':').next().unwrap();
        tar_member_json(path, "manifest.json")[0]["RepoTags"].clone()
    };
    let at = |n: &str| s(&d.path().join(n));
    assert_eq!(
        repo_tags(None, &at("a.tar")),
        serde_json::json!(["vendor:1.0-regraft"])
    );
    assert_eq!(
        repo_tags(Some("a/b:c"), &at("b.tar")),
        serde_json::json!(["a/b:c"])
    );
    let named = format!("docker-archive:{}:n/m:1", at("c.tar"));
    assert_eq!(repo_tags(None, &named), serde_json::json!(["n/m:1"]));
    assert_eq!(
        repo_tags(Some("n/m:1"), &named),
        serde_json::json!(["n/m:1"])
    );
    let clash = format!("docker-archive:{}:b:2", at("d.tar"));
    let err = regraft_fails(
        &[
            "config",
            &fixture("vendor.tar"),
            "--user",
            "1",
            "--tag",
            "a:1",
            "-o",
            &clash,
        ],
        2,
    );
    assert!(
        err.contains("--tag a:1 and the output's name b:2 disagree"),
        "{err}"
    );
    assert!(!d.path().join("d.tar").exists());
}

#[test]
fn add_static_hello_onto_base_loads_and_runs_in_chroot() {
    let d = tmp();
    let hello = d.path().join("hello");
    regraft_ok(&[
        "cp",
        &format!("{}:/opt/vendor/bin/hello", fixture("vendor.tar")),
        &s(&hello),
    ]);
    let out = d.path().join("with-hello.tar");
    let digestfile = d.path().join("digest");
    ok_env(
        &[
            "add",
            &fixture("base.tar"),
            &format!("{}:/usr/local/bin/hello", hello.display()),
            // /bin is a symlink to usr/bin in the base: the file lands under /usr/bin.
            &format!("{}:/bin/hello2", hello.display()),
            "--entrypoint",
            "/usr/local/bin/hello",
            "--digestfile",
            &s(&digestfile),
            "-o",
            &s(&out),
        ],
        &[("SOURCE_DATE_EPOCH", Some(SDE))],
    );
    let r = format!("docker-archive:{}", out.display());
    let cfg = skopeo_inspect_config(&r);
    assert_eq!(
        cfg["config"]["Entrypoint"],
        serde_json::json!(["/usr/local/bin/hello"])
    );
    assert!(
        cfg["config"]["Cmd"].is_null(),
        "--entrypoint clears Cmd: {}",
        cfg["config"]
    );
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 3);
    let root = unpacked(&r, &d.path().join("u"));
    assert!(
        std::fs::symlink_metadata(root.join("bin"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the base's /bin symlink survives"
    );
    assert!(root.join("usr/bin/hello2").is_file());
    let o = chroot_run(&root, &["/usr/local/bin/hello"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "hello from vendor",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = chroot_run(&root, &["/bin/hello2", "--version"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "hello from vendor 1.0"
    );
    let v: Value =
        serde_json::from_str(&regraft_ok(&["ls", "--json", "--layer", "2", &s(&out)])).unwrap();
    let paths: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/usr/bin/hello2") && paths.contains(&"/usr/local/bin/hello"),
        "{paths:?}"
    );
    podman_load(&s(&out));
    // The digest file names the manifest of the written image (the docker archive's OCI index).
    let idx = tar_member_json(&s(&out), "index.json");
    assert_eq!(
        std::fs::read_to_string(&digestfile).unwrap().trim(),
        idx["manifests"][0]["digest"].as_str().unwrap()
    );
}

fn skopeo_inspect_config(r: &str) -> Value {
    serde_json::from_str(&tool_ok("skopeo", &["inspect", "--config", r])).unwrap()
}

// ---------------------------------------------------------------------------------------------
// rm

#[test]
fn rm_real_deletes_paths_and_nothing_else() {
    let d = tmp();
    let out = format!("oci:{}:trimmed", d.path().join("out").display());
    let gone = [
        "/opt/vendor/bin/static-app-hl",
        "/usr/share/doc",
        "/bin/uncompress",
    ];
    let vr = real("vendor-real.tar");
    let mut args = vec!["rm", vr.as_str()];
    args.extend(gone);
    args.extend(["-o", &out]);
    regraft_ok(&args);

    let before = tree(
        &unpacked(
            &format!("oci:{}:1.0", real("vendor-real.oci")),
            &d.path().join("u0"),
        ),
        false,
    );
    let after = tree(&unpacked(&out, &d.path().join("u1")), false);
    let mut want: BTreeMap<String, Attrs> = before
        .iter()
        .filter(|(k, _)| {
            !gone
                .iter()
                .any(|g| **k == g[1..] || k.starts_with(&format!("{}/", &g[1..])))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert!(
        want.len() + 100 < before.len(),
        "/usr/share/doc holds many entries"
    );
    // Removing one name of a hardlink pair leaves the other with one link.
    want.get_mut("opt/vendor/bin/static-app").unwrap().nlink = 1;
    want.get_mut("bin/gunzip").unwrap().nlink = 1;
    assert_trees_eq(&want, &after, "umoci unpack of the rm result");

    // The new layer holds whiteouts, as ls --layer and GNU tar both show.
    let layout = s(&d.path().join("out"));
    let blobs = layer_blobs(&layout, "trimmed");
    assert_eq!(blobs.len(), 4);
    let listing = tar_layer_listing(&blobs[3]);
    let whiteouts: BTreeSet<String> = listing
        .iter()
        .filter(|e| e.1 == "whiteout")
        .map(|e| e.0.clone())
        .collect();
    assert_eq!(whiteouts, gone.iter().map(|g| g.to_string()).collect());
    let text = regraft_ok(&["ls", "--layer", "3", &out]);
    for g in gone {
        assert!(
            text.lines().any(|l| l == format!("whiteout {g}")),
            "{g} not shown as a whiteout:\n{text}"
        );
    }
    assert_layer_listing(&out, &layout, "trimmed");

    // A missing path is an error naming it, and nothing is written.
    let missing = d.path().join("missing.tar");
    let err = regraft_fails(
        &[
            "rm",
            &real("vendor-real.tar"),
            "/opt/vendor/no-such-file",
            "-o",
            &s(&missing),
        ],
        1,
    );
    assert!(err.contains("/opt/vendor/no-such-file"), "{err}");
    assert!(!missing.exists());
}

#[test]
fn rm_small_vendor_in_umoci_view() {
    let d = tmp();
    let out = d.path().join("out.tar");
    regraft_ok(&[
        "rm",
        &fixture("vendor.tar"),
        "/opt/vendor/share",
        "/opt/vendor/bin/hello",
        "-o",
        &s(&out),
    ]);
    let before = tree(&unpacked(&small("vendor"), &d.path().join("u0")), false);
    let after = tree(
        &unpacked(
            &format!("docker-archive:{}", out.display()),
            &d.path().join("u1"),
        ),
        false,
    );
    let mut want: BTreeMap<_, _> = before
        .into_iter()
        .filter(|(k, _)| !k.starts_with("opt/vendor/share") && k != "opt/vendor/bin/hello")
        .collect();
    want.get_mut("opt/vendor/bin/hello-link").unwrap().nlink = 1;
    assert_trees_eq(&want, &after, "rm on the small vendor");
    let text = regraft_ok(&["ls", "--layer", "4", &s(&out)]);
    assert!(
        text.contains("whiteout /opt/vendor/share\n")
            && text.contains("whiteout /opt/vendor/bin/hello\n"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// ls

#[test]
fn ls_small_vendor_matches_umoci_and_history() {
    let d = tmp();
    let r = small("vendor");
    let rootfs = unpacked(&r, &d.path().join("u"));
    assert_sets_eq(
        &find_listing(&rootfs, None),
        &ls_listing(&fixture("vendor.tar"), None),
        "ls vs find (small vendor)",
    );
    assert_sets_eq(
        &find_listing(&rootfs, Some("opt/vendor/share")),
        &ls_listing(&r, Some("/opt/vendor/share")),
        "ls PATH",
    );
    let by = created_by_per_layer(&r);
    let long = regraft_ok(&["ls", "--long", &fixture("vendor.tar"), "/opt/vendor"]);
    let line = |p: &str| {
        long.lines()
            .find(|l| l.contains(&format!(" {p}")))
            .unwrap_or_else(|| panic!("{p}:\n{long}"))
            .to_string()
    };
    assert!(
        line("/opt/vendor/etc/app.conf")
            .contains(&format!(" L2 /opt/vendor/etc/app.conf  ({})", by[2])),
        "{long}"
    );
    assert!(
        line("/opt/vendor/share/new.txt")
            .contains(&format!(" L3 /opt/vendor/share/new.txt  ({})", by[3])),
        "{long}"
    );
    assert!(
        line("/opt/vendor/bin/suid-tool").starts_with("-rwsr-xr-x"),
        "{long}"
    );
    // A missing PATH is an error naming it.
    let err = regraft_fails(&["ls", &r, "/opt/nothing"], 1);
    assert!(err.contains("/opt/nothing"), "{err}");
}

#[test]
fn ls_layer_lists_exactly_the_blob_as_gnu_tar_shows_it() {
    assert_layer_listing(&small("vendor"), &fixture("oci"), "vendor");
    assert_layer_listing(&small("base"), &fixture("oci"), "base");
    assert_layer_listing(&real("vendor-real.oci"), &real("vendor-real.oci"), "1.0");
    // Whiteouts are shown as such in the text listing.
    let text = regraft_ok(&["ls", "--layer", "2", &real("vendor-real.tar")]);
    for w in [
        "whiteout /etc/motd",
        "whiteout /opt/vendor/conf",
        "whiteout /opt/vendor/share/old/obsolete.txt",
    ] {
        assert!(text.lines().any(|l| l == w), "{w}:\n{text}");
    }
    let err = regraft_fails(&["ls", "--layer", "9", &small("vendor")], 2);
    assert!(err.contains("4 layers"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// config

#[test]
fn config_edits_the_runtime_config_and_keeps_every_layer() {
    let d = tmp();
    let input = format!("oci:{}:1.0", real("vendor-real.oci"));
    let out = format!("oci:{}:edited", d.path().join("out").display());
    regraft_ok(&[
        "config",
        &input,
        "--env",
        "FOO=bar",
        "--env",
        "VENDOR_HOME=/srv/vendor",
        "--entrypoint",
        r#"["/opt/vendor/bin/static-app"]"#,
        "--user",
        "1000:1000",
        "--workdir",
        "/srv",
        "--label",
        "org.example.edited=yes",
        "-o",
        &out,
    ]);
    let before = skopeo_inspect_config(&input);
    let after = skopeo_inspect_config(&out);
    let c = &after["config"];
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"FOO=bar") && env.contains(&"VENDOR_HOME=/srv/vendor"),
        "{env:?}"
    );
    assert!(!env.contains(&"VENDOR_HOME=/opt/vendor"), "{env:?}");
    assert!(
        env.iter().any(|e| e.starts_with("PATH=/opt/vendor/bin:")),
        "{env:?}"
    );
    assert_eq!(
        c["Entrypoint"],
        serde_json::json!(["/opt/vendor/bin/static-app"])
    );
    assert!(
        c["Cmd"].is_null(),
        "--entrypoint without --cmd clears Cmd: {c}"
    );
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(c["Labels"]["org.example.edited"], "yes");
    assert_eq!(
        c["Labels"]["org.example.vendor"], "real",
        "other labels stay"
    );
    assert_eq!(after["rootfs"], before["rootfs"]);
    assert_eq!(after["architecture"], before["architecture"]);
    // Layer blobs are the input's, digest for digest.
    let layers = |r: &str| skopeo_inspect(r)["Layers"].clone();
    assert_eq!(layers(&out), layers(&input));

    // --entrypoint with --cmd keeps both, from a docker archive to a docker archive.
    let out2 = d.path().join("out2.tar");
    regraft_ok(&[
        "config",
        &real("vendor-real.tar"),
        "--entrypoint",
        "/bin/sh",
        "--cmd",
        r#"["-c","echo hi"]"#,
        "-o",
        &s(&out2),
    ]);
    let r2 = format!("docker-archive:{}", out2.display());
    let c2 = skopeo_inspect_config(&r2);
    assert_eq!(c2["config"]["Entrypoint"], serde_json::json!(["/bin/sh"]));
    assert_eq!(c2["config"]["Cmd"], serde_json::json!(["-c", "echo hi"]));
    assert_eq!(c2["rootfs"], before["rootfs"]);
    let dr = format!("docker-archive:{}", real("vendor-real.tar"));
    assert_eq!(layers(&r2), layers(&dr));

    // Nothing to change is a usage error, and nothing is written.
    let none = d.path().join("none.tar");
    let err = regraft_fails(&["config", &fixture("vendor.tar"), "-o", &s(&none)], 2);
    assert!(err.contains("nothing to change"), "{err}");
    assert!(!none.exists());
}

// ---------------------------------------------------------------------------------------------
// --digestfile and -o -

#[test]
fn digestfile_holds_the_digest_skopeo_hashes() {
    let d = tmp();
    let layout = d.path().join("layout");
    let dest = |t: &str| format!("oci:{}:{t}", layout.display());
    let df = |t: &str| d.path().join(format!("{t}.digest"));
    let (app, _) = add_sources(d.path());
    let env = [("SOURCE_DATE_EPOCH", Some(SDE))];
    let runs: Vec<(&str, Vec<String>)> = vec![
        (
            "graft",
            vec![
                "--from".into(),
                fixture("vendor.tar"),
                "--onto".into(),
                fixture("base.tar"),
                "--path".into(),
                "/opt/vendor".into(),
                "-o".into(),
                dest("graft"),
            ],
        ),
        (
            "convert",
            vec!["convert".into(), fixture("vendor.tar"), dest("convert")],
        ),
        (
            "add",
            vec![
                "add".into(),
                fixture("base.tar"),
                format!("{}:/opt/app", app.display()),
                "-o".into(),
                dest("add"),
            ],
        ),
        (
            "rm",
            vec![
                "rm".into(),
                small("vendor"),
                "/opt/vendor/share".into(),
                "-o".into(),
                dest("rm"),
            ],
        ),
        (
            "config",
            vec![
                "config".into(),
                fixture("vendor.tar"),
                "--user".into(),
                "0".into(),
                "-o".into(),
                dest("config"),
            ],
        ),
    ];
    for (t, mut args) in runs {
        args.extend(["--digestfile".to_string(), s(&df(t))]);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        ok_env(&a, &env);
        let want = skopeo_manifest_digest(&dest(t));
        assert_eq!(
            std::fs::read_to_string(df(t)).unwrap().trim(),
            want,
            "{t}: --digestfile"
        );
    }
}

#[test]
fn dash_o_streams_the_same_docker_archive_podman_loads() {
    let d = tmp();
    let (app, _) = add_sources(d.path());
    let env = [("SOURCE_DATE_EPOCH", Some(SDE))];
    let spec = format!("{}:/opt/app", app.display());
    let (vendor, base) = (fixture("vendor.tar"), fixture("base.tar"));
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("config", vec!["config", &vendor, "--env", "A=b"]),
        ("add", vec!["add", &base, &spec]),
        ("rm", vec!["rm", &vendor, "/opt/vendor/share/new.txt"]),
        // A path-mode graft to a file builds the archive in place (base layers copied while
        // the vendor is read, the new layer written straight into it): same bytes as streamed.
        (
            "graft",
            vec!["--from", &vendor, "--onto", &base, "--path", "/opt/vendor"],
        ),
    ];
    for (name, args) in cases {
        let file = d.path().join(format!("{name}.tar"));
        let mut a = args.clone();
        a.extend(["-o", file.to_str().unwrap()]);
        ok_env(&a, &env);
        let mut b = args.clone();
        b.extend(["-o", "-"]);
        let o = ok_env(&b, &env);
        assert!(!o.stdout.is_empty());
        assert!(
            o.stdout == std::fs::read(&file).unwrap(),
            "{name}: -o - differs from -o FILE ({} vs {} bytes)",
            o.stdout.len(),
            std::fs::metadata(&file).unwrap().len()
        );
        let streamed = d.path().join(format!("{name}-stdout.tar"));
        std::fs::write(&streamed, &o.stdout).unwrap();
        podman_load(&s(&streamed));
        skopeo_inspect(&format!("docker-archive:{}", streamed.display()));
    }
}

// ---------------------------------------------------------------------------------------------
// completions, man, progress, exit codes

#[test]
fn completions_and_man_page() {
    let d = tmp();
    for sh in ["bash", "zsh", "fish"] {
        let out = regraft_ok(&["completions", sh]);
        assert!(
            out.len() > 1000 && out.contains("regraft"),
            "{sh} completions too small"
        );
        for sub in ["cp", "add", "rm", "ls", "config"] {
            assert!(out.contains(sub), "{sh} completions lack {sub}");
        }
        if sh == "bash" {
            let f = d.path().join("regraft.bash");
            std::fs::write(&f, &out).unwrap();
            tool_ok("bash", &["-n", &s(&f)]);
            // Sourcing defines the completion function and registers it.
            let o = tool_ok(
                "bash",
                &[
                    "-c",
                    &format!("source {} && complete -p regraft", f.display()),
                ],
            );
            assert!(o.contains("regraft"), "{o}");
        }
    }
    let bad = regraft(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));

    let man = regraft_ok(&["man"]);
    assert!(
        man.lines().any(|l| l.starts_with(".TH regraft 1")),
        "no .TH header"
    );
    assert!(man.lines().take(5).any(|l| l.starts_with(".TH")));
    for sub in [
        "inspect",
        "verify",
        "convert",
        "cp",
        "add",
        "rm",
        "ls",
        "config",
        "completions",
        "man",
    ] {
        assert!(
            man.contains(&format!("regraft\\-{sub}(1)")),
            "man page does not mention {sub}"
        );
    }
    let f = d.path().join("regraft.1");
    std::fs::write(&f, &man).unwrap();
    let o = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z", &s(&f)])
        .output()
        .unwrap();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "groff warnings: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = Command::new("man")
        .args(["-l", &s(&f)])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains("NAME") && text.contains("regraft"),
        "man -l: {text}"
    );
}

#[test]
fn progress_on_a_terminal_and_never_in_a_pipe() {
    let img = real("vendor-real.oci");
    let bin = env!("CARGO_BIN_EXE_regraft");
    // A pseudo-terminal: script(1) runs the command with stderr on the pty.
    let o = tool(
        "script",
        &["-qec", &format!("{bin} verify {img}"), "/dev/null"],
    );
    let pty = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{pty}");
    assert!(
        pty.contains("MB/s") && pty.contains("layers "),
        "no progress on the terminal:\n{pty:?}"
    );
    assert!(
        pty.contains(": ok ("),
        "no summary on the terminal:\n{pty:?}"
    );
    // -q on the terminal: neither progress nor summary.
    let o = tool(
        "script",
        &["-qec", &format!("{bin} -q verify {img}"), "/dev/null"],
    );
    let pty = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && !pty.contains("MB/s") && !pty.contains("ok ("),
        "{pty:?}"
    );

    // A pipe: the summary, no progress.
    let o = regraft(&["verify", &img]);
    let err = stderr(&o);
    assert!(o.status.success());
    assert!(
        !err.contains('\r') && !err.contains("MB/s"),
        "progress in a pipe: {err:?}"
    );
    assert!(err.contains(": ok ("), "{err}");
    // --progress forces it on.
    let o = regraft(&["--progress", "verify", &img]);
    let err = stderr(&o);
    assert!(
        o.status.success() && err.contains("MB/s") && err.contains('\r'),
        "--progress: {err:?}"
    );
    // -q: nothing but errors.
    let o = regraft(&["-q", "verify", &img]);
    assert!(
        o.status.success() && o.stderr.is_empty() && o.stdout.is_empty(),
        "-q: {}",
        stderr(&o)
    );
}

#[test]
fn exit_codes_ok_error_usage() {
    let d = tmp();
    assert_eq!(
        regraft(&["verify", &fixture("vendor.tar")]).status.code(),
        Some(0)
    );
    assert_eq!(
        regraft(&["ls", &fixture("vendor.tar"), "/opt"])
            .status
            .code(),
        Some(0)
    );
    // 1: errors about the world.
    regraft_fails(&["inspect", &s(&d.path().join("missing.tar"))], 1);
    regraft_fails(
        &[
            "cp",
            &format!("{}:/opt/vendor", d.path().join("missing.tar").display()),
            &s(&d.path().join("x")),
        ],
        1,
    );
    regraft_fails(
        &[
            "cp",
            &format!("{}:/no/such/path", fixture("vendor.tar")),
            &s(&d.path().join("y")),
        ],
        1,
    );
    // 2: usage: a bad flag, a bad reference, a bad argument.
    regraft_fails(&["inspect", "--no-such-flag", &fixture("vendor.tar")], 2);
    regraft_fails(&["ls"], 2);
    regraft_fails(&["inspect", "docker-archive:"], 2);
    regraft_fails(&["cp", &fixture("vendor.tar"), &s(&d.path().join("z"))], 2);
    regraft_fails(
        &[
            "add",
            &fixture("base.tar"),
            "relative-dest:opt/app",
            "-o",
            &s(&d.path().join("o.tar")),
        ],
        2,
    );
    regraft_fails(
        &[
            "add",
            &fixture("base.tar"),
            &format!("{}:/x", fixture("README.md")),
            "--chmod",
            "999",
            "-o",
            &s(&d.path().join("o.tar")),
        ],
        2,
    );
    regraft_fails(
        &[
            "add",
            &fixture("base.tar"),
            &format!("{}:/x", fixture("README.md")),
            "--chown",
            "app",
            "-o",
            &s(&d.path().join("o.tar")),
        ],
        2,
    );
    assert!(!d.path().join("o.tar").exists());
    // Global flags may come before the subcommand; the graft's own flags may not.
    regraft_ok(&[
        "-q",
        "--platform",
        "linux/amd64",
        "ls",
        &fixture("vendor.tar"),
        "/opt",
    ]);
    regraft_ok(&["ls", "-v", &fixture("vendor.tar"), "/opt"]);
    regraft_fails(
        &[
            "--from",
            &fixture("vendor.tar"),
            "inspect",
            &fixture("vendor.tar"),
        ],
        2,
    );
    regraft_fails(
        &[
            "-o",
            &s(&d.path().join("o.tar")),
            "ls",
            &fixture("vendor.tar"),
        ],
        2,
    );
}

/// Regression: `regraft ls IMAGE | head -1` panicked ("failed printing to stdout: Broken pipe")
/// when the reader closed the pipe early.
#[test]
fn ls_into_a_pipe_closed_early_does_not_panic() {
    let bin = env!("CARGO_BIN_EXE_regraft");
    let o = tool(
        "bash",
        &[
            "-c",
            &format!(
                "{bin} ls {} | head -1; exit ${{PIPESTATUS[0]}}",
                real("vendor-real.oci")
            ),
        ],
    );
    let err = stderr(&o);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "/bin\n");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}
