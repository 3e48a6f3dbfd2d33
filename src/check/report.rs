//! What a check found: findings (the file, what it needs, what is missing), what was looked at,
//! and the report as a document and as text for people.

use super::dbmerge;
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
    /// The report of `findings`: sorted (errors first), duplicates dropped, counted.
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
        Report {
            image: image.to_string(),
            application,
            checked,
            errors,
            warnings: findings.len() - errors,
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
