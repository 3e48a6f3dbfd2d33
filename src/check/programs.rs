//! What starts the application: each script's `#!` interpreter (`/usr/bin/env NAME` through
//! PATH) and the program the config's Entrypoint or Cmd names, found the way `execve` and
//! `env` find them: the file exists in the result (symlinks followed) and is executable.

use super::abs;
use super::app::Script;
use super::report::{Finding, Severity};
use crate::layer::entry::Kind;
use crate::model::config::ConfigDoc;
use crate::view::fs::Fs;
use std::collections::BTreeMap;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Finds programs in the result, through the config's PATH (or the default one).
pub struct Programs<'a> {
    fs: &'a Fs,
    path_env: String,
}

impl<'a> Programs<'a> {
    pub fn new(fs: &'a Fs, env: &BTreeMap<String, String>) -> Programs<'a> {
        Programs {
            fs,
            path_env: env
                .get("PATH")
                .cloned()
                .unwrap_or_else(|| DEFAULT_PATH.to_string()),
        }
    }

    /// The real path of an executable regular file at `p`.
    fn executable(&self, p: &str) -> Option<String> {
        match self.fs.lookup(p) {
            Some((r, n)) if n.kind == Kind::File && n.meta.mode & 0o111 != 0 => Some(abs(&r)),
            _ => None,
        }
    }

    /// The first executable `name` in a PATH directory.
    pub fn in_path(&self, name: &str) -> Option<String> {
        self.path_env
            .split(':')
            .filter(|d| !d.is_empty())
            .find_map(|d| self.executable(&format!("{}/{name}", d.trim_end_matches('/'))))
    }

    /// Each script's interpreter, and the program `#!/usr/bin/env` runs.
    pub fn check_scripts(&self, scripts: &[Script], out: &mut Vec<Finding>) {
        for s in scripts {
            if let Some(f) = self.script_problem(s) {
                out.push(f);
            }
        }
    }

    fn script_problem(&self, s: &Script) -> Option<Finding> {
        let line = String::from_utf8_lossy(&s.line);
        let mut words = line.split_whitespace();
        let missing = |needs: String, missing: String| {
            Finding::new(
                Severity::Error,
                "missing-interpreter",
                &s.path,
                needs,
                missing,
            )
        };
        let Some(interp) = words.next() else {
            return Some(missing(
                "an interpreter on its #! line".into(),
                "the #! line is empty".into(),
            ));
        };
        if self.executable(interp).is_none() {
            return Some(missing(
                format!("the interpreter {interp} (#!)"),
                format!("{interp} does not exist in the result or is not executable"),
            ));
        }
        let path_env = &self.path_env;
        if interp.ends_with("/env")
            && let Some(prog) = words.find(|w| !w.starts_with('-'))
            && !prog.contains('=')
            && self.in_path(prog).is_none()
        {
            return Some(missing(
                format!("the interpreter {prog} (#!{interp} {prog}, through PATH)"),
                format!("no executable {prog} in PATH={path_env}"),
            ));
        }
        None
    }

    /// The program the container starts: Entrypoint's first word, else Cmd's; a name without
    /// `/` through PATH, a relative path from WorkingDir.
    pub fn check_entrypoint(&self, config: ConfigDoc<'_>, out: &mut Vec<Finding>) {
        let entrypoint = config.runtime_strings("Entrypoint");
        let (field, argv) = if entrypoint.is_empty() {
            ("config Cmd", config.runtime_strings("Cmd"))
        } else {
            ("config Entrypoint", entrypoint)
        };
        let Some(prog) = argv.first() else { return };
        let found = if prog.contains('/') {
            let p = if prog.starts_with('/') {
                prog.clone()
            } else {
                let workdir = config.runtime_str("WorkingDir").unwrap_or("");
                format!("{}/{prog}", if workdir.is_empty() { "/" } else { workdir })
            };
            self.executable(&p)
        } else {
            self.in_path(prog)
        };
        if found.is_some() {
            return;
        }
        out.push(Finding::new(
            Severity::Error,
            "missing-entrypoint",
            field,
            format!("the program {prog}"),
            if prog.contains('/') {
                format!("{prog} does not exist in the result or is not executable")
            } else {
                format!("no executable {} in PATH={}", prog, self.path_env)
            },
        ));
    }
}
