//! Round trips: every input form converted to every output form. Each result is checked by
//! skopeo (inspect, copy), umoci (unpack) and podman (load, for archives), and its unpacked tree
//! is compared with the input's, attribute by attribute. Also: determinism, blobs passing through
//! unchanged, the dual docker archive's two views agreeing, adding to and moving refs in a layout,
//! `inspect --json` per format, `verify` on every fixture, and image selection.

use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::sync::LazyLock;

/// The manifest digest of a ref in `fixtures/oci`. Read, not written down: the fixtures are
/// rebuilt now and then, and the digests move with the tool versions.
fn oci_manifest(r: &str) -> String {
    let index: Value = serde_json::from_slice(
        &std::fs::read(Path::new(&fixture("oci")).join("index.json")).unwrap(),
    )
    .unwrap();
    let m = index["manifests"].as_array().unwrap().iter();
    let found = m
        .clone()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == r);
    found.unwrap_or_else(|| panic!("no {r} in fixtures/oci"))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The vendor manifest in `fixtures/oci` (and in vendor-oci.tar, vendor-docker29.tar).
static VENDOR_MANIFEST: LazyLock<String> = LazyLock::new(|| oci_manifest("vendor"));
static BASE_MANIFEST: LazyLock<String> = LazyLock::new(|| oci_manifest("base"));
static OLDBASE_MANIFEST: LazyLock<String> = LazyLock::new(|| oci_manifest("oldbase"));
/// Docker 29's arm64 manifest (hex), listed in its nested index but absent from the archive.
static DOCKER29_ARM64_MANIFEST: LazyLock<String> = LazyLock::new(|| {
    let f = fixture("vendor-docker29.tar");
    let top = tar_member_json(&f, "index.json");
    let nested = top["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    let nested = tar_member_json(&f, &format!("blobs/sha256/{nested}"));
    let arm = nested["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "arm64");
    arm.unwrap()["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap()
        .to_string()
});

#[derive(Clone, Copy, Debug)]
enum Out {
    /// A bare `*.tar`: the dual docker archive.
    DockerArchive,
    /// `oci-archive:FILE:REF`.
    OciArchive,
    /// `oci:DIR:REF` for a DIR that does not exist yet.
    NewLayout,
    /// `oci:DIR:REF` for a layout that already holds another image.
    AddToLayout,
}

/// One input form, and a skopeo reference to the same image for the expected tree.
struct Input {
    /// regraft's SOURCE argument.
    src: String,
    platform: Option<&'static str>,
    /// A reference skopeo can read that holds the same image (skopeo cannot read every form).
    reference: String,
    /// Extra `skopeo copy` arguments for `reference` (platform choice).
    reference_args: &'static [&'static str],
    /// zstd layers: umoci 0.4.7 cannot unpack them, so skopeo recompresses before umoci.
    zstd: bool,
    arch: &'static str,
    /// A path the unpacked tree must contain (so two empty trees never compare equal).
    marker: &'static str,
    /// Compare xattrs too: one python call per file, so only for the small images.
    xattrs: bool,
}

fn small(src: &str, reference: &str) -> Input {
    Input {
        src: src.to_string(),
        platform: None,
        reference: reference.to_string(),
        reference_args: &[],
        zstd: false,
        arch: "amd64",
        marker: "opt/vendor/bin/hello",
        xattrs: true,
    }
}

fn vendor_tar() -> Input {
    small(
        &fixture("vendor.tar"),
        &format!("docker-archive:{}", fixture("vendor.tar")),
    )
}
fn vendor_tar_gz() -> Input {
    // skopeo 1.9.3 cannot read a gzipped docker archive; oci:vendor is the same image.
    small(
        &fixture("vendor.tar.gz"),
        &format!("oci:{}:vendor", fixture("oci")),
    )
}
fn vendor_oci_tar() -> Input {
    small(
        &fixture("vendor-oci.tar"),
        &format!("oci-archive:{}:vendor", fixture("vendor-oci.tar")),
    )
}
fn oci_vendor() -> Input {
    small(
        &format!("oci:{}:vendor", fixture("oci")),
        &format!("oci:{}:vendor", fixture("oci")),
    )
}
fn vendor_zstd() -> Input {
    Input {
        zstd: true,
        ..small(
            &fixture("vendor-zstd.oci"),
            &format!("oci:{}:vendor", fixture("vendor-zstd.oci")),
        )
    }
}
fn vendor_legacy() -> Input {
    small(
        &fixture("vendor-legacy.tar"),
        &format!("docker-archive:{}", fixture("vendor-legacy.tar")),
    )
}
fn vendor_docker25() -> Input {
    small(
        &fixture("vendor-docker25.tar"),
        &format!("docker-archive:{}", fixture("vendor-docker25.tar")),
    )
}
fn vendor_docker29() -> Input {
    small(
        &fixture("vendor-docker29.tar"),
        &format!("docker-archive:{}", fixture("vendor-docker29.tar")),
    )
}
fn multi_amd64() -> Input {
    Input {
        marker: "etc/platform",
        ..small(
            &fixture("multi.oci"),
            &format!("oci:{}:multi", fixture("multi.oci")),
        )
    }
}
fn multi_arm64() -> Input {
    Input {
        platform: Some("linux/arm64"),
        reference_args: &["--override-arch", "arm64", "--override-variant", "v8"],
        arch: "arm64",
        ..multi_amd64()
    }
}

fn real_input(file: &str, reference: String) -> Input {
    Input {
        marker: "opt/vendor/bin/static-app",
        xattrs: false,
        ..small(&real(file), &reference)
    }
}

/// Converts `input` to `out` and checks the result with skopeo, umoci, podman and regraft.
fn roundtrip(input: &Input, out: Out) {
    let d = tmp();
    let compress: &[&str] = if input.zstd {
        &["--dest-compress-format", "gzip"]
    } else {
        &[]
    };

    let mut ref_args = input.reference_args.to_vec();
    ref_args.extend_from_slice(compress);
    let expected = tree(
        &unpack_with(&input.reference, &ref_args, &d.path().join("expected")),
        input.xattrs,
    );
    assert!(
        expected.contains_key(input.marker),
        "expected tree lacks {}",
        input.marker
    );

    let layout = d.path().join("layout");
    let (dest, skopeo_ref) = match out {
        Out::DockerArchive => {
            let f = d.path().join("out.tar").display().to_string();
            (f.clone(), format!("docker-archive:{f}"))
        }
        Out::OciArchive => {
            let f = d.path().join("out-oci.tar").display().to_string();
            (format!("oci-archive:{f}:rt"), format!("oci-archive:{f}:rt"))
        }
        Out::NewLayout | Out::AddToLayout => {
            let r = format!("oci:{}:rt", layout.display());
            (r.clone(), r)
        }
    };
    if let Out::AddToLayout = out {
        // The layout is made by another tool, so regraft has to add to a foreign layout.
        tool_ok(
            "skopeo",
            &[
                "copy",
                "-q",
                &format!("oci:{}:base", fixture("oci")),
                &format!("oci:{}:base", layout.display()),
            ],
        );
    }

    let mut args = vec!["convert"];
    if let Some(p) = input.platform {
        args.extend_from_slice(&["--platform", p]);
    }
    args.extend_from_slice(&[&input.src, &dest]);
    regraft_ok(&args);

    let info = skopeo_inspect(&skopeo_ref);
    assert_eq!(info["Architecture"], input.arch, "{skopeo_ref}: {info}");
    assert_eq!(info["Os"], "linux");

    // The blobs pass through: same config, same layer digests as the input.
    let mut in_flags = vec![];
    if let Some(p) = input.platform {
        in_flags.extend_from_slice(&["--platform", p]);
    }
    let src_info = inspect_json(&input.src, &in_flags);
    let out_info = inspect_json(&skopeo_ref, &[]);
    assert_eq!(out_info["config_digest"], src_info["config_digest"]);
    assert_eq!(
        layer_field(&out_info, "digest"),
        layer_field(&src_info, "digest")
    );
    assert_eq!(
        layer_field(&out_info, "diff_id"),
        layer_field(&src_info, "diff_id")
    );
    assert_eq!(
        out_info["platform"].as_str().unwrap().split('/').nth(1),
        Some(input.arch)
    );
    let v: Value = serde_json::from_str(&regraft_ok(&["verify", "--json", &skopeo_ref])).unwrap();
    assert_eq!(v["ok"], true, "verify {skopeo_ref}: {v}");

    match out {
        Out::DockerArchive => {
            let f = dest.as_str();
            // The dual format: also an OCI archive, and podman loads it under its tag.
            same_image_both_views(f);
            assert!(podman_load(f).contains("Loaded image"));
        }
        Out::OciArchive => {
            let f = d.path().join("out-oci.tar").display().to_string();
            assert!(podman_load(&f).contains("Loaded image"));
        }
        Out::NewLayout => {}
        Out::AddToLayout => {
            let base = skopeo_inspect(&format!("oci:{}:base", layout.display()));
            assert_eq!(
                base["Digest"],
                BASE_MANIFEST.as_str(),
                "the layout's first image changed"
            );
            regraft_ok(&["verify", &format!("oci:{}:base", layout.display())]);
            let index: Value =
                serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
            assert_eq!(ref_names(&index), ["base", "rt"]);
        }
    }

    let actual = tree(
        &unpack_with(&skopeo_ref, compress, &d.path().join("actual")),
        input.xattrs,
    );
    assert_trees_eq(&expected, &actual, &format!("{} -> {out:?}", input.src));
}

fn layer_field(info: &Value, field: &str) -> Vec<String> {
    info["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l[field].as_str().unwrap().to_string())
        .collect()
}

fn ref_names(index: &Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

macro_rules! matrix {
    ($($name:ident => $input:expr;)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn to_docker_archive() { roundtrip(&$input, Out::DockerArchive) }
            #[test]
            fn to_oci_archive() { roundtrip(&$input, Out::OciArchive) }
            #[test]
            fn to_new_layout() { roundtrip(&$input, Out::NewLayout) }
            #[test]
            fn into_existing_layout() { roundtrip(&$input, Out::AddToLayout) }
        }
    )*};
}

matrix! {
    from_vendor_tar => vendor_tar();
    from_vendor_tar_gz => vendor_tar_gz();
    from_vendor_oci_archive => vendor_oci_tar();
    from_oci_layout_ref => oci_vendor();
    from_zstd_layout => vendor_zstd();
    from_legacy_docker_save => vendor_legacy();
    from_docker25_save => vendor_docker25();
    from_docker29_save => vendor_docker29();
    from_multi_platform_default => multi_amd64();
    from_multi_platform_arm64 => multi_arm64();
}

// The real images: each input once, each output kind once.

#[test]
fn real_vendor_docker_archive_to_oci_archive() {
    let f = real("vendor-real.tar");
    roundtrip(
        &real_input("vendor-real.tar", format!("docker-archive:{f}")),
        Out::OciArchive,
    );
}

#[test]
fn real_vendor_layout_to_docker_archive() {
    let f = real("vendor-real.oci");
    roundtrip(
        &real_input("vendor-real.oci", format!("oci:{f}:1.0")),
        Out::DockerArchive,
    );
}

#[test]
fn real_vendor_oci_archive_into_existing_layout() {
    let f = real("vendor-real-oci.tar");
    roundtrip(
        &real_input("vendor-real-oci.tar", format!("oci-archive:{f}:1.0")),
        Out::AddToLayout,
    );
}

#[test]
fn real_debian_new_docker_archive_to_new_layout() {
    let f = real("debian-new.tar");
    let input = Input {
        marker: "usr/bin/bash",
        ..real_input("debian-new.tar", format!("docker-archive:{f}"))
    };
    roundtrip(&input, Out::NewLayout);
}

#[test]
fn converting_twice_gives_identical_bytes() {
    let inputs = [
        fixture("vendor.tar"),
        fixture("vendor.tar.gz"),
        fixture("vendor-zstd.oci"),
        fixture("vendor-docker29.tar"),
        fixture("vendor-legacy.tar"),
        format!("oci:{}:vendor", fixture("oci")),
    ];
    for (i, src) in inputs.iter().enumerate() {
        let d = tmp();
        let p = |name: &str| d.path().join(format!("{i}-{name}")).display().to_string();
        for (a, b) in [
            (p("a.tar"), p("b.tar")),
            (
                format!("oci-archive:{}:x", p("a-oci.tar")),
                format!("oci-archive:{}:x", p("b-oci.tar")),
            ),
            (
                format!("oci:{}:x", p("a-dir")),
                format!("oci:{}:x", p("b-dir")),
            ),
        ] {
            regraft_ok(&["convert", src, &a]);
            regraft_ok(&["convert", src, &b]);
        }
        assert_eq!(
            std::fs::read(p("a.tar")).unwrap(),
            std::fs::read(p("b.tar")).unwrap(),
            "{src}: docker archive"
        );
        assert_eq!(
            std::fs::read(p("a-oci.tar")).unwrap(),
            std::fs::read(p("b-oci.tar")).unwrap(),
            "{src}: oci archive"
        );
        let (sa, sb) = (
            snapshot(Path::new(&p("a-dir"))),
            snapshot(Path::new(&p("b-dir"))),
        );
        assert!(sa.len() > 4, "{src}: layout has {sa:?}");
        assert_eq!(sa, sb, "{src}: layout");
    }
}

/// The bytes of a blob in an OCI layout or archive are those the input had: config bytes are
/// never re-serialized and layers are never recompressed.
#[test]
fn config_and_layer_blob_bytes_are_unchanged() {
    let d = tmp();
    let out = d.path().join("layout");
    regraft_ok(&[
        "convert",
        &fixture("vendor-zstd.oci"),
        &format!("oci:{}:v", out.display()),
    ]);
    let info = inspect_json(&fixture("vendor-zstd.oci"), &[]);
    let mut digests = layer_field(&info, "digest");
    digests.push(info["config_digest"].as_str().unwrap().to_string());
    for dg in digests {
        let hex = dg.strip_prefix("sha256:").unwrap();
        let src = Path::new(&fixture("vendor-zstd.oci"))
            .join("blobs/sha256")
            .join(hex);
        let dst = out.join("blobs/sha256").join(hex);
        assert_eq!(
            std::fs::read(&src).unwrap(),
            std::fs::read(&dst).unwrap(),
            "blob {dg}"
        );
    }
    // The manifest was not rewritten either: it is the input's, so its digest is the same.
    assert_eq!(
        skopeo_inspect(&format!("oci:{}:v", out.display()))["Digest"],
        info["manifest_digest"]
    );
}

#[test]
fn docker_archive_manifest_json_and_index_json_agree() {
    let d = tmp();
    let named = d.path().join("named.tar").display().to_string();
    let bare = d.path().join("bare.tar").display().to_string();
    regraft_ok(&[
        "convert",
        &format!("oci:{}:vendor", fixture("oci")),
        &format!("docker-archive:{named}:example.com/team/app:2.0"),
    ]);
    regraft_ok(&["convert", &fixture("vendor-zstd.oci"), &bare]);

    for (f, tag) in [(&named, Some("example.com/team/app:2.0")), (&bare, None)] {
        let mj = tar_member_json(f, "manifest.json");
        let index = tar_member_json(f, "index.json");
        let entries = mj.as_array().unwrap();
        assert_eq!(entries.len(), 1, "{f}: {mj}");
        let entry = &entries[0];
        let descs = index["manifests"].as_array().unwrap();
        assert_eq!(descs.len(), 1, "{f}: {index}");
        let mdigest = descs[0]["digest"].as_str().unwrap();
        let manifest = tar_member_json(
            f,
            &format!("blobs/sha256/{}", mdigest.strip_prefix("sha256:").unwrap()),
        );
        let path = |d: &Value| {
            format!(
                "blobs/sha256/{}",
                d["digest"]
                    .as_str()
                    .unwrap()
                    .strip_prefix("sha256:")
                    .unwrap()
            )
        };
        assert_eq!(
            entry["Config"].as_str().unwrap(),
            path(&manifest["config"]),
            "{f}"
        );
        let layers: Vec<String> = manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(path)
            .collect();
        let mj_layers: Vec<String> = entry["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        assert_eq!(mj_layers, layers, "{f}");
        assert_eq!(layers.len(), 4);

        let tags: Vec<&str> = entry["RepoTags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(tags.len(), 1, "{f}: {tags:?}");
        let (repo, t) = tags[0].rsplit_once(':').unwrap();
        assert!(
            !repo.is_empty() && !t.is_empty() && !t.contains('/'),
            "{f}: RepoTags {tags:?} carry no tag"
        );
        if let Some(tag) = tag {
            assert_eq!(tags[0], tag);
        }
        // containerd's name annotation names the same image as RepoTags.
        let ann = &descs[0]["annotations"];
        let cname = ann["io.containerd.image.name"].as_str().unwrap();
        assert!(cname.ends_with(tags[0]), "{f}: {cname} vs {}", tags[0]);
        assert_eq!(
            ann["org.opencontainers.image.ref.name"].as_str().unwrap(),
            t
        );
        // `repositories` maps the same repo and tag.
        let repos = tar_member_json(f, "repositories");
        assert!(
            repos[repo][t].is_string(),
            "{f}: repositories {repos} lacks {repo}:{t}"
        );

        // skopeo reads both views and finds the same image; the OCI view is this manifest.
        same_image_both_views(f);
        assert_eq!(
            skopeo_inspect(&format!("oci-archive:{f}"))["Digest"],
            mdigest
        );
    }
}

/// skopeo reads a dual docker archive through manifest.json and through index.json, and finds
/// the same config and the same layer blobs. (The manifest digests differ: for a docker-archive
/// skopeo synthesizes a Docker schema 2 manifest.)
fn same_image_both_views(f: &str) {
    let (d, o) = (format!("docker-archive:{f}"), format!("oci-archive:{f}"));
    let config = |r: &str| tool_ok("skopeo", &["inspect", "--config", r]);
    let (cd, co) = (config(&d), config(&o));
    assert!(!cd.is_empty());
    assert_eq!(
        cd, co,
        "{f}: the docker and OCI views have different configs"
    );
    // skopeo lists a docker archive's layers by diff_id and an OCI one's by blob digest.
    let diff_ids = serde_json::from_str::<Value>(&cd).unwrap()["rootfs"]["diff_ids"].clone();
    let (a, b) = (skopeo_inspect(&d), skopeo_inspect(&o));
    assert_eq!(a["Layers"], diff_ids, "{f}: the docker view's layers");
    let n = diff_ids.as_array().unwrap().len();
    assert!(n > 0);
    assert_eq!(
        b["Layers"].as_array().unwrap().len(),
        n,
        "{f}: the OCI view's layers"
    );
}

#[test]
fn adding_a_second_image_keeps_the_first() {
    let d = tmp();
    let l = d.path().join("l").display().to_string();
    regraft_ok(&[
        "convert",
        &format!("oci:{}:vendor", fixture("oci")),
        &format!("oci:{l}:one"),
    ]);
    regraft_ok(&["convert", &fixture("base.tar"), &format!("oci:{l}:two")]);
    let one = skopeo_inspect(&format!("oci:{l}:one"));
    let two = skopeo_inspect(&format!("oci:{l}:two"));
    assert_eq!(one["Digest"], VENDOR_MANIFEST.as_str());
    assert_eq!(one["Labels"]["org.example.vendor"], "yes");
    assert_eq!(two["Labels"]["org.example.base"], "new");
    assert_eq!(two["Layers"].as_array().unwrap().len(), 2);
    let index: Value =
        serde_json::from_slice(&std::fs::read(Path::new(&l).join("index.json")).unwrap()).unwrap();
    assert_eq!(ref_names(&index), ["one", "two"]);
    regraft_ok(&["verify", &format!("oci:{l}:one")]);
    regraft_ok(&["verify", &format!("oci:{l}:two")]);
    // Both unpack (every blob of both is there).
    let t = tmp();
    assert!(
        unpack_with(&format!("oci:{l}:one"), &[], &t.path().join("1"))
            .join("opt/vendor/bin/hello")
            .exists()
    );
    assert!(
        unpack_with(&format!("oci:{l}:two"), &[], &t.path().join("2"))
            .join("usr/bin/basetool")
            .exists()
    );
}

#[test]
fn an_existing_ref_moves() {
    let d = tmp();
    let l = d.path().join("l").display().to_string();
    regraft_ok(&[
        "convert",
        &format!("oci:{}:oldbase", fixture("oci")),
        &format!("oci:{l}:keep"),
    ]);
    regraft_ok(&[
        "convert",
        &format!("oci:{}:vendor", fixture("oci")),
        &format!("oci:{l}:app"),
    ]);
    regraft_ok(&[
        "convert",
        &format!("oci:{}:base", fixture("oci")),
        &format!("oci:{l}:app"),
    ]);
    let index: Value =
        serde_json::from_slice(&std::fs::read(Path::new(&l).join("index.json")).unwrap()).unwrap();
    let mut names = ref_names(&index);
    names.sort();
    assert_eq!(names, ["app", "keep"], "{index}");
    assert_eq!(
        skopeo_inspect(&format!("oci:{l}:app"))["Digest"],
        BASE_MANIFEST.as_str()
    );
    assert_eq!(
        skopeo_inspect(&format!("oci:{l}:keep"))["Digest"],
        OLDBASE_MANIFEST.as_str()
    );
    regraft_ok(&["verify", &format!("oci:{l}:app")]);
    regraft_ok(&["verify", &format!("oci:{l}:keep")]);
}

/// `inspect --json` per format: format, tags, platform, layer count, and diff_ids equal to the
/// config's `rootfs` as skopeo reads it.
#[test]
fn inspect_json_fields_for_each_format() {
    let oci = |r: &str| format!("oci:{}:{r}", fixture("oci"));
    let vendor_tag = ["docker.io/library/vendor:1.0"];
    // (image, flags, format, tags, platform, layer count, a skopeo reference to the same image)
    type Case<'a> = (
        String,
        Vec<&'a str>,
        &'a str,
        Vec<&'a str>,
        &'a str,
        usize,
        Option<String>,
    );
    let cases: Vec<Case> = vec![
        (
            fixture("vendor.tar"),
            vec![],
            "docker archive (manifest.json only)",
            vendor_tag.to_vec(),
            "linux/amd64",
            4,
            Some(format!("docker-archive:{}", fixture("vendor.tar"))),
        ),
        (
            fixture("vendor.tar.gz"),
            vec![],
            "docker archive (manifest.json only)",
            vendor_tag.to_vec(),
            "linux/amd64",
            4,
            Some(oci("vendor")),
        ),
        (
            fixture("vendor-oci.tar"),
            vec![],
            "OCI archive",
            vec!["vendor"],
            "linux/amd64",
            4,
            Some(format!("oci-archive:{}:vendor", fixture("vendor-oci.tar"))),
        ),
        (
            oci("vendor"),
            vec![],
            "OCI layout directory",
            vec!["vendor"],
            "linux/amd64",
            4,
            Some(oci("vendor")),
        ),
        (
            oci("base"),
            vec![],
            "OCI layout directory",
            vec!["base"],
            "linux/amd64",
            2,
            Some(oci("base")),
        ),
        (
            fixture("vendor-zstd.oci"),
            vec![],
            "OCI layout directory",
            vec!["vendor"],
            "linux/amd64",
            4,
            Some(format!("oci:{}:vendor", fixture("vendor-zstd.oci"))),
        ),
        (
            fixture("vendor-legacy.tar"),
            vec![],
            "docker save, legacy (Docker <= 24)",
            vec!["vendor:1.0"],
            "linux/amd64",
            4,
            Some(format!("docker-archive:{}", fixture("vendor-legacy.tar"))),
        ),
        (
            fixture("vendor-docker25.tar"),
            vec![],
            "docker save, Docker 25+ (OCI layout + manifest.json)",
            vendor_tag.to_vec(),
            "linux/amd64",
            4,
            Some(format!("docker-archive:{}", fixture("vendor-docker25.tar"))),
        ),
        (
            fixture("vendor-docker29.tar"),
            vec![],
            "docker save, Docker 29+ containerd store",
            vendor_tag.to_vec(),
            "linux/amd64",
            4,
            Some(format!("docker-archive:{}", fixture("vendor-docker29.tar"))),
        ),
        (
            fixture("multi.oci"),
            vec![],
            "OCI layout directory",
            vec!["multi"],
            "linux/amd64",
            1,
            None,
        ),
        (
            fixture("multi.oci"),
            vec!["--platform", "linux/arm64"],
            "OCI layout directory",
            vec!["multi"],
            "linux/arm64",
            1,
            None,
        ),
        (
            real("vendor-real.tar"),
            vec![],
            "docker archive (manifest.json only)",
            vec!["docker.io/library/vendor-real:1.0"],
            "linux/amd64",
            3,
            Some(format!("docker-archive:{}", real("vendor-real.tar"))),
        ),
        (
            real("vendor-real.oci"),
            vec![],
            "OCI layout directory",
            vec!["1.0"],
            "linux/amd64",
            3,
            Some(format!("oci:{}:1.0", real("vendor-real.oci"))),
        ),
        (
            real("vendor-real-oci.tar"),
            vec![],
            "OCI archive",
            vec!["1.0"],
            "linux/amd64",
            3,
            Some(format!("oci-archive:{}:1.0", real("vendor-real-oci.tar"))),
        ),
        (
            real("debian-new.tar"),
            vec![],
            "docker archive (manifest.json only)",
            vec!["docker.io/library/debian-new:trixie"],
            "linux/amd64",
            1,
            Some(format!("docker-archive:{}", real("debian-new.tar"))),
        ),
    ];
    for (src, flags, format, tags, platform, layers, skopeo_ref) in cases {
        let j = inspect_json(&src, &flags);
        assert_eq!(j["format"], format, "{src}");
        let got_tags: Vec<&str> = j["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(got_tags, tags, "{src}");
        assert_eq!(j["platform"], platform, "{src} {flags:?}");
        assert_eq!(j["layers"].as_array().unwrap().len(), layers, "{src}");
        let diff_ids = layer_field(&j, "diff_id");
        if let Some(r) = skopeo_ref {
            let config: Value =
                serde_json::from_str(&tool_ok("skopeo", &["inspect", "--config", &r])).unwrap();
            let want: Vec<String> = config["rootfs"]["diff_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_string())
                .collect();
            assert_eq!(
                diff_ids, want,
                "{src}: diff_ids vs skopeo inspect --config {r}"
            );
        }
        // Every diff_id is a well-formed sha256 digest.
        for d in &diff_ids {
            assert!(d.starts_with("sha256:") && d.len() == 71, "{src}: {d}");
        }
    }
}

#[test]
fn verify_is_ok_on_every_fixture() {
    let mut all = vec![
        fixture("vendor.tar"),
        fixture("vendor.tar.gz"),
        fixture("vendor-oci.tar"),
        fixture("vendor-zstd.oci"),
        fixture("vendor-legacy.tar"),
        fixture("vendor-docker25.tar"),
        fixture("vendor-docker29.tar"),
        fixture("base.tar"),
        fixture("oldbase.tar"),
        fixture("multi.oci"),
        format!("oci:{}:multi", fixture("multi.oci")),
        format!("oci:{}:quirk", fixture("quirks/umoci-dir-to-file.oci")),
        format!("oci-archive:{}", fixture("vendor-docker25.tar")),
        format!("oci-archive:{}", fixture("vendor-docker29.tar")),
    ];
    for r in ["oldbase", "base", "vendor"] {
        all.push(format!("oci:{}:{r}", fixture("oci")));
    }
    for f in [
        "vendor-real.tar",
        "vendor-real.oci",
        "vendor-real-oci.tar",
        "debian-new.tar",
        "debian-new.oci",
        "debian-new-oci.tar",
        "debian-old.tar",
        "debian-old.oci",
        "debian-old-oci.tar",
    ] {
        all.push(real(f));
    }
    all.push(format!("oci:{}:vendor-real", real("vendor-with-base.oci")));
    all.push(format!("oci:{}:debian-old", real("vendor-with-base.oci")));
    for r in &all {
        let v: Value = serde_json::from_str(&regraft_ok(&["verify", "--json", r])).unwrap();
        assert_eq!(v["ok"], true, "{r}: {v}");
        assert!(v["layers"].as_u64().unwrap() >= 1, "{r}: {v}");
    }
    let v: Value = serde_json::from_str(&regraft_ok(&[
        "verify",
        "--json",
        "--platform",
        "linux/arm64",
        &fixture("multi.oci"),
    ]))
    .unwrap();
    assert_eq!(v["ok"], true);
}

#[test]
fn a_multi_image_file_without_ref_is_a_usage_error_listing_the_images() {
    let d = tmp();
    for args in [
        vec!["inspect".to_string(), fixture("oci")],
        vec!["verify".to_string(), fixture("oci")],
        vec![
            "convert".to_string(),
            fixture("oci"),
            d.path().join("out.tar").display().to_string(),
        ],
        vec![
            "convert".to_string(),
            format!("oci:{}", fixture("oci")),
            d.path().join("out/").display().to_string(),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = regraft_fails(&args, 2);
        for (name, digest) in [
            ("oldbase", OLDBASE_MANIFEST.as_str()),
            ("base", BASE_MANIFEST.as_str()),
            ("vendor", VENDOR_MANIFEST.as_str()),
        ] {
            assert!(
                err.contains(name) && err.contains(digest),
                "{args:?}: {name} {digest} not listed:\n{err}"
            );
        }
    }
    assert!(
        snapshot(d.path()).is_empty(),
        "a usage error wrote {:?}",
        snapshot(d.path())
    );
}

#[test]
fn images_are_selected_by_index_and_by_digest() {
    let dir = fixture("oci");
    for (r, digest) in [
        (format!("{dir}:@0"), OLDBASE_MANIFEST.as_str()),
        (format!("{dir}:@1"), BASE_MANIFEST.as_str()),
        (format!("oci:{dir}:@2"), VENDOR_MANIFEST.as_str()),
        (
            format!("oci:{dir}:@{}", *BASE_MANIFEST),
            BASE_MANIFEST.as_str(),
        ),
        (
            format!("{dir}:@{}", *VENDOR_MANIFEST),
            VENDOR_MANIFEST.as_str(),
        ),
        (
            format!("docker-archive:{}:@0", fixture("vendor.tar")),
            inspect_json(&fixture("vendor.tar"), &[])["manifest_digest"]
                .as_str()
                .unwrap(),
        ),
    ] {
        assert_eq!(inspect_json(&r, &[])["manifest_digest"], digest, "{r}");
    }
    // Selection works for convert too, and picks exactly that image.
    let d = tmp();
    let out = d.path().join("sel.tar").display().to_string();
    regraft_ok(&["convert", &format!("{dir}:@{}", *BASE_MANIFEST), &out]);
    assert_eq!(
        skopeo_inspect(&format!("docker-archive:{out}"))["Labels"]["org.example.base"],
        "new"
    );

    // Out of range and unknown digests are usage errors that list what is there.
    let err = regraft_fails(&["inspect", &format!("{dir}:@3")], 2);
    assert!(err.contains("@3") && err.contains("oldbase"), "{err}");
    let zero = format!("sha256:{}", "0".repeat(64));
    let err = regraft_fails(&["inspect", &format!("{dir}:@{zero}")], 2);
    assert!(
        err.contains(&zero) && err.contains(VENDOR_MANIFEST.as_str()),
        "{err}"
    );
    let err = regraft_fails(
        &[
            "inspect",
            &format!("docker-archive:{}:@1", fixture("vendor.tar")),
        ],
        2,
    );
    assert!(err.contains("@1") && err.contains("vendor:1.0"), "{err}");
}

/// Docker 29 saves list an arm64 manifest whose blobs are not in the archive: amd64 must not
/// care, and asking for arm64 must fail naming the missing blob.
#[test]
fn docker29_missing_arm64_blobs_matter_only_for_arm64() {
    let f = fixture("vendor-docker29.tar");
    assert_eq!(
        inspect_json(&f, &[])["manifest_digest"],
        VENDOR_MANIFEST.as_str()
    );
    assert_eq!(
        inspect_json(&f, &["--platform", "linux/amd64"])["platform"],
        "linux/amd64"
    );
    regraft_ok(&["verify", &f]);

    let d = tmp();
    let out = d.path().join("arm.tar").display().to_string();
    for args in [
        vec!["inspect", "--platform", "linux/arm64", &f],
        vec!["verify", "--platform", "linux/arm64", &f],
        vec!["convert", "--platform", "linux/arm64", &f, &out],
    ] {
        let err = regraft_fails(&args, 1);
        assert!(
            err.contains(DOCKER29_ARM64_MANIFEST.as_str()) && err.contains("missing"),
            "{args:?}:\n{err}"
        );
    }
    assert!(
        snapshot(d.path()).is_empty(),
        "a failed convert left {:?}",
        snapshot(d.path())
    );
}
