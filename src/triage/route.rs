//! The route per group of findings.
//!
//! - base findings with a fixed version: graft the application onto an updated base (the
//!   command is printed, with the old-base split the triage used), then rescan and `diff`;
//! - base findings without one: an updated base of the same family will not help; consider
//!   another base family, minding the C library (musl bases rarely fit glibc programs);
//! - application findings: a newer vendor image or a rebuild, naming packages and files;
//! - unlocated findings: the report gives no layer and the package database does not place
//!   the package; check by hand.

use super::document::{
    AppFile, ElfKind, Part, Route, RouteKind, Triage, TriagedFinding, extend_new,
};
use super::report::Severity;
use std::collections::BTreeSet;
use std::path::Path;

/// How the user called `triage`, for the commands a route prints.
pub struct Invocation<'a> {
    /// The image as the user spelled it.
    pub image: &'a str,
    /// `--old-base` as the user spelled it; without it the split is given by layer count.
    pub old_base: Option<&'a str>,
    pub report: &'a Path,
}

/// Which findings of a part a route is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fix {
    Any,
    /// Those with a fixed version.
    Known,
    /// Those without one.
    None,
}

impl Fix {
    fn admits(self, fixed_versions: &[String]) -> bool {
        match self {
            Fix::Any => true,
            Fix::Known => !fixed_versions.is_empty(),
            Fix::None => fixed_versions.is_empty(),
        }
    }
}

/// One group of a triage's findings: a part, narrowed by whether a fix is known.
struct Group<'a> {
    t: &'a Triage,
    part: Part,
    fix: Fix,
}

impl<'a> Group<'a> {
    fn findings(&self) -> impl Iterator<Item = &'a TriagedFinding> + use<'a> {
        let (part, fix) = (self.part, self.fix);
        self.t
            .findings
            .iter()
            .filter(move |f| f.part == part && fix.admits(&f.fixed_versions))
    }

    /// The route for this group, with its advice and what it involves; None when empty.
    fn route(&self, kind: RouteKind, advice: impl FnOnce(usize) -> String) -> Option<Route> {
        let n = self.findings().count();
        if n == 0 {
            return None;
        }
        Some(Route {
            route: kind,
            part: self.part,
            findings: n,
            max_severity: self
                .findings()
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Unknown),
            advice: advice(n),
            commands: vec![],
            packages: self
                .t
                .packages
                .iter()
                .filter(|p| p.part == self.part && self.fix.admits(&p.fixed_versions))
                .map(|p| p.line())
                .collect(),
            files: vec![],
        })
    }
}

pub fn routes(t: &Triage, how: &Invocation) -> Vec<Route> {
    let group = |part, fix| Group { t, part, fix };
    [
        graft_onto_updated_base(&group(Part::Base, Fix::Known), how),
        another_base_family(&group(Part::Base, Fix::None)),
        newer_vendor_image(&group(Part::Application, Fix::Any)),
        check_by_hand(&group(Part::Unlocated, Fix::Any)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// `s` as one word for a POSIX shell: as it is when that is safe, else single-quoted.
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

fn graft_onto_updated_base(g: &Group, how: &Invocation) -> Option<Route> {
    let mut r = g.route(RouteKind::GraftOntoUpdatedBase, |n| format!(
        "{n} finding(s) in the old base have a fixed version: move the application onto an updated base of the same distribution (its current point release or security update), keeping the vendor's layers as they are; then rescan the result and compare."
    ))?;
    let image = quote(how.image);
    let old = match how.old_base {
        Some(o) => format!("--old-base {}", quote(o)),
        None => format!("--old-base-layers {}", g.t.old_base.layers),
    };
    r.commands = vec![
        format!("regraft --from {image} {old} --onto NEW-BASE -o grafted.tar"),
        format!(
            "regraft diff {image} grafted.tar --report {}",
            quote(&how.report.display().to_string())
        ),
    ];
    Some(r)
}

fn another_base_family(g: &Group) -> Option<Route> {
    let t = g.t;
    g.route(RouteKind::AnotherBaseFamily, |n| {
        let libc = match t.base_libc.as_deref() {
            Some(l) => format!("The base's C library is {l}. "),
            None => String::new(),
        };
        let linked = linking(&t.application_files);
        format!(
            "{n} finding(s) in the old base have no fixed version in its distribution, so an updated base of the same family still carries them. Consider another base family that does not ship these packages (a distroless or minimal image, another distribution), graft onto it and test. {libc}{linked} musl bases (Alpine) rarely fit glibc applications: a glibc-linked program needs glibc's dynamic loader (ld-linux) and its versioned symbols (GLIBC_2.x), which musl does not provide, and NSS, locales, iconv and dlopen'd modules behave differently; only static executables move between C libraries freely."
        )
    })
}

/// How the application's executables are linked, in a sentence: what a move to another C
/// library has to carry.
fn linking(files: &[AppFile]) -> String {
    let executables: Vec<&AppFile> = files
        .iter()
        .filter(|f| f.elf.is_some_and(ElfKind::is_executable))
        .collect();
    if executables.is_empty() {
        return "No ELF executables were found in the application layers.".to_string();
    }
    let libraries = files
        .iter()
        .filter(|f| f.elf == Some(ElfKind::SharedObject))
        .count();
    let n_static = executables
        .iter()
        .filter(|f| f.elf == Some(ElfKind::Static))
        .count();
    let interps: BTreeSet<&str> = executables
        .iter()
        .filter_map(|f| f.interpreter.as_deref())
        .collect();
    format!(
        "Of the application's {} executable(s), {} are static and {} load {}{}.",
        executables.len(),
        n_static,
        executables.len() - n_static,
        if interps.is_empty() {
            "nothing".to_string()
        } else {
            interps.into_iter().collect::<Vec<_>>().join(", ")
        },
        if libraries > 0 {
            format!(
                "; it ships {libraries} shared librar(ies) of its own, built against the same C library"
            )
        } else {
            String::new()
        }
    )
}

fn newer_vendor_image(g: &Group) -> Option<Route> {
    let mut r = g.route(RouteKind::NewerVendorImageOrRebuild, |n| format!(
        "{n} finding(s) are in the application's own layers: a new base does not change them. Ask the vendor for a newer image (then graft that), or rebuild the application with the fixed versions."
    ))?;
    extend_new(&mut r.files, g.findings().flat_map(named_files));
    extend_new(
        &mut r.files,
        g.t.application_files
            .iter()
            .filter(|f| f.elf.is_some())
            .map(|f| f.path.clone()),
    );
    Some(r)
}

fn check_by_hand(g: &Group) -> Option<Route> {
    let mut r = g.route(RouteKind::CheckByHand, |n| format!(
        "{n} finding(s) have no layer in the report and their package is not in the image's package database: look up the named files in the image (regraft inspect) to tell base from application."
    ))?;
    r.files.extend(g.findings().flat_map(named_files));
    // Only repeats in a row go: the files keep the findings' order.
    r.files.dedup();
    Some(r)
}

/// The files a finding names, as absolute paths.
fn named_files(f: &TriagedFinding) -> impl Iterator<Item = String> + '_ {
    f.paths
        .iter()
        .map(|p| format!("/{}", p.trim_start_matches('/')))
}
