//! Multi-platform grafts on real amd64 + arm64 Debian images (fixtures/build-multi.sh): a
//! vendor index grafted platform by platform into one index, each platform equal to the
//! single-platform graft of it, read back by skopeo (`copy --all`) and umoci, the arm64 program
//! really arm64 (and run under qemu-user where it is installed); a base lacking a platform, an
//! amd64 file in the arm64 image and a docker-archive output are refused, naming what is wrong.

use crate::common::{
    chroot_run, regraft, regraft_fails, regraft_ok, tmp, tool, tool_ok, unpack_with,
};
use serde_json::Value;
use std::path::Path;

/// A fixture of fixtures/build-multi.sh; fails loudly when missing.
fn multi(name: &str) -> String {
    let p = crate::common::root().join("fixtures/real/multi").join(name);
    assert!(
        p.exists(),
        "{} is missing: run `bash fixtures/build-multi.sh` (tests/run.sh does)",
        p.display()
    );
    p.display().to_string()
}

/// The index an OCI archive or layout reference names (skopeo reads it).
fn index_of(r: &str) -> Value {
    serde_json::from_str(&tool_ok("skopeo", &["inspect", "--raw", r])).unwrap()
}

/// (platform "os/arch", manifest digest) of each manifest of an index.
fn children(index: &Value) -> Vec<(String, String)> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                format!(
                    "{}/{}",
                    m["platform"]["os"].as_str().unwrap(),
                    m["platform"]["architecture"].as_str().unwrap()
                ),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The manifest digest a single-platform graft of `platform` writes, with the same flags.
fn single(platform: &str, args: &[&str], dir: &Path) -> String {
    let out = format!(
        "oci-archive:{}",
        dir.join(format!("{}.tar", platform.replace('/', "-")))
            .display()
    );
    let mut a = vec!["--platform", platform];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", &out, "--json", "-q"]);
    let v: Value = serde_json::from_str(&regraft_ok(&a)).unwrap();
    assert_eq!(v["written"], true);
    v["manifest_digest"].as_str().unwrap().to_string()
}

/// The digest of the index an OCI archive's index.json names.
fn index_digest(archive: &str) -> String {
    let top = crate::common::tar_member_json(archive, "index.json");
    top["manifests"][0]["digest"].as_str().unwrap().to_string()
}

/// The ELF machine (e_machine) of a file.
fn elf_machine(p: &Path) -> u16 {
    let b = std::fs::read(p).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{} is not ELF", p.display());
    u16::from_le_bytes([b[18], b[19]])
}

const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

#[test]
fn layer_mode_index_holds_each_platforms_single_graft() {
    let d = tmp();
    let args = [
        "--from",
        &multi("vendor-oci.tar"),
        "--onto",
        &multi("base-new-oci.tar"),
    ];
    let out = d.path().join("fixed.tar");
    let r = format!("oci-archive:{}", out.display());
    let mut a = args.to_vec();
    a.extend_from_slice(&["-o", &r, "--json"]);
    let o = regraft(&a);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    // Per platform its summary and check, then the total; the attestations left out.
    let ps = v["platforms"].as_array().unwrap();
    assert_eq!(ps.len(), 2);
    assert_eq!(ps[0]["platform"], "linux/amd64");
    assert_eq!(ps[1]["platform"], "linux/arm64/v8");
    assert_eq!(ps[1]["check"]["errors"], 0);
    assert_eq!(v["total"]["platforms"], 2);
    assert_eq!(v["total"]["exit_code"], 0);
    let left: Vec<&str> = v["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        left.iter().filter(|l| l.contains("attestation")).count(),
        2,
        "{left:?}"
    );

    let index = index_of(&r);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let kids = children(&index);
    assert_eq!(
        kids.iter().map(|k| k.0.as_str()).collect::<Vec<_>>(),
        ["linux/amd64", "linux/arm64"],
        "vendor order, no unknown/unknown attestation"
    );
    let top = crate::common::tar_member_json(out.to_str().unwrap(), "index.json");
    assert_eq!(v["index_digest"], top["manifests"][0]["digest"]);
    assert!(top["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"].is_string());
    for (i, p) in ["linux/amd64", "linux/arm64"].iter().enumerate() {
        assert_eq!(kids[i].1, single(p, &args, d.path()), "{p}");
        assert_eq!(ps[i]["manifest_digest"].as_str().unwrap(), kids[i].1);
    }
    // Each manifest names its own base: the base's index (formats.md: both keys point at the
    // index when the base is multi-platform).
    let base_index = index_digest(&multi("base-new-oci.tar"));
    for (_, digest) in &kids {
        let m = crate::common::tar_member_json(
            out.to_str().unwrap(),
            &format!("blobs/sha256/{}", &digest["sha256:".len()..]),
        );
        assert_eq!(
            m["annotations"]["org.opencontainers.image.base.digest"],
            base_index.as_str()
        );
    }

    // Same inputs, same bytes: a second run writes the same archive.
    let again = d.path().join("again.tar");
    let mut a = args.to_vec();
    let r2 = format!("oci-archive:{}", again.display());
    a.extend_from_slice(&["-o", &r2, "-q"]);
    regraft_ok(&a);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());

    // skopeo copies the whole index.
    let copy = d.path().join("copy");
    tool_ok(
        "skopeo",
        &[
            "copy",
            "-q",
            "--all",
            &r,
            &format!("oci:{}:x", copy.display()),
        ],
    );
}

#[test]
fn path_mode_index_unpacks_per_platform_and_the_arm64_program_is_arm64() {
    let d = tmp();
    let args = [
        "--from",
        &multi("vendor.oci"),
        "--onto",
        &multi("base-new.oci"),
        "--path",
        "/opt/vendor",
    ];
    let layout = d.path().join("out");
    let r = format!("oci:{}:fixed", layout.display());
    let mut a = args.to_vec();
    a.extend_from_slice(&["-o", &r, "-q"]);
    regraft_ok(&a);
    let kids = children(&index_of(&r));
    for (i, p) in ["linux/amd64", "linux/arm64"].iter().enumerate() {
        assert_eq!(kids[i].1, single(p, &args, d.path()), "{p}");
    }
    // umoci unpacks each platform (skopeo picks it out of the index).
    let amd = unpack_with(&r, &["--override-arch", "amd64"], &d.path().join("amd64"));
    let arm = unpack_with(&r, &["--override-arch", "arm64"], &d.path().join("arm64"));
    assert_eq!(elf_machine(&amd.join("opt/vendor/bin/hello")), EM_X86_64);
    assert_eq!(elf_machine(&arm.join("opt/vendor/bin/hello")), EM_AARCH64);
    // trixie's libc under the program on both.
    assert!(arm.join("usr/lib/aarch64-linux-gnu/libc.so.6").exists());
    assert!(amd.join("usr/lib/x86_64-linux-gnu/libc.so.6").exists());
    let o = chroot_run(&amd, &["/opt/vendor/bin/hello"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "Hello, world!");
    // qemu-user runs the arm64 program against the image's own loader and libraries (no
    // binfmt_misc needed: -L is the image's root).
    let qemu = Path::new("/usr/bin/qemu-aarch64-static");
    if qemu.exists() {
        let o = tool(
            qemu.to_str().unwrap(),
            &[
                "-L",
                arm.to_str().unwrap(),
                arm.join("opt/vendor/bin/hello").to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{o:?}");
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "Hello, world!");
    } else {
        eprintln!("note: qemu-user-static is not installed; the arm64 program was not run");
    }
}

#[test]
fn docker29_save_with_attestations_grafts_both_platforms() {
    let d = tmp();
    let args = [
        "--from",
        &multi("vendor-docker29.tar"),
        "--onto",
        &multi("base-new-oci.tar"),
    ];
    let r = format!("oci-archive:{}", d.path().join("fixed.tar").display());
    let mut a = args.to_vec();
    a.extend_from_slice(&["-o", &r]);
    let o = regraft(&a);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        err.matches("is an attestation manifest; left out").count(),
        2,
        "{err}"
    );
    let kids = children(&index_of(&r));
    assert_eq!(kids.len(), 2);
    for (i, p) in ["linux/amd64", "linux/arm64"].iter().enumerate() {
        assert_eq!(kids[i].0, *p);
        assert_eq!(kids[i].1, single(p, &args, d.path()), "{p}");
    }
}

#[test]
fn a_base_lacking_a_vendor_platform_is_refused_naming_it() {
    let d = tmp();
    let out = d.path().join("fixed.tar");
    let r = format!("oci-archive:{}", out.display());
    let err = regraft_fails(
        &[
            "--from",
            &multi("vendor-oci.tar"),
            "--onto",
            &multi("base-new-amd64-oci.tar"),
            "-o",
            &r,
        ],
        1,
    );
    assert!(err.contains("has no image for linux/arm64"), "{err}");
    assert!(err.contains("base-new-amd64-oci.tar"), "{err}");
    assert!(!out.exists());
    // --platform leaving arm64 out grafts the platform both have (one: a single image).
    regraft_ok(&[
        "--from",
        &multi("vendor-oci.tar"),
        "--onto",
        &multi("base-new-amd64-oci.tar"),
        "--platform",
        "linux/amd64",
        "-o",
        &r,
        "-q",
    ]);
    assert_eq!(
        index_of(&r)["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
}

#[test]
fn an_amd64_file_in_the_arm64_image_is_refused_naming_the_file() {
    let d = tmp();
    let out = d.path().join("fixed.tar");
    let r = format!("oci-archive:{}", out.display());
    let args = [
        "--from",
        &multi("vendor-wrong-oci.tar"),
        "--onto",
        &multi("base-new-oci.tar"),
        "-o",
        &r,
    ];
    let o = regraft(&[&args[..], &["--json"]].concat());
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("error[wrong-machine] /opt/vendor/bin/hello"),
        "{err}"
    );
    assert!(err.contains("[linux/arm64/v8]"), "{err}");
    assert!(err.contains("x86-64"), "{err}");
    assert!(!out.exists(), "nothing written");
    // The exit code is the worst platform's; amd64 is clean, arm64 has the error.
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["platforms"][0]["check"]["errors"], 0);
    assert_eq!(v["platforms"][1]["check"]["errors"], 1);
    assert_eq!(v["total"]["errors"], 1);
    assert_eq!(v["total"]["exit_code"], 3);
    assert_eq!(v["written"], false);
    // Accepted, it is written.
    regraft_ok(
        &[
            &args[..],
            &["-q", "--accept", "wrong-machine:/opt/vendor/bin/hello"],
        ]
        .concat(),
    );
    assert_eq!(children(&index_of(&r)).len(), 2);
}

#[test]
fn a_docker_archive_cannot_hold_several_platforms() {
    let d = tmp();
    let out = d.path().join("fixed.tar");
    let err = regraft_fails(
        &[
            "--from",
            &multi("vendor-oci.tar"),
            "--onto",
            &multi("base-new-oci.tar"),
            "-o",
            out.to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("oci-archive:"), "{err}");
    assert!(!out.exists());
}

#[test]
fn platform_lists_all_and_an_index_old_base() {
    let d = tmp();
    let base = [
        "--from",
        &multi("vendor.oci"),
        "--onto",
        &multi("base-new.oci"),
    ];
    let run = |extra: &[&str], name: &str| -> Vec<(String, String)> {
        let r = format!("oci-archive:{}", d.path().join(name).display());
        regraft_ok(&[&base[..], extra, &["-o", &r, "-q"]].concat());
        children(&index_of(&r))
    };
    let default = run(&[], "default.tar");
    assert_eq!(run(&["--platform", "all"], "all.tar"), default);
    // A list is grafted in the vendor's order, whatever order it is given in.
    assert_eq!(
        run(&["--platform", "linux/arm64,linux/amd64"], "list.tar"),
        default
    );
    // The old base given as an index: each platform's own old base.
    let old = format!("oci:{}:bookworm", multi("base-old.oci"));
    let with_old = run(&["--old-base", &old], "old.tar");
    for (i, p) in ["linux/amd64", "linux/arm64"].iter().enumerate() {
        assert_eq!(
            with_old[i].1,
            single(p, &[&base[..], &["--old-base", &old]].concat(), d.path())
        );
    }
    // A platform the vendor lacks is named.
    let err = regraft_fails(
        &[
            &base[..],
            &["--platform", "linux/amd64,linux/s390x", "-o", "x.tar"],
        ]
        .concat(),
        1,
    );
    assert!(err.contains("--platform linux/s390x"), "{err}");
    // inspect lists an index's platforms; other commands take one platform.
    let v: Value =
        serde_json::from_str(&regraft_ok(&["inspect", "--json", &multi("vendor.oci")])).unwrap();
    assert_eq!(
        v["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64/v8"])
    );
    let v: Value = serde_json::from_str(&regraft_ok(&[
        "inspect",
        "--json",
        "--platform",
        "linux/arm64",
        &multi("vendor.oci"),
    ]))
    .unwrap();
    assert_eq!(v["platform"], "linux/arm64");
    regraft_fails(&["ls", "--platform", "all", &multi("vendor.oci")], 2);
    // A single-image vendor onto an index base takes the base's image for its platform.
    let one = format!("oci-archive:{}", d.path().join("one.tar").display());
    let vendor_arm64 = format!("oci:{}:vendor-arm64", multi("platforms.oci"));
    regraft_ok(&[
        "--from",
        &vendor_arm64,
        "--onto",
        &multi("base-new.oci"),
        "-o",
        &one,
        "-q",
    ]);
    let cfg: Value =
        serde_json::from_str(&tool_ok("skopeo", &["inspect", "--config", &one])).unwrap();
    assert_eq!(cfg["architecture"], "arm64");
    let base_arm64: Value = serde_json::from_str(&tool_ok(
        "skopeo",
        &[
            "inspect",
            "--config",
            &format!("oci:{}:new-arm64", multi("platforms.oci")),
        ],
    ))
    .unwrap();
    assert_eq!(
        cfg["rootfs"]["diff_ids"][0],
        base_arm64["rootfs"]["diff_ids"][0]
    );
    // A dry run of an index writes nothing and says what it would write.
    let dry = d.path().join("dry.tar");
    let o = regraft(
        &[
            &base[..],
            &["-o", &format!("oci-archive:{}", dry.display()), "--dry-run"],
        ]
        .concat(),
    );
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("of 2 platform(s)"));
    assert!(!dry.exists());
    regraft_ok(&[
        "verify",
        "--platform",
        "linux/arm64",
        &multi("vendor-oci.tar"),
    ]);
    regraft_ok(&[
        "ls",
        "--platform",
        "linux/arm64",
        &multi("vendor-oci.tar"),
        "/opt/vendor/bin",
    ]);
}
