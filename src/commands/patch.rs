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

/// One image's patch, planned, built (when written) and checked.
struct One {
    img: regraft::model::image::Image,
    p: patch::Patched,
    notes: Vec<String>,
    report: Option<regraft::check::Report>,
    apk: bool,
    sde: Option<i64>,
}

impl One {
    fn blocked(&self, force: bool) -> bool {
        self.report.as_ref().is_some_and(|r| r.has_errors()) && !force
    }

    /// The history entry's created_by: the packages and their new versions.
    fn created_by(&self) -> (String, usize) {
        let names: Vec<String> = self
            .p
            .updates
            .iter()
            .map(|u| format!("{}={}", u.to.name, u.to.version))
            .collect();
        (format!("regraft patch {}", names.join(" ")), names.len())
    }

    fn json(&self, a: &PatchArgs) -> serde_json::Value {
        let file_key = if self.apk { "apk" } else { "deb" };
        let p = &self.p;
        serde_json::json!({
            "image": self.img.name,
            "dry_run": a.dry_run,
            "repositories": self.notes,
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
            "check": self.report,
        })
    }

    /// The plan as text, each line after `prefix` (a platform's name, for an index).
    fn text(&self, prefix: &str) -> String {
        let p = &self.p;
        let mut text = String::new();
        let mut line = |l: String| {
            text.push_str(&l);
            text.push('\n');
        };
        for n in &self.notes {
            line(format!("regraft: {prefix}repository {}", sanitize(n)));
        }
        if p.updates.is_empty() {
            line(format!(
                "regraft: {prefix}nothing to update: the repositories have nothing newer that was asked for"
            ));
        }
        for u in &p.updates {
            line(format!(
                "  {prefix}{} {} -> {} ({})",
                u.to.name,
                u.from_version(),
                u.to.version,
                sanitize(&u.why)
            ));
        }
        for ap in &p.applied {
            for r in &ap.removed {
                line(format!("  {prefix}{}: removed {}", ap.package, sanitize(r)));
            }
            for c in &ap.conffiles_kept {
                line(format!("  {prefix}{}: kept {}", ap.package, sanitize(c)));
            }
        }
        for u in &p.unfixed {
            line(format!(
                "  {prefix}not fixed (no such version in the repositories): {}",
                sanitize(u)
            ));
        }
        for l in &p.alternatives {
            line(format!("  {prefix}{}", sanitize(l)));
        }
        if let Some(c) = &p.ld_so_cache {
            line(format!("  {prefix}{}", sanitize(c)));
        }
        for (pkg, s) in &p.accepted_scripts {
            line(format!("  {prefix}{pkg}: NOT RUN (accepted): {s}"));
        }
        text
    }

    /// Prints the plan (stdout for a dry run, else stderr) and the check's report.
    fn print(&self, a: &PatchArgs, g: &Globals, prefix: &str) -> Result<()> {
        if !g.quiet || a.dry_run {
            let text = self.text(prefix);
            if a.dry_run {
                super::print::emit(&text)?;
            } else {
                say!("{}", text.trim_end());
            }
            if let Some(r) = &self.report {
                if !r.findings.is_empty() {
                    eprint!("{}", r.text());
                } else {
                    say!("regraft: {prefix}{}", r.passed());
                }
            }
        }
        Ok(())
    }
}

/// Plans, builds (into `dir`, when given) and checks the patch of one image.
fn plan_one(
    a: &PatchArgs,
    g: &Globals,
    img: regraft::model::image::Image,
    dir: Option<&std::path::Path>,
) -> Result<One> {
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
    let (p, notes) = if apk {
        let r = patch::apkpatch::patch(
            &img,
            &contents,
            &a.repo,
            &a.keyring,
            &want,
            &accepts,
            codec,
            dir,
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
            dir,
            mtime,
            g.max_layer_size,
        )?;
        (p, repos.notes)
    };
    let report = patch::check(&img, &p, &accepts, g.max_layer_size)?;
    Ok(One {
        img,
        p,
        notes,
        report,
        apk,
        sde,
    })
}

const BLOCKED: &str = "regraft: the patched image would not run: nothing written; each error's --accept passes it, --force writes it anyway";

pub fn run(a: &PatchArgs, g: &Globals) -> Result<u8> {
    let out = a.output.as_ref().map(|o| OutArgs {
        output: o.clone(),
        tag: a.tag.clone(),
        digestfile: a.digestfile.clone(),
        annotate: a.annotate.clone(),
    });
    let target = out.as_ref().map(|o| o.target(&a.image)).transpose()?;
    if a.only_security && a.report.is_none() {
        return Err(Error::Usage(
            "--only-security chooses among a --report's findings: give --report REPORT".into(),
        )
        .into());
    }
    let src = Source::open(&crate::cli::input(&a.image)?)?;
    let dir = target.as_ref().filter(|_| !a.dry_run).map(edit::out_dir);
    // An index of several platforms, and no --platform: each platform is patched with the
    // packages of its architecture, and an index comes out (as a multi-platform graft).
    if g.platform.is_none()
        && let Some(ip) = src.index_platforms()?.filter(|ip| ip.platforms.len() > 1)
    {
        return run_index(a, g, &src, ip, target.zip(out), dir.as_deref());
    }
    let one = plan_one(a, g, src.image(g.platform.as_ref())?, dir.as_deref())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&one.json(a))?);
    } else {
        one.print(a, g, "")?;
    }
    if one.blocked(a.force) {
        eprintln!("{BLOCKED}");
        return Ok(regraft::error::exit::CHECK_FAILED);
    }
    let (created_by, n) = one.created_by();
    let One { img, p, sde, .. } = one;
    let (Some(layer), Some(target), Some(out), false) = (p.layer, target, out, a.dry_run) else {
        return Ok(0);
    };
    let e = Edit {
        layer: Some(layer),
        created_by,
        overrides: Default::default(),
        edits: Default::default(),
        layer_edits: Default::default(),
        created: None,
        history_comment: a.history.history_comment.clone(),
        source_date_epoch: sde,
        gate: None,
        what: format!("updated {n} package(s) of {}", img.name),
    };
    edit::write(&img, e, &target, &out, g)
}

/// Every platform of an index patched, one after the other, into one new index: a platform
/// with nothing to update keeps its manifest as it is. Nothing is written unless every
/// platform's patch was made and passed its check.
fn run_index(
    a: &PatchArgs,
    g: &Globals,
    src: &Source,
    ip: regraft::source::IndexPlatforms,
    dest: Option<(regraft::model::reference::ImageRef, OutArgs)>,
    dir: Option<&std::path::Path>,
) -> Result<u8> {
    if let Some((t, _)) = &dest {
        regraft::graft::multi::refuse_single_image_output(
            t,
            &format!("the image {}", src.describe()),
        )?;
    }
    let mut done = Vec::new();
    for pf in &ip.platforms {
        let img = src.image(Some(pf))?;
        let one = plan_one(a, g, img, dir).map_err(|e| anyhow::anyhow!("platform {pf}: {e:#}"))?;
        done.push((pf.clone(), one));
    }
    if a.json {
        let doc = serde_json::json!({
            "image": src.describe(),
            "dry_run": a.dry_run,
            "platforms": done.iter().map(|(pf, one)| {
                let mut d = one.json(a);
                d["platform"] = serde_json::json!(pf.to_string());
                d
            }).collect::<Vec<_>>(),
            "left_out": ip.left_out,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for (pf, one) in &done {
            one.print(a, g, &format!("{pf}: "))?;
        }
        if !g.quiet {
            for l in &ip.left_out {
                say!("regraft: {}", sanitize(l));
            }
        }
    }
    if done.iter().any(|(_, one)| one.blocked(a.force)) {
        eprintln!("{BLOCKED}");
        return Ok(regraft::error::exit::CHECK_FAILED);
    }
    let Some((target, out)) = dest.filter(|_| !a.dry_run) else {
        return Ok(0);
    };
    if done.iter().all(|(_, one)| one.p.layer.is_none()) {
        return Ok(0);
    }
    let mut images = Vec::new();
    let mut total = 0;
    for (pf, one) in done {
        let (created_by, n) = one.created_by();
        total += n;
        let One { img, p, sde, .. } = one;
        let name = regraft::graft::output_tag(out.tag.as_deref(), &target, &img)?;
        let base_name = name.clone();
        let base = regraft::mutate::Base::of_image(&img, name);
        let o = match p.layer {
            Some(layer) => {
                let created = regraft::mutate::created(&img, sde);
                let add = regraft::mutate::Addenda::edit(
                    &img,
                    Some(layer),
                    created_by,
                    created,
                    a.history.history_comment.as_deref(),
                );
                regraft::mutate::append(base, add)?
            }
            // Nothing to update on this platform: its manifest as it is.
            None => regraft::model::out::OutImage::from_image(&img, base_name),
        };
        images.push((pf, o));
    }
    let index = regraft::mutate::index_of(images.iter().map(|(p, o)| (p, o)), &ip.annotations);
    let index = regraft::mutate::finish(
        index,
        &out.annotate.doc_edits()?,
        regraft::mutate::Children::Made,
        &format!("the index for {target}"),
    )?;
    let opts = regraft::sink::WriteOptions {
        max_layer_size: g.max_layer_size,
    };
    let d = regraft::sink::write(&target, &index, opts)?;
    super::print::write_digestfile(out.digestfile.as_deref(), &d)?;
    if !g.quiet {
        say!(
            "regraft: updated {total} package(s) across {} platform(s) of {}; wrote {}: index {}",
            images.len(),
            sanitize(src.describe()),
            target,
            d
        );
    }
    Ok(0)
}
