//! `regraft add`: local files or directories appended to an image as one new layer.

use super::edit::{self, Edit};
use super::print::warn;
use crate::cli::{self, AddArgs, Globals};
use anyhow::Result;
use regraft::source::Source;
use regraft::toolbox::add::add_layer;

pub fn run(a: &AddArgs, g: &Globals) -> Result<u8> {
    let target = a.out.target(&a.image)?;
    let img = Source::open(&cli::input(&a.image)?)?.image(g.platform.as_ref())?;
    let specs = a.specs()?;
    let sde = cli::source_date_epoch()?;
    if sde.is_none() && !g.quiet {
        say!(
            "regraft: warning: SOURCE_DATE_EPOCH is not set: the host's mtimes are kept and the output is not reproducible"
        );
    }
    let opts = a.options(sde)?;
    let codec = edit::codec(&img, a.compression.as_deref())?;
    let dir = edit::out_dir(&target);
    let (layer, warnings) = add_layer(&img, &specs, &opts, codec, Some(&dir), g.max_layer_size)?;
    if !g.quiet {
        for w in warnings {
            warn(&w);
        }
    }
    let dests: Vec<&str> = specs.iter().map(|(_, d)| d.as_str()).collect();
    let e = Edit {
        layer: Some(layer),
        created_by: format!("regraft add {}", dests.join(" ")),
        edits: Default::default(),
        layer_edits: Default::default(),
        created: None,
        history_comment: a.history.history_comment.clone(),
        overrides: a.config.overrides(),
        source_date_epoch: sde,
        gate: Some(a.gate.clone()),
        what: format!("added {} to {}", dests.join(", "), img.name),
    };
    edit::write(&img, e, &target, &a.out, g)
}
