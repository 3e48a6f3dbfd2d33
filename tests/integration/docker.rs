//! Docker as the oracle: vendor images built by `docker build` and saved by `docker save`
//! (fixtures/build-docker.sh), grafted by regraft, then `docker load`ed, `docker run` with no
//! network, `docker inspect`ed and `docker history`ed, and saved back by Docker to compare
//! digests. The daemon is the private one tests/run.sh starts (tests/dockerd.sh) and names in
//! REGRAFT_TEST_DOCKER_HOST; without it these tests say SKIPPED on stderr and tests/run.sh says
//! so loudly at the end (REGRAFT_REQUIRE_DOCKER=1 makes a missing daemon a failure).

use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub struct Docker {
    host: String,
    /// Images this test loaded, removed when it ends.
    loaded: std::cell::RefCell<Vec<String>>,
}

/// The test daemon, or None (with a loud line) when there is none.
pub fn docker(test: &str) -> Option<Docker> {
    match std::env::var("REGRAFT_TEST_DOCKER_HOST") {
        Ok(host) if !host.is_empty() => Some(Docker {
            host,
            loaded: Default::default(),
        }),
        _ => {
            assert!(
                std::env::var_os("REGRAFT_REQUIRE_DOCKER").is_none(),
                "{test}: REGRAFT_REQUIRE_DOCKER is set but REGRAFT_TEST_DOCKER_HOST is not"
            );
            eprintln!(
                "SKIPPED {test}: no Docker daemon (REGRAFT_TEST_DOCKER_HOST unset; tests/run.sh \
                 starts one with tests/dockerd.sh)"
            );
            None
        }
    }
}

impl Docker {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", &self.host).args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run docker")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "docker {args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `docker run -i --rm --network none IMAGE ARGS...` with `stdin`; returns stdout.
    pub fn run_image(&self, image: &str, args: &[&str], stdin: &str) -> String {
        let mut all = vec!["run", "-i", "--rm", "--network", "none", image];
        all.extend(args);
        let mut child = self
            .cmd(&all)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "docker {all:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `docker load -i ARCHIVE`; returns what Docker says it loaded (name or image ID).
    pub fn load(&self, archive: &str) -> String {
        let out = self.ok(&["load", "-i", archive]);
        let loaded = out
            .lines()
            .rev()
            .find_map(|l| {
                l.strip_prefix("Loaded image: ")
                    .or_else(|| l.strip_prefix("Loaded image ID: "))
            })
            .unwrap_or_else(|| panic!("docker load said: {out}"))
            .trim()
            .to_string();
        self.loaded.borrow_mut().push(loaded.clone());
        loaded
    }

    pub fn inspect(&self, image: &str) -> Value {
        let out = self.ok(&["image", "inspect", image]);
        serde_json::from_str::<Value>(&out).unwrap()[0].clone()
    }

    /// `docker history`, oldest entry first, as created_by strings.
    pub fn history(&self, image: &str) -> Vec<String> {
        let out = self.ok(&[
            "history",
            "--no-trunc",
            "--format",
            "{{json .CreatedBy}}",
            image,
        ]);
        let mut h: Vec<String> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        h.reverse();
        h
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        for i in self.loaded.borrow().iter() {
            let _ = self.run(&["rmi", "-f", i]);
        }
    }
}

/// An image from fixtures/build-docker.sh.
pub fn built(name: &str) -> String {
    let dir = root().join("fixtures/real/docker");
    assert!(
        dir.join(".complete").exists(),
        "{} is missing: run `bash fixtures/build-docker.sh` (tests/run.sh does)",
        dir.display()
    );
    dir.join(name).display().to_string()
}

/// A graft with `--json`; asserts exit 0 and returns the summary.
fn graft(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_str(&regraft_ok(&a)).unwrap()
}

/// The config JSON of the single image in a regraft-written archive.
fn written_config(archive: &str, digest: &str) -> Value {
    tar_member_json(
        archive,
        &format!("blobs/sha256/{}", &digest["sha256:".len()..]),
    )
}

/// The runtime fields a user relies on, as `docker inspect` shows them, equal what regraft
/// wrote (Docker reads the config: any loss or mangling shows here).
fn assert_config_as_written(d: &Docker, image: &str, config: &Value) {
    let got = &d.inspect(image)["Config"];
    let want = &config["config"];
    for k in [
        "Env",
        "Entrypoint",
        "Cmd",
        "User",
        "WorkingDir",
        "Healthcheck",
        "Labels",
        "ExposedPorts",
        "Volumes",
        "OnBuild",
        "StopSignal",
    ] {
        let w = want.get(k).cloned().unwrap_or(Value::Null);
        let g = got.get(k).cloned().unwrap_or(Value::Null);
        let empty = |v: &Value| v.is_null() || v == "" || v == &serde_json::json!([]);
        if empty(&w) && empty(&g) {
            continue;
        }
        assert_eq!(g, w, "{k}: docker inspect vs the written config");
    }
}

/// `docker save` of a loaded result, read back by regraft: Docker keeps the config (its image
/// ID is regraft's config digest) and every layer's diff_id. The manifest digest is not kept:
/// Docker 20.10 saves the legacy format (no manifest of its own; regraft synthesises one with
/// Docker's media types), so a result's manifest digest and Docker's differ by design.
fn assert_round_trip(d: &Docker, image: &str, written: &Value, dir: &Path) {
    let saved = dir.join("saved.tar").display().to_string();
    d.ok(&["save", "-o", &saved, image]);
    let back = inspect_json(&saved, &[]);
    assert!(back["config_digest"].is_string(), "{back:#}");
    assert_eq!(back["config_digest"], written["config_digest"], "{back:#}");
    let ours = inspect_json(
        &written["output"]
            .as_str()
            .unwrap()
            .replace("docker-archive:", ""),
        &[],
    );
    let ids = |v: &Value| -> Vec<Value> {
        v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["diff_id"].clone())
            .collect()
    };
    assert_eq!(ids(&back), ids(&ours));
}

/// Path mode on a multi-stage C build: the program lands on trixie, runs in Docker there (on
/// trixie's glibc, not the vendor's 2.36), and Docker shows the base's history then regraft's.
#[test]
fn a_grafted_program_runs_in_docker() {
    let Some(d) = docker("a_grafted_program_runs_in_docker") else {
        return;
    };
    let t = tmp();
    let out = t.path().join("hello.tar").display().to_string();
    let s = graft(&[
        "--from",
        &built("cbuild.tar"),
        "--onto",
        &real("debian-new.tar"),
        "--path",
        "/usr/local/bin/hello",
        "--tag",
        "regraft-test/hello:1",
        "-o",
        &out,
    ]);
    assert_eq!(d.load(&out), "regraft-test/hello:1");
    let said = d.run_image("regraft-test/hello:1", &["world"], "");
    assert!(
        said.starts_with("hello from the vendor build world (glibc "),
        "{said}"
    );
    assert!(
        !said.contains("glibc 2.36"),
        "ran on the vendor's glibc: {said}"
    );
    let config = written_config(&out, s["config_digest"].as_str().unwrap());
    assert_config_as_written(&d, "regraft-test/hello:1", &config);
    let id = d.inspect("regraft-test/hello:1")["Id"].clone();
    assert_eq!(
        id, s["config_digest"],
        "Docker's image ID is the config digest"
    );
    let h = d.history("regraft-test/hello:1");
    let base = d_history_of(&real("debian-new.tar"));
    assert_eq!(h[..base.len()], base[..]);
    assert!(h.last().unwrap().contains("regraft"), "{h:?}");
    assert_round_trip(&d, "regraft-test/hello:1", &s, t.path());
}

/// The created_by strings of an image's history, as regraft reads them.
fn d_history_of(image: &str) -> Vec<String> {
    let cfg = inspect_json(image, &[]);
    cfg["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created_by"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Layer mode on a service saved by image ID: its user, files owned by that user, ENTRYPOINT
/// script and every config field Docker has survive the rebase; the summary lists exactly what
/// the Dockerfile set (no Docker defaults, no stale Image); the result is untagged as the input
/// was; Docker runs it as the vendor's user; the history is the base's, then the vendor's own.
#[test]
fn a_rebased_service_keeps_its_user_and_config_in_docker() {
    let Some(d) = docker("a_rebased_service_keeps_its_user_and_config_in_docker") else {
        return;
    };
    let t = tmp();
    let out = t.path().join("svc.tar").display().to_string();
    let s = graft(&[
        "--from",
        &built("service-byid.tar"),
        "--onto",
        &real("debian-new.tar"),
        "--old-base",
        &real("debian-old.tar"),
        "-o",
        &out,
    ]);
    let mut taken: Vec<&str> = s["from_vendor"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    taken.sort();
    assert_eq!(
        taken,
        [
            "Cmd",
            "Entrypoint",
            "Env SVC_HOME",
            "Env SVC_PORT",
            "ExposedPorts",
            "Healthcheck",
            "Label org.example.role",
            "Label org.example.vendor",
            "OnBuild",
            "StopSignal",
            "User",
            "Volumes",
            "WorkingDir"
        ]
    );
    assert_eq!(s["tag"], Value::Null);
    let config = written_config(&out, s["config_digest"].as_str().unwrap());
    assert!(
        config["config"].get("Image").is_none(),
        "stale Image kept: {config:#}"
    );
    let id = d.load(&out);
    assert_eq!(id, s["config_digest"].as_str().unwrap());
    let said = d.run_image(&id, &[], "");
    assert_eq!(
        said,
        "user=svc uid=1001 cwd=/opt/svc home=/opt/svc args=serve\nconfig=mode=production\n"
    );
    assert_config_as_written(&d, &id, &config);
    let h = d.history(&id);
    let base = d_history_of(&real("debian-new.tar"));
    let vendor = d_history_of(&built("service-byid.tar"));
    let old = d_history_of(&real("debian-old.tar"));
    assert_eq!(h, [&base[..], &vendor[old.len()..]].concat());
    assert!(h.iter().any(|c| c.contains("useradd")) && h.last().unwrap().contains("CMD"));
    assert_round_trip(&d, &id, &s, t.path());

    // A toolbox edit of the result, through Docker too.
    let edited = t.path().join("root.tar").display().to_string();
    regraft_ok(&[
        "config",
        &out,
        "--user",
        "root",
        "--tag",
        "regraft-test/svc-root:1",
        "-o",
        &edited,
    ]);
    d.load(&edited);
    let said = d.run_image("regraft-test/svc-root:1", &["x"], "");
    assert!(said.starts_with("user=root uid=0 cwd=/opt/svc"), "{said}");

    // `-o -` streams a docker archive: piped straight into `docker load`.
    let o = Command::new("sh")
        .arg("-c")
        .arg("\"$0\" config \"$1\" --user 1001 --tag regraft-test/svc-pipe:1 -o - | docker load")
        .arg(env!("CARGO_BIN_EXE_regraft"))
        .arg(&out)
        .env("DOCKER_HOST", &d.host)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Loaded image: regraft-test/svc-pipe:1"));
    d.loaded.borrow_mut().push("regraft-test/svc-pipe:1".into());
    let said = d.run_image("regraft-test/svc-pipe:1", &[], "");
    assert!(said.starts_with("user=svc uid=1001"), "{said}");
}

/// Layer mode on an apt-installed tool: jq and its libraries move onto trixie and run there.
/// Regression (issue 14): the `rm -rf /var/lib/apt/lists/*` cleanup's whiteout of apt's empty
/// `lists/partial` directory was refused as `vendor-package-older`; the check is now clean,
/// and the result runs with a sound dpkg database.
#[test]
fn a_rebased_apt_tool_runs_in_docker_from_each_output_form() {
    let Some(d) = docker("a_rebased_apt_tool_runs_in_docker_from_each_output_form") else {
        return;
    };
    let t = tmp();
    let out = t.path().join("tool.tar").display().to_string();
    let common = [
        "--from",
        &built("tool.tar"),
        "--onto",
        &real("debian-new.tar"),
        "--old-base",
        &real("debian-old.tar"),
        "--tag",
        "regraft-test/jq:1",
    ];
    let s = graft(&[&common[..], &["-o", &out]].concat());
    assert_eq!(s["check"]["errors"], 0, "{s:#}");
    assert_eq!(s["check"]["findings"], serde_json::json!([]), "{s:#}");
    assert_eq!(d.load(&out), "regraft-test/jq:1");
    let said = d.run_image("regraft-test/jq:1", &[".a.b"], r#"{"a":{"b":42}}"#);
    assert_eq!(said, "42\n");
    let audit = ["--entrypoint", "dpkg", "regraft-test/jq:1", "--audit"];
    assert_eq!(
        d.ok(&[&["run", "--rm", "--network", "none"][..], &audit].concat()),
        ""
    );
    let config = written_config(&out, s["config_digest"].as_str().unwrap());
    assert_config_as_written(&d, "regraft-test/jq:1", &config);
    assert_round_trip(&d, "regraft-test/jq:1", &s, t.path());

    // Without --tag: the result is `vendor-tool:1-regraft`, and loading it leaves the vendor's
    // own `vendor-tool:1` where it was.
    d.ok(&["load", "-i", &built("tool.tar")]);
    let vendor_id = d.inspect("vendor-tool:1")["Id"].clone();
    let untagged = t.path().join("default-name.tar").display().to_string();
    let args: Vec<&str> = common
        .iter()
        .copied()
        .filter(|a| *a != "--tag" && *a != "regraft-test/jq:1")
        .collect();
    graft(&[&args[..], &["-o", &untagged]].concat());
    assert_eq!(d.load(&untagged), "vendor-tool:1-regraft");
    assert_eq!(
        d.inspect("vendor-tool:1")["Id"],
        vendor_id,
        "the vendor's tag moved"
    );
    assert_eq!(
        d.run_image("vendor-tool:1-regraft", &["-n", "1+1"], ""),
        "2\n"
    );

    // oci-archive: pure OCI (no manifest.json). Docker 25+ loads such archives; Debian's Docker
    // 20.10 reads only manifest.json and refuses them: either way is Docker's, asserted as such.
    let oci = t.path().join("tool-oci.tar").display().to_string();
    graft(&[&common[..], &["-o", &format!("oci-archive:{oci}")]].concat());
    let o = d.run(&["load", "-i", &oci]);
    let err = String::from_utf8_lossy(&o.stderr);
    if o.status.success() {
        d.loaded.borrow_mut().push("regraft-test/jq:1".into());
        assert_eq!(d.run_image("regraft-test/jq:1", &["-n", "6*7"], ""), "42\n");
    } else {
        assert!(err.contains("json: no such file"), "{err}");
        eprintln!(
            "note: this Docker does not load oci-archive outputs: {}",
            err.trim()
        );
    }
}

/// One `docker save` of several images: each is picked by name or by index.
#[test]
fn one_of_several_saved_images_is_grafted() {
    let Some(d) = docker("one_of_several_saved_images_is_grafted") else {
        return;
    };
    let t = tmp();
    let several = built("several.tar");
    let err = regraft_fails(&["inspect", &several], 2);
    assert!(err.contains("holds 3 images"), "{err}");
    // Docker writes them in its own order: the listing says which index is which.
    let index = err
        .lines()
        .find(|l| l.contains("vendor-cbuild:1"))
        .and_then(|l| l.trim().split(':').next())
        .unwrap_or_else(|| panic!("{err}"))
        .to_string();
    for (pick, tag) in [
        ("vendor-cbuild:1", "regraft-test/pick-name:1"),
        (index.as_str(), "regraft-test/pick-index:1"),
    ] {
        let out = t.path().join("pick.tar").display().to_string();
        graft(&[
            "--from",
            &format!("{several}:{pick}"),
            "--onto",
            &real("debian-new.tar"),
            "--path",
            "/usr/local/bin/hello",
            "--tag",
            tag,
            "-o",
            &out,
        ]);
        d.load(&out);
        assert!(
            d.run_image(tag, &[], "")
                .starts_with("hello from the vendor build (glibc")
        );
    }
}

/// A graft with `--json` and its exit code, whatever it is.
fn graft_code(args: &[&str]) -> (i32, Value, String) {
    let mut a = args.to_vec();
    a.push("--json");
    let o = regraft(&a);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let doc = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    (o.status.code().unwrap_or(-1), doc, err)
}

/// `docker run --rm --network none ARGS...` as it ends: (success, stdout + stderr).
pub fn d_run(d: &Docker, args: &[&str]) -> (bool, String) {
    let o = d.run(&[&["run", "--rm", "--network", "none"][..], args].concat());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

/// The JDK by path (issue 14): its lib/*.so need the lib/server/libjvm.so the java launcher
/// loads first. That is no error (a `library-loaded-first` warning each, pre-existing too);
/// what remains are the optional libraries apt gave the vendor (fonts, sound, images), which
/// the base lacks, accepted one glob at a time; java runs.
#[test]
fn a_jdk_grafted_by_path_runs_and_its_libjvm_needs_are_no_error() {
    let Some(d) = docker("a_jdk_grafted_by_path_runs_and_its_libjvm_needs_are_no_error") else {
        return;
    };
    let t = tmp();
    let out = t.path().join("jdk.tar").display().to_string();
    let java = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java";
    let args = [
        "--from",
        &built("jdk.tar"),
        "--onto",
        &real("debian-new.tar"),
        "--path",
        "/usr/lib/jvm",
        "--entrypoint",
        java,
        "--tag",
        "regraft-test/jdk:1",
        "-o",
        &out,
    ];
    let (code, doc, err) = graft_code(&args);
    assert_eq!(code, 3, "{err}");
    let findings = doc["check"]["findings"].as_array().unwrap();
    let loaded_first = findings
        .iter()
        .filter(|f| f["check"] == "library-loaded-first")
        .count();
    assert!(loaded_first >= 10, "{err}");
    for f in findings.iter().filter(|f| f["severity"] == "error") {
        assert_eq!(f["check"], "missing-library", "{f:#}");
        assert!(!f["needs"].as_str().unwrap().contains("libjvm"), "{f:#}");
    }
    let accept = "missing-library:/usr/lib/jvm/java-17-openjdk-amd64/lib/*.so";
    let (code, doc, err) = graft_code(&[&args[..], &["--accept", accept]].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["check"]["errors"], 0, "{err}");
    assert_eq!(d.load(&out), "regraft-test/jdk:1");
    let (ok, said) = d_run(&d, &["regraft-test/jdk:1", "-version"]);
    assert!(ok && said.contains("openjdk version \"17"), "{said}");
    // `regraft check` of the result alone (no baseline) agrees: no libjvm error.
    let o = regraft(&[
        "check",
        &out,
        "--old-base",
        &real("debian-new.tar"),
        "--json",
    ]);
    let c: Value = serde_json::from_slice(&o.stdout).unwrap();
    let errs = c["findings"].as_array().unwrap().iter();
    assert!(
        errs.filter(|f| f["severity"] == "error")
            .all(|f| !f["needs"].as_str().unwrap().contains("libjvm"))
    );
}

/// A Python 3.11 venv grafted onto a base whose Python is 3.13 (issue 14): refused, naming
/// both versions; forced, the venv's module is not found, as the check said. The venv's
/// script whose #! names an interpreter the vendor image never had is a pre-existing warning.
#[test]
fn a_venv_onto_a_newer_python_is_refused_and_fails_when_forced() {
    let Some(d) = docker("a_venv_onto_a_newer_python_is_refused_and_fails_when_forced") else {
        return;
    };
    let t = tmp();
    let out = t.path().join("venv.tar").display().to_string();
    let args = [
        "--from",
        &built("pyvenv.tar"),
        "--onto",
        &built("pybase.tar"),
        "--path",
        "/opt/venv",
        "--tag",
        "regraft-test/venv:1",
        "-o",
        &out,
    ];
    let (code, doc, err) = graft_code(&args);
    assert_eq!(code, 3, "{err}");
    assert!(!Path::new(&out).exists());
    let f = doc["check"]["findings"].as_array().unwrap();
    let venv: Vec<_> = f
        .iter()
        .filter(|f| f["check"] == "python-venv-version")
        .collect();
    assert_eq!(venv.len(), 1, "{err}");
    assert_eq!(venv[0]["severity"], "error");
    assert_eq!(venv[0]["path"], "/opt/venv/pyvenv.cfg");
    assert!(venv[0]["needs"].as_str().unwrap().contains("3.11"), "{err}");
    assert!(
        venv[0]["missing"].as_str().unwrap().contains("3.13"),
        "{err}"
    );
    let example = f
        .iter()
        .find(|f| f["path"] == "/opt/venv/bin/example.py")
        .unwrap();
    assert_eq!(
        (&example["severity"], &example["pre_existing"]),
        (&Value::from("warning"), &Value::from(true))
    );
    assert_eq!(doc["check"]["errors"], 1, "{err}");

    // What Docker shows: the vendor's venv runs its module; the forced result cannot.
    assert_eq!(d.load(&built("pyvenv.tar")), "vendor-pyvenv:1");
    let (ok, said) = d_run(&d, &["vendor-pyvenv:1"]);
    assert!(ok && said.contains("hello from the venv"), "{said}");
    graft(&[&args[..], &["--force"]].concat());
    assert_eq!(d.load(&out), "regraft-test/venv:1");
    let (ok, said) = d_run(&d, &["regraft-test/venv:1"]);
    assert!(!ok && said.contains("ModuleNotFoundError"), "{said}");
    let (ok, _) = d_run(
        &d,
        &[
            "--entrypoint",
            "/opt/venv/bin/example.py",
            "vendor-pyvenv:1",
        ],
    );
    assert!(!ok, "the vendor's own example script ran");
}

/// A service whose user only the vendor's /etc/passwd has, grafted by path (issue 14):
/// refused with missing-user; Docker refuses to start the forced result too.
#[test]
fn a_vendor_only_service_user_is_refused() {
    let Some(d) = docker("a_vendor_only_service_user_is_refused") else {
        return;
    };
    let t = tmp();
    let out = t.path().join("svc.tar").display().to_string();
    let args = [
        "--from",
        &built("service.tar"),
        "--onto",
        &real("debian-new.tar"),
        "--path",
        "/opt/svc",
        "--tag",
        "regraft-test/svc-path:1",
        "-o",
        &out,
    ];
    let (code, doc, err) = graft_code(&args);
    assert_eq!(code, 3, "{err}");
    let f = doc["check"]["findings"].as_array().unwrap();
    assert!(
        f.iter()
            .any(|f| f["check"] == "missing-user" && f["severity"] == "error"),
        "{err}"
    );
    graft(&[&args[..], &["--force"]].concat());
    assert_eq!(d.load(&out), "regraft-test/svc-path:1");
    let (ok, said) = d_run(&d, &["regraft-test/svc-path:1"]);
    assert!(!ok && said.contains("svc"), "{said}");
}

/// Compiled extension modules built for Python 3.11, grafted onto a base whose Python is 3.13
/// (issue 14): refused with one python-extension-abi finding naming both versions; forced,
/// 3.13 does not import them (`_crypt`, which 3.13 no longer ships itself), where the
/// vendor's 3.11 does.
#[test]
fn extension_modules_for_another_python_are_refused() {
    let Some(d) = docker("extension_modules_for_another_python_are_refused") else {
        return;
    };
    let t = tmp();
    let out = t.path().join("ext.tar").display().to_string();
    let dir = "/usr/lib/python3.11/lib-dynload";
    let args = [
        "--from",
        &built("pyvenv.tar"),
        "--onto",
        &built("pybase.tar"),
        "--path",
        dir,
        "--entrypoint",
        "python3",
        "--tag",
        "regraft-test/ext:1",
        "-o",
        &out,
    ];
    let (code, doc, err) = graft_code(&args);
    assert_eq!(code, 3, "{err}");
    let f = doc["check"]["findings"].as_array().unwrap();
    let abi: Vec<_> = f
        .iter()
        .filter(|f| f["check"] == "python-extension-abi")
        .collect();
    assert_eq!(abi.len(), 1, "{err}");
    assert!(
        abi[0]["needs"].as_str().unwrap().contains("Python 3.11"),
        "{err}"
    );
    assert!(
        abi[0]["missing"].as_str().unwrap().contains("3.13"),
        "{err}"
    );
    let import = format!("import sys; sys.path.insert(0, '{dir}'); import _crypt; print('ok')");
    assert_eq!(d.load(&built("pyvenv.tar")), "vendor-pyvenv:1");
    let (ok, said) = d_run(
        &d,
        &["--entrypoint", "python3", "vendor-pyvenv:1", "-c", &import],
    );
    assert!(ok && said.contains("ok"), "{said}");
    graft(&[&args[..], &["--force"]].concat());
    assert_eq!(d.load(&out), "regraft-test/ext:1");
    let (ok, said) = d_run(&d, &["regraft-test/ext:1", "-c", &import]);
    assert!(!ok && said.contains("ModuleNotFoundError"), "{said}");
}

/// Jars grafted by path onto a JDK 17 base (issue 14): the one whose class is for Java 17 is
/// clean and runs; the one whose class is marked Java 21 (class file version 65) is refused
/// with java-class-version naming the jar, the class in it and both versions (the JVM being
/// the result's `java`, found through PATH); forced, Docker shows the JVM refusing it.
#[test]
fn a_jar_newer_than_the_result_s_jvm_is_refused_and_an_older_one_runs() {
    let Some(d) = docker("a_jar_newer_than_the_result_s_jvm_is_refused_and_an_older_one_runs")
    else {
        return;
    };
    let t = tmp();
    let graft_jar = |dir: &str, tag: &str, extra: &[&str]| {
        let out = t.path().join(format!("{dir}.tar")).display().to_string();
        let path = format!("/opt/{dir}");
        let args = [
            "--from",
            &built("jars.tar"),
            "--onto",
            &built("jdk.tar"),
            "--path",
            &path,
            "--tag",
            tag,
            "-o",
            &out,
        ];
        let (code, doc, err) = graft_code(&[&args[..], extra].concat());
        (code, doc, err, out)
    };
    let (code, doc, err, ok_out) = graft_jar("ok", "regraft-test/jar-ok:1", &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["check"]["errors"], 0, "{err}");
    assert_eq!(d.load(&ok_out), "regraft-test/jar-ok:1");
    let (ok, said) = d_run(
        &d,
        &[
            "--entrypoint",
            "java",
            "regraft-test/jar-ok:1",
            "-jar",
            "/opt/ok/hello.jar",
        ],
    );
    assert!(ok && said.contains("hello from the jar"), "{said}");

    let (code, doc, err, new_out) = graft_jar("new", "regraft-test/jar-new:1", &[]);
    assert_eq!(code, 3, "{err}");
    assert!(!Path::new(&new_out).exists());
    let f = doc["check"]["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{err}");
    assert_eq!(f[0]["check"], "java-class-version");
    assert_eq!(f[0]["path"], "/opt/new/hello.jar");
    let needs = f[0]["needs"].as_str().unwrap();
    assert!(
        needs.contains("version 65 (Java 21)") && needs.contains("Hello.class"),
        "{needs}"
    );
    let missing = f[0]["missing"].as_str().unwrap();
    assert!(
        missing.contains("Java 17") && missing.contains("/release"),
        "{missing}"
    );
    // The narrowest --accept, as the error names it, passes it; the forced result fails as
    // the check said.
    let accept = "java-class-version:/opt/new/hello.jar";
    assert_eq!(f[0]["pass"], format!("--accept {accept}"), "{err}");
    let (code, _, err, _) = graft_jar("new", "regraft-test/jar-new:1", &["--accept", accept]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(d.load(&new_out), "regraft-test/jar-new:1");
    let (ok, said) = d_run(
        &d,
        &[
            "--entrypoint",
            "java",
            "regraft-test/jar-new:1",
            "-jar",
            "/opt/new/hello.jar",
        ],
    );
    assert!(
        !ok && said.contains("UnsupportedClassVersionError"),
        "{said}"
    );
    // `regraft check` of the written result finds the same.
    let o = regraft(&[
        "check",
        &new_out,
        "--old-base",
        &built("jdk.tar"),
        "--path",
        "/opt/new",
        "--json",
    ]);
    let c: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(c["findings"][0]["check"], "java-class-version", "{c:#}");
    assert_eq!(o.status.code(), Some(3));
}

/// A Node application whose native addon was built for Node 18 (NODE_MODULE_VERSION 108),
/// grafted onto a base with Node 20 (115) (issue 14): refused with node-addon-abi naming the
/// addon and both versions; the vendor's own image checks clean and runs it; forced, Node 20
/// refuses the addon, as the check said.
#[test]
fn a_node_addon_for_another_node_is_refused() {
    let Some(d) = docker("a_node_addon_for_another_node_is_refused") else {
        return;
    };
    let t = tmp();
    let out = t.path().join("node.tar").display().to_string();
    let args = [
        "--from",
        &built("nodeaddon.tar"),
        "--onto",
        &built("nodebase.tar"),
        "--path",
        "/opt/app",
        "--tag",
        "regraft-test/node:1",
        "-o",
        &out,
    ];
    let (code, doc, err) = graft_code(&args);
    assert_eq!(code, 3, "{err}");
    let f = doc["check"]["findings"].as_array().unwrap();
    let abi: Vec<_> = f
        .iter()
        .filter(|f| f["check"] == "node-addon-abi")
        .collect();
    assert_eq!(abi.len(), 1, "{err}");
    assert_eq!(abi[0]["severity"], "error");
    assert_eq!(abi[0]["path"], "/opt/app/addon.node");
    assert!(
        abi[0]["needs"]
            .as_str()
            .unwrap()
            .contains("NODE_MODULE_VERSION 108"),
        "{err}"
    );
    let missing = abi[0]["missing"].as_str().unwrap();
    assert!(
        missing.contains("NODE_MODULE_VERSION 115") && missing.contains("libnode.so.115"),
        "{missing}"
    );
    assert_eq!(doc["check"]["errors"], 1, "{err}");
    // The vendor's own image: its node is its addon's (no finding), and it runs.
    let o = regraft(&[
        "check",
        &built("nodeaddon.tar"),
        "--old-base",
        &real("debian-old.tar"),
        "--json",
    ]);
    let c: Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = c["findings"].as_array().unwrap();
    assert!(
        !findings.iter().any(|f| f["check"] == "node-addon-abi"),
        "{c:#}"
    );
    assert_eq!(d.load(&built("nodeaddon.tar")), "vendor-nodeaddon:1");
    let (ok, said) = d_run(&d, &["vendor-nodeaddon:1"]);
    assert!(ok && said.contains("NODE_MODULE_VERSION 108"), "{said}");
    graft(&[&args[..], &["--force"]].concat());
    assert_eq!(d.load(&out), "regraft-test/node:1");
    let (ok, said) = d_run(&d, &["regraft-test/node:1"]);
    assert!(!ok && said.contains("addon.node"), "{said}");
}
