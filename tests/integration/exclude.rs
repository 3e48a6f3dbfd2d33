//! `--exclude GLOB` in both graft modes: matched on cleaned absolute paths, a directory drops
//! its subtree, a whiteout is matched by what it deletes, and layer mode rewrites exactly the
//! layers that lose entries.

use crate::common::*;

#[test]
fn path_mode_leaves_out_matching_entries() {
    let t = tmp();
    let out = t.path().join("p.tar");
    regraft_ok(&[
        "--from",
        &fixture("vendor.tar"),
        "--onto",
        &fixture("base.tar"),
        "--path",
        "/opt/vendor",
        "--exclude",
        "/opt/vendor/bin/*-link",
        "--exclude",
        "**/share",
        "-o",
        &out.display().to_string(),
        "-q",
    ]);
    let root = unpack(&format!("docker-archive:{}", out.display()), t.path());
    assert!(root.join("opt/vendor/bin/hello").is_file());
    assert!(!root.join("opt/vendor/bin/hello-link").exists());
    assert!(
        !root.join("opt/vendor/share").exists(),
        "a matching directory drops its subtree"
    );
    assert!(root.join("opt/vendor/etc/app.conf").is_file());
}

#[test]
fn layer_mode_rewrites_only_the_layers_that_lose_entries() {
    let t = tmp();
    let out = t.path().join("l");
    let o = regraft(&[
        "--from",
        &format!("oci:{}:vendor", fixture("oci")),
        "--onto",
        &format!("oci:{}:base", fixture("oci")),
        "--exclude",
        "/lib",
        "--exclude",
        "/opt/vendor/etc/**",
        "--json",
        "-o",
        &format!("oci:{}:x", out.display()),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sum: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rewritten = sum["rewritten_layers"].as_array().unwrap();
    // Layer 1 (app.conf and the bin files) and layer 2 (lib/ whiteout, app.conf) lose entries;
    // layer 3 (the opaque share directory) does not.
    assert_eq!(rewritten.len(), 2, "{sum:#}");
    let vendor = inspect_json(&format!("oci:{}:vendor", fixture("oci")), &[]);
    let result = inspect_json(&format!("oci:{}:x", out.display()), &[]);
    let last_v = vendor["layers"][3]["digest"].as_str().unwrap();
    let last_r = result["layers"][4]["digest"].as_str().unwrap();
    assert_eq!(last_v, last_r, "an untouched layer keeps its digest");
    let root = unpack(&format!("oci:{}:x", out.display()), t.path());
    assert!(root.join("opt/vendor/bin/hello").is_file());
    assert!(root.join("opt/vendor/etc").is_dir());
    assert!(!root.join("opt/vendor/etc/app.conf").exists());
    // The base's merged-/usr symlink survives: the vendor's lib/ entries were excluded.
    assert_eq!(
        std::fs::read_link(root.join("lib")).unwrap(),
        std::path::Path::new("usr/lib")
    );
}
