//! `regraft patch` on an apk image (issue 22, the apk path): the musl base the check tests build
//! (fixtures/build-check.sh: Debian's musl and busybox-static) made Alpine-style here, with an
//! apk `installed` database, `triggers` and `scripts.tar`, and packages v1 installed; `.apk`
//! files, an `APKINDEX.tar.gz` and the databases are made by fixtures/tools/mkapk.py with
//! Python's tarfile, gzip and hashlib (Debian 12 packages no apk-tools), the programs by
//! musl-gcc. The result is judged by umoci (unpack verifies every digest), `sha1sum` against
//! every `Z:` line, the programs run under chroot with the image's musl loader, GNU tar on
//! the layer and `scripts.tar`, and regraft's own package reader.

use crate::common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn mkapk(args: &[&str]) {
    let script = root().join("fixtures/tools/mkapk.py");
    let mut a = vec![script.to_str().unwrap()];
    a.extend(args);
    tool_ok("python3", &a);
}

/// Compiles the demo library (soname libdemo.so.N) and program for version `v` into `dir`.
fn build_demo(dir: &Path, v: &str) -> (Vec<u8>, Vec<u8>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("lib.c"),
        format!("const char *demo_lib(void) {{ return \"{v}\"; }}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("demo.c"),
        format!(
            "#include <stdio.h>\nconst char *demo_lib(void);\nint main(void) {{ printf(\"demo {v} lib %s\\n\", demo_lib()); return 0; }}\n"
        ),
    )
    .unwrap();
    let d = dir.display().to_string();
    let so = format!("libdemo.so.{v}");
    tool_ok(
        "musl-gcc",
        &[
            "-shared",
            "-fPIC",
            "-s",
            &format!("-Wl,-soname,{so}"),
            "-o",
            &format!("{d}/{so}"),
            &format!("{d}/lib.c"),
        ],
    );
    tool_ok(
        "musl-gcc",
        &[
            "-s",
            "-o",
            &format!("{d}/demo"),
            &format!("{d}/demo.c"),
            &format!("-L{d}"),
            &format!("-l:{so}"),
            "-Wl,-rpath,/usr/lib",
        ],
    );
    (
        std::fs::read(dir.join(&so)).unwrap(),
        std::fs::read(dir.join("demo")).unwrap(),
    )
}

fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Writes a package spec and builds the .apk; returns its path.
fn apk(
    dir: &Path,
    name: &str,
    version: &str,
    info: &[(&str, &str)],
    files: Value,
    extra: Value,
) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join(format!("{name}-{version}.apk"));
    let mut i = vec![
        json!(["pkgname", name]),
        json!(["pkgver", version]),
        json!(["pkgdesc", format!("{name} for the patch tests")]),
        json!(["url", "https://example.invalid/demo"]),
        json!(["builddate", "1700000000"]),
        json!(["size", "4096"]),
        json!(["arch", "x86_64"]),
        json!(["license", "MIT"]),
        json!(["origin", name]),
        json!(["maintainer", "Test <t@example.invalid>"]),
    ];
    i.extend(info.iter().map(|(k, v)| json!([k, v])));
    let mut spec = json!({"out": out, "info": i, "files": files});
    if let Value::Object(m) = extra {
        spec.as_object_mut().unwrap().extend(m);
    }
    let sp = dir.join(format!("{name}-{version}.spec.json"));
    std::fs::write(&sp, spec.to_string()).unwrap();
    mkapk(&["apk", sp.to_str().unwrap()]);
    out
}

/// The spec's `@NAME` data replaced by the program or library NAME, base64 (mkapk.py decodes it).
fn with_bin(files: Value, bins: &[(&str, &[u8])]) -> Value {
    let mut f = files;
    for e in f.as_array_mut().unwrap() {
        let a = e.as_array_mut().unwrap();
        if let Some(s) = a[2].as_str()
            && let Some(name) = s.strip_prefix('@')
        {
            let (_, b) = bins.iter().find(|(n, _)| *n == name).unwrap();
            a[2] = json!({"b64": b64(b)});
        }
    }
    f
}

struct Demo {
    _d: tempfile::TempDir,
    dir: PathBuf,
    /// The Alpine-style image with v1 installed: oci:DIR:v1.
    image: String,
    repo: PathBuf,
}

/// The test world: packages v1 and v2, the v1 image, the v2 repository.
fn demo() -> Demo {
    let d = tmp();
    let dir = d.path().to_path_buf();
    let (lib1, demo1) = build_demo(&dir.join("c1"), "1");
    let (lib2, demo2) = build_demo(&dir.join("c2"), "2");
    let bins: [(&str, &[u8]); 4] = [
        ("lib1", &lib1),
        ("demo1", &demo1),
        ("lib2", &lib2),
        ("demo2", &demo2),
    ];
    let v1 = dir.join("v1");
    let repo = dir.join("repo");
    let dirs = |extra: &[&str]| -> Vec<Value> {
        let mut v: Vec<Value> = ["usr", "usr/bin", "usr/share", "usr/share/demo", "etc"]
            .iter()
            .chain(extra)
            .map(|p| json!([p, "dir", null, 0o755]))
            .collect();
        v.sort_by_key(|x| x[0].as_str().unwrap().to_string());
        v
    };
    // 1.0 alone has usr/share/demo/legacy: apk removes the directory with its last owner.
    let mut f1 = dirs(&["usr/share/demo/legacy"]);
    f1.extend([
        json!(["usr/bin/demo", "file", "@demo1", 0o755]),
        json!(["usr/bin/demo-link", "symlink", "demo", 0o777]),
        json!(["usr/share/demo/old.txt", "file", "only in 1.0\n", 0o644]),
        json!(["usr/share/demo/legacy/a.txt", "file", "legacy\n", 0o644]),
        json!(["usr/share/demo/same.txt", "file", "in both\n", 0o644]),
        json!(["etc/demo.conf", "file", "a=1\n", 0o644]),
        json!(["etc/demo-defaults.conf", "file", "d=1\n", 0o644]),
    ]);
    let demo_v1 = apk(
        &v1,
        "demo",
        "1.0-r0",
        &[
            ("depend", "so:libdemo.so.1"),
            ("depend", "so:libc.musl-x86_64.so.1"),
        ],
        with_bin(json!(f1), &bins),
        json!({"scripts": {"post-install": "#!/bin/sh\necho installed\n"}}),
    );
    let lib_v1 = apk(
        &v1,
        "libdemo",
        "1.0-r0",
        &[
            ("provides", "so:libdemo.so.1=1"),
            ("depend", "so:libc.musl-x86_64.so.1"),
        ],
        with_bin(
            json!([
                ["usr", "dir", null, 0o755],
                ["usr/lib", "dir", null, 0o755],
                ["usr/lib/libdemo.so.1", "file", "@lib1", 0o755]
            ]),
            &bins,
        ),
        json!({}),
    );
    let mut f2 = dirs(&[]);
    f2.extend([
        json!(["usr/bin/demo", "file", "@demo2", 0o755]),
        json!(["usr/bin/demo-link", "symlink", "demo", 0o777]),
        json!(["usr/bin/demo-hard", "hardlink", "usr/bin/demo", 0o755]),
        json!(["usr/share/demo/new.txt", "file", "new in 1.1\n", 0o600]),
        json!(["usr/share/demo/same.txt", "file", "in both\n", 0o644]),
        json!(["etc/demo.conf", "file", "a=2\n", 0o644]),
        json!(["etc/demo-defaults.conf", "file", "d=2\n", 0o644]),
    ]);
    apk(
        &repo,
        "demo",
        "1.1-r0",
        &[
            ("depend", "so:libdemo.so.2"),
            ("depend", "so:libc.musl-x86_64.so.1"),
        ],
        with_bin(json!(f2), &bins),
        json!({"signed": true, "scripts": {"post-upgrade": "#!/bin/sh\necho upgraded\n"}}),
    );
    for v in ["2.0-r0", "2.1-r0"] {
        apk(
            &repo,
            "libdemo2",
            v,
            &[
                ("provides", "so:libdemo.so.2=2"),
                ("depend", "so:libc.musl-x86_64.so.1"),
            ],
            with_bin(
                json!([
                    ["usr", "dir", null, 0o755],
                    ["usr/lib", "dir", null, 0o755],
                    ["usr/lib/libdemo.so.2", "file", "@lib2", 0o755]
                ]),
                &bins,
            ),
            json!({}),
        );
    }
    mkapk(&["index", repo.to_str().unwrap()]);

    // The v1 image: the musl base, v1's files, apk's database.
    let layout = dir.join("image");
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("oci:{}:musl", real("check/musl-base.oci")),
            &format!("oci:{}:v1", layout.display()),
        ],
    );
    let bundle = dir.join("bundle");
    tool_ok(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:v1", layout.display()),
            bundle.to_str().unwrap(),
        ],
    );
    let rootfs = bundle.join("rootfs");
    for a in [&demo_v1, &lib_v1] {
        // The data segment is the last gzip member: GNU tar reads the concatenation as one
        // archive and extracts the control members too; those are removed after.
        tool_ok(
            "tar",
            &["-xzf", a.to_str().unwrap(), "-C", rootfs.to_str().unwrap()],
        );
    }
    for f in [".PKGINFO", ".post-install"] {
        let _ = std::fs::remove_file(rootfs.join(f));
    }
    let meta = |n: &str, v: &str, files: Value, deps: &[(&str, &str)]| -> PathBuf {
        let mut info = vec![
            json!(["pkgname", n]),
            json!(["pkgver", v]),
            json!(["arch", "x86_64"]),
            json!(["license", "MIT"]),
        ];
        info.extend(deps.iter().map(|(k, v)| json!([k, v])));
        let p = dir.join(format!("{n}.installed.json"));
        let c = format!("Q1{}", b64(&sha1_of(n.as_bytes())));
        std::fs::write(
            &p,
            json!({"C": c, "S": 1000, "info": info, "files": files, "sums": {}}).to_string(),
        )
        .unwrap();
        p
    };
    let musl = meta(
        "musl",
        "1.2.3-r0",
        json!([
            ["lib", "dir", null, 0o755],
            [
                "lib/ld-musl-x86_64.so.1",
                "symlink",
                "x86_64-linux-musl/libc.so",
                0o777
            ],
            ["lib/x86_64-linux-musl", "dir", null, 0o755],
            ["lib/x86_64-linux-musl/libc.so", "file", null, 0o755]
        ]),
        &[("provides", "so:libc.musl-x86_64.so.1=1")],
    );
    let busybox = meta(
        "busybox",
        "1.35.0-r0",
        json!([
            ["bin", "dir", null, 0o755],
            ["bin/busybox", "file", null, 0o755],
            ["bin/sh", "symlink", "busybox", 0o777]
        ]),
        &[("depend", "so:libc.musl-x86_64.so.1")],
    );
    let db = rootfs.join("lib/apk/db");
    std::fs::create_dir_all(&db).unwrap();
    mkapk(&[
        "installed",
        db.join("installed").to_str().unwrap(),
        rootfs.to_str().unwrap(),
        musl.to_str().unwrap(),
        busybox.to_str().unwrap(),
        &format!("{}.json", demo_v1.display()),
        &format!("{}.json", lib_v1.display()),
    ]);
    // busybox watches the program directories (as Alpine's does); demo 1.0's script is kept.
    let busybox_c = format!("Q1{}", b64(&sha1_of(b"busybox")));
    let demo_c = c_of(&demo_v1);
    std::fs::write(
        db.join("triggers"),
        format!("{busybox_c} /bin /usr/bin /sbin /usr/sbin /lib/modules/*\n"),
    )
    .unwrap();
    // Entry names carry the identity as apk writes it (base64: it may hold a '/').
    let py = r##"
import sys, tarfile, io
t = tarfile.open(sys.argv[1], "w", format=tarfile.USTAR_FORMAT)
for name in sys.argv[2:]:
    data = b"#!/bin/sh\necho " + name.rsplit(".", 1)[1].encode() + b"\n"
    i = tarfile.TarInfo(name)
    i.size, i.mode, i.mtime = len(data), 0o755, 1700000000
    t.addfile(i, io.BytesIO(data))
t.close()
"##;
    tool_ok(
        "python3",
        &[
            "-c",
            py,
            db.join("scripts.tar").to_str().unwrap(),
            &format!("busybox-1.35.0-r0.{busybox_c}.trigger"),
            &format!("demo-1.0-r0.{demo_c}.post-install"),
        ],
    );
    // The user changed one protected file after installing.
    std::fs::write(rootfs.join("etc/demo.conf"), "a=1\nlocal=1\n").unwrap();
    tool_ok(
        "umoci",
        &[
            "repack",
            "--image",
            &format!("{}:v1", layout.display()),
            "--history.created",
            "2023-11-14T22:13:20Z",
            bundle.to_str().unwrap(),
        ],
    );
    Demo {
        image: format!("oci:{}:v1", layout.display()),
        repo,
        dir,
        _d: d,
    }
}

fn sha1_of(b: &[u8]) -> Vec<u8> {
    use sha1::Digest as _;
    sha1::Sha1::digest(b).to_vec()
}

/// The `C:` mkapk.py recorded for a package.
fn c_of(apk: &Path) -> String {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.json", apk.display())).unwrap())
            .unwrap();
    m["C"].as_str().unwrap().to_string()
}

/// (path, Z:) of every file of every block of an `installed` database, parsed here.
fn z_lines(db: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for block in db.split("\n\n") {
        let (mut pkg, mut dir, mut file) = (String::new(), String::new(), String::new());
        for l in block.lines() {
            let (k, v) = l.split_at(2);
            match k {
                "P:" => pkg = v.to_string(),
                "F:" => dir = v.to_string(),
                "R:" => file = format!("{dir}/{v}"),
                "Z:" => out.push((pkg.clone(), file.clone(), v.to_string())),
                _ => {}
            }
        }
    }
    out
}

fn sha1sum(p: &Path) -> String {
    tool_ok("sha1sum", &[p.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn only_dir_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn apk_update_pulls_a_so_provider_lands_files_and_writes_apks_database() {
    let w = demo();
    let out_dir = w.dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("patched.tar").display().to_string();
    let repo = w.repo.to_str().unwrap();
    let base = [
        "patch",
        &w.image,
        "--repo",
        repo,
        "--package",
        "demo",
        "-o",
        &out,
    ];

    // The scripts apk would run, and busybox's trigger on /usr/bin: refused, listed, nothing written.
    let err = regraft_fails(&base, 1);
    for want in [
        "demo: 1.1-r0 .post-upgrade",
        "busybox: installed .trigger on /usr/bin",
        "--accept maintainer-script:PACKAGE",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(
        only_dir_entries(&out_dir).is_empty(),
        "{:?}",
        only_dir_entries(&out_dir)
    );

    let mut args = base.to_vec();
    args.extend([
        "--accept",
        "maintainer-script:demo",
        "--accept",
        "maintainer-script:busybox",
        "--json",
    ]);
    let doc: Value = serde_json::from_str(&regraft_ok(&args)).unwrap();
    let ups: Vec<(String, Value, String)> = doc["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["package"].as_str().unwrap().into(),
                u["from"].clone(),
                u["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    // The so:libdemo.so.2 provider at the lowest version that serves.
    assert_eq!(
        ups,
        [
            ("demo".into(), json!("1.0-r0"), "1.1-r0".into()),
            ("libdemo2".into(), Value::Null, "2.0-r0".into())
        ]
    );
    let notes = doc["repositories"].to_string();
    assert!(
        notes.contains("signature is absent") && notes.contains("C: SHA1"),
        "{notes}"
    );
    let applied = doc["applied"].to_string();
    assert!(applied.contains("/usr/share/demo/old.txt"), "{applied}");
    assert!(
        applied.contains("/usr/share/demo/legacy/a.txt")
            && applied.contains("/usr/share/demo/legacy/\""),
        "{applied}"
    );
    assert!(
        applied.contains(
            "/etc/demo.conf (changed in the image; the new version is /etc/demo.conf.apk-new)"
        ),
        "{applied}"
    );
    assert!(
        doc["accepted_scripts"]
            .to_string()
            .contains(".post-upgrade"),
        "{}",
        doc["accepted_scripts"]
    );

    // The patch layer, read by GNU tar: one whiteout for the emptied directory, none inside it.
    let m = tar_member_json(&out, "manifest.json");
    let top = m[0]["Layers"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let layer = w.dir.join("top.tar");
    let o = std::process::Command::new("tar")
        .args(["-xOf", &out, &top])
        .output()
        .unwrap();
    std::fs::write(&layer, &o.stdout).unwrap();
    let list = tool_ok("tar", &["-tf", layer.to_str().unwrap()]);
    let list: Vec<&str> = list.lines().collect();
    for want in [
        "usr/share/demo/.wh.legacy",
        "usr/share/demo/.wh.old.txt",
        "usr/lib/libdemo.so.2",
        "lib/apk/db/installed",
    ] {
        assert!(list.contains(&want), "{want}: {list:?}");
    }
    assert!(!list.iter().any(|l| l.contains("legacy/")), "{list:?}");
    // umoci verifies every digest on the way; the tree is apk's.
    let u = w.dir.join("unpacked");
    std::fs::create_dir_all(&u).unwrap();
    let rootfs = unpack(&format!("docker-archive:{out}"), &u);
    assert!(!rootfs.join("usr/share/demo/old.txt").exists());
    assert!(!rootfs.join("usr/share/demo/legacy").exists());
    assert!(rootfs.join("usr/share/demo").is_dir());
    assert_eq!(
        std::fs::read_to_string(rootfs.join("usr/share/demo/new.txt")).unwrap(),
        "new in 1.1\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/demo.conf")).unwrap(),
        "a=1\nlocal=1\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/demo.conf.apk-new")).unwrap(),
        "a=2\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/demo-defaults.conf")).unwrap(),
        "d=2\n"
    );
    assert!(
        rootfs.join("usr/lib/libdemo.so.1").exists(),
        "libdemo is not updated: its file stays"
    );
    // The programs run with the image's own musl loader.
    for p in ["/usr/bin/demo", "/usr/bin/demo-link", "/usr/bin/demo-hard"] {
        let o = chroot_run(&rootfs, &[p]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "demo 2 lib 2\n",
            "{p}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    // Every Z: of every package against sha1sum of the unpacked file (a symlink: its target).
    let db = std::fs::read_to_string(rootfs.join("lib/apk/db/installed")).unwrap();
    let zs = z_lines(&db);
    // busybox 2, demo 7 (a symlink and a hard link among them), libdemo 1, libdemo2 1, musl 2.
    assert_eq!(zs.len(), 13, "{zs:?}");
    for (pkg, path, z) in &zs {
        let raw = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(z.strip_prefix("Q1").unwrap())
                .unwrap()
        };
        let full = rootfs.join(path);
        let on_disk = match std::fs::symlink_metadata(&full) {
            Ok(m) if m.file_type().is_symlink() => {
                let t = w.dir.join("link-target");
                std::fs::write(
                    &t,
                    std::fs::read_link(&full)
                        .unwrap()
                        .as_os_str()
                        .as_encoded_bytes(),
                )
                .unwrap();
                sha1sum(&t)
            }
            // apk records the new version's checksum; the image keeps its own file.
            _ if path == "etc/demo.conf" => sha1sum(&rootfs.join("etc/demo.conf.apk-new")),
            _ => sha1sum(&full),
        };
        assert_eq!(hex::encode(&raw), on_disk, "{pkg} {path}");
    }
    // The new block as apk-tools writes it: its letters in order, C: the control segment's
    // SHA1 (mkapk.py's), S: the file's size, and the files with their modes.
    let block = db.split("\n\n").find(|b| b.contains("\nP:demo\n")).unwrap();
    let letters: Vec<&str> = block.lines().map(|l| &l[..1]).collect();
    assert_eq!(
        &letters[..14],
        [
            "C", "P", "V", "A", "S", "I", "T", "U", "L", "o", "m", "t", "D", "F"
        ],
        "{block}"
    );
    let v2 = w.repo.join("demo-1.1-r0.apk");
    assert!(
        block.starts_with(&format!(
            "C:{}\nP:demo\nV:1.1-r0\nA:x86_64\nS:{}\n",
            c_of(&v2),
            std::fs::metadata(&v2).unwrap().len()
        )),
        "{block}"
    );
    assert!(
        block.contains("D:so:libdemo.so.2 so:libc.musl-x86_64.so.1\n"),
        "{block}"
    );
    assert!(block.contains("R:new.txt\na:0:0:600\nZ:"), "{block}");
    assert!(block.contains("R:demo-hard\na:0:0:755\nZ:"), "{block}");
    assert!(!block.contains("old.txt"), "{block}");
    // Blocks sorted by name as apk-tools 2 writes them; libdemo2 new, libdemo untouched.
    let names: Vec<&str> = db
        .split("\n\n")
        .filter_map(|b| b.lines().find_map(|l| l.strip_prefix("P:")))
        .collect();
    assert_eq!(names, ["busybox", "demo", "libdemo", "libdemo2", "musl"]);
    // regraft's own reader agrees.
    let pk: Value = serde_json::from_str(&regraft_ok(&[
        "packages",
        &format!("docker-archive:{out}"),
        "--json",
    ]))
    .unwrap();
    let mut got: Vec<(String, String, String)> = pk["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let f = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            (f("name"), f("version"), f("db"))
        })
        .collect();
    got.sort();
    let want: Vec<(String, String, String)> = [
        ("busybox", "1.35.0-r0"),
        ("demo", "1.1-r0"),
        ("libdemo", "1.0-r0"),
        ("libdemo2", "2.0-r0"),
        ("musl", "1.2.3-r0"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string(), "apk".to_string()))
    .collect();
    assert_eq!(got, want, "{pk}");
    // scripts.tar: demo 1.0's entry out, 1.1's in (named after its identity), busybox's kept.
    let st = tool_ok(
        "tar",
        &[
            "-tf",
            rootfs.join("lib/apk/db/scripts.tar").to_str().unwrap(),
        ],
    );
    let st: Vec<&str> = st.lines().collect();
    assert!(
        st.iter().any(|l| l.ends_with(&format!(
            "busybox-1.35.0-r0.Q1{}.trigger",
            b64(&sha1_of(b"busybox"))
        ))),
        "{st:?}"
    );
    assert!(
        st.contains(&format!("demo-1.1-r0.{}.post-upgrade", c_of(&v2)).as_str()),
        "{st:?}"
    );
    assert!(!st.iter().any(|l| l.contains("demo-1.0-r0")), "{st:?}");
    // The same inputs give the same bytes.
    let out2 = out_dir.join("again.tar").display().to_string();
    let mut again = args.clone();
    let pos = again.iter().position(|a| *a == out.as_str()).unwrap();
    again[pos] = &out2;
    regraft_ok(&again);
    assert_eq!(sha256_file(Path::new(&out)), sha256_file(Path::new(&out2)));
}

#[test]
fn apk_bad_inputs_write_nothing() {
    let w = demo();
    let out_dir = w.dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("x.tar").display().to_string();
    let run = |repo: &Path, extra: &[&str]| -> String {
        let mut a = vec![
            "patch",
            &w.image,
            "--repo",
            repo.to_str().unwrap(),
            "--package",
            "demo",
            "-o",
            &out,
            "--accept",
            "maintainer-script:demo",
            "--accept",
            "maintainer-script:busybox",
        ];
        a.extend(extra);
        let err = regraft_fails(&a, 1);
        assert!(
            only_dir_entries(&out_dir).is_empty(),
            "{:?}",
            only_dir_entries(&out_dir)
        );
        err
    };
    let copy_repo = |name: &str| -> PathBuf {
        let r = w.dir.join(name);
        tool_ok("cp", &["-a", w.repo.to_str().unwrap(), r.to_str().unwrap()]);
        r
    };
    // An index whose C: is not the package's.
    let lying = copy_repo("lying");
    mkapk(&[
        "index",
        lying.to_str().unwrap(),
        "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ]);
    let err = run(&lying, &[]);
    assert!(
        err.contains("demo-1.1-r0.apk: checksum mismatch") && err.contains("C:Q1AAAA"),
        "{err}"
    );
    // A dependency nothing serves: no libdemo2 anywhere.
    let thin = copy_repo("thin");
    for v in ["2.0-r0", "2.1-r0"] {
        std::fs::remove_file(thin.join(format!("libdemo2-{v}.apk"))).unwrap();
        std::fs::remove_file(thin.join(format!("libdemo2-{v}.apk.json"))).unwrap();
    }
    mkapk(&["index", thin.to_str().unwrap()]);
    let err = run(&thin, &[]);
    assert!(
        err.contains("demo 1.1-r0 depends on so:libdemo.so.2: nothing installed serves it"),
        "{err}"
    );
    // A data segment that climbs out with ../ (a directory of .apk files, no index).
    let evil = w.dir.join("evil");
    apk(
        &evil,
        "demo",
        "1.2-r0",
        &[],
        json!([
            ["usr", "dir", null, 0o755],
            ["usr/../../../tmp/regraft-apk-escape", "file", "x", 0o644]
        ]),
        json!({}),
    );
    let err = run(&evil, &[]);
    assert!(
        err.contains("demo-1.2-r0.apk") && err.contains("'..'"),
        "{err}"
    );
    assert!(!Path::new("/tmp/regraft-apk-escape").exists());
    // A file whose APK-TOOLS.checksum.SHA1 is not its content's.
    let liar = w.dir.join("liar");
    apk(
        &liar,
        "demo",
        "1.3-r0",
        &[],
        json!([
            ["usr", "dir", null, 0o755],
            ["usr/bin", "dir", null, 0o755],
            ["usr/bin/demo", "file", "not a program", 0o755]
        ]),
        json!({"lie_sha1": ["usr/bin/demo"]}),
    );
    let err = run(&liar, &[]);
    assert!(
        err.contains("/usr/bin/demo: checksum mismatch: APK-TOOLS.checksum.SHA1"),
        "{err}"
    );
    // Bombs: a first segment that inflates past what a control segment may be (64 MiB), and a
    // data segment past --max-layer-size (a 100 MiB file of zeros, 100 KiB gzipped).
    let bombs = w.dir.join("bombs");
    std::fs::create_dir_all(bombs.join("control")).unwrap();
    std::fs::create_dir_all(bombs.join("data")).unwrap();
    let py = r##"
import gzip, io, sys, tarfile, zlib
def gz_stream(chunks):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = b"".join(c.compress(x) for x in chunks)
    return out + c.flush()
zeros = b"\0" * (1 << 20)
def cut_tar(name, data):
    b = io.BytesIO(); t = tarfile.open(fileobj=b, mode="w")
    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
    end = t.offset; t.close(); return b.getvalue()[:end]
info = b"pkgname = demo\npkgver = 1.6-r0\narch = x86_64\n"
control = gzip.compress(cut_tar(".PKGINFO", info), mtime=0)
big = tarfile.TarInfo("usr/big"); big.size = 100 << 20
open(sys.argv[1] + "/control/demo-1.5-r0.apk", "wb").write(gz_stream([zeros] * 65) + control)
open(sys.argv[1] + "/data/demo-1.6-r0.apk", "wb").write(control + gz_stream([big.tobuf()] + [zeros] * 100))
"##;
    tool_ok("python3", &["-c", py, bombs.to_str().unwrap()]);
    let err = run(&bombs.join("control"), &[]);
    assert!(
        err.contains("demo-1.5-r0.apk: not a valid .apk")
            && err.contains("inflates to more than 67108864 bytes"),
        "{err}"
    );
    let err = run(&bombs.join("data"), &["--max-layer-size", "64M"]);
    assert!(
        err.contains("demo-1.6-r0.apk: data segment")
            && err.contains("more than 67108864 bytes: --max-layer-size"),
        "{err}"
    );
    // A new version that conflicts with an installed package.
    let conflict = w.dir.join("conflict");
    apk(
        &conflict,
        "demo",
        "1.4-r0",
        &[("depend", "!libdemo")],
        json!([["usr", "dir", null, 0o755]]),
        json!({}),
    );
    let err = run(&conflict, &[]);
    assert!(
        err.contains("conflicts with libdemo") && err.contains("never does"),
        "{err}"
    );
}

/// A Trivy report about the image: the lowest version that fixes the finding, in apk's order
/// (`1.1_alpha1` comes before `1.1`; dpkg's order would put it after, and take `1.1`).
#[test]
fn apk_report_takes_the_lowest_fixing_version_in_apks_order() {
    let w = demo();
    let repo = w.dir.join("rc");
    tool_ok(
        "cp",
        &["-a", w.repo.to_str().unwrap(), repo.to_str().unwrap()],
    );
    apk(
        &repo,
        "demo",
        "1.1_alpha1-r0",
        &[("depend", "so:libdemo.so.2")],
        json!([["usr", "dir", null, 0o755]]),
        json!({}),
    );
    mkapk(&["index", repo.to_str().unwrap()]);
    let cfg: Value =
        serde_json::from_str(&tool_ok("skopeo", &["inspect", "--config", &w.image])).unwrap();
    let report = json!({
        "SchemaVersion": 2,
        "ArtifactName": "demo",
        "ArtifactType": "container_image",
        "Metadata": {"OS": {"Family": "alpine", "Name": "3.18.4"}, "DiffIDs": cfg["rootfs"]["diff_ids"]},
        "Results": [{"Target": "demo (alpine 3.18.4)", "Class": "os-pkgs", "Type": "alpine",
            "Vulnerabilities": [{"VulnerabilityID": "CVE-2099-0002", "PkgName": "demo",
                "InstalledVersion": "1.0-r0", "FixedVersion": "1.0-r1", "Severity": "HIGH"}]}]
    });
    let rp = w.dir.join("trivy.json");
    std::fs::write(&rp, report.to_string()).unwrap();
    let out = regraft_ok(&[
        "patch",
        &w.image,
        "--repo",
        repo.to_str().unwrap(),
        "--report",
        rp.to_str().unwrap(),
        "--accept",
        "maintainer-script:demo",
        "--accept",
        "maintainer-script:busybox",
        "--dry-run",
        "--json",
    ]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    let ups: Vec<(&str, &str)> = doc["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["package"].as_str().unwrap(), u["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ups,
        [("demo", "1.1_alpha1-r0"), ("libdemo2", "2.0-r0")],
        "{doc:#}"
    );
    assert!(
        doc["updates"][0]["why"]
            .as_str()
            .unwrap()
            .contains("CVE-2099-0002")
    );
    assert!(
        doc["updates"][0]["apk"]
            .as_str()
            .unwrap()
            .ends_with("demo-1.1_alpha1-r0.apk")
    );
    // The dry run's plan in text, on stdout.
    let text = regraft_ok(&[
        "patch",
        &w.image,
        "--repo",
        repo.to_str().unwrap(),
        "--report",
        rp.to_str().unwrap(),
        "--accept",
        "maintainer-script:demo",
        "--accept",
        "maintainer-script:busybox",
        "--dry-run",
    ]);
    assert!(
        text.contains("demo 1.0-r0 -> 1.1_alpha1-r0 (fixes CVE-2099-0002)"),
        "{text}"
    );
    assert!(text.contains("libdemo2 (new) -> 2.0-r0"), "{text}");
    assert!(text.contains("NOT RUN (accepted)"), "{text}");
    // --all: every installed package the repositories have newer, at the newest.
    let doc: Value = serde_json::from_str(&regraft_ok(&[
        "patch",
        &w.image,
        "--repo",
        repo.to_str().unwrap(),
        "--all",
        "--accept",
        "maintainer-script:demo",
        "--accept",
        "maintainer-script:busybox",
        "--dry-run",
        "--json",
    ]))
    .unwrap();
    let ups: Vec<(&str, &str)> = doc["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["package"].as_str().unwrap(), u["to"].as_str().unwrap()))
        .collect();
    assert_eq!(ups, [("demo", "1.1-r0"), ("libdemo2", "2.0-r0")], "{doc:#}");
}

/// Signatures with `--keyring`: the repository signed in the test with an RSA key made by
/// openssl (as abuild signs: `.SIGN.RSA.NAME` over the compressed bytes that follow) verifies,
/// as an index and as a directory of packages; an index changed after signing, a key of the
/// same name that did not sign, and an unsigned index are each refused by file name with
/// nothing written; without --keyring the plan says the signatures are not verified.
#[test]
fn apk_signatures_are_verified_with_the_keyring_and_a_tampered_index_is_refused() {
    let w = demo();
    let keys = w.dir.join("keys");
    let other = w.dir.join("other-keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    let name = "regraft-test.rsa.pub";
    let private = w.dir.join("test.rsa");
    tool_ok(
        "openssl",
        &["genrsa", "-out", private.to_str().unwrap(), "2048"],
    );
    tool_ok(
        "openssl",
        &[
            "rsa",
            "-in",
            private.to_str().unwrap(),
            "-pubout",
            "-out",
            keys.join(name).to_str().unwrap(),
        ],
    );
    let wrong = w.dir.join("wrong.rsa");
    tool_ok(
        "openssl",
        &["genrsa", "-out", wrong.to_str().unwrap(), "2048"],
    );
    tool_ok(
        "openssl",
        &[
            "rsa",
            "-in",
            wrong.to_str().unwrap(),
            "-pubout",
            "-out",
            other.join(name).to_str().unwrap(),
        ],
    );
    let signed = w.dir.join("signed");
    tool_ok(
        "cp",
        &["-a", w.repo.to_str().unwrap(), signed.to_str().unwrap()],
    );
    mkapk(&[
        "sign",
        signed.to_str().unwrap(),
        private.to_str().unwrap(),
        name,
    ]);

    let out_dir = w.dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("patched.tar").display().to_string();
    let run = |repo: &Path, keyring: Option<&Path>| {
        let mut a: Vec<String> = [
            "patch",
            &w.image,
            "--repo",
            repo.to_str().unwrap(),
            "--package",
            "demo",
            "--accept",
            "maintainer-script:demo",
            "--accept",
            "maintainer-script:busybox",
            "-o",
            &out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(k) = keyring {
            a.extend(["--keyring".to_string(), k.display().to_string()]);
        }
        let r: Vec<&str> = a.iter().map(String::as_str).collect();
        regraft(&r)
    };

    // Unsigned but given no keyring: written, and the plan says what was not verified.
    let o = run(&w.repo, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let unsigned_out = sha256_file(Path::new(&out));
    assert!(String::from_utf8_lossy(&o.stderr).contains("absent (unsigned index)"));
    std::fs::remove_file(&out).unwrap();

    // The signed index verifies with the key directory (as /etc/apk/keys) and with the key file.
    for k in [keys.clone(), keys.join(name)] {
        let o = run(&signed, Some(&k));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert!(err.contains(&format!("verified with key {name}")), "{err}");
        std::fs::remove_file(&out).unwrap();
    }
    // A directory of signed packages (no index): each package's signature is checked.
    let loose = w.dir.join("loose");
    tool_ok(
        "cp",
        &["-a", signed.to_str().unwrap(), loose.to_str().unwrap()],
    );
    std::fs::remove_file(loose.join("APKINDEX.tar.gz")).unwrap();
    let o = run(&loose, Some(&keys));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!("each signature verified, with key(s) {name}")),
        "{err}"
    );
    // Signed packages are other files (a signature segment more, so another S: in apk's
    // database): another result than the unsigned repository's.
    assert_ne!(sha256_file(Path::new(&out)), unsigned_out);
    std::fs::remove_file(&out).unwrap();

    // Refused, naming the file, nothing written.
    let idx = |d: &Path| d.join("APKINDEX.tar.gz").display().to_string();
    let tampered = w.dir.join("tampered");
    tool_ok(
        "cp",
        &["-a", signed.to_str().unwrap(), tampered.to_str().unwrap()],
    );
    let raw = std::fs::read(tampered.join("APKINDEX.tar.gz")).unwrap();
    // Keep the signature segment, replace what it signs with the unsigned repository's index.
    let mut d = flate2::bufread::GzDecoder::new(&raw[..]);
    std::io::copy(&mut d, &mut std::io::sink()).unwrap();
    let sig_len = raw.len() - d.into_inner().len();
    let mut forged = raw[..sig_len].to_vec();
    forged.extend(std::fs::read(w.repo.join("APKINDEX.tar.gz")).unwrap());
    std::fs::write(tampered.join("APKINDEX.tar.gz"), forged).unwrap();
    let cases = [
        (
            tampered.clone(),
            keys.clone(),
            idx(&tampered),
            "does not verify",
        ),
        (
            signed.clone(),
            other.clone(),
            idx(&signed),
            "does not verify",
        ),
        (w.repo.clone(), keys.clone(), idx(&w.repo), "not signed"),
    ];
    for (repo, k, file, why) in cases {
        let o = run(&repo, Some(&k));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", repo.display());
        assert!(err.contains(&file) && err.contains(why), "{why}: {err}");
        assert!(only_dir_entries(&out_dir).is_empty(), "{err}");
    }
}
