//! What the graft writes into its documents (issue 21): `--annotation`, `--annotation-rm`,
//! `--label-to-annotation` and `--format docker` on the graft (path and layer mode, one image
//! and a multi-platform index), `--history-comment` on every command that writes a history
//! entry. Each result is read back by a tool that shares no code with regraft: `skopeo
//! inspect --raw` / `--config`, `skopeo copy --all` into a `dir:` (every file checked against
//! its digest), `umoci stat`, GNU tar + sha256sum, and `docker load` + `docker inspect` /
//! `docker history` when the test daemon runs.

use crate::common::*;
use crate::docker::docker;
use serde_json::Value;
use std::path::Path;

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn raw(r: &str) -> Value {
    serde_json::from_str(&tool_ok("skopeo", &["inspect", "--raw", r])).unwrap()
}

fn raw_config(r: &str, extra: &[&str]) -> Value {
    let mut a = vec!["inspect", "--config", "--raw"];
    a.extend_from_slice(extra);
    a.push(r);
    serde_json::from_str(&tool_ok("skopeo", &a)).unwrap()
}

/// sha256 of what `skopeo inspect --raw` prints: the bytes of the top document as stored.
fn raw_digest(r: &str) -> String {
    let out = tool_ok(
        "sh",
        &[
            "-c",
            &format!("skopeo inspect --raw '{r}' | sha256sum | cut -d' ' -f1"),
        ],
    );
    format!("sha256:{}", out.trim())
}

fn multi(name: &str) -> String {
    let p = root().join("fixtures/real/multi").join(name);
    assert!(
        p.exists(),
        "{} is missing: run `bash fixtures/build-multi.sh` (tests/run.sh does)",
        p.display()
    );
    s(&p)
}

/// A path-mode graft of the real vendor onto the new base with every document flag, into a
/// docker archive: the manifest (read from the archive by tar and by skopeo's OCI reader) is
/// a Docker schema 2 manifest over the same config and layers, digested as written, carrying
/// the annotations asked for (and the labels), not the removed one; the new layer's history
/// entry carries the comment; Docker loads it and shows the comment in `docker history`.
#[test]
fn path_graft_writes_annotations_docker_types_and_the_history_comment() {
    let d = tmp();
    let out = d.path().join("g.tar");
    let base = [
        "--from",
        &real("vendor-real.tar"),
        "--onto",
        &real("debian-new.tar"),
        "--path",
        "/opt/vendor",
    ];
    // The same graft without the flags: what must not move.
    let plain = d.path().join("plain.tar");
    let p: Value = serde_json::from_str(&regraft_ok(
        &[&base[..], &["-o", &s(&plain), "--json", "-q"]].concat(),
    ))
    .unwrap();
    let flags = [
        "--annotation",
        "org.opencontainers.image.source=https://example.org/app",
        "--annotation",
        "org.example.vendor=annotation-wins",
        "--label-to-annotation",
        "--annotation-rm",
        "org.opencontainers.image.base.name",
        "--format",
        "docker",
        "--history-comment",
        "rebased for CVE-2024-0001",
        "--tag",
        "regraft-test/graft-docs:1",
    ];
    let v: Value = serde_json::from_str(&regraft_ok(
        &[&base[..], &flags, &["-o", &s(&out), "--json", "-q"]].concat(),
    ))
    .unwrap();
    let digest = v["manifest_digest"].as_str().unwrap();
    assert_ne!(v["manifest_digest"], p["manifest_digest"]);
    assert_eq!(v["config_digest"].as_str().unwrap().len(), 71);

    // index.json names the Docker manifest; the member's sha256 is its digest.
    let index = tar_member_json(&s(&out), "index.json");
    assert_eq!(
        index["manifests"][0]["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(index["manifests"][0]["digest"], digest);
    let member = format!("blobs/sha256/{}", &digest["sha256:".len()..]);
    let sum = tool_ok(
        "sh",
        &["-c", &format!("tar -xOf {} {member} | sha256sum", s(&out))],
    );
    assert_eq!(
        format!("sha256:{}", sum.split_whitespace().next().unwrap()),
        digest
    );
    let oci = format!("oci-archive:{}", out.display());
    assert_eq!(raw_digest(&oci), digest, "skopeo reads the same bytes");
    let m = raw(&oci);
    assert_eq!(
        m["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.docker.container.image.v1+json"
    );
    for l in m["layers"].as_array().unwrap() {
        assert!(
            l["mediaType"]
                .as_str()
                .unwrap()
                .starts_with("application/vnd.docker.image.rootfs.diff.tar"),
            "{l}"
        );
    }
    // The blobs are the plain graft's: only the documents changed (the history comment
    // changes the config, so compare the layers).
    let pm = raw(&format!("oci-archive:{}", plain.display()));
    let digests = |m: &Value| -> Vec<Value> {
        m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].clone())
            .collect()
    };
    assert_eq!(digests(&m), digests(&pm));
    let ann = &m["annotations"];
    assert_eq!(
        ann["org.opencontainers.image.source"],
        "https://example.org/app"
    );
    assert_eq!(ann["org.example.vendor"], "annotation-wins");
    assert_eq!(ann["org.example.fixture"], "vendor-real", "a label: {ann}");
    assert!(
        ann.get("org.opencontainers.image.base.name").is_none(),
        "removed: {ann}"
    );
    assert!(
        pm["annotations"]
            .get("org.opencontainers.image.base.name")
            .is_some(),
        "the plain graft has the removed one: {pm}"
    );
    assert_eq!(
        ann["org.opencontainers.image.base.digest"],
        pm["annotations"]["org.opencontainers.image.base.digest"]
    );
    let cfg = raw_config(&format!("docker-archive:{}", out.display()), &[]);
    let last = cfg["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["comment"], "rebased for CVE-2024-0001");
    assert!(
        last["created_by"]
            .as_str()
            .unwrap()
            .starts_with("regraft --path /opt/vendor from"),
        "{last}"
    );
    let plain_cfg = raw_config(&format!("docker-archive:{}", plain.display()), &[]);
    assert_eq!(
        plain_cfg["history"].as_array().unwrap().last().unwrap()["comment"],
        "regraft path graft",
        "without the flag, the default comment"
    );

    if let Some(dk) = docker("path_graft_writes_annotations_docker_types_and_the_history_comment") {
        let name = dk.load(&s(&out));
        assert_eq!(dk.inspect(&name)["Id"], v["config_digest"]);
        let comments = dk.ok(&["history", "--no-trunc", "--format", "{{.Comment}}", &name]);
        assert_eq!(
            comments.lines().next(),
            Some("rebased for CVE-2024-0001"),
            "{comments}"
        );
    }

    // An annotation to remove that no document has: nothing written.
    let never = d.path().join("never.tar");
    let err = regraft_fails(
        &[
            &base[..],
            &["--annotation-rm", "org.example.absent", "-o", &s(&never)],
        ]
        .concat(),
        1,
    );
    assert!(
        err.contains("--annotation-rm org.example.absent")
            && err.contains("org.opencontainers.image.base.digest"),
        "{err}"
    );
    assert!(!never.exists());
    regraft_fails(
        &[&base[..], &["--format", "v1", "-o", &s(&never)]].concat(),
        2,
    );
    assert!(!never.exists());
}

/// Layer mode into an OCI layout: umoci sees the vendor's history entries as they were and,
/// after them, the empty_layer entry `--history-comment` asks for; skopeo reads the
/// annotations; the summary's digest is the manifest's. Without the flags the graft writes
/// what it always wrote (the golden tests hold the digests).
#[test]
fn layer_graft_history_comment_is_an_entry_of_its_own() {
    let d = tmp();
    let layout = d.path().join("l");
    let base = [
        "--from",
        &real("vendor-real.tar"),
        "--onto",
        &real("debian-new.tar"),
        "--old-base",
        &real("debian-old.tar"),
    ];
    let r = |t: &str| format!("oci:{}:{t}", layout.display());
    regraft_ok(&[&base[..], &["-o", &r("plain"), "-q"]].concat());
    let v: Value = serde_json::from_str(&regraft_ok(
        &[
            &base[..],
            &[
                "--history-comment",
                "moved to trixie",
                "--annotation",
                "org.example.rebuilt=yes",
                "-o",
                &r("c"),
                "--json",
                "-q",
            ],
        ]
        .concat(),
    ))
    .unwrap();
    assert_eq!(raw_digest(&r("c")), v["manifest_digest"]);
    assert_eq!(raw(&r("c"))["annotations"]["org.example.rebuilt"], "yes");
    let stat = |t: &str| -> Vec<Value> {
        let out = tool_ok(
            "umoci",
            &[
                "stat",
                "--image",
                &format!("{}:{t}", layout.display()),
                "--json",
            ],
        );
        serde_json::from_str::<Value>(&out).unwrap()["history"]
            .as_array()
            .unwrap()
            .clone()
    };
    let plain = stat("plain");
    let with = stat("c");
    assert_eq!(with.len(), plain.len() + 1);
    assert_eq!(
        &with[..plain.len()],
        &plain[..],
        "the vendor's entries as they were"
    );
    let last = with.last().unwrap();
    assert_eq!(last["comment"], "moved to trixie");
    assert_eq!(last["empty_layer"], true);
    assert!(
        last["created_by"]
            .as_str()
            .unwrap()
            .starts_with("regraft from vendor-real:1.0@sha256:"),
        "{last}"
    );
    // The layers are the plain graft's.
    assert_eq!(raw(&r("c"))["layers"], raw(&r("plain"))["layers"]);
}

/// A multi-platform graft with `--format docker` and annotations: skopeo reads a Docker
/// manifest list whose children are schema 2 manifests, each carrying the annotations (and
/// its own config's labels), the index carrying them and the labels both platforms share;
/// each child is the single-platform graft with the same flags, byte for byte; the summary
/// names each as written; `skopeo copy --all` into a `dir:` copies the list, both manifests
/// and every blob, each file's sha256 its name's digest.
#[test]
fn multi_graft_docker_manifest_list_is_copied_whole_by_skopeo() {
    let d = tmp();
    let out = d.path().join("m.tar");
    let r = format!("oci-archive:{}", out.display());
    let args = [
        "--from",
        &multi("vendor.oci"),
        "--onto",
        &multi("base-new.oci"),
        "--path",
        "/opt/vendor",
        "--annotation",
        "org.opencontainers.image.source=https://example.org/multi",
        "--label-to-annotation",
        "--format",
        "docker",
        "--history-comment",
        "multi rebuild",
    ];
    let v: Value = serde_json::from_str(&regraft_ok(
        &[&args[..], &["-o", &r, "--json", "-q"]].concat(),
    ))
    .unwrap();
    let list = raw(&r);
    assert_eq!(raw_digest(&r), v["index_digest"]);
    assert_eq!(
        list["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    assert_eq!(
        list["annotations"]["org.opencontainers.image.source"],
        "https://example.org/multi"
    );
    assert_eq!(list["annotations"]["org.example.vendor"], "hello", "{list}");
    let kids = list["manifests"].as_array().unwrap();
    assert_eq!(kids.len(), 2);
    for (i, (k, arch)) in kids.iter().zip(["amd64", "arm64"]).enumerate() {
        assert_eq!(
            k["mediaType"],
            "application/vnd.docker.distribution.manifest.v2+json"
        );
        assert_eq!(k["platform"]["architecture"], arch);
        assert_eq!(v["platforms"][i]["manifest_digest"], k["digest"]);
        let m = member(&out, &k["digest"]);
        assert_eq!(
            m["config"]["mediaType"],
            "application/vnd.docker.container.image.v1+json"
        );
        assert_eq!(
            m["annotations"]["org.opencontainers.image.source"],
            "https://example.org/multi"
        );
        assert!(
            m["annotations"]["org.opencontainers.image.base.digest"].is_string(),
            "each child keeps its own base annotation: {m}"
        );
        // Each platform as a single-platform graft with the same flags writes this manifest.
        let one = d.path().join(format!("{arch}.tar"));
        let s1: Value = serde_json::from_str(&regraft_ok(
            &[
                &args[..],
                &[
                    "--platform",
                    &format!("linux/{arch}"),
                    "-o",
                    &format!("oci-archive:{}", one.display()),
                    "--json",
                    "-q",
                ],
            ]
            .concat(),
        ))
        .unwrap();
        assert_eq!(s1["manifest_digest"], k["digest"], "{arch}");
    }
    let cfg = raw_config(&r, &["--override-arch", "arm64"]);
    assert_eq!(cfg["architecture"], "arm64");
    assert_eq!(
        cfg["history"].as_array().unwrap().last().unwrap()["comment"],
        "multi rebuild"
    );

    // skopeo copies the whole list; dir: names every file by its digest.
    let dir = d.path().join("copy");
    tool_ok(
        "skopeo",
        &["copy", "-q", "--all", &r, &format!("dir:{}", dir.display())],
    );
    assert_eq!(
        format!("sha256:{}", sha256sum(&dir.join("manifest.json"))),
        v["index_digest"].as_str().unwrap(),
        "the list copied byte for byte"
    );
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let hex = name.strip_suffix(".manifest.json").unwrap_or(&name);
        if hex.len() != 64 {
            continue;
        }
        assert_eq!(sha256sum(&p), hex, "{name}");
        checked += 1;
    }
    // Two manifests, two configs, the new layer of each, the base's layer of each.
    assert!(checked >= 8, "{checked} files checked");
    for k in kids {
        let hex = &k["digest"].as_str().unwrap()["sha256:".len()..];
        assert!(dir.join(format!("{hex}.manifest.json")).exists());
    }
}

/// `convert --all` of an index: annotations go on the index only and the children stay byte
/// for byte; with `--format docker` every child is rewritten as a schema 2 manifest (and then
/// carries them too), and skopeo copies the list.
#[test]
fn convert_all_annotates_the_index_and_retypes_children_only_when_asked() {
    let d = tmp();
    let src = format!("oci:{}:multi", fixture("multi.oci"));
    let orig = raw(&src);
    let a = d.path().join("a");
    regraft_ok(&[
        "convert",
        "--all",
        &fixture("multi.oci"),
        &format!("oci:{}", a.display()),
        "--annotation",
        "k=v",
        "-q",
    ]);
    let ia = raw(&format!("oci:{}:multi", a.display()));
    assert_eq!(ia["annotations"]["k"], "v");
    let digests = |i: &Value| -> Vec<Value> {
        i["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["digest"].clone())
            .collect()
    };
    assert_eq!(digests(&ia), digests(&orig), "children copied as they are");

    let b = d.path().join("b.tar");
    let rb = format!("oci-archive:{}", b.display());
    regraft_ok(&[
        "convert",
        "--all",
        &fixture("multi.oci"),
        &rb,
        "--annotation",
        "k=v",
        "--format",
        "docker",
        "-q",
    ]);
    let ib = raw(&rb);
    assert_eq!(
        ib["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    assert_eq!(ib["annotations"]["k"], "v");
    for k in ib["manifests"].as_array().unwrap() {
        let m = member(&b, &k["digest"]);
        assert_eq!(
            m["mediaType"],
            "application/vnd.docker.distribution.manifest.v2+json"
        );
        assert_eq!(m["annotations"]["k"], "v");
    }
    let dir = d.path().join("copy");
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            "--all",
            &rb,
            &format!("dir:{}", dir.display()),
        ],
    );
    assert_eq!(
        sha256sum(&dir.join("manifest.json")),
        raw_digest(&rb)["sha256:".len()..]
    );
}

/// sha256sum's hex digest of a file.
fn sha256sum(p: &Path) -> String {
    tool_ok("sha256sum", &[&s(p)])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A manifest blob of an OCI archive, read by GNU tar.
fn member(archive: &Path, digest: &Value) -> Value {
    let hex = &digest.as_str().unwrap()["sha256:".len()..];
    tar_member_json(&s(archive), &format!("blobs/sha256/{hex}"))
}

/// `--history-comment` on `add`, `rm`, `append` and `flatten`: the entry each writes carries
/// it (skopeo reads the config); without it, each keeps its own default comment.
#[test]
fn history_comment_on_every_command_that_adds_a_layer() {
    let d = tmp();
    let src = d.path().join("src");
    std::fs::create_dir_all(src.join("x")).unwrap();
    std::fs::write(src.join("x/f"), "f\n").unwrap();
    let layer = d.path().join("extra.tar");
    tool_ok("tar", &["-C", &s(&src), "-cf", &s(&layer), "x"]);
    let img = fixture("vendor.tar");
    let spec = format!("{}:/opt/added", src.join("x").display());
    let cases: [(&str, Vec<&str>, &str); 4] = [
        ("add", vec!["add", &img, &spec], "regraft"),
        (
            "rm",
            vec!["rm", &img, "/opt/vendor/share/new.txt"],
            "regraft",
        ),
        (
            "append",
            vec!["append", &img, layer.to_str().unwrap()],
            "regraft",
        ),
        (
            "flatten",
            vec!["flatten", &img, "--from-layer", "1"],
            "merge of layers",
        ),
    ];
    for (name, args, default) in cases {
        let with = d.path().join(format!("{name}-c.tar"));
        let without = d.path().join(format!("{name}.tar"));
        let comment = format!("{name}: ticket 42");
        regraft_ok(
            &[
                &args[..],
                &["--history-comment", &comment, "-o", &s(&with), "-q"],
            ]
            .concat(),
        );
        regraft_ok(&[&args[..], &["-o", &s(&without), "-q"]].concat());
        let last = |p: &Path| -> Value {
            raw_config(&format!("docker-archive:{}", p.display()), &[])["history"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .clone()
        };
        let c = last(&with);
        assert_eq!(c["comment"], comment.as_str(), "{name}: {c}");
        assert!(
            c.get("empty_layer").is_none(),
            "{name}: a layer's entry: {c}"
        );
        let plain = last(&without);
        assert!(
            plain["comment"].as_str().unwrap().starts_with(default),
            "{name}: {plain}"
        );
        assert_eq!(c["created_by"], plain["created_by"], "{name}");
    }
}

/// Every command that writes an image takes the same document flags (one definition,
/// flattened), every command that writes a history entry takes `--history-comment`, and the
/// graft's example with both is in `--help` and the man page.
#[test]
fn every_writing_command_takes_the_same_document_flags() {
    let doc_flags = [
        "--annotation <K=V>",
        "--annotation-rm <K>",
        "--label-to-annotation",
        "--format <oci|docker>",
    ];
    let writers: [(&[&str], bool); 9] = [
        (&["--help"], true),
        (&["add", "--help"], true),
        (&["rm", "--help"], true),
        (&["config", "--help"], true),
        (&["append", "--help"], true),
        (&["flatten", "--help"], true),
        (&["patch", "--help"], true),
        (&["convert", "--help"], false),
        (&["copy", "--help"], false),
    ];
    for (args, history) in writers {
        let help = regraft_ok(args);
        for f in doc_flags {
            assert!(help.contains(f), "{args:?} lacks {f}");
        }
        assert_eq!(
            help.contains("--history-comment <TEXT>"),
            history,
            "{args:?}: --history-comment"
        );
    }
    let example = "--path /opt/vendor --annotation k=v --format docker";
    assert!(regraft_ok(&["--help"]).contains(example));
    let man = regraft_ok(&["man"]);
    assert!(
        man.contains(&example.replace('-', "\\-")),
        "the man page lacks the graft example"
    );
}

/// `patch` takes the document flags and the history comment too: its one new layer's entry
/// carries the comment, the Docker schema 2 manifest the annotation (skopeo reads both).
#[test]
fn patch_writes_the_history_comment_and_the_documents_asked_for() {
    let t = tmp();
    let repo = crate::patch::demo_repo(
        &t.path().join("r"),
        &["regraft-demo-1.1", "regraft-demo-data-1.1"],
    );
    let out = t.path().join("p.tar");
    regraft_ok(&[
        "patch",
        &crate::docker::built("patchdemo.tar"),
        "--repo",
        &repo,
        "--package",
        "regraft-demo",
        "--history-comment",
        "demo 1.1",
        "--annotation",
        "org.example.patched=regraft-demo",
        "--format",
        "docker",
        "-o",
        &s(&out),
        "-q",
    ]);
    let oci = format!("oci-archive:{}", out.display());
    let m = raw(&oci);
    assert_eq!(
        m["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(m["annotations"]["org.example.patched"], "regraft-demo");
    let last = raw_config(&oci, &[])["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["comment"], "demo 1.1");
    assert!(
        last["created_by"]
            .as_str()
            .unwrap()
            .starts_with("regraft patch regraft-demo=1.1"),
        "{last}"
    );
}
