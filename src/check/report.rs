//! What a check found: findings (the file, what it needs, what is missing), what was looked at,
//! and the report as a document and as text for people.

use super::dbmerge;
use crate::model::limits::MAX_FINDINGS;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding: the file, what it needs, what is missing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A short kebab-case name: `missing-library`, `libc-mismatch`, ...
    pub check: String,
    /// The file (absolute path in the result) or config field the finding is about.
    pub path: String,
    pub needs: String,
    pub missing: String,
    /// The vendor's own image (the baseline) has this finding too: the graft did not cause it,
    /// so it is a warning, never an error.
    pub pre_existing: bool,
    /// The `--accept` rule that accepted this finding: listed, blocking nothing.
    pub accepted: Option<String>,
    /// For an error that blocks: the narrowest `--accept` that would pass it.
    pub pass: Option<String>,
}

impl Finding {
    pub(super) fn new(
        sev: Severity,
        check: &str,
        path: &str,
        needs: String,
        missing: String,
    ) -> Finding {
        Finding {
            severity: sev,
            check: check.into(),
            path: path.into(),
            needs,
            missing,
            pre_existing: false,
            accepted: None,
            pass: None,
        }
    }

    /// The finding for people: `severity[check] PATH`, what it needs, what is missing, and,
    /// for an error that blocks, the `--accept` that would pass it.
    fn write_text(&self, o: &mut String) {
        use std::fmt::Write as _;
        let z = crate::text::sanitize;
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let pre = if self.pre_existing {
            " (pre-existing)"
        } else {
            ""
        };
        let acc = self
            .accepted
            .as_ref()
            .map(|a| format!(" (accepted: {})", z(a)))
            .unwrap_or_default();
        let _ = writeln!(o, "  {sev}[{}] {}{pre}{acc}", self.check, z(&self.path));
        let _ = writeln!(o, "      needs:   {}", z(&self.needs));
        let _ = writeln!(o, "      missing: {}", z(&self.missing));
        if let Some(p) = &self.pass {
            let _ = writeln!(o, "      pass:    {}", z(p));
        }
    }

    /// What makes two findings the same one in two images: the check, the file and what it
    /// needs (what is missing names search paths, which differ between bases).
    fn key(&self) -> (&str, &str, &str) {
        (&self.check, &self.path, &self.needs)
    }
}

/// The one finding that counts those past `MAX_FINDINGS` (the report's totals count them too).
fn more_findings(rest: &[Finding]) -> Finding {
    let errors = rest
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let what = format!(
        "{} more finding(s) not listed ({errors} error(s), {} warning(s))",
        rest.len(),
        rest.len() - errors
    );
    Finding::new(
        rest.first().map_or(Severity::Warning, |f| f.severity),
        MORE,
        "",
        "a report that lists every finding".into(),
        MAX_FINDINGS.error("this report", what).to_string(),
    )
}

/// The check name of the finding that counts the findings past `MAX_FINDINGS`.
const MORE: &str = "more-findings";
/// The kind of finding the baseline never makes a warning (see `Report::compare_with`).
const WRONG_MACHINE: &str = "wrong-machine";

#[derive(Clone, Debug, Default, Serialize)]
pub struct Checked {
    pub elf_files: usize,
    pub scripts: usize,
    pub application_entries: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub image: String,
    /// What counted as the application.
    pub application: String,
    pub checked: Checked,
    /// Errors that block: neither pre-existing nor accepted.
    pub errors: usize,
    /// Warnings not accepted, the pre-existing findings among them.
    pub warnings: usize,
    /// Findings an `--accept` rule accepted (errors and warnings).
    pub accepted: usize,
    /// Findings the baseline has too (counted among the warnings).
    pub pre_existing: usize,
    /// The image whose findings count as pre-existing, when there was one.
    pub baseline: Option<String>,
    pub findings: Vec<Finding>,
    /// Set when a graft adds a merged package database layer.
    pub package_database: Option<dbmerge::MergeSummary>,
    /// The findings past `MAX_FINDINGS`: counted, not listed (kept for a later recount).
    #[serde(skip)]
    hidden: Vec<Finding>,
}

impl Report {
    /// The report of `findings`: sorted (errors first), duplicates dropped, counted; past
    /// `MAX_FINDINGS`, the rest are counted in one more finding.
    pub(super) fn new(
        image: &str,
        application: String,
        checked: Checked,
        findings: Vec<Finding>,
    ) -> Report {
        let mut r = Report {
            image: image.to_string(),
            application,
            checked,
            errors: 0,
            warnings: 0,
            accepted: 0,
            pre_existing: 0,
            baseline: None,
            findings,
            package_database: None,
            hidden: Vec::new(),
        };
        r.recount();
        r
    }

    /// Puts the findings past the limit back with the others (and drops the one that counted
    /// them), before the findings are marked or counted again.
    fn unhide(&mut self) {
        if !self.hidden.is_empty() {
            self.findings.retain(|f| f.check != MORE);
            self.findings.append(&mut self.hidden);
        }
    }

    /// Drops the findings of check `name` (a caller whose layer is the package manager's own
    /// update: `regraft patch` and `shadowed-package`), and counts again.
    pub fn drop_check(&mut self, name: &str) {
        self.unhide();
        self.findings.retain(|f| f.check != name);
        self.recount();
    }

    /// Sorts (errors first), drops duplicates, counts, and names the narrowest `--accept` for
    /// each error that blocks.
    fn recount(&mut self) {
        self.unhide();
        self.findings.sort();
        self.findings.dedup();
        let count = |p: &dyn Fn(&Finding) -> bool| self.findings.iter().filter(|f| p(f)).count();
        self.accepted = count(&|f| f.accepted.is_some());
        self.errors = count(&|f| f.severity == Severity::Error && f.accepted.is_none());
        self.warnings = self.findings.len() - self.errors - self.accepted;
        self.pre_existing = count(&|f| f.pre_existing);
        for f in &mut self.findings {
            f.pass = (f.severity == Severity::Error && f.accepted.is_none())
                .then(|| super::accept::narrowest(&f.check, &f.path));
        }
        if self.findings.len() > MAX_FINDINGS.get() {
            self.hidden = self.findings.split_off(MAX_FINDINGS.get());
            self.findings.push(more_findings(&self.hidden));
        }
    }

    /// Marks the findings `rules` accept.
    pub fn accept(&mut self, rules: &super::accept::Accepts) {
        self.unhide();
        for f in &mut self.findings {
            f.accepted = rules.find(&f.check, &f.path).map(str::to_string);
        }
        self.recount();
    }

    /// Marks the findings `baseline` (the application as it stands in the vendor's own image)
    /// has too as pre-existing: warnings, never errors. Only what the graft broke stays an error,
    /// and a file built for another machine than the image's platform: no base can make it run
    /// (the vendor's arm64 image shipping its amd64 binary is what a multi-platform graft must
    /// not pass on).
    pub fn compare_with(&mut self, baseline: &Report) {
        let known: std::collections::BTreeSet<_> = (baseline.findings.iter())
            .chain(&baseline.hidden)
            .map(Finding::key)
            .collect();
        self.unhide();
        for f in &mut self.findings {
            if known.contains(&f.key()) && f.check != WRONG_MACHINE {
                f.pre_existing = true;
                f.severity = Severity::Warning;
            }
        }
        self.baseline = Some(baseline.image.clone());
        self.recount();
    }

    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// One line for a check that blocks nothing: that it passed, and what it covered.
    pub fn passed(&self) -> String {
        let mut notes = vec![format!("{} warning(s)", self.warnings)];
        if self.pre_existing > 0 {
            notes.push(format!("{} pre-existing", self.pre_existing));
        }
        if self.accepted > 0 {
            notes.push(format!("{} accepted", self.accepted));
        }
        format!(
            "check passed ({}): {}; {} ELF file(s), {} script(s), {} entries: loaders, libraries, \
             symbol versions, interpreters, Entrypoint/Cmd, user, type conflicts, shadowed \
             packages, runtimes (Python venvs and extensions, JVM class files and jars, Node \
             addons)",
            notes.join(", "),
            crate::text::sanitize(&self.application),
            self.checked.elf_files,
            self.checked.scripts,
            self.checked.application_entries
        )
    }

    /// The findings for people, one block per finding, errors first.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let z = crate::text::sanitize;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "regraft check: {} error(s), {} warning(s){} in {} ({}; {} ELF file(s), {} script(s))",
            self.errors,
            self.warnings,
            if self.accepted > 0 {
                format!(", {} accepted", self.accepted)
            } else {
                String::new()
            },
            z(&self.image),
            z(&self.application),
            self.checked.elf_files,
            self.checked.scripts
        );
        if let Some(b) = self.baseline.as_ref().filter(|_| self.pre_existing > 0) {
            let _ = writeln!(
                o,
                "  {} finding(s) pre-existing: the application has them in {} too (warnings)",
                self.pre_existing,
                z(b)
            );
        }
        for f in &self.findings {
            f.write_text(&mut o);
        }
        if let Some(m) = &self.package_database {
            let _ = writeln!(o, "  {}", z(&m.text()));
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(sev: Severity, check: &str, path: &str, needs: &str, missing: &str) -> Finding {
        Finding::new(sev, check, path, needs.into(), missing.into())
    }

    #[test]
    fn only_what_the_baseline_lacks_stays_an_error() {
        let e = Severity::Error;
        let mut r = Report::new(
            "result",
            "app".into(),
            Checked::default(),
            vec![
                f(e, "missing-library", "/a", "libatm.so.1", "searched /x"),
                f(e, "missing-library", "/b", "libnew.so.1", "searched /x"),
                f(e, "missing-interpreter", "/c", "python", "gone"),
            ],
        );
        let base = Report::new(
            "vendor",
            "app".into(),
            Checked::default(),
            vec![
                // Same check, file and need; another search path: the same finding.
                f(e, "missing-library", "/a", "libatm.so.1", "searched /y"),
                // Another need: not the same.
                f(e, "missing-interpreter", "/c", "perl", "gone"),
            ],
        );
        r.compare_with(&base);
        assert_eq!((r.errors, r.warnings, r.pre_existing), (2, 1, 1));
        let pre: Vec<_> = r.findings.iter().filter(|f| f.pre_existing).collect();
        assert_eq!(pre.len(), 1);
        assert_eq!(
            (pre[0].path.as_str(), pre[0].severity),
            ("/a", Severity::Warning)
        );
        let text = r.text();
        assert!(
            text.contains("warning[missing-library] /a (pre-existing)"),
            "{text}"
        );
        assert!(text.contains("1 finding(s) pre-existing"), "{text}");
    }

    #[test]
    fn findings_past_the_limit_are_counted_in_one() {
        let f =
            |i: usize, sev| Finding::new(sev, "x", &format!("/f{i:05}"), "n".into(), "m".into());
        let mut all: Vec<Finding> = (0..1500).map(|i| f(i, Severity::Warning)).collect();
        all.extend((0..10).map(|i| f(i, Severity::Error)));
        let r = Report::new("img", "app".into(), Checked::default(), all);
        assert_eq!((r.errors, r.warnings), (10, 1500));
        assert_eq!(r.findings.len(), MAX_FINDINGS.get() + 1);
        let last = r.findings.last().unwrap();
        assert_eq!(last.check, "more-findings");
        assert!(last.missing.starts_with("this report: 510 more finding(s) not listed (0 error(s), 510 warning(s)), over the limit of 1000 findings (MAX_FINDINGS)"), "{last:?}");
        assert!(r.has_errors());
        // A baseline that has every error: the unlisted findings are marked and counted too.
        let mut r = r;
        let errs: Vec<Finding> = (0..10).map(|i| f(i, Severity::Error)).collect();
        let base = Report::new("vendor", "app".into(), Checked::default(), errs);
        r.compare_with(&base);
        // (The ten warnings on the same files with the same need are the same findings too.)
        assert_eq!((r.errors, r.warnings, r.pre_existing), (0, 1510, 20));
        assert_eq!(r.findings.len(), MAX_FINDINGS.get() + 1);
        assert_eq!(r.findings.iter().filter(|f| f.check == MORE).count(), 1);
    }
}
