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
    a: crate::cli::GraftArgs,
    platform: Option<regraft::spec::Platform>,
    max: u64,
    quiet: bool,
) -> Result<u8> {
    use regraft::error::Error;
    let need = |v: &Option<String>, flag: &str| {
        v.clone()
            .ok_or_else(|| Error::Usage(format!("a graft needs {flag} (see regraft --help)")))
    };
    if a.from.is_none() && a.onto.is_none() && a.output.is_none() {
        return Err(Error::Usage("nothing to do: give --from VENDOR --onto BASE -o OUT, or a command (see regraft --help)".into()).into());
    }
    let vendor = cli::input(&need(&a.from, "--from")?)?;
    let base = cli::input(&need(&a.onto, "--onto")?)?;
    let output = cli::output(&need(&a.output, "-o/--output")?)?;
    let old_base = a.old_base.as_deref().map(cli::input).transpose()?;
    let paths = regraft::graft::dedupe_selections(
        a.paths
            .iter()
            .map(|p| regraft::graft::clean_selection(p))
            .collect::<regraft::Result<Vec<_>>>()?,
    );
    let compression = a
        .compression
        .as_deref()
        .map(regraft::compress::Codec::parse)
        .transpose()?;
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => Some(v.trim().parse::<i64>().map_err(|_| {
            Error::Usage(format!(
                "SOURCE_DATE_EPOCH={v:?} is not a number of seconds"
            ))
        })?),
        _ => None,
    };
    if let Some(t) = &a.tag
        && (!t.contains(':') || t.ends_with(':'))
    {
        return Err(Error::Usage(format!("--tag {t:?}: expected NAME:TAG")).into());
    }
    let plan = regraft::graft::GraftPlan {
        vendor,
        base,
        old_base,
        old_base_layers: a.old_base_layers,
        output: output.clone(),
        paths,
        tag: a.tag.clone(),
        compression,
        overrides: regraft::config::Overrides {
            env: a.env.clone(),
            entrypoint: a.entrypoint.clone(),
            cmd: a.cmd.clone(),
            user: a.user.clone(),
            workdir: a.workdir.clone(),
            labels: a.label.clone(),
        },
        platform,
        max_layer_size: max,
        source_date_epoch,
    };
    let g = regraft::graft::graft(&plan, a.dry_run)?;
    if !a.dry_run {
        write::write(
            &output,
            &g.image,
            WriteOptions {
                max_layer_size: max,
            },
        )?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&g.summary)?);
    }
    if !quiet {
        eprint!("{}", g.summary.text());
    }
    Ok(0)
}
