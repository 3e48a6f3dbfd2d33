//! Issue 19, one pass over every input byte: a graft of a gzip OCI layout (made by skopeo and
//! umoci, `fixtures/build-real.sh`) into an archive reads each compressed input blob once. The
//! check's inflate is the read, and the archive takes the raw bytes from it (a tee); the copy
//! does not read the blob again. The figure is the process's own count of bytes read
//! (`/proc/self/io` `rchar`, printed by `-v`), compared here with the layer blobs the job
//! needs, summed from the input layouts' manifests by this test. A corrupt blob fails the
//! graft by name and leaves nothing at the output path.

use crate::common::*;
use serde_json::Value;
use std::path::Path;

/// The vendor is debian-old (its old base) plus two application layers; the base is
/// debian-new. Both are gzip OCI layouts.
const VENDOR: &str = "vendor-real.oci";
const BASE: &str = "debian-new.oci";

/// The layer descriptors (digest, size) of the image tagged `tag` in a layout.
pub(crate) fn layout_layers(layout: &Path, tag: &str) -> Vec<(String, u64)> {
    let read = |p: &Path| -> Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap_or_else(|e| {
            panic!("{}: {e}", p.display());
        })
    };
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let index = read(&layout.join("index.json"));
    let m = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no {tag} in {}", layout.display()));
    let manifest = read(&blob(m["digest"].as_str().unwrap()));
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["digest"].as_str().unwrap().to_string(),
                l["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The graft's arguments: `from` onto `onto` (old base: one layer) to `out`, in `mode`
/// (`path` selects /opt/vendor), with `-v` when `verbose`.
pub(crate) fn graft_args(
    verbose: bool,
    from: &str,
    onto: &str,
    out: &str,
    mode: &str,
) -> Vec<String> {
    let mut args: Vec<String> = verbose.then(|| "-v".to_string()).into_iter().collect();
    args.extend(
        [
            "--from",
            from,
            "--onto",
            onto,
            "--old-base-layers",
            "1",
            "-o",
            out,
        ]
        .map(String::from),
    );
    if mode == "path" {
        args.extend(["--path".into(), "/opt/vendor".into()]);
    }
    args
}

/// `-v`'s "I/O: read N.N MB in all" as bytes (rounded as printed: to 0.1 of the unit).
pub(crate) fn bytes_read(stderr: &str) -> f64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("I/O: read"))
        .unwrap_or_else(|| panic!("no I/O line:\n{stderr}"));
    let figure = line
        .split("I/O: read ")
        .nth(1)
        .and_then(|r| r.split(" in all").next())
        .unwrap_or_else(|| panic!("unreadable I/O line: {line}"));
    let (n, unit) = figure.split_once(' ').unwrap();
    let n: f64 = n.parse().unwrap();
    let scale = match unit {
        "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        u => panic!("unit {u} in {line}"),
    };
    n * scale
}

/// Both graft modes into both archive kinds: every compressed layer the archive holds is
/// written from the check's read ("written to the archive as it was read and verified", one
/// line per layer the output copies), the process reads at most 1.05x the input layer blobs
/// the job needs (before the tee: 2.04x in layer mode, 1.53x in path mode), and skopeo and
/// umoci read the result (both verify every digest) with the grafted files in place.
#[test]
fn archive_outputs_read_each_compressed_input_blob_once() {
    let t = tmp();
    let (vendor, base) = (real(VENDOR), real(BASE));
    let vlayers = layout_layers(Path::new(&vendor), "1.0");
    let blayers = layout_layers(Path::new(&base), "trixie");
    assert_eq!(vlayers.len(), 3, "the vendor fixture changed: {vlayers:?}");
    for mode in ["layer", "path"] {
        // Layer mode needs the base's layers and the vendor's above its old base (one layer);
        // path mode reads the whole vendor for its merged view.
        let skip = if mode == "layer" { 1 } else { 0 };
        let needed: u64 = blayers.iter().chain(&vlayers[skip..]).map(|(_, n)| n).sum();
        // The layers the archive copies as they are: the base's, and in layer mode the
        // vendor's application layers (path mode writes a new layer of its own).
        let copied = blayers.len()
            + if mode == "layer" {
                vlayers.len() - 1
            } else {
                0
            };
        for kind in ["oci-archive", "docker-archive"] {
            let out = t.path().join(format!("{mode}-{kind}.tar"));
            let args = graft_args(
                true,
                &format!("oci:{vendor}:1.0"),
                &format!("oci:{base}:trixie"),
                &format!("{kind}:{}", out.display()),
                mode,
            );
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = regraft(&args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "{mode} -> {kind}:\n{err}");
            let teed = err
                .matches("written to the archive as it was read and verified")
                .count();
            assert_eq!(
                teed, copied,
                "{mode} -> {kind}: every copied layer teed:\n{err}"
            );
            assert!(
                !err.contains(": copying "),
                "{mode} -> {kind}: a layer was read again by a copy:\n{err}"
            );
            let read = bytes_read(&err);
            let ratio = read / needed as f64;
            assert!(
                ratio <= 1.05,
                "{mode} -> {kind}: read {read} bytes for {needed} bytes of layer blobs needed \
                 ({ratio:.3}x):\n{err}"
            );
            let dir = t.path().join(format!("unpacked-{mode}-{kind}"));
            std::fs::create_dir(&dir).unwrap();
            let rootfs = unpack(&format!("{kind}:{}", out.display()), &dir);
            assert!(
                rootfs.join("opt/vendor").is_dir() && rootfs.join("etc/os-release").is_file(),
                "{mode} -> {kind}: the result lacks the grafted files"
            );
            let os = std::fs::read_to_string(rootfs.join("etc/os-release")).unwrap();
            assert!(
                os.contains("trixie"),
                "{mode} -> {kind}: not on the new base"
            );
        }
    }
}

/// The same images as OCI archives (skopeo made them from the layouts: the same blobs) into
/// an OCI layout: a layer blob inside an archive cannot be hard-linked, so the layout takes
/// it from the check's read into a temporary blob file, renamed into place once verified
/// ("written to the layout as it was read and verified"); before the tee it was read again by
/// the copy (2.05x in layer mode). skopeo copies the result out, verifying every digest.
#[test]
fn a_layout_output_of_archive_inputs_reads_each_blob_once() {
    let t = tmp();
    let vlayers = layout_layers(Path::new(&real(VENDOR)), "1.0");
    let blayers = layout_layers(Path::new(&real(BASE)), "trixie");
    for mode in ["layer", "path"] {
        let skip = usize::from(mode == "layer");
        let needed: u64 = blayers.iter().chain(&vlayers[skip..]).map(|(_, n)| n).sum();
        let copied = blayers.len()
            + if mode == "layer" {
                vlayers.len() - 1
            } else {
                0
            };
        let out = t.path().join(format!("{mode}.oci"));
        let args = graft_args(
            true,
            &format!("oci-archive:{}", real("vendor-real-oci.tar")),
            &format!("oci-archive:{}", real("debian-new-oci.tar")),
            &format!("oci:{}:out", out.display()),
            mode,
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = regraft(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{mode}:\n{err}");
        let teed = err
            .matches("written to the layout as it was read and verified")
            .count();
        assert_eq!(teed, copied, "{mode}: every copied layer teed:\n{err}");
        assert!(
            !err.contains(": copying "),
            "{mode}: a layer was read again:\n{err}"
        );
        let ratio = bytes_read(&err) / needed as f64;
        assert!(
            ratio <= 1.05,
            "{mode}: read {ratio:.3}x the blobs needed:\n{err}"
        );
        tool_ok(
            "skopeo",
            &[
                "copy",
                "-q",
                &format!("oci:{}:out", out.display()),
                &format!("dir:{}", t.path().join(format!("copied-{mode}")).display()),
            ],
        );
    }
}

/// Fails unless nothing but `keep` is in `dir`: no output, no temporary file beside it.
fn assert_only(dir: &Path, keep: &[&str], out: &Path) {
    assert!(!out.exists(), "{} was written", out.display());
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A copy of the base layout with one byte of its (gzip) layer blob flipped at `at`: inside
/// the deflate data (the inflate fails) or in the gzip header's mtime (the stream inflates;
/// the digest does not match). In both graft modes and both archive kinds the graft fails
/// with the blob's digest in the message, and neither the archive nor a temporary file is
/// left in the output directory: the tee's bytes are never committed.
#[test]
fn a_corrupt_compressed_blob_fails_by_name_and_leaves_no_archive() {
    let t = tmp();
    let vendor = real(VENDOR);
    let layer = layout_layers(Path::new(&real(BASE)), "trixie")
        .pop()
        .unwrap();
    let hex = layer.0.trim_start_matches("sha256:").to_string();
    for (case, at) in [("deflate data", layer.1 / 2), ("gzip mtime", 5)] {
        let work = t.path().join(case.replace(' ', "-"));
        std::fs::create_dir(&work).unwrap();
        let bad = work.join("bad.oci");
        tool_ok("cp", &["-a", &real(BASE), bad.to_str().unwrap()]);
        let blob = bad.join("blobs/sha256").join(&hex);
        let mut bytes = std::fs::read(&blob).unwrap();
        bytes[at as usize] ^= 0x55;
        // A copy of the blob, not the hard link cp -a may have kept to the fixture.
        std::fs::remove_file(&blob).unwrap();
        std::fs::write(&blob, &bytes).unwrap();
        let outdir = work.join("out");
        std::fs::create_dir(&outdir).unwrap();
        for mode in ["layer", "path"] {
            for kind in ["oci-archive", "docker-archive"] {
                let out = outdir.join("result.tar");
                let args = graft_args(
                    false,
                    &format!("oci:{vendor}:1.0"),
                    &format!("oci:{}:trixie", bad.display()),
                    &format!("{kind}:{}", out.display()),
                    mode,
                );
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let err = regraft_fails(&args, 1);
                assert!(
                    err.contains(&layer.0),
                    "{case}, {mode} -> {kind}: the message names the blob:\n{err}"
                );
                if case == "gzip mtime" {
                    assert!(err.contains("digest mismatch"), "{case}: {err}");
                }
                assert_only(&outdir, &[], &out);
            }
        }
    }
}
