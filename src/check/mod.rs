//! "Will it run?": checks a result image's application files against what the result gives
//! them, before a graft ships. For the application's files (path mode: the selected subtrees;
//! layer mode and `regraft check`: the layers above the base):
//! - ELF programs and libraries: class and machine, the `PT_INTERP` loader, every `DT_NEEDED`
//!   library found the way the loader finds it ([`loader`]), the symbol versions needed from
//!   the libraries that would load, the libc family (glibc program on a musl-only base, or the
//!   reverse);
//! - scripts: the `#!` interpreter exists and is executable (`/usr/bin/env NAME` through PATH);
//! - Entrypoint/Cmd: the program they start exists, through the image's PATH;
//! - User: the config's user and group exist (numeric ids need not);
//! - type conflicts: an application entry whose type differs from the base's at that path;
//! - shadowed OS packages ([`pkgs`]): application entries, whiteouts and opaque markers over
//!   files the base's package manager owns, with both versions;
//! - runtime ABIs: a Python venv's version against the Python its `home` has in the result.
//!
//! Missing things, wrong machine, libc mismatch, type conflicts and a vendor package older than
//! the base's are errors; the rest are warnings. Every finding names the file, what it needs and
//! what is missing.
//!
//! `check` runs the phases in order, one file each: `app.rs` finds the application and reads
//! its ELF files and scripts, `linking.rs` (with `ldconfig.rs` and [`loader`]) the ELF checks,
//! `programs.rs` interpreters and Entrypoint/Cmd, `user.rs`, `conflicts.rs`, [`pkgs`],
//! `runtimes.rs`;
//! `report.rs` sorts and counts the findings.

pub mod accept;
pub mod dbmerge;
pub mod loader;
pub mod pkgs;

mod app;
mod conflicts;
mod graph;
mod ldconfig;
mod linking;
mod programs;
mod report;
mod runtimes;
mod user;

pub use crate::formats::elf::Libc;
pub use report::{Checked, Finding, Report, Severity};

use crate::error::Result;
use crate::model::config::ConfigDoc;
use crate::model::image::Layer;
use crate::view::fs::{Fs, FsInput};
use app::App;
use programs::Programs;
use serde_json::Value;

/// What to check.
pub struct CheckInput<'a> {
    /// For messages.
    pub name: &'a str,
    pub layers: &'a [Layer],
    /// Layers at and above this index are the application's (the base is below).
    pub boundary: usize,
    /// When not empty, the application is these subtrees (cleaned, relative) instead.
    pub paths: &'a [Vec<u8>],
    /// The result's full config JSON.
    pub config: &'a Value,
    pub max_layer_size: u64,
    /// Who verifies the layers on disk (see `fs::Verify`).
    pub verify: crate::view::fs::Verify,
}

impl CheckInput<'_> {
    /// What counts as the application, for people.
    fn application(&self) -> String {
        if self.paths.is_empty() {
            return format!(
                "the {} layer(s) above the base's {}",
                self.layers.len().saturating_sub(self.boundary),
                self.boundary
            );
        }
        self.paths
            .iter()
            .map(|p| abs(p))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A cleaned relative path as the absolute path people know.
fn abs(p: &[u8]) -> String {
    format!("/{}", String::from_utf8_lossy(p))
}

use crate::model::path::is_under as under;

/// Runs every check on the result described by `input`. Returns the report and the
/// filesystem it looked at (the package database merge reuses it).
/// `built`: the filesystem of exactly these layers when the caller already walked them (the
/// graft walks the base and adds its new layer).
pub fn check(input: &CheckInput<'_>, built: Option<Fs>) -> Result<(Report, Fs)> {
    let mut fs = match built {
        Some(fs) => fs,
        None => Fs::build(&FsInput {
            name: input.name,
            layers: input.layers,
            boundary: input.boundary,
            max_layer_size: input.max_layer_size,
            verify: input.verify,
            owned: Some(pkgs::owned_paths),
        })?,
    };
    let config = ConfigDoc::new(input.config);
    let env = config.env_vars();
    let mut findings = Vec::new();
    let app = App::read(&fs, input, &mut findings)?;
    let arch = config.architecture().unwrap_or("");
    linking::check(&mut fs, &app.elves, arch, &env, &mut findings)?;
    let programs = Programs::new(&fs, &env);
    programs.check_scripts(&app.scripts, &mut findings);
    programs.check_entrypoint(config, &mut findings);
    user::check(&fs, config.runtime_str("User").unwrap_or(""), &mut findings)?;
    let raw = app.raw(&fs);
    conflicts::check(&fs, &raw, &mut findings);
    findings.extend(pkgs::shadowed(&fs, &raw)?);
    drop(raw);
    runtimes::check(&mut fs, &env, &app, &mut findings)?;
    let report = Report::new(input.name, input.application(), app.checked(), findings);
    Ok((report, fs))
}

/// The config's checks alone, the ones `regraft config` and `add` gate on: the user and group
/// exist, the Entrypoint/Cmd program exists, for `config` (the full config JSON) over the
/// filesystem of `layers`, with `baseline` (the config before the edit) marking what was
/// already so as pre-existing.
pub fn check_config(
    input: &CheckInput<'_>,
    baseline: &Value,
    accepts: &accept::Accepts,
) -> Result<Report> {
    let fs = Fs::build(&FsInput {
        name: input.name,
        layers: input.layers,
        boundary: input.layers.len(),
        max_layer_size: input.max_layer_size,
        verify: input.verify,
        owned: None,
    })?;
    let run = |config: &Value| -> Result<Vec<Finding>> {
        let config = ConfigDoc::new(config);
        let mut findings = Vec::new();
        Programs::new(&fs, &config.env_vars()).check_entrypoint(config, &mut findings);
        user::check(&fs, config.runtime_str("User").unwrap_or(""), &mut findings)?;
        Ok(findings)
    };
    let checked = Checked::default();
    let what = "the config's User, Entrypoint and Cmd".to_string();
    let mut report = Report::new(
        input.name,
        what.clone(),
        checked.clone(),
        run(input.config)?,
    );
    report.compare_with(&Report::new(input.name, what, checked, run(baseline)?));
    report.baseline = Some(format!("{} before the edit", input.name));
    report.accept(accepts);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::digest::{DiffId, Digest};
    use crate::model::image::BlobData;
    use crate::model::spec::{Descriptor, media};
    use serde_json::json;
    use std::sync::Arc;

    /// One tar entry of a synthetic layer.
    pub(super) enum T<'a> {
        File(&'a str, u32, &'a str),
        Dir(&'a str),
        Symlink(&'a str, &'a str),
        Bytes(&'a str, &'a [u8]),
    }

    pub(super) fn layer(entries: &[T<'_>]) -> Layer {
        let mut b = tar::Builder::new(Vec::new());
        for e in entries {
            let mut h = tar::Header::new_gnu();
            let (path, data) = match e {
                T::File(p, mode, data) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(*mode);
                    (*p, data.as_bytes())
                }
                T::Dir(p) => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(0o755);
                    (*p, &b""[..])
                }
                T::Bytes(p, data) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(0o644);
                    (*p, *data)
                }
                T::Symlink(p, target) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_mode(0o777);
                    h.set_link_name(target).unwrap();
                    (*p, &b""[..])
                }
            };
            h.set_path(path).unwrap();
            h.set_size(data.len() as u64);
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let d = Digest::of(&bytes);
        Layer {
            desc: Descriptor::new(media::OCI_LAYER, d.clone(), bytes.len() as u64),
            diff_id: DiffId(d),
            data: BlobData::Bytes(Arc::new(bytes)),
            history: None,
            checked: Default::default(),
        }
    }

    fn list(paths: &[&str]) -> String {
        paths.iter().map(|p| format!("{p}\n")).collect()
    }

    /// A base with a dpkg database and an application layer that trips every check but the
    /// ELF ones (the integration tests run those on real programs).
    fn layers() -> Vec<Layer> {
        let foo = [
            "/usr/lib/foo/a",
            "/usr/lib/foo/b",
            "/usr/lib/foo/c",
            "/usr/lib/foo/d",
        ];
        let foo_list = list(&foo);
        // The apt-lists cleanup deletes a directory libbar ships empty: not a shadowed file.
        let bar_list = list(&[
            "/opt/bar",
            "/opt/bar/x",
            "/opt/bar/y",
            "/opt/baz/z",
            "/var/lib/apt/lists/partial",
        ]);
        let status = "Package: libfoo\nStatus: install ok installed\nVersion: 1.2\n\n\
                      Package: libbar\nStatus: install ok installed\nVersion: 2.0\n";
        let mut base = vec![
            T::File(
                "etc/passwd",
                0o644,
                "root:x:0:0::/root:/bin/sh\napp:x:1:1::/:/bin/sh\n",
            ),
            T::File("etc/group", 0o644, "root:x:0:\n"),
            T::File("bin/sh", 0o755, "sh"),
            T::File("usr/bin/env", 0o755, "env"),
            T::File("usr/bin/tool", 0o644, "not executable"),
            T::Dir("etc/thing/"),
            T::Dir("usr/lib/"),
            T::Symlink("lib", "usr/lib"),
            T::File("var/lib/dpkg/status", 0o644, status),
            T::File("var/lib/dpkg/info/libfoo:amd64.list", 0o644, &foo_list),
            T::File("var/lib/dpkg/info/libbar.list", 0o644, &bar_list),
            T::File("opt/bar/x", 0o644, "x"),
            T::File("opt/bar/y", 0o644, "y"),
            T::File("opt/baz/z", 0o644, "z"),
            T::Dir("var/lib/apt/lists/partial/"),
        ];
        base.extend(foo.iter().map(|p| T::File(&p[1..], 0o644, "old")));
        let mut app = vec![
            T::File(
                "var/lib/dpkg/status",
                0o644,
                "Package: libfoo\nVersion: 1.0\n",
            ),
            T::File("app/run.sh", 0o755, "#!/bin/sh\necho\n"),
            T::File("app/py.sh", 0o755, "#!/usr/bin/python3 -u\n"),
            T::File("app/node.sh", 0o755, "#!/usr/bin/env -S node --x\n"),
            T::File("app/env-ok.sh", 0o755, "#!/usr/bin/env sh\n"),
            T::File("app/empty.sh", 0o755, "#!\n"),
            T::File("app/plain.sh", 0o644, "#!/nowhere\n"),
            T::File("app/data", 0o755, "text"),
            T::File("app/broken", 0o755, "\x7fELF"),
            T::File("etc/thing", 0o644, "a file over a directory"),
            T::Dir("lib/"),
            T::File("lib/own.so", 0o644, "x"),
            T::File("opt/bar/.wh.x", 0o644, ""),
            T::File("opt/baz/.wh..wh..opq", 0o644, ""),
            T::File("var/lib/apt/lists/.wh.partial", 0o644, ""),
        ];
        app.extend(foo.iter().map(|p| T::File(&p[1..], 0o644, "new")));
        vec![layer(&base), layer(&app)]
    }

    fn run(layers: &[Layer], paths: &[Vec<u8>], config: &Value) -> Report {
        let (report, _) = check(
            &CheckInput {
                name: "img",
                layers,
                boundary: 1,
                paths,
                config,
                max_layer_size: u64::MAX,
                verify: crate::view::fs::Verify::Here,
            },
            None,
        )
        .unwrap();
        report
    }

    fn assert_lines(got: &str, want: &[&str]) {
        assert_eq!(got.lines().collect::<Vec<_>>(), want, "{got}");
        assert!(got.ends_with('\n'));
    }

    #[test]
    fn application_entries_are_recorded_by_what_the_base_has_and_its_packages_list() {
        // libqux lists a file its image does not have (dpkg's path-exclude, or a later
        // whiteout); the application writes it, and files of its own elsewhere.
        let status = "Package: libqux\nStatus: install ok installed\nVersion: 1.0\n";
        let base = layer(&[
            T::File("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
            T::File("var/lib/dpkg/status", 0o644, status),
            T::File(
                "var/lib/dpkg/info/libqux.list",
                0o644,
                "/usr/share/qux/data\n",
            ),
            T::Dir("usr/share/"),
        ]);
        let app = layer(&[
            T::File("usr/share/qux/data", 0o644, "new"),
            T::File("opt/own/f", 0o644, "f"),
            T::File("opt/own/g", 0o644, "g"),
        ]);
        let config = json!({"architecture": "amd64", "config": {}});
        let input = CheckInput {
            name: "img",
            layers: &[base, app],
            boundary: 1,
            paths: &[],
            config: &config,
            max_layer_size: u64::MAX,
            verify: crate::view::fs::Verify::Here,
        };
        let (report, fs) = check(&input, None).unwrap();
        let text = report.text();
        assert!(
            text.contains("shadowed-package] /usr/share/qux/data"),
            "{text}"
        );
        // Recorded: what lands on a listed path; not the application's own files.
        let recorded: Vec<&[u8]> = fs.app.iter().map(|e| &e.path[..]).collect();
        assert!(
            recorded.contains(&&b"usr/share/qux/data"[..]),
            "{recorded:?}"
        );
        assert!(
            !recorded.iter().any(|p| p.starts_with(b"opt/own")),
            "{recorded:?}"
        );
    }

    /// The config `layers()` is checked with: an Entrypoint that is missing, a user whose
    /// group is not there.
    fn layers_config() -> Value {
        json!({
            "architecture": "amd64",
            "config": {"Entrypoint": ["/app/missing"], "User": "app:staff",
                       "Env": ["PATH=/usr/bin:/bin"]}
        })
    }

    #[test]
    fn recording_by_the_base_finds_what_recording_every_entry_finds() {
        // The synthetic image has type conflicts (a file over a directory, a directory over
        // the base's `lib` symlink), shadowed and deleted package files, whiteouts and an
        // opaque marker; with and without --path selections.
        let config = layers_config();
        let layers = layers();
        let selections: [Vec<Vec<u8>>; 3] = [
            vec![],
            vec![b"usr/lib".to_vec(), b"etc".to_vec()],
            vec![b"lib".to_vec(), b"opt".to_vec()],
        ];
        for paths in &selections {
            let input = CheckInput {
                name: "img",
                layers: &layers,
                boundary: 1,
                paths,
                config: &config,
                max_layer_size: u64::MAX,
                verify: crate::view::fs::Verify::Here,
            };
            let every = Fs::build(&FsInput {
                name: "img",
                layers: &layers,
                boundary: 1,
                max_layer_size: u64::MAX,
                verify: crate::view::fs::Verify::Here,
                owned: None,
            })
            .unwrap();
            let recorded_all = every.app.len();
            let (by_base, fs) = check(&input, None).unwrap();
            let (all, _) = check(&input, Some(every)).unwrap();
            assert_eq!(by_base.text(), all.text(), "{paths:?}");
            assert!(
                fs.app.len() < recorded_all,
                "{} {recorded_all}",
                fs.app.len()
            );
        }
    }

    #[test]
    fn every_check_but_elf_on_a_synthetic_image() {
        let config = layers_config();
        assert_lines(&run(&layers(), &[], &config).text(), WANT_LAYERS);
    }

    #[test]
    fn an_accept_rule_passes_its_finding_and_no_other() {
        let config = json!({"config": {"Entrypoint": ["/app/missing"], "User": "app:staff"}});
        let mut r = run(&layers(), &[], &config);
        let before = (r.errors, r.warnings);
        r.accept(&accept::Accepts::new(&["missing-interpreter:/app/n*.sh".into()], None).unwrap());
        assert_eq!(
            (r.errors, r.warnings, r.accepted),
            (before.0 - 1, before.1, 1)
        );
        let got: Vec<_> = r.findings.iter().filter(|f| f.accepted.is_some()).collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].path, "/app/node.sh");
        assert_eq!(got[0].pass, None);
        let text = r.text();
        assert!(text.contains(", 1 accepted in img"), "{text}");
        let line =
            "  error[missing-interpreter] /app/node.sh (accepted: missing-interpreter:/app/n*.sh)";
        assert!(text.contains(line), "{text}");
        // Every finding names a check a rule may name.
        assert!(
            r.findings
                .iter()
                .all(|f| accept::CHECKS.contains(&f.check.as_str()))
        );
    }

    #[test]
    fn class_files_newer_than_the_applications_jvm() {
        let base = layer(&[T::File("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n")]);
        let class = |major: u8| [0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, major];
        let (new, old) = (class(65), class(61));
        let jvm = T::File("opt/jdk/release", 0o644, "JAVA_VERSION=\"17.0.9\"\n");
        let app = layer(&[
            T::Bytes("opt/app/A.class", &new),
            T::Bytes("opt/app/B.class", &old),
            jvm,
        ]);
        let r = run(&[base.clone(), app], &[], &json!({}));
        let f: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.check == "java-class-version")
            .collect();
        assert_eq!(f.len(), 1, "{}", r.text());
        assert_eq!(f[0].path, "/opt/app/A.class");
        assert!(f[0].needs.contains("version 65 (Java 21)"), "{}", r.text());
        assert!(f[0].missing.contains("Java 17"), "{}", r.text());
        // Class files the JVM runs, or no JVM in the application: nothing to say.
        let ok = layer(&[
            T::Bytes("opt/app/B.class", &old),
            T::File("opt/jdk/release", 0o644, "JAVA_VERSION=\"17\""),
        ]);
        assert!(
            run(&[base.clone(), ok], &[], &json!({}))
                .findings
                .is_empty()
        );
        let alone = layer(&[T::Bytes("opt/app/A.class", &new)]);
        assert!(run(&[base, alone], &[], &json!({})).findings.is_empty());
    }

    #[test]
    fn classes_in_jars_against_the_result_s_java() {
        let class = |major: u8| vec![0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, major];
        let jar = |entries: &[(&str, &[u8], bool)]| crate::formats::zip::for_tests(entries);
        // The result's JVM: /usr/bin/java -> the JDK's bin/java, its release beside bin/.
        let base = layer(&[
            T::File("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
            T::File("usr/lib/jvm/j17/bin/java", 0o755, "#!/bin/sh\n"),
            T::File(
                "usr/lib/jvm/j17/release",
                0o644,
                "JAVA_VERSION=\"17.0.9\"\n",
            ),
            T::Symlink("usr/bin/java", "../lib/jvm/j17/bin/java"),
        ]);
        let (new, old) = (class(65), class(61));
        let bad = jar(&[
            ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n", true),
            ("a/Old.class", &old, true),
            ("a/New.class", &new, true),
            // Neither is loaded by a Java 17 JVM as a class of the application.
            ("META-INF/versions/21/a/Old.class", &new, true),
            ("module-info.class", &new, false),
        ]);
        let good = jar(&[
            ("a/Old.class", &old, false),
            ("META-INF/versions/21/a/Old.class", &new, true),
            ("module-info.class", &new, true),
        ]);
        let r = run(
            &[
                base.clone(),
                layer(&[T::Bytes("opt/app/lib/app.jar", &bad)]),
            ],
            &[],
            &json!({}),
        );
        let f: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.check == "java-class-version")
            .collect();
        assert_eq!(f.len(), 1, "{}", r.text());
        assert_eq!(f[0].path, "/opt/app/lib/app.jar");
        assert!(f[0].needs.contains("(a/New.class in it)"), "{}", r.text());
        assert!(
            f[0].needs.contains("newest of 2 class file(s)"),
            "{}",
            r.text()
        );
        assert!(
            f[0].missing.contains("Java 17 (/usr/lib/jvm/j17/release"),
            "{}",
            r.text()
        );
        let r = run(
            &[
                base.clone(),
                layer(&[T::Bytes("opt/app/lib/app.jar", &good)]),
            ],
            &[],
            &json!({}),
        );
        assert!(r.findings.is_empty(), "{}", r.text());
        // A jar that is no zip is a warning naming it, not an error.
        let r = run(
            &[
                base,
                layer(&[T::Bytes("opt/app/lib/broken.jar", b"PK\x03\x04 not really")]),
            ],
            &[],
            &json!({}),
        );
        assert_eq!(r.errors, 0, "{}", r.text());
        assert_eq!(r.findings[0].check, "unreadable-jar", "{}", r.text());
        assert_eq!(r.findings[0].path, "/opt/app/lib/broken.jar");
    }

    #[test]
    fn cmd_through_path_and_working_dir_and_selected_paths() {
        let layers = layers();
        let cases: [(Value, &[&str], &[&str]); 3] = [
            (
                json!({"config": {"Cmd": ["tool"], "User": "1000:nogroup"}}),
                &["app"],
                WANT_APP,
            ),
            (
                json!({"config": {"Cmd": ["app/run.sh"], "WorkingDir": "/", "User": "ghost"}}),
                &["opt", "lib"],
                WANT_OPT_LIB,
            ),
            (
                json!({"config": {"Cmd": ["./run.sh"], "WorkingDir": "/app"}}),
                &["usr/lib/foo"],
                WANT_FOO,
            ),
        ];
        for (config, paths, want) in cases {
            let paths: Vec<Vec<u8>> = paths.iter().map(|p| p.as_bytes().to_vec()).collect();
            let got = run(&layers, &paths, &config).text();
            assert_lines(&got, want);
        }
    }

    const WANT_APP: &[&str] = &[
        "regraft check: 5 error(s), 1 warning(s) in img (/app; 0 ELF file(s), 5 script(s))",
        "  error[missing-entrypoint] config Cmd",
        "      needs:   the program tool",
        "      missing: no executable tool in PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "      pass:    --accept 'missing-entrypoint:config Cmd'",
        "  error[missing-group] config User",
        "      needs:   the group nogroup (User 1000:nogroup)",
        "      missing: /etc/group of the result has no group nogroup",
        "      pass:    --accept 'missing-group:config User'",
        "  error[missing-interpreter] /app/empty.sh",
        "      needs:   an interpreter on its #! line",
        "      missing: the #! line is empty",
        "      pass:    --accept missing-interpreter:/app/empty.sh",
        "  error[missing-interpreter] /app/node.sh",
        "      needs:   the interpreter node (#!/usr/bin/env node, through PATH)",
        "      missing: no executable node in PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "      pass:    --accept missing-interpreter:/app/node.sh",
        "  error[missing-interpreter] /app/py.sh",
        "      needs:   the interpreter /usr/bin/python3 (#!)",
        "      missing: /usr/bin/python3 does not exist in the result or is not executable",
        "      pass:    --accept missing-interpreter:/app/py.sh",
        "  warning[unreadable-elf] /app/broken",
        "      needs:   a readable ELF file",
        "      missing: not an ELF file",
    ];
    const WANT_OPT_LIB: &[&str] = &[
        "regraft check: 2 error(s), 1 warning(s) in img (/opt, /lib; 0 ELF file(s), 0 script(s))",
        "  error[missing-user] config User",
        "      needs:   the user ghost (User ghost)",
        "      missing: /etc/passwd of the result has no user ghost",
        "      pass:    --accept 'missing-user:config User'",
        "  error[type-conflict] /lib",
        "      needs:   a directory (layer 1)",
        "      missing: it replaces the base's symlink /lib -> usr/lib, and everything the base has through it",
        "      pass:    --accept type-conflict:/lib",
        "  warning[shadowed-package] /opt/bar/x",
        "      needs:   files of the base's package libbar 2.0",
        "      missing: the application deletes 2 file(s): /opt/bar/x, /opt/baz/z owned by the base's dpkg package libbar 2.0",
    ];
    const WANT_FOO: &[&str] = &[
        "regraft check: 1 error(s), 0 warning(s) in img (/usr/lib/foo; 0 ELF file(s), 0 script(s))",
        "  error[vendor-package-older] /usr/lib/foo/a",
        "      needs:   its own libfoo 1.0, older than the base's libfoo 1.2",
        "      missing: the application replaces 4 file(s): /usr/lib/foo/a, /usr/lib/foo/b, /usr/lib/foo/c and 1 more owned by the base's dpkg package libfoo 1.2",
        "      pass:    --accept vendor-package-older:/usr/lib/foo/a",
    ];
    const WANT_LAYERS: &[&str] = &[
        "regraft check: 8 error(s), 2 warning(s) in img (the 1 layer(s) above the base's 1; 0 ELF file(s), 5 script(s))",
        "  error[missing-entrypoint] config Entrypoint",
        "      needs:   the program /app/missing",
        "      missing: /app/missing does not exist in the result or is not executable",
        "      pass:    --accept 'missing-entrypoint:config Entrypoint'",
        "  error[missing-group] config User",
        "      needs:   the group staff (User app:staff)",
        "      missing: /etc/group of the result has no group staff",
        "      pass:    --accept 'missing-group:config User'",
        "  error[missing-interpreter] /app/empty.sh",
        "      needs:   an interpreter on its #! line",
        "      missing: the #! line is empty",
        "      pass:    --accept missing-interpreter:/app/empty.sh",
        "  error[missing-interpreter] /app/node.sh",
        "      needs:   the interpreter node (#!/usr/bin/env node, through PATH)",
        "      missing: no executable node in PATH=/usr/bin:/bin",
        "      pass:    --accept missing-interpreter:/app/node.sh",
        "  error[missing-interpreter] /app/py.sh",
        "      needs:   the interpreter /usr/bin/python3 (#!)",
        "      missing: /usr/bin/python3 does not exist in the result or is not executable",
        "      pass:    --accept missing-interpreter:/app/py.sh",
        "  error[type-conflict] /etc/thing",
        "      needs:   a file (layer 1)",
        "      missing: it replaces the base's directory /etc/thing, and everything the base has through it",
        "      pass:    --accept type-conflict:/etc/thing",
        "  error[type-conflict] /lib",
        "      needs:   a directory (layer 1)",
        "      missing: it replaces the base's symlink /lib -> usr/lib, and everything the base has through it",
        "      pass:    --accept type-conflict:/lib",
        "  error[vendor-package-older] /usr/lib/foo/a",
        "      needs:   its own libfoo 1.0, older than the base's libfoo 1.2",
        "      missing: the application replaces 4 file(s): /usr/lib/foo/a, /usr/lib/foo/b, /usr/lib/foo/c and 1 more owned by the base's dpkg package libfoo 1.2",
        "      pass:    --accept vendor-package-older:/usr/lib/foo/a",
        "  warning[shadowed-package] /opt/bar/x",
        "      needs:   files of the base's package libbar 2.0",
        "      missing: the application deletes 2 file(s): /opt/bar/x, /opt/baz/z owned by the base's dpkg package libbar 2.0",
        "  warning[unreadable-elf] /app/broken",
        "      needs:   a readable ELF file",
        "      missing: not an ELF file",
    ];
}
