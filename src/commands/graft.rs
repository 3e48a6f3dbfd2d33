//! The graft, regraft's default command: plan it, check the planned result, write it unless the
//! check blocks it (or it is a dry run), then say what was done.

use super::print::write_digestfile;
use crate::cli::{Globals, GraftArgs};
use anyhow::Result;
use regraft::check::Report;
use regraft::error::exit;
use regraft::graft::gate::check_graft;
use regraft::graft::{GraftPlan, Grafted, WriteMode};
use regraft::sink::{self, WriteOptions};

pub fn run(a: &GraftArgs, g: &Globals) -> Result<u8> {
    let plan = a.plan(g)?;
    let write = a.write_mode();
    let (mut grafted, report) = graft_checked(&plan, write)?;
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

/// Plans the graft and checks the planned result. The new layer is always built (a dry run
/// too): the checks read it. When the check adds a layer (the merged package database), its
/// image replaces the graft's.
fn graft_checked(plan: &GraftPlan, write: WriteMode) -> Result<(Grafted, Report)> {
    let mut g = regraft::graft::graft(plan, write)?;
    g.summary.dry_run = write == WriteMode::DryRun;
    let gc = check_graft(plan, &mut g, write)?;
    if let Some((img, digest)) = gc.merged {
        g.image = img;
        g.summary.manifest_digest = digest.to_string();
        g.summary.layers += 1;
        if let Some(d) = &g.image.docker {
            g.summary.config_digest = d.config.to_string();
        }
    }
    Ok((g, gc.report))
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
