//! The rough edges a new user hits on real images (issue 16), each reproduced first: an image
//! saved by ID, a layer tar that stops after its last file's data (umoci 0.4.7 `insert`), an
//! output that is also an input, output modes and the umask, a text file given as an image, an
//! output under a regular file, the default name of a result, and `check --path` with no old
//! base. Docker's own images and `docker load`/`run` are in `docker.rs`.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// A copy of the archive `src` with `manifest.json` rewritten by `edit`.
fn with_manifest(src: &str, dst: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let mut ar = tar::Archive::new(std::fs::File::open(src).unwrap());
    let mut b = tar::Builder::new(std::fs::File::create(dst).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        if name == "manifest.json" {
            let mut m: serde_json::Value = serde_json::from_slice(&data).unwrap();
            edit(&mut m);
            data = serde_json::to_vec(&m).unwrap();
        }
        let mut h = e.header().clone();
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, &data[..]).unwrap();
    }
    b.finish().unwrap();
}

/// `docker save IMAGE_ID` writes `"RepoTags": null`: the image is read, shown untagged, and a
/// graft of it gives an untagged result (no name is made up).
#[test]
fn an_image_saved_by_id_is_read() {
    let d = tmp();
    let byid = d.path().join("byid.tar");
    with_manifest(&fixture("vendor-legacy.tar"), &byid, |m| {
        m[0]["RepoTags"] = serde_json::Value::Null;
    });
    let byid = byid.display().to_string();
    let info = inspect_json(&byid, &[]);
    assert_eq!(info["tags"], serde_json::json!([]), "{info:#}");
    let out = d.path().join("out.tar").display().to_string();
    regraft_ok(&[
        "--from",
        &byid,
        "--onto",
        &fixture("base.tar"),
        "--path",
        "/opt/vendor",
        "-o",
        &out,
    ]);
    assert_eq!(
        tar_member_json(&out, "manifest.json")[0]["RepoTags"],
        serde_json::json!([])
    );
    skopeo_inspect(&format!("docker-archive:{out}"));
}

/// The OCI layout `fixtures/oci` with one file inserted by Debian's umoci 0.4.7, whose `insert`
/// ends the new layer right after the file's data (umoci#436). Returns the reference.
fn umoci_inserted(dir: &Path) -> String {
    let layout = dir.join("layout");
    tool_ok(
        "cp",
        &["-r", &fixture("oci"), &layout.display().to_string()],
    );
    let file = dir.join("note.txt");
    std::fs::write(&file, "inserted by umoci\n").unwrap();
    let r = format!("{}:oldbase", layout.display());
    tool_ok(
        "umoci",
        &[
            "insert",
            "--image",
            &r,
            &file.display().to_string(),
            "/opt/note.txt",
        ],
    );
    format!("oci:{r}")
}

/// The uncompressed tar of `image`'s top layer (gzip as umoci writes it).
fn top_layer_tar(image: &str, dir: &Path) -> Vec<u8> {
    let info = inspect_json(image, &[]);
    let layers = info["layers"].as_array().unwrap();
    let top = layers.last().unwrap()["digest"].as_str().unwrap();
    let path = image.trim_start_matches("oci:").rsplit_once(':').unwrap().0;
    let blob = Path::new(path)
        .join("blobs/sha256")
        .join(&top["sha256:".len()..]);
    let out = Command::new("zcat").arg(&blob).output().unwrap();
    let _ = dir;
    out.stdout
}

/// A layer that stops after its last file's data (no padding, no end blocks) is read as Docker
/// reads it, with a warning naming the layer; a path graft of its file writes a proper tar.
#[test]
fn a_layer_without_its_tar_end_is_read_with_a_warning() {
    let d = tmp();
    let image = umoci_inserted(d.path());
    let raw = top_layer_tar(&image, d.path());
    assert_ne!(
        raw.len() % 512,
        0,
        "umoci 0.4.7 no longer writes unpadded layers"
    );
    let o = regraft(&["ls", &image, "/opt"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("/opt/note.txt"));
    assert!(
        err.contains("layer 1") && err.contains("without the padding"),
        "{err}"
    );
    assert_eq!(
        err.matches("warning").count(),
        1,
        "one warning per layer: {err}"
    );
    // The grafted file, rewritten, gets a proper end; the program that reads it is unaffected.
    let out = d.path().join("out");
    let outr = format!("oci:{}:t", out.display());
    regraft_ok(&[
        "--from",
        &image,
        "--onto",
        &fixture("base.tar"),
        "--path",
        "/opt/note.txt",
        "-o",
        &outr,
        "--compression",
        "gzip",
    ]);
    let new = top_layer_tar(&outr, d.path());
    assert_eq!(new.len() % 512, 0);
    assert!(new.ends_with(&[0u8; 1024]), "no end-of-archive blocks");
    let root = unpack(&outr, d.path());
    assert_eq!(
        std::fs::read_to_string(root.join("opt/note.txt")).unwrap(),
        "inserted by umoci\n"
    );
}

/// A tar that ends inside its last file's data, or inside a header, is truncated: an error
/// naming the layer, whether the layer is streamed (`ls`) or walked by its headers (a layer-mode
/// graft copies it whole), though the blob's digest verifies.
#[test]
fn a_truncated_layer_tar_stays_an_error() {
    let d = tmp();
    let full = raw_entry(b"opt/data.bin", b'0', &[7u8; 3000], b"", 0o644);
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("in-data", full[..512 + 1000].to_vec(), "truncated"),
        ("in-header", [&full[..], &full[..100]].concat(), "truncated"),
        // On a block boundary inside the data: no padding to add, still truncated.
        ("on-boundary", full[..1024].to_vec(), "truncated"),
        ("in-padding", full[..512 + 3000 + 7].to_vec(), ""),
        // A whole tar with its end blocks, then a ragged tail: read as it is, no warning.
        (
            "tail",
            [end_tar(full.clone()), vec![1u8; 100]].concat(),
            "ok",
        ),
    ];
    for (name, layer, want) in cases {
        let dir = d.path().join(name);
        let base = raw_entry(b"etc/hostname", b'0', b"x\n", b"", 0o644);
        let image = layout_from_layers(&dir, &[end_tar(base), layer]);
        for args in [
            vec!["ls", image.as_str(), "/opt"],
            vec![
                "--from",
                image.as_str(),
                "--onto",
                image.as_str(),
                "--old-base-layers",
                "1",
            ],
        ] {
            let mut args = args;
            let out = dir.join("out.tar").display().to_string();
            if args[0] == "--from" {
                args.extend(["-o", out.as_str(), "--force"]);
            }
            let o = regraft(&args);
            let err = String::from_utf8_lossy(&o.stderr);
            if want == "ok" {
                assert!(o.status.success(), "{name} {args:?}: {err}");
                assert!(!err.contains("regraft: warning"), "{name}: {err}");
            } else if want.is_empty() {
                assert!(o.status.success(), "{name} {args:?}: {err}");
                assert!(err.contains("without the padding"), "{name}: {err}");
            } else {
                assert_eq!(o.status.code(), Some(1), "{name} {args:?}: {err}");
                assert!(
                    err.contains("layer 1") && err.contains(want),
                    "{name} {args:?}: {err}"
                );
                assert!(!Path::new(&out).exists());
            }
        }
    }
}

/// The same file as input and output is refused before anything is read or written: the
/// input is left as it was.
#[test]
fn an_output_that_is_an_input_is_refused() {
    let d = tmp();
    let vendor = d.path().join("vendor.tar");
    std::fs::copy(fixture("vendor.tar"), &vendor).unwrap();
    let before = sha256_file(&vendor);
    let v = vendor.display().to_string();
    let base = fixture("base.tar");
    // Through another spelling of the same path, and through a hard link.
    let other = format!("{}/./vendor.tar", d.path().display());
    let err = regraft_fails(
        &[
            "--from",
            &v,
            "--onto",
            &base,
            "--path",
            "/opt/vendor",
            "-o",
            &other,
        ],
        2,
    );
    assert!(err.contains("the same file as --from"), "{err}");
    let link = d.path().join("link.tar");
    std::fs::hard_link(&vendor, &link).unwrap();
    let err = regraft_fails(
        &[
            "config",
            &v,
            "--user",
            "1",
            "-o",
            &link.display().to_string(),
        ],
        2,
    );
    assert!(err.contains("the same file as IMAGE"), "{err}");
    let err = regraft_fails(
        &["--from", &base, "--onto", &v, "--path", "/opt", "-o", &v],
        2,
    );
    assert!(err.contains("--onto"), "{err}");
    let err = regraft_fails(
        &[
            "config",
            &v,
            "--user",
            "1",
            "-o",
            &d.path().join("x.tar").display().to_string(),
            "--digestfile",
            &v,
        ],
        2,
    );
    assert!(
        err.contains("--digestfile") && err.contains("the same file as IMAGE"),
        "{err}"
    );
    let err = regraft_fails(
        &[
            "--from",
            &v,
            "--onto",
            &base,
            "--path",
            "/opt",
            "-o",
            &d.path().join("y.tar").display().to_string(),
            "--digestfile",
            &other,
        ],
        2,
    );
    assert!(err.contains("--digestfile"), "{err}");
    assert!(!d.path().join("x.tar").exists() && !d.path().join("y.tar").exists());
    assert_eq!(sha256_file(&vendor), before);
}

/// Runs regraft under a umask.
fn regraft_umask(mask: &str, args: &[&str]) {
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("umask {mask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_regraft"))
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Outputs get the modes `cp` would give them (0666/0777 less the umask), not a temporary
/// file's private 0600, so another user or a CI step under another uid can read them.
#[test]
fn outputs_follow_the_umask() {
    let d = tmp();
    let at = |n: &str| d.path().join(n);
    let s = |p: std::path::PathBuf| p.display().to_string();
    regraft_umask("022", &["convert", &fixture("vendor.tar"), &s(at("a.tar"))]);
    assert_eq!(mode(&at("a.tar")), 0o644);
    regraft_umask(
        "022",
        &[
            "convert",
            &fixture("vendor.tar"),
            &format!("oci:{}:t", s(at("l"))),
        ],
    );
    assert_eq!(mode(&at("l")), 0o755);
    assert_eq!(mode(&at("l/index.json")), 0o644);
    assert_eq!(mode(&at("l/blobs/sha256")), 0o755);
    for b in std::fs::read_dir(at("l/blobs/sha256")).unwrap() {
        assert_eq!(mode(&b.unwrap().path()), 0o644);
    }
    regraft_umask(
        "027",
        &[
            "--from",
            &fixture("vendor.tar"),
            "--onto",
            &fixture("base.tar"),
            "--path",
            "/opt/vendor",
            "-o",
            &s(at("g.tar")),
        ],
    );
    assert_eq!(mode(&at("g.tar")), 0o640);
    regraft_umask(
        "077",
        &[
            "config",
            &fixture("vendor.tar"),
            "--user",
            "1",
            "-o",
            &s(at("c.tar")),
        ],
    );
    assert_eq!(mode(&at("c.tar")), 0o600);
}

/// A text file given as an image is named as not an image; its lines are not printed.
#[test]
fn a_text_file_is_not_echoed() {
    let d = tmp();
    let notes = d.path().join("notes.txt");
    let text: String = (0..40)
        .map(|i| format!("line {i}: the password is hunter2\n"))
        .collect();
    std::fs::write(&notes, text).unwrap();
    let n = notes.display().to_string();
    for args in [
        vec!["inspect", n.as_str()],
        vec![
            "--from",
            n.as_str(),
            "--onto",
            n.as_str(),
            "-o",
            "/dev/null/x.tar",
        ],
    ] {
        let err = regraft_fails(&args, 1);
        assert!(
            !err.contains("hunter2") && !err.contains("password"),
            "{err}"
        );
        assert!(
            err.contains("notes.txt") && err.contains("not a tar archive"),
            "{err}"
        );
    }
}

/// A docker save compressed with xz (which regraft does not read) is named as such.
#[test]
fn an_xz_archive_says_xz() {
    let d = tmp();
    let xz = d.path().join("v.tar.xz");
    let o = Command::new("xz")
        .args(["-1", "-c", &fixture("vendor.tar")])
        .output()
        .unwrap();
    std::fs::write(&xz, o.stdout).unwrap();
    let err = regraft_fails(&["inspect", &xz.display().to_string()], 1);
    assert!(
        err.contains("xz-compressed") && err.contains("xz -d"),
        "{err}"
    );
}

/// `-o FILE/x.tar` where FILE is a regular file names FILE; a missing directory is named too.
#[test]
fn an_output_under_a_file_names_the_file() {
    let d = tmp();
    let plain = d.path().join("plain.tar");
    std::fs::write(&plain, "x").unwrap();
    let v = fixture("vendor.tar");
    for out in [
        format!("{}/x.tar", plain.display()),
        format!("oci:{}/a/b:t", plain.display()),
    ] {
        let err = regraft_fails(&["convert", &v, &out], 2);
        assert!(
            err.contains(&format!("{} is not a directory", plain.display())),
            "{err}"
        );
    }
    let missing = d.path().join("nodir/x.tar");
    let err = regraft_fails(&["convert", &v, &missing.display().to_string()], 2);
    assert!(err.contains("nodir does not exist"), "{err}");
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), "x");
}

/// Without --tag, a graft's result is named after the vendor with `-regraft` appended, so that
/// loading it never moves the vendor's own tag; --tag and the output's name still decide.
#[test]
fn the_default_name_is_not_the_vendors() {
    let d = tmp();
    let out = d.path().join("out.tar").display().to_string();
    let o = regraft(&[
        "--from",
        &fixture("vendor.tar"),
        "--onto",
        &fixture("base.tar"),
        "--path",
        "/opt/vendor",
        "-o",
        &out,
    ]);
    assert!(o.status.success());
    let tags = &tar_member_json(&out, "manifest.json")[0]["RepoTags"];
    assert_eq!(tags, &serde_json::json!(["vendor:1.0-regraft"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("as vendor:1.0-regraft"));
    let named = format!(
        "docker-archive:{}:fixed:2",
        d.path().join("n.tar").display()
    );
    regraft_ok(&[
        "--from",
        &fixture("vendor.tar"),
        "--onto",
        &fixture("base.tar"),
        "--path",
        "/opt/vendor",
        "-o",
        &named,
    ]);
    let tags = &tar_member_json(
        &d.path().join("n.tar").display().to_string(),
        "manifest.json",
    )[0]["RepoTags"];
    assert_eq!(tags, &serde_json::json!(["fixed:2"]));
}

/// `check --path` checks the selected paths: no old base is needed, so no warning that it was
/// guessed; without --path the guess is still said.
#[test]
fn check_with_paths_does_not_warn_about_the_old_base() {
    let o = regraft(&["check", &fixture("vendor.tar"), "--path", "/opt/vendor"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("guess"), "{err}");
    let o = regraft(&["check", &fixture("vendor.tar")]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("guess"));
}

/// The README's examples that need only the committed fixtures run, in order, in a fresh
/// directory, as a newcomer would type them (the `fixtures/real/` ones need the images
/// tests/run.sh builds, and the README says so).
#[test]
fn the_readme_examples_run_in_order() {
    let d = tmp();
    std::os::unix::fs::symlink(root().join("fixtures"), d.path().join("fixtures")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_regraft"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for line in readme.lines() {
        let Some(cmd) = line.trim_start().strip_prefix("$ ") else {
            continue;
        };
        if !cmd.contains("regraft") || cmd.contains("fixtures/real") || cmd.contains("NEW-BASE") {
            continue;
        }
        let o = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(d.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "README: {cmd}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        ran += 1;
    }
    // The first command, as the README's opening block gives it (through cargo there).
    let first = readme
        .lines()
        .find(|l| l.starts_with("cargo run --release -- "))
        .unwrap();
    let args: Vec<&str> = first["cargo run --release -- ".len()..]
        .split(' ')
        .collect();
    let o = Command::new(env!("CARGO_BIN_EXE_regraft"))
        .args(&args)
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{first}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(d.path().join("fixed.tar").exists());
    assert!(ran >= 6, "only {ran} README examples found");
}
