//! Dispatch: each command turns its validated arguments into library calls and prints results.

use crate::cli::{self, Cli, Command};
use anyhow::Result;
use regraft::sink::{self, OutImage, WriteOptions};
use regraft::source::Source;

/// `eprintln!`, after clearing the progress line.
macro_rules! say {
    ($($t:tt)*) => {{
        regraft::progress::stop();
        eprintln!($($t)*);
    }};
}

/// `eprint!`, after clearing the progress line.
macro_rules! say_part {
    ($($t:tt)*) => {{
        regraft::progress::stop();
        eprint!($($t)*);
    }};
}

pub fn run(cli: Cli) -> Result<u8> {
    let platform = cli.global.platform()?;
    let max = cli.global.max_layer_size()?;
    let quiet = cli.global.quiet;
    regraft::progress::set_verbose(cli.global.verbose);
    // Progress: on a terminal unless -q, or wherever --progress asks; never for --help-like
    // commands that read no layers.
    let wants_progress = !quiet
        && (cli.global.progress || std::io::IsTerminal::is_terminal(&std::io::stderr()))
        && !matches!(
            cli.command,
            Some(Command::Completions { .. }) | Some(Command::Man)
        );
    if wants_progress {
        regraft::progress::start();
    }
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
            regraft::progress::add_total(img.layers.iter().map(|l| l.desc.size).sum());
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
                    say!(
                        "regraft: manifest.json disagrees with index.json: {}",
                        regraft::text::sanitize(d)
                    );
                }
                anyhow::bail!("{}: index.json and manifest.json disagree", img.name);
            }
            if !quiet && !json {
                say!(
                    "{}: ok ({} layers, {} bytes, {} uncompressed; manifest {}, config {})",
                    regraft::text::sanitize(&img.name),
                    rep.layers,
                    rep.compressed_bytes,
                    rep.uncompressed_bytes,
                    img.manifest_digest,
                    img.config_desc.digest
                );
            }
            Ok(0)
        }
        Some(Command::Convert {
            source,
            dest,
            all,
            digestfile,
        }) => {
            let src = Source::open(&cli::input(&source)?)?;
            let out = cli::output(&dest)?;
            let opts = WriteOptions {
                max_layer_size: max,
            };
            if all {
                // Every entry; an index whole, with every platform image it holds.
                let sels: Vec<regraft::model::reference::Selector> = match &src.reference.selector {
                    Some(sel) => vec![sel.clone()],
                    None => (0..src.entries().len())
                        .map(regraft::model::reference::Selector::Nth)
                        .collect(),
                };
                if sels.len() > 1 && out.transport != regraft::model::reference::Transport::Oci {
                    return Err(regraft::Error::Usage(format!(
                        "convert --all: {} holds {} images; an archive takes one, so write them to an OCI layout (oci:DIR)",
                        src.container.display(),
                        sels.len()
                    ))
                    .into());
                }
                for sel in &sels {
                    let mut warnings = Vec::new();
                    let (plan, what) = match src.whole_index(Some(sel), &mut warnings)? {
                        Some(p) => (
                            p,
                            format!("{} (index, every platform)", src.container.display()),
                        ),
                        None => {
                            let img = src.image_with(Some(sel), platform.as_ref())?;
                            warnings.extend(img.warnings.iter().cloned());
                            let name = img.tags.first().cloned();
                            (OutImage::from_image(&img, name), img.name.clone())
                        }
                    };
                    for w in &warnings {
                        say!("regraft: warning: {}", regraft::text::sanitize(w));
                    }
                    let d = sink::write(&out, &plan, opts)?;
                    write_digestfile(digestfile.as_deref(), &d)?;
                    if !quiet {
                        say!("{} -> {} {}", regraft::text::sanitize(&what), out, d);
                    }
                }
            } else {
                let img = src.image(platform.as_ref())?;
                for w in &img.warnings {
                    say!(
                        "regraft: warning: {}: {}",
                        regraft::text::sanitize(&img.name),
                        regraft::text::sanitize(w)
                    );
                }
                let name = img.tags.first().cloned();
                let d = sink::write(&out, &OutImage::from_image(&img, name), opts)?;
                write_digestfile(digestfile.as_deref(), &d)?;
                if !quiet {
                    say!("{} -> {} {}", regraft::text::sanitize(&img.name), out, d);
                }
            }
            Ok(0)
        }
        Some(Command::Cp {
            source,
            dest,
            preserve_special,
        }) => {
            let (image, path) = regraft::toolbox::cp::split_image_path(&source)?;
            let img = Source::open(&cli::input(&image)?)?.image(platform.as_ref())?;
            if dest == "-" {
                regraft::toolbox::cp::cp_to_tar(&img, &path, max, std::io::stdout().lock())?;
            } else {
                let opts = regraft::toolbox::cp::CpOptions { preserve_special };
                let warnings = regraft::toolbox::cp::cp_to_dir(
                    &img,
                    &path,
                    std::path::Path::new(&dest),
                    &opts,
                    max,
                )?;
                if !quiet {
                    for w in warnings {
                        say!("regraft: warning: {}", regraft::text::sanitize(&w));
                    }
                }
            }
            Ok(0)
        }
        Some(Command::Ls {
            image,
            path,
            long,
            layer,
            json,
        }) => {
            let img = Source::open(&cli::input(&image)?)?.image(platform.as_ref())?;
            let entries = match layer {
                Some(n) => regraft::toolbox::ls::ls_layer(&img, n, max)?,
                None => regraft::toolbox::ls::ls(&img, path.as_deref(), max)?,
            };
            let text = if json {
                format!("{}\n", serde_json::to_string_pretty(&entries)?)
            } else {
                let listing = if long {
                    regraft::toolbox::ls::Listing::Long
                } else {
                    regraft::toolbox::ls::Listing::Paths
                };
                regraft::toolbox::ls::text(&entries, listing)
            };
            // `regraft ls IMAGE | head`: a reader that stops early is no error (print! panics).
            let mut stdout = std::io::stdout().lock();
            let written = std::io::Write::write_all(&mut stdout, text.as_bytes())
                .and_then(|()| std::io::Write::flush(&mut stdout));
            match written {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(0),
            }
        }
        Some(Command::Add {
            image,
            specs,
            out,
            chown,
            chmod,
            compression,
            config,
        }) => {
            let img = Source::open(&cli::input(&image)?)?.image(platform.as_ref())?;
            let specs = specs
                .iter()
                .map(|s| regraft::toolbox::add::parse_spec(s))
                .collect::<regraft::Result<Vec<_>>>()?;
            let sde = source_date_epoch()?;
            if sde.is_none() && !quiet {
                say!(
                    "regraft: warning: SOURCE_DATE_EPOCH is not set: the host's mtimes are kept and the output is not reproducible"
                );
            }
            let opts = regraft::toolbox::add::AddOptions {
                chown: chown
                    .as_deref()
                    .map(regraft::toolbox::parse_chown)
                    .transpose()?,
                chmod: chmod
                    .as_deref()
                    .map(regraft::toolbox::parse_chmod)
                    .transpose()?,
                clamp: sde.map(|t| t.max(0) as u64),
            };
            let codec = codec_for(&img, compression.as_deref())?;
            let target = cli::output(&out.output)?;
            let dir = out_dir(&target);
            let (layer, warnings) =
                regraft::toolbox::add::add_layer(&img, &specs, &opts, codec, Some(&dir), max)?;
            if !quiet {
                for w in warnings {
                    say!("regraft: warning: {}", regraft::text::sanitize(&w));
                }
            }
            let dests: Vec<&str> = specs.iter().map(|(_, d)| d.as_str()).collect();
            let edit = Edit {
                layer: Some(layer),
                created_by: format!("regraft add {}", dests.join(" ")),
                overrides: overrides(&config),
                source_date_epoch: sde,
                what: format!("added {} to {}", dests.join(", "), img.name),
            };
            edit_and_write(&img, edit, &target, &out, max, quiet)
        }
        Some(Command::Rm {
            image,
            paths,
            out,
            compression,
        }) => {
            let img = Source::open(&cli::input(&image)?)?.image(platform.as_ref())?;
            let codec = codec_for(&img, compression.as_deref())?;
            let target = cli::output(&out.output)?;
            let dir = out_dir(&target);
            let (layer, deleted) =
                regraft::toolbox::rm::whiteout_layer(&img, &paths, codec, Some(&dir), max)?;
            let edit = Edit {
                layer: Some(layer),
                created_by: format!("regraft rm {}", deleted.join(" ")),
                overrides: Default::default(),
                source_date_epoch: source_date_epoch()?,
                what: format!("deleted {} from {}", deleted.join(", "), img.name),
            };
            edit_and_write(&img, edit, &target, &out, max, quiet)
        }
        Some(Command::Config { image, out, config }) => {
            let img = Source::open(&cli::input(&image)?)?.image(platform.as_ref())?;
            let ov = overrides(&config);
            if ov.is_empty() {
                return Err(regraft::Error::Usage("config: nothing to change (give --env, --entrypoint, --cmd, --user, --workdir or --label)".into()).into());
            }
            let target = cli::output(&out.output)?;
            let edit = Edit {
                layer: None,
                created_by: "regraft config".into(),
                overrides: ov,
                source_date_epoch: source_date_epoch()?,
                what: format!("edited the config of {}", img.name),
            };
            edit_and_write(&img, edit, &target, &out, max, quiet)
        }
        Some(Command::Triage {
            image,
            report,
            old_base,
            old_base_layers,
            fail_on,
            ignore_unfixed,
            ignore,
            json,
        }) => {
            let res = triage_plan(
                image,
                report,
                old_base,
                old_base_layers,
                fail_on,
                ignore_unfixed,
                ignore,
                platform.clone(),
                max,
            )
            .and_then(|p| regraft::triage::triage(&p));
            match res {
                Ok(t) => {
                    if json {
                        emit(&format!("{}\n", t.json()?))?;
                    } else {
                        emit(&t.text())?;
                    }
                    Ok(t.exit_code)
                }
                Err(e) => {
                    if json {
                        let code = if e.is_usage() { 2 } else { 1 };
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&serde_json::json!({
                                "schema": regraft::triage::SCHEMA,
                                "error": e.chain(),
                                "exit_code": code,
                            }))?
                        );
                    }
                    Err(e.into())
                }
            }
        }
        Some(Command::Packages { image, json }) => {
            let img = Source::open(&cli::input(&image)?)?.image(platform.as_ref())?;
            let db = regraft::packages::read_packages(&img, max)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "schema": "regraft.packages/v1",
                        "image": img.name,
                        "config_digest": img.config_desc.digest.to_string(),
                        "databases": db.databases,
                        "packages": db.packages,
                        "warnings": db.warnings,
                    }))?
                );
            } else {
                let mut out = String::new();
                for p in &db.packages {
                    use std::fmt::Write as _;
                    let _ = writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}",
                        regraft::text::sanitize(&p.name),
                        regraft::text::sanitize(&p.version),
                        regraft::text::sanitize(&p.arch),
                        p.source_layer
                            .map(|l| l.to_string())
                            .unwrap_or_else(|| "-".into()),
                        p.db.name()
                    );
                }
                emit(&out)?;
                for w in &db.warnings {
                    eprintln!("regraft: warning: {}", regraft::text::sanitize(w));
                }
                if db.databases.is_empty() && !quiet {
                    eprintln!(
                        "regraft: {}: no package database found",
                        regraft::text::sanitize(&img.name)
                    );
                }
            }
            Ok(0)
        }
        Some(Command::Diff {
            old,
            new,
            report,
            json,
        }) => {
            let plan = regraft::diff::DiffPlan {
                old: cli::input(&old)?,
                new: cli::input(&new)?,
                report: report.map(std::path::PathBuf::from),
                platform: platform.clone(),
                max_layer_size: max,
            };
            let d = regraft::diff::diff(&plan)?;
            if json {
                emit(&format!("{}\n", d.json()?))?;
            } else {
                emit(&d.text())?;
            }
            Ok(0)
        }
        Some(Command::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "regraft", &mut std::io::stdout());
            Ok(0)
        }
        Some(Command::Man) => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            Ok(0)
        }
        Some(Command::Check {
            image,
            old_base,
            old_base_layers,
            paths,
            json,
        }) => {
            let paths = regraft::model::path::dedupe_selections(
                paths
                    .iter()
                    .map(|p| regraft::model::path::clean_selection(p))
                    .collect::<regraft::Result<Vec<_>>>()?,
            );
            let (rep, warnings) = regraft::graft::gate::check_image(
                &cli::input(&image)?,
                old_base.as_deref().map(cli::input).transpose()?,
                old_base_layers,
                paths,
                platform,
                max,
            )?;
            for w in &warnings {
                eprintln!("regraft: warning: {}", regraft::text::sanitize(w));
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&rep)?);
            }
            if !quiet || rep.has_errors() {
                eprint!("{}", rep.text());
            }
            Ok(if rep.has_errors() { 3 } else { 0 })
        }
        None => graft(cli.graft, platform, max, quiet),
    }
}

fn graft(
    a: crate::cli::GraftArgs,
    platform: Option<regraft::model::spec::Platform>,
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
    let paths = regraft::model::path::dedupe_selections(
        a.paths
            .iter()
            .map(|p| regraft::model::path::clean_selection(p))
            .collect::<regraft::Result<Vec<_>>>()?,
    );
    let compression = a
        .compression
        .as_deref()
        .map(regraft::codec::compress::Codec::parse)
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
        old_base: regraft::oldbase::OldBase::from_flags(old_base, a.old_base_layers),
        output: output.clone(),
        paths,
        tag: a.tag.clone(),
        compression,
        overrides: overrides(&a.config),
        platform,
        max_layer_size: max,
        source_date_epoch,
        exclude: regraft::model::glob::Excludes::new(&a.exclude)?,
    };
    // The new layer is always built (a dry run too): the checks read the planned result.
    let write = if a.dry_run {
        regraft::graft::WriteMode::DryRun
    } else {
        regraft::graft::WriteMode::Write
    };
    let mut g = regraft::graft::graft(&plan, write)?;
    g.summary.dry_run = a.dry_run;
    let gc = regraft::graft::gate::check_graft(&plan, &mut g, write)?;
    if let Some((img, digest)) = gc.merged {
        g.image = img;
        g.summary.manifest_digest = digest.to_string();
        g.summary.layers += 1;
        if let Some(d) = &g.image.docker {
            g.summary.config_digest = d.config.to_string();
        }
    }
    let blocked = gc.report.has_errors() && !a.force;
    if !a.dry_run && !blocked {
        let opts = WriteOptions {
            max_layer_size: max,
        };
        let d = match g.session.take() {
            Some(s) => sink::finish(s, &output, &g.image, opts)?,
            None => sink::write(&output, &g.image, opts)?,
        };
        write_digestfile(a.digestfile.as_deref(), &d)?;
    }
    if a.json {
        let mut doc = serde_json::to_value(&g.summary)?;
        if let Some(o) = doc.as_object_mut() {
            o.insert("check".into(), serde_json::to_value(&gc.report)?);
            o.insert("written".into(), (!a.dry_run && !blocked).into());
        }
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    if (!gc.report.findings.is_empty() || gc.report.package_database.is_some())
        && (!quiet || gc.report.has_errors())
    {
        eprint!("{}", gc.report.text());
    }
    if blocked {
        eprintln!(
            "regraft: the result would not run ({} error(s)): nothing written to {}; --force writes it anyway",
            gc.report.errors,
            regraft::text::sanitize(&output.to_string())
        );
        return Ok(3);
    }
    if !quiet {
        say_part!("{}", g.summary.text());
    }
    Ok(0)
}

fn source_date_epoch() -> Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => Ok(Some(v.trim().parse::<i64>().map_err(|_| {
            regraft::Error::Usage(format!(
                "SOURCE_DATE_EPOCH={v:?} is not a number of seconds"
            ))
        })?)),
        _ => Ok(None),
    }
}

fn overrides(c: &cli::ConfigArgs) -> regraft::mutate::config::Overrides {
    regraft::mutate::config::Overrides {
        env: c.env.clone(),
        entrypoint: c.entrypoint.clone(),
        cmd: c.cmd.clone(),
        user: c.user.clone(),
        workdir: c.workdir.clone(),
        labels: c.label.clone(),
    }
}

/// The compression of a new layer: the flag's, else that of the image's top layer.
fn codec_for(
    img: &regraft::model::image::Image,
    flag: Option<&str>,
) -> Result<regraft::codec::compress::Codec> {
    use regraft::codec::compress::{Codec, Compression};
    Ok(match flag {
        Some(f) => Codec::parse(f)?,
        None => match img.layers.last() {
            Some(l) => Codec::default_for(regraft::layer::layer_compression(l)?),
            None => Codec::default_for(Compression::Gzip),
        },
    })
}

/// Where temporary files go: beside the output, created if missing.
fn out_dir(r: &regraft::model::reference::ImageRef) -> std::path::PathBuf {
    let p = regraft::graft::out_dir(r);
    let _ = std::fs::create_dir_all(&p);
    p
}

/// The name of an edited image: --tag, else the output's name, else the input's first tag.
fn name_for(img: &regraft::model::image::Image, out: &cli::OutArgs) -> Result<Option<String>> {
    let r = cli::output(&out.output)?;
    match (&out.tag, r.name()) {
        (Some(t), Some(o)) if t != o => Err(regraft::Error::Usage(format!(
            "--tag {t} and the output's name {o} disagree"
        ))
        .into()),
        (Some(t), _) => Ok(Some(t.clone())),
        (None, Some(o)) => Ok(Some(o.to_string())),
        (None, None) => Ok(img
            .tags
            .first()
            .map(|t| regraft::model::reference::familiar_name(t))),
    }
}

fn write_digestfile(path: Option<&str>, d: &regraft::model::digest::Digest) -> Result<()> {
    if let Some(p) = path {
        std::fs::write(p, d.to_string()).map_err(|e| regraft::Error::io(p, e))?;
    }
    Ok(())
}

fn finish_write(
    target: &regraft::model::reference::ImageRef,
    o: &OutImage,
    out: &cli::OutArgs,
    max: u64,
    quiet: bool,
    what: &str,
) -> Result<u8> {
    let d = sink::write(
        target,
        o,
        WriteOptions {
            max_layer_size: max,
        },
    )?;
    write_digestfile(out.digestfile.as_deref(), &d)?;
    if !quiet {
        say!(
            "regraft: {}; wrote {}: manifest {}",
            regraft::text::sanitize(what),
            target,
            d
        );
    }
    Ok(0)
}

/// `regraft triage`'s arguments, validated into a plan.
#[allow(clippy::too_many_arguments)]
fn triage_plan(
    image: String,
    report: String,
    old_base: Option<String>,
    old_base_layers: Option<usize>,
    fail_on: Option<String>,
    ignore_unfixed: bool,
    ignore: Option<String>,
    platform: Option<regraft::model::spec::Platform>,
    max: u64,
) -> regraft::Result<regraft::triage::TriagePlan> {
    use regraft::triage::Severity;
    let fail_on = fail_on
        .map(|s| {
            Severity::parse(&s).ok_or_else(|| {
                regraft::Error::Usage(format!(
                    "--fail-on {s:?}: expected UNKNOWN, NEGLIGIBLE, LOW, MEDIUM, HIGH or CRITICAL"
                ))
            })
        })
        .transpose()?;
    Ok(regraft::triage::TriagePlan {
        report: report.into(),
        image: cli::input(&image)?,
        image_arg: image,
        old_base: old_base.as_deref().map(cli::input).transpose()?,
        old_base_arg: old_base,
        old_base_layers,
        platform,
        max_layer_size: max,
        ignore_unfixed,
        ignore_file: ignore.map(Into::into),
        fail_on,
    })
}

/// Writes a command's output to stdout; a reader that went away (`| head`) is no error.
fn emit(s: &str) -> Result<()> {
    use std::io::Write as _;
    let mut o = std::io::stdout().lock();
    match o.write_all(s.as_bytes()).and_then(|()| o.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// One edit of an image by `add`, `rm` or `config`: an optional new layer, its history entry,
/// config overrides, and what the summary line says.
struct Edit {
    layer: Option<regraft::model::image::Layer>,
    created_by: String,
    overrides: regraft::mutate::config::Overrides,
    source_date_epoch: Option<i64>,
    what: String,
}

/// Applies an edit (a config-only edit gets an empty-layer history entry) and writes the result.
fn edit_and_write(
    img: &regraft::model::image::Image,
    e: Edit,
    target: &regraft::model::reference::ImageRef,
    out: &cli::OutArgs,
    max: u64,
    quiet: bool,
) -> Result<u8> {
    let created = regraft::mutate::created(img, e.source_date_epoch);
    let h = regraft::mutate::history_entry(created.as_deref(), e.created_by, e.layer.is_none());
    let (layers, history_only) = match e.layer {
        Some(l) => (vec![(l, h)], vec![]),
        None => (vec![], vec![h]),
    };
    let o = regraft::mutate::append(
        img,
        layers,
        history_only,
        &e.overrides,
        created,
        name_for(img, out)?,
    )?;
    finish_write(target, &o, out, max, quiet, &e.what)
}
