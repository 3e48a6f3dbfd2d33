//! Hostile images, generated here: every case gets a clear error (exit 1) or a safe,
//! documented result, never a panic, and nothing is ever written outside the output.

use crate::common::*;
use std::path::Path;

const F: u8 = b'0';
const DIR: u8 = b'5';
const SYM: u8 = b'2';
const LINK: u8 = b'1';
const CHR: u8 = b'3';
const FIFO: u8 = b'6';

fn file(name: &[u8], data: &[u8]) -> Vec<u8> {
    raw_entry(name, F, data, b"", 0o644)
}
fn dir(name: &[u8]) -> Vec<u8> {
    raw_entry(name, DIR, b"", b"", 0o755)
}
fn sym(name: &[u8], target: &[u8]) -> Vec<u8> {
    raw_entry(name, SYM, b"", target, 0o777)
}
fn link(name: &[u8], target: &[u8]) -> Vec<u8> {
    raw_entry(name, LINK, b"", target, 0o644)
}
fn layer(entries: &[Vec<u8>]) -> Vec<u8> {
    end_tar(entries.concat())
}
/// A plain lower layer most cases build on.
fn lower() -> Vec<u8> {
    layer(&[dir(b"d/"), file(b"d/x", b"x"), file(b"f", b"lower f")])
}

fn image(dir: &Path, layers: &[Vec<u8>]) -> String {
    layout_from_layers(&dir.join("img"), layers)
}

/// `ls` of a hostile image: exit 1 with every needle in stderr, and no panic.
fn refused(layers: &[Vec<u8>], needles: &[&str]) {
    let t = tmp();
    let img = image(t.path(), layers);
    let o = regraft(&["ls", &img]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "expected exit 1; stderr:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
}

/// `ls` of the image succeeds; returns its JSON listing as (path, type, link) triples.
fn listed(layers: &[Vec<u8>]) -> Vec<(String, String, Option<String>)> {
    let t = tmp();
    let img = image(t.path(), layers);
    let out = regraft_ok(&["ls", &img, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["type"].as_str().unwrap().to_string(),
                e["link"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn paths(l: &[(String, String, Option<String>)]) -> Vec<&str> {
    l.iter().map(|e| e.0.as_str()).collect()
}

/// Copies the whole image out with `cp` into a fresh directory and checks that nothing
/// appeared outside it.
fn cp_stays_inside(layers: &[Vec<u8>]) -> std::path::PathBuf {
    let t = tmp();
    let img = image(t.path(), layers);
    let area = t.path().join("area");
    std::fs::create_dir_all(area.join("outside")).unwrap();
    let before = snapshot(&area);
    let dest = area.join("dest");
    let o = regraft(&["cp", &format!("{img}:/"), &dest.display().to_string()]);
    assert!(o.status.code().is_some(), "killed by a signal");
    let after = snapshot(&area);
    for k in after.keys() {
        assert!(
            k.starts_with("dest") || before.contains_key(k),
            "cp wrote outside its destination: {k}"
        );
    }
    let keep = t.keep();
    keep.join("area/dest")
}

#[test]
fn dotdot_components_are_refused() {
    refused(
        &[lower(), layer(&[file(b"d/../../escape", b"x")])],
        &["'..'"],
    );
    refused(
        &[lower(), layer(&[link(b"l", b"../../etc/passwd")])],
        &["'..'"],
    );
}

#[test]
fn absolute_and_unclean_names_are_cleaned() {
    let l = listed(&[layer(&[
        file(b"/abs", b"a"),
        file(b"./dot//twice/./x", b"b"),
        dir(b"./"),
        dir(b"/"),
    ])]);
    assert_eq!(paths(&l), ["/abs", "/dot", "/dot/twice", "/dot/twice/x"]);
}

#[test]
fn empty_and_nul_names_are_refused() {
    refused(&[layer(&[file(b"", b"x")])], &["empty name"]);
    refused(
        &[layer(&[
            pax_entry(&[("path", b"a\0b")]),
            file(b"placeholder", b"x"),
        ])],
        &["NUL"],
    );
}

#[test]
fn non_utf8_and_escape_names_are_kept_and_printed_safely() {
    let t = tmp();
    let img = image(
        t.path(),
        &[layer(&[
            file(b"caf\xe9", b"x"),
            file(b"red\x1b[31mname", b"y"),
        ])],
    );
    let out = regraft_ok(&["ls", &img]);
    assert!(
        !out.contains('\x1b'),
        "escape sequence reached the terminal: {out:?}"
    );
    assert!(out.contains("\\xe9"), "{out}");
    assert!(out.contains("\\u{1b}[31m"), "{out}");
}

#[test]
fn long_names_gnu_and_pax() {
    let long = format!("{}/file", "deep".repeat(40));
    let mut gnu = raw_entry(
        b"././@LongLink",
        b'L',
        format!("{long}\0").as_bytes(),
        b"",
        0o644,
    );
    gnu.extend(file(b"truncated-name", b"gnu"));
    let pax_name = format!("{}/pax", "p".repeat(150));
    let mut pax = pax_entry(&[("path", pax_name.as_bytes())]);
    pax.extend(file(b"short", b"pax"));
    let l = listed(&[end_tar([gnu, pax].concat())]);
    assert!(paths(&l).contains(&format!("/{long}").as_str()), "{l:?}");
    assert!(
        paths(&l).contains(&format!("/{pax_name}").as_str()),
        "{l:?}"
    );
}

#[test]
fn pax_size_override_is_honoured() {
    let t = tmp();
    let mut e = pax_entry(&[("size", b"5")]);
    let mut h = raw_entry(b"sized", F, b"", b"", 0o644);
    h.extend_from_slice(b"12345");
    h.resize(h.len().div_ceil(512) * 512, 0);
    e.extend(h);
    let img = image(t.path(), &[end_tar(e)]);
    let out = regraft_ok(&["ls", &img, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["size"], 5, "{out}");
}

#[test]
fn pax_sparse_files_are_refused() {
    refused(
        &[layer(&[
            pax_entry(&[("GNU.sparse.major", b"1"), ("GNU.sparse.minor", b"0")]),
            file(b"sparse", b"x"),
        ])],
        &["sparse"],
    );
}

#[test]
fn symlinks_out_of_the_root_are_kept_as_links_never_followed() {
    let layers = [
        lower(),
        layer(&[
            sym(b"abs", b"/etc/passwd"),
            sym(b"rel", b"../../../../etc"),
            file(b"rel/x", b"through"),
        ]),
    ];
    let l = listed(&layers);
    assert!(
        l.contains(&("/abs".into(), "symlink".into(), Some("/etc/passwd".into()))),
        "{l:?}"
    );
    // An entry under a symlink that leaves the root lands inside the root (clamped, as in a chroot).
    assert!(paths(&l).contains(&"/etc/x"), "{l:?}");
    let dest = cp_stays_inside(&layers);
    assert_eq!(
        std::fs::read_link(dest.join("abs")).unwrap(),
        Path::new("/etc/passwd")
    );
}

#[test]
fn symlink_loops_are_an_error_not_a_hang() {
    refused(
        &[
            layer(&[sym(b"a", b"b"), sym(b"b", b"a")]),
            layer(&[file(b"a/x", b"x")]),
        ],
        &["too many levels"],
    );
}

#[test]
fn a_path_through_a_symlinked_parent_is_resolved_inside_the_image() {
    let t = tmp();
    let img = image(
        t.path(),
        &[layer(&[
            dir(b"opt/"),
            dir(b"opt/real/"),
            file(b"opt/real/f", b"data"),
            sym(b"opt/link", b"real"),
        ])],
    );
    let out = t.path().join("o.tar");
    regraft_ok(&[
        "--from",
        &img,
        "--onto",
        &fixture("base.tar"),
        "--path",
        "/opt/link/f",
        "-o",
        &out.display().to_string(),
    ]);
    let l = regraft_ok(&["ls", &out.display().to_string(), "/opt"]);
    assert!(l.contains("/opt/real/f"), "{l}");
}

#[test]
fn a_symlink_replaced_by_a_directory() {
    let l = listed(&[
        layer(&[sym(b"s", b"/tmp")]),
        layer(&[dir(b"s/"), file(b"s/in", b"x")]),
    ]);
    assert!(l.contains(&("/s".into(), "dir".into(), None)), "{l:?}");
    assert!(paths(&l).contains(&"/s/in"));
}

#[test]
fn hardlinks_to_nothing_directories_later_entries_and_whiteouts_are_refused() {
    refused(
        &[lower(), layer(&[link(b"l", b"nothing")])],
        &["does not exist"],
    );
    refused(&[lower(), layer(&[link(b"l", b"d")])], &["directory"]);
    refused(
        &[
            lower(),
            layer(&[link(b"l", b"later"), file(b"later", b"x")]),
        ],
        &["does not exist"],
    );
    refused(
        &[lower(), layer(&[file(b".wh.f", b""), link(b"l", b".wh.f")])],
        &["does not exist"],
    );
}

#[test]
fn hardlink_chains_across_layers_share_content() {
    let t = tmp();
    let layers = [
        lower(),
        layer(&[link(b"g", b"f")]),
        layer(&[link(b"h", b"g"), file(b"f", b"replaced")]),
    ];
    let img = image(t.path(), &layers);
    let dest = t.path().join("out");
    regraft_ok(&["cp", &format!("{img}:/"), &dest.display().to_string()]);
    assert_eq!(std::fs::read(dest.join("g")).unwrap(), b"lower f");
    assert_eq!(std::fs::read(dest.join("h")).unwrap(), b"lower f");
    assert_eq!(std::fs::read(dest.join("f")).unwrap(), b"replaced");
}

#[test]
fn odd_whiteouts() {
    refused(
        &[lower(), layer(&[file(b".wh.", b"")])],
        &["invalid whiteout"],
    );
    refused(
        &[lower(), layer(&[file(b"d/.wh..", b"")])],
        &["invalid whiteout"],
    );
    // A whiteout and new children in one layer: only the lower children go.
    let l = listed(&[
        lower(),
        layer(&[file(b".wh.d", b""), dir(b"d/"), file(b"d/new", b"n")]),
    ]);
    assert_eq!(paths(&l), ["/d", "/d/new", "/f"]);
    // An opaque marker at the root hides every lower entry.
    let l = listed(&[
        lower(),
        layer(&[file(b".wh..wh..opq", b""), file(b"only", b"o")]),
    ]);
    assert_eq!(paths(&l), ["/only"]);
    // Other .wh..wh. meta entries are skipped.
    let l = listed(&[lower(), layer(&[file(b".wh..wh.plnk", b"")])]);
    assert_eq!(paths(&l), ["/d", "/d/x", "/f"]);
}

#[test]
fn duplicate_entries_in_one_layer_last_wins() {
    let t = tmp();
    let img = image(
        t.path(),
        &[layer(&[file(b"dup", b"first"), file(b"dup", b"second")])],
    );
    let dest = t.path().join("out");
    regraft_ok(&["cp", &format!("{img}:/dup"), &dest.display().to_string()]);
    assert_eq!(std::fs::read(&dest).unwrap(), b"second");
}

#[test]
fn devices_fifos_and_setuid_go_into_images_faithfully_never_onto_the_host() {
    let t = tmp();
    let mut chr = raw_entry(b"dev/null-ish", CHR, b"", b"", 0o666);
    {
        // major 1, minor 3 in the ustar device fields (octal, NUL-terminated).
        chr[329..337].copy_from_slice(b"0000001\0");
        chr[337..345].copy_from_slice(b"0000003\0");
        let mut h = tar::Header::new_old();
        h.as_mut_bytes().copy_from_slice(&chr[..512]);
        h.set_cksum();
        chr[..512].copy_from_slice(h.as_bytes());
    }
    let layers = [layer(&[
        dir(b"dev/"),
        chr,
        raw_entry(b"dev/fifo", FIFO, b"", b"", 0o600),
        raw_entry(b"dev/suid", F, b"s", b"", 0o4755),
    ])];
    let img = image(t.path(), &layers);
    // Into an image: faithful.
    let out = t.path().join("o.tar");
    regraft_ok(&[
        "--from",
        &img,
        "--onto",
        &fixture("base.tar"),
        "--path",
        "/dev",
        "-o",
        &out.display().to_string(),
    ]);
    let l = regraft_ok(&["ls", &out.display().to_string(), "/dev", "--long"]);
    assert!(l.contains("crw-rw-rw-"), "{l}");
    assert!(l.contains("prw-------"), "{l}");
    assert!(l.contains("-rwsr-xr-x"), "{l}");
    let raw = tool_ok(
        "tar",
        &["-xOf", &out.display().to_string(), "manifest.json"],
    );
    assert!(raw.contains("Layers"));
    // Onto the host: no device node, no fifo, no setuid.
    let dest = t.path().join("host");
    let o = regraft(&["cp", &format!("{img}:/dev"), &dest.display().to_string()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("skipped"), "{err}");
    assert!(!dest.join("null-ish").exists() && !dest.join("fifo").exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(dest.join("suid"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o755
    );
}

#[test]
fn a_tar_header_that_lies_about_its_size_stops_at_the_lie() {
    // The header claims 4096 bytes, the layer ends after 512.
    let mut e = raw_entry(b"big", F, b"", b"", 0o644);
    let mut h = tar::Header::new_old();
    h.as_mut_bytes().copy_from_slice(&e[..512]);
    h.set_size(4096);
    h.set_cksum();
    e[..512].copy_from_slice(h.as_bytes());
    e.extend_from_slice(&[b'z'; 512]);
    refused(&[e], &["layer 0"]);
}

#[test]
fn a_gigabyte_of_zeros_in_a_few_megabytes_streams_in_constant_memory() {
    use std::io::Write;
    let t = tmp();
    // A valid layer: one 1 GiB file of zeros, gzipped (about 1 MB).
    let size: u64 = 1 << 30;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(9));
    let mut h = tar::Header::new_ustar();
    h.set_path("zeros").unwrap();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    gz.write_all(h.as_bytes()).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut diff = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut diff, h.as_bytes());
    for _ in 0..(size >> 20) {
        gz.write_all(&chunk).unwrap();
        sha2::Digest::update(&mut diff, &chunk);
    }
    gz.write_all(&[0u8; 1024]).unwrap();
    sha2::Digest::update(&mut diff, [0u8; 1024]);
    let blob = gz.finish().unwrap();
    assert!(blob.len() < 8 << 20, "{}", blob.len());
    let diff_id = hex::encode(sha2::Digest::finalize(diff));
    let img = layout_gz(t.path(), &blob, &diff_id);
    let o = tool(
        "/usr/bin/time",
        &["-f", "%M", env!("CARGO_BIN_EXE_regraft"), "verify", &img],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let max_kb: u64 = err.lines().last().unwrap().trim().parse().unwrap();
    assert!(
        max_kb < 100 * 1024,
        "verify of a 1 GiB layer used {max_kb} KiB"
    );
    // And the bound holds: --max-layer-size refuses it.
    let o = regraft(&["verify", "--max-layer-size", "64M", &img]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("max-layer-size"));
}

/// A one-layer OCI layout around a gzip blob with a known diff_id.
fn layout_gz(dir: &Path, blob: &[u8], diff_id: &str) -> String {
    use sha2::Digest;
    let hexd = |b: &[u8]| hex::encode(sha2::Sha256::digest(b));
    let root = dir.join("gz");
    let blobs = root.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |b: &[u8]| {
        let h = hexd(b);
        std::fs::write(blobs.join(&h), b).unwrap();
        h
    };
    let lh = put(blob);
    let config = serde_json::to_vec(&serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[format!("sha256:{diff_id}")]}})).unwrap();
    let ch = put(&config);
    let m = serde_json::to_vec(&serde_json::json!({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":format!("sha256:{ch}"),"size":config.len()},
        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":format!("sha256:{lh}"),"size":blob.len()}]})).unwrap();
    let mh = put(&m);
    std::fs::write(root.join("index.json"), serde_json::to_vec(&serde_json::json!({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":format!("sha256:{mh}"),"size":m.len()}]})).unwrap()).unwrap();
    std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    format!("oci:{}", root.display())
}

#[test]
fn names_from_images_are_sanitized_in_errors_and_listings() {
    let t = tmp();
    let img = image(t.path(), &[lower()]);
    // A ref name with an escape sequence in index.json.
    let idx = t.path().join("img/index.json");
    let s = std::fs::read_to_string(&idx)
        .unwrap()
        .replace("\"t\"", "\"evil\\u001b[2Jname\"");
    std::fs::write(&idx, s).unwrap();
    let base = img.trim_end_matches(":t");
    let o = regraft(&["inspect", base]);
    let all = [o.stdout, o.stderr].concat();
    assert!(!all.contains(&0x1b), "{}", String::from_utf8_lossy(&all));
    let o = regraft(&["inspect", &format!("{base}:nope")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !o.stderr.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
