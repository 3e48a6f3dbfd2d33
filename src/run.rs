//! Dispatch: each command turns its validated arguments into library calls and prints results.

use crate::cli::{self, Cli, Command};
use anyhow::Result;
use regraft::source::Source;
use regraft::write::{self, OutImage, WriteOptions};

pub fn run(cli: Cli) -> Result<u8> {
    let platform = cli.global.platform()?;
    let max = cli.global.max_layer_size()?;
    let quiet = cli.global.quiet;
    match cli.command {
        Some(Command::Inspect { image, json }) => {
            let img = Source::open(&cli::input(&image)?)?.image(platform.as_ref())?;
            let rep = regraft::inspect::inspect(&img);
            if json {
                println!("{}", serde_json::to_string_pretty(&rep)?);
            } else {
                print!("{}", rep.text());
            }
            Ok(0)
        }
        Some(Command::Verify { image, json }) => {
            let src = Source::open(&cli::input(&image)?)?;
            let img = src.image(platform.as_ref())?;
            let rep = regraft::verify::verify_image(&img, max)?;
            let disagreements = src.dual_format_disagreements()?;
            if json {
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
                    eprintln!(
                        "regraft: manifest.json disagrees with index.json: {}",
                        regraft::sanitize(d)
                    );
                }
                anyhow::bail!("{}: index.json and manifest.json disagree", img.name);
            }
            if !quiet && !json {
                eprintln!(
                    "{}: ok ({} layers, {} bytes, {} uncompressed; manifest {}, config {})",
                    regraft::sanitize(&img.name),
                    rep.layers,
                    rep.compressed_bytes,
                    rep.uncompressed_bytes,
                    img.manifest_digest,
                    img.config_desc.digest
                );
            }
            Ok(0)
        }
        Some(Command::Convert { source, dest, all }) => {
            let src = Source::open(&cli::input(&source)?)?;
            let out = cli::output(&dest)?;
            let opts = WriteOptions {
                max_layer_size: max,
            };
            if all {
                let n = src.entries().len();
                for i in 0..n {
                    let img = src.image_with(
                        Some(&regraft::reference::Selector::Nth(i)),
                        platform.as_ref(),
                    )?;
                    let name = img.tags.first().cloned();
                    let d = write::write(&out, &OutImage::from_image(&img, name), opts)?;
                    if !quiet {
                        eprintln!("{} -> {} {}", regraft::sanitize(&img.name), out, d);
                    }
                }
            } else {
                let img = src.image(platform.as_ref())?;
                for w in &img.warnings {
                    eprintln!(
                        "regraft: warning: {}: {}",
                        regraft::sanitize(&img.name),
                        regraft::sanitize(w)
                    );
                }
                let name = img.tags.first().cloned();
                let d = write::write(&out, &OutImage::from_image(&img, name), opts)?;
                if !quiet {
                    eprintln!("{} -> {} {}", regraft::sanitize(&img.name), out, d);
                }
            }
            Ok(0)
        }
        None => graft(cli.graft, platform, max, quiet),
    }
}

fn graft(
    _a: crate::cli::GraftArgs,
    _p: Option<regraft::spec::Platform>,
    _max: u64,
    _quiet: bool,
) -> Result<u8> {
    anyhow::bail!("graft: not yet")
}
