//! A scanner report read from a file: which scanner and which form is told by its content
//! (Trivy's `SchemaVersion`/`Results`, Grype's `matches`, CycloneDX's `bomFormat`, SARIF's
//! `runs`), then that parser fills the scanner-neutral [`Report`]. The one place that picks a
//! parser.

use super::report::Report;
use super::{cyclonedx, grype, sarif, trivy};
use crate::error::{Error, IoContext, Result};
use std::path::Path;

/// Reads the report at `path`; errors name the file as the user spelled it.
pub fn read(path: &Path) -> Result<Report> {
    let bytes = std::fs::read(path).at(path)?;
    parse(&bytes, &path.display().to_string())
}

/// Reads a Trivy or Grype report (JSON, CycloneDX JSON or SARIF), told by content.
pub fn parse(bytes: &[u8], what: &str) -> Result<Report> {
    // The JSON error becomes text: `triage --json` prints an error's Display alone (not its
    // sources), and that document must keep saying why the report is not JSON.
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Error::format_from(what, "not JSON", e))?;
    if v.is_array() {
        return Err(Error::format(
            what,
            "a bare list of results is Trivy's JSON before SchemaVersion 2, which names no image layers; re-run a current trivy with -f json",
        ));
    }
    let obj = v
        .as_object()
        .ok_or_else(|| Error::format(what, "not a JSON object"))?;
    if obj.contains_key("SchemaVersion") || obj.contains_key("Results") {
        trivy::parse(&v, what)
    } else if obj.contains_key("matches") {
        grype::parse(&v, what)
    } else if obj.get("bomFormat").and_then(|f| f.as_str()) == Some("CycloneDX") {
        cyclonedx::parse(&v, what)
    } else if obj.contains_key("runs") && obj.contains_key("version") {
        sarif::parse(&v, what)
    } else {
        Err(Error::format(
            what,
            "neither a Trivy report (SchemaVersion, Results), a Grype report (matches), CycloneDX (bomFormat) nor SARIF (version, runs)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triage::report::Scanner;

    #[test]
    fn the_scanner_is_told_by_content() {
        let table: [(&str, Result<Scanner, &str>); 6] = [
            (r#"{"SchemaVersion": 2, "Results": []}"#, Ok(Scanner::Trivy)),
            (r#"{"Results": null}"#, Ok(Scanner::Trivy)),
            (r#"{"matches": []}"#, Ok(Scanner::Grype)),
            ("[]", Err("a bare list of results")),
            ("3", Err("r: not a JSON object")),
            ("{}", Err("neither a Trivy report")),
        ];
        for (doc, want) in table {
            match (parse(doc.as_bytes(), "r"), want) {
                (Ok(r), Ok(s)) => assert_eq!(r.scanner, s, "{doc}"),
                (Err(e), Err(w)) => assert!(e.chain().contains(w), "{doc}: {}", e.chain()),
                (got, _) => panic!("{doc}: {got:?}"),
            }
        }
    }
}
