//! The scanner loop on an airgapped host (issue 20): rpm images read like dpkg ones (checked
//! against Debian's `rpm` on the unpacked image), `sbom` validated by tools no one here wrote
//! (cyclonedx-python-lib's schema validator, spdx-tools, packageurl-python, from the venv
//! `tests/sbom/venv.sh` makes), and reports in CycloneDX and SARIF form triaged as their JSON
//! form is. The rpm images come from `fixtures/build-rpm.sh`.

use crate::common::*;
use crate::triage::{dpkg_query, sample, triage_json, vendor_ids};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn rpm_image(name: &str) -> String {
    let p = root().join("fixtures/real/rpm").join(name);
    assert!(
        p.exists(),
        "{} is missing: run `bash fixtures/build-rpm.sh` (tests/run.sh does)",
        p.display()
    );
    format!("{}:1", p.display())
}

/// `rpm -qa` of an unpacked root: (name, arch) -> (EVR, source rpm, license), every field as
/// rpm prints it.
fn rpm_qa(rootfs: &Path) -> BTreeMap<(String, String), (String, String, String)> {
    let out = tool_ok(
        "rpm",
        &[
            "--root",
            &rootfs.display().to_string(),
            "--dbpath",
            "/var/lib/rpm",
            "-qa",
            "--qf",
            "%{NAME}\t%{ARCH}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{SOURCERPM}\t%{LICENSE}\n",
        ],
    );
    out.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                (f[0].to_string(), f[1].to_string()),
                (f[2].to_string(), f[3].to_string(), f[4].to_string()),
            )
        })
        .collect()
}

fn packages_json(image: &str) -> Value {
    serde_json::from_str(&regraft_ok(&["packages", image, "--json"])).unwrap()
}

#[test]
fn rpm_packages_equal_rpm_qa_of_the_unpacked_image_field_by_field() {
    for name in ["rpm-old.oci", "rpm-new.oci"] {
        let img = rpm_image(name);
        let d = tmp();
        let rootfs = unpack(&format!("oci:{img}"), d.path());
        let want = rpm_qa(&rootfs);
        assert!(want.len() >= 3, "{want:?}");
        let got = packages_json(&img);
        assert_eq!(got["databases"], json!(["var/lib/rpm/rpmdb.sqlite"]));
        assert_eq!(got["distro"]["id"], "rhel");
        let mut seen = BTreeMap::new();
        for p in got["packages"].as_array().unwrap() {
            let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
            assert_eq!(s("db"), "rpm");
            let key = (s("name"), s("arch"));
            let (evr, srpm, license) = &want[&key];
            // The source package is SOURCERPM's name; none when it is the package's own.
            let src_name = srpm.rsplitn(3, '-').nth(2).unwrap().to_string();
            assert_eq!(
                (&s("version"), &s("license")),
                (evr, license),
                "{name} {key:?}"
            );
            assert_eq!(
                p["source_package"].as_str().unwrap_or(&key.0),
                src_name,
                "{key:?}"
            );
            // The purl says the same: name, version without epoch, epoch as a qualifier.
            let purl = s("purl");
            let (e, vr) = evr
                .split_once(':')
                .map_or(("", evr.as_str()), |(e, v)| (e, v));
            assert!(
                purl.starts_with(&format!("pkg:rpm/redhat/{}@{vr}?", key.0)),
                "{purl}"
            );
            assert_eq!(
                purl.contains(&format!("epoch={e}")),
                !e.is_empty(),
                "{purl}"
            );
            assert!(purl.contains("distro=rhel-9.4"), "{purl}");
            seen.insert(key, p["source_layer"].as_u64().unwrap());
        }
        assert_eq!(
            seen.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        );
        // The layer that last wrote each header, as fixtures/build-rpm.sh installed them.
        let layer = |n: &str| seen.iter().find(|(k, _)| k.0 == n).map(|(_, l)| *l);
        assert_eq!(layer("rg-base"), Some(0), "{name}");
        assert_eq!(layer("rg-tool"), Some(1), "{name}");
        let libfoo = if name == "rpm-new.oci" { 2 } else { 0 };
        assert_eq!(layer("rg-libfoo"), Some(libfoo), "{name}");
    }
}

/// A generator of rpm-like versions (epochs, tildes, carets, letters, separators) for the
/// comparison against rpm's own `rpm.vercmp`.
fn gen_rpm_versions() -> Vec<(String, String)> {
    let mut x: u64 = 0x5eed_1234;
    let mut next = |n: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    let parts = [
        "1",
        "2",
        "10",
        "01",
        "0",
        "a",
        "rc1",
        "el9",
        "el9_1",
        "p1",
        "git20230101",
    ];
    let seps = [".", "~", "^", "_", "+", "."];
    let one = |next: &mut dyn FnMut(u64) -> u64| {
        let mut s = String::new();
        if next(4) == 0 {
            s.push_str(&format!("{}:", next(3)));
        }
        for i in 0..1 + next(4) {
            if i > 0 {
                s.push_str(seps[next(seps.len() as u64) as usize]);
            }
            s.push_str(parts[next(parts.len() as u64) as usize]);
        }
        if next(2) == 0 {
            s.push_str(&format!("-{}", parts[next(parts.len() as u64) as usize]));
        }
        s
    };
    let mut v = Vec::new();
    for _ in 0..150 {
        let a = one(&mut next);
        // Equal spellings: a zero epoch, another separator, leading zeros.
        let b = if next(6) == 0 {
            if a.contains(':') {
                a.replace('.', "_")
            } else {
                format!("0:{}", a.replace(".1", ".01"))
            }
        } else if next(3) == 0 {
            format!("{a}{}", ["~1", "^1", ".0", "a", "-1"][next(5) as usize])
        } else {
            one(&mut next)
        };
        v.push((a, b));
    }
    v
}

#[test]
fn rpm_version_order_matches_rpm_vercmp() {
    let pairs = gen_rpm_versions();
    // One rpm process for all pairs: rpm's Lua `rpm.vercmp` parses both as EVRs.
    let lua: String = pairs
        .iter()
        .map(|(a, b)| format!("print(rpm.vercmp({a:?}, {b:?}) .. \",\")\n"))
        .collect();
    let out = tool_ok("rpm", &["--eval", &format!("%{{lua:\n{lua}}}")]);
    // rpm's Lua `print` adds no newline: the results come out as `-1,0,1,`.
    let want: Vec<i32> = out
        .trim()
        .split(',')
        .filter(|l| !l.is_empty())
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(want.len(), pairs.len(), "{out}");
    let mut seen = BTreeSet::new();
    for ((a, b), w) in pairs.iter().zip(want) {
        let got = regraft::packages::compare_rpm(a, b) as i32;
        assert_eq!(got, w.signum(), "{a} vs {b}");
        seen.insert(w.signum());
    }
    assert_eq!(
        seen.len(),
        3,
        "the generator must produce all three outcomes"
    );
}

#[test]
fn rpm_diff_and_the_shadowed_package_check_agree_with_rpm() {
    let (old, new) = (rpm_image("rpm-old.oci"), rpm_image("rpm-new.oci"));
    let v: Value = serde_json::from_str(&regraft_ok(&["diff", &old, &new, "--json"])).unwrap();
    let names = |k: &str| -> Vec<String> {
        v["packages"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p["name"].as_str().unwrap(),
                    p["old_version"]
                        .as_str()
                        .or(p["version"].as_str())
                        .unwrap_or("")
                )
            })
            .collect()
    };
    assert_eq!(names("upgraded"), ["rg-libfoo 2:1.2-3"], "{v:#}");
    assert_eq!(names("removed").len(), 1, "{v:#}");
    assert!(names("removed")[0].starts_with("rg-data"), "{v:#}");
    // The check: the application layers of rpm-new replace a file of the base's rg-libfoo and
    // delete rg-data's. `rpm -qf` on the unpacked base says who owns them.
    let d = tmp();
    let base = unpack(&format!("oci:{old}"), d.path());
    let owner = |p: &str| {
        tool_ok(
            "rpm",
            &[
                "--root",
                &base.display().to_string(),
                "--dbpath",
                "/var/lib/rpm",
                "-qf",
                "--qf",
                "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}",
                p,
            ],
        )
    };
    let o = regraft(&[
        "check",
        &new,
        "--old-base-layers",
        "1",
        "--accept",
        "missing-interpreter",
        "--json",
    ]);
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let shadowed: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "shadowed-package")
        .collect();
    assert_eq!(shadowed.len(), 2, "{doc:#}");
    for f in shadowed {
        let path = f["path"].as_str().unwrap();
        let missing = f["missing"].as_str().unwrap();
        let who = owner(path);
        assert!(
            missing.contains(&format!("rpm package {who}")),
            "{path}: rpm says {who}; regraft: {missing}"
        );
    }
}

/// An image whose first layer holds `db` as `var/lib/rpm/rpmdb.sqlite` and whose second
/// writes one file, `usr/bin/app`.
fn image_with_rpmdb(dir: &Path, db: &[u8]) -> String {
    let dirs = |names: &[&[u8]]| -> Vec<u8> {
        names
            .iter()
            .flat_map(|n| raw_entry(n, b'5', b"", b"", 0o755))
            .collect()
    };
    let base = end_tar(
        [
            dirs(&[b"var/", b"var/lib/", b"var/lib/rpm/"]),
            raw_entry(b"var/lib/rpm/rpmdb.sqlite", b'0', db, b"", 0o644),
        ]
        .concat(),
    );
    let app = end_tar(
        [
            dirs(&[b"usr/", b"usr/bin/"]),
            raw_entry(b"usr/bin/app", b'0', b"app\n", b"", 0o644),
        ]
        .concat(),
    );
    layout_from_layers(dir, &[base, app])
}

fn rpmdb_of_fixture() -> Vec<u8> {
    let d = tmp();
    let rootfs = unpack(&format!("oci:{}", rpm_image("rpm-old.oci")), d.path());
    std::fs::read(rootfs.join("var/lib/rpm/rpmdb.sqlite")).unwrap()
}

#[test]
fn a_truncated_rpm_database_or_a_lying_header_is_an_error_and_writes_nothing() {
    let db = rpmdb_of_fixture();
    let d = tmp();
    // Truncated: half the file.
    let img = image_with_rpmdb(&d.path().join("trunc"), &db[..db.len() / 2]);
    let err = regraft_fails(&["packages", &img], 1);
    assert!(err.contains("/var/lib/rpm/rpmdb.sqlite"), "{err}");
    let out = d.path().join("out.json");
    let out_s = out.display().to_string();
    let err = regraft_fails(&["sbom", &img, "--format", "spdx", "-o", &out_s], 1);
    assert!(err.contains("rpmdb.sqlite"), "{err}");
    assert!(!out.exists());
    // A header blob whose BASENAMES count lies: rewritten with python's sqlite3 in a copy.
    let copy = d.path().join("lying.sqlite");
    std::fs::write(&copy, &db).unwrap();
    let py = r#"
import sqlite3, struct, sys
c = sqlite3.connect(sys.argv[1])
hnum, blob = c.execute("SELECT hnum, blob FROM Packages ORDER BY hnum LIMIT 1").fetchone()
b = bytearray(blob)
il = struct.unpack(">I", b[0:4])[0]
for i in range(il):
    at = 8 + 16 * i
    tag = struct.unpack(">I", b[at:at + 4])[0]
    if tag == 1117:  # BASENAMES
        b[at + 12:at + 16] = struct.pack(">I", 0x7fffffff)
c.execute("UPDATE Packages SET blob = ? WHERE hnum = ?", (bytes(b), hnum))
c.commit()
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
c.close()
"#;
    let o = Command::new("python3")
        .args(["-c", py, &copy.display().to_string()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lying = std::fs::read(&copy).unwrap();
    let img = image_with_rpmdb(&d.path().join("lying"), &lying);
    // `packages` reads no file lists, so it does not see the lie; the check does.
    regraft_ok(&["packages", &img]);
    let o = regraft(&["check", &img, "--old-base-layers", "1", "--json"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_ne!(o.status.code(), Some(0), "{all}");
    assert!(all.contains("strings in the"), "{all}");
    assert!(all.contains("Packages row"), "{all}");
}

fn sbom_python() -> PathBuf {
    let p = std::env::var_os("REGRAFT_TEST_SBOM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/sbom-venv/bin/python"));
    assert!(
        p.exists(),
        "{} is missing: run `bash tests/sbom/venv.sh` (tests/run.sh does)",
        p.display()
    );
    p
}

/// Validates `file` as `kind` with the outside tools; returns their parsed purls, one line
/// each: `type namespace name version {qualifiers}`.
fn validate(kind: &str, file: &Path) -> Vec<String> {
    let o = Command::new(sbom_python())
        .args([
            &root().join("tests/sbom/validate.py").display().to_string(),
            kind,
            &file.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{kind} {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn sbom_of_the_real_images_validates_and_lists_what_the_package_managers_list() {
    let cases = [
        (
            format!("docker-archive:{}", real("debian-old.tar")),
            real("debian-old.tar"),
        ),
        (
            format!("oci:{}:1.0", real("vendor-real.oci")),
            format!("{}:1.0", real("vendor-real.oci")),
        ),
        (
            format!("oci:{}", rpm_image("rpm-new.oci")),
            rpm_image("rpm-new.oci"),
        ),
    ];
    for (skopeo_ref, img) in cases {
        let d = tmp();
        let rootfs = unpack(&skopeo_ref, d.path());
        // What the image's own package manager lists: (type, name, version).
        let want: BTreeSet<(String, String, String)> = if rootfs.join("var/lib/rpm").exists() {
            rpm_qa(&rootfs)
                .into_iter()
                .map(|((n, _), (evr, _, _))| {
                    let v = evr
                        .split_once(':')
                        .map_or(evr.clone(), |(_, v)| v.to_string());
                    ("rpm".into(), n, v)
                })
                .collect()
        } else {
            dpkg_query(&rootfs)
                .into_iter()
                .map(|((n, _), v)| ("deb".into(), n, v))
                .collect()
        };
        let mut docs = Vec::new();
        for kind in ["cyclonedx", "spdx"] {
            let out = d.path().join(format!("sbom.{kind}.json"));
            regraft_ok(&[
                "sbom",
                &img,
                "--format",
                kind,
                "-o",
                &out.display().to_string(),
            ]);
            let purls = validate(kind, &out);
            let got: BTreeSet<(String, String, String)> = purls
                .iter()
                .map(|l| {
                    let f: Vec<&str> = l.splitn(5, ' ').collect();
                    (f[0].to_string(), f[2].to_string(), f[3].to_string())
                })
                .collect();
            assert_eq!(got, want, "{img} {kind}");
            // Every purl carries the distro qualifier from the image's os-release.
            assert!(
                purls.iter().all(|l| l.contains("\"distro\": ")),
                "{purls:?}"
            );
            docs.push(std::fs::read(&out).unwrap());
        }
        // Deterministic: the same bytes again, on stdout.
        let again = Command::new(env!("CARGO_BIN_EXE_regraft"))
            .args(["sbom", &img, "--format", "cyclonedx"])
            .output()
            .unwrap();
        assert_eq!(again.stdout, docs[0], "{img}: a second run differs");
        // The layer of each package is one of the image's diff_ids.
        let cdx: Value = serde_json::from_slice(&docs[0]).unwrap();
        let diff_ids: BTreeSet<&str> = cdx["metadata"]["component"]["properties"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == "aquasecurity:trivy:DiffID")
            .map(|p| p["value"].as_str().unwrap())
            .collect();
        for c in cdx["components"].as_array().unwrap() {
            if c["type"] != "library" {
                continue;
            }
            let l = c["properties"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "aquasecurity:trivy:LayerDiffID")
                .unwrap_or_else(|| panic!("no layer: {c}"));
            assert!(diff_ids.contains(l["value"].as_str().unwrap()), "{c}");
        }
    }
}

#[test]
fn sbom_licenses_come_from_rpm_headers_and_debian_copyright_files() {
    let img = rpm_image("rpm-old.oci");
    let v: Value =
        serde_json::from_str(&regraft_ok(&["sbom", &img, "--format", "cyclonedx"])).unwrap();
    let lic = |name: &str| {
        v["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["licenses"].clone())
            .unwrap()
    };
    assert_eq!(
        lic("rg-base"),
        json!([{"license": {"id": "GPL-2.0-or-later"}}])
    );
    assert_eq!(
        lic("rg-data"),
        json!([{"expression": "BSD-3-Clause AND CC0-1.0"}])
    );
    // Debian: the machine-readable copyright file's License: fields; `rpm`-style none for libc6,
    // whose copyright file is free text.
    let v: Value = serde_json::from_str(&regraft_ok(&[
        "sbom",
        &real("debian-old.tar"),
        "--format",
        "spdx",
    ]))
    .unwrap();
    let d = tmp();
    let rootfs = unpack(
        &format!("docker-archive:{}", real("debian-old.tar")),
        d.path(),
    );
    for p in v["packages"].as_array().unwrap() {
        let Some(name) = p["name"].as_str() else {
            continue;
        };
        let cr = rootfs.join(format!("usr/share/doc/{name}/copyright"));
        let declared = p["licenseDeclared"].as_str().unwrap();
        let Ok(text) = std::fs::read_to_string(&cr) else {
            continue;
        };
        let machine = text
            .split("\n\n")
            .next()
            .unwrap()
            .lines()
            .any(|l| l.starts_with("Format:") && l.contains("copyright-format"));
        if !machine {
            assert_eq!(declared, "NOASSERTION", "{name}");
            continue;
        }
        // Each License: short name of the file is named in the declaration.
        for l in text.lines().filter_map(|l| l.strip_prefix("License:")) {
            let l = l.trim();
            if l.is_empty() {
                continue;
            }
            let as_ref: String = l
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            assert!(
                declared.to_lowercase().contains(&l.to_lowercase())
                    || declared.contains(&format!("LicenseRef-{as_ref}")),
                "{name}: {l} not in {declared}"
            );
        }
    }
}

/// The fields the forms of one report must agree on, per finding.
fn projection(t: &Value) -> BTreeSet<String> {
    t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {} {} {} {}",
                f["id"],
                f["package"],
                f["installed_version"],
                f["part"],
                f["layer"],
                f["severity"],
                f["fixed_versions"]
            )
        })
        .collect()
}

#[test]
fn triage_of_json_cyclonedx_and_sarif_forms_agree_and_refuse_another_image() {
    let d = tmp();
    let ids = vendor_ids();
    let img = format!("{}:1.0", real("vendor-real.oci"));
    let base = real("debian-old.oci");
    for scanner in ["trivy", "grype"] {
        let (json_form, _) = sample(&format!("{scanner}-vendor-real.json"), &ids, d.path());
        tool_ok(
            "python3",
            &[
                &root()
                    .join("fixtures/reports/make-samples.py")
                    .display()
                    .to_string(),
                "--derive",
                &json_form.display().to_string(),
                &d.path().display().to_string(),
            ],
        );
        let forms = [
            json_form.clone(),
            d.path().join(format!("{scanner}-vendor-real.cdx.json")),
            d.path().join(format!("{scanner}-vendor-real.sarif")),
        ];
        let mut seen = Vec::new();
        for (i, f) in forms.iter().enumerate() {
            let f = f.display().to_string();
            let t = triage_json(
                &[
                    "triage",
                    "--report",
                    &f,
                    &img,
                    "--old-base",
                    &base,
                    "--json",
                ],
                0,
            );
            assert_eq!(
                t["report"]["format"],
                ["json", "cyclonedx", "sarif"][i],
                "{f}"
            );
            assert_eq!(t["report"]["scanner"], scanner);
            assert!(!t["findings"].as_array().unwrap().is_empty());
            seen.push((f.clone(), projection(&t)));
            // The vendor's report against its own base image is refused, in every form.
            let o = triage_json(&["triage", "--report", &f, &base, "--json"], 1);
            assert!(
                o["error"].as_str().unwrap().contains("not about"),
                "{f}: {o}"
            );
        }
        for (f, p) in &seen[1..] {
            assert_eq!(p, &seen[0].1, "{f} against {}", seen[0].0);
        }
    }
}

#[test]
fn vex_takes_out_exactly_the_stated_findings_and_refuses_another_product() {
    let d = tmp();
    let ids = vendor_ids();
    let img = format!("{}:1.0", real("vendor-real.oci"));
    let (trivy, _) = sample("trivy-vendor-real.json", &ids, d.path());
    let trivy_s = trivy.display().to_string();
    let plain = triage_json(&["triage", "--report", &trivy_s, &img, "--json"], 0);
    let manifest = plain["image"]["manifest_digest"].as_str().unwrap();
    tool_ok(
        "python3",
        &[
            &root()
                .join("fixtures/reports/make-samples.py")
                .display()
                .to_string(),
            "--vex",
            &trivy_s,
            manifest,
            &d.path().display().to_string(),
        ],
    );
    let openvex = d
        .path()
        .join("vex-vendor-real.openvex.json")
        .display()
        .to_string();
    let cdx = d
        .path()
        .join("vex-vendor-real.cdx.json")
        .display()
        .to_string();
    let t = triage_json(
        &[
            "triage", "--report", &trivy_s, &img, "--vex", &openvex, "--vex", &cdx, "--json",
        ],
        0,
    );
    let ids_of = |v: &Value, k: &str| -> BTreeSet<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f["id"].as_str().unwrap(),
                    f["package"].as_str().unwrap()
                )
            })
            .collect()
    };
    let stated: BTreeSet<String> = [
        "CVE-2023-45853 zlib1g",
        "CVE-2024-24790 stdlib",
        "CVE-2025-8058 libc6",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(ids_of(&t, "ignored"), stated, "{t:#}");
    // Everything else stays: the `affected` statement and the one about another image take
    // nothing out.
    let left: BTreeSet<String> = ids_of(&plain, "findings")
        .difference(&stated)
        .cloned()
        .collect();
    assert_eq!(ids_of(&t, "findings"), left);
    for i in t["ignored"].as_array().unwrap() {
        let r = i["reason"].as_str().unwrap();
        assert!(r.starts_with("VEX ") && r.contains("not_affected ("), "{r}");
    }
    // A VEX about another product: an error, in text and in --json.
    let other = d
        .path()
        .join("vex-other-product.openvex.json")
        .display()
        .to_string();
    let err = regraft_fails(&["triage", "--report", &trivy_s, &img, "--vex", &other], 1);
    assert!(err.contains("about another product"), "{err}");
    let e = triage_json(
        &[
            "triage", "--report", &trivy_s, &img, "--vex", &other, "--json",
        ],
        1,
    );
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("about another product")
    );
}

/// A Trivy JSON report of rpm-old (its layers and config digest read by skopeo) with findings on
/// four of its packages.
fn rpm_old_report(dir: &Path) -> PathBuf {
    rpm_report(&rpm_image("rpm-old.oci"), dir)
}

/// The same report about `img` (rpm-old or one of its twins with another rpm backend).
pub(crate) fn rpm_report(img: &str, dir: &Path) -> PathBuf {
    let i = crate::triage::ids(&format!("oci:{img}"));
    let v = |id: &str, pkg: &str, inst: &str, fixed: &str| {
        let mut x = json!({"VulnerabilityID": id, "PkgName": pkg, "InstalledVersion": inst,
            "Severity": "HIGH", "Layer": {"DiffID": i.diff_ids[0]}});
        if !fixed.is_empty() {
            x["FixedVersion"] = json!(fixed);
        }
        x
    };
    let doc = json!({
        "SchemaVersion": 2, "ArtifactName": "rpm-old", "ArtifactType": "container_image",
        "Metadata": {"DiffIDs": i.diff_ids, "ImageID": i.image_id,
                     "OS": {"Family": "redhat", "Name": "9.4"}},
        "Results": [{"Target": "rpm-old (redhat 9.4)", "Class": "os-pkgs", "Type": "redhat",
            "Vulnerabilities": [
                v("CVE-2099-0001", "rg-libfoo", "2:1.2-3", "2:1.2.5-1"),
                v("CVE-2099-0002", "rg-data", "0.9-1.el9", "0.9-2.el9"),
                v("CVE-2099-0003", "rg-base", "1.0-1", ""),
                v("CVE-2099-0004", "rg-tool", "5.0-1", "5.1-1"),
            ]}],
    });
    let p = dir.join("rpm-old.trivy.json");
    std::fs::write(&p, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    p
}

#[test]
fn vex_out_states_only_what_the_rpm_databases_prove() {
    let d = tmp();
    let (old, new) = (rpm_image("rpm-old.oci"), rpm_image("rpm-new.oci"));
    let rep = rpm_old_report(d.path()).display().to_string();
    let out = d.path().join("vex/new.openvex.json");
    let out_s = out.display().to_string();
    let v: Value = serde_json::from_str(&regraft_ok(&[
        "diff",
        &old,
        &new,
        "--report",
        &rep,
        "--vex-out",
        &out_s,
        "--json",
    ]))
    .unwrap();
    let vex: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(vex["@context"], "https://openvex.dev/ns/v0.2.0");
    let st = vex["statements"].as_array().unwrap();
    let by_id: BTreeMap<&str, &Value> = st
        .iter()
        .map(|s| (s["vulnerability"]["name"].as_str().unwrap(), s))
        .collect();
    // Only the upgrade past the fix and the removed package: no statement for a finding that
    // remains or has no fixed version.
    assert_eq!(
        by_id.keys().copied().collect::<Vec<_>>(),
        ["CVE-2099-0001", "CVE-2099-0002"],
        "{vex:#}"
    );
    // The diff's own verdicts say the same.
    assert_eq!(v["findings"]["fixed"][0]["id"], "CVE-2099-0001", "{v:#}");
    assert_eq!(v["findings"]["removed"][0]["id"], "CVE-2099-0002", "{v:#}");
    let d2 = tmp();
    let rootfs = unpack(&format!("oci:{new}"), d2.path());
    let qa = rpm_qa(&rootfs);
    // fixed: NEW's rg-libfoo as rpm lists it, at or past the fixed version by rpm.vercmp.
    let fixed = by_id["CVE-2099-0001"];
    assert_eq!(fixed["status"], "fixed");
    let sub = fixed["products"][0]["subcomponents"][0]["@id"]
        .as_str()
        .unwrap();
    let (evr, _, _) = &qa[&("rg-libfoo".to_string(), "x86_64".to_string())];
    let (e, vr) = evr.split_once(':').unwrap();
    assert!(
        sub.starts_with(&format!("pkg:rpm/redhat/rg-libfoo@{vr}?"))
            && sub.contains(&format!("epoch={e}")),
        "{sub} vs {evr}"
    );
    let cmp = tool_ok(
        "rpm",
        &[
            "--eval",
            &format!("%{{lua: print(rpm.vercmp(\"{evr}\", \"2:1.2.5-1\"))}}"),
        ],
    );
    assert_eq!(cmp.trim(), "1");
    let impact = fixed["impact_statement"].as_str().unwrap();
    assert!(
        impact.contains("2:1.2-3") && impact.contains(evr),
        "{impact}"
    );
    // not_affected: rg-data is gone from NEW's database.
    let gone = by_id["CVE-2099-0002"];
    assert_eq!(gone["status"], "not_affected");
    assert_eq!(gone["justification"], "component_not_present");
    assert!(!qa.keys().any(|k| k.0 == "rg-data"));
    // The product is NEW by its manifest digest, which regraft's triage of NEW names too.
    let product = gone["products"][0]["@id"].as_str().unwrap();
    let inspect: Value = serde_json::from_str(&regraft_ok(&["inspect", &new, "--json"])).unwrap();
    let md = inspect["manifest_digest"].as_str().unwrap_or("");
    assert!(!md.is_empty(), "{inspect:#}");
    assert!(
        product.ends_with(&md.replace("sha256:", "sha256%3A")),
        "{product} {md}"
    );
    // A report of another image: refused, and no VEX written.
    std::fs::remove_file(&out).unwrap();
    regraft_fails(
        &["diff", &new, &old, "--report", &rep, "--vex-out", &out_s],
        1,
    );
    assert!(!out.exists());
}

#[test]
fn triage_sarif_has_one_result_per_finding_as_sarif_tools_reads_it() {
    let d = tmp();
    let ids = vendor_ids();
    let img = format!("{}:1.0", real("vendor-real.oci"));
    let (rep, _) = sample("trivy-vendor-real.json", &ids, d.path());
    let out = d.path().join("triage.sarif");
    let t = triage_json(
        &[
            "triage",
            "--report",
            &rep.display().to_string(),
            &img,
            "--old-base",
            &real("debian-old.oci"),
            "--sarif",
            &out.display().to_string(),
            "--json",
        ],
        0,
    );
    // Microsoft's sarif-tools reads it: one row a finding, level by severity, the file or the
    // image as location.
    let csv = d.path().join("triage.csv");
    let sarif = sbom_python().with_file_name("sarif");
    let o = Command::new(&sarif)
        .args([
            "csv",
            &out.display().to_string(),
            "-o",
            &csv.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: BTreeSet<String> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{} {} {}", f[1], f[2], f[f.len() - 2])
        })
        .collect();
    let want: BTreeSet<String> = t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let level = match f["severity"].as_str().unwrap() {
                "CRITICAL" | "HIGH" => "error",
                "MEDIUM" => "warning",
                _ => "note",
            };
            let loc = f["paths"][0].as_str().unwrap_or("image");
            format!("{level} {} {loc}", f["id"].as_str().unwrap())
        })
        .collect();
    assert_eq!(rows, want);
    // Each result carries the layer and route the triage gave the finding.
    let s: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let results = s["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), t["findings"].as_array().unwrap().len());
    for (r, f) in results.iter().zip(t["findings"].as_array().unwrap()) {
        assert_eq!(r["ruleId"], f["id"]);
        assert_eq!(r["properties"]["layer"], f["layer"]);
        assert_eq!(r["properties"]["part"], f["part"]);
        let route = r["properties"]["route"].as_str().unwrap();
        assert!(
            t["routes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["route"] == route && x["part"] == f["part"]),
            "{route}"
        );
    }
}
