//! The graft, regraft's default command: plan it, check the planned result, write it unless the
//! check blocks it (or it is a dry run), then say what was done. A multi-platform vendor is
//! grafted platform by platform into one index (`regraft::graft::multi`): each platform's
//! summary and check, then the total; the exit code is the worst of them.

use super::print::write_digestfile;
use crate::cli::{Globals, GraftArgs};
use anyhow::Result;
use regraft::check::Report;
use regraft::error::exit;
use regraft::graft::gate::graft_checked;
use regraft::graft::multi::{self, MultiGrafted, Platforms};
use regraft::graft::{GraftPlan, Grafted, WriteMode};
use regraft::sink::{self, WriteOptions};

pub fn run(a: &GraftArgs, g: &Globals) -> Result<u8> {
    let plan = a.plan(g)?;
    let write = a.write_mode();
    if let Some(ps) = multi::plan_platforms(&plan, &g.platforms)? {
        return run_multi(&plan, &ps, a, g);
    }
    let (mut grafted, report) = graft_checked(&plan, write, None)?;
    let blocked = report.has_errors() && !a.force;
    let written = write == WriteMode::Write && !blocked;
    if written {
        write_result(&mut grafted, &plan, a)?;
    }
    if a.json {
        print_json(&grafted, &report, written)?;
    }
    if (!report.findings.is_empty() || report.package_database.is_some())
        && (!g.quiet || report.has_errors())
    {
        eprint!("{}", report.text());
    }
    if blocked {
        eprintln!(
            "regraft: the result would not run ({} error(s)): nothing written to {}; each error's --accept (or --exclude of its file) passes it, --force writes it anyway",
            report.errors,
            regraft::text::sanitize(&plan.output.to_string())
        );
        return Ok(exit::CHECK_FAILED);
    }
    if !g.quiet {
        say_part!("{}", grafted.summary.text());
        if !report.has_errors() {
            say_part!("  {}\n", report.passed());
        }
    }
    Ok(exit::OK)
}

/// Writes the result (finishing the archive the graft began, if it began one) and its digest
/// file.
fn write_result(g: &mut Grafted, plan: &GraftPlan, a: &GraftArgs) -> Result<()> {
    let opts = WriteOptions {
        max_layer_size: plan.max_layer_size,
    };
    let (d, transfer) = match g.sink.take() {
        Some(s) => {
            let t = s.transfer();
            (s.commit(&g.image)?, t)
        }
        None => sink::write_counted(&plan.output, &g.image, opts)?,
    };
    g.summary.moved = transfer.map(|t| regraft::graft::Moved::from_transfer(&t));
    write_digestfile(a.digestfile.as_deref(), &d)
}

/// `--json`: the summary, the check's report, and whether the result was written.
fn print_json(g: &Grafted, report: &Report, written: bool) -> Result<()> {
    let mut doc = serde_json::to_value(&g.summary)?;
    if let Some(o) = doc.as_object_mut() {
        o.insert("check".into(), serde_json::to_value(report)?);
        o.insert("written".into(), written.into());
    }
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// A multi-platform graft: every platform grafted and checked; the index written unless a
/// platform's check blocks it (then nothing is written).
fn run_multi(plan: &GraftPlan, ps: &Platforms, a: &GraftArgs, g: &Globals) -> Result<u8> {
    let write = a.write_mode();
    let mut m = multi::graft_all(plan, ps, write)?;
    let blocked = m.has_errors() && !a.force;
    let written = write == WriteMode::Write && !blocked;
    let mut moved = None;
    if written {
        let opts = WriteOptions {
            max_layer_size: plan.max_layer_size,
        };
        let (d, transfer) = match m.sink.take() {
            Some(s) => {
                let t = s.transfer();
                (s.commit(&m.image)?, t)
            }
            None => sink::write_counted(&plan.output, &m.image, opts)?,
        };
        moved = transfer.map(|t| regraft::graft::Moved::from_transfer(&t));
        write_digestfile(a.digestfile.as_deref(), &d)?;
    }
    let z = regraft::text::sanitize;
    let errors: usize = m.platforms.iter().map(|p| p.report.errors).sum();
    let warnings: usize = m.platforms.iter().map(|p| p.report.warnings).sum();
    let code = if blocked {
        exit::CHECK_FAILED
    } else {
        exit::OK
    };
    if a.json {
        print_multi_json(&m, plan, errors, warnings, written, code, moved.as_ref())?;
    }
    for p in &m.platforms {
        let r = &p.report;
        if (!r.findings.is_empty() || r.package_database.is_some()) && (!g.quiet || r.has_errors())
        {
            eprint!("[{}] {}", p.platform, r.text());
        }
    }
    let platforms: Vec<String> = m.platforms.iter().map(|p| p.platform.to_string()).collect();
    if blocked {
        let which: Vec<String> = m
            .platforms
            .iter()
            .filter(|p| p.report.has_errors())
            .map(|p| format!("{} ({} error(s))", p.platform, p.report.errors))
            .collect();
        eprintln!(
            "regraft: the result would not run on {}: nothing written to {}; each error's --accept (or --exclude of its file) passes it, --force writes it anyway",
            which.join(", "),
            z(&plan.output.to_string())
        );
        return Ok(code);
    }
    if !g.quiet {
        for p in &m.platforms {
            let body = p.grafted.summary.body();
            let body = body.replacen("regraft: ", &format!("regraft: [{}] ", p.platform), 1);
            say_part!("{body}");
            say_part!("  manifest {}\n", p.grafted.summary.manifest_digest);
            if !p.report.has_errors() {
                say_part!("  {}\n", p.report.passed());
            }
        }
        let verb = if written {
            "wrote"
        } else {
            "dry run: nothing written; would write"
        };
        say_part!(
            "regraft: {verb} {}{}: index {} of {} platform(s): {}\n",
            z(&plan.output.to_string()),
            m.image
                .name
                .as_deref()
                .map(|t| format!(" as {}", z(t)))
                .unwrap_or_default(),
            m.image.top.digest,
            platforms.len(),
            platforms.join(", ")
        );
        if let Some(mv) = &moved {
            say_part!("  moved: {}\n", mv.text());
        }
        for l in &m.left_out {
            say_part!("  {}\n", z(l));
        }
        say_part!(
            "  check: {errors} error(s), {warnings} warning(s) over {} platform(s)\n",
            platforms.len()
        );
    }
    Ok(code)
}

/// `--json` of a multi-platform graft: per platform its summary and check, then the total.
fn print_multi_json(
    m: &MultiGrafted,
    plan: &GraftPlan,
    errors: usize,
    warnings: usize,
    written: bool,
    code: u8,
    moved: Option<&regraft::graft::Moved>,
) -> Result<()> {
    let mut platforms = Vec::new();
    for p in &m.platforms {
        let mut doc = serde_json::to_value(&p.grafted.summary)?;
        if let Some(o) = doc.as_object_mut() {
            o.insert("platform".into(), p.platform.to_string().into());
            o.insert("check".into(), serde_json::to_value(&p.report)?);
        }
        platforms.push(doc);
    }
    let mut doc = serde_json::json!({
        "output": plan.output.to_string(),
        "tag": m.image.name,
        "index_digest": m.image.top.digest.to_string(),
        "platforms": platforms,
        "left_out": m.left_out,
        "total": {
            "platforms": m.platforms.len(),
            "errors": errors,
            "warnings": warnings,
            "exit_code": code,
        },
        "written": written,
    });
    if let (Some(mv), Some(o)) = (moved, doc.as_object_mut()) {
        o.insert("moved".into(), serde_json::to_value(mv)?);
    }
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
