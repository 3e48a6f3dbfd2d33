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
        }
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
    Finding {
        severity: rest.first().map_or(Severity::Warning, |f| f.severity),
        check: "more-findings".into(),
        path: String::new(),
        needs: "a report that lists every finding".into(),
        missing: MAX_FINDINGS.error("this report", what).to_string(),
    }
}

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
    pub errors: usize,
    pub warnings: usize,
    pub findings: Vec<Finding>,
    /// Set when a graft adds a merged package database layer.
    pub package_database: Option<dbmerge::MergeSummary>,
}

impl Report {
    /// The report of `findings`: sorted (errors first), duplicates dropped, counted; past
    /// `MAX_FINDINGS`, the rest are counted in one more finding.
    pub(super) fn new(
        image: &str,
        application: String,
        checked: Checked,
        mut findings: Vec<Finding>,
    ) -> Report {
        findings.sort();
        findings.dedup();
        let errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let warnings = findings.len() - errors;
        if findings.len() > MAX_FINDINGS.get() {
            let rest = findings.split_off(MAX_FINDINGS.get());
            findings.push(more_findings(&rest));
        }
        Report {
            image: image.to_string(),
            application,
            checked,
            errors,
            warnings,
            findings,
            package_database: None,
        }
    }

    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// The findings for people, one block per finding, errors first.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let z = crate::text::sanitize;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "regraft check: {} error(s), {} warning(s) in {} ({}; {} ELF file(s), {} script(s))",
            self.errors,
            self.warnings,
            z(&self.image),
            z(&self.application),
            self.checked.elf_files,
            self.checked.scripts
        );
        for f in &self.findings {
            let sev = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let _ = writeln!(o, "  {sev}[{}] {}", f.check, z(&f.path));
            let _ = writeln!(o, "      needs:   {}", z(&f.needs));
            let _ = writeln!(o, "      missing: {}", z(&f.missing));
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
    }
}
