//! rpm's two older database backends (issue 20): ndb's `Packages.db` (SUSE) and Berkeley DB
//! hash `Packages` (RHEL 7 and 8, Amazon Linux 2). The images come from
//! `fixtures/build-rpmdb.sh`: the layers of `fixtures/build-rpm.sh`'s sqlite images with each
//! layer's database swapped for the other backend's file holding the same header blobs. The
//! Berkeley DB files are written by Berkeley DB's own `db5.3_load` (Debian's db5.3-util) and
//! read back by rpm's own `bdb_ro` backend as the oracle; no tool here writes or reads ndb,
//! whose files `fixtures/tools/rpmdb_write.py` writes from rpm's documented layout, so its
//! oracle is the sqlite image and `rpm -qa` of it.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn image(dir: &str, name: &str) -> String {
    let p = root().join("fixtures/real").join(dir).join(name);
    assert!(
        p.exists(),
        "{} is missing: run `bash fixtures/build-rpm.sh` and `bash fixtures/build-rpmdb.sh` \
         (tests/run.sh does)",
        p.display()
    );
    format!("{}:1", p.display())
}

/// The sqlite image and its ndb and bdb twins.
fn triplet(name: &str) -> [String; 3] {
    [
        image("rpm", &format!("{name}.oci")),
        image("rpmdb", &format!("{name}-ndb.oci")),
        image("rpmdb", &format!("{name}-bdb.oci")),
    ]
}

/// `rpm -qa` of a root, name and EVR, arch, source rpm and license, sorted; `backend` picks
/// rpm's backend (`bdb_ro` reads Berkeley DB).
fn rpm_qa(rootfs: &Path, backend: &str) -> Vec<String> {
    let mut v: Vec<String> = tool_ok(
        "rpm",
        &[
            "--root",
            &rootfs.display().to_string(),
            "--dbpath",
            "/var/lib/rpm",
            "--define",
            &format!("_db_backend {backend}"),
            "-qa",
            "--qf",
            "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{ARCH} %{SOURCERPM} %{LICENSE}\n",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect();
    v.sort();
    v
}

/// `unpack` into a new directory `dir`.
fn unpack_in(img: &str, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    unpack(&format!("oci:{img}"), dir)
}

fn packages(img: &str) -> Value {
    serde_json::from_str(&regraft_ok(&["packages", img, "--json"])).unwrap()
}

#[test]
fn ndb_and_bdb_images_list_what_the_sqlite_image_and_rpm_qa_list() {
    for name in ["rpm-old", "rpm-new"] {
        let [sqlite, ndb, bdb] = triplet(name);
        let want = packages(&sqlite);
        assert!(want["packages"].as_array().unwrap().len() >= 3);
        // The oracle: rpm on the unpacked sqlite image, and rpm's own bdb_ro on the unpacked
        // bdb image (the file Berkeley DB's db_load wrote).
        let d = tmp();
        let sroot = unpack_in(&sqlite, &d.path().join("s"));
        let broot = unpack_in(&bdb, &d.path().join("b"));
        let qa = rpm_qa(&sroot, "sqlite");
        assert_eq!(rpm_qa(&broot, "bdb_ro"), qa, "{name}: bdb_ro");
        let ours: Vec<String> = want["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
                let srpm = qa
                    .iter()
                    .find(|l| l.starts_with(&format!("{} ", s("name"))))
                    .and_then(|l| l.split(' ').nth(3))
                    .unwrap_or("")
                    .to_string();
                format!(
                    "{} {} {} {srpm} {}",
                    s("name"),
                    s("version"),
                    s("arch"),
                    s("license")
                )
            })
            .collect();
        assert_eq!(ours, qa, "{name}: regraft on sqlite vs rpm -qa");
        for (img, db) in [
            (&ndb, "usr/lib/sysimage/rpm/Packages.db"),
            (&bdb, "var/lib/rpm/Packages"),
        ] {
            let got = packages(img);
            assert_eq!(got["databases"], serde_json::json!([db]), "{img}");
            // Every field, the layer that last wrote each header included.
            assert_eq!(got["packages"], want["packages"], "{img}");
            assert_eq!(got["distro"], want["distro"], "{img}");
        }
    }
}

#[test]
fn diff_check_and_sbom_of_ndb_and_bdb_images_agree_with_the_sqlite_ones() {
    let [old_s, old_n, old_b] = triplet("rpm-old");
    let [new_s, new_n, new_b] = triplet("rpm-new");
    let diff = |a: &str, b: &str| -> Value {
        let v: Value = serde_json::from_str(&regraft_ok(&["diff", a, b, "--json"])).unwrap();
        v["packages"].clone()
    };
    let want = diff(&old_s, &new_s);
    assert_eq!(want["upgraded"].as_array().unwrap().len(), 1, "{want:#}");
    assert_eq!(diff(&old_n, &new_n), want);
    assert_eq!(diff(&old_b, &new_b), want);
    // A graft across backends reads each image's own database.
    assert_eq!(diff(&old_b, &new_n), want);
    // The shadowed-package check: the same files, the same owners.
    let shadowed = |img: &str| -> BTreeSet<(String, String)> {
        let o = regraft(&[
            "check",
            img,
            "--old-base-layers",
            "1",
            "--accept",
            "missing-interpreter",
            "--json",
        ]);
        let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"] == "shadowed-package")
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_string(),
                    f["missing"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let want = shadowed(&new_s);
    assert_eq!(want.len(), 2, "{want:?}");
    assert_eq!(shadowed(&new_n), want);
    assert_eq!(shadowed(&new_b), want);
    // The SBOM's packages: the same purls and licenses.
    let sbom = |img: &str| -> BTreeSet<String> {
        let v: Value =
            serde_json::from_str(&regraft_ok(&["sbom", img, "--format", "cyclonedx"])).unwrap();
        v["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c["purl"], c["licenses"]))
            .collect()
    };
    let want = sbom(&new_s);
    assert!(want.len() >= 3, "{want:?}");
    assert_eq!(sbom(&new_n), want);
    assert_eq!(sbom(&new_b), want);
}

/// The header blobs of the rpm-old fixture's sqlite database, and the database's path (in
/// `dir`).
fn fixture_sqlite(dir: &Path) -> PathBuf {
    let rootfs = unpack_in(&image("rpm", "rpm-old.oci"), dir);
    rootfs.join("var/lib/rpm/rpmdb.sqlite")
}

fn writer() -> String {
    root()
        .join("fixtures/tools/rpmdb_write.py")
        .display()
        .to_string()
}

/// Berkeley DB's own `db5.3_load` writing a `Packages` from a dump, in a root rpm can read.
fn db_load(dump: &Path, root_dir: &Path, big_endian: bool) -> PathBuf {
    let dbdir = root_dir.join("var/lib/rpm");
    std::fs::create_dir_all(&dbdir).unwrap();
    let out = dbdir.join("Packages");
    let order = if big_endian { "4321" } else { "1234" };
    tool_ok(
        "db5.3_load",
        &[
            "-t",
            "hash",
            "-c",
            &format!("db_lorder={order}"),
            "-f",
            &dump.display().to_string(),
            &out.display().to_string(),
        ],
    );
    out
}

/// Both byte orders, small pages (every header on a chain of overflow pages) and 64 KiB ones
/// (every header on its bucket's page): regraft reads what rpm's own bdb_ro reads, and the
/// same headers the sqlite database holds.
#[test]
fn bdb_files_of_both_byte_orders_and_page_sizes_from_db_load_read_as_rpm_reads_them() {
    let d = tmp();
    let sqlite = fixture_sqlite(&d.path().join("u"));
    let want =
        regraft::packages::rpm::read_sqlite(&std::fs::read(&sqlite).unwrap(), None, "sqlite", true)
            .unwrap();
    let want: Vec<_> = want.into_iter().map(|r| r.header).collect();
    let qa = rpm_qa(sqlite.ancestors().nth(4).unwrap(), "sqlite");
    for big in [false, true] {
        for pagesize in ["512", "65536"] {
            let case = format!("{}-{pagesize}", if big { "be" } else { "le" });
            let dump = d.path().join(format!("{case}.dump"));
            let mut args = vec![
                writer(),
                "bdb-dump".into(),
                sqlite.display().to_string(),
                dump.display().to_string(),
                "--pagesize".into(),
                pagesize.into(),
            ];
            if big {
                args.push("--big-endian".into());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            tool_ok("python3", &args);
            let r = d.path().join(&case);
            let file = db_load(&dump, &r, big);
            tool_ok("db5.3_verify", &["-q", &file.display().to_string()]);
            let got = regraft::packages::rpm::read_bdb(&std::fs::read(&file).unwrap(), "b", true)
                .unwrap();
            let got: Vec<_> = got.into_iter().map(|r| r.header).collect();
            assert_eq!(got, want, "{case}");
            assert_eq!(rpm_qa(&r, "bdb_ro"), qa, "{case}: rpm's bdb_ro");
        }
    }
}

/// Many headers: Berkeley DB splits its buckets (the spares table), chains overflow bucket
/// pages, and puts big headers on overflow chains; every header comes back, by number.
#[test]
fn a_bdb_file_of_two_thousand_headers_from_db_load_reads_back_whole() {
    use regraft::formats::rpmheader::build;
    let s = |v: &str| [v.as_bytes(), b"\0"].concat();
    let mut dump =
        String::from("VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=1024\nHEADER=END\n");
    let mut want = Vec::new();
    dump.push_str(&format!(
        " {}\n {}\n",
        hex::encode(0u32.to_le_bytes()),
        hex::encode(2001u32.to_le_bytes())
    ));
    for i in 1..=2000u32 {
        // Some small (on the page), some past a page (on overflow pages).
        let pad = "x".repeat((i as usize * 7) % 3000);
        let blob = build(&[
            (1000, 6, 1, s(&format!("pkg{i}"))),
            (1001, 6, 1, s("1.0")),
            (1002, 6, 1, s(&format!("{i}{pad}"))),
        ]);
        dump.push_str(&format!(
            " {}\n {}\n",
            hex::encode(i.to_le_bytes()),
            hex::encode(&blob)
        ));
        want.push(format!("pkg{i}"));
    }
    dump.push_str("DATA=END\n");
    let d = tmp();
    let p = d.path().join("dump");
    std::fs::write(&p, dump).unwrap();
    let file = db_load(&p, d.path(), false);
    let got: Vec<String> =
        regraft::packages::rpm::read_bdb(&std::fs::read(&file).unwrap(), "b", false)
            .unwrap()
            .into_iter()
            .map(|r| r.header.name)
            .collect();
    assert_eq!(got, want);
}

/// An image whose one layer holds `db` at `path` (under `var/lib/rpm/` or
/// `usr/lib/sysimage/rpm/`).
fn image_with(dir: &Path, path: &[u8], db: &[u8]) -> String {
    let parents: Vec<Vec<u8>> = {
        let mut v = Vec::new();
        for (i, &b) in path.iter().enumerate() {
            if b == b'/' {
                v.push(path[..=i].to_vec());
            }
        }
        v
    };
    let mut entries: Vec<u8> = parents
        .iter()
        .flat_map(|n| raw_entry(n, b'5', b"", b"", 0o755))
        .collect();
    entries.extend(raw_entry(path, b'0', db, b"", 0o644));
    layout_from_layers(dir, &[end_tar(entries)])
}

/// Truncated files, lying counts and a loop in an overflow chain: a clear error naming the
/// database file, exit 1, nothing written at the output.
#[test]
fn truncated_lying_and_looping_ndb_and_bdb_databases_are_errors_naming_the_file() {
    let d = tmp();
    let sqlite = fixture_sqlite(&d.path().join("u"));
    let ndb_file = d.path().join("Packages.db");
    tool_ok(
        "python3",
        &[
            &writer(),
            "ndb",
            &sqlite.display().to_string(),
            &ndb_file.display().to_string(),
        ],
    );
    let ndb = std::fs::read(&ndb_file).unwrap();
    regraft::packages::rpm::read_ndb(&ndb, "n", true).unwrap();
    let dump = d.path().join("dump");
    tool_ok(
        "python3",
        &[
            &writer(),
            "bdb-dump",
            &sqlite.display().to_string(),
            &dump.display().to_string(),
            "--pagesize",
            "512",
        ],
    );
    let bdb = std::fs::read(db_load(&dump, &d.path().join("b"), false)).unwrap();
    // The first overflow page (type 7) pointed at itself.
    let ps = 512;
    let ovfl = (1..bdb.len() / ps)
        .find(|&n| bdb[n * ps + 25] == 7 && bdb[n * ps + 16..n * ps + 20] != [0; 4])
        .expect("an overflow chain of two pages or more");
    let mut looping = bdb.clone();
    looping[ovfl * ps + 16..ovfl * ps + 20].copy_from_slice(&(ovfl as u32).to_le_bytes());
    let mut lying_ndb = ndb.clone();
    lying_ndb[12..16].copy_from_slice(&u32::MAX.to_le_bytes()); // slot pages
    let mut lying_blob = ndb.clone();
    lying_blob[4096 + 12..4096 + 16].copy_from_slice(&0x7fff_ffffu32.to_le_bytes()); // bloblen
    let mut lying_bdb = bdb.clone();
    lying_bdb[32..36].copy_from_slice(&0x0fff_ffffu32.to_le_bytes()); // last page
    let ndb_path: &[u8] = b"usr/lib/sysimage/rpm/Packages.db";
    let bdb_path: &[u8] = b"var/lib/rpm/Packages";
    let cases: Vec<(&str, &[u8], Vec<u8>, &str)> = vec![
        (
            "ndb-truncated",
            ndb_path,
            ndb[..ndb.len() - 40].to_vec(),
            "not a whole number",
        ),
        (
            "ndb-cut",
            ndb_path,
            ndb[..ndb.len() - 48].to_vec(),
            "outside the blob area",
        ),
        ("ndb-slot-pages", ndb_path, lying_ndb, "slot pages"),
        ("ndb-bloblen", ndb_path, lying_blob, "blocks"),
        (
            "bdb-truncated",
            bdb_path,
            bdb[..bdb.len() - 512].to_vec(),
            "truncated",
        ),
        ("bdb-last-page", bdb_path, lying_bdb, "truncated"),
        ("bdb-loop", bdb_path, looping, "reached twice"),
    ];
    for (name, path, bytes, want) in cases {
        let img = image_with(&d.path().join(name), path, &bytes);
        let err = regraft_fails(&["packages", &img], 1);
        assert!(
            err.contains(&format!("/{}", String::from_utf8_lossy(path))) && err.contains(want),
            "{name}: {err}"
        );
        let out = d.path().join(format!("{name}.sbom.json"));
        let err = regraft_fails(
            &[
                "sbom",
                &img,
                "--format",
                "spdx",
                "-o",
                &out.display().to_string(),
            ],
            1,
        );
        assert!(err.contains(want), "{name}: {err}");
        assert!(!out.exists(), "{name}");
    }
}

/// rpm reads one backend in a directory: a Berkeley DB `Packages` left beside `rpmdb.sqlite`
/// (as rpm's own conversion leaves it) is not read, even when it is garbage, and a warning
/// names it; the packages are the sqlite database's.
#[test]
fn a_leftover_database_beside_the_one_rpm_reads_is_named_in_a_warning_not_read() {
    let d = tmp();
    let sqlite = std::fs::read(fixture_sqlite(&d.path().join("u"))).unwrap();
    let mut entries: Vec<u8> = [b"var/".as_slice(), b"var/lib/", b"var/lib/rpm/"]
        .iter()
        .flat_map(|n| raw_entry(n, b'5', b"", b"", 0o755))
        .collect();
    entries.extend(raw_entry(
        b"var/lib/rpm/rpmdb.sqlite",
        b'0',
        &sqlite,
        b"",
        0o644,
    ));
    entries.extend(raw_entry(
        b"var/lib/rpm/Packages",
        b'0',
        b"not a database",
        b"",
        0o644,
    ));
    let img = layout_from_layers(&d.path().join("img"), &[end_tar(entries)]);
    let v = packages(&img);
    assert_eq!(
        v["databases"],
        serde_json::json!(["var/lib/rpm/rpmdb.sqlite"])
    );
    let names: Vec<&str> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rg-base", "rg-data", "rg-libfoo", "rg-tool"]);
    let w = v["warnings"].to_string();
    assert!(
        w.contains("/var/lib/rpm/Packages not read") && w.contains("/var/lib/rpm/rpmdb.sqlite"),
        "{w}"
    );
}

/// triage of the same findings, and `diff --vex-out` of the same graft, say the same whatever
/// rpm backend the images keep their database in (the report is about each image itself).
#[test]
fn triage_and_vex_out_of_ndb_and_bdb_images_agree_with_the_sqlite_ones() {
    let d = tmp();
    let [old_s, old_n, old_b] = triplet("rpm-old");
    let [new_s, new_n, new_b] = triplet("rpm-new");
    let run = |tag: &str, old: &str, new: &str| -> (Value, Vec<String>) {
        let dir = d.path().join(tag);
        std::fs::create_dir_all(&dir).unwrap();
        let rep = crate::scanloop::rpm_report(old, &dir).display().to_string();
        let t = crate::triage::triage_json(&["triage", "--report", &rep, old, "--json"], 0);
        let mut findings: Vec<String> = t["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {} {} {} {}",
                    f["id"], f["package"], f["installed_version"], f["layer"], f["fixed_versions"]
                )
            })
            .collect();
        findings.sort();
        let out = dir.join("new.openvex.json");
        regraft_ok(&[
            "diff",
            old,
            new,
            "--report",
            &rep,
            "--vex-out",
            &out.display().to_string(),
        ]);
        let vex: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let statements: Vec<String> = vex["statements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{} {} {}",
                    s["vulnerability"]["name"], s["status"], s["impact_statement"]
                )
            })
            .collect();
        (
            Value::Array(findings.into_iter().map(Value::from).collect()),
            statements,
        )
    };
    let want = run("sqlite", &old_s, &new_s);
    assert_eq!(want.0.as_array().unwrap().len(), 4, "{want:?}");
    assert_eq!(want.1.len(), 2, "{want:?}");
    assert_eq!(run("ndb", &old_n, &new_n), want);
    assert_eq!(run("bdb", &old_b, &new_b), want);
}

/// A layer graft of an rpm vendor (fixtures/real/rpm's rpm-old: rg-tool installed over a base
/// of rg-base, rg-libfoo 1.2, rg-data) onto a new base built here by rpm (rg-base, rg-libfoo
/// 1.2.10, no rg-data): the extra layer's rpmdb.sqlite is the new base's database plus
/// rg-tool, as rpm itself reads it: `rpm -qa` lists exactly those, `rpm -qf` and
/// `--whatprovides` find rg-tool through the index rows that moved with it, `rpm -V rg-tool`
/// is clean, sqlite's integrity check passes, regraft's own `packages` agrees, and the same
/// graft twice gives the same digest.
#[test]
fn a_layer_graft_of_an_rpm_vendor_merges_rpms_database_as_rpm_reads_it() {
    let t = tmp();
    let rpms = root().join("fixtures/real/rpm/rpms/x86_64");
    let rootfs = t.path().join("root");
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::create_dir_all(rootfs.join("var/lib/rpm")).unwrap();
    std::fs::write(
        rootfs.join("etc/os-release"),
        "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nVERSION_ID=\"9.5\"\n",
    )
    .unwrap();
    let r = rootfs.display().to_string();
    tool_ok(
        "rpm",
        &[
            "--root",
            &r,
            "--dbpath",
            "/var/lib/rpm",
            "-i",
            "--nodeps",
            "--noscripts",
            "--nosignature",
            rpms.join("rg-base-1.0-1.x86_64.rpm").to_str().unwrap(),
            rpms.join("rg-libfoo-1.2.10-1.x86_64.rpm").to_str().unwrap(),
        ],
    );
    let _ = std::fs::remove_file(rootfs.join("var/lib/rpm/rpmdb.sqlite-shm"));
    let base = t.path().join("base.oci");
    let bundle = t.path().join("bundle");
    let b = base.display().to_string();
    tool_ok("umoci", &["init", "--layout", &b]);
    tool_ok("umoci", &["new", "--image", &format!("{b}:1")]);
    tool_ok(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{b}:1"),
            bundle.to_str().unwrap(),
        ],
    );
    tool_ok(
        "cp",
        &[
            "-a",
            &format!("{r}/."),
            bundle.join("rootfs").to_str().unwrap(),
        ],
    );
    tool_ok(
        "umoci",
        &[
            "repack",
            "--image",
            &format!("{b}:1"),
            bundle.to_str().unwrap(),
        ],
    );

    let graft = |out: &Path| {
        let o = regraft(&[
            "--from",
            &format!("oci:{}", image("rpm", "rpm-old.oci")),
            "--onto",
            &format!("oci:{b}:1"),
            "--old-base-layers",
            "1",
            "-o",
            &format!("oci:{}:g", out.display()),
        ]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        let index: Value =
            serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
        (
            err,
            index["manifests"][0]["digest"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    };
    let out = t.path().join("out.oci");
    let (err, digest) = graft(&out);
    assert!(
        err.contains("old OS's rpm database") && err.contains("rg-tool-5.0-1.x86_64"),
        "{err}"
    );
    let got = unpack_in(&format!("{}:g", out.display()), &t.path().join("unpacked"));
    let g = got.display().to_string();
    let rpm = |args: &[&str]| {
        let mut a = vec!["--root", &g, "--dbpath", "/var/lib/rpm"];
        a.extend(args);
        tool_ok("rpm", &a)
    };
    let mut qa: Vec<String> = rpm(&["-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}\n"])
        .lines()
        .map(str::to_string)
        .collect();
    qa.sort();
    assert_eq!(qa, ["rg-base-1.0-1", "rg-libfoo-1.2.10-1", "rg-tool-5.0-1"]);
    assert_eq!(
        rpm(&["-qf", "/opt/app/bin/rg-tool"]).trim(),
        "rg-tool-5.0-1.x86_64"
    );
    assert_eq!(
        rpm(&["-q", "--whatprovides", "rg-tool(x86-64)"]).trim(),
        "rg-tool-5.0-1.x86_64"
    );
    assert_eq!(
        rpm(&["-q", "rg-libfoo"]).trim(),
        "rg-libfoo-1.2.10-1.x86_64"
    );
    rpm(&["-V", "--nodeps", "rg-tool"]);
    let check = tool_ok(
        "python3",
        &[
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])",
            got.join("var/lib/rpm/rpmdb.sqlite").to_str().unwrap(),
        ],
    );
    assert_eq!(check.trim(), "ok");
    let mut ours: Vec<String> = packages(&format!("oci:{}:g", out.display()))["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}-{}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            )
        })
        .collect();
    ours.sort();
    let mut evr: Vec<String> = rpm(&[
        "-qa",
        "--qf",
        "%{NAME}-%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n",
    ])
    .lines()
    .map(str::to_string)
    .collect();
    evr.sort();
    assert_eq!(ours, evr);
    let (_, again) = graft(&t.path().join("again.oci"));
    assert_eq!(again, digest, "the same graft twice");
}
