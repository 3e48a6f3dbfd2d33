//! `regraft sbom`: the image's OS packages as CycloneDX or SPDX JSON, on stdout or written
//! atomically to `-o FILE` (nothing is written when the image or its databases cannot be read).

use crate::cli::{self, Globals, SbomArgs};
use anyhow::Result;
use regraft::error::exit;
use regraft::sbom::{self, Format};
use regraft::source::Source;
use regraft::text::sanitize;
use std::io::Write;
use std::path::Path;

pub fn run(a: &SbomArgs, g: &Globals) -> Result<u8> {
    let format = match a.format.as_str() {
        "spdx" => Format::Spdx,
        _ => Format::CycloneDx,
    };
    if let Some(o) = &a.output {
        regraft::store::temp::check_output_parent(Path::new(o))?;
    }
    let epoch = cli::source_date_epoch()?;
    let img = Source::open(&cli::input(&a.image)?)?.image(g.platform.as_ref())?;
    let inv = sbom::inventory(&img, g.max_layer_size, epoch)?;
    let bytes = sbom::render(&inv, format)?;
    for w in &inv.warnings {
        eprintln!("regraft: warning: {}", sanitize(w));
    }
    if inv.databases.is_empty() && !g.quiet {
        eprintln!(
            "regraft: {}: no package database found",
            sanitize(&img.name)
        );
    }
    match &a.output {
        Some(o) => super::print::write_output_file(o, &bytes)?,
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    Ok(exit::OK)
}
