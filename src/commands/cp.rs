//! `regraft cp`: a path copied out of an image's merged filesystem, to a host directory or as a
//! tar on stdout.

use super::print::warn;
use crate::cli::{self, CpArgs, Globals};
use anyhow::Result;
use regraft::error::exit;
use regraft::source::Source;
use regraft::toolbox::cp;

pub fn run(a: &CpArgs, g: &Globals) -> Result<u8> {
    let (image, path) = cp::split_image_path(&a.source)?;
    let img = Source::open(&cli::input(&image)?)?.image(g.platform.as_ref())?;
    if a.dest == "-" {
        cp::cp_to_tar(&img, &path, g.max_layer_size, std::io::stdout().lock())?;
        return Ok(exit::OK);
    }
    let opts = cp::CpOptions {
        preserve_special: a.preserve_special,
    };
    let dest = std::path::Path::new(&a.dest);
    let warnings = cp::cp_to_dir(&img, &path, dest, &opts, g.max_layer_size)?;
    if !g.quiet {
        for w in warnings {
            warn(&w);
        }
    }
    Ok(exit::OK)
}
