//! Broken inputs, made in a temp dir from copies of the small fixtures: for each one `verify`
//! exits 1 naming the file, blob or digest involved, and `convert` fails without touching its
//! target (a new target is not created and leaves no `.regraft-tmp-*` behind; an existing file
//! or layout keeps its bytes).

use crate::common::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// Facts about `fixtures/oci`'s vendor, read from the fixture (it is rebuilt now and then, and
/// its digests move with the tool versions): layer 1 (gzip) and the config.
struct Vendor {
    layer1: String,
    layer1_size: u64,
    layer1_diff_id: String,
    config: String,
}

static VENDOR: LazyLock<Vendor> = LazyLock::new(|| {
    let l = Path::new(&fixture("oci")).to_path_buf();
    let m = manifest(&l, "vendor");
    let hex = |v: &Value| {
        v.as_str()
            .unwrap()
            .strip_prefix("sha256:")
            .unwrap()
            .to_string()
    };
    let config = hex(&m["config"]["digest"]);
    let c = read_json(&blob(&l, &config));
    Vendor {
        layer1: hex(&m["layers"][1]["digest"]),
        layer1_size: m["layers"][1]["size"].as_u64().unwrap(),
        layer1_diff_id: hex(&c["rootfs"]["diff_ids"][1]),
        config,
    }
});

const INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// A copy of `fixtures/oci` (three images; the vendor is tag `vendor`) at `dir/name`.
fn oci_copy(dir: &Path, name: &str) -> PathBuf {
    let dst = dir.join(name);
    tool_ok("cp", &["-a", &fixture("oci"), &dst.display().to_string()]);
    dst
}

fn blob(layout: &Path, hex: &str) -> PathBuf {
    layout.join("blobs/sha256").join(hex)
}

/// Writes `bytes` as a blob; returns the hex digest.
fn write_blob(layout: &Path, bytes: &[u8]) -> String {
    let hex = sha256_hex(bytes);
    std::fs::write(blob(layout, &hex), bytes).unwrap();
    hex
}

fn index_pos(index: &Value, r: &str) -> usize {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .position(|m| m["annotations"]["org.opencontainers.image.ref.name"] == r)
        .unwrap()
}

fn manifest(layout: &Path, r: &str) -> Value {
    let index = read_json(&layout.join("index.json"));
    let d = index["manifests"][index_pos(&index, r)]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    read_json(&blob(layout, d.strip_prefix("sha256:").unwrap()))
}

/// Stores `m` as the manifest of ref `r`, fixing index.json's digest and size so that only
/// what the caller changed in `m` lies.
fn set_manifest(layout: &Path, r: &str, m: &Value) {
    let bytes = serde_json::to_vec(m).unwrap();
    let hex = write_blob(layout, &bytes);
    let mut index = read_json(&layout.join("index.json"));
    let i = index_pos(&index, r);
    index["manifests"][i]["digest"] = json!(format!("sha256:{hex}"));
    index["manifests"][i]["size"] = json!(bytes.len());
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
}

/// Stores `c` as the config of ref `r`, with a correct descriptor.
fn set_config(layout: &Path, r: &str, c: &Value) {
    let bytes = serde_json::to_vec(c).unwrap();
    let hex = write_blob(layout, &bytes);
    let mut m = manifest(layout, r);
    m["config"]["digest"] = json!(format!("sha256:{hex}"));
    m["config"]["size"] = json!(bytes.len());
    set_manifest(layout, r, &m);
}

fn vendor_config(layout: &Path) -> Value {
    read_json(&blob(layout, VENDOR.config.as_str()))
}

/// Replaces vendor layer 1's blob with `bytes` under a correct descriptor (new digest and size).
fn replace_layer1(layout: &Path, bytes: &[u8]) -> String {
    let hex = write_blob(layout, bytes);
    let mut m = manifest(layout, "vendor");
    m["layers"][1]["digest"] = json!(format!("sha256:{hex}"));
    m["layers"][1]["size"] = json!(bytes.len());
    set_manifest(layout, "vendor", &m);
    hex
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    // Every member: regraft writes a member per 1 MiB.
    flate2::read::MultiGzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(b: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Rewrites a tar archive with one member's data replaced, or the member left out when `data`
/// is `None` (Python's tarfile keeps every other header as it was).
fn tar_replace(src: &str, dst: &Path, member: &str, data: Option<&[u8]>) {
    let data_file = dst.with_extension("member");
    std::fs::write(&data_file, data.unwrap_or_default()).unwrap();
    let script = r#"
import io, sys, tarfile
src, dst, name, data = sys.argv[1], sys.argv[2], sys.argv[3], open(sys.argv[4], 'rb').read()
drop = sys.argv[5] == "drop"
found = False
with tarfile.open(src) as i, tarfile.open(dst, 'w', format=i.format) as o:
    for m in i.getmembers():
        if m.name == name:
            found = True
            if not drop:
                m.size = len(data)
                o.addfile(m, io.BytesIO(data))
        else:
            o.addfile(m, i.extractfile(m) if m.isfile() else None)
assert found, name
"#;
    tool_ok(
        "python3",
        &[
            "-c",
            script,
            src,
            &dst.display().to_string(),
            member,
            &data_file.display().to_string(),
            if data.is_some() { "replace" } else { "drop" },
        ],
    );
    std::fs::remove_file(data_file).unwrap();
}

/// Builds a valid single-image OCI layout at `dir` (tag `x`, linux/amd64) from one uncompressed
/// layer tar: gzip blob, diff_id, config, manifest and index.json all with correct digests.
fn layout_from_tar(dir: &Path, layer_tar: &[u8]) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let gz = gzip(layer_tar, 6);
    let layer = write_blob(dir, &gz);
    let config = serde_json::to_vec(&json!({
        "created": "2024-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(layer_tar))]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "bad_input test layer"}]
    }))
    .unwrap();
    let config_hex = write_blob(dir, &config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{config_hex}"), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{layer}"), "size": gz.len()}]
    }))
    .unwrap();
    let manifest_hex = write_blob(dir, &manifest);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{manifest_hex}"),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "x"}
        }]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// A layer tar holding one file of `size` zero bytes.
fn zeros_tar(size: u64) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_path("zeros").unwrap();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append(&h, std::io::repeat(0).take(size)).unwrap();
    b.into_inner().unwrap()
}

/// `regraft verify SRC` exits 1 and its message contains every one of `needles`.
fn verify_fails(src: &str, extra: &[&str], needles: &[&str]) -> String {
    let mut args = vec!["verify"];
    args.extend_from_slice(extra);
    args.push(src);
    let err = regraft_fails(&args, 1);
    for n in needles {
        assert!(
            err.contains(n),
            "verify {src}: the message does not name {n:?}:\n{err}"
        );
    }
    err
}

/// `regraft convert SRC TARGET` fails (exit 1) for every kind of target, and leaves each one as
/// it was: new targets are not created and no temp file is left; existing ones keep their bytes.
fn convert_fails_atomically(src: &str, extra: &[&str], needles: &[&str]) {
    let d = tmp();
    let out = d.path();
    std::fs::copy(fixture("base.tar"), out.join("existing.tar")).unwrap();
    std::fs::copy(fixture("vendor-oci.tar"), out.join("existing-oci.tar")).unwrap();
    // A layout holding base only: it shares no blob with the broken vendor inputs, so every
    // blob has to be read from the input. (A layout that already has a blob need not read it
    // again, and a convert into it may then succeed: content addressing.)
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("oci:{}:base", fixture("oci")),
            &format!("oci:{}:base", out.join("existing-layout").display()),
        ],
    );
    // The lock is an flock on the layout directory: a failed write adds no file at all.
    let before = snapshot(out);
    let p = |n: &str| out.join(n).display().to_string();
    let targets = [
        p("new.tar"),
        format!("docker-archive:{}:new/image:1", p("new-named.tar")),
        format!("oci-archive:{}:x", p("new-oci.tar")),
        format!("oci:{}:x", p("new-layout")),
        format!("{}/", p("new-dir")),
        p("existing.tar"),
        format!("oci-archive:{}:vendor", p("existing-oci.tar")),
        format!("oci:{}:base", p("existing-layout")),
        format!("oci:{}:another", p("existing-layout")),
    ];
    for t in &targets {
        let mut args = vec!["convert"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[src, t.as_str()]);
        let o = regraft(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            Some(1),
            "convert {src} {t}: expected exit 1:\n{err}"
        );
        for n in needles {
            assert!(
                err.contains(n),
                "convert {src} {t}: the message does not name {n:?}:\n{err}"
            );
        }
        let after = snapshot(out);
        let tmp_left: Vec<_> = after
            .keys()
            .filter(|k| k.contains(".regraft-tmp-"))
            .collect();
        assert!(
            tmp_left.is_empty(),
            "convert {src} {t} left temp files {tmp_left:?}"
        );
        let changed: Vec<_> = before
            .iter()
            .filter(|(k, v)| after.get(*k) != Some(*v))
            .map(|(k, _)| k)
            .chain(after.keys().filter(|k| !before.contains_key(*k)))
            .collect();
        assert!(
            changed.is_empty(),
            "convert {src} {t} changed the target directory: {changed:?}"
        );
    }
}

/// Both checks on one broken input.
fn rejected(src: &str, needles: &[&str]) {
    verify_fails(src, &[], needles);
    convert_fails_atomically(src, &[], needles);
}

#[test]
fn truncated_outer_tar() {
    let d = tmp();
    for (name, keep) in [
        ("vendor.tar", 30_000),
        ("vendor-oci.tar", 9_000),
        ("vendor-docker25.tar", 40_000),
    ] {
        let f = d.path().join(format!("trunc-{name}"));
        let bytes = std::fs::read(fixture(name)).unwrap();
        std::fs::write(&f, &bytes[..keep]).unwrap();
        let f = f.display().to_string();
        rejected(&f, &[&f]);
    }
}

#[test]
fn truncated_gzip_layer() {
    let d = tmp();
    let l = oci_copy(d.path(), "in");
    let b = blob(&l, VENDOR.layer1.as_str());
    let bytes = std::fs::read(&b).unwrap();
    std::fs::write(&b, &bytes[..bytes.len() / 2]).unwrap();
    rejected(
        &format!("oci:{}:vendor", l.display()),
        &[VENDOR.layer1.as_str()],
    );
}

#[test]
fn truncated_gzip_layer_with_matching_descriptor() {
    // The descriptor agrees with the truncated blob, so only decompression can notice.
    let d = tmp();
    let l = oci_copy(d.path(), "in");
    let bytes = std::fs::read(blob(&l, VENDOR.layer1.as_str())).unwrap();
    let hex = replace_layer1(&l, &bytes[..bytes.len() - 100]);
    rejected(&format!("oci:{}:vendor", l.display()), &[&hex]);
}

#[test]
fn recompressed_layer_no_longer_matches_its_digest() {
    let d = tmp();
    let l = oci_copy(d.path(), "in");
    let b = blob(&l, VENDOR.layer1.as_str());
    let recompressed = gzip(&gunzip(&std::fs::read(&b).unwrap()), 1);
    assert_ne!(sha256_hex(&recompressed), VENDOR.layer1.as_str());
    std::fs::write(&b, &recompressed).unwrap();
    let src = format!("oci:{}:vendor", l.display());
    rejected(&src, &[VENDOR.layer1.as_str()]);
    // Regression: the message named the layer twice ("X: layer 1 (…): X: layer 1 (…): …").
    let err = verify_fails(&src, &[], &[]);
    assert_eq!(err.matches(": layer 1 (").count(), 1, "{err}");

    // The same, with the descriptor's size fixed up: now only the digest lies.
    let l2 = oci_copy(d.path(), "in2");
    std::fs::write(blob(&l2, VENDOR.layer1.as_str()), &recompressed).unwrap();
    let mut m = manifest(&l2, "vendor");
    m["layers"][1]["size"] = json!(recompressed.len());
    set_manifest(&l2, "vendor", &m);
    let src = format!("oci:{}:vendor", l2.display());
    rejected(&src, &[VENDOR.layer1.as_str(), &sha256_hex(&recompressed)]);
}

#[test]
fn descriptor_size_lies() {
    for size in [VENDOR.layer1_size - 1, VENDOR.layer1_size + 1] {
        let d = tmp();
        let l = oci_copy(d.path(), "in");
        let mut m = manifest(&l, "vendor");
        m["layers"][1]["size"] = json!(size);
        set_manifest(&l, "vendor", &m);
        let src = format!("oci:{}:vendor", l.display());
        let err = verify_fails(&src, &[], &[VENDOR.layer1.as_str()]);
        assert!(
            err.contains(&size.to_string()),
            "the message does not give the declared size {size}:\n{err}"
        );
        convert_fails_atomically(&src, &[], &[VENDOR.layer1.as_str()]);
    }
}

#[test]
fn missing_layer_blob() {
    let d = tmp();
    let l = oci_copy(d.path(), "in");
    std::fs::remove_file(blob(&l, VENDOR.layer1.as_str())).unwrap();
    rejected(
        &format!("oci:{}:vendor", l.display()),
        &[VENDOR.layer1.as_str(), "missing"],
    );
}

#[test]
fn missing_config_blob() {
    let d = tmp();
    let l = oci_copy(d.path(), "in");
    std::fs::remove_file(blob(&l, VENDOR.config.as_str())).unwrap();
    rejected(
        &format!("oci:{}:vendor", l.display()),
        &[VENDOR.config.as_str(), "missing"],
    );
}

#[test]
fn missing_layer_in_docker_archive() {
    let d = tmp();
    let f = d.path().join("vendor.tar");
    // The top-level layer file goes (the v1 dir's layer.tar symlink still points at it).
    let member = format!("{}.tar", VENDOR.layer1_diff_id);
    tar_replace(&fixture("vendor.tar"), &f, &member, None);
    rejected(&f.display().to_string(), &[VENDOR.layer1_diff_id.as_str()]);
}

#[test]
fn config_diff_ids_count_disagrees_with_layers() {
    let d = tmp();
    let l = oci_copy(d.path(), "in");
    let mut c = vendor_config(&l);
    c["rootfs"]["diff_ids"].as_array_mut().unwrap().pop();
    set_config(&l, "vendor", &c);
    let src = format!("oci:{}:vendor", l.display());
    let err = verify_fails(&src, &[], &["diff_id"]);
    assert!(
        err.contains('3') && err.contains('4'),
        "the message does not give both counts:\n{err}"
    );
    convert_fails_atomically(&src, &[], &["diff_id"]);
}

#[test]
fn diff_id_does_not_match_the_layer() {
    let d = tmp();
    let l = oci_copy(d.path(), "in");
    let mut c = vendor_config(&l);
    let wrong = format!("sha256:{}", sha256_hex(b"not the layer"));
    c["rootfs"]["diff_ids"][1] = json!(wrong);
    set_config(&l, "vendor", &c);
    let src = format!("oci:{}:vendor", l.display());
    // Names the layer, the diff_id the config claims, and the one the content has.
    rejected(
        &src,
        &[
            VENDOR.layer1.as_str(),
            &wrong,
            VENDOR.layer1_diff_id.as_str(),
        ],
    );
}

#[test]
fn docker_archive_layer_does_not_match_its_diff_id() {
    let d = tmp();
    let member = format!("{}.tar", VENDOR.layer1_diff_id);
    let mut layer = tool_ok_bytes("tar", &["-xOf", &fixture("vendor.tar"), &member]);
    // Flip a byte inside the hello binary's data (well past the first headers).
    layer[4096] ^= 0xff;
    let f = d.path().join("vendor.tar");
    tar_replace(&fixture("vendor.tar"), &f, &member, Some(&layer));
    rejected(&f.display().to_string(), &[VENDOR.layer1_diff_id.as_str()]);
}

fn tool_ok_bytes(cmd: &str, args: &[&str]) -> Vec<u8> {
    let o = tool(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

#[test]
fn manifest_json_that_is_not_json() {
    let d = tmp();
    for (i, name) in ["vendor.tar", "vendor-legacy.tar"].iter().enumerate() {
        let f = d.path().join(format!("{i}.tar"));
        tar_replace(
            &fixture(name),
            &f,
            "manifest.json",
            Some(b"[{\"Config\": not json"),
        );
        rejected(&f.display().to_string(), &["manifest.json"]);
    }
}

#[test]
fn index_json_that_is_not_json() {
    let d = tmp();
    let l = oci_copy(d.path(), "in");
    std::fs::write(
        l.join("index.json"),
        b"{\"schemaVersion\":2,\"manifests\":[{\"digest\"",
    )
    .unwrap();
    rejected(&format!("oci:{}:vendor", l.display()), &["index.json"]);
    // The same inside an OCI archive.
    let f = d.path().join("oci.tar");
    tar_replace(
        &fixture("vendor-oci.tar"),
        &f,
        "index.json",
        Some(b"not json at all"),
    );
    rejected(&f.display().to_string(), &["index.json"]);
}

#[test]
fn index_json_nested_100k_deep() {
    let d = tmp();
    let l = oci_copy(d.path(), "in");
    let depth = 100_000;
    let deep = format!(
        "{{\"schemaVersion\":2,\"manifests\":{}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    std::fs::write(l.join("index.json"), deep).unwrap();
    rejected(&format!("oci:{}:vendor", l.display()), &["index.json"]);
    // Nested objects too, with the bare layout path.
    let deep = format!("{}{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    std::fs::write(l.join("index.json"), deep).unwrap();
    rejected(&l.display().to_string(), &["index.json"]);
}

#[test]
fn an_index_that_points_at_itself() {
    let d = tmp();
    let l = oci_copy(d.path(), "in");
    // A blob stored under a name F whose content is an index listing F. (It cannot hash to F,
    // so the digest check must catch it, or a depth limit; it must not loop.)
    let fake = sha256_hex(b"a self-referencing index");
    let mut size = 0;
    let body = loop {
        let body = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": [{"mediaType": INDEX, "digest": format!("sha256:{fake}"), "size": size}]
        }))
        .unwrap();
        if body.len() == size {
            break body;
        }
        size = body.len();
    };
    std::fs::write(blob(&l, &fake), &body).unwrap();
    let mut index = read_json(&l.join("index.json"));
    index["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": INDEX, "digest": format!("sha256:{fake}"), "size": size,
        "annotations": {"org.opencontainers.image.ref.name": "loop"}
    }));
    std::fs::write(l.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    rejected(&format!("oci:{}:loop", l.display()), &[&fake]);
    // The other images of the layout are still fine.
    regraft_ok(&["verify", &format!("oci:{}:vendor", l.display())]);
}

#[test]
fn gzip_layer_with_trailing_garbage() {
    let d = tmp();
    let l = oci_copy(d.path(), "in");
    let mut bytes = std::fs::read(blob(&l, VENDOR.layer1.as_str())).unwrap();
    bytes.extend_from_slice(b"trailing garbage after the gzip member");
    // The descriptor is correct for the new bytes; only the gzip stream is wrong.
    let hex = replace_layer1(&l, &bytes);
    rejected(&format!("oci:{}:vendor", l.display()), &[&hex]);
}

#[test]
fn layer_bomb_is_bounded_by_max_layer_size() {
    let d = tmp();
    let l = d.path().join("bomb");
    layout_from_tar(&l, &zeros_tar(20 << 20));
    let src = format!("oci:{}:x", l.display());
    // The layout is valid: skopeo reads it, and regraft verifies it without a limit.
    skopeo_inspect(&src);
    regraft_ok(&["verify", &src]);
    let layer = inspect_json(&src, &[])["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    verify_fails(
        &src,
        &["--max-layer-size", "1M"],
        &["max-layer-size", &layer],
    );
    convert_fails_atomically(&src, &["--max-layer-size", "1M"], &["max-layer-size"]);
}
