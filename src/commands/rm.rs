//! `regraft rm`: paths deleted from an image by one whiteout layer.

use super::edit::{self, Edit};
use crate::cli::{self, Globals, RmArgs};
use anyhow::Result;
use regraft::source::Source;
use regraft::toolbox::rm::whiteout_layer;

pub fn run(a: &RmArgs, g: &Globals) -> Result<u8> {
    let target = a.out.target(&a.image)?;
    let img = Source::open(&cli::input(&a.image)?)?.image(g.platform.as_ref())?;
    let codec = edit::codec(&img, a.compression.as_deref())?;
    let dir = edit::out_dir(&target);
    let (layer, deleted) = whiteout_layer(&img, &a.paths, codec, Some(&dir), g.max_layer_size)?;
    let e = Edit {
        layer: Some(layer),
        created_by: format!("regraft rm {}", deleted.join(" ")),
        edits: Default::default(),
        layer_edits: Default::default(),
        created: None,
        history_comment: a.history.history_comment.clone(),
        overrides: Default::default(),
        source_date_epoch: cli::source_date_epoch()?,
        what: format!("deleted {} from {}", deleted.join(", "), img.name),
        gate: None,
    };
    edit::write(&img, e, &target, &a.out, g)
}
