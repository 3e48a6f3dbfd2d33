//! What the user leaves out of a triage: the IDs of `--ignore FILE`, each with its reason, the
//! findings `--vex` statements cover, and with `--ignore-unfixed` the findings no version fixes.

use super::document::{IgnoredFinding, TriagedFinding};
use super::vex::Statement;
use crate::error::{Error, IoContext, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Vulnerability ID -> why it is ignored.
pub type IgnoreList = BTreeMap<String, String>;

/// Reads `--ignore FILE`: one ID per line followed by its reason; `#` starts a comment line.
pub fn read_ignore_file(path: &Path) -> Result<IgnoreList> {
    let text = std::fs::read_to_string(path).at(path)?;
    parse_ignore(&text, &path.display().to_string())
}

pub fn parse_ignore(text: &str, what: &str) -> Result<IgnoreList> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, reason) = match line.split_once(char::is_whitespace) {
            Some((id, r)) => (id, r.trim().trim_start_matches('#').trim()),
            None => (line, ""),
        };
        if reason.is_empty() {
            return Err(Error::format(
                what,
                format!(
                    "line {}: {} has no reason; write `ID  why it is ignored`",
                    n + 1,
                    crate::text::sanitize(id)
                ),
            ));
        }
        out.insert(id.to_string(), reason.to_string());
    }
    Ok(out)
}

/// Whether findings without a fixed version stay (`--ignore-unfixed` leaves them out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unfixed {
    Keep,
    LeaveOut,
}

/// The findings that remain, and what was left out.
pub(super) struct Kept {
    pub findings: Vec<TriagedFinding>,
    pub ignored: Vec<IgnoredFinding>,
    pub unfixed_skipped: usize,
}

/// Takes out the ignored findings (with their reason: the ignore file's, else the first VEX
/// statement's that covers it) and, with [`Unfixed::LeaveOut`], the unfixed ones (counted); an
/// ignored finding counts as ignored, not as unfixed.
pub(super) fn apply(
    mut findings: Vec<TriagedFinding>,
    ignore: &IgnoreList,
    vex: &[Statement],
    unfixed: Unfixed,
) -> Kept {
    let mut ignored = Vec::new();
    let mut unfixed_skipped = 0;
    findings.retain(|f| {
        let reason = ignore
            .get(&f.id)
            .cloned()
            .or_else(|| vex.iter().find(|s| s.covers(f)).map(Statement::reason));
        if let Some(reason) = reason {
            ignored.push(IgnoredFinding {
                id: f.id.clone(),
                package: f.package.clone(),
                installed_version: f.installed_version.clone(),
                severity: f.severity,
                part: f.part,
                reason,
            });
            return false;
        }
        if unfixed == Unfixed::LeaveOut && f.fixed_versions.is_empty() {
            unfixed_skipped += 1;
            return false;
        }
        true
    });
    Kept {
        findings,
        ignored,
        unfixed_skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_file_needs_a_reason_per_id() {
        let ok = parse_ignore(
            "# accepted risks\nCVE-2011-3374  apt-key is not used at runtime\n\nGHSA-xxxx-yyyy # dev dependency only\n",
            "f",
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok["GHSA-xxxx-yyyy"], "dev dependency only");
        let err = parse_ignore("CVE-1 reason\nCVE-2\n", "f").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
