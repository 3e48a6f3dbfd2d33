//! The triage as text, for a terminal: a section per part of the document, every name that
//! came from the image or the report sanitized.

use super::document::{Part, Route, Triage};
use super::report::Severity;
use crate::text::sanitize as z;
use std::fmt::Write as _;

/// Routes list at most this many packages and files each; `--json` has them all.
const LIST_MAX: usize = 20;

pub fn text(t: &Triage) -> String {
    let mut o = String::new();
    header(&mut o, t);
    counts(&mut o, t);
    layers(&mut o, t);
    packages(&mut o, t);
    ignored(&mut o, t);
    routes(&mut o, &t.routes);
    for w in &t.warnings {
        let _ = writeln!(o, "warning: {}", z(w));
    }
    fail_on(&mut o, t);
    o
}

/// The image, its old base, and the report.
fn header(o: &mut String, t: &Triage) {
    let _ = writeln!(
        o,
        "{}: {} layer(s); old base = {} layer(s) ({}{})",
        z(&t.image.name),
        t.image.layers,
        t.old_base.layers,
        t.old_base.how,
        t.old_base
            .name
            .as_deref()
            .map(|n| format!(": {}", z(n)))
            .unwrap_or_default()
    );
    let _ = writeln!(
        o,
        "report: {} ({:?}), {} finding(s), matched by {}",
        z(&t.report.file),
        t.report.scanner,
        t.report.findings_in_report,
        t.report.matched_by.name()
    );
}

/// The findings per part and severity, as a table.
fn counts(o: &mut String, t: &Triage) {
    let _ = writeln!(
        o,
        "\n{} finding(s) after merging {} duplicate(s); {} ignored; {} unfixed skipped",
        t.findings.len(),
        t.duplicates_merged,
        t.ignored.len(),
        t.unfixed_skipped
    );
    let _ = write!(o, "  {:<12}", "");
    for s in Severity::ALL {
        let _ = write!(o, "{:>11}", s.name());
    }
    let _ = writeln!(o);
    for part in Part::ALL {
        let c = t.counts.get(&part);
        let _ = write!(o, "  {:<12}", part.name());
        for s in Severity::ALL {
            let _ = write!(o, "{:>11}", c.and_then(|c| c.get(&s)).copied().unwrap_or(0));
        }
        let _ = writeln!(o);
    }
}

fn layers(o: &mut String, t: &Triage) {
    let _ = writeln!(o, "\nLayers:");
    for l in &t.layers {
        let n: usize = l.findings.values().sum();
        let by = l
            .created_by
            .as_deref()
            .map(|c| c.chars().take(70).collect::<String>())
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "  {:>2} {:<11} {} {:>4} finding(s)  {}",
            l.index,
            l.part.name(),
            &l.diff_id[..19.min(l.diff_id.len())],
            n,
            z(&by)
        );
    }
}

fn packages(o: &mut String, t: &Triage) {
    if t.packages.is_empty() {
        return;
    }
    let _ = writeln!(o, "\nPackages:");
    for p in &t.packages {
        let _ = writeln!(
            o,
            "  {:<11} {}{}",
            p.part.name(),
            z(&p.line()),
            p.layer.map(|l| format!(" [layer {l}]")).unwrap_or_default()
        );
    }
}

fn ignored(o: &mut String, t: &Triage) {
    if t.ignored.is_empty() {
        return;
    }
    let _ = writeln!(o, "\nIgnored:");
    for i in &t.ignored {
        let _ = writeln!(
            o,
            "  {} {} {} ({}): {}",
            z(&i.id),
            z(&i.package),
            z(&i.installed_version),
            i.severity.name(),
            z(&i.reason)
        );
    }
}

fn routes(o: &mut String, routes: &[Route]) {
    let _ = writeln!(o, "\nRoutes:");
    if routes.is_empty() {
        let _ = writeln!(o, "  nothing to do: no findings remain");
    }
    for (k, r) in routes.iter().enumerate() {
        let _ = writeln!(
            o,
            "  {}. {} ({} finding(s), up to {}):",
            k + 1,
            r.route.name(),
            r.findings,
            r.max_severity.name()
        );
        let _ = writeln!(o, "     {}", z(&r.advice));
        for c in &r.commands {
            let _ = writeln!(o, "       $ {}", z(c));
        }
        list(o, "package", "packages", &r.packages);
        list(o, "file", "files", &r.files);
    }
}

/// The first [`LIST_MAX`] items, one a line, and how many more there are.
fn list(o: &mut String, one: &str, many: &str, items: &[String]) {
    for x in items.iter().take(LIST_MAX) {
        let _ = writeln!(o, "       {one} {}", z(x));
    }
    if items.len() > LIST_MAX {
        let _ = writeln!(o, "       ... {} more {many}", items.len() - LIST_MAX);
    }
}

fn fail_on(o: &mut String, t: &Triage) {
    if let Some(s) = t.fail_on {
        let _ = writeln!(
            o,
            "\n--fail-on {}: {}",
            s.name(),
            if t.failed {
                "findings at or above it remain (exit 4)"
            } else {
                "none remain"
            }
        );
    }
}
