//! `regraft flatten`: an image's layers (all, or N and up) squashed into one.

use super::edit;
use super::print::write_digestfile;
use crate::cli::{self, FlattenArgs, Globals};
use anyhow::Result;
use regraft::error::exit;
use regraft::mutate::{self, Addenda, Created, HistoryKind, LayerFrom};
use regraft::sink::{self, WriteOptions};
use regraft::source::Source;
use regraft::text::sanitize;
use regraft::toolbox::flatten;

pub fn run(a: &FlattenArgs, g: &Globals) -> Result<u8> {
    let target = a.out.target(&a.image)?;
    let img = Source::open(&cli::input(&a.image)?)?.image(g.platform.as_ref())?;
    flatten::check_from(&img, a.from_layer)?;
    let codec = edit::codec(&img, a.compression.as_deref())?;
    let dir = edit::out_dir(&target);
    let from = a.from_layer;
    let last = img.layers.len() - 1;
    let layer = flatten::flatten_layer(&img, from, codec, &dir, g.max_layer_size)?;
    let created = mutate::created(&img, cli::source_date_epoch()?);
    let name = regraft::graft::output_tag(a.out.tag.as_deref(), &target, &img)?;
    let mut base = mutate::Base::of_image(&img, name);
    base.layers.truncate(from);
    flatten::squash_history(&mut base.config, &img, from);
    let add = Addenda {
        layers: vec![LayerFrom {
            image: "the flattened layer".into(),
            index: from,
            layer,
        }],
        history: vec![mutate::history_entry(
            created.as_deref(),
            format!("regraft flatten --from-layer {from}"),
            a.history
                .history_comment
                .as_deref()
                .unwrap_or(&format!("merge of layers {from} to {last}")),
            HistoryKind::Layer,
        )],
        created: Created::Set(created),
    };
    let o = mutate::append(base, add)?;
    let o = a.out.annotate.apply(o, &img.name)?;
    let opts = WriteOptions {
        max_layer_size: g.max_layer_size,
    };
    let d = sink::write(&target, &o, opts)?;
    write_digestfile(a.out.digestfile.as_deref(), &d)?;
    if !g.quiet {
        say!(
            "regraft: flattened layers {from} to {last} of {} into one; wrote {}: manifest {}",
            sanitize(&img.name),
            target,
            d
        );
    }
    Ok(exit::OK)
}
