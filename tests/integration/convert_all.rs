//! `convert --all`: a whole index with every platform image, checked by skopeo's own `--all`
//! copy (which verifies every digest), and what an archive cannot hold refused.

use crate::common::*;

#[test]
fn a_whole_index_is_copied_with_every_platform() {
    let t = tmp();
    let out = t.path().join("m");
    regraft_ok(&[
        "convert",
        "--all",
        &fixture("multi.oci"),
        &format!("oci:{}", out.display()),
    ]);
    let raw: serde_json::Value = serde_json::from_str(&tool_ok(
        "skopeo",
        &["inspect", "--raw", &format!("oci:{}:multi", out.display())],
    ))
    .unwrap();
    let plats: Vec<String> = raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(plats, ["linux/amd64", "linux/arm64"]);
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            "--all",
            &format!("oci:{}:multi", out.display()),
            &format!("oci:{}:x", t.path().join("sk").display()),
        ],
    );
    // Each platform still verifies through regraft, too.
    for p in ["linux/amd64", "linux/arm64"] {
        regraft_ok(&[
            "verify",
            "--platform",
            p,
            &format!("oci:{}:multi", out.display()),
        ]);
    }
}

#[test]
fn absent_platforms_are_left_out_with_a_warning_and_attestations_kept() {
    let t = tmp();
    let out = t.path().join("d29");
    let o = regraft(&[
        "convert",
        "--all",
        &fixture("vendor-docker29.tar"),
        &format!("oci:{}", out.display()),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("absent; left out"));
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    let r = idx["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .unwrap()
        .to_string();
    let raw: serde_json::Value = serde_json::from_str(&tool_ok(
        "skopeo",
        &["inspect", "--raw", &format!("oci:{}:{r}", out.display())],
    ))
    .unwrap();
    let types: Vec<&str> = raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["amd64", "unknown"],
        "arm64 left out, the attestation kept"
    );
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("oci:{}:{r}", out.display()),
            &format!("oci:{}:x", t.path().join("sk").display()),
        ],
    );
}

#[test]
fn an_archive_takes_one_image() {
    let t = tmp();
    let err = regraft_fails(
        &[
            "convert",
            "--all",
            &fixture("oci"),
            &t.path().join("y.tar").display().to_string(),
        ],
        2,
    );
    assert!(err.contains("OCI layout"), "{err}");
    assert!(!t.path().join("y.tar").exists());
}
