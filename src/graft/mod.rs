//! The graft: the vendor's application onto a new base. The inputs are read and their split
//! found (`crate::oldbase`); then layer mode (`layers`: the vendor's application layers as
//! they are, rewritten only where `--exclude` drops entries) or path mode (`path`: chosen
//! subtrees of the vendor's merged view as one new layer); then the result's config (the
//! merge, field by field, in `crate::mutate::config`), annotations and name, planned for a
//! sink. The check of the result before it is written is `gate`.

pub mod gate;
mod layers;
pub mod multi;
mod path;
mod summary;

pub use crate::model::out::WriteMode;
pub use crate::oldbase::OldBaseSummary;
pub use summary::{ImageSummary, Moved, NewLayerSummary, Summary};

use crate::codec::compress::Codec;
use crate::error::{Error, Result};
use crate::model::image::Image;
use crate::model::out::OutImage;
use crate::model::reference::{ImageRef, familiar_name, normalize_name, split_tag};
use crate::model::spec::Platform;
use crate::mutate::config::{self, Overrides};
use crate::mutate::{Addenda, Base, Created, LayerFrom};
use crate::oldbase::{OldBase, Split, find_split};
use crate::source::Source;
use crate::view::fs::Fs;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Which graft.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GraftMode {
    /// The vendor's application layers move as they are (no `--path`).
    Layer,
    /// The `--path` subtrees of the vendor's merged view become one new layer.
    Path,
}

/// Everything a graft needs, validated.
#[derive(Clone, Debug)]
pub struct GraftPlan {
    pub vendor: ImageRef,
    pub base: ImageRef,
    /// What the user said of the vendor's old base.
    pub old_base: OldBase,
    pub output: ImageRef,
    /// Cleaned, relative (`opt/vendor`), deduplicated; empty for layer mode.
    pub paths: Vec<Vec<u8>>,
    pub tag: Option<String>,
    pub compression: Option<Codec>,
    pub overrides: Overrides,
    pub platform: Option<Platform>,
    pub max_layer_size: u64,
    pub source_date_epoch: Option<i64>,
    /// `--exclude` patterns (both modes).
    pub exclude: crate::model::glob::Excludes,
    /// `--accept` and `--accept-file`: findings that block nothing.
    pub accepts: crate::check::accept::Accepts,
    /// `--annotation`, `--annotation-rm`, `--label-to-annotation`, `--format`: what the
    /// written manifest (and index) get.
    pub docs: crate::mutate::DocEdits,
    /// `--history-comment`: the comment of the history entry the graft writes (path mode:
    /// the new layer's; layer mode: an empty_layer entry after the vendor's).
    pub history_comment: Option<String>,
}

/// The result of planning a graft: the image to write and its summary.
pub struct Grafted {
    pub image: OutImage,
    pub summary: Summary,
    /// Path mode: the result's filesystem as the graft walked it (base + new layer), for the
    /// check.
    pub fs: Option<Fs>,
    /// The output, begun (path mode, when `sink::begin` opens one): the base's layers and the
    /// new layer are in it already; `Sink::commit` finishes it.
    pub sink: Option<Box<dyn crate::sink::Sink>>,
    /// The vendor as the graft read it: its layers' records say which were verified (the
    /// check's baseline walks those in place instead of verifying them again).
    pub vendor: Image,
}

/// Where temporary files for an output go: beside it (so that renames stay on one
/// filesystem), or the temp directory for stdout and registries.
pub fn out_dir(r: &ImageRef) -> std::path::PathBuf {
    if r.path.as_os_str() == "-" || r.is_registry() {
        return std::env::temp_dir();
    }
    match r.transport {
        crate::model::reference::Transport::Oci if r.path.is_dir() => r.path.clone(),
        _ => crate::store::temp::parent_dir(&r.path),
    }
}

impl GraftPlan {
    pub fn mode(&self) -> GraftMode {
        if self.paths.is_empty() {
            GraftMode::Layer
        } else {
            GraftMode::Path
        }
    }
}

/// The inputs of a graft, read and checked against each other.
struct Inputs {
    vendor: Image,
    base: Image,
    split: Split,
    /// The result's `created`.
    created: Option<String>,
    warnings: Vec<String>,
}

impl Inputs {
    fn read(plan: &GraftPlan) -> Result<Inputs> {
        let mut warnings = Vec::new();
        let vsrc = Source::open(&plan.vendor)?;
        let vendor = vsrc.image(plan.platform.as_ref())?;
        let platform = plan
            .platform
            .clone()
            .unwrap_or_else(|| vendor.view.platform.clone());
        let base = Source::open(&plan.base)?.image(Some(&platform))?;
        for img in [&vendor, &base] {
            for w in &img.warnings {
                warnings.push(format!("{}: {w}", img.name));
            }
        }
        if !base.view.platform.matches(&vendor.view.platform) {
            return Err(Error::Invalid(format!(
                "platforms differ: the vendor {} is {}, the base {} is {}",
                vendor.name, vendor.view.platform, base.name, base.view.platform
            )));
        }
        let split = find_split(&plan.old_base, &vsrc, &vendor, &platform, &mut warnings)?;
        crate::progress::add_total(needed_blobs(plan, &vendor, &base, &split));
        let created = match plan.source_date_epoch {
            Some(t) => Some(config::rfc3339(t)),
            None => config::later(
                base.config.get("created").and_then(Value::as_str),
                vendor.config.get("created").and_then(Value::as_str),
            ),
        };
        Ok(Inputs {
            vendor,
            base,
            split,
            created,
            warnings,
        })
    }

    /// The vendor as the path-mode history entry names it: first tag and manifest digest.
    fn vendor_ref(&self) -> String {
        format!(
            "{}@{}",
            self.vendor
                .tags
                .first()
                .map(|t| familiar_name(t))
                .unwrap_or_else(|| "vendor".into()),
            self.vendor.manifest_digest
        )
    }
}

/// The bytes of the input layer blobs the graft reads (for the progress ETA and `-v`'s I/O
/// line): the base's layers and, in path mode, every vendor layer (its merged view); in layer
/// mode the vendor's layers above its old base (those below are not read unless the check
/// finds something and compares with the vendor's own image). A blob in both counts once.
fn needed_blobs(plan: &GraftPlan, vendor: &Image, base: &Image, split: &Split) -> u64 {
    let from = match plan.mode() {
        GraftMode::Path => 0,
        GraftMode::Layer => split.layers.min(vendor.layers.len()),
    };
    let mut seen = std::collections::HashSet::new();
    base.layers
        .iter()
        .chain(&vendor.layers[from..])
        .filter(|l| seen.insert(&l.desc.digest))
        .map(|l| l.desc.size)
        .sum()
}

/// What a mode adds on top of the base.
#[derive(Default)]
struct ModeResult {
    /// The layers grafted, in order, each with what its blob is called.
    layers: Vec<LayerFrom>,
    /// The history entries that follow the base's.
    history: Vec<Value>,
    new_layer: Option<NewLayerSummary>,
    fs: Option<Fs>,
    sink: Option<Box<dyn crate::sink::Sink>>,
    rewritten_layers: Vec<String>,
}

/// Runs the graft up to the point of writing: everything is read and built; the new layer
/// (path mode) is in the begun output, or in a temporary file beside it. With `WriteMode::Write` the result
/// is written next, a copy that verifies every byte, so the base's uncompressed layers on disk
/// are walked by their tar headers alone here (each byte is read once, by the copy); a dry run
/// streams and verifies them here.
pub fn graft(plan: &GraftPlan, write: WriteMode) -> Result<Grafted> {
    graft_into(plan, write, None)
}

/// `graft` into an output begun already (`begun`, from an earlier graft's `Grafted::sink`:
/// the platforms of a multi-platform graft share one output); it comes back in
/// `Grafted::sink`, whatever the mode.
pub fn graft_into(
    plan: &GraftPlan,
    write: WriteMode,
    mut begun: Option<Box<dyn crate::sink::Sink>>,
) -> Result<Grafted> {
    let inputs = Inputs::read(plan)?;
    let mut done = match plan.mode() {
        GraftMode::Layer => layers::graft_layers(plan, &inputs)?,
        GraftMode::Path => path::graft_paths(plan, &inputs, write, begun.take())?,
    };
    // Layer mode writes nothing before the commit: the begun output passes through.
    if let (Some(s), None) = (begun, &done.sink) {
        done.sink = Some(s);
    }
    let merged = config::merge(
        &inputs.base.config,
        &inputs.vendor.config,
        inputs.split.old_config.as_ref(),
        &plan.overrides,
    )?;
    // The base as the result starts from: its layers and history, the merged config, the
    // vendor's annotations.
    let base = Base {
        config: merged.config,
        annotations: result_annotations(&inputs.vendor, &inputs.base),
        ..Base::of_image(
            &inputs.base,
            output_tag(plan.tag.as_deref(), &plan.output, &inputs.vendor)?,
        )
    };
    let grafted: Vec<String> = done
        .layers
        .iter()
        .map(|l| l.layer.desc.digest.to_string())
        .collect();
    let image = crate::mutate::append(
        base,
        Addenda {
            layers: std::mem::take(&mut done.layers),
            history: std::mem::take(&mut done.history),
            created: Created::Set(inputs.created.clone()),
        },
    )?;
    let vendor = inputs.vendor.clone();
    let summary = Summary::new(
        plan,
        inputs,
        grafted,
        &done,
        merged.from_vendor,
        &image,
        write,
    );
    Ok(Grafted {
        image,
        summary,
        fs: done.fs,
        sink: done.sink,
        vendor,
    })
}

/// The manifest's annotations: the vendor's, less its base.*, plus the new base's name (when
/// it has a full one) and digest (its index's, when it came from one).
fn result_annotations(vendor: &Image, base: &Image) -> BTreeMap<String, String> {
    let mut annotations: BTreeMap<String, String> = vendor
        .manifest
        .annotations
        .iter()
        .filter(|(k, _)| !k.starts_with("org.opencontainers.image.base."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(t) = base.tags.first()
        && (t.contains(':') || t.contains('/'))
    {
        annotations.insert(
            "org.opencontainers.image.base.name".into(),
            normalize_name(t),
        );
    }
    annotations.insert(
        "org.opencontainers.image.base.digest".into(),
        base.index_digest
            .clone()
            .unwrap_or_else(|| base.manifest_digest.clone())
            .to_string(),
    );
    annotations
}

/// The suffix a default name gets, so that loading the result never moves the input's own tag.
pub const DEFAULT_TAG_SUFFIX: &str = "-regraft";

/// The default name of a changed image: the input's first tag with `-regraft` appended
/// (`vend/app:1` -> `vend/app:1-regraft`), shortened to a tag's 128 characters; a tag that
/// already ends so is kept (a chain of edits does not grow it).
pub fn derived_tag(name: &str) -> String {
    let (repo, tag) = split_tag(&familiar_name(name));
    if tag.ends_with(DEFAULT_TAG_SUFFIX) {
        // An edit of an edit keeps the name: `app:1-regraft`, not `app:1-regraft-regraft`.
        return format!("{repo}:{tag}");
    }
    let keep = 128 - DEFAULT_TAG_SUFFIX.len();
    let tag: String = tag.chars().take(keep).collect();
    format!("{repo}:{tag}{DEFAULT_TAG_SUFFIX}")
}

/// The result's name: `--tag`, else the output reference's, else the first tag of `img` (the
/// vendor; for the toolbox's edits, the image edited) with `-regraft` appended.
pub fn output_tag(tag: Option<&str>, output: &ImageRef, img: &Image) -> Result<Option<String>> {
    Ok(match (tag, output.name()) {
        (Some(t), Some(o)) if t != o => {
            return Err(Error::Usage(format!(
                "--tag {t} and the output's name {o} disagree"
            )));
        }
        (Some(t), _) => Some(t.to_string()),
        (None, Some(o)) => Some(o.to_string()),
        (None, None) => img.tags.first().map(|t| derived_tag(t)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_never_reuse_the_input_tag() {
        assert_eq!(derived_tag("vend/app:1"), "vend/app:1-regraft");
        assert_eq!(derived_tag("docker.io/library/app"), "app:latest-regraft");
        assert_eq!(
            derived_tag("127.0.0.1:5000/a/b:v2"),
            "127.0.0.1:5000/a/b:v2-regraft"
        );
        let long = format!("x:{}", "t".repeat(128));
        let d = derived_tag(&long);
        assert_eq!(d.len(), "x:".len() + 128);
        assert!(d.ends_with("-regraft"));
    }
}
