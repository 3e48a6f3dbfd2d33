//! "Will it run?" (issue 4): the checks a graft runs before it writes, and `regraft check`, on
//! images built from real Debian packages by `fixtures/build-check.sh`. Every verdict is held
//! against what happens when the program runs under `chroot` in the unpacked result: an error
//! is written anyway with `--force` and the program must then fail; a clean result must run.

use crate::common::*;
use serde_json::Value;
use std::path::Path;

fn check_fixture(name: &str) -> String {
    real(&format!("check/{name}"))
}

fn oci(name: &str, tag: &str) -> String {
    format!("oci:{}:{tag}", check_fixture(name))
}

/// Runs a graft with `--json`; returns (exit code, the JSON document, stderr).
fn graft_json(args: &[&str]) -> (i32, Value, String) {
    let mut a = args.to_vec();
    a.push("--json");
    let o = regraft(&a);
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "regraft {a:?}: stdout is not JSON ({e}); stderr:\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (
        o.status.code().unwrap_or(-1),
        doc,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The findings of a graft's (or check's) document with this check name.
fn findings<'a>(doc: &'a Value, check: &str) -> Vec<&'a Value> {
    let f = doc
        .get("check")
        .unwrap_or(doc)
        .get("findings")
        .and_then(Value::as_array)
        .expect("a findings array");
    f.iter().filter(|x| x["check"] == check).collect()
}

fn errors(doc: &Value) -> u64 {
    doc.get("check").unwrap_or(doc)["errors"].as_u64().unwrap()
}

/// Grafts, expecting the check to fail: exit 3 and nothing written; then with `--force`: exit
/// 0, written. Returns the failing document and the unpacked forced result.
fn fails_then_forced(args: &[&str], out: &str, dir: &Path) -> (Value, std::path::PathBuf) {
    let (code, doc, err) = graft_json(args);
    assert_eq!(code, 3, "expected the check to fail; stderr:\n{err}");
    assert!(!Path::new(out).exists(), "a failed check wrote {out}");
    assert_eq!(doc["written"], false);
    assert!(err.contains("nothing written"), "{err}");
    let mut forced = args.to_vec();
    forced.push("--force");
    regraft_ok(&forced);
    assert!(Path::new(out).exists(), "--force did not write {out}");
    let root = unpack_in(&format!("docker-archive:{out}"), dir);
    (doc, root)
}

/// `unpack` into a directory that need not exist yet.
fn unpack_in(r: &str, dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    unpack(r, dir)
}

fn runs(root: &Path, argv: &[&str]) -> String {
    let o = chroot_run(root, argv);
    assert!(
        o.status.success(),
        "{argv:?} should run in the result: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(root: &Path, argv: &[&str]) -> String {
    let o = chroot_run(root, argv);
    assert!(
        !o.status.success(),
        "{argv:?} should fail in the result, but ran: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn glibc_program_onto_a_musl_only_base_writes_nothing_and_would_not_run() {
    let d = tmp();
    let out = d.path().join("out.tar").display().to_string();
    let base = oci("musl-base.oci", "musl");
    let (doc, root) = fails_then_forced(
        &[
            "--from",
            &real("vendor-real.tar"),
            "--onto",
            &base,
            "--path",
            "/opt/vendor",
            "-o",
            &out,
        ],
        &out,
        d.path(),
    );
    let m = findings(&doc, "libc-mismatch");
    assert_eq!(m.len(), 1, "{doc:#}");
    assert_eq!(m[0]["path"], "/opt/vendor/bin/dyn-app");
    assert!(m[0]["missing"].as_str().unwrap().contains("musl-only"));
    // The verdicts under chroot: the glibc program cannot start; the static one is fine, and so
    // is the base's own busybox.
    fails(&root, &["/opt/vendor/bin/app"]);
    assert_eq!(
        runs(&root, &["/opt/vendor/bin/static-app"]).trim(),
        "static-app ok"
    );
    runs(&root, &["/bin/sh", "-c", "true"]);
}

#[test]
fn musl_program_runs_on_its_musl_base_and_not_on_a_glibc_one() {
    // In its own image (regraft check, application above the musl base): clean, and it runs.
    let own = oci("vendor-musl.oci", "1.0");
    let o = regraft(&["check", &own, "--old-base-layers", "1", "--json"]);
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{doc:#}");
    assert_eq!(doc["findings"].as_array().unwrap().len(), 0, "{doc:#}");
    assert_eq!(doc["checked"]["elf_files"], 1);
    let d = tmp();
    let own_root = unpack_in(&own, &d.path().join("own"));
    assert_eq!(
        runs(&own_root, &["/opt/mapp/bin/musl-app"]).trim(),
        "musl-app ok"
    );

    // Grafted onto trixie: a musl program on a glibc-only base.
    let out = d.path().join("out.tar").display().to_string();
    let (doc, root) = fails_then_forced(
        &[
            "--from",
            &own,
            "--onto",
            &real("debian-new.tar"),
            "--path",
            "/opt/mapp",
            "-o",
            &out,
        ],
        &out,
        &d.path().join("res"),
    );
    let m = findings(&doc, "libc-mismatch");
    assert_eq!(m.len(), 1, "{doc:#}");
    assert!(
        m[0]["needs"]
            .as_str()
            .unwrap()
            .contains("ld-musl-x86_64.so.1")
    );
    fails(&root, &["/opt/mapp/bin/musl-app"]);
}

#[test]
fn program_without_its_private_library_then_with_it() {
    let d = tmp();
    let out = d.path().join("bin-only.tar").display().to_string();
    let (doc, root) = fails_then_forced(
        &[
            "--from",
            &real("vendor-real.tar"),
            "--onto",
            &real("debian-new.tar"),
            "--path",
            "/opt/vendor/bin",
            "-o",
            &out,
        ],
        &out,
        &d.path().join("a"),
    );
    assert_eq!(errors(&doc), 1, "{doc:#}");
    let m = findings(&doc, "missing-library");
    assert_eq!(m[0]["path"], "/opt/vendor/bin/dyn-app");
    assert!(m[0]["needs"].as_str().unwrap().contains("libvendor.so.1"));
    // The finding shows where it looked, $ORIGIN expanded.
    assert!(
        m[0]["missing"]
            .as_str()
            .unwrap()
            .contains("/opt/vendor/bin/../lib (DT_RUNPATH)")
    );
    let err = fails(&root, &["/opt/vendor/bin/app"]);
    assert!(err.contains("libvendor.so.1"), "{err}");

    // With /opt/vendor/lib grafted too: clean, and it runs ($ORIGIN RUNPATH found right).
    let out2 = d.path().join("whole.tar").display().to_string();
    let (code, doc, err) = graft_json(&[
        "--from",
        &real("vendor-real.tar"),
        "--onto",
        &real("debian-new.tar"),
        "--path",
        "/opt/vendor",
        "-o",
        &out2,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["written"], true);
    // A clean graft reports nothing.
    assert_eq!(
        doc["check"]["findings"].as_array().unwrap().len(),
        0,
        "{doc:#}"
    );
    assert!(
        !err.contains("regraft check:"),
        "a clean graft printed findings:\n{err}"
    );
    assert_eq!(doc["check"]["checked"]["elf_files"], 4);
    assert_eq!(doc["check"]["checked"]["scripts"], 1);
    let root = unpack_in(&format!("docker-archive:{out2}"), &d.path().join("b"));
    for p in ["/opt/vendor/bin/app", "/opt/vendor/bin/run.sh"] {
        assert_eq!(
            runs(&root, &[p]).trim(),
            "dyn-app ok: libvendor.so.1 says hello"
        );
    }
    assert_eq!(
        runs(&root, &["/opt/vendor/bin/static-app"]).trim(),
        "static-app ok"
    );
}

#[test]
fn binary_from_a_newer_debian_onto_an_older_one_names_the_missing_glibc_version() {
    let d = tmp();
    let out = d.path().join("out.tar").display().to_string();
    let (doc, root) = fails_then_forced(
        &[
            "--from",
            &oci("vendor-trixie.oci", "1.0"),
            "--onto",
            &real("debian-old.tar"),
            "--path",
            "/opt/trixie",
            "-o",
            &out,
        ],
        &out,
        d.path(),
    );
    let m = findings(&doc, "missing-symbol-version");
    assert!(!m.is_empty(), "{doc:#}");
    let needs: Vec<&str> = m.iter().map(|f| f["needs"].as_str().unwrap()).collect();
    for n in &needs {
        assert!(
            n.starts_with("GLIBC_2.") && n.ends_with("from libc.so.6"),
            "{n}"
        );
    }
    assert!(
        m[0]["missing"]
            .as_str()
            .unwrap()
            .contains("the newest it defines is GLIBC_2.36"),
        "{doc:#}"
    );
    // The loader says the same, naming one of the versions the check named.
    let err = fails(&root, &["/opt/trixie/bin/tool", "3"]);
    assert!(
        needs
            .iter()
            .any(|n| err.contains(&format!("`{}'", n.split(' ').next().unwrap()))),
        "loader said: {err}; check said: {needs:?}"
    );
}

#[test]
fn ld_library_path_from_the_image_env_finds_the_library() {
    let d = tmp();
    let vendor = oci("vendor-libs.oci", "1.0");
    let out = d.path().join("ok.tar").display().to_string();
    let (code, doc, err) = graft_json(&[
        "--from",
        &vendor,
        "--onto",
        &real("debian-new.tar"),
        "--path",
        "/opt/ldp",
        "--user",
        "root",
        "-o",
        &out,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        doc["check"]["findings"].as_array().unwrap().len(),
        0,
        "{doc:#}"
    );
    let root = unpack_in(&format!("docker-archive:{out}"), &d.path().join("a"));
    let o = chroot_run_env(
        &root,
        &[("LD_LIBRARY_PATH", "/opt/ldp/lib")],
        None,
        &["/opt/ldp/bin/ldp-app"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "ldp-app ok: hello from libldp"
    );

    // The same graft with LD_LIBRARY_PATH emptied: not found, and not runnable.
    let out2 = d.path().join("no-ldp.tar").display().to_string();
    let (doc, root) = fails_then_forced(
        &[
            "--from",
            &vendor,
            "--onto",
            &real("debian-new.tar"),
            "--path",
            "/opt/ldp",
            "--user",
            "root",
            "--env",
            "LD_LIBRARY_PATH=",
            "-o",
            &out2,
        ],
        &out2,
        &d.path().join("b"),
    );
    let m = findings(&doc, "missing-library");
    assert_eq!(m.len(), 1, "{doc:#}");
    assert!(m[0]["needs"].as_str().unwrap().contains("libldp.so.1"));
    let err = fails(&root, &["/opt/ldp/bin/ldp-app"]);
    assert!(err.contains("libldp.so.1"), "{err}");
}

/// The hint's daemonless recipe, as a user would type it: copy the image's files out, let the
/// host's ldconfig regenerate the cache there, add the cache to the image; then the check passes
/// and the program runs.
fn follow_the_ldconfig_hint(image: &str, dir: &Path) {
    let root = dir.join("hint-root");
    regraft_ok(&["cp", &format!("{image}:/"), &root.display().to_string()]);
    tool_ok("ldconfig", &["-r", &root.display().to_string()]);
    let fixed = dir.join("hint-fixed.tar").display().to_string();
    let cache = format!(
        "{}:/etc/ld.so.cache",
        root.join("etc/ld.so.cache").display()
    );
    regraft_ok(&["add", image, &cache, "-o", &fixed]);
    let out = regraft(&["check", &fixed, "--path", "/opt/cache", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    assert!(
        findings(&doc, "library-not-in-ld-so-cache").is_empty(),
        "{doc:#}"
    );
    let root = unpack_in(
        &format!("docker-archive:{fixed}"),
        &dir.join("hint-unpacked"),
    );
    runs(&root, &["/opt/cache/bin/cache-app"]);
}

#[test]
fn ld_so_cache_decides_not_ld_so_conf() {
    let d = tmp();
    let vendor = oci("vendor-libs.oci", "1.0");
    let common = [
        "--from",
        vendor.as_str(),
        "--onto",
        "",
        "--path",
        "/opt/cache",
        "--path",
        "/etc/ld.so.conf.d/vendor-cache.conf",
        "--user",
        "root",
        "--entrypoint",
        "/opt/cache/bin/cache-app",
    ];
    let onto = real("debian-new.tar");
    let with_onto = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = common.iter().map(|s| s.to_string()).collect();
        v[3] = onto.clone();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    // The conf file without a regenerated cache: the loader never looks there.
    let out = d.path().join("conf-only.tar").display().to_string();
    let args = with_onto(&["-o", &out]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (doc, root) = fails_then_forced(&args, &out, &d.path().join("a"));
    let m = findings(&doc, "library-not-in-ld-so-cache");
    assert_eq!(m.len(), 1, "{doc:#}");
    let missing = m[0]["missing"].as_str().unwrap();
    assert!(missing.contains("run ldconfig"), "{missing}");
    assert!(
        missing.contains("/etc/ld.so.conf.d/vendor-cache.conf"),
        "{missing}"
    );
    let err = fails(&root, &["/opt/cache/bin/cache-app"]);
    assert!(err.contains("libcached.so.1"), "{err}");
    follow_the_ldconfig_hint(&out, d.path());

    // With the vendor's regenerated /etc/ld.so.cache grafted too: found through the cache.
    let out2 = d.path().join("cache.tar").display().to_string();
    let args = with_onto(&["--path", "/etc/ld.so.cache", "-o", &out2]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, doc, err) = graft_json(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        doc["check"]["findings"].as_array().unwrap().len(),
        0,
        "{doc:#}"
    );
    let root = unpack_in(&format!("docker-archive:{out2}"), &d.path().join("b"));
    assert_eq!(
        runs(&root, &["/opt/cache/bin/cache-app"]).trim(),
        "cache-app ok: hello from libcached"
    );
}

/// The vendor's own image lacks the script's interpreter too (the vendor image has no python3):
/// the graft did not break it, so the finding is a pre-existing warning and the graft writes.
#[test]
fn script_whose_interpreter_is_missing_in_the_vendor_too_is_pre_existing() {
    let d = tmp();
    let out = d.path().join("out.tar").display().to_string();
    let vendor = oci("vendor-libs.oci", "1.0");
    let (code, doc, err) = graft_json(&[
        "--from",
        &vendor,
        "--onto",
        &real("debian-new.tar"),
        "--path",
        "/opt/scripts",
        "--user",
        "root",
        "--entrypoint",
        "/opt/scripts/hello.sh",
        "-o",
        &out,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(errors(&doc), 0, "{doc:#}");
    let m = findings(&doc, "missing-interpreter");
    assert_eq!(m[0]["path"], "/opt/scripts/needs-python");
    assert_eq!(m[0]["severity"], "warning");
    assert_eq!(m[0]["pre_existing"], true);
    assert!(m[0]["needs"].as_str().unwrap().contains("/usr/bin/python3"));
    assert!(
        err.contains("warning[missing-interpreter] /opt/scripts/needs-python (pre-existing)"),
        "{err}"
    );
    // What chroot shows: broken in the vendor's image and in the result alike.
    fails(
        &unpack_in(&vendor, &d.path().join("vendor")),
        &["/opt/scripts/needs-python"],
    );
    let root = unpack_in(&format!("docker-archive:{out}"), &d.path().join("out"));
    fails(&root, &["/opt/scripts/needs-python"]);
    assert_eq!(
        runs(&root, &["/opt/scripts/hello.sh"]).trim(),
        "hello.sh ok"
    );
    // `regraft check --baseline` of the written result says the same; without it, an error.
    let o = regraft(&[
        "check",
        &out,
        "--path",
        "/opt/scripts",
        "--baseline",
        &vendor,
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let c: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (c["errors"].as_u64(), c["pre_existing"].as_u64()),
        (Some(0), Some(1))
    );
    regraft_fails(&["check", &out, "--path", "/opt/scripts"], 3);
}

#[test]
fn user_missing_from_the_new_base() {
    let d = tmp();
    let out = d.path().join("out.tar").display().to_string();
    let args = [
        "--from",
        &oci("vendor-libs.oci", "1.0"),
        "--onto",
        &real("debian-new.tar"),
        "--path",
        "/opt/ldp",
        "-o",
        &out,
    ];
    let (code, doc, err) = graft_json(&args);
    assert_eq!(code, 3, "{err}");
    assert!(!Path::new(&out).exists());
    let u = findings(&doc, "missing-user");
    assert_eq!(u.len(), 1, "{doc:#}");
    assert!(u[0]["needs"].as_str().unwrap().contains("appuser"));
    assert_eq!(findings(&doc, "missing-group").len(), 1, "{doc:#}");
    // Forced, the runtime side agrees: umoci cannot even build the container's config.
    let mut forced = args.to_vec();
    forced.push("--force");
    regraft_ok(&forced);
    let layout = d.path().join("layout");
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("docker-archive:{out}"),
            &format!("oci:{}:x", layout.display()),
        ],
    );
    let o = tool(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:x", layout.display()),
            &d.path().join("bundle").display().to_string(),
        ],
    );
    assert!(
        !o.status.success(),
        "umoci unpacked a config whose user does not exist"
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("unable to find user appuser"), "{e}");
    // A numeric user need not exist.
    let out2 = d.path().join("numeric.tar").display().to_string();
    let (code, doc, err) = graft_json(&[
        "--from",
        &oci("vendor-libs.oci", "1.0"),
        "--onto",
        &real("debian-new.tar"),
        "--path",
        "/opt/ldp",
        "--user",
        "1000:1000",
        "--dry-run",
        "-o",
        &out2,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["check"]["errors"], 0, "{doc:#}");
    assert!(!Path::new(&out2).exists(), "--dry-run wrote");
}

#[test]
fn entrypoint_program_missing() {
    let d = tmp();
    let out = d.path().join("out.tar").display().to_string();
    let (doc, root) = fails_then_forced(
        &[
            "--from",
            &real("vendor-real.tar"),
            "--onto",
            &real("debian-new.tar"),
            "--path",
            "/opt/vendor",
            "--entrypoint",
            "vendor-daemon",
            "-o",
            &out,
        ],
        &out,
        d.path(),
    );
    let m = findings(&doc, "missing-entrypoint");
    assert_eq!(m.len(), 1, "{doc:#}");
    assert!(
        m[0]["missing"]
            .as_str()
            .unwrap()
            .contains("PATH=/opt/vendor/bin:")
    );
    let o = chroot_run_env(
        &root,
        &[("PATH", "/opt/vendor/bin:/usr/bin:/bin")],
        None,
        &["vendor-daemon"],
    );
    assert!(!o.status.success());
}

#[test]
fn vendor_layer_that_ran_the_package_manager_rebased() {
    let d = tmp();
    let out = d.path().join("out.tar").display().to_string();
    let args = [
        "--from",
        &oci("vendor-apt.oci", "1.0"),
        "--old-base",
        &real("debian-old.tar"),
        "--onto",
        &real("debian-new.tar"),
        "-o",
        &out,
    ];
    let (doc, root) = fails_then_forced(&args, &out, &d.path().join("res"));
    // The vendor's libsqlite3-0 (bookworm) shadows the new base's newer one: an error with
    // both versions.
    let m = findings(&doc, "vendor-package-older");
    assert_eq!(m.len(), 1, "{doc:#}");
    let needs = m[0]["needs"].as_str().unwrap();
    assert!(needs.contains("libsqlite3-0 3.40"), "{needs}");
    assert!(
        needs.contains("older than the base's libsqlite3-0 3.46"),
        "{needs}"
    );
    assert!(
        m[0]["missing"]
            .as_str()
            .unwrap()
            .contains("libsqlite3.so.0")
    );
    // The summary says the database was merged.
    let pdb = &doc["check"]["package_database"];
    assert!(
        pdb["layer_digest"].as_str().unwrap().starts_with("sha256:"),
        "{doc:#}"
    );
    assert_eq!(doc["layers"], 3, "base + vendor layer + database layer");

    // dpkg-query in a chroot of the result: the new base's versions, plus the vendor's added
    // packages (tree; libsqlite3-0 at the vendor's version, whose files are the ones on top).
    let q = |root: &Path| -> std::collections::BTreeMap<String, String> {
        runs(root, &["dpkg-query", "-W", "-f=${Package} ${Version}\\n"])
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let got = q(&root);
    let base_root = unpack_in(
        &format!("docker-archive:{}", real("debian-new.tar")),
        &d.path().join("base"),
    );
    let want_base = q(&base_root);
    for (p, v) in &want_base {
        if p == "libsqlite3-0" {
            continue;
        }
        assert_eq!(
            got.get(p),
            Some(v),
            "{p}: the result should list the new base's version"
        );
    }
    assert_eq!(got.get("tree").map(String::as_str), Some("2.1.0-1"));
    assert!(got["libsqlite3-0"].starts_with("3.40"), "{got:?}");
    assert_eq!(got.len(), want_base.len() + 1, "only tree is new: {got:?}");
    // The added program runs.
    runs(&root, &["/usr/bin/tree", "--version"]);
    // Without the merge the vendor's database would have hidden the new base: the vendor
    // image's own database lists bookworm's libc6, the result trixie's.
    let vendor_root = unpack_in(&oci("vendor-apt.oci", "1.0"), &d.path().join("vendor"));
    let vendor_db = q(&vendor_root);
    assert!(vendor_db["libc6"].starts_with("2.36"), "{vendor_db:?}");
    assert!(got["libc6"].starts_with("2.41"), "{got:?}");
}

#[test]
fn check_command_on_images() {
    // The vendor as built: its application runs on its own base.
    let o = regraft(&[
        "check",
        &real("vendor-real.tar"),
        "--old-base",
        &real("debian-old.tar"),
        "--json",
    ]);
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{doc:#}");
    assert_eq!(doc["errors"], 0, "{doc:#}");
    assert_eq!(doc["checked"]["elf_files"], 4, "{doc:#}");

    // A forced bad graft, checked afterwards: exit 3 with the same finding.
    let d = tmp();
    let out = d.path().join("bad.tar").display().to_string();
    regraft_ok(&[
        "--from",
        &real("vendor-real.tar"),
        "--onto",
        &real("debian-new.tar"),
        "--path",
        "/opt/vendor/bin",
        "--force",
        "-q",
        "-o",
        &out,
    ]);
    let err = regraft_fails(&["check", &out, "--old-base-layers", "1"], 3);
    assert!(
        err.contains("error[missing-library] /opt/vendor/bin/dyn-app"),
        "{err}"
    );
    assert!(err.contains("libvendor.so.1"), "{err}");
    // --path narrows what is checked: /opt/vendor/bin/static-app alone is fine.
    let o = regraft(&[
        "check",
        &out,
        "--old-base-layers",
        "1",
        "--path",
        "/opt/vendor/bin/static-app",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["checked"]["elf_files"], 1, "{doc:#}");
}

#[test]
fn directory_over_the_bases_merged_usr_symlink_is_a_type_conflict() {
    let d = tmp();
    let out = d.path().join("out.tar").display().to_string();
    let (doc, root) = fails_then_forced(
        &[
            "--from",
            &oci("vendor-lib64.oci", "1.0"),
            "--old-base",
            &real("debian-old.tar"),
            "--onto",
            &real("debian-new.tar"),
            "-o",
            &out,
        ],
        &out,
        d.path(),
    );
    let m = findings(&doc, "type-conflict");
    assert_eq!(m.len(), 1, "{doc:#}");
    assert_eq!(m[0]["path"], "/lib64");
    assert!(
        m[0]["missing"]
            .as_str()
            .unwrap()
            .contains("symlink /lib64 -> usr/lib64")
    );
    // The vendor's lib64/ directory replaced the symlink, and with it the program loader:
    // nothing dynamically linked starts any more.
    let err = fails(&root, &["/bin/ls", "/"]);
    assert!(err.contains("No such file or directory"), "{err}");
}

/// `--accept` passes the one finding it names and no other; `--accept-file` reads the same
/// rules; an accepted finding is still listed. The error's text names the rule.
#[test]
fn accept_passes_one_finding_and_no_other() {
    let d = tmp();
    let out = d.path().join("out.tar").display().to_string();
    let args = [
        "--from",
        &real("vendor-real.tar"),
        "--onto",
        &real("debian-new.tar"),
        "--path",
        "/opt/vendor/bin",
        "-o",
        &out,
    ];
    let err = regraft_fails(&args, 3);
    assert!(
        err.contains("pass:    --accept missing-library:/opt/vendor/bin/dyn-app"),
        "{err}"
    );
    // Another path, another check: still refused.
    for rule in [
        "missing-library:/opt/vendor/bin/static-app",
        "missing-loader",
    ] {
        regraft_fails(&[&args[..], &["--accept", rule]].concat(), 3);
        assert!(!Path::new(&out).exists());
    }
    let err = regraft_fails(&[&args[..], &["--accept", "missing-libary"]].concat(), 2);
    assert!(err.contains("unknown check"), "{err}");
    let (code, doc, err) = graft_json(
        &[
            &args[..],
            &["--accept", "missing-library:/opt/vendor/*/dyn-*"],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["written"], true);
    assert_eq!(
        (errors(&doc), doc["check"]["accepted"].as_u64()),
        (0, Some(1))
    );
    let m = findings(&doc, "missing-library");
    assert_eq!(m[0]["accepted"], "missing-library:/opt/vendor/*/dyn-*");
    assert!(
        err.contains("(accepted: missing-library:/opt/vendor/*/dyn-*)"),
        "{err}"
    );
    // The same rule from a file, for `regraft check` of the written result.
    let file = d.path().join("accepts");
    std::fs::write(
        &file,
        "# libvendor is left behind on purpose\nmissing-library:/opt/vendor/bin/dyn-app # why\n",
    )
    .unwrap();
    let check = ["check", &out, "--old-base", &real("debian-new.tar")];
    regraft_fails(&check, 3);
    let o = regraft(&[&check[..], &["--accept-file", &file.display().to_string()]].concat());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The findings of a document as comparable rows.
fn rows(doc: &Value) -> Vec<String> {
    let f = doc.get("check").unwrap_or(doc)["findings"]
        .as_array()
        .unwrap();
    f.iter()
        .map(|x| {
            let k = [
                "severity",
                "check",
                "path",
                "needs",
                "pre_existing",
                "accepted",
            ];
            k.map(|k| x[k].to_string()).join(" ")
        })
        .collect()
}

/// One check (issue 14): the graft's gate and `regraft check` of the written result, told the
/// same inputs (the new base, the vendor as baseline, the paths), give the same findings.
#[test]
fn the_grafts_gate_and_regraft_check_of_the_result_agree() {
    let d = tmp();
    let apt = oci("vendor-apt.oci", "1.0");
    let libs = oci("vendor-libs.oci", "1.0");
    let vendor_real = real("vendor-real.tar");
    let (new, old) = (real("debian-new.tar"), real("debian-old.tar"));
    let cases: [(&str, &str, &[&str]); 3] = [
        (apt.as_str(), "", &["--old-base", &old]),
        (vendor_real.as_str(), "/opt/vendor/bin", &[]),
        (libs.as_str(), "/opt/scripts", &["--user", "root"]),
    ];
    for (i, (vendor, path, more)) in cases.into_iter().enumerate() {
        let out = d.path().join(format!("out{i}.tar")).display().to_string();
        let mut args = vec!["--from", vendor, "--onto", &new, "-o", &out];
        let mut check = vec!["check", &out, "--old-base", &new];
        check.extend(["--baseline", vendor, "--json"]);
        if !path.is_empty() {
            args.extend(["--path", path]);
            check.extend(["--path", path]);
        }
        args.extend(more);
        args.push("--force");
        let (code, gate, err) = graft_json(&args);
        assert_eq!(code, 0, "{err}");
        let o = regraft(&check);
        let checked: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(rows(&gate), rows(&checked), "{vendor} {path}");
        assert_eq!(o.status.code(), Some(if errors(&gate) > 0 { 3 } else { 0 }));
    }
}

/// `regraft config` and `add` gate on the user and entrypoint checks as the graft does (issue
/// 14): exit 3 and nothing written, `--accept` passes the one finding, `--force` writes.
#[test]
fn config_and_add_gate_on_the_user_and_the_entrypoint() {
    let d = tmp();
    let out = d.path().join("out.tar").display().to_string();
    let base = real("debian-new.tar");
    let cfg = ["config", &base, "--user", "nosuchuser", "-o", &out];
    let err = regraft_fails(&cfg, 3);
    assert!(err.contains("error[missing-user] config User"), "{err}");
    assert!(
        err.contains("pass:    --accept 'missing-user:config User'"),
        "{err}"
    );
    assert!(!Path::new(&out).exists());
    regraft_fails(&[&cfg[..], &["--accept", "missing-group"]].concat(), 3);
    regraft_ok(&[&cfg[..], &["--accept", "missing-user:config User"]].concat());
    std::fs::remove_file(&out).unwrap();
    regraft_ok(&[&cfg[..], &["--force"]].concat());
    std::fs::remove_file(&out).unwrap();

    // add: the entrypoint may be the file it adds; one it does not add is refused.
    let script = d.path().join("run.sh");
    std::fs::write(&script, "#!/bin/sh\necho ok\n").unwrap();
    let spec = format!("{}:/opt/x/run.sh", script.display());
    let add = ["add", &base, &spec, "--chmod", "755", "-o", &out];
    regraft_ok(&[&add[..], &["--entrypoint", "/opt/x/run.sh"]].concat());
    std::fs::remove_file(&out).unwrap();
    let err = regraft_fails(&[&add[..], &["--entrypoint", "/opt/x/nope"]].concat(), 3);
    assert!(
        err.contains("error[missing-entrypoint] config Entrypoint"),
        "{err}"
    );
    assert!(!Path::new(&out).exists());
    // A label alone is not gated.
    regraft_ok(&["config", &base, "--label", "a=b", "-o", &out]);
}
