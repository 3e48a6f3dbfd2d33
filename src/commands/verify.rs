//! `regraft verify`: every digest, size and diff_id of an image, and for dual-format files
//! whether `manifest.json` agrees with `index.json`.

use crate::cli::{self, Globals, ImageArgs};
use anyhow::Result;
use regraft::error::exit;
use regraft::source::Source;
use regraft::text::sanitize;

pub fn run(a: &ImageArgs, g: &Globals) -> Result<u8> {
    let src = Source::open(&cli::input(&a.image)?)?;
    let img = src.image(g.platform.as_ref())?;
    regraft::progress::add_total(img.layers.iter().map(|l| l.desc.size).sum());
    let rep = regraft::verify::verify_image(&img, g.max_layer_size)?;
    let disagreements = src.dual_format_disagreements()?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "image": img.name,
                "ok": disagreements.is_empty(),
                "layers": rep.layers,
                "compressed_bytes": rep.compressed_bytes,
                "uncompressed_bytes": rep.uncompressed_bytes,
                "dual_format_disagreements": disagreements,
            }))?
        );
    }
    if !disagreements.is_empty() {
        for d in &disagreements {
            say!(
                "regraft: manifest.json disagrees with index.json: {}",
                sanitize(d)
            );
        }
        anyhow::bail!("{}: index.json and manifest.json disagree", img.name);
    }
    if !g.quiet && !a.json {
        say!(
            "{}: ok ({} layers, {} bytes, {} uncompressed; manifest {}, config {})",
            sanitize(&img.name),
            rep.layers,
            rep.compressed_bytes,
            rep.uncompressed_bytes,
            img.manifest_digest,
            img.config_desc.digest
        );
    }
    Ok(exit::OK)
}
