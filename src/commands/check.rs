//! `regraft check`: will an image's application run? Exit 3 on any error found.

use crate::cli::{self, CheckArgs, Globals};
use anyhow::Result;
use regraft::error::exit;
use regraft::graft::gate::CheckImage;
use regraft::text::sanitize;

pub fn run(a: &CheckArgs, g: &Globals) -> Result<u8> {
    let paths = cli::selections(&a.paths)?;
    let (rep, warnings) = regraft::graft::gate::check_image(&CheckImage {
        image: cli::input(&a.image)?,
        old_base: a.old_base.as_deref().map(cli::input).transpose()?,
        old_base_layers: a.old_base_layers,
        paths,
        platform: g.platform.clone(),
        max_layer_size: g.max_layer_size,
        baseline: a.baseline.as_deref().map(cli::input).transpose()?,
        accepts: a.accept.rules()?,
    })?;
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
