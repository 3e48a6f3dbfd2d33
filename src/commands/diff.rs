//! `regraft diff`: two images compared (packages, files, config), and with `--report` which
//! findings the new one no longer carries.

use super::print::emit;
use crate::cli::{self, DiffArgs, Globals};
use anyhow::Result;
use regraft::diff::DiffPlan;
use regraft::error::exit;

pub fn run(a: &DiffArgs, g: &Globals) -> Result<u8> {
    let plan = DiffPlan {
        old: cli::input(&a.old)?,
        new: cli::input(&a.new)?,
        report: a.report.as_ref().map(Into::into),
        platform: g.platform.clone(),
        max_layer_size: g.max_layer_size,
        paths: cli::selections(&a.paths)?,
    };
    if a.stat {
        let st = regraft::diff::narrow::stat(&plan)?;
        emit(&if a.json {
            format!("{}\n", st.json()?)
        } else {
            st.text()
        })?;
        return Ok(exit::OK);
    }
    let d = regraft::diff::diff(&plan)?;
    if a.json {
        emit(&format!("{}\n", d.json()?))?;
    } else {
        emit(&d.text())?;
    }
    Ok(exit::OK)
}
