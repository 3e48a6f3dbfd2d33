//! The route per group of findings, and the triage as text.
//!
//! - base findings with a fixed version: graft the application onto an updated base (the
//!   command is printed, with the old-base split the triage used), then rescan and `diff`;
//! - base findings without one: an updated base of the same family will not help; consider
//!   another base family, minding the C library (musl bases rarely fit glibc programs);
//! - application findings: a newer vendor image or a rebuild, naming packages and files;
//! - unlocated findings: the report gives no layer and the package database does not place
//!   the package; check by hand.

use super::{Part, Severity, Triage, TriagePlan};
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Clone, Debug, Serialize)]
pub struct Route {
    /// `graft-onto-updated-base`, `another-base-family`, `newer-vendor-image-or-rebuild`,
    /// `check-by-hand`.
    pub route: &'static str,
    pub part: Part,
    pub findings: usize,
    pub max_severity: Severity,
    pub advice: String,
    /// Commands to run, in order.
    pub commands: Vec<String>,
    /// `name installed -> fixed` of the packages involved.
    pub packages: Vec<String>,
    /// Files involved: what the findings name, and the application's executables.
    pub files: Vec<String>,
}

fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:@+=,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn pkg_line(p: &super::PackageFindings) -> String {
    let fixed = if p.fixed_versions.is_empty() {
        "no fix".to_string()
    } else {
        p.fixed_versions.join(", ")
    };
    format!(
        "{} {} -> {} ({}: {})",
        p.package,
        p.installed_version,
        fixed,
        p.max_severity.name(),
        p.ids.join(", ")
    )
}

pub fn routes(t: &Triage, plan: &TriagePlan) -> Vec<Route> {
    let mut out = Vec::new();
    let of = |part: Part, fixed: Option<bool>| {
        t.findings.iter().filter(move |f| {
            f.part == part && fixed.is_none_or(|x| x != f.fixed_versions.is_empty())
        })
    };
    let pkgs = |part: Part, fixed: Option<bool>| -> Vec<String> {
        t.packages
            .iter()
            .filter(|p| p.part == part && fixed.is_none_or(|x| x != p.fixed_versions.is_empty()))
            .map(pkg_line)
            .collect()
    };
    let max = |it: &mut dyn Iterator<Item = &super::TriagedFinding>| {
        it.map(|f| f.severity).max().unwrap_or(Severity::Unknown)
    };
    let image = quote(&plan.image_arg);
    let old = match &plan.old_base_arg {
        Some(o) => format!("--old-base {}", quote(o)),
        None => format!("--old-base-layers {}", t.old_base.layers),
    };
    let executables: Vec<&super::AppFile> = t
        .application_files
        .iter()
        .filter(|f| matches!(f.elf.as_deref(), Some("static" | "dynamic")))
        .collect();
    let libraries = t
        .application_files
        .iter()
        .filter(|f| f.elf.as_deref() == Some("shared-object"))
        .count();
    let n_static = executables
        .iter()
        .filter(|f| f.elf.as_deref() == Some("static"))
        .count();
    let interps: std::collections::BTreeSet<&str> = executables
        .iter()
        .filter_map(|f| f.interpreter.as_deref())
        .collect();

    let n = of(Part::Base, Some(true)).count();
    if n > 0 {
        out.push(Route {
            route: "graft-onto-updated-base",
            part: Part::Base,
            findings: n,
            max_severity: max(&mut of(Part::Base, Some(true))),
            advice: format!(
                "{n} finding(s) in the old base have a fixed version: move the application onto an updated base of the same distribution (its current point release or security update), keeping the vendor's layers as they are; then rescan the result and compare."
            ),
            commands: vec![
                format!("regraft --from {image} {old} --onto NEW-BASE -o grafted.tar"),
                format!(
                    "regraft diff {image} grafted.tar --report {}",
                    quote(&plan.report.display().to_string())
                ),
            ],
            packages: pkgs(Part::Base, Some(true)),
            files: vec![],
        });
    }
    let n = of(Part::Base, Some(false)).count();
    if n > 0 {
        let libc = match t.base_libc.as_deref() {
            Some(l) => format!("The base's C library is {l}. "),
            None => String::new(),
        };
        let linked = if executables.is_empty() {
            "No ELF executables were found in the application layers.".to_string()
        } else {
            format!(
                "Of the application's {} executable(s), {} are static and {} load {}{}.",
                executables.len(),
                n_static,
                executables.len() - n_static,
                if interps.is_empty() {
                    "nothing".to_string()
                } else {
                    interps.iter().copied().collect::<Vec<_>>().join(", ")
                },
                if libraries > 0 {
                    format!(
                        "; it ships {libraries} shared librar(ies) of its own, built against the same C library"
                    )
                } else {
                    String::new()
                }
            )
        };
        out.push(Route {
            route: "another-base-family",
            part: Part::Base,
            findings: n,
            max_severity: max(&mut of(Part::Base, Some(false))),
            advice: format!(
                "{n} finding(s) in the old base have no fixed version in its distribution, so an updated base of the same family still carries them. Consider another base family that does not ship these packages (a distroless or minimal image, another distribution), graft onto it and test. {libc}{linked} musl bases (Alpine) rarely fit glibc applications: a glibc-linked program needs glibc's dynamic loader (ld-linux) and its versioned symbols (GLIBC_2.x), which musl does not provide, and NSS, locales, iconv and dlopen'd modules behave differently; only static executables move between C libraries freely."
            ),
            commands: vec![],
            packages: pkgs(Part::Base, Some(false)),
            files: vec![],
        });
    }
    let n = of(Part::Application, None).count();
    if n > 0 {
        let mut files: Vec<String> = Vec::new();
        for f in of(Part::Application, None) {
            for p in &f.paths {
                let p = format!("/{}", p.trim_start_matches('/'));
                if !files.contains(&p) {
                    files.push(p);
                }
            }
        }
        for f in t.application_files.iter().filter(|f| f.elf.is_some()) {
            if !files.contains(&f.path) {
                files.push(f.path.clone());
            }
        }
        out.push(Route {
            route: "newer-vendor-image-or-rebuild",
            part: Part::Application,
            findings: n,
            max_severity: max(&mut of(Part::Application, None)),
            advice: format!(
                "{n} finding(s) are in the application's own layers: a new base does not change them. Ask the vendor for a newer image (then graft that), or rebuild the application with the fixed versions."
            ),
            commands: vec![],
            packages: pkgs(Part::Application, None),
            files,
        });
    }
    let n = of(Part::Unlocated, None).count();
    if n > 0 {
        let mut files: Vec<String> = Vec::new();
        for f in of(Part::Unlocated, None) {
            files.extend(
                f.paths
                    .iter()
                    .map(|p| format!("/{}", p.trim_start_matches('/'))),
            );
        }
        files.dedup();
        out.push(Route {
            route: "check-by-hand",
            part: Part::Unlocated,
            findings: n,
            max_severity: max(&mut of(Part::Unlocated, None)),
            advice: format!(
                "{n} finding(s) have no layer in the report and their package is not in the image's package database: look up the named files in the image (regraft inspect) to tell base from application."
            ),
            commands: vec![],
            packages: pkgs(Part::Unlocated, None),
            files,
        });
    }
    out
}

/// The triage as text, for a terminal.
pub fn text(t: &Triage) -> String {
    let z = crate::text::sanitize;
    let mut o = String::new();
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
        t.report.matched_by
    );
    let total: usize = t.findings.len();
    let _ = writeln!(
        o,
        "\n{total} finding(s) after merging {} duplicate(s); {} ignored; {} unfixed skipped",
        t.duplicates_merged,
        t.ignored.len(),
        t.unfixed_skipped
    );
    let _ = write!(o, "  {:<12}", "");
    for s in Severity::ALL {
        let _ = write!(o, "{:>11}", s.name());
    }
    let _ = writeln!(o);
    for part in [Part::Base, Part::Application, Part::Unlocated] {
        let c = t.counts.get(&part);
        let _ = write!(o, "  {:<12}", part.name());
        for s in Severity::ALL {
            let _ = write!(o, "{:>11}", c.and_then(|c| c.get(&s)).copied().unwrap_or(0));
        }
        let _ = writeln!(o);
    }
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
    if !t.packages.is_empty() {
        let _ = writeln!(o, "\nPackages:");
        for p in &t.packages {
            let _ = writeln!(
                o,
                "  {:<11} {}{}",
                p.part.name(),
                z(&pkg_line(p)),
                p.layer.map(|l| format!(" [layer {l}]")).unwrap_or_default()
            );
        }
    }
    if !t.ignored.is_empty() {
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
    let _ = writeln!(o, "\nRoutes:");
    if t.routes.is_empty() {
        let _ = writeln!(o, "  nothing to do: no findings remain");
    }
    for (k, r) in t.routes.iter().enumerate() {
        let _ = writeln!(
            o,
            "  {}. {} ({} finding(s), up to {}):",
            k + 1,
            r.route,
            r.findings,
            r.max_severity.name()
        );
        let _ = writeln!(o, "     {}", z(&r.advice));
        for c in &r.commands {
            let _ = writeln!(o, "       $ {}", z(c));
        }
        for p in r.packages.iter().take(20) {
            let _ = writeln!(o, "       package {}", z(p));
        }
        if r.packages.len() > 20 {
            let _ = writeln!(o, "       ... {} more packages", r.packages.len() - 20);
        }
        for f in r.files.iter().take(20) {
            let _ = writeln!(o, "       file {}", z(f));
        }
        if r.files.len() > 20 {
            let _ = writeln!(o, "       ... {} more files", r.files.len() - 20);
        }
    }
    for w in &t.warnings {
        let _ = writeln!(o, "warning: {}", z(w));
    }
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
    o
}
