//! `regraft check`: will an image's application run? Exit 3 on any error found.

use crate::cli::{self, CheckArgs, Globals};
use anyhow::Result;
use regraft::error::exit;
use regraft::text::sanitize;

pub fn run(a: &CheckArgs, g: &Globals) -> Result<u8> {
    let paths = cli::selections(&a.paths)?;
    let (rep, warnings) = regraft::graft::gate::check_image(
        &cli::input(&a.image)?,
        a.old_base.as_deref().map(cli::input).transpose()?,
        a.old_base_layers,
        paths,
        g.platform.clone(),
        g.max_layer_size,
    )?;
    for w in &warnings {
        eprintln!("regraft: warning: {}", sanitize(w));
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rep)?);
    }
    if !g.quiet || rep.has_errors() {
        eprint!("{}", rep.text());
    }
    Ok(if rep.has_errors() {
        exit::CHECK_FAILED
    } else {
        exit::OK
    })
}
