//! Where checks meet commands: the check of a planned graft (before anything is written, plus
//! the package database merge layer in layer mode), and `regraft check IMAGE`.

use crate::check::dbmerge;
use crate::check::{CheckInput, Report};
use crate::error::{Error, Result};
use crate::graft::{GraftPlan, Grafted, WriteMode};
use crate::model::config::ConfigDoc;
use crate::model::digest::Digest;
use crate::model::image::{Image, Layer};
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

/// Plans the graft (into `begun`, an output begun already, if any) and checks the planned
/// result. The new layer is always built (a dry run too): the checks read it. When the check
/// adds a layer (the merged package database), its image replaces the graft's.
pub fn graft_checked(
    plan: &GraftPlan,
    write: WriteMode,
    begun: Option<Box<dyn crate::sink::Sink>>,
) -> Result<(Grafted, Report)> {
    let fresh = begun.is_none();
    let mut g = crate::graft::graft_into(plan, write, begun)?;
    g.summary.dry_run = write == WriteMode::DryRun;
    if fresh && write == WriteMode::Write && g.sink.is_none() {
        tee_into_output(plan, &mut g)?;
    }
    let gc = check_graft(plan, &mut g, write)?;
    if let Some((img, digest)) = gc.merged {
        g.image = img;
        g.summary.manifest_digest = digest.to_string();
        g.summary.layers += 1;
        if let Some(d) = &g.image.docker {
            g.summary.config_digest = d.config.to_string();
        }
    }
    // Annotations and media types last: they change the manifest's bytes, nothing the check
    // reads.
    if !plan.docs.is_empty() {
        g.image = crate::mutate::finish(
            g.image.clone(),
            &plan.docs,
            crate::mutate::Children::Made,
            &g.summary.output,
        )?;
        g.summary.manifest_digest = g.image.top.digest.to_string();
    }
    Ok((g, gc.report))
}

/// Layer mode writes nothing before the check: its output is begun here when the output
/// takes the raw bytes of the layers the check inflates (`Sink::offer_tees`: an archive, a
/// registry), so that each compressed layer is read once, by the check, and not again by the
/// copy. The check's streams fill the archive (or feed the uploads); a check that blocks the
/// write drops the begun archive (its temporary file) with nothing at the output path, and
/// leaves a registry's tag as it was (blobs uploaded meanwhile stay unreferenced, as after a
/// push that failed).
fn tee_into_output(plan: &GraftPlan, g: &mut Grafted) -> Result<()> {
    if !crate::sink::takes_tees(&plan.output) {
        return Ok(());
    }
    let opts = crate::sink::WriteOptions {
        max_layer_size: plan.max_layer_size,
    };
    let Some(mut sink) = crate::sink::begin(&plan.output, opts)? else {
        return Ok(());
    };
    let layers: Vec<OutBlob> = g
        .image
        .blobs
        .iter()
        .filter(|b| matches!(b, OutBlob::Layer { .. }))
        .cloned()
        .collect();
    sink.offer_tees(&layers)?;
    g.sink = Some(sink);
    Ok(())
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
    let vendor = g.vendor.clone();
    let mut merged = None;
    // The vendor's old base is read only when its application layers changed the package
    // database (the merge needs to know which packages the vendor added).
    let app_db = std::iter::once(&b"var/lib/dpkg/status"[..])
        .chain(
            crate::packages::rpm::DBS
                .iter()
                .filter(|d| d.backend == crate::packages::rpm::Backend::Sqlite)
                .map(|d| d.path),
        )
        .any(|p| fs.result.get(p).is_some_and(|n| n.layer() >= boundary));
    if g.summary.mode == crate::graft::GraftMode::Layer && app_db {
        let created = ConfigDoc::new(&config).top_str("created");
        if let Some((summary, image)) = merge_package_database(plan, g, &vendor, &fs, created)? {
            report.package_database = Some(summary);
            merged = Some(image);
        }
    }
    // The check (and the merge) read data where it lies: the files it came from must be
    // those verified.
    fs.check_unchanged()?;
    // The result's filesystem goes before the baseline's is built: peak memory is one of them.
    drop(fs);
    // The baseline can only mark findings pre-existing: a clean result needs none (and a clean
    // graft does not pay for a second walk of the vendor).
    if !report.findings.is_empty() {
        report.compare_with(&baseline(plan, g, &vendor)?);
    }
    report.accept(&plan.accepts);
    report.application = if g.summary.mode == crate::graft::GraftMode::Path {
        g.summary.paths.join(", ")
    } else {
        format!(
            "the vendor's {} application layer(s)",
            g.summary.grafted_layers.len()
        )
    };
    Ok(GraftCheck { report, merged })
}

/// The baseline: the check of the application as it stands in the vendor's own image (the
/// same paths, or the layers above its old base, on its old base, with its own config).
fn baseline(plan: &GraftPlan, g: &Grafted, vendor: &Image) -> Result<Report> {
    let (report, fs) = crate::check::check(
        &CheckInput {
            name: &vendor.name,
            layers: &vendor.layers,
            boundary: g.summary.old_base.layers.min(vendor.layers.len()),
            paths: &plan.paths,
            config: &vendor.config,
            max_layer_size: plan.max_layer_size,
            verify: Verify::Here,
        },
        None,
    )?;
    // Layers the graft verified are walked in place: their files must be unchanged.
    fs.check_unchanged()?;
    Ok(report)
}

/// The grafted image with a layer that merges the new base's package database (dpkg's, or
/// rpm's sqlite one) with the packages the vendor's application layers added, when there is
/// anything to merge.
fn merge_package_database(
    plan: &GraftPlan,
    g: &Grafted,
    vendor: &Image,
    fs: &Fs,
    created: Option<&str>,
) -> Result<Option<(dbmerge::MergeSummary, (OutImage, Digest))>> {
    let n = g.summary.old_base.layers.min(vendor.layers.len());
    let old = Fs::build(&FsInput {
        name: &vendor.name,
        layers: &vendor.layers[..n],
        boundary: n,
        max_layer_size: plan.max_layer_size,
        verify: Verify::Here,
        owned: None,
    })?;
    let m = dbmerge::plan(fs, Some(&old))?;
    // The old base's layers the graft verified were read in place: unchanged since.
    old.check_unchanged()?;
    let Some(m) = m else {
        return Ok(None);
    };
    let created_by = format!(
        "regraft: merged {} database (the new base's packages + the vendor's added ones)",
        m.summary.database
    );
    let (img, digest) = dbmerge::append_layer(&g.image, &m, &created_by, created)?;
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
///
/// With `baseline` (the vendor's own image), the findings it has too are pre-existing
/// ([`Report::compare_with`]); see [`baseline_boundary`] for what its application is.
pub fn check_image(req: &CheckImage) -> Result<(Report, Vec<String>)> {
    let CheckImage {
        image,
        old_base,
        old_base_layers,
        paths,
        platform,
        max_layer_size,
        ..
    } = req.clone();
    let src = Source::open(&image)?;
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
    if let Some(b) = req
        .baseline
        .as_ref()
        .filter(|_| !report.findings.is_empty())
    {
        report.compare_with(&check_baseline(req, b, &img.layers[split.layers..])?);
    }
    report.accept(&req.accepts);
    Ok((report, warnings))
}

/// What `regraft check` is asked.
#[derive(Clone, Debug)]
pub struct CheckImage {
    pub image: ImageRef,
    pub old_base: Option<ImageRef>,
    pub old_base_layers: Option<usize>,
    /// Cleaned, relative; empty: the layers above the old base.
    pub paths: Vec<Vec<u8>>,
    pub platform: Option<Platform>,
    pub max_layer_size: u64,
    /// `--baseline`: the image whose findings are pre-existing.
    pub baseline: Option<ImageRef>,
    /// `--accept` and `--accept-file`.
    pub accepts: crate::check::accept::Accepts,
}

/// The check of the baseline image `r`, whose application is `req.paths` or the layers it
/// shares with the checked image's application (`app`).
fn check_baseline(req: &CheckImage, r: &ImageRef, app: &[Layer]) -> Result<Report> {
    let img = Source::open(r)?.image(req.platform.as_ref())?;
    let boundary = baseline_boundary(&img.layers, app, !req.paths.is_empty()).ok_or_else(|| {
        Error::Usage(format!(
            "--baseline {r}: its top layers are not the checked image's application layers \
             (a path-mode graft?); say what the application is with --path"
        ))
    })?;
    let (report, _) = crate::check::check(
        &CheckInput {
            name: &img.name,
            layers: &img.layers,
            boundary,
            paths: &req.paths,
            config: &img.config,
            max_layer_size: req.max_layer_size,
            verify: Verify::Here,
        },
        None,
    )?;
    Ok(report)
}

/// Where the baseline's application starts: at the first of the checked image's application
/// layers `app` it has (a rebase keeps the vendor's layers byte for byte, then may add the
/// merged package database on top); else, with `--path` (`paths`), above its first layer (the
/// paths are the application; the base only says which packages they shadow).
fn baseline_boundary(layers: &[Layer], app: &[Layer], paths: bool) -> Option<usize> {
    let shared = app
        .iter()
        .find_map(|a| layers.iter().position(|l| l.diff_id == a.diff_id));
    match (shared, paths) {
        (Some(i), _) => Some(i),
        (None, true) => Some(1.min(layers.len())),
        (None, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::digest::{DiffId, Digest};
    use crate::model::image::BlobData;
    use crate::model::spec::{Descriptor, media};
    use std::sync::Arc;

    fn l(n: u8) -> Layer {
        let d = Digest::of(&[n]);
        Layer {
            desc: Descriptor::new(media::OCI_LAYER, d.clone(), 1),
            diff_id: DiffId(d),
            data: BlobData::Bytes(Arc::new(vec![n])),
            history: None,
            checked: Default::default(),
        }
    }

    #[test]
    fn the_baselines_application_is_the_layers_a_rebase_kept() {
        let vendor = [l(1), l(2), l(3), l(4)];
        // A rebase: the result's application layers are the vendor's top ones, then perhaps
        // the merged package database.
        assert_eq!(baseline_boundary(&vendor, &[l(3), l(4)], false), Some(2));
        assert_eq!(
            baseline_boundary(&vendor, &[l(3), l(4), l(8)], true),
            Some(2)
        );
        // A path-mode graft's new layer: only --path says what the application is.
        assert_eq!(baseline_boundary(&vendor, &[l(9)], false), None);
        assert_eq!(baseline_boundary(&vendor, &[l(9)], true), Some(1));
        assert_eq!(baseline_boundary(&vendor, &[], false), None);
    }
}
