//! Accepting findings one by one: `--accept CHECK[:PATH-GLOB]` (repeatable) and
//! `--accept-file FILE` (one rule a line, `#` comments, in the spirit of `.trivyignore`). An
//! accepted finding stays in the report, marked with the rule that accepted it, and blocks
//! nothing. The glob is the one engine of [`crate::model::glob`], matched against the whole
//! path the finding names (`/opt/app/bin/tool`, `config User`): `*` and `?` stop at `/`, `**`
//! crosses it.

use crate::error::{Error, Result};
use crate::model::glob::Glob;

/// Every check's name, as findings spell it: a rule naming another is a typo, refused.
pub const CHECKS: &[&str] = &[
    "bad-library",
    "java-class-version",
    "libc-mismatch",
    "maintainer-script",
    "library-loaded-first",
    "library-not-in-ld-so-cache",
    "missing-entrypoint",
    "missing-group",
    "missing-interpreter",
    "missing-library",
    "missing-loader",
    "missing-symbol-version",
    "missing-user",
    "node-addon-abi",
    "python-extension-abi",
    "python-venv-version",
    "shadowed-package",
    "type-conflict",
    "unreadable-elf",
    "unreadable-jar",
    "unreadable-ld-so-cache",
    "vendor-package-older",
    "wrong-machine",
];

/// One rule: a check, and optionally the paths it covers.
#[derive(Clone, Debug)]
struct Rule {
    check: String,
    glob: Option<Glob>,
    /// As the user wrote it, for the report.
    text: String,
}

/// The rules of `--accept` and `--accept-file`.
#[derive(Clone, Debug, Default)]
pub struct Accepts {
    rules: Vec<Rule>,
}

impl Accepts {
    /// The rules of the `--accept` flags, then of the lines of an accept file (`file`: its name
    /// and text).
    pub fn new(flags: &[String], file: Option<(&str, &str)>) -> Result<Accepts> {
        let mut rules = Vec::new();
        for f in flags {
            rules.push(rule(f).map_err(|e| Error::Usage(format!("--accept {f:?}: {e}")))?);
        }
        if let Some((name, text)) = file {
            for (i, line) in text.lines().enumerate() {
                let line = line.split_once('#').map_or(line, |(l, _)| l).trim();
                if line.is_empty() {
                    continue;
                }
                rules.push(rule(line).map_err(|e| {
                    Error::Usage(format!("--accept-file {name}, line {}: {e}", i + 1))
                })?);
            }
        }
        Ok(Accepts { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The first rule that accepts a finding of `check` about `path`, as written.
    pub fn find(&self, check: &str, path: &str) -> Option<&str> {
        self.rules
            .iter()
            .find(|r| {
                r.check == check && r.glob.as_ref().is_none_or(|g| g.matches(path.as_bytes()))
            })
            .map(|r| r.text.as_str())
    }
}

/// `CHECK` or `CHECK:PATH-GLOB`.
fn rule(s: &str) -> std::result::Result<Rule, String> {
    let (check, glob) = match s.split_once(':') {
        Some((c, g)) => (c.trim(), Some(g.trim())),
        None => (s.trim(), None),
    };
    if !CHECKS.contains(&check) {
        return Err(format!(
            "unknown check {check:?}; the checks are {}",
            CHECKS.join(", ")
        ));
    }
    if glob == Some("") {
        return Err("an empty path glob (leave out the `:` to accept every path)".into());
    }
    Ok(Rule {
        check: check.to_string(),
        glob: glob.map(|g| Glob::new(g.as_bytes())),
        text: s.trim().to_string(),
    })
}

/// The narrowest `--accept` that passes a finding of `check` about `path`, quoted for a
/// shell when it needs to be.
pub fn narrowest(check: &str, path: &str) -> String {
    let arg = format!("{check}:{path}");
    if arg
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"-_./:+@,=".contains(&c))
    {
        format!("--accept {arg}")
    } else {
        format!("--accept '{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_accepts_its_check_on_the_paths_its_glob_matches() {
        let file = "# the tc plugin is optional\nmissing-library:/usr/lib/tc/*.so  # libatm\n\n\
                    missing-user:config User\n";
        let a = Accepts::new(
            &["missing-interpreter:/opt/**".into(), "type-conflict".into()],
            Some(("accepts", file)),
        )
        .unwrap();
        let cases = [
            (
                "missing-library",
                "/usr/lib/tc/m_xt.so",
                Some("missing-library:/usr/lib/tc/*.so"),
            ),
            ("missing-library", "/usr/lib/tc/sub/m.so", None),
            ("missing-library", "/usr/bin/tc", None),
            ("missing-loader", "/usr/lib/tc/m_xt.so", None),
            (
                "missing-interpreter",
                "/opt/a/b/c.sh",
                Some("missing-interpreter:/opt/**"),
            ),
            ("type-conflict", "/lib", Some("type-conflict")),
            (
                "missing-user",
                "config User",
                Some("missing-user:config User"),
            ),
            ("missing-group", "config User", None),
        ];
        for (check, path, want) in cases {
            assert_eq!(a.find(check, path), want, "{check} {path}");
        }
    }

    #[test]
    fn typos_and_empty_globs_are_refused_with_where_they_are() {
        let e = Accepts::new(&["missing-libary".into()], None).unwrap_err();
        assert!(
            e.to_string().contains("unknown check \"missing-libary\""),
            "{e}"
        );
        let e = Accepts::new(&[], Some(("f", "\nmissing-library:\n"))).unwrap_err();
        assert!(e.to_string().contains("f, line 2"), "{e}");
    }

    #[test]
    fn the_narrowest_rule_is_quoted_only_when_a_shell_needs_it() {
        assert_eq!(
            narrowest("missing-library", "/opt/a/lib.so"),
            "--accept missing-library:/opt/a/lib.so"
        );
        assert_eq!(
            narrowest("missing-user", "config User"),
            "--accept 'missing-user:config User'"
        );
    }
}
