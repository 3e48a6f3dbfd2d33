//! `regraft append`: layer tarballs put on an image as they are, one history entry each.

use super::print::write_digestfile;
use crate::cli::{self, AppendArgs, Globals};
use anyhow::Result;
use regraft::error::exit;
use regraft::mutate::{self, Addenda, Created, HistoryKind, LayerFrom};
use regraft::sink::{self, WriteOptions};
use regraft::source::Source;
use regraft::text::sanitize;
use regraft::toolbox::append::layer_from_file;

pub fn run(a: &AppendArgs, g: &Globals) -> Result<u8> {
    let target = a.out.target(&a.image)?;
    let img = Source::open(&cli::input(&a.image)?)?.image(g.platform.as_ref())?;
    let created = mutate::created(&img, cli::source_date_epoch()?);
    let mut add = Addenda {
        layers: Vec::new(),
        history: Vec::new(),
        created: Created::Set(created.clone()),
    };
    for (i, f) in a.layers.iter().enumerate() {
        let index = img.layers.len() + i;
        let layer = layer_from_file(std::path::Path::new(f), index, g.max_layer_size)?;
        let name = std::path::Path::new(f)
            .file_name()
            .map_or_else(|| f.clone(), |n| n.to_string_lossy().into_owned());
        add.history.push(mutate::history_entry(
            created.as_deref(),
            format!("regraft append {name}"),
            a.history.history_comment.as_deref().unwrap_or("regraft"),
            HistoryKind::Layer,
        ));
        add.layers.push(LayerFrom {
            image: f.clone(),
            index,
            layer,
        });
    }
    let name = regraft::graft::output_tag(a.out.tag.as_deref(), &target, &img)?;
    let o = mutate::append(mutate::Base::of_image(&img, name), add)?;
    let o = a.out.annotate.apply(o, &img.name)?;
    let opts = WriteOptions {
        max_layer_size: g.max_layer_size,
    };
    let d = sink::write(&target, &o, opts)?;
    write_digestfile(a.out.digestfile.as_deref(), &d)?;
    if !g.quiet {
        say!(
            "regraft: appended {} to {}; wrote {}: manifest {}",
            sanitize(&a.layers.join(", ")),
            sanitize(&img.name),
            target,
            d
        );
    }
    Ok(exit::OK)
}
