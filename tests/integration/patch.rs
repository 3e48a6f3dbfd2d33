//! `regraft patch` (issue 22) against real Debian packages: today's bookworm security updates of
//! debian-old's libraries (fixtures/build-patch.sh, `apt-get download`), applied offline and
//! compared file for file with what `apt-get install --only-upgrade` does in a chroot of the same
//! image; dpkg itself (`--audit`, `--verify`, `dpkg-query`) judges the result. Packages built
//! here with `dpkg-deb` cover the rules one by one on a vendor image Docker built
//! (fixtures/build-docker.sh: vendor-patchdemo:1), with dpkg in Docker as the oracle.

use crate::common::*;
use crate::docker::{built, d_run, docker};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn patch_dir(sub: &str) -> String {
    let dir = root().join("fixtures/real/patch");
    assert!(
        dir.join(".complete").exists(),
        "{} is missing: run `bash fixtures/build-patch.sh` (tests/run.sh does)",
        dir.display()
    );
    dir.join(sub).display().to_string()
}

/// NAME OLD NEW of each package the fixture repositories update.
fn fixture_updates() -> Vec<(String, String, String)> {
    std::fs::read_to_string(patch_dir("packages.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].to_string(), w[1].to_string(), w[2].to_string())
        })
        .collect()
}

fn patch_json(args: &[&str]) -> Value {
    let mut a = vec!["patch"];
    a.extend(args);
    a.push("--json");
    serde_json::from_str(&regraft_ok(&a)).unwrap()
}

/// dpkg's own view of a root: `--audit` and `--verify` say nothing, and the versions.
fn dpkg_clean(rootfs: &Path, names: &[&str]) -> Vec<String> {
    for check in [&["dpkg", "--audit"][..], &["dpkg", "--verify"]] {
        let o = chroot_run(rootfs, check);
        assert!(
            o.status.success() && o.stdout.is_empty(),
            "{check:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let mut q = vec!["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"];
    q.extend(names);
    let o = chroot_run(rootfs, &q);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Paths apt and dpkg change as tools, not as package contents (logs, caches, backups, locks,
/// the local repository and its source line), and what apt in a chroot leaves behind.
const APT_NOISE: &[&str] = &[
    "repo",
    "proc",
    "dev",
    "var/log",
    "var/cache/apt",
    "var/cache/ldconfig",
    "var/cache/debconf",
    "var/lib/apt",
    "etc/apt/sources.list",
    "etc/apt/sources.list.d",
    "var/lib/dpkg/status-old",
    "var/lib/dpkg/available",
    "var/lib/dpkg/lock",
    "var/lib/dpkg/lock-frontend",
    "var/lib/dpkg/triggers/Lock",
];

fn without_noise(
    t: std::collections::BTreeMap<String, Attrs>,
) -> std::collections::BTreeMap<String, Attrs> {
    t.into_iter()
        .filter(|(k, _)| {
            !APT_NOISE
                .iter()
                .any(|n| k == n || k.starts_with(&format!("{n}/")))
        })
        .map(|(k, mut v)| {
            // mtimes aside: dpkg stamps what it writes with the time it runs.
            v.mtime = 0;
            (k, v)
        })
        .collect()
}

#[test]
fn security_updates_match_apt_get_only_upgrade_and_dpkg_is_clean() {
    let t = tmp();
    let updates = fixture_updates();
    let names: Vec<&str> = updates.iter().map(|u| u.0.as_str()).collect();
    // The three forms of repository give the same image, byte for byte.
    let mut digests = Vec::new();
    for form in ["flat", "apt", "debs"] {
        let out = t.path().join(format!("{form}.tar")).display().to_string();
        let df = t.path().join(format!("{form}.digest"));
        let doc = patch_json(&[
            &real("debian-old.tar"),
            "--repo",
            &patch_dir(form),
            "--all",
            "-o",
            &out,
            "--digestfile",
            &df.display().to_string(),
        ]);
        let got: Vec<(String, String, String)> = doc["updates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                let s = |k: &str| u[k].as_str().unwrap().to_string();
                (s("package"), s("from"), s("to"))
            })
            .collect();
        assert_eq!(got, updates, "{form}: {doc:#}");
        digests.push(std::fs::read_to_string(df).unwrap());
    }
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
    let notes = patch_json(&[
        &real("debian-old.tar"),
        "--repo",
        &patch_dir("apt"),
        "--all",
        "--dry-run",
    ]);
    let said = notes["repositories"][0].as_str().unwrap();
    assert!(
        said.contains("checked against") && said.contains("Release"),
        "{said}"
    );

    // Unpacked by skopeo and umoci (which verify every digest), dpkg finds nothing wrong, the
    // versions are the new ones, and programs linking the libraries run.
    std::fs::create_dir_all(t.path().join("ours")).unwrap();
    std::fs::create_dir_all(t.path().join("theirs")).unwrap();
    let ours = unpack(
        &format!("docker-archive:{}", t.path().join("flat.tar").display()),
        &t.path().join("ours"),
    );
    let versions = dpkg_clean(&ours, &names);
    let want: Vec<String> = updates.iter().map(|u| format!("{} {}", u.0, u.2)).collect();
    let mut sorted = want.clone();
    sorted.sort();
    assert_eq!(versions, sorted);
    let o = chroot_run(&ours, &["apt-get", "--version"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // apt's route on the same image: the same files, modes, owners and contents.
    let theirs = unpack(
        &format!("docker-archive:{}", real("debian-old.tar")),
        &t.path().join("theirs"),
    );
    let repo = theirs.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    for e in std::fs::read_dir(patch_dir("flat")).unwrap() {
        let e = e.unwrap().path();
        std::fs::copy(&e, repo.join(e.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        theirs.join("etc/apt/sources.list"),
        "deb [trusted=yes] file:/repo ./\n",
    )
    .unwrap();
    for e in std::fs::read_dir(theirs.join("etc/apt/sources.list.d")).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    let o = chroot_run(&theirs, &["apt-get", "update", "-qq"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut install = vec!["apt-get", "install", "-y", "-qq", "--only-upgrade"];
    install.extend(&names);
    let o = chroot_run(&theirs, &install);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(dpkg_clean(&theirs, &names), sorted);
    assert_trees_eq(
        &without_noise(tree(&theirs, false)),
        &without_noise(tree(&ours, false)),
        "apt-get --only-upgrade vs regraft patch",
    );
}

/// vendor-real's Trivy report with one finding on a package the fixture repositories update
/// (zlib1g where they do), fixed in their version: (report, package, fixed version).
fn one_finding_report(dir: &Path) -> (PathBuf, String, String) {
    let (name, old, new) = fixture_updates()
        .into_iter()
        .find(|u| u.0 == "zlib1g")
        .unwrap_or_else(|| fixture_updates()[0].clone());
    // vendor-real's Trivy report, its one finding on NAME given the fixed version.
    let mut rep: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("reports/trivy-vendor-real.json")).unwrap(),
    )
    .unwrap();
    for r in rep["Results"].as_array_mut().unwrap() {
        let os = r["Class"] == "os-pkgs";
        let Some(vs) = r["Vulnerabilities"].as_array_mut() else {
            continue;
        };
        vs.retain(|v| v["PkgName"] != name);
        if os {
            vs.push(serde_json::json!({
                "VulnerabilityID": "CVE-2099-0001",
                "PkgName": name,
                "InstalledVersion": old,
                "FixedVersion": new,
                "Severity": "HIGH",
            }));
        }
    }
    let report = dir.join("trivy.json");
    std::fs::write(&report, serde_json::to_vec(&rep).unwrap()).unwrap();
    (report, name, new)
}

#[test]
fn a_scanner_report_picks_the_lowest_fixing_version_and_a_report_about_another_image_is_refused() {
    let t = tmp();
    let (report, name, new) = one_finding_report(t.path());
    let doc = patch_json(&[
        &real("vendor-real.tar"),
        "--repo",
        &patch_dir("apt"),
        "--report",
        &report.display().to_string(),
        "--dry-run",
    ]);
    let u = doc["updates"].as_array().unwrap();
    assert_eq!(u.len(), 1, "{doc:#}");
    assert_eq!(
        (u[0]["package"].as_str(), u[0]["to"].as_str()),
        (Some(name.as_str()), Some(new.as_str()))
    );
    assert!(u[0]["why"].as_str().unwrap().contains("CVE-2099-0001"));
    let out = t.path().join("x.tar");
    let err = regraft_fails(
        &[
            "patch",
            &real("debian-old.tar"),
            "--repo",
            &patch_dir("apt"),
            "--report",
            &report.display().to_string(),
            "-o",
            &out.display().to_string(),
        ],
        1,
    );
    assert!(err.contains("not about"), "{err}");
    assert!(!out.exists());
}

#[test]
fn only_security_takes_fixes_from_security_suites_alone() {
    let t = tmp();
    let (report, name, new) = one_finding_report(t.path());
    let report = report.display().to_string();
    let plan = |repo: &str| {
        patch_json(&[
            &real("vendor-real.tar"),
            "--repo",
            repo,
            "--report",
            &report,
            "--only-security",
            "--dry-run",
        ])
    };
    // The fixture repository's Release says Suite: stable: nothing from it counts.
    let doc = plan(&patch_dir("apt"));
    assert_eq!(doc["updates"], serde_json::json!([]), "{doc:#}");
    let unfixed: Vec<&str> = doc["unfixed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u.as_str())
        .filter(|u| u.starts_with(&format!("{name} ")))
        .collect();
    assert!(
        unfixed.len() == 1 && unfixed[0].contains("from no security suite (--only-security)"),
        "{doc:#}"
    );
    // The same packages under a Release that says Suite: bookworm-security (Label:
    // Debian-Security), as Debian's security archive does.
    let sec = t.path().join("sec");
    copy_tree(Path::new(&patch_dir("apt")), &sec);
    let sh = format!(
        "cd {} && apt-ftparchive -o APT::FTPArchive::Release::Suite=bookworm-security \
         -o APT::FTPArchive::Release::Label=Debian-Security release dists/stable > R && mv R dists/stable/Release",
        sec.display()
    );
    tool_ok("sh", &["-c", &sh]);
    let doc = plan(&sec.display().to_string());
    let u = doc["updates"].as_array().unwrap();
    assert_eq!(u.len(), 1, "{doc:#}");
    assert_eq!(u[0]["to"].as_str(), Some(new.as_str()));
    assert!(
        doc["repositories"][0]
            .as_str()
            .unwrap()
            .ends_with("a security suite"),
        "{doc:#}"
    );
    // --only-security needs a report.
    let err = regraft_fails(
        &[
            "patch",
            &real("vendor-real.tar"),
            "--repo",
            &patch_dir("apt"),
            "--all",
            "--only-security",
            "--dry-run",
        ],
        2,
    );
    assert!(err.contains("--report"), "{err}");
}

/// Copies a directory tree (the repositories, to be damaged).
fn copy_tree(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .args(["-a", &from.display().to_string(), &to.display().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn a_repository_that_lies_is_refused_naming_the_file_and_nothing_is_written() {
    let t = tmp();
    let out = t.path().join("out.tar");
    let run = |repo: &Path| {
        regraft_fails(
            &[
                "patch",
                &real("debian-old.tar"),
                "--repo",
                &repo.display().to_string(),
                "--all",
                "-o",
                &out.display().to_string(),
            ],
            1,
        )
    };
    // An index whose bytes differ from what Release says.
    let apt = t.path().join("apt");
    copy_tree(Path::new(&patch_dir("apt")), &apt);
    let idx = apt.join("dists/stable/main/binary-amd64/Packages.gz");
    let mut b = std::fs::read(&idx).unwrap();
    let n = b.len();
    b[n - 5] ^= 0xff;
    std::fs::write(&idx, b).unwrap();
    let err = run(&apt);
    assert!(
        err.contains("Packages.gz: checksum mismatch") && err.contains("Release says"),
        "{err}"
    );
    assert!(!out.exists());
    // A .deb whose bytes differ from what its index says.
    let flat = t.path().join("flat");
    copy_tree(Path::new(&patch_dir("flat")), &flat);
    let deb: PathBuf = std::fs::read_dir(&flat)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&deb).unwrap();
    std::io::Write::write_all(&mut f, b"x").unwrap();
    let err = run(&flat);
    assert!(
        err.contains("checksum mismatch")
            && err.contains(&deb.file_name().unwrap().to_string_lossy().to_string()),
        "{err}"
    );
    assert!(!out.exists());
}

/// Builds the demo packages of fixtures/src/patch with dpkg-deb into a repository directory
/// holding exactly `names`.
pub fn demo_repo(dir: &Path, names: &[&str]) -> String {
    std::fs::create_dir_all(dir).unwrap();
    for n in names {
        let src = root().join("fixtures/src/patch").join(n);
        tool_ok(
            "dpkg-deb",
            &[
                "--root-owner-group",
                "--build",
                &src.display().to_string(),
                &dir.join(format!("{n}.deb")).display().to_string(),
            ],
        );
    }
    dir.display().to_string()
}

#[test]
fn a_vendor_package_update_keeps_a_changed_conffile_drops_a_file_pulls_a_dependency_as_dpkg_does() {
    let Some(d) = docker(
        "a_vendor_package_update_keeps_a_changed_conffile_drops_a_file_pulls_a_dependency_as_dpkg_does",
    ) else {
        return;
    };
    let t = tmp();
    let repo = demo_repo(
        &t.path().join("r1"),
        &["regraft-demo-1.1", "regraft-demo-data-1.1"],
    );
    let out = t.path().join("p.tar").display().to_string();
    let doc = patch_json(&[
        &built("patchdemo.tar"),
        "--repo",
        &repo,
        "--package",
        "regraft-demo",
        "--tag",
        "regraft-test/patched:1",
        "-o",
        &out,
    ]);
    let u = doc["updates"].as_array().unwrap();
    let pkgs: Vec<&str> = u.iter().map(|u| u["package"].as_str().unwrap()).collect();
    assert_eq!(pkgs, ["regraft-demo", "regraft-demo-data"], "{doc:#}");
    assert!(
        u[1]["why"]
            .as_str()
            .unwrap()
            .contains("Depends regraft-demo-data (>= 1.1)"),
        "{doc:#}"
    );
    let a = &doc["applied"][0];
    assert_eq!(
        a["removed"],
        serde_json::json!(["/usr/share/regraft-demo/old.txt"]),
        "{doc:#}"
    );
    assert!(
        a["conffiles_kept"][0]
            .as_str()
            .unwrap()
            .contains(".dpkg-dist"),
        "{doc:#}"
    );

    // dpkg's own route in Docker, on the vendor's image with the same packages, and ours:
    // the same database entries, file lists and conffile outcome.
    let show = "cat /var/lib/dpkg/status /var/lib/dpkg/info/regraft-demo.list /var/lib/dpkg/info/regraft-demo.md5sums /var/lib/dpkg/info/regraft-demo.conffiles; \
                ls /etc/regraft-demo.conf* /usr/share/regraft-demo; cat /etc/regraft-demo.conf /etc/regraft-demo.conf.dpkg-dist; dpkg --audit; regraft-demo";
    assert_eq!(d.load(&built("patchdemo.tar")), "vendor-patchdemo:1");
    let dpkg_route = format!(
        "dpkg --force-confold -i /repo/regraft-demo-data-1.1.deb /repo/regraft-demo-1.1.deb >/dev/null 2>&1 && {show}"
    );
    let mount = format!("{repo}:/repo:ro");
    let (ok, theirs) = d_run(
        &d,
        &[
            "-v",
            &mount,
            "--entrypoint",
            "sh",
            "vendor-patchdemo:1",
            "-c",
            &dpkg_route,
        ],
    );
    assert!(ok, "{theirs}");
    assert_eq!(d.load(&out), "regraft-test/patched:1");
    let (ok, ours) = d_run(
        &d,
        &["--entrypoint", "sh", "regraft-test/patched:1", "-c", show],
    );
    assert!(ok, "{ours}");
    assert_eq!(ours, theirs);
    assert!(
        ours.contains("regraft-demo 1.1: hello") && ours.contains("color=green"),
        "{ours}"
    );
}

#[test]
fn maintainer_scripts_and_unmet_dependencies_are_refused_by_name() {
    let t = tmp();
    let out = t.path().join("p.tar");
    let o = out.display().to_string();
    let image = built("patchdemo.tar");
    let case = |n: &str, extra: &[&str]| {
        // Each with the data package its Depends names (1.4 names one no repository has).
        let repo = demo_repo(&t.path().join(n), &[n, "regraft-demo-data-1.1"]);
        let mut a = vec![
            "patch",
            image.as_str(),
            "--repo",
            repo.as_str(),
            "--package",
            "regraft-demo",
            "-o",
            o.as_str(),
        ];
        a.extend(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let post = case("regraft-demo-1.2", &[]);
    let err = regraft_fails(&args(&post), 1);
    assert!(
        err.contains("regraft-demo: 1.2 postinst")
            && err.contains("--accept maintainer-script:PACKAGE"),
        "{err}"
    );
    assert!(!out.exists());
    let mut accepted = post.clone();
    accepted.extend([
        "--accept".to_string(),
        "maintainer-script:regraft-demo".to_string(),
        "--json".to_string(),
    ]);
    let doc: Value = serde_json::from_str(&regraft_ok(&args(&accepted))).unwrap();
    assert_eq!(doc["accepted_scripts"][0][1], "1.2 postinst", "{doc:#}");
    assert!(out.exists());
    std::fs::remove_file(&out).unwrap();
    let err = regraft_fails(&args(&case("regraft-demo-1.4", &[])), 1);
    assert!(
        err.contains("no-such-package (>= 2)") && err.contains("(not installed)"),
        "{err}"
    );
    assert!(!out.exists());
    // A dry run prints the plan and writes nothing.
    let mut dry = case(
        "regraft-demo-1.2",
        &["--dry-run", "--accept", "maintainer-script:regraft-demo"],
    );
    dry.retain(|a| a != "-o" && a != &o);
    let said = regraft_ok(&args(&dry));
    assert!(said.contains("regraft-demo 1.0 -> 1.2"), "{said}");
    assert!(!out.exists());
}

/// Builds demo package `version` (fixtures/src/patch/regraft-demo-VERSION) with
/// libregraftdemo.so.SOVERSION.0 compiled into /opt/regraft-demo/lib (which only the package's
/// /etc/ld.so.conf.d file names), with `links` its soname link and `.so` link, and
/// /usr/bin/regraft-demo-lib linking it, into a repository beside the data package it depends on.
fn lib_repo(dir: &Path, version: &str, soversion: u32, links: bool) -> String {
    let src = root().join("fixtures/src/patch");
    let pkg = dir.join(format!("pkg-{version}"));
    copy_tree(&src.join(format!("regraft-demo-{version}")), &pkg);
    let lib = pkg.join("opt/regraft-demo/lib");
    std::fs::create_dir_all(&lib).unwrap();
    let file = lib.join(format!("libregraftdemo.so.{soversion}.0"));
    tool_ok(
        "gcc",
        &[
            "-shared",
            "-fPIC",
            &format!("-DSOVERSION={soversion}"),
            &format!("-Wl,-soname,libregraftdemo.so.{soversion}"),
            "-o",
            &file.display().to_string(),
            &src.join("lib/libregraftdemo.c").display().to_string(),
        ],
    );
    if links {
        std::os::unix::fs::symlink(
            format!("libregraftdemo.so.{soversion}.0"),
            lib.join(format!("libregraftdemo.so.{soversion}")),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            format!("libregraftdemo.so.{soversion}"),
            lib.join("libregraftdemo.so"),
        )
        .unwrap();
    }
    tool_ok(
        "gcc",
        &[
            "-o",
            &pkg.join("usr/bin/regraft-demo-lib").display().to_string(),
            &src.join("lib/regraft-demo-lib.c").display().to_string(),
            &file.display().to_string(),
        ],
    );
    let repo = dir.join(format!("repo-{version}"));
    demo_repo(&repo, &["regraft-demo-data-1.1"]);
    tool_ok(
        "dpkg-deb",
        &[
            "--root-owner-group",
            "--build",
            &pkg.display().to_string(),
            &repo.join("demo.deb").display().to_string(),
        ],
    );
    repo.display().to_string()
}

/// The image's own ldconfig, in a chroot of the unpacked result, is the oracle: `ldconfig -X`
/// (no links touched) and then a full `ldconfig` write the very bytes regraft wrote.
fn ldconfig_agrees(rootfs: &Path) -> String {
    let ours = std::fs::read(rootfs.join("etc/ld.so.cache")).unwrap();
    for args in [&["/sbin/ldconfig", "-X"][..], &["/sbin/ldconfig"]] {
        let o = chroot_run(rootfs, args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let theirs = std::fs::read(rootfs.join("etc/ld.so.cache")).unwrap();
        assert!(ours == theirs, "{args:?} wrote another /etc/ld.so.cache");
    }
    let o = chroot_run(rootfs, &["/sbin/ldconfig", "-p"]);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_new_soname_and_a_removed_one_rewrite_ld_so_cache_as_the_images_ldconfig_does() {
    let t = tmp();
    let v1 = lib_repo(t.path(), "1.3", 1, true);
    // v2 ships no soname link: ldconfig makes it, and so does regraft.
    let v2 = lib_repo(t.path(), "1.5", 2, false);
    let p1 = t.path().join("p1.tar").display().to_string();
    let p2 = t.path().join("p2.tar").display().to_string();
    // 1.0 -> 1.3 adds libregraftdemo.so.1; 1.3 -> 1.5 removes it and adds .so.2.
    for (from, repo, out, soversion) in [
        (built("patchdemo.tar"), &v1, &p1, 1),
        (p1.clone(), &v2, &p2, 2),
    ] {
        let doc = patch_json(&[
            &from,
            "--repo",
            repo,
            "--package",
            "regraft-demo",
            "-o",
            out,
        ]);
        let said = doc["ld_so_cache"].as_str().unwrap_or_default();
        assert!(
            said.contains("/etc/ld.so.cache rewritten") && said.contains("/opt/regraft-demo/lib"),
            "{doc:#}"
        );
        let u = t.path().join(format!("u{soversion}"));
        std::fs::create_dir_all(&u).unwrap();
        let rootfs = unpack(&format!("docker-archive:{out}"), &u);
        let made = "soname links made as ldconfig makes them: /opt/regraft-demo/lib/libregraftdemo.so.2 -> libregraftdemo.so.2.0";
        assert_eq!(said.contains(made), soversion == 2, "{said}");
        let soname_link = rootfs.join(format!(
            "opt/regraft-demo/lib/libregraftdemo.so.{soversion}"
        ));
        assert_eq!(
            std::fs::read_link(&soname_link).unwrap(),
            Path::new(&format!("libregraftdemo.so.{soversion}.0"))
        );
        let listing = ldconfig_agrees(&rootfs);
        // ldconfig left the link as regraft made it.
        assert_eq!(
            std::fs::read_link(&soname_link).unwrap(),
            Path::new(&format!("libregraftdemo.so.{soversion}.0"))
        );
        let want = format!(
            "libregraftdemo.so.{soversion} (libc6,x86-64) => /opt/regraft-demo/lib/libregraftdemo.so.{soversion}"
        );
        assert!(listing.contains(&want), "{listing}");
        let gone = format!("libregraftdemo.so.{} ", 3 - soversion);
        assert!(!listing.contains(&gone), "{listing}");
        // The program finds its library through the cache alone (no trusted directory has it).
        let o = chroot_run(&rootfs, &["/usr/bin/regraft-demo-lib"]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!("libregraftdemo {soversion}: hello\n"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Byte-identical output for the same inputs.
    let again = t.path().join("again.tar").display().to_string();
    patch_json(&[
        &p1,
        "--repo",
        &v2,
        "--package",
        "regraft-demo",
        "-o",
        &again,
    ]);
    assert_eq!(sha256_file(Path::new(&again)), sha256_file(Path::new(&p2)));
}

/// An apt repository of `debs` (apt-ftparchive), its Release signed (InRelease and
/// Release.gpg) by a throwaway key made in `gnupghome`; returns the repository and the key
/// exported as a binary keyring.
fn signed_repo(dir: &Path, debs: &str, gnupghome: &Path) -> (PathBuf, PathBuf) {
    let gpg = |args: &[&str]| {
        let o = Command::new("gpg")
            .env("GNUPGHOME", gnupghome)
            .args(["--batch", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    std::fs::create_dir_all(dir).unwrap();
    std::fs::create_dir_all(gnupghome).unwrap();
    std::fs::set_permissions(
        gnupghome,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    gpg(&[
        "--quick-gen-key",
        "regraft test <t@regraft.invalid>",
        "ed25519",
        "sign",
        "never",
    ]);
    let keyring = dir.join(format!(
        "{}.gpg",
        gnupghome.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&keyring, gpg(&["--export"])).unwrap();
    let repo = dir.join("apt");
    let suite = repo.join("dists/stable");
    std::fs::create_dir_all(suite.join("main/binary-amd64")).unwrap();
    copy_tree(Path::new(debs), &repo.join("pool"));
    let sh = format!(
        "cd {} && apt-ftparchive packages pool | gzip -9n > dists/stable/main/binary-amd64/Packages.gz \
         && apt-ftparchive -o APT::FTPArchive::Release::Suite=stable release dists/stable > dists/stable/Release.new \
         && mv dists/stable/Release.new dists/stable/Release",
        repo.display()
    );
    tool_ok("sh", &["-c", &sh]);
    let release = suite.join("Release").display().to_string();
    let inrelease = suite.join("InRelease").display().to_string();
    let detached = suite.join("Release.gpg").display().to_string();
    gpg(&["--clearsign", "-o", &inrelease, &release]);
    gpg(&["-abs", "-o", &detached, &release]);
    (repo, keyring)
}

#[test]
fn a_signed_repository_is_verified_by_gpgv_and_a_tampered_release_is_refused() {
    let t = tmp();
    let debs = demo_repo(
        &t.path().join("debs"),
        &["regraft-demo-1.1", "regraft-demo-data-1.1"],
    );
    let (repo, keyring) = signed_repo(t.path(), &debs, &t.path().join("gnupg"));
    let (repo, keyring) = (repo.display().to_string(), keyring.display().to_string());
    let image = built("patchdemo.tar");
    let out = t.path().join("p.tar");
    let o = out.display().to_string();
    let run = |extra: &[&str]| {
        let mut a = vec![
            "patch",
            image.as_str(),
            "--repo",
            repo.as_str(),
            "--package",
            "regraft-demo",
            "-o",
            o.as_str(),
        ];
        a.extend(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let doc: Value =
        serde_json::from_str(&regraft_ok(&args(&run(&["--keyring", &keyring, "--json"])))).unwrap();
    let note = doc["repositories"][0].as_str().unwrap();
    assert!(
        note.contains("InRelease") && note.contains("verified by gpgv against"),
        "{note}"
    );
    assert_eq!(doc["updates"][0]["to"], "1.1", "{doc:#}");
    std::fs::remove_file(&out).unwrap();
    // Without --keyring, the summary says plainly that nothing was verified.
    let doc: Value = serde_json::from_str(&regraft_ok(&args(&run(&["--json"])))).unwrap();
    assert!(
        doc["repositories"][0]
            .as_str()
            .unwrap()
            .contains("signatures not verified"),
        "{doc:#}"
    );
    std::fs::remove_file(&out).unwrap();
    // Another key's keyring: refused, nothing written.
    let (_, other) = signed_repo(&t.path().join("other"), &debs, &t.path().join("gnupg2"));
    let err = regraft_fails(&args(&run(&["--keyring", &other.display().to_string()])), 1);
    assert!(
        err.contains("dists/stable/InRelease") && err.contains("does not verify"),
        "{err}"
    );
    assert!(!out.exists());
    // A tampered InRelease (a checksum changed inside the signed text): refused by name.
    let suite = Path::new(&repo).join("dists/stable");
    let inrelease = std::fs::read_to_string(suite.join("InRelease")).unwrap();
    let sha = inrelease.find("SHA256:").unwrap();
    let mut tampered = inrelease.clone();
    let at = sha + inrelease[sha..].find("\n ").unwrap() + 2;
    let c = if &tampered[at..at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    tampered.replace_range(at..at + 1, c);
    std::fs::write(suite.join("InRelease"), &tampered).unwrap();
    let err = regraft_fails(&args(&run(&["--keyring", &keyring])), 1);
    assert!(
        err.contains("dists/stable/InRelease") && err.contains("BADSIG"),
        "{err}"
    );
    assert!(!out.exists());
    // Release + Release.gpg: verified; a tampered Release refused, naming it.
    std::fs::remove_file(suite.join("InRelease")).unwrap();
    let doc: Value =
        serde_json::from_str(&regraft_ok(&args(&run(&["--keyring", &keyring, "--json"])))).unwrap();
    assert!(
        doc["repositories"][0]
            .as_str()
            .unwrap()
            .contains("(Release.gpg) verified by gpgv"),
        "{doc:#}"
    );
    std::fs::remove_file(&out).unwrap();
    let release = std::fs::read_to_string(suite.join("Release")).unwrap();
    std::fs::write(
        suite.join("Release"),
        release.replace("Suite: stable", "Suite: stablf"),
    )
    .unwrap();
    let err = regraft_fails(&args(&run(&["--keyring", &keyring])), 1);
    assert!(
        err.contains("dists/stable/Release (signature") && err.contains("does not verify"),
        "{err}"
    );
    assert!(!out.exists());
    // With --keyring, a repository that cannot be verified is refused.
    let mut unsigned = run(&["--keyring", &keyring]);
    unsigned[3] = debs.clone();
    let err = regraft_fails(&args(&unsigned), 1);
    assert!(
        err.contains("--keyring asks for signed repositories"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn a_postinst_that_only_registers_an_alternative_is_done_as_update_alternatives_does() {
    let t = tmp();
    let repo = demo_repo(
        &t.path().join("r"),
        &["regraft-demo-1.6", "regraft-demo-data-1.1"],
    );
    let image = built("patchdemo.tar");
    let ours = t.path().join("ours.tar").display().to_string();
    let theirs = t.path().join("theirs.tar").display().to_string();
    let base = [
        "patch",
        image.as_str(),
        "--repo",
        repo.as_str(),
        "--package",
        "regraft-demo",
    ];
    let mut a = base.to_vec();
    a.extend(["--json", "-o", ours.as_str()]);
    let doc: Value = serde_json::from_str(&regraft_ok(&a)).unwrap();
    assert_eq!(doc["accepted_scripts"], serde_json::json!([]), "{doc:#}");
    assert!(
        doc["alternatives"][0]
            .as_str()
            .unwrap()
            .contains("update-alternatives --install /usr/bin/regraft-hello regraft-hello"),
        "{doc:#}"
    );
    // The oracle: the same update with the script accepted (not run), then the package's own
    // postinst run by the image's update-alternatives in a chroot.
    let mut a = base.to_vec();
    a.extend([
        "--accept",
        "maintainer-script:regraft-demo",
        "-q",
        "-o",
        theirs.as_str(),
    ]);
    regraft_ok(&a);
    let (o, th) = (t.path().join("o"), t.path().join("t"));
    std::fs::create_dir_all(&o).unwrap();
    std::fs::create_dir_all(&th).unwrap();
    let ours_root = unpack(&format!("docker-archive:{ours}"), &o);
    let theirs_root = unpack(&format!("docker-archive:{theirs}"), &th);
    let run = chroot_run(
        &theirs_root,
        &[
            "sh",
            "/var/lib/dpkg/info/regraft-demo.postinst",
            "configure",
        ],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // update-alternatives skipped the slave whose file the package does not ship.
    assert!(
        String::from_utf8_lossy(&run.stderr)
            .contains("skip creation of /usr/share/man/man1/regraft-hello.1.gz")
    );
    assert_trees_eq(
        &without_noise(tree(&theirs_root, false)),
        &without_noise(tree(&ours_root, false)),
        "update-alternatives in a chroot vs regraft patch",
    );
    let o = chroot_run(&ours_root, &["/usr/bin/regraft-hello"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("regraft-demo 1.1: hello"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_package_whose_data_escapes_with_dot_dot_is_refused() {
    let t = tmp();
    let dir = t.path().join("evil");
    std::fs::create_dir_all(&dir).unwrap();
    // Made by hand (dpkg-deb refuses to build it): control.tar.gz, then a data.tar with ../.
    let script = r#"
import io, sys, tarfile, gzip
def tar(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode='w', format=tarfile.GNU_FORMAT) as t:
        for name, data in entries:
            i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
    return b.getvalue()
control = gzip.compress(tar([('./control', b'Package: zlib1g\nVersion: 1:9.9\nArchitecture: amd64\nMaintainer: x\nDescription: x\n')]), mtime=0)
data = tar([('./../../etc/evil', b'x')])
members = [(b'debian-binary', b'2.0\n'), (b'control.tar.gz', control), (b'data.tar', data)]
out = b'!<arch>\n'
for n, d in members:
    h = n.ljust(16) + b'0'.ljust(12) + b'0'.ljust(6) + b'0'.ljust(6) + b'100644'.ljust(8) + str(len(d)).encode().ljust(10) + b'`\n'
    out += h + d + (b'\n' if len(d) % 2 else b'')
open(sys.argv[1], 'wb').write(out)
"#;
    tool_ok(
        "python3",
        &[
            "-c",
            script,
            &dir.join("zlib1g_9.9_amd64.deb").display().to_string(),
        ],
    );
    let out = t.path().join("p.tar");
    let err = regraft_fails(
        &[
            "patch",
            &real("debian-old.tar"),
            "--repo",
            &dir.display().to_string(),
            "--package",
            "zlib1g",
            "-o",
            &out.display().to_string(),
        ],
        1,
    );
    assert!(
        err.contains("zlib1g_9.9_amd64.deb") && err.contains(".."),
        "{err}"
    );
    assert!(!out.exists());
}

/// The will-it-run check of the patched image: a package whose program needs a newer glibc
/// than the image has (trixie's `ls`, GLIBC_2.38, on bookworm's 2.36) is refused with exit 3
/// and nothing written; `--force` writes it, and chroot shows the loader refusing it, as the
/// check said. A clean patch says the check passed.
#[test]
fn the_patched_image_is_checked_and_a_program_for_a_newer_glibc_is_refused() {
    let t = tmp();
    let src = t.path().join("pkg");
    copy_tree(&root().join("fixtures/src/patch/regraft-demo-1.1"), &src);
    let control = src.join("DEBIAN/control");
    let c = std::fs::read_to_string(&control)
        .unwrap()
        .replace("Version: 1.1", "Version: 1.5");
    std::fs::write(&control, c).unwrap();
    regraft_ok(&[
        "cp",
        &format!("{}:/usr/bin/ls", real("debian-new.tar")),
        &src.join("usr/bin/regraft-demo-ls").display().to_string(),
    ]);
    let repo = t.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    tool_ok(
        "dpkg-deb",
        &[
            "--root-owner-group",
            "--build",
            &src.display().to_string(),
            &repo.join("demo.deb").display().to_string(),
        ],
    );
    demo_repo(&repo, &["regraft-demo-data-1.1"]);
    std::fs::create_dir_all(t.path().join("u")).unwrap();
    let out = t.path().join("p.tar");
    let args = [
        "patch",
        &built("patchdemo.tar"),
        "--repo",
        &repo.display().to_string(),
        "--package",
        "regraft-demo",
        "-o",
        &out.display().to_string(),
    ];
    let o = regraft(&[&args[..], &["--json"]].concat());
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = doc["check"]["findings"].as_array().unwrap();
    assert!(
        f.iter()
            .any(|f| f["check"] == "missing-symbol-version"
                && f["path"] == "/usr/bin/regraft-demo-ls"),
        "{doc:#}"
    );
    assert!(!out.exists());
    regraft_ok(&[&args[..], &["--force"]].concat());
    let rootfs = unpack(
        &format!("docker-archive:{}", out.display()),
        &t.path().join("u"),
    );
    let o = chroot_run(&rootfs, &["/usr/bin/regraft-demo-ls", "/"]);
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("GLIBC_2.38"),
        "{o:?}"
    );
    // A clean patch: the check passed.
    let o = regraft(&[
        "patch",
        &real("debian-old.tar"),
        "--repo",
        &patch_dir("flat"),
        "--all",
        "--dry-run",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("check passed (0 warning(s)): the patch layer"),
        "{o:?}"
    );
}

/// Builds a .deb by hand (python3: tarfile, lzma, an ar archive), as no Debian tool would:
/// `control` is the control file; `extra_control` more control members; `data` tar entries
/// (name, kind 'f' file / 'h' hardlink, content or link target); `bomb` a control.tar.xz of
/// that many zero bytes instead.
fn hand_deb(
    path: &Path,
    control: &str,
    extra_control: &[(&str, &str)],
    data: &[(&str, char, &str)],
    bomb: u64,
) {
    let spec = serde_json::json!({
        "control": control,
        "extra": extra_control,
        "data": data.iter().map(|(n, k, c)| serde_json::json!([n, k.to_string(), c])).collect::<Vec<_>>(),
        "bomb": bomb,
    });
    let script = r#"
import io, json, lzma, sys, tarfile
spec = json.loads(sys.argv[2])
def tar(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode='w', format=tarfile.GNU_FORMAT) as t:
        for name, kind, data in entries:
            i = tarfile.TarInfo(name)
            if kind == 'h':
                i.type = tarfile.LNKTYPE; i.linkname = data; t.addfile(i)
            else:
                d = data.encode(); i.size = len(d); i.mode = 0o644; t.addfile(i, io.BytesIO(d))
    return b.getvalue()
if spec['bomb']:
    c = lzma.LZMACompressor(format=lzma.FORMAT_XZ)
    chunk = bytes(1 << 20); parts = []
    for _ in range(spec['bomb'] >> 20): parts.append(c.compress(chunk))
    parts.append(c.flush()); control = (b''.join(parts), 'control.tar.xz')
else:
    members = [('./control', 'f', spec['control'])] + [('./' + n, 'f', d) for n, d in spec['extra']]
    control = (lzma.compress(tar(members)), 'control.tar.xz')
data = (lzma.compress(tar(spec['data'])), 'data.tar.xz')
out = b'!<arch>\n'
for name, body in [('debian-binary', b'2.0\n'), (control[1], control[0]), (data[1], data[0])]:
    h = name.encode().ljust(16) + b'0'.ljust(12) + b'0'.ljust(6) + b'0'.ljust(6) + b'100644'.ljust(8) + str(len(body)).encode().ljust(10) + b'`\n'
    out += h + body + (b'\n' if len(body) % 2 else b'')
open(sys.argv[1], 'wb').write(out)
"#;
    tool_ok(
        "python3",
        &["-c", script, &path.display().to_string(), &spec.to_string()],
    );
}

const DEMO_CONTROL: &str =
    "Package: regraft-demo\nVersion: 1.9\nArchitecture: all\nMaintainer: t\nDescription: t\n";

#[test]
fn hostile_packages_a_bomb_a_forged_file_list_and_an_outside_hard_link_are_contained() {
    let t = tmp();
    let image = built("patchdemo.tar");
    let out = t.path().join("p.tar");
    let o = out.display().to_string();
    let run = |dir: &Path| {
        regraft(&[
            "patch",
            &image,
            "--repo",
            &dir.display().to_string(),
            "--package",
            "regraft-demo",
            "-o",
            &o,
        ])
    };
    // A control.tar.xz of 1 GiB of zeros (150 KiB on disk): refused in bounded memory.
    let bomb = t.path().join("bomb");
    std::fs::create_dir_all(&bomb).unwrap();
    hand_deb(&bomb.join("b.deb"), DEMO_CONTROL, &[], &[], 1 << 30);
    let b = regraft_bounded(
        &[
            "patch",
            &image,
            "--repo",
            &bomb.display().to_string(),
            "--package",
            "regraft-demo",
            "-o",
            &o,
        ],
        120.0,
    );
    assert_eq!(b.code, Some(1), "{}", b.stderr);
    assert!(b.stderr.contains("inflates to more than"), "{}", b.stderr);
    assert!(b.max_rss_mib < 512.0, "{} MiB", b.max_rss_mib);
    assert!(!out.exists());
    // A control member named `list` is not dpkg's file list.
    let forged = t.path().join("forged");
    std::fs::create_dir_all(&forged).unwrap();
    hand_deb(
        &forged.join("f.deb"),
        DEMO_CONTROL,
        &[("list", "/etc/passwd\n")],
        &[("./usr/share/regraft-demo/new.txt", 'f', "new\n")],
        0,
    );
    // (It drops the package's program: the check refuses that, --force writes it.)
    let r = regraft(&[
        "patch",
        &image,
        "--repo",
        &forged.display().to_string(),
        "--package",
        "regraft-demo",
        "--force",
        "-o",
        &o,
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let list = t.path().join("list");
    regraft_ok(&[
        "cp",
        &format!("{o}:/var/lib/dpkg/info/regraft-demo.list"),
        &list.display().to_string(),
    ]);
    let text = std::fs::read_to_string(&list).unwrap();
    assert!(
        !text.contains("/etc/passwd") && text.contains("/usr/share/regraft-demo/new.txt"),
        "{text}"
    );
    std::fs::remove_file(&out).unwrap();
    // A hard link to a file the package does not ship.
    let link = t.path().join("link");
    std::fs::create_dir_all(&link).unwrap();
    hand_deb(
        &link.join("l.deb"),
        DEMO_CONTROL,
        &[],
        &[("./usr/share/h", 'h', "etc/shadow")],
        0,
    );
    let r = run(&link);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && err.contains("hard link to /etc/shadow"),
        "{err}"
    );
    assert!(!out.exists());
}

/// An index of two platforms (fixtures/real/multi: Debian trixie for amd64 and arm64) is
/// patched platform by platform into one new index: each child is byte for byte the
/// single-platform patch of that platform, skopeo copies the whole index out with every digest
/// verified, each platform's dpkg database has the new version, and a docker archive (which
/// holds single images) is refused with nothing written.
#[test]
fn an_index_is_patched_platform_by_platform_into_one_index() {
    let t = tmp();
    let pkg = t.path().join("pkg");
    std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(pkg.join("usr/share/doc/usr-is-merged")).unwrap();
    std::fs::write(
        pkg.join("DEBIAN/control"),
        "Package: usr-is-merged\nVersion: 99\nArchitecture: all\nMaintainer: regraft tests <t@example.org>\nDescription: a newer usr-is-merged for the multi-platform patch test\n",
    )
    .unwrap();
    std::fs::write(
        pkg.join("usr/share/doc/usr-is-merged/regraft-multi"),
        "99\n",
    )
    .unwrap();
    let repo = t.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    tool_ok(
        "dpkg-deb",
        &[
            "--root-owner-group",
            "--build",
            pkg.to_str().unwrap(),
            repo.join("usr-is-merged_99_all.deb").to_str().unwrap(),
        ],
    );
    let base = format!("oci:{}:trixie", real("multi/base-new.oci"));
    let repo = repo.display().to_string();
    let out = t.path().join("out.oci");
    let o = regraft(&[
        "patch",
        &base,
        "--repo",
        &repo,
        "--package",
        "usr-is-merged",
        "-o",
        &format!("oci:{}:patched", out.display()),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("linux/amd64: ") && err.contains("linux/arm64: "),
        "{err}"
    );
    let raw: Value = serde_json::from_str(&tool_ok(
        "skopeo",
        &[
            "inspect",
            "--raw",
            &format!("oci:{}:patched", out.display()),
        ],
    ))
    .unwrap();
    let children = raw["manifests"].as_array().unwrap();
    assert_eq!(children.len(), 2, "{raw}");
    for (child, arch) in children.iter().zip(["amd64", "arm64"]) {
        assert_eq!(child["platform"]["architecture"], arch, "{raw}");
        // The same platform patched on its own gives the same manifest.
        let one = t.path().join(format!("one-{arch}.oci"));
        regraft_ok(&[
            "patch",
            &base,
            "--platform",
            &format!("linux/{arch}"),
            "--repo",
            &repo,
            "--package",
            "usr-is-merged",
            "-q",
            "-o",
            &format!("oci:{}:one", one.display()),
        ]);
        let single: Value =
            serde_json::from_slice(&std::fs::read(one.join("index.json")).unwrap()).unwrap();
        assert_eq!(child["digest"], single["manifests"][0]["digest"], "{arch}");
        let pk = regraft_ok(&[
            "packages",
            "--platform",
            &format!("linux/{arch}"),
            &format!("oci:{}:patched", out.display()),
        ]);
        assert!(
            pk.lines().any(|l| l.starts_with("usr-is-merged\t99\t")),
            "{arch}: {pk}"
        );
    }
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            "--all",
            &format!("oci:{}:patched", out.display()),
            &format!("dir:{}", t.path().join("copied").display()),
        ],
    );
    let refused = t.path().join("refused.tar");
    let e = regraft_fails(
        &[
            "patch",
            &base,
            "--repo",
            &repo,
            "--package",
            "usr-is-merged",
            "-o",
            &format!("docker-archive:{}", refused.display()),
        ],
        2,
    );
    assert!(e.contains("multi-platform"), "{e}");
    assert!(!refused.exists());
}
