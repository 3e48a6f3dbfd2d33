//! The diff as text, for a terminal: a section per kind of change, every name that came from
//! an image or the report sanitized.

use super::ImageDiff;
use super::files::FileChanges;
use super::findings::FindingChanges;
use super::packages::PackageChanges;
use crate::text::sanitize as z;
use serde_json::Value;
use std::fmt::Write as _;

/// A config value in a line: long strings and lists cut short.
fn short(v: &Value) -> String {
    let s = match v {
        Value::Null => "(none)".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.len() > 4 => format!("[{} entries]", a.len()),
        other => other.to_string(),
    };
    if s.chars().count() > 100 {
        format!("{}...", s.chars().take(100).collect::<String>())
    } else {
        s
    }
}

impl ImageDiff {
    pub fn text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "old: {} ({} layers, {} packages, {} paths)\nnew: {} ({} layers, {} packages, {} paths)",
            z(&self.old.name),
            self.old.layers,
            self.old.packages,
            self.old.files,
            z(&self.new.name),
            self.new.layers,
            self.new.packages,
            self.new.files
        );
        self.packages.write_text(&mut o);
        self.files.write_text(&mut o);
        let _ = writeln!(o, "\nConfig: {} field(s) changed", self.config.len());
        for c in &self.config {
            let _ = writeln!(
                o,
                "  {}: {} -> {}",
                z(&c.field),
                z(&short(&c.old)),
                z(&short(&c.new))
            );
        }
        if let Some(fc) = &self.findings {
            fc.write_text(&mut o);
        }
        for w in &self.warnings {
            let _ = writeln!(o, "warning: {}", z(w));
        }
        o
    }
}

impl PackageChanges {
    fn write_text(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "\nPackages: {} upgraded, {} downgraded, {} added, {} removed{}",
            self.upgraded.len(),
            self.downgraded.len(),
            self.added.len(),
            self.removed.len(),
            if self.unknown_order.is_empty() {
                String::new()
            } else {
                format!(", {} of unknown order", self.unknown_order.len())
            }
        );
        for (tag, list) in [
            ("upgraded", &self.upgraded),
            ("downgraded", &self.downgraded),
            ("?", &self.unknown_order),
        ] {
            for c in list {
                let _ = writeln!(
                    o,
                    "  {tag:<10} {} {} -> {}",
                    z(&c.name),
                    z(&c.old_version),
                    z(&c.new_version)
                );
            }
        }
        for (tag, list) in [("added", &self.added), ("removed", &self.removed)] {
            for q in list {
                let _ = writeln!(o, "  {tag:<10} {} {}", z(&q.name), z(&q.version));
            }
        }
    }
}

impl FileChanges {
    /// The text lists this many files of each kind of change; `--json` lists all.
    const TEXT_MAX: usize = 20;

    fn write_text(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "\nFiles: {} changed, {} added, {} removed (first 20 of each; --json lists all)",
            self.changed.len(),
            self.added.len(),
            self.removed.len()
        );
        for c in self.changed.iter().take(Self::TEXT_MAX) {
            let _ = writeln!(o, "  changed  {} ({})", z(&c.path), c.changed.join(", "));
        }
        for e in self.added.iter().take(Self::TEXT_MAX) {
            let _ = writeln!(o, "  added    {} ({})", z(&e.path), e.kind);
        }
        for e in self.removed.iter().take(Self::TEXT_MAX) {
            let _ = writeln!(o, "  removed  {} ({})", z(&e.path), e.kind);
        }
    }
}

impl FindingChanges {
    fn write_text(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "\nFindings of {}: {} fixed, {} gone with their package, {} remain, {} unknown",
            z(&self.report),
            self.fixed.len(),
            self.removed.len(),
            self.remaining.len(),
            self.unknown.len()
        );
        for (tag, list) in [
            ("fixed", &self.fixed),
            ("removed", &self.removed),
            ("remains", &self.remaining),
            ("unknown", &self.unknown),
        ] {
            for x in list {
                let _ = writeln!(
                    o,
                    "  {tag:<8} {} {} {} {}: {}",
                    x.severity.name(),
                    z(&x.id),
                    z(&x.package),
                    z(&x.installed_version),
                    z(&x.reason)
                );
            }
        }
    }
}
