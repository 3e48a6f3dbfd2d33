//! `regraft diff`: two images compared (packages, files, config), and with `--report` which
//! findings the new one no longer carries (stated as OpenVEX with `--vex-out`).

use super::print::emit;
use crate::cli::{self, DiffArgs, Globals};
use anyhow::Result;
use regraft::diff::DiffPlan;
use regraft::error::exit;
use std::path::Path;

pub fn run(a: &DiffArgs, g: &Globals) -> Result<u8> {
    if let Some(o) = &a.vex_out {
        regraft::store::temp::check_output_parent(Path::new(o))?;
    }
    let plan = DiffPlan {
        old: cli::input(&a.old)?,
        new: cli::input(&a.new)?,
        report: a.report.as_ref().map(Into::into),
        vex: a.vex_out.is_some(),
        source_date_epoch: cli::source_date_epoch()?,
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
    if let (Some(o), Some(v)) = (&a.vex_out, &d.vex) {
        let mut bytes = serde_json::to_vec_pretty(v)?;
        bytes.push(b'\n');
        super::print::write_output_file(o, &bytes)?;
    }
    if a.json {
        emit(&format!("{}\n", d.json()?))?;
    } else {
        emit(&d.text())?;
    }
    Ok(exit::OK)
}
