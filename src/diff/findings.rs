//! A scanner report made from OLD against NEW: which findings NEW no longer carries because
//! the package was upgraded past the fixed version or removed, which remain, and which
//! regraft cannot tell.

use crate::model::image::Image;
use crate::packages::PackageDb;
use crate::triage::{Finding, Report, Severity};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::BTreeSet;

#[derive(Clone, Debug, Serialize)]
pub struct FindingOutcome {
    pub id: String,
    pub package: String,
    pub installed_version: String,
    pub fixed_versions: Vec<String>,
    pub severity: Severity,
    /// The package's version in NEW; None when NEW does not have it.
    pub new_version: Option<String>,
    pub reason: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FindingChanges {
    pub report: String,
    /// NEW carries the package at or past every fixed version.
    pub fixed: Vec<FindingOutcome>,
    /// NEW no longer has the package.
    pub removed: Vec<FindingOutcome>,
    pub remaining: Vec<FindingOutcome>,
    /// regraft cannot tell: no version order for the ecosystem, a fix on several branches, or
    /// a language package in a layer NEW does not share.
    pub unknown: Vec<FindingOutcome>,
}

/// Where a finding of OLD's report stands in NEW.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Fixed,
    Removed,
    Remaining,
    Unknown,
}

impl FindingChanges {
    fn list(&mut self, o: Outcome) -> &mut Vec<FindingOutcome> {
        match o {
            Outcome::Fixed => &mut self.fixed,
            Outcome::Removed => &mut self.removed,
            Outcome::Remaining => &mut self.remaining,
            Outcome::Unknown => &mut self.unknown,
        }
    }
}

/// What NEW says about one finding.
struct Verdict {
    outcome: Outcome,
    new_version: Option<String>,
    reason: String,
}

impl Verdict {
    fn new(outcome: Outcome, reason: impl Into<String>) -> Verdict {
        Verdict {
            outcome,
            new_version: None,
            reason: reason.into(),
        }
    }
}

pub fn findings(file: &str, r: &Report, new_db: &PackageDb, new: &Image) -> FindingChanges {
    let mut out = FindingChanges {
        report: file.to_string(),
        ..Default::default()
    };
    let mut seen = BTreeSet::new();
    for f in &r.findings {
        if !seen.insert((f.id.clone(), f.package.clone(), f.installed.clone())) {
            continue;
        }
        let v = if f.os_package {
            os_verdict(f, new_db)
        } else {
            language_verdict(f, new)
        };
        out.list(v.outcome).push(FindingOutcome {
            id: f.id.clone(),
            package: f.package.clone(),
            installed_version: f.installed.clone(),
            fixed_versions: f.fixed.clone(),
            severity: f.severity,
            new_version: v.new_version,
            reason: v.reason,
        });
    }
    out
}

/// A language package or binary: regraft does not track them, so only a layer NEW shares
/// unchanged says the finding remains.
fn language_verdict(f: &Finding, new: &Image) -> Verdict {
    let shared = f
        .layer
        .diff_id
        .as_ref()
        .is_some_and(|d| new.view.diff_ids.contains(d));
    if shared {
        return Verdict::new(
            Outcome::Remaining,
            "not an OS package; its layer is in NEW unchanged",
        );
    }
    let kind = if f.pkg_type.is_empty() {
        "language"
    } else {
        &f.pkg_type
    };
    Verdict::new(
        Outcome::Unknown,
        format!("a {kind} package, which regraft does not track; rescan NEW"),
    )
}

/// An OS package: its version in NEW's package database against the fixed versions.
fn os_verdict(f: &Finding, new_db: &PackageDb) -> Verdict {
    let Some(p) = new_db.find(&f.package, None) else {
        return Verdict::new(Outcome::Removed, "NEW does not have the package");
    };
    let fixed = f.fixed.join(", ");
    let (outcome, reason) = if p.version == f.installed {
        (Outcome::Remaining, "NEW has the same version".to_string())
    } else if f.fixed.is_empty() {
        (
            Outcome::Unknown,
            format!(
                "no fixed version is known; NEW has {} instead of {}",
                p.version, f.installed
            ),
        )
    } else {
        let at_or_past = f
            .fixed
            .iter()
            .filter(|v| p.db.compare(&p.version, v) != Ordering::Less)
            .count();
        if at_or_past == f.fixed.len() {
            (
                Outcome::Fixed,
                format!("{} is at or past {fixed}", p.version),
            )
        } else if at_or_past == 0 {
            (
                Outcome::Remaining,
                format!("{} is older than {fixed}", p.version),
            )
        } else {
            (
                Outcome::Unknown,
                format!(
                    "{} is past some of the fixed versions {fixed} (fixes on several branches; which branch NEW follows is not known)",
                    p.version
                ),
            )
        }
    };
    Verdict {
        outcome,
        new_version: Some(p.version.clone()),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::{Db, Package};
    use crate::triage::report::LayerHint;

    #[test]
    fn os_findings_by_the_version_new_has() {
        let db = PackageDb {
            packages: vec![Package {
                name: "libssl3".into(),
                version: "3.0.13-1~deb12u1".into(),
                arch: "amd64".into(),
                source_package: None,
                license: None,
                source_version: None,
                source_layer: Some(0),
                db: Db::Dpkg,
            }],
            ..Default::default()
        };
        let finding = |pkg: &str, installed: &str, fixed: &[&str]| Finding {
            id: "CVE-1".into(),
            package: pkg.into(),
            installed: installed.into(),
            fixed: fixed.iter().map(|v| v.to_string()).collect(),
            severity: Severity::High,
            layer: LayerHint::default(),
            pkg_type: "debian".into(),
            os_package: true,
            paths: vec![],
            title: None,
            status: None,
        };
        let table: [(&str, &str, &[&str], Outcome); 6] = [
            ("zlib1g", "1.2", &["1.3"], Outcome::Removed),
            (
                "libssl3",
                "3.0.13-1~deb12u1",
                &["3.0.14"],
                Outcome::Remaining,
            ),
            ("libssl3", "3.0.11-1~deb12u2", &[], Outcome::Unknown),
            (
                "libssl3",
                "3.0.11-1~deb12u2",
                &["3.0.13-1~deb12u1"],
                Outcome::Fixed,
            ),
            (
                "libssl3",
                "3.0.11-1~deb12u2",
                &["3.0.14"],
                Outcome::Remaining,
            ),
            (
                "libssl3",
                "3.0.11-1~deb12u2",
                &["3.0.12", "3.0.14"],
                Outcome::Unknown,
            ),
        ];
        for (pkg, installed, fixed, want) in table {
            let v = os_verdict(&finding(pkg, installed, fixed), &db);
            assert_eq!(v.outcome, want, "{pkg} {installed} {fixed:?}: {}", v.reason);
            assert_eq!(v.new_version.is_some(), want != Outcome::Removed);
        }
    }
}
