//! `triage`, `packages` and `diff` on the real Debian images and the vendor image built on
//! them. Scanner reports are the committed samples (`fixtures/reports/`, Trivy and Grype JSON
//! in their real formats) with their layer digests and image ID rewritten to the images as
//! built here, read with skopeo, so the tests never depend on a Debian point release. Package
//! lists are checked against `dpkg-query` run in a chroot of the unpacked image, version order
//! against `dpkg --compare-versions`, file differences against an independent walk of the
//! unpacked trees.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// diff_ids, blob digests and image ID (config digest) of an image, read by skopeo.
pub(crate) struct Ids {
    pub(crate) diff_ids: Vec<String>,
    digests: Vec<String>,
    pub(crate) image_id: String,
}

pub(crate) fn ids(r: &str) -> Ids {
    use sha2::Digest;
    let raw = tool("skopeo", &["inspect", "--config", "--raw", r]).stdout;
    let cfg: Value = serde_json::from_slice(&raw).unwrap();
    let man: Value = serde_json::from_str(&tool_ok("skopeo", &["inspect", "--raw", r])).unwrap();
    Ids {
        diff_ids: cfg["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect(),
        digests: man["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect(),
        image_id: format!("sha256:{}", hex::encode(sha2::Sha256::digest(&raw))),
    }
}

/// A committed sample report with every digest mapped onto the image `ids` describes (by
/// layer index), written to `dir`.
pub(crate) fn sample(name: &str, to: &Ids, dir: &Path) -> (PathBuf, Value) {
    let text = std::fs::read_to_string(root().join("fixtures/reports").join(name)).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let old_diff: Vec<String> = if v.get("Metadata").is_some() {
        serde_json::from_value(v["Metadata"]["DiffIDs"].clone()).unwrap()
    } else {
        v["source"]["target"]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect()
    };
    let old_id = if v.get("Metadata").is_some() {
        v["Metadata"]["ImageID"].as_str().unwrap().to_string()
    } else {
        v["source"]["target"]["imageID"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Layer digests of the sample are those of the OCI layout it was made from.
    let mut text = serde_json::to_string_pretty(&v).unwrap();
    for (i, d) in old_diff.iter().enumerate() {
        text = text.replace(d, &to.diff_ids[i]);
    }
    text = text.replace(&old_id, &to.image_id);
    v = serde_json::from_str(&text).unwrap();
    // (`get_mut`: indexing would add a "Results": null to a Grype report.)
    if let Some(results) = v.get_mut("Results").and_then(Value::as_array_mut) {
        for r in results {
            for x in r["Vulnerabilities"].as_array_mut().into_iter().flatten() {
                if let Some(d) = x["Layer"]["DiffID"].as_str() {
                    let i = to.diff_ids.iter().position(|y| y == d).unwrap();
                    x["Layer"]["Digest"] = json!(to.digests[i]);
                }
            }
        }
    }
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    (p, v)
}

pub(crate) fn vendor_ids() -> Ids {
    ids(&format!("oci:{}:1.0", real("vendor-real.oci")))
}

pub(crate) fn triage_json(args: &[&str], code: i32) -> Value {
    let o = regraft(args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "regraft {args:?}:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "--json must print JSON on exit {code}: {e}: {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

fn finding<'a>(t: &'a Value, id: &str) -> &'a Value {
    t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in the triage"))
}

/// The split the test expects, computed from the report alone: a finding's layer index in
/// the report's own diff_ids, against the old base's layer count read by skopeo.
fn expected_part(report: &Value, id: &str, base_layers: usize) -> &'static str {
    let mut diff: Option<String> = None;
    if let Some(rs) = report["Results"].as_array() {
        for r in rs {
            for x in r["Vulnerabilities"].as_array().into_iter().flatten() {
                if x["VulnerabilityID"] == id {
                    diff = x["Layer"]["DiffID"].as_str().map(str::to_string);
                }
            }
        }
    } else {
        for m in report["matches"].as_array().unwrap() {
            if m["vulnerability"]["id"] == id {
                diff = m["artifact"]["locations"][0]["layerID"]
                    .as_str()
                    .map(str::to_string);
            }
        }
    }
    let ids = vendor_ids();
    match diff.and_then(|d| ids.diff_ids.iter().position(|x| *x == d)) {
        Some(i) if i < base_layers => "base",
        Some(_) => "application",
        None => "none",
    }
}

#[test]
fn triage_splits_trivy_and_grype_reports_into_base_and_application() {
    let d = tmp();
    let base_layers = ids(&format!("docker-archive:{}", real("debian-old.tar")))
        .diff_ids
        .len();
    let ids = vendor_ids();
    for name in ["trivy-vendor-real.json", "grype-vendor-real.json"] {
        let (rep, v) = sample(name, &ids, d.path());
        let rep = rep.display().to_string();
        // Every form of the image: the report's layers are the same in all of them.
        for image in [
            real("vendor-real.tar"),
            format!("oci:{}:1.0", real("vendor-real.oci")),
            real("vendor-real-oci.tar"),
        ] {
            let t = triage_json(
                &[
                    "triage",
                    "--report",
                    &rep,
                    &image,
                    "--old-base",
                    &real("debian-old.tar"),
                    "--json",
                ],
                0,
            );
            assert_eq!(t["schema"], "regraft.triage/v1");
            assert_eq!(t["old_base"]["layers"], base_layers);
            for id in [
                "CVE-2023-45853",
                "CVE-2023-31484",
                "CVE-2025-45582",
                "CVE-2025-8058",
                "CVE-2022-3715",
                "CVE-2011-3374",
                "CVE-2024-24790",
            ] {
                let f = finding(&t, id);
                assert_eq!(f["part"], expected_part(&v, id, base_layers), "{name} {id}");
                assert_eq!(f["located_by"], "report", "{name} {id}");
            }
            // Left without a layer by the report: an OS package the package database places
            // in the base, and a language package that is nowhere in the image.
            let login = finding(&t, "CVE-2007-5686");
            assert_eq!(
                (login["part"].as_str(), login["located_by"].as_str()),
                (Some("base"), Some("package-db"))
            );
            assert_eq!(login["layer"], 0);
            if name.starts_with("trivy") {
                let s = finding(&t, "CVE-2024-6345");
                assert_eq!(s["part"], "unlocated");
                // The hardlinked binary is reported under two targets: counted once, both named.
                assert_eq!(t["duplicates_merged"], 1);
                let go = finding(&t, "CVE-2024-24790");
                assert_eq!(go["paths"].as_array().unwrap().len(), 2);
                assert_eq!(go["fixed_versions"], json!(["1.21.11", "1.22.4"]));
            }
            let n = |p: &str| {
                t["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| f["part"] == p)
                    .count()
            };
            assert_eq!(n("base"), 7, "{name}");
            assert_eq!(n("application"), 1, "{name}");
            let sum: u64 = t["counts"]["base"]
                .as_object()
                .unwrap()
                .values()
                .map(|x| x.as_u64().unwrap())
                .sum();
            assert_eq!(sum, 7);
            // Layers carry their history entry and findings.
            assert_eq!(t["layers"][1]["part"], "application");
            assert!(
                t["layers"][1]["created_by"]
                    .as_str()
                    .unwrap()
                    .contains("layer A")
            );
            assert_eq!(t["layers"][1]["findings"]["CRITICAL"], 1);
            let routes: Vec<&str> = t["routes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["route"].as_str().unwrap())
                .collect();
            assert_eq!(
                routes[..3],
                [
                    "graft-onto-updated-base",
                    "another-base-family",
                    "newer-vendor-image-or-rebuild"
                ]
            );
            let graft = &t["routes"][0];
            assert!(
                graft["commands"][0]
                    .as_str()
                    .unwrap()
                    .contains("--old-base"),
                "{graft}"
            );
            assert!(t["routes"][1]["advice"].as_str().unwrap().contains("musl"));
            let app_files = t["routes"][2]["files"].to_string();
            assert!(
                app_files.contains("/opt/vendor/bin/dyn-app")
                    && app_files.contains("/opt/vendor/bin/static-app"),
                "{app_files}"
            );
        }
    }
}

#[test]
fn triage_text_names_every_group_and_the_graft_command() {
    let d = tmp();
    let (rep, _) = sample("trivy-vendor-real.json", &vendor_ids(), d.path());
    let out = regraft_ok(&[
        "triage",
        "--report",
        &rep.display().to_string(),
        &real("vendor-real.tar"),
        "--old-base-layers",
        "1",
    ]);
    for want in [
        "base",
        "application",
        "unlocated",
        "graft-onto-updated-base",
        "--old-base-layers 1 --onto NEW-BASE",
        "perl-base 5.36.0-7+deb12u3 -> 5.36.0-7+deb12u4",
    ] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }
}

#[test]
fn fail_on_exits_4_with_json_and_ignore_files_take_findings_out() {
    let d = tmp();
    let (rep, _) = sample("trivy-vendor-real.json", &vendor_ids(), d.path());
    let rep = rep.display().to_string();
    let img = real("vendor-real.tar");
    let t = triage_json(
        &[
            "triage",
            "--report",
            &rep,
            &img,
            "--fail-on",
            "high",
            "--json",
        ],
        4,
    );
    assert_eq!(
        (t["failed"].as_bool(), t["exit_code"].as_u64()),
        (Some(true), Some(4))
    );
    // Text output exits 4 too.
    regraft_fails(
        &["triage", "--report", &rep, &img, "--fail-on", "CRITICAL"],
        4,
    );
    // Ignoring both CRITICAL findings (each with a reason) clears --fail-on CRITICAL.
    let ign = d.path().join("ignore");
    std::fs::write(&ign, "# accepted\nCVE-2023-45853  minizip is not used\nCVE-2024-24790 the binary never parses IPs\n").unwrap();
    let t = triage_json(
        &[
            "triage",
            "--report",
            &rep,
            &img,
            "--fail-on",
            "CRITICAL",
            "--ignore",
            &ign.display().to_string(),
            "--json",
        ],
        0,
    );
    let ignored: BTreeSet<&str> = t["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ignored,
        BTreeSet::from(["CVE-2023-45853", "CVE-2024-24790"])
    );
    assert_eq!(t["ignored"][0]["reason"], "minizip is not used");
    assert!(
        t["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "CRITICAL")
    );
    // The HIGH findings still fail a HIGH threshold.
    triage_json(
        &[
            "triage",
            "--report",
            &rep,
            &img,
            "--fail-on",
            "HIGH",
            "--ignore",
            &ign.display().to_string(),
            "--json",
        ],
        4,
    );
    // An ID without a reason is refused.
    std::fs::write(&ign, "CVE-2023-45853\n").unwrap();
    let err = regraft_fails(
        &[
            "triage",
            "--report",
            &rep,
            &img,
            "--ignore",
            &ign.display().to_string(),
        ],
        1,
    );
    assert!(err.contains("no reason"), "{err}");
    // A severity regraft does not know is a usage error.
    regraft_fails(
        &["triage", "--report", &rep, &img, "--fail-on", "SEVERE"],
        2,
    );
}

#[test]
fn ignore_unfixed_leaves_out_findings_without_a_fixed_version() {
    let d = tmp();
    let (rep, _) = sample("grype-vendor-real.json", &vendor_ids(), d.path());
    let t = triage_json(
        &[
            "triage",
            "--report",
            &rep.display().to_string(),
            &real("vendor-real.tar"),
            "--ignore-unfixed",
            "--json",
        ],
        0,
    );
    assert_eq!(t["unfixed_skipped"], 3);
    let ids: BTreeSet<&str> = t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "CVE-2023-31484",
            "CVE-2025-45582",
            "CVE-2025-8058",
            "CVE-2022-3715",
            "CVE-2024-24790"
        ])
    );
    assert!(
        t["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| !f["fixed_versions"].as_array().unwrap().is_empty())
    );
    // No --old-base: the split is a guess, and the triage says so.
    assert!(
        t["warnings"].to_string().contains("guess"),
        "{}",
        t["warnings"]
    );
}

#[test]
fn a_report_of_another_image_is_an_error_with_json() {
    let d = tmp();
    let ids = vendor_ids();
    let (rep, v) = sample("trivy-vendor-real.json", &ids, d.path());
    let rep_s = rep.display().to_string();
    // The vendor's report against its base image.
    let t = triage_json(
        &[
            "triage",
            "--report",
            &rep_s,
            &real("debian-old.tar"),
            "--json",
        ],
        1,
    );
    assert!(t["error"].as_str().unwrap().contains("not about"), "{t}");
    // One diff_id changed.
    let mut w = v.clone();
    w["Metadata"]["DiffIDs"][1] = json!(format!("sha256:{}", "0".repeat(64)));
    let p = d.path().join("other.json");
    std::fs::write(&p, w.to_string()).unwrap();
    let err = regraft_fails(
        &[
            "triage",
            "--report",
            &p.display().to_string(),
            &real("vendor-real.tar"),
        ],
        1,
    );
    assert!(err.contains("at layer 1"), "{err}");
    // The layers match but a finding sits in a layer the image lacks.
    let mut w = v.clone();
    w["Results"][0]["Vulnerabilities"][0]["Layer"]["DiffID"] =
        json!(format!("sha256:{}", "1".repeat(64)));
    std::fs::write(&p, w.to_string()).unwrap();
    regraft_fails(
        &[
            "triage",
            "--report",
            &p.display().to_string(),
            &real("vendor-real.tar"),
        ],
        1,
    );
    // No DiffIDs: the image ID decides.
    let mut w = v.clone();
    w["Metadata"].as_object_mut().unwrap().remove("DiffIDs");
    std::fs::write(&p, w.to_string()).unwrap();
    let t = triage_json(
        &[
            "triage",
            "--report",
            &p.display().to_string(),
            &real("vendor-real.tar"),
            "--json",
        ],
        0,
    );
    assert_eq!(t["report"]["matched_by"], "image_id");
    w["Metadata"]["ImageID"] = json!(format!("sha256:{}", "2".repeat(64)));
    std::fs::write(&p, w.to_string()).unwrap();
    regraft_fails(
        &[
            "triage",
            "--report",
            &p.display().to_string(),
            &real("vendor-real.tar"),
        ],
        1,
    );
    // Not a report at all.
    std::fs::write(&p, "{\"hello\": 1}").unwrap();
    regraft_fails(
        &[
            "triage",
            "--report",
            &p.display().to_string(),
            &real("vendor-real.tar"),
        ],
        1,
    );
}

/// Regression: the `--json` error document of `triage` said only the error's first line (a
/// missing report gave its path, not why it could not be read); it now carries the whole chain,
/// as stderr prints it.
#[test]
fn the_json_error_of_triage_carries_the_cause_as_stderr_does() {
    let d = tmp();
    let missing = d.path().join("missing.json").display().to_string();
    let o = regraft(&[
        "triage",
        "--report",
        &missing,
        &fixture("vendor.tar"),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let t: Value = serde_json::from_slice(&o.stdout).unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let printed = err.trim_end().strip_prefix("regraft: error: ").unwrap();
    assert_eq!(t["error"], printed, "{t}");
    assert!(printed.starts_with(&format!("{missing}: ")), "{printed}");
    assert_eq!(t["exit_code"], 1);
}

/// `dpkg-query -W` in a chroot of the unpacked image: (name, arch) -> version, installed only.
pub(crate) fn dpkg_query(rootfs: &Path) -> BTreeMap<(String, String), String> {
    let o = chroot_run(
        rootfs,
        &[
            "dpkg-query",
            "-W",
            "-f",
            "${db:Status-Abbrev}\t${Package}\t${Architecture}\t${Version}\n",
        ],
    );
    assert!(
        o.status.success(),
        "dpkg-query: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            // Installed, half-installed, unpacked...: everything but config-files / not-installed.
            let state = f[0].chars().nth(1)?;
            (state != 'c' && state != 'n')
                .then(|| ((f[1].to_string(), f[2].to_string()), f[3].to_string()))
        })
        .collect()
}

fn regraft_packages(image: &str) -> Value {
    serde_json::from_str(&regraft_ok(&["packages", image, "--json"])).unwrap()
}

fn as_map(v: &Value) -> BTreeMap<(String, String), String> {
    v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                (
                    p["name"].as_str().unwrap().into(),
                    p["arch"].as_str().unwrap().into(),
                ),
                p["version"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
fn packages_of_the_debian_images_match_dpkg_query_in_a_chroot() {
    for name in ["debian-old", "debian-new"] {
        let d = tmp();
        let rootfs = unpack(
            &format!("docker-archive:{}", real(&format!("{name}.tar"))),
            d.path(),
        );
        let want = dpkg_query(&rootfs);
        assert!(
            want.len() > 50,
            "{name}: dpkg-query lists only {}",
            want.len()
        );
        let got = regraft_packages(&real(&format!("{name}.tar")));
        assert_eq!(as_map(&got), want, "{name}");
        assert_eq!(got["databases"], json!(["var/lib/dpkg/status"]));
        // One layer: every record was written by layer 0.
        assert!(
            got["packages"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["source_layer"] == 0 && p["db"] == "dpkg")
        );
    }
}

/// Builds an image with umoci on top of `from` (an skopeo reference, or None for an empty
/// image): `edit` changes the unpacked rootfs, then one layer is repacked. Returns `oci:DIR:x`.
fn umoci_layer(dir: &Path, from: Option<&str>, edit: impl FnOnce(&Path)) -> String {
    let layout = dir.join("layout");
    let r = format!("{}:x", layout.display());
    match from {
        Some(f) => {
            tool_ok("skopeo", &["copy", "-q", f, &format!("oci:{r}")]);
        }
        None if !layout.exists() => {
            tool_ok(
                "umoci",
                &["init", "--layout", &layout.display().to_string()],
            );
            tool_ok("umoci", &["new", "--image", &r]);
        }
        None => {}
    }
    let bundle = dir.join("bundle");
    let _ = std::fs::remove_dir_all(&bundle);
    tool_ok(
        "umoci",
        &["unpack", "--image", &r, &bundle.display().to_string()],
    );
    edit(&bundle.join("rootfs"));
    tool_ok(
        "umoci",
        &["repack", "--image", &r, &bundle.display().to_string()],
    );
    format!("oci:{r}")
}

#[test]
fn packages_name_the_layer_that_last_wrote_each_record() {
    let d = tmp();
    // debian-old plus a layer that rewrites dpkg's status: one package upgraded, one added.
    let img = umoci_layer(
        d.path(),
        Some(&format!("docker-archive:{}", real("debian-old.tar"))),
        |root| {
            let p = root.join("var/lib/dpkg/status");
            let s = std::fs::read_to_string(&p).unwrap();
            let tar_v = s
                .split("\n\n")
                .find(|st| st.starts_with("Package: tar\n"))
                .unwrap()
                .lines()
                .find(|l| l.starts_with("Version: "))
                .unwrap()
                .to_string();
            let s = s
                .replace(&"Package: tar\n".to_string(), "Package: tar\n")
                .replacen(&tar_v, "Version: 9.9-1", 1);
            let s = format!(
                "{s}\nPackage: regraft-test\nStatus: install ok installed\nPriority: optional\nArchitecture: all\nVersion: 1.0-1\nDescription: test\n"
            );
            std::fs::write(&p, s).unwrap();
        },
    );
    let got = regraft_packages(&img);
    let layer = |n: &str| {
        got["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .unwrap()["source_layer"]
            .clone()
    };
    assert_eq!(layer("regraft-test"), 1);
    assert_eq!(layer("tar"), 1);
    assert_eq!(layer("bash"), 0);
    // And the versions are what dpkg itself reads there.
    let check = d.path().join("check");
    std::fs::create_dir_all(&check).unwrap();
    let rootfs = unpack(&img, &check);
    assert_eq!(as_map(&got), dpkg_query(&rootfs));
}

#[test]
fn packages_read_apk_and_distroless_status_d() {
    let d = tmp();
    umoci_layer(d.path(), None, |root| {
        std::fs::create_dir_all(root.join("lib/apk/db")).unwrap();
        std::fs::write(
            root.join("lib/apk/db/installed"),
            "C:Q1x=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:1\nI:2\nT:the musl c library\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n\nC:Q1y=\nP:libcrypto3\nV:3.1.4-r1\nA:x86_64\no:openssl\n\n",
        )
        .unwrap();
    });
    let img = umoci_layer(d.path(), None, |root| {
        std::fs::create_dir_all(root.join("var/lib/dpkg/status.d")).unwrap();
        std::fs::write(
            root.join("var/lib/dpkg/status.d/tzdata"),
            "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
        )
        .unwrap();
        std::fs::write(
            root.join("var/lib/dpkg/status.d/tzdata.md5sums"),
            "0123  usr/share/zoneinfo/UTC\n",
        )
        .unwrap();
    });
    let got = regraft_packages(&img);
    let rows: Vec<(String, String, String, u64)> = got["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().into(),
                p["version"].as_str().unwrap().into(),
                p["db"].as_str().unwrap().into(),
                p["source_layer"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("libcrypto3".into(), "3.1.4-r1".into(), "apk".into(), 0),
            ("musl".into(), "1.2.4-r2".into(), "apk".into(), 0),
            (
                "tzdata".into(),
                "2024a-0+deb12u1".into(),
                "dpkg-status.d".into(),
                1
            )
        ]
    );
    assert_eq!(got["packages"][0]["source_package"], "openssl");
}

/// A small deterministic generator, so failures reproduce.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.next(v.len())]
    }
}

fn gen_version(r: &mut Lcg) -> String {
    let mut v = String::new();
    if r.next(4) == 0 {
        v.push_str(r.pick(&["0:", "1:", "2:", "10:"]));
    }
    v.push_str(r.pick(&["0", "1", "1", "2", "10", "01", "9"]));
    for _ in 0..r.next(4) {
        v.push_str(r.pick(&[
            ".", ".", "+", "~", "~~", "a", "b", "+dfsg", "~rc1", "~beta", ".0", "+really", "1",
            "2", "10",
        ]));
        v.push_str(r.pick(&["0", "1", "2", "3", "10", "a"]));
    }
    if r.next(2) == 0 {
        v.push('-');
        v.push_str(r.pick(&[
            "1",
            "2",
            "0",
            "1.1",
            "1~bpo1",
            "1+deb12u1",
            "1+deb12u10",
            "1ubuntu1",
            "0+b1",
            "3~",
            "a",
        ]));
    }
    v
}

#[test]
fn dpkg_version_order_matches_dpkg_compare_versions() {
    let mut r = Lcg(0x5eed);
    let mut pairs: Vec<(String, String)> = (0..320)
        .map(|_| (gen_version(&mut r), gen_version(&mut r)))
        .collect();
    // Near-misses matter most: a version against itself with one change.
    for _ in 0..80 {
        let a = gen_version(&mut r);
        let b = format!("{a}{}", r.pick(&["~", "+b1", "a", "0", ".0", "~~", "-1"]));
        pairs.push((a, b));
    }
    let mut seen_orders = BTreeSet::new();
    for (a, b) in &pairs {
        let lt = tool("dpkg", &["--compare-versions", a, "lt", b]);
        let eq = tool("dpkg", &["--compare-versions", a, "eq", b]);
        assert!(
            lt.status.code().unwrap() <= 1 && eq.status.code().unwrap() <= 1,
            "dpkg rejects {a} or {b}: {}",
            String::from_utf8_lossy(&lt.stderr)
        );
        let want = if lt.status.success() {
            std::cmp::Ordering::Less
        } else if eq.status.success() {
            std::cmp::Ordering::Equal
        } else {
            std::cmp::Ordering::Greater
        };
        assert_eq!(regraft::packages::compare_dpkg(a, b), want, "{a} vs {b}");
        seen_orders.insert(format!("{want:?}"));
    }
    // The generator must have produced all three outcomes, or the test proves little.
    assert_eq!(seen_orders.len(), 3);
}

#[test]
fn diff_of_the_debian_images_matches_dpkg_query_and_the_unpacked_trees() {
    let (old, new) = (real("debian-old.tar"), real("debian-new.tar"));
    let d = tmp();
    let (od, nd) = (d.path().join("old"), d.path().join("new"));
    std::fs::create_dir_all(&od).unwrap();
    std::fs::create_dir_all(&nd).unwrap();
    let old_root = unpack(&format!("docker-archive:{old}"), &od);
    let new_root = unpack(&format!("docker-archive:{new}"), &nd);
    let v: Value = serde_json::from_str(&regraft_ok(&["diff", &old, &new, "--json"])).unwrap();
    assert_eq!(v["schema"], "regraft.diff/v1");

    // Packages: from dpkg-query in both chroots, ordered by dpkg itself.
    let (po, pn) = (dpkg_query(&old_root), dpkg_query(&new_root));
    let names = |k: &str| -> BTreeSet<String> {
        v["packages"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let want_added: BTreeSet<String> = pn
        .keys()
        .filter(|k| !po.contains_key(*k))
        .map(|k| k.0.clone())
        .collect();
    let want_removed: BTreeSet<String> = po
        .keys()
        .filter(|k| !pn.contains_key(*k))
        .map(|k| k.0.clone())
        .collect();
    assert_eq!(names("added"), want_added);
    assert_eq!(names("removed"), want_removed);
    let (mut up, mut down) = (BTreeSet::new(), BTreeSet::new());
    for (k, a) in &po {
        if let Some(b) = pn.get(k) {
            if tool("dpkg", &["--compare-versions", a, "lt", b])
                .status
                .success()
            {
                up.insert(k.0.clone());
            } else if tool("dpkg", &["--compare-versions", a, "gt", b])
                .status
                .success()
            {
                down.insert(k.0.clone());
            }
        }
    }
    assert!(!up.is_empty());
    assert_eq!(names("upgraded"), up);
    assert_eq!(names("downgraded"), down);

    // Files: an independent walk of both unpacked trees (mtimes left out, as diff does).
    let (to, tn) = (tree(&old_root, false), tree(&new_root, false));
    let paths = |k: &str| -> BTreeSet<String> {
        v["files"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                f["path"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('/')
                    .to_string()
            })
            .collect()
    };
    let keys = |t: &BTreeMap<String, Attrs>| t.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(paths("added"), &keys(&tn) - &keys(&to));
    assert_eq!(paths("removed"), &keys(&to) - &keys(&tn));
    let want_changed: BTreeSet<String> = to
        .iter()
        .filter(|(k, a)| {
            tn.get(*k).is_some_and(|b| {
                (&a.kind, a.mode, a.uid, a.gid, a.size, &a.content, &a.link)
                    != (&b.kind, b.mode, b.uid, b.gid, b.size, &b.content, &b.link)
            })
        })
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(paths("changed"), want_changed);
    // A changed file's digest is the sha256 of its content in the unpacked tree.
    let f = v["files"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "/etc/debian_version")
        .unwrap();
    assert_eq!(
        f["new"]["digest"].as_str().unwrap(),
        format!(
            "sha256:{}",
            sha256_file(&new_root.join("etc/debian_version"))
        )
    );

    // Config: the labels that differ.
    let fields: BTreeSet<&str> = v["config"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains("config.Labels.org.example.debian.suite"),
        "{fields:?}"
    );
    assert!(fields.contains("rootfs.diff_ids"), "{fields:?}");
    assert!(!fields.contains("config.Cmd"), "{fields:?}");
}

#[test]
fn diff_after_a_graft_says_which_findings_the_new_base_fixed() {
    let d = tmp();
    let ids = vendor_ids();
    let (rep, _) = sample("trivy-vendor-real.json", &ids, d.path());
    let out = d.path().join("grafted.tar").display().to_string();
    regraft_ok(&[
        "--from",
        &real("vendor-real.tar"),
        "--old-base",
        &real("debian-old.tar"),
        "--onto",
        &real("debian-new.tar"),
        "-o",
        &out,
        "-q",
    ]);
    let v: Value = serde_json::from_str(&regraft_ok(&[
        "diff",
        &real("vendor-real.tar"),
        &out,
        "--report",
        &rep.display().to_string(),
        "--json",
    ]))
    .unwrap();
    let f = &v["findings"];
    let ids_of = |k: &str| -> BTreeSet<String> {
        f[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    };
    // trixie carries perl, tar, glibc and bash past the fixed versions.
    assert_eq!(
        ids_of("fixed"),
        BTreeSet::from(
            [
                "CVE-2023-31484",
                "CVE-2025-45582",
                "CVE-2025-8058",
                "CVE-2022-3715"
            ]
            .map(String::from)
        )
    );
    // The application layers moved unchanged, so their finding remains.
    assert!(ids_of("remaining").contains("CVE-2024-24790"));
    // No fixed version: regraft cannot tell.
    assert!(ids_of("unknown").contains("CVE-2023-45853"));
    // The new versions it judged by are the grafted image's, as dpkg reads them.
    let u = d.path().join("u");
    std::fs::create_dir_all(&u).unwrap();
    let root = unpack(&format!("docker-archive:{out}"), &u);
    let q = dpkg_query(&root);
    for x in f["fixed"].as_array().unwrap() {
        let pkg = x["package"].as_str().unwrap();
        let have = q.iter().find(|(k, _)| k.0 == pkg).unwrap().1;
        assert_eq!(x["new_version"].as_str().unwrap(), have);
        for fv in x["fixed_versions"].as_array().unwrap() {
            assert!(
                tool(
                    "dpkg",
                    &["--compare-versions", have, "ge", fv.as_str().unwrap()]
                )
                .status
                .success(),
                "{pkg} {have} < {fv}"
            );
        }
    }
    // A report of another image is refused before anything is read.
    let err = regraft_fails(
        &[
            "diff",
            &real("debian-old.tar"),
            &out,
            "--report",
            &rep.display().to_string(),
        ],
        1,
    );
    assert!(err.contains("not about"), "{err}");
}
