//! `regraft patch`: the plan printed, then the image with its packages updated written as an
//! edit (one new layer, its history entry).

use super::edit::{self, Edit};
use crate::cli::{Globals, OutArgs, PatchArgs};
use anyhow::Result;
use regraft::error::Error;
use regraft::patch::{self, Want, repo::Repos};
use regraft::source::Source;
use regraft::text::sanitize;

/// The packages a scanner report names with a fixed version: (package, the lowest fixed
/// version above the installed one, the finding IDs), one entry per package.
fn fixes(
    report: &str,
    img: &regraft::model::image::Image,
    quiet: bool,
    only_security: bool,
    apk: bool,
) -> Result<Want> {
    let r = regraft::triage::parse::read(std::path::Path::new(report))?;
    // As triage does: a report about another image is refused.
    let mut warnings = Vec::new();
    regraft::triage::place::check_belongs(&r, img, &mut warnings)
        .map_err(|e| Error::context(format!("--report {report}"), e))?;
    if !quiet {
        for w in warnings {
            super::print::warn(&w);
        }
    }
    let mut by: std::collections::BTreeMap<String, (String, Vec<String>)> = Default::default();
    for f in r.findings.iter().filter(|f| f.os_package) {
        let cmp = if apk {
            regraft::packages::version::compare_apk
        } else {
            regraft::packages::version::compare_dpkg
        };
        let mut above: Vec<&String> = f
            .fixed
            .iter()
            .filter(|v| cmp(v, &f.installed) == std::cmp::Ordering::Greater)
            .collect();
        above.sort_by(|a, b| cmp(a, b));
        let Some(v) = above.first() else { continue };
        let e = by
            .entry(f.package.clone())
            .or_insert_with(|| ((*v).clone(), Vec::new()));
        if cmp(v, &e.0) == std::cmp::Ordering::Greater {
            e.0 = (*v).clone();
        }
        e.1.push(f.id.clone());
    }
    Ok(Want::Fixes(
        by.into_iter().map(|(p, (v, ids))| (p, v, ids)).collect(),
        only_security,
    ))
}

pub fn run(a: &PatchArgs, g: &Globals) -> Result<u8> {
    let out = a.output.as_ref().map(|o| OutArgs {
        output: o.clone(),
        tag: a.tag.clone(),
        digestfile: a.digestfile.clone(),
        annotate: a.annotate.clone(),
    });
    let target = out.as_ref().map(|o| o.target(&a.image)).transpose()?;
    let img = Source::open(&crate::cli::input(&a.image)?)?.image(g.platform.as_ref())?;
    if a.only_security && a.report.is_none() {
        return Err(Error::Usage(
            "--only-security chooses among a --report's findings: give --report REPORT".into(),
        )
        .into());
    }
    let contents = patch::read_image(&img, g.max_layer_size)?;
    // An apk image (Alpine, Wolfi): apk's database and no dpkg one.
    let apk = patch::apkpatch::db_path(&contents).is_some()
        && contents.kept_at(b"var/lib/dpkg/status").is_none();
    if apk && a.only_security {
        return Err(Error::Usage(
            "--only-security reads apt suites' Release files; an apk repository says nothing of security (an apk image)".into(),
        )
        .into());
    }
    if apk && !a.keyring.is_empty() {
        return Err(Error::Usage(
            "--keyring verifies apt repositories; apk signatures are not verified (an apk image)"
                .into(),
        )
        .into());
    }
    let want = match (&a.report, a.all, a.package.is_empty()) {
        (Some(r), _, true) => fixes(r, &img, g.quiet, a.only_security, apk)?,
        (None, true, _) => Want::All,
        (None, false, false) => Want::Packages(a.package.clone()),
        (Some(_), _, false) => {
            return Err(Error::Usage("--report and --package: give one of them".into()).into());
        }
        (None, false, true) => {
            return Err(Error::Usage(
                "nothing to update: give --package NAME, --report REPORT or --all".into(),
            )
            .into());
        }
    };
    let accepts = a.accept.rules()?;
    let sde = crate::cli::source_date_epoch()?;
    let mtime = sde
        .or_else(|| {
            let c = regraft::mutate::created(&img, None)?;
            regraft::mutate::config::parse_rfc3339(&c).map(|x| x.0)
        })
        .unwrap_or(0)
        .max(0) as u64;
    let codec = edit::codec(&img, a.compression.as_deref())?;
    let dir = target.as_ref().filter(|_| !a.dry_run).map(edit::out_dir);
    let (p, notes) = if apk {
        let r = patch::apkpatch::patch(
            &img,
            &contents,
            &a.repo,
            &want,
            &accepts,
            codec,
            dir.as_deref(),
            mtime,
            g.max_layer_size,
        )?;
        (r.patched, r.notes)
    } else {
        let repos = Repos::read(&a.repo, &a.keyring)?;
        let p = patch::patch(
            &img,
            &contents,
            &repos,
            &want,
            &accepts,
            codec,
            dir.as_deref(),
            mtime,
            g.max_layer_size,
        )?;
        (p, repos.notes)
    };
    let file_key = if apk { "apk" } else { "deb" };
    let report = patch::check(&img, &p, &accepts, g.max_layer_size)?;
    let blocked = report.as_ref().is_some_and(|r| r.has_errors()) && !a.force;
    if a.json {
        let doc = serde_json::json!({
            "image": img.name,
            "dry_run": a.dry_run,
            "repositories": notes,
            "updates": p.updates.iter().map(|u| serde_json::json!({
                "package": u.to.name,
                "from": u.from.as_ref().map(|f| f.version.clone()),
                "to": u.to.version,
                "why": u.why,
                file_key: u.to.path.display().to_string(),
            })).collect::<Vec<_>>(),
            "applied": p.applied,
            "accepted_scripts": p.accepted_scripts,
            "ld_so_cache": p.ld_so_cache,
            "alternatives": p.alternatives,
            "unfixed": p.unfixed,
            "check": report,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else if !g.quiet || a.dry_run {
        // The plan: on stdout for a dry run (it is the command's output), else on stderr.
        let mut text = String::new();
        let mut line = |l: String| {
            text.push_str(&l);
            text.push('\n');
        };
        for n in &notes {
            line(format!("regraft: repository {}", sanitize(n)));
        }
        if p.updates.is_empty() {
            line("regraft: nothing to update: the repositories have nothing newer that was asked for".into());
        }
        for u in &p.updates {
            line(format!(
                "  {} {} -> {} ({})",
                u.to.name,
                u.from_version(),
                u.to.version,
                sanitize(&u.why)
            ));
        }
        for ap in &p.applied {
            for r in &ap.removed {
                line(format!("  {}: removed {}", ap.package, sanitize(r)));
            }
            for c in &ap.conffiles_kept {
                line(format!("  {}: kept {}", ap.package, sanitize(c)));
            }
        }
        for u in &p.unfixed {
            line(format!(
                "  not fixed (no such version in the repositories): {}",
                sanitize(u)
            ));
        }
        for l in &p.alternatives {
            line(format!("  {}", sanitize(l)));
        }
        if let Some(c) = &p.ld_so_cache {
            line(format!("  {}", sanitize(c)));
        }
        for (pkg, s) in &p.accepted_scripts {
            line(format!("  {pkg}: NOT RUN (accepted): {s}"));
        }
        if a.dry_run {
            super::print::emit(&text)?;
        } else {
            say!("{}", text.trim_end());
        }
        if let Some(r) = &report {
            if !r.findings.is_empty() {
                eprint!("{}", r.text());
            } else {
                say!("regraft: {}", r.passed());
            }
        }
    }
    if blocked {
        eprintln!(
            "regraft: the patched image would not run: nothing written; each error's --accept passes it, --force writes it anyway"
        );
        return Ok(regraft::error::exit::CHECK_FAILED);
    }
    let (Some(layer), Some(target), Some(out), false) = (p.layer, target, out, a.dry_run) else {
        return Ok(0);
    };
    let names: Vec<String> = p
        .updates
        .iter()
        .map(|u| format!("{}={}", u.to.name, u.to.version))
        .collect();
    let e = Edit {
        layer: Some(layer),
        created_by: format!("regraft patch {}", names.join(" ")),
        overrides: Default::default(),
        edits: Default::default(),
        layer_edits: Default::default(),
        created: None,
        history_comment: a.history.history_comment.clone(),
        source_date_epoch: sde,
        gate: None,
        what: format!("updated {} package(s) of {}", names.len(), img.name),
    };
    edit::write(&img, e, &target, &out, g)
}
