//! `regraft ls`: an image's merged filesystem, or one layer's entries, as text or JSON.

use super::print::emit;
use crate::cli::{self, Globals, LsArgs};
use anyhow::Result;
use regraft::error::exit;
use regraft::source::Source;
use regraft::toolbox::ls;

pub fn run(a: &LsArgs, g: &Globals) -> Result<u8> {
    let img = Source::open(&cli::input(&a.image)?)?.image(g.platform.as_ref())?;
    let entries = match a.layer {
        Some(n) => ls::ls_layer(&img, n, g.max_layer_size)?,
        None => ls::ls(&img, a.path.as_deref(), g.max_layer_size)?,
    };
    let text = if a.json {
        format!("{}\n", serde_json::to_string_pretty(&entries)?)
    } else {
        let listing = if a.long {
            ls::Listing::Long
        } else {
            ls::Listing::Paths
        };
        ls::text(&entries, listing)
    };
    // `regraft ls IMAGE | head`: a reader that stops early is no error.
    emit(&text)?;
    Ok(exit::OK)
}
