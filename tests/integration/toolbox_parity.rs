//! Toolbox parity with crane, regctl and umoci (issue 21): config edits that remove and clear,
//! raw documents, the spellings users type, annotations, `append`, `flatten`. Every result is
//! read back by a tool that shares no code with regraft: `skopeo inspect`, `umoci stat` /
//! `umoci unpack`, GNU tar, and Docker (`docker load` + `docker inspect`) when the test daemon
//! runs.

use crate::common::*;
use crate::docker::docker;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// regraft with extra environment variables.
fn regraft_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regraft"));
    c.args(args).env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run regraft")
}

fn skopeo_config(r: &str) -> Value {
    serde_json::from_str(&tool_ok("skopeo", &["inspect", "--config", "--raw", r])).unwrap()
}

fn skopeo_raw(r: &str) -> Value {
    serde_json::from_str(&tool_ok("skopeo", &["inspect", "--raw", r])).unwrap()
}

/// `umoci stat --json` of a layout tag: its history as umoci reads it.
fn umoci_history(layout: &Path, tag: &str) -> Vec<Value> {
    let out = tool_ok(
        "umoci",
        &[
            "stat",
            "--image",
            &format!("{}:{tag}", layout.display()),
            "--json",
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    v["history"].as_array().cloned().unwrap_or_default()
}

fn env_names(c: &Value) -> Vec<String> {
    c["config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().split('=').next().unwrap().to_string())
        .collect()
}

/// Every removing and clearing edit in one command, on the real Docker-built service (docker
/// archive in, OCI layout out) and the real vendor (OCI layout in, docker archive out): skopeo
/// reads each field as asked, the layers are the input's digest for digest, umoci sees the
/// history entry only when `--history-comment` asks for it, and Docker loads the archive and
/// reports the same config.
#[test]
fn config_edits_remove_and_clear_in_one_command() {
    let d = tmp();
    let input = real("vendor-real.tar");
    let before = skopeo_config(&format!("docker-archive:{input}"));
    assert!(env_names(&before).contains(&"VENDOR_HOME".to_string()));
    let out = d.path().join("edited.tar");
    regraft_ok(&[
        "config",
        &input,
        "--env-rm",
        "VENDOR_HOME",
        "--label-rm",
        "org.example.fixture",
        "--expose",
        "8080",
        "--expose",
        "53/udp",
        "--volume",
        "/data",
        "--healthcheck",
        r#"{"Test":["CMD","/opt/vendor/bin/app","--health"],"Interval":5000000000,"Retries":2}"#,
        "--stop-signal",
        "SIGQUIT",
        "--os-version",
        "12.4",
        "--author",
        "ops team",
        "--created",
        "2024-02-03T04:05:06Z",
        "--cmd",
        "",
        "--history-comment",
        "trimmed env",
        "--tag",
        "regraft-test/parity-config:1",
        "-o",
        &s(&out),
    ]);
    let r = format!("docker-archive:{}", out.display());
    let c = skopeo_config(&r);
    assert!(!env_names(&c).contains(&"VENDOR_HOME".to_string()), "{c}");
    assert!(env_names(&c).contains(&"PATH".to_string()), "{c}");
    assert!(c["config"]["Labels"].get("org.example.fixture").is_none());
    assert_eq!(
        c["config"]["Labels"]["org.example.debian.suite"], "bookworm",
        "other labels stay"
    );
    assert_eq!(
        c["config"]["ExposedPorts"],
        json!({"8080/tcp":{}, "53/udp":{}})
    );
    assert_eq!(c["config"]["Volumes"], json!({"/data":{}}));
    assert_eq!(c["config"]["Healthcheck"]["Retries"], 2);
    assert_eq!(c["config"]["StopSignal"], "SIGQUIT");
    assert!(c["config"].get("Cmd").is_none_or(Value::is_null), "{c}");
    assert_eq!(c["config"]["Entrypoint"], before["config"]["Entrypoint"]);
    assert_eq!(c["os.version"], "12.4");
    assert_eq!(c["author"], "ops team");
    assert_eq!(c["created"], "2024-02-03T04:05:06Z");
    assert_eq!(c["rootfs"], before["rootfs"]);
    let hist = c["history"].as_array().unwrap();
    let last = hist.last().unwrap();
    assert_eq!(last["comment"], "trimmed env");
    assert_eq!(last["empty_layer"], true);
    assert_eq!(hist.len(), before["history"].as_array().unwrap().len() + 1);
    let layers = |r: &str| skopeo_inspect(r)["Layers"].clone();
    assert_eq!(layers(&r), layers(&format!("docker-archive:{input}")));

    // OCI layout in, OCI layout out; no --history-comment: no history entry (umoci's view).
    let layout = d.path().join("layout");
    let src = format!("oci:{}:1.0", real("vendor-real.oci"));
    regraft_ok(&[
        "config",
        &src,
        "--label-rm",
        "org.example.vendor",
        "--entrypoint",
        "",
        "--cmd",
        "/bin/true",
        "-o",
        &format!("oci:{}:e", layout.display()),
    ]);
    let src_layout = Path::new(&real("vendor-real.oci")).to_path_buf();
    assert_eq!(
        umoci_history(&layout, "e").len(),
        umoci_history(&src_layout, "1.0").len(),
        "a config edit without --history-comment adds no history entry"
    );
    let c2 = skopeo_config(&format!("oci:{}:e", layout.display()));
    assert!(c2["config"]["Entrypoint"].is_null(), "{c2}");
    assert_eq!(c2["config"]["Cmd"], json!(["/bin/true"]));
    assert!(c2["config"]["Labels"].get("org.example.vendor").is_none());

    // Docker agrees on every field it shows.
    if let Some(dk) = docker("config_edits_remove_and_clear_in_one_command") {
        let name = dk.load(&s(&out));
        let i = dk.inspect(&name);
        let cfg = &i["Config"];
        assert_eq!(cfg["StopSignal"], "SIGQUIT");
        assert_eq!(cfg["ExposedPorts"], json!({"8080/tcp":{}, "53/udp":{}}));
        assert_eq!(cfg["Volumes"], json!({"/data":{}}));
        assert_eq!(cfg["Healthcheck"]["Test"][2], "--health");
        assert_eq!(i["Author"], "ops team");
        assert_eq!(i["OsVersion"], "12.4");
        assert!(
            !cfg["Env"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e.as_str().unwrap().starts_with("VENDOR_HOME=")),
            "{cfg}"
        );
        assert_eq!(i["Created"], "2024-02-03T04:05:06Z");
        let h = dk.history(&name);
        assert_eq!(h.last().unwrap(), "regraft config");
    }
}

/// `--created now` reads SOURCE_DATE_EPOCH; `--healthcheck NONE` is Docker's disabled form;
/// `''` removes the stop signal and author.
#[test]
fn created_now_honours_source_date_epoch_and_empty_removes() {
    let d = tmp();
    let out = d.path().join("o.tar");
    let step1 = d.path().join("s1.tar");
    regraft_ok(&[
        "config",
        &fixture("vendor.tar"),
        "--stop-signal",
        "SIGINT",
        "--author",
        "someone",
        "-o",
        &s(&step1),
    ]);
    let o = regraft_env(
        &[
            "config",
            &s(&step1),
            "--created",
            "now",
            "--healthcheck",
            "NONE",
            "--stop-signal",
            "",
            "--author",
            "",
            "-o",
            &s(&out),
        ],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let c = skopeo_config(&format!("docker-archive:{}", out.display()));
    assert_eq!(c["created"], "2023-11-14T22:13:20Z");
    assert_eq!(c["config"]["Healthcheck"], json!({"Test":["NONE"]}));
    assert!(c["config"].get("StopSignal").is_none(), "{c}");
    assert!(c.get("author").is_none(), "{c}");
}

/// Removing what the image does not have, or a malformed value, is a clear error and
/// nothing is written.
#[test]
fn config_edit_bad_input_writes_nothing() {
    let d = tmp();
    let out = d.path().join("never.tar");
    // (args, exit code, what the message says)
    let table: [(&[&str], i32, &str); 6] = [
        (
            &["--env-rm", "NOT_SET"],
            1,
            "--env-rm NOT_SET: the image's Env has no NOT_SET",
        ),
        (&["--label-rm", "nope"], 1, "--label-rm nope"),
        (&["--expose-rm", "9999"], 1, "ExposedPorts has no 9999/tcp"),
        (&["--expose", "99999"], 2, "--expose \"99999\""),
        (
            &["--healthcheck", "{\"Test\":[\"RUN\"]}"],
            2,
            "--healthcheck",
        ),
        (&["--created", "yesterday"], 2, "--created \"yesterday\""),
    ];
    for (args, code, want) in table {
        let mut all = vec!["config", fixture_str("vendor.tar")];
        all.extend(args);
        all.extend(["-o", out.to_str().unwrap()]);
        let err = regraft_fails(&all, code);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
}

fn fixture_str(name: &str) -> &'static str {
    Box::leak(fixture(name).into_boxed_str())
}

/// regraft's stdout as bytes, exit 0 asserted.
fn regraft_bytes(args: &[&str]) -> Vec<u8> {
    let o = regraft(args);
    assert!(
        o.status.success(),
        "regraft {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

/// `manifest` and `config-blob` print the bytes skopeo reads (`--raw`) for an OCI layout and
/// an OCI archive; `digest` is their sha256 and skopeo's digest; for a docker archive the
/// config is the file's, `digest --config` is the image ID Docker gives it after `docker
/// load`, and the manifest is the one `convert` writes (skopeo reads the same from the copy).
/// `blob` streams a layer that hashes to its digest and that GNU tar lists as skopeo's copy.
#[test]
fn raw_documents_are_the_bytes_skopeo_reads() {
    let oci = format!("oci:{}:1.0", real("vendor-real.oci"));
    let arch = format!("oci-archive:{}", real("vendor-real-oci.tar"));
    for r in [&oci, &arch] {
        let m = regraft_bytes(&["manifest", r]);
        let want = tool_ok("skopeo", &["inspect", "--raw", r]);
        assert_eq!(String::from_utf8(m.clone()).unwrap(), want, "{r}");
        let d = String::from_utf8(regraft_bytes(&["digest", r])).unwrap();
        assert_eq!(d.trim(), sha256_hex(&m));
        assert_eq!(d.trim(), skopeo_inspect(r)["Digest"], "{r}");
        let c = regraft_bytes(&["config-blob", r]);
        let want = tool_ok("skopeo", &["inspect", "--config", "--raw", r]);
        assert_eq!(String::from_utf8(c.clone()).unwrap(), want, "{r}");
        let cd = String::from_utf8(regraft_bytes(&["digest", "--config", r])).unwrap();
        assert_eq!(cd.trim(), sha256_hex(&c));
        assert_eq!(skopeo_raw(r)["config"]["digest"], cd.trim());
    }

    // A Docker-built archive: config as stored, image ID as Docker says.
    let svc = real("docker/service.tar");
    let r = format!("docker-archive:{svc}");
    let c = regraft_bytes(&["config-blob", &svc]);
    assert_eq!(
        String::from_utf8(c.clone()).unwrap(),
        tool_ok("skopeo", &["inspect", "--config", "--raw", &r])
    );
    let id = String::from_utf8(regraft_bytes(&["digest", "--config", &svc])).unwrap();
    assert_eq!(id.trim(), sha256_hex(&c));
    if let Some(dk) = docker("raw_documents_are_the_bytes_skopeo_reads") {
        // A copy under a name of its own: other tests load the same fixture.
        let t = tmp();
        let copy = t.path().join("svc.tar");
        regraft_ok(&[
            "convert",
            &svc,
            &format!(
                "docker-archive:{}:regraft-test/parity-raw:1",
                copy.display()
            ),
        ]);
        let name = dk.load(&s(&copy));
        assert_eq!(dk.inspect(&name)["Id"], id.trim());
    }
    let d = tmp();
    let layout = d.path().join("l");
    regraft_ok(&["convert", &svc, &format!("oci:{}:c", layout.display())]);
    let converted = format!("oci:{}:c", layout.display());
    assert_eq!(
        String::from_utf8(regraft_bytes(&["manifest", &svc])).unwrap(),
        tool_ok("skopeo", &["inspect", "--raw", &converted])
    );

    // blob: a layer as stored, checked by its digest and by GNU tar against skopeo's copy.
    let m = skopeo_raw(&oci);
    let layer = m["layers"][1]["digest"].as_str().unwrap().to_string();
    let b = regraft_bytes(&["blob", &oci, &layer]);
    assert_eq!(sha256_hex(&b), layer);
    let got = d.path().join("layer.blob");
    std::fs::write(&got, &b).unwrap();
    let stored = Path::new(&real("vendor-real.oci"))
        .join("blobs/sha256")
        .join(&layer["sha256:".len()..]);
    assert_eq!(
        tool_ok("tar", &["-tvf", &s(&got)]),
        tool_ok("tar", &["-tvf", &s(&stored)])
    );
    // The config and the manifest are blobs too.
    let cd = m["config"]["digest"].as_str().unwrap();
    assert_eq!(
        regraft_bytes(&["blob", &oci, cd]),
        regraft_bytes(&["config-blob", &oci])
    );

    // A digest the image does not have names what it has; a malformed one is a usage error.
    let none = format!("sha256:{}", "0".repeat(64));
    let err = regraft_fails(&["blob", &oci, &none], 1);
    assert!(err.contains("no blob") && err.contains(&layer), "{err}");
    regraft_fails(&["blob", &oci, "sha256:xyz"], 2);
}

/// The spellings users of skopeo, crane and umoci type: `copy` is `convert`, `validate` is
/// `verify`, `oci-dir:` is `oci:`; a daemon's store is refused naming the command that writes
/// its image to a file, and nothing is written.
#[test]
fn other_tools_spellings_work_and_daemons_are_refused() {
    let d = tmp();
    let out = d.path().join("copied");
    regraft_ok(&[
        "copy",
        &format!("oci-dir:{}:1.0", real("vendor-real.oci")),
        &format!("oci-dir:{}:c", out.display()),
    ]);
    let r = format!("oci:{}:c", out.display());
    assert_eq!(
        skopeo_inspect(&r)["Digest"],
        skopeo_inspect(&format!("oci:{}:1.0", real("vendor-real.oci")))["Digest"]
    );
    let o = regraft(&["validate", &format!("oci-dir:{}:c", out.display())]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains(": ok ("));
    let help = regraft_ok(&["--help"]);
    assert!(help.contains("convert") && help.contains("copy"), "{help}");

    let target = d.path().join("never.tar");
    for (input, names) in [
        (
            "docker-daemon:vendor:1.0",
            "docker save -o image.tar vendor:1.0",
        ),
        (
            "containers-storage:localhost/vendor:1.0",
            "skopeo copy containers-storage:localhost/vendor:1.0 oci-archive:image.tar",
        ),
    ] {
        let err = regraft_fails(&["copy", input, &s(&target)], 2);
        assert!(err.contains(names), "{err}");
        let err = regraft_fails(&["config", input, "--user", "1", "-o", &s(&target)], 2);
        assert!(err.contains(names), "{err}");
        let err = regraft_fails(&["copy", &fixture("vendor.tar"), input], 2);
        assert!(err.contains("regraft reads no daemon"), "{err}");
        assert!(!target.exists());
    }
}

/// `--annotation`, `--annotation-rm` and `--label-to-annotation` on `config` (composed with a
/// config edit), `convert` of one image and `convert --all` of an index (the index's
/// annotations): skopeo reads them from the written manifest, umoci unpacks the result (so
/// every digest holds), Docker loads the annotated archive, and removing an annotation the
/// manifest lacks writes nothing.
#[test]
fn annotations_on_every_writing_command() {
    let d = tmp();
    let layout = d.path().join("l");
    let r = |t: &str| format!("oci:{}:{t}", layout.display());
    regraft_ok(&[
        "config",
        &real("vendor-real.tar"),
        "--label-rm",
        "org.example.fixture",
        "--label-to-annotation",
        "--annotation",
        "org.opencontainers.image.source=https://example.org/vendor",
        "--annotation",
        "org.example.vendor=annotated",
        "-o",
        &r("a"),
    ]);
    let m = skopeo_raw(&r("a"));
    let ann = &m["annotations"];
    assert_eq!(
        ann["org.opencontainers.image.source"],
        "https://example.org/vendor"
    );
    assert_eq!(ann["org.example.vendor"], "annotated", "--annotation wins");
    assert_eq!(ann["org.example.debian.suite"], "bookworm", "{m}");
    assert!(
        ann.get("org.example.fixture").is_none(),
        "the removed label: {m}"
    );
    let u = tmp();
    let rootfs = unpack(&r("a"), u.path());
    assert!(rootfs.join("opt/vendor/bin/app").exists());

    // convert: set and remove on a copy; the layers stay the input's.
    regraft_ok(&[
        "convert",
        &r("a"),
        &r("b"),
        "--annotation-rm",
        "org.example.vendor",
        "--annotation",
        "x=1",
    ]);
    let m2 = skopeo_raw(&r("b"));
    assert!(m2["annotations"].get("org.example.vendor").is_none());
    assert_eq!(m2["annotations"]["x"], "1");
    assert_eq!(m2["layers"], m["layers"]);
    let never = d.path().join("never.tar");
    let err = regraft_fails(
        &["convert", &r("b"), &s(&never), "--annotation-rm", "nope"],
        1,
    );
    assert!(
        err.contains("--annotation-rm nope") && err.contains("x"),
        "{err}"
    );
    assert!(!never.exists());
    regraft_fails(
        &["convert", &r("b"), &s(&never), "--annotation", "novalue"],
        2,
    );
    assert!(!never.exists());

    // convert --all: the index is annotated; skopeo copies every platform of it.
    let multi = d.path().join("m");
    regraft_ok(&[
        "convert",
        "--all",
        &fixture("multi.oci"),
        &format!("oci:{}", multi.display()),
        "--annotation",
        "org.opencontainers.image.version=2",
    ]);
    let idx = skopeo_raw(&format!("oci:{}:multi", multi.display()));
    assert_eq!(idx["annotations"]["org.opencontainers.image.version"], "2");
    assert_eq!(idx["manifests"].as_array().unwrap().len(), 2);
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            "--all",
            &format!("oci:{}:multi", multi.display()),
            &format!("oci:{}:x", d.path().join("sk").display()),
        ],
    );

    // A docker archive carries them in its OCI manifest; Docker loads it.
    let tar = d.path().join("a.tar");
    regraft_ok(&[
        "convert",
        &r("a"),
        &format!(
            "docker-archive:{}:regraft-test/parity-annotated:1",
            tar.display()
        ),
        "--annotation",
        "y=2",
    ]);
    let m3 = skopeo_raw(&format!("oci-archive:{}", tar.display()));
    assert_eq!(m3["annotations"]["y"], "2");
    if let Some(dk) = docker("annotations_on_every_writing_command") {
        let name = dk.load(&s(&tar));
        assert_eq!(
            dk.inspect(&name)["Id"],
            m3["config"]["digest"],
            "Docker loads the annotated archive's config"
        );
    }
}

/// Makes `dir/opt/extra/` with a file, a symlink and an executable, and tars it three ways
/// with GNU tar: plain, gzip and zstd. Returns the three files.
fn extra_tarballs(dir: &Path) -> [std::path::PathBuf; 3] {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("opt/extra/bin")).unwrap();
    std::fs::write(src.join("opt/extra/hello.txt"), "hello from append\n").unwrap();
    std::fs::write(src.join("opt/extra/bin/run"), "#!/bin/sh\necho appended\n").unwrap();
    tool_ok("chmod", &["0755", &s(&src.join("opt/extra/bin/run"))]);
    std::os::unix::fs::symlink("hello.txt", src.join("opt/extra/link")).unwrap();
    let files = [
        dir.join("extra.tar"),
        dir.join("extra.tar.gz"),
        dir.join("extra.tar.zst"),
    ];
    for (f, flag) in files.iter().zip(["--no-auto-compress", "--gzip", "--zstd"]) {
        tool_ok(
            "tar",
            &[
                flag,
                "--owner=0",
                "--group=0",
                "--mtime=@1700000000",
                "-C",
                &s(&src),
                "-cf",
                &s(f),
                "opt",
            ],
        );
    }
    files
}

/// `append` keeps each given file's bytes (the layer digest is the file's sha256, its media
/// type its compression's), GNU tar lists the written blob as it lists the file, umoci unpacks
/// the result with the files in place, and Docker loads and runs it.
#[test]
fn append_keeps_the_given_bytes_and_umoci_and_docker_read_them() {
    let d = tmp();
    let files = extra_tarballs(d.path());
    let layout = d.path().join("l");
    let out = format!("oci:{}:app", layout.display());
    let src = format!("oci:{}:1.0", real("vendor-real.oci"));
    let args: Vec<String> = ["append".to_string(), src.clone()]
        .into_iter()
        .chain(files.iter().map(|f| s(f)))
        .chain(["-o".to_string(), out.clone()])
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    regraft_ok(&args);
    let m = skopeo_raw(&out);
    let before = skopeo_raw(&src);
    let n = before["layers"].as_array().unwrap().len();
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), n + 3);
    assert_eq!(layers[..n], before["layers"].as_array().unwrap()[..]);
    for (i, (f, mt)) in files
        .iter()
        .zip([
            "application/vnd.oci.image.layer.v1.tar",
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ])
        .enumerate()
    {
        let l = &layers[n + i];
        let bytes = std::fs::read(f).unwrap();
        assert_eq!(l["digest"], sha256_hex(&bytes), "{}", f.display());
        assert_eq!(l["size"], bytes.len() as u64);
        assert_eq!(l["mediaType"], mt);
        let blob = layout
            .join("blobs/sha256")
            .join(&l["digest"].as_str().unwrap()["sha256:".len()..]);
        assert_eq!(
            tool_ok("tar", &["-tvf", &s(&blob)]),
            tool_ok("tar", &["-tvf", &s(f)])
        );
    }
    let c = skopeo_config(&out);
    let h = c["history"].as_array().unwrap();
    assert_eq!(
        h.last().unwrap()["created_by"],
        "regraft append extra.tar.zst"
    );
    // umoci 0.4.7 reads no zstd layers: it unpacks the image with the plain and gzip ones.
    let out2 = format!("oci:{}:app2", layout.display());
    regraft_ok(&["append", &src, &s(&files[0]), &s(&files[1]), "-o", &out2]);
    let u = tmp();
    let rootfs = unpack(&out2, u.path());
    assert_eq!(
        std::fs::read_to_string(rootfs.join("opt/extra/hello.txt")).unwrap(),
        "hello from append\n"
    );
    assert_eq!(
        std::fs::read_link(rootfs.join("opt/extra/link")).unwrap(),
        Path::new("hello.txt")
    );
    assert!(
        rootfs.join("opt/vendor/bin/app").exists(),
        "the image's own files stay"
    );

    if let Some(dk) = docker("append_keeps_the_given_bytes_and_umoci_and_docker_read_them") {
        let tar = d.path().join("svc.tar");
        regraft_ok(&[
            "append",
            &real("docker/service.tar"),
            &s(&files[1]),
            "--tag",
            "regraft-test/parity-append:1",
            "-o",
            &s(&tar),
        ]);
        let name = dk.load(&s(&tar));
        let o = dk.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "/bin/sh",
            &name,
            "-c",
            "cat /opt/extra/hello.txt && /opt/extra/bin/run",
        ]);
        assert_eq!(o, "hello from append\nappended\n");
    }
}

/// A file that is not a tar, an empty file, a tar with a `..` name, a directory and a
/// missing file: each a clear error naming the file, and nothing written.
#[test]
fn append_refuses_what_is_not_a_layer_and_writes_nothing() {
    let d = tmp();
    let text = d.path().join("notes.txt");
    std::fs::write(&text, "this is not a tar\n").unwrap();
    let empty = d.path().join("empty.tar");
    std::fs::write(&empty, "").unwrap();
    // Made by Python's tarfile, which writes the name as given.
    let evil = d.path().join("evil.tar");
    tool_ok(
        "python3",
        &[
            "-c",
            "import tarfile,io,sys\nt=tarfile.open(sys.argv[1],'w')\ni=tarfile.TarInfo('../../etc/evil')\ni.size=1\nt.addfile(i,io.BytesIO(b'x'))\nt.close()",
            &s(&evil),
        ],
    );
    let gz_text = d.path().join("notes.gz");
    tool_ok(
        "sh",
        &["-c", &format!("gzip -c {} > {}", s(&text), s(&gz_text))],
    );
    let out = d.path().join("never.tar");
    let missing = d.path().join("missing.tar");
    // (file, exit code, what the message says)
    let table = [
        (&text, 1, "notes.txt: layer 3"),
        (&empty, 1, "empty.tar: empty"),
        (&evil, 1, "\"../../etc/evil\" has a '..' component"),
        (&gz_text, 1, "notes.gz: layer 3"),
        (&missing, 1, "missing.tar"),
    ];
    for (f, code, want) in table {
        let err = regraft_fails(
            &["append", &real("vendor-real.tar"), &s(f), "-o", &s(&out)],
            code,
        );
        assert!(err.contains(want), "{}: {err}", f.display());
        assert!(!out.exists(), "{} wrote {}", f.display(), out.display());
    }
    let err = regraft_fails(
        &[
            "append",
            &real("vendor-real.tar"),
            &s(d.path()),
            "-o",
            &s(&out),
        ],
        2,
    );
    assert!(err.contains("regraft add takes directories"), "{err}");
    assert!(!out.exists());
}

/// The tar listing of a layout's layer blob (GNU tar reads gzip and plain alike).
fn blob_listing(layout: &Path, digest: &str) -> String {
    let blob = layout.join("blobs/sha256").join(&digest["sha256:".len()..]);
    tool_ok("tar", &["-tvf", &s(&blob)])
}

/// `flatten` of the real vendor (layer B deletes /etc/motd from the base and replaces a
/// directory by a symlink): umoci unpacks the flattened image, whole or from layer 1, to the
/// same tree as the original, attribute for attribute; the one new layer holds no whiteout
/// when everything is squashed and a whiteout for /etc/motd when the base stays; the base
/// layer stays byte for byte; history is kept with the squashed entries empty, as
/// `docker build --squash` leaves it; the same input flattens to the same bytes; Docker loads
/// and runs a flattened Docker-built image.
#[test]
fn flatten_keeps_the_merged_tree_and_squashes_history() {
    let d = tmp();
    let src = format!("oci:{}:1.0", real("vendor-real.oci"));
    let layout = d.path().join("l");
    let r = |t: &str| format!("oci:{}:{t}", layout.display());
    regraft_ok(&["flatten", &src, "-o", &r("all")]);
    regraft_ok(&["flatten", &src, "--from-layer", "1", "-o", &r("from1")]);
    let u0 = tmp();
    let want = tree(&unpack(&src, u0.path()), false);
    for t in ["all", "from1"] {
        let u = tmp();
        let got = tree(&unpack(&r(t), u.path()), false);
        assert!(
            got == want,
            "{t}: the flattened tree differs from the original's"
        );
    }
    let before = skopeo_raw(&src);
    let all = skopeo_raw(&r("all"));
    assert_eq!(all["layers"].as_array().unwrap().len(), 1);
    let listing = blob_listing(&layout, all["layers"][0]["digest"].as_str().unwrap());
    assert!(!listing.contains(".wh."), "{listing}");
    assert!(listing.contains("opt/vendor/bin/app"), "{listing}");
    let from1 = skopeo_raw(&r("from1"));
    let l = from1["layers"].as_array().unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!(l[0], before["layers"][0], "the base layer stays as it is");
    let listing = blob_listing(&layout, l[1]["digest"].as_str().unwrap());
    assert!(listing.contains("etc/.wh.motd"), "{listing}");
    assert!(
        !listing.contains("usr/bin/"),
        "only what layers 1+ touched: {listing}"
    );

    let c = skopeo_config(&r("from1"));
    let h = c["history"].as_array().unwrap();
    let orig = skopeo_config(&src);
    assert_eq!(h.len(), orig["history"].as_array().unwrap().len() + 1);
    let non_empty: Vec<&str> = h
        .iter()
        .filter(|e| e["empty_layer"] != true)
        .map(|e| e["created_by"].as_str().unwrap())
        .collect();
    assert_eq!(non_empty.len(), 2, "{h:?}");
    assert_eq!(non_empty[1], "regraft flatten --from-layer 1");
    assert_eq!(h.last().unwrap()["comment"], "merge of layers 1 to 2");

    // Deterministic: the same input, the same bytes.
    let a = d.path().join("a.tar");
    let b = d.path().join("b.tar");
    regraft_ok(&["flatten", &real("vendor-real.tar"), "-o", &s(&a)]);
    regraft_ok(&["flatten", &real("vendor-real.tar"), "-o", &s(&b)]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

    // Out of range: a usage error naming the count, nothing written.
    let never = d.path().join("never.tar");
    let err = regraft_fails(&["flatten", &src, "--from-layer", "3", "-o", &s(&never)], 2);
    assert!(err.contains("has 3 layers"), "{err}");
    assert!(!never.exists());

    if let Some(dk) = docker("flatten_keeps_the_merged_tree_and_squashes_history") {
        let tar = d.path().join("svc.tar");
        regraft_ok(&[
            "flatten",
            &real("docker/service.tar"),
            "--tag",
            "regraft-test/parity-flat:1",
            "-o",
            &s(&tar),
        ]);
        let name = dk.load(&s(&tar));
        assert_eq!(
            dk.inspect(&name)["RootFS"]["Layers"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let orig_tar = d.path().join("orig.tar");
        regraft_ok(&[
            "convert",
            &real("docker/service.tar"),
            &format!(
                "docker-archive:{}:regraft-test/parity-orig:1",
                orig_tar.display()
            ),
        ]);
        let orig = dk.load(&s(&orig_tar));
        let list = "find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -print | sort | md5sum";
        let run = |img: &str| {
            dk.ok(&[
                "run",
                "--rm",
                "--network",
                "none",
                "--entrypoint",
                "/bin/sh",
                img,
                "-c",
                list,
            ])
        };
        assert_eq!(run(&name), run(&orig), "Docker sees the same files");
    }
}

/// `config --layer-rm`, `--strip` and `--time-max` in one command on the real vendor: the
/// removed layer B's deletions are undone in umoci's unpacked tree (its /etc/motd is back)
/// and its history entry is gone; the stripped entries are missing from GNU tar's listing of
/// the one rewritten layer; every mtime in it is at most T and the base layer, which neither
/// edit changes, keeps its digest; `created` is clamped; Docker agrees on Created and the
/// layer count. An index out of range is a usage error naming the count, nothing written.
#[test]
fn layer_rm_strip_and_time_max() {
    let d = tmp();
    let src = format!("oci:{}:1.0", real("vendor-real.oci"));
    let layout = d.path().join("l");
    let out = format!("oci:{}:e", layout.display());
    regraft_ok(&[
        "config",
        &src,
        "--layer-rm",
        "2",
        "--strip",
        "/opt/vendor/share/**",
        "--time-max",
        "2023-11-15T00:00:00Z",
        "-o",
        &out,
    ]);
    let before = skopeo_raw(&src);
    let m = skopeo_raw(&out);
    let l = m["layers"].as_array().unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!(l[0], before["layers"][0], "the base layer is untouched");
    assert_ne!(l[1]["digest"], before["layers"][1]["digest"]);
    let listing = blob_listing(&layout, l[1]["digest"].as_str().unwrap());
    assert!(listing.contains("opt/vendor/bin/dyn-app"), "{listing}");
    assert!(
        listing.contains("opt/vendor/share/\n") || listing.contains("opt/vendor/share/ "),
        "the directory itself stays: {listing}"
    );
    assert!(!listing.contains("opt/vendor/share/doc"), "{listing}");
    for line in listing.lines() {
        // GNU tar -tv: mode owner size date time name
        let date = line.split_whitespace().nth(3).unwrap();
        assert!(date <= "2023-11-15", "{line}");
    }
    let c = skopeo_config(&out);
    assert_eq!(c["created"], "2023-11-15T00:00:00Z");
    let orig = skopeo_config(&src);
    assert_eq!(
        c["history"].as_array().unwrap().len(),
        orig["history"].as_array().unwrap().len() - 1
    );
    assert!(
        !c["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["comment"] == "layer B")
    );
    let u = tmp();
    let rootfs = unpack(&out, u.path());
    assert!(
        rootfs.join("etc/motd").exists(),
        "layer B's whiteout went with it"
    );
    assert!(!rootfs.join("opt/vendor/share/doc").exists());
    assert!(rootfs.join("opt/vendor/bin/dyn-app").exists());

    let never = d.path().join("never.tar");
    let err = regraft_fails(&["config", &src, "--layer-rm", "3", "-o", &s(&never)], 2);
    assert!(
        err.contains("--layer-rm 3") && err.contains("has 3 layers"),
        "{err}"
    );
    let err = regraft_fails(&["config", &src, "--time-max", "soon", "-o", &s(&never)], 2);
    assert!(err.contains("--time-max"), "{err}");
    assert!(!never.exists());

    if let Some(dk) = docker("layer_rm_strip_and_time_max") {
        let tar = d.path().join("e.tar");
        regraft_ok(&[
            "convert",
            &out,
            &format!(
                "docker-archive:{}:regraft-test/parity-layers:1",
                tar.display()
            ),
        ]);
        let name = dk.load(&s(&tar));
        let i = dk.inspect(&name);
        assert_eq!(i["Created"], "2023-11-15T00:00:00Z");
        assert_eq!(i["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    }
}

/// `--format docker`: the written manifest (its bytes read out of the archive with GNU tar and
/// hashed with sha256sum) carries Docker's schema 2 media types for itself, the config and the
/// layers, the config and layer blobs are the input's, skopeo reads the archive (verifying every
/// blob), Docker loads it with the same image ID, and a zstd layer, which schema 2 cannot name,
/// is refused with nothing written.
#[test]
fn format_docker_writes_schema2_media_types() {
    let d = tmp();
    let out = d.path().join("v2.tar");
    regraft_ok(&[
        "config",
        &real("vendor-real.tar"),
        "--label",
        "x=1",
        "--format",
        "docker",
        "--tag",
        "regraft-test/parity-v2:1",
        "-o",
        &s(&out),
    ]);
    let index: Value =
        serde_json::from_str(&tool_ok("tar", &["-xOf", &s(&out), "index.json"])).unwrap();
    let desc = &index["manifests"][0];
    assert_eq!(
        desc["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let digest = desc["digest"].as_str().unwrap();
    let member = format!("blobs/sha256/{}", &digest["sha256:".len()..]);
    let sum = tool_ok(
        "sh",
        &["-c", &format!("tar -xOf {} {member} | sha256sum", s(&out))],
    );
    assert_eq!(
        format!("sha256:{}", sum.split_whitespace().next().unwrap()),
        digest
    );
    let m: Value = serde_json::from_str(&tool_ok("tar", &["-xOf", &s(&out), &member])).unwrap();
    assert_eq!(m["mediaType"], desc["mediaType"]);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.docker.container.image.v1+json"
    );
    // The input's layers are uncompressed: skopeo names them by their digests.
    let src = skopeo_inspect(&format!("docker-archive:{}", real("vendor-real.tar")));
    let layers = src["Layers"].as_array().unwrap();
    assert_eq!(m["layers"].as_array().unwrap().len(), layers.len());
    for (l, o) in m["layers"].as_array().unwrap().iter().zip(layers) {
        assert_eq!(
            l["mediaType"],
            "application/vnd.docker.image.rootfs.diff.tar"
        );
        assert_eq!(&l["digest"], o);
    }
    let r = format!("docker-archive:{}", out.display());
    assert_eq!(skopeo_config(&r)["config"]["Labels"]["x"], "1");
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            &r,
            &format!("oci:{}:x", d.path().join("sk").display()),
        ],
    );
    if let Some(dk) = docker("format_docker_writes_schema2_media_types") {
        let name = dk.load(&s(&out));
        assert_eq!(dk.inspect(&name)["Id"], m["config"]["digest"]);
    }
    let never = d.path().join("never.tar");
    let err = regraft_fails(
        &[
            "convert",
            &fixture("vendor-zstd.oci"),
            &s(&never),
            "--format",
            "docker",
        ],
        2,
    );
    assert!(err.contains("zstd"), "{err}");
    regraft_fails(
        &[
            "convert",
            &fixture("vendor.tar"),
            &s(&never),
            "--format",
            "v1",
        ],
        2,
    );
    assert!(!never.exists());
}

/// `diff --path` narrows the file comparison to a subtree (the full diff has changes outside
/// it), and `diff --stat` gives one line per layer with sizes skopeo reports for both images.
#[test]
fn diff_path_and_stat() {
    let d = tmp();
    let src = format!("oci:{}:1.0", real("vendor-real.oci"));
    let out = format!("oci:{}:e", d.path().join("l").display());
    regraft_ok(&["config", &src, "--layer-rm", "2", "-o", &out]);
    let full: Value = serde_json::from_str(&regraft_ok(&["diff", &src, &out, "--json"])).unwrap();
    let paths = |v: &Value| -> Vec<String> {
        ["added", "removed", "changed"]
            .iter()
            .flat_map(|k| v["files"][k].as_array().unwrap().clone())
            .map(|e| e["path"].as_str().unwrap().to_string())
            .collect()
    };
    let all = paths(&full);
    assert!(all.iter().any(|p| p == "/etc/motd"), "{all:?}");
    assert!(all.iter().any(|p| p.starts_with("/opt/vendor")), "{all:?}");
    let narrowed: Value = serde_json::from_str(&regraft_ok(&[
        "diff",
        &src,
        &out,
        "--json",
        "--path",
        "/opt/vendor",
    ]))
    .unwrap();
    let some = paths(&narrowed);
    assert!(!some.is_empty());
    assert!(
        some.iter().all(|p| p.starts_with("/opt/vendor")),
        "{some:?}"
    );
    assert_eq!(
        some,
        all.iter()
            .filter(|p| p.starts_with("/opt/vendor"))
            .cloned()
            .collect::<Vec<_>>()
    );

    let st: Value =
        serde_json::from_str(&regraft_ok(&["diff", &src, &out, "--stat", "--json"])).unwrap();
    let sizes = |r: &str| -> Vec<u64> {
        skopeo_raw(r)["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["size"].as_u64().unwrap())
            .collect()
    };
    let (os, ns) = (sizes(&src), sizes(&out));
    let layers = st["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    assert_eq!(layers[0]["status"], "same");
    assert_eq!(layers[2]["status"], "removed");
    assert_eq!(layers[2]["delta"], -(os[2] as i64));
    assert_eq!(st["old_total"], os.iter().sum::<u64>());
    assert_eq!(st["new_total"], ns.iter().sum::<u64>());
    let text = regraft_ok(&["diff", &src, &out, "--stat"]);
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.contains("removed"), "{text}");
}

/// Each new writing command from an OCI archive to an OCI archive: skopeo copies every result
/// (checking every digest) and reads what the command changed.
#[test]
fn new_commands_read_and_write_oci_archives() {
    let d = tmp();
    let files = extra_tarballs(d.path());
    let src = format!("oci-archive:{}", real("vendor-real-oci.tar"));
    let out = |n: &str| {
        format!(
            "oci-archive:{}",
            d.path().join(format!("{n}.tar")).display()
        )
    };
    let cases: [(&str, Vec<String>); 4] = [
        (
            "config",
            vec![
                "config".into(),
                src.clone(),
                "--env-rm".into(),
                "VENDOR_HOME".into(),
                "--annotation".into(),
                "k=v".into(),
            ],
        ),
        ("append", vec!["append".into(), src.clone(), s(&files[1])]),
        (
            "flatten",
            vec![
                "flatten".into(),
                src.clone(),
                "--from-layer".into(),
                "2".into(),
            ],
        ),
        (
            "layers",
            vec![
                "config".into(),
                src.clone(),
                "--strip".into(),
                "/opt/vendor/share".into(),
            ],
        ),
    ];
    let before = skopeo_raw(&src)["layers"].as_array().unwrap().len();
    for (name, mut args) in cases {
        args.extend(["-o".to_string(), out(name)]);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        regraft_ok(&a);
        tool_ok(
            "skopeo",
            &[
                "copy",
                "-q",
                &out(name),
                &format!("oci:{}:{name}", d.path().join("sk").display()),
            ],
        );
        let m = skopeo_raw(&out(name));
        let n = m["layers"].as_array().unwrap().len();
        match name {
            "config" => {
                assert_eq!(m["annotations"]["k"], "v");
                assert!(!env_names(&skopeo_config(&out(name))).contains(&"VENDOR_HOME".into()));
            }
            "append" => assert_eq!(n, before + 1),
            "flatten" => assert_eq!(n, 3),
            _ => assert_eq!(n, before),
        }
    }
}
