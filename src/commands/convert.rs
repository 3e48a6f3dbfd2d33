//! `regraft convert`: an image (or, with `--all`, every image of a source) copied from any
//! readable format to any writable one.

use super::print::{warn, write_digestfile};
use crate::cli::{self, ConvertArgs, Globals};
use anyhow::Result;
use regraft::error::exit;
use regraft::model::out::OutImage;
use regraft::model::reference::{ImageRef, Selector, Transport};
use regraft::sink::{self, WriteOptions};
use regraft::source::Source;
use regraft::text::sanitize;

pub fn run(a: &ConvertArgs, g: &Globals) -> Result<u8> {
    let out = cli::output(&a.dest, &[("SOURCE", &a.source)])?;
    cli::digestfile_apart(a.digestfile.as_deref(), &[("SOURCE", &a.source)])?;
    a.annotate.annotations()?;
    a.annotate.media_format()?;
    let src = Source::open(&cli::input(&a.source)?)?;
    if a.all {
        convert_all(&src, &out, a, g)?;
    } else {
        convert_one(&src, &out, a, g)?;
    }
    Ok(exit::OK)
}

/// The image the source reference names.
fn convert_one(src: &Source, out: &ImageRef, a: &ConvertArgs, g: &Globals) -> Result<()> {
    let img = src.image(g.platform.as_ref())?;
    for w in &img.warnings {
        say!("regraft: warning: {}: {}", sanitize(&img.name), sanitize(w));
    }
    let name = img.tags.first().cloned();
    write(out, &OutImage::from_image(&img, name), &img.name, a, g)
}

/// Every entry; an index whole, with every platform image it holds.
fn convert_all(src: &Source, out: &ImageRef, a: &ConvertArgs, g: &Globals) -> Result<()> {
    let sels: Vec<Selector> = match &src.reference.selector {
        Some(sel) => vec![sel.clone()],
        None => (0..src.entries().len()).map(Selector::Nth).collect(),
    };
    if sels.len() > 1 && out.transport != Transport::Oci {
        return Err(regraft::Error::Usage(format!(
            "convert --all: {} holds {} images; an archive takes one, so write them to an OCI layout (oci:DIR)",
            src.describe(),
            sels.len()
        ))
        .into());
    }
    for sel in &sels {
        let mut warnings = Vec::new();
        let (plan, what) = entry(src, sel, g, &mut warnings)?;
        for w in &warnings {
            warn(w);
        }
        write(out, &plan, &what, a, g)?;
    }
    Ok(())
}

/// One entry of the source as written, and how the summary line names it.
fn entry(
    src: &Source,
    sel: &Selector,
    g: &Globals,
    warnings: &mut Vec<String>,
) -> Result<(OutImage, String)> {
    if let Some(p) = src.whole_index(Some(sel), warnings)? {
        let what = format!("{} (index, every platform)", src.describe());
        return Ok((p, what));
    }
    let img = src.image_with(Some(sel), g.platform.as_ref())?;
    warnings.extend(img.warnings.iter().cloned());
    let name = img.tags.first().cloned();
    Ok((OutImage::from_image(&img, name), img.name.clone()))
}

/// Writes one image, its digest file, and the line that says so.
fn write(out: &ImageRef, plan: &OutImage, what: &str, a: &ConvertArgs, g: &Globals) -> Result<()> {
    let opts = WriteOptions {
        max_layer_size: g.max_layer_size,
    };
    let plan = &a.annotate.apply(plan.clone(), what)?;
    let (d, moved) = sink::write_counted(out, plan, opts)?;
    write_digestfile(a.digestfile.as_deref(), &d)?;
    if !g.quiet {
        say!("{} -> {} {}", sanitize(what), out, d);
        if let Some(t) = moved {
            say!(
                "  moved: {}",
                regraft::graft::Moved::from_transfer(&t).text()
            );
        }
    }
    Ok(())
}
