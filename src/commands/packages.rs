//! `regraft packages`: the OS packages of an image's package database, each with the layer
//! that last wrote it.

use super::print::emit;
use crate::cli::{self, Globals, ImageArgs};
use anyhow::Result;
use regraft::error::exit;
use regraft::model::image::Image;
use regraft::packages::PackageDb;
use regraft::packages::purl::purl;
use regraft::source::Source;
use regraft::text::sanitize;

pub fn run(a: &ImageArgs, g: &Globals) -> Result<u8> {
    let img = Source::open(&cli::input(&a.image)?)?.image(g.platform.as_ref())?;
    let db = regraft::packages::read_packages(&img, g.max_layer_size)?;
    if a.json {
        print_json(&img, &db)?;
        return Ok(exit::OK);
    }
    emit(&text(&db))?;
    for w in &db.warnings {
        eprintln!("regraft: warning: {}", sanitize(w));
    }
    if db.databases.is_empty() && !g.quiet {
        eprintln!(
            "regraft: {}: no package database found",
            sanitize(&img.name)
        );
    }
    Ok(exit::OK)
}

fn print_json(img: &Image, db: &PackageDb) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "schema": "regraft.packages/v1",
            "image": img.name,
            "config_digest": img.config_desc.digest.to_string(),
            "databases": db.databases,
            "distro": db.distro,
            "packages": db.packages.iter().map(|p| {
                let mut v = serde_json::to_value(p).unwrap_or_default();
                v["purl"] = purl(p, db.distro.as_ref()).into();
                v
            }).collect::<Vec<_>>(),
            "warnings": db.warnings,
        }))?
    );
    Ok(())
}

/// One line a package: name, version, arch, the layer that wrote it, the database, the purl
/// (whose `distro` qualifier is the distribution).
fn text(db: &PackageDb) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for p in &db.packages {
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}",
            sanitize(&p.name),
            sanitize(&p.version),
            sanitize(&p.arch),
            p.source_layer
                .map(|l| l.to_string())
                .unwrap_or_else(|| "-".into()),
            p.db.name(),
            sanitize(&purl(p, db.distro.as_ref()))
        );
    }
    out
}
