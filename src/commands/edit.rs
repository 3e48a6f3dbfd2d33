//! The path `add`, `rm` and `config` share: an edit (an optional new layer, its history entry,
//! config overrides) applied to an image, the result written, its digest file, and the line
//! that says what was done.

use super::print::write_digestfile;
use crate::cli::{GateArgs, Globals, OutArgs};
use anyhow::Result;
use regraft::codec::compress::Codec;
use regraft::error::exit;
use regraft::model::image::{Image, Layer};
use regraft::model::reference::ImageRef;
use regraft::mutate::{self, config::Overrides, edits::ConfigEdits, rewrite::LayerEdits};
use regraft::sink::{self, WriteOptions};

/// One edit of an image by `add`, `rm` or `config`: an optional new layer, its history entry,
/// config overrides, and what the summary line says.
pub struct Edit {
    pub layer: Option<Layer>,
    pub created_by: String,
    pub overrides: Overrides,
    /// `config`'s removals and clears (empty for `add` and `rm`).
    pub edits: ConfigEdits,
    /// `config`'s layer removals, strips and time clamps (empty for `add` and `rm`).
    pub layer_edits: LayerEdits,
    /// `--created`, when given: the result's date instead of the default.
    pub created: Option<String>,
    /// `--history-comment`: the history entry's comment; a config-only edit without one
    /// adds no entry.
    pub history_comment: Option<String>,
    pub source_date_epoch: Option<i64>,
    pub what: String,
    /// `config` and `add`: the user and entrypoint checks gate the write (`rm`: none).
    pub gate: Option<GateArgs>,
}

/// Where temporary files go: beside the output, created if missing.
pub fn out_dir(target: &ImageRef) -> std::path::PathBuf {
    let p = regraft::graft::out_dir(target);
    // A directory that cannot be made fails where the new layer is written, naming it.
    let _ = std::fs::create_dir_all(&p);
    p
}

/// The compression of a new layer: `--compression`, else the library's default for `img`.
pub fn codec(img: &Image, flag: Option<&str>) -> Result<Codec> {
    Ok(match flag {
        Some(f) => Codec::parse(f)?,
        None => mutate::default_codec(img)?,
    })
}

/// Whether the edit touches what the config checks read: the user, the program and how it is
/// found (Entrypoint, Cmd, WorkingDir, Env's PATH).
fn gated(o: &Overrides, e: &ConfigEdits, l: &LayerEdits) -> bool {
    !e.env_rm.is_empty()
        || !l.rm.is_empty()
        || !l.strip.is_empty()
        || o.user.is_some()
        || o.entrypoint.is_some()
        || o.cmd.is_some()
        || o.workdir.is_some()
        || !o.env.is_empty()
}

/// Runs the user and entrypoint checks on the edited image (`config`, plus the new layer);
/// prints the findings; false when an error blocks the write.
fn passes(
    img: &Image,
    base: &mutate::Base,
    layer: Option<&Layer>,
    gate: &GateArgs,
    g: &Globals,
) -> Result<bool> {
    let config = &base.config;
    let mut layers: Vec<Layer> = base.layers.iter().map(|l| l.layer.clone()).collect();
    layers.extend(layer.cloned());
    let report = regraft::check::check_config(
        &regraft::check::CheckInput {
            name: &img.name,
            layers: &layers,
            boundary: layers.len(),
            paths: &[],
            config,
            max_layer_size: g.max_layer_size,
            verify: regraft::view::fs::Verify::Here,
        },
        &img.config,
        &gate.accept.rules()?,
    )?;
    if !report.findings.is_empty() && (!g.quiet || report.has_errors()) {
        eprint!("{}", report.text());
    }
    Ok(!report.has_errors() || gate.force)
}

/// Applies an edit (a config-only edit gets an empty-layer history entry) and writes the result
/// to `target`.
pub fn write(img: &Image, e: Edit, target: &ImageRef, out: &OutArgs, g: &Globals) -> Result<u8> {
    let created = match &e.created {
        Some(c) => Some(c.clone()),
        None => mutate::created(img, e.source_date_epoch),
    };
    let name = regraft::graft::output_tag(out.tag.as_deref(), target, img)?;
    let mut base = mutate::Base::of_image(img, name);
    // Removals first, checked against the image as it is; then what is set.
    mutate::edits::apply(&mut base.config, &e.edits, &img.name)?;
    mutate::config::apply_overrides(&mut base.config, &e.overrides)?;
    let mut created = created;
    if !e.layer_edits.is_empty() {
        let dir = out_dir(target);
        for line in
            mutate::rewrite::edit_layers(&mut base, img, &e.layer_edits, &dir, g.max_layer_size)?
        {
            if !g.quiet {
                say!("regraft: {}", regraft::text::sanitize(&line));
            }
        }
        if let (Some(t), Some(c)) = (e.layer_edits.time_max, &created)
            && mutate::config::parse_rfc3339(c).is_some_and(|(s, _)| s > t)
        {
            created = Some(mutate::config::rfc3339(t));
        }
    }
    if let Some(gate) = &e.gate
        && gated(&e.overrides, &e.edits, &e.layer_edits)
        && !passes(img, &base, e.layer.as_ref(), gate, g)?
    {
        eprintln!(
            "regraft: the result would not run: nothing written to {}; each error's --accept passes it, --force writes it anyway",
            regraft::text::sanitize(&target.to_string())
        );
        return Ok(exit::CHECK_FAILED);
    }
    let add = mutate::Addenda::edit(
        img,
        e.layer,
        e.created_by,
        created,
        e.history_comment.as_deref(),
    );
    let o = mutate::append(base, add)?;
    let o = out.annotate.apply(o, &img.name)?;
    let opts = WriteOptions {
        max_layer_size: g.max_layer_size,
    };
    let d = sink::write(target, &o, opts)?;
    write_digestfile(out.digestfile.as_deref(), &d)?;
    if !g.quiet {
        say!(
            "regraft: {}; wrote {}: manifest {}",
            regraft::text::sanitize(&e.what),
            target,
            d
        );
    }
    Ok(exit::OK)
}
