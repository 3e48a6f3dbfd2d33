//! Where checks meet commands: the check of a planned graft (before anything is written, plus
//! the package database merge layer in layer mode), and `regraft check IMAGE`.

use crate::check::dbmerge;
use crate::check::{CheckInput, Report};
use crate::error::{Error, Result};
use crate::graft::{GraftPlan, Grafted, WriteMode};
use crate::model::config::ConfigDoc;
use crate::model::digest::Digest;
use crate::model::image::Layer;
use crate::model::out::{OutBlob, OutImage};
use crate::model::reference::ImageRef;
use crate::model::spec::Platform;
use crate::oldbase::{OldBase, find_split};
use crate::source::Source;
use crate::view::fs::{Fs, FsInput, Verify};
use serde_json::Value;

/// The outcome of checking a planned graft.
pub struct GraftCheck {
    pub report: Report,
    /// The image with the merged package database layer added, and its manifest digest.
    pub merged: Option<(OutImage, Digest)>,
}

/// The layers and config of a planned image.
fn planned(img: &OutImage) -> Result<(Vec<Layer>, Value)> {
    let cfg_digest = img
        .docker
        .as_ref()
        .map(|d| d.config.clone())
        .ok_or_else(|| Error::Invalid("the planned image has no config".into()))?;
    let mut layers = Vec::new();
    let mut config = None;
    for b in &img.blobs {
        match b {
            OutBlob::Layer { layer, .. } => layers.push(layer.clone()),
            OutBlob::Bytes { desc, bytes } if desc.digest == cfg_digest => {
                config = Some(
                    serde_json::from_slice(bytes).map_err(|e| Error::json("planned config", e))?,
                )
            }
            OutBlob::Bytes { .. } | OutBlob::Raw { .. } => {}
        }
    }
    Ok((
        layers,
        config.ok_or_else(|| Error::Invalid("the planned config is missing".into()))?,
    ))
}

/// Checks a planned graft (made with `dry_run == false`, so the new layer exists). In layer
/// mode, when the application layers carry a package database, also plans the merge layer.
///
/// With `WriteMode::Write` the result is written next, a copy that verifies every byte it
/// reads, so layers on disk are walked by their headers alone (not for a dry run: everything
/// is verified here). The filesystem the graft built (path mode) is used as it is.
pub fn check_graft(plan: &GraftPlan, g: &mut Grafted, write: WriteMode) -> Result<GraftCheck> {
    let (layers, config) = planned(&g.image)?;
    let boundary = g.summary.base.layers;
    let (mut report, fs) = crate::check::check(
        &CheckInput {
            name: &g.summary.output,
            layers: &layers,
            boundary,
            paths: &[],
            config: &config,
            max_layer_size: plan.max_layer_size,
            verify: write.into(),
        },
        g.fs.take(),
    )?;
    report.application = if g.summary.mode == crate::graft::GraftMode::Path {
        g.summary.paths.join(", ")
    } else {
        format!(
            "the vendor's {} application layer(s)",
            g.summary.grafted_layers.len()
        )
    };
    let mut merged = None;
    // The vendor's old base is read only when its application layers changed the package
    // database (the merge needs to know which packages the vendor added).
    let app_dpkg = fs
        .result
        .get(b"var/lib/dpkg/status")
        .is_some_and(|n| n.layer >= boundary);
    if g.summary.mode == crate::graft::GraftMode::Layer && app_dpkg {
        let created = ConfigDoc::new(&config).top_str("created");
        if let Some((summary, image)) = merge_package_database(plan, g, &fs, created)? {
            report.package_database = Some(summary);
            merged = Some(image);
        }
    }
    Ok(GraftCheck { report, merged })
}

/// The grafted image with a layer that merges the new base's dpkg database with the packages
/// the vendor's application layers added, when there is anything to merge.
fn merge_package_database(
    plan: &GraftPlan,
    g: &Grafted,
    fs: &Fs,
    created: Option<&str>,
) -> Result<Option<(dbmerge::MergeSummary, (OutImage, Digest))>> {
    let vendor = Source::open(&plan.vendor)?.image(plan.platform.as_ref())?;
    let n = g.summary.old_base.layers.min(vendor.layers.len());
    let old = Fs::build(&FsInput {
        name: &vendor.name,
        layers: &vendor.layers[..n],
        boundary: n,
        max_layer_size: plan.max_layer_size,
        verify: Verify::Here,
    })?;
    let Some(m) = dbmerge::plan(fs, Some(&old))? else {
        return Ok(None);
    };
    let (img, digest) = dbmerge::append_layer(
        &g.image,
        &m,
        "regraft: merged dpkg database (the new base's packages + the vendor's added ones)",
        created,
    )?;
    let mut s = m.summary;
    if let Some(OutBlob::Layer { layer, .. }) = img
        .blobs
        .iter()
        .rev()
        .find(|b| matches!(b, OutBlob::Layer { .. }))
    {
        s.layer_digest = Some(layer.desc.digest.to_string());
    }
    Ok(Some((s, (img, digest))))
}

/// `regraft check IMAGE`: the application is the layers above the old base (found as the
/// graft finds it), or the `--path` subtrees.
pub fn check_image(
    image: &ImageRef,
    old_base: Option<ImageRef>,
    old_base_layers: Option<usize>,
    paths: Vec<Vec<u8>>,
    platform: Option<Platform>,
    max_layer_size: u64,
) -> Result<(Report, Vec<String>)> {
    let src = Source::open(image)?;
    let img = src.image(platform.as_ref())?;
    let platform = platform.unwrap_or_else(|| img.view.platform.clone());
    let given = OldBase::from_flags(old_base, old_base_layers);
    let mut warnings = Vec::new();
    let split = find_split(&given, &src, &img, &platform, &mut warnings)?;
    if !paths.is_empty() && matches!(given, OldBase::Find) {
        // The selected paths are the application: the old base only tells which base packages
        // they replace, and a guess there needs no warning.
        warnings.clear();
    }
    let (mut report, _) = crate::check::check(
        &CheckInput {
            name: &img.name,
            layers: &img.layers,
            boundary: split.layers,
            paths: &paths,
            config: &img.config,
            max_layer_size,
            verify: Verify::Here,
        },
        None,
    )?;
    if paths.is_empty() {
        report.application = format!(
            "the {} layer(s) above the old base ({} layer(s), {})",
            img.layers.len() - split.layers,
            split.layers,
            split.summary.how
        );
    }
    Ok((report, warnings))
}
