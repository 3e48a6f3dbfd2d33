//! Faults: a SIGKILL at any moment, a full disk, two writers at once, and writing into the
//! layout the input comes from. The target is always as it was, or complete; temporaries
//! left by a kill are removed by the next run.

use crate::common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn temps(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.starts_with(".regraft-tmp-") {
                v.push(e.path().display().to_string());
            }
            if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
    v
}

/// A pseudo-random sequence without a dependency (xorshift, fixed seed: reproducible).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn kill_at(args: &[&str], after: Duration) -> bool {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regraft"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let finished = c.try_wait().unwrap().is_some();
    let _ = c.kill();
    let _ = c.wait();
    finished
}

#[test]
fn sigkill_at_random_points_leaves_the_target_as_it_was_or_complete() {
    let src = real("vendor-real-oci.tar");
    let t = tmp();
    let good = t.path().join("good.tar");
    regraft_ok(&["convert", &src, &good.display().to_string()]);
    let want = sha256_file(&good);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut interrupted = 0;
    for i in 0..24 {
        // Archive targets: a new file, and replacing an existing one.
        let out = t.path().join(format!("out{}.tar", i % 2));
        let before = out.exists().then(|| sha256_file(&out));
        let ms = rng.next() % 900;
        if !kill_at(
            &["convert", &src, &out.display().to_string()],
            Duration::from_millis(ms),
        ) {
            interrupted += 1;
        }
        if out.exists() {
            let now = sha256_file(&out);
            assert!(
                now == want || Some(&now) == before.as_ref(),
                "kill after {ms} ms left a partial {}",
                out.display()
            );
        }
    }
    for i in 0..12 {
        // A layout target that already holds another image.
        let lay = t.path().join("layout");
        if !lay.exists() {
            regraft_ok(&[
                "convert",
                &fixture("vendor.tar"),
                &format!("oci:{}:keep", lay.display()),
            ]);
        }
        let ms = rng.next() % 900;
        kill_at(
            &["convert", &src, &format!("oci:{}:new{i}", lay.display())],
            Duration::from_millis(ms),
        );
        // Whatever happened, the layout is readable and the other image is intact.
        regraft_ok(&["verify", &format!("oci:{}:keep", lay.display())]);
        let idx: serde_json::Value =
            serde_json::from_slice(&std::fs::read(lay.join("index.json")).unwrap()).unwrap();
        for m in idx["manifests"].as_array().unwrap() {
            let r = m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap();
            regraft_ok(&["verify", &format!("oci:{}:{r}", lay.display())]);
        }
    }
    assert!(
        interrupted > 0,
        "no run was interrupted; the kill points are too late to test anything"
    );
    // A later run removes what the killed ones left behind.
    regraft_ok(&[
        "convert",
        &src,
        &t.path().join("after.tar").display().to_string(),
    ]);
    regraft_ok(&[
        "convert",
        &src,
        &format!("oci:{}:after", t.path().join("layout").display()),
    ]);
    let left = temps(t.path());
    assert!(
        left.is_empty(),
        "temporaries left after a clean run: {left:?}"
    );
}

#[test]
fn a_full_disk_leaves_the_target_as_it_was() {
    let t = tmp();
    let mnt = t.path().join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    tool_ok(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            "size=4m",
            "tmpfs",
            &mnt.display().to_string(),
        ],
    );
    struct Umount(std::path::PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Umount(mnt.clone());
    // An existing small target, then a write far larger than the disk.
    let target = mnt.join("out.tar");
    regraft_ok(&[
        "convert",
        &fixture("base.tar"),
        &target.display().to_string(),
    ]);
    let before = sha256_file(&target);
    let o = regraft(&[
        "convert",
        &real("vendor-real-oci.tar"),
        &target.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("No space left"), "{err}");
    assert_eq!(sha256_file(&target), before);
    assert!(
        temps(&mnt).is_empty(),
        "temporaries left on a full disk: {:?}",
        temps(&mnt)
    );
    // Same for a new layout and a graft.
    let lay = mnt.join("lay");
    let o = regraft(&[
        "convert",
        &real("vendor-real-oci.tar"),
        &format!("oci:{}:x", lay.display()),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!lay.exists());
    assert!(temps(&mnt).is_empty(), "{:?}", temps(&mnt));
}

#[test]
fn two_writers_into_one_layout_lose_nothing() {
    let t = tmp();
    let lay = t.path().join("shared");
    regraft_ok(&[
        "convert",
        &fixture("base.tar"),
        &format!("oci:{}:first", lay.display()),
    ]);
    for round in 0..4 {
        let run = |src: String, r: String, lay: std::path::PathBuf| {
            Command::new(env!("CARGO_BIN_EXE_regraft"))
                .args(["convert", &src, &format!("oci:{}:{r}", lay.display())])
                .output()
                .unwrap()
        };
        let a = std::thread::spawn({
            let (s, r, l) = (fixture("vendor.tar"), format!("a{round}"), lay.clone());
            move || run(s, r, l)
        });
        let b = run(fixture("oldbase.tar"), format!("b{round}"), lay.clone());
        let a = a.join().unwrap();
        assert!(
            a.status.success() && b.status.success(),
            "{}{}",
            String::from_utf8_lossy(&a.stderr),
            String::from_utf8_lossy(&b.stderr)
        );
    }
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lay.join("index.json")).unwrap()).unwrap();
    let refs: Vec<&str> = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
        })
        .collect();
    for r in ["first", "a0", "b0", "a1", "b1", "a2", "b2", "a3", "b3"] {
        assert!(refs.contains(&r), "{r} lost: {refs:?}");
        skopeo_inspect(&format!("oci:{}:{r}", lay.display()));
    }
}

#[test]
fn inputs_are_never_modified_even_when_the_output_is_the_input_layout() {
    let t = tmp();
    let lay = t.path().join("lay");
    tool_ok("cp", &["-a", &fixture("oci"), &lay.display().to_string()]);
    let before = snapshot(&lay);
    regraft_ok(&[
        "convert",
        &format!("oci:{}:vendor", lay.display()),
        &format!("oci:{}:copy", lay.display()),
    ]);
    regraft_ok(&[
        "--from",
        &format!("oci:{}:vendor", lay.display()),
        "--onto",
        &format!("oci:{}:base", lay.display()),
        "--path",
        "/opt/vendor",
        "-o",
        &format!("oci:{}:grafted", lay.display()),
    ]);
    let after = snapshot(&lay);
    for (k, v) in &before {
        if k == "index.json" {
            continue;
        }
        assert_eq!(after.get(k), Some(v), "{k} changed");
    }
    for r in ["oldbase", "base", "vendor", "copy", "grafted"] {
        regraft_ok(&["verify", &format!("oci:{}:{r}", lay.display())]);
    }
}
