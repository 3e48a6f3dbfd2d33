//! A report joined to its image. The report must be about the image: its diff_ids are the
//! image's (or, when it lists none, its image ID is the config digest), since a finding's
//! layer means nothing against another image. Each finding is then placed in a layer: the one
//! the report names, else the layer the image's package database gives its package, else the
//! layer that put a file it names into the merged filesystem. Findings the report lists more
//! than once (same ID, package, version and layer) become one.

use super::document::{LocatedBy, MatchedBy, Part, TriagedFinding, extend_new};
use super::report::{Finding, Report};
use crate::error::{Error, Result};
use crate::model::digest::DiffId;
use crate::model::image::Image;
use crate::packages::PackageDb;
use crate::text::sanitize;
use crate::view::contents::Contents;
use std::collections::BTreeMap;

/// Checks that `report` was made from `img`; returns what matched.
pub fn check_belongs(
    report: &Report,
    img: &Image,
    warnings: &mut Vec<String>,
) -> Result<MatchedBy> {
    let config = &img.config_desc.digest;
    if report.diff_ids.is_empty() {
        return match &report.image_id {
            Some(id) if id == config => Ok(MatchedBy::ImageId),
            Some(id) => Err(Error::Invalid(format!(
                "the report is not about {}: its image ID is {id}, the image's config digest {config}",
                img.name
            ))),
            None => by_manifest_or_layers(report, img, warnings),
        };
    }
    let mine = &img.view.diff_ids;
    if report.diff_ids != *mine {
        return Err(other_layers(&report.diff_ids, img));
    }
    if let Some(id) = &report.image_id
        && id != config
    {
        warnings.push(format!(
            "the report's image ID {id} is not the image's config digest {config}; the layers match, so the findings apply"
        ));
    }
    Ok(MatchedBy::DiffIds)
}

/// A report without the image's layer list or ID (Grype's CycloneDX and SARIF): its manifest
/// digest, else the layers its findings name, all of which must be the image's.
fn by_manifest_or_layers(
    report: &Report,
    img: &Image,
    warnings: &mut Vec<String>,
) -> Result<MatchedBy> {
    let mine = &img.view.diff_ids;
    let mut named: Vec<&DiffId> = report
        .findings
        .iter()
        .filter_map(|f| f.layer.diff_id.as_ref())
        .collect();
    named.sort_by_key(|d| d.to_string());
    named.dedup();
    if let Some(d) = named.iter().find(|d| !mine.contains(d)) {
        return Err(Error::Invalid(format!(
            "the report is not about {}: a finding names layer {d}, which the image does not have",
            img.name
        )));
    }
    match &report.manifest_digest {
        Some(m) if *m == img.manifest_digest => return Ok(MatchedBy::ManifestDigest),
        Some(m) if named.is_empty() => {
            return Err(Error::Invalid(format!(
                "the report is not about {}: its manifest digest is {m}, the image's {}",
                img.name, img.manifest_digest
            )));
        }
        _ => {}
    }
    if named.is_empty() {
        return Err(Error::Invalid(
            "the report names neither the image's layers nor its ID, so it cannot be checked against the image".into(),
        ));
    }
    warnings.push(format!(
        "the report names no image ID and not the image's layer list; its findings name {} of the image's {} layer(s), all the image's (an image built on the same layers would match too)",
        named.len(),
        mine.len()
    ));
    Ok(MatchedBy::FindingLayers)
}

/// The error for a report whose layers are not `img`'s, naming the first that differs.
fn other_layers(theirs: &[DiffId], img: &Image) -> Error {
    let mine = &img.view.diff_ids;
    let at = (0..theirs.len().max(mine.len()))
        .find(|&i| theirs.get(i) != mine.get(i))
        .unwrap_or(0);
    let show = |d: Option<&DiffId>| d.map(|d| d.to_string()).unwrap_or_else(|| "nothing".into());
    Error::Invalid(format!(
        "the report is not about {}: it lists {} layer(s), the image has {}; at layer {at} the report has {}, the image {}",
        img.name,
        theirs.len(),
        mine.len(),
        show(theirs.get(at)),
        show(mine.get(at))
    ))
}

/// What the image says about where its packages and files came from.
pub(super) struct Evidence<'a> {
    pub img: &'a Image,
    pub packages: &'a PackageDb,
    pub contents: &'a Contents,
    /// The old base's layers, bottom first.
    pub split: usize,
}

/// The report's findings placed in the image, duplicates merged.
pub(super) struct Placed {
    /// In the report's order.
    pub findings: Vec<TriagedFinding>,
    pub duplicates: usize,
}

impl Evidence<'_> {
    /// Places every finding of `rep`.
    pub fn place(&self, rep: &Report, warnings: &mut Vec<String>) -> Result<Placed> {
        let mut seen: BTreeMap<(String, String, String, Option<usize>), usize> = BTreeMap::new();
        let mut placed = Placed {
            findings: Vec::new(),
            duplicates: 0,
        };
        for f in &rep.findings {
            let (layer, located_by) = self.locate(f, warnings)?;
            let key = (f.id.clone(), f.package.clone(), f.installed.clone(), layer);
            if let Some(&k) = seen.get(&key) {
                // Duplicates across targets (the same jar found twice, OS and language results
                // naming one package): merge what they add.
                placed.duplicates += 1;
                merge(&mut placed.findings[k], f);
                continue;
            }
            seen.insert(key, placed.findings.len());
            placed
                .findings
                .push(triaged(f, layer, located_by, self.split));
        }
        Ok(placed)
    }

    /// The layer of `f`, and what said so.
    fn locate(
        &self,
        f: &Finding,
        warnings: &mut Vec<String>,
    ) -> Result<(Option<usize>, Option<LocatedBy>)> {
        if let Some(l) = layer_of(f, self.img, warnings)? {
            return Ok((Some(l), Some(LocatedBy::Report)));
        }
        if f.os_package
            && let Some(l) = self.locate_in_db(f)
        {
            return Ok((Some(l), Some(LocatedBy::PackageDb)));
        }
        let by_file = f.paths.iter().find_map(|p| {
            self.contents
                .view
                .get(p.trim_start_matches('/').as_bytes())
                .map(|n| n.layer())
        });
        Ok(match by_file {
            Some(l) => (Some(l), Some(LocatedBy::File)),
            None => (None, None),
        })
    }

    /// The layer of an OS package the report left unplaced, from the image's package database.
    fn locate_in_db(&self, f: &Finding) -> Option<usize> {
        let db = self.packages;
        db.packages
            .iter()
            .find(|p| p.name == f.package && p.version == f.installed)
            .or_else(|| db.find(&f.package, None))
            .and_then(|p| p.source_layer)
    }
}

/// The layer index a finding's hint names; Err when it names a layer the image lacks.
fn layer_of(f: &Finding, img: &Image, warnings: &mut Vec<String>) -> Result<Option<usize>> {
    if let Some(d) = &f.layer.diff_id {
        return match img.view.diff_ids.iter().position(|x| x == d) {
            Some(i) => Ok(Some(i)),
            None => Err(Error::Invalid(format!(
                "the report places {} ({}) in layer {d}, which {} does not have",
                sanitize(&f.id),
                sanitize(&f.package),
                img.name
            ))),
        };
    }
    if let Some(d) = &f.layer.digest {
        if let Some(i) = img.layers.iter().position(|l| &l.desc.digest == d) {
            return Ok(Some(i));
        }
        // A registry blob digest means nothing for an image stored compressed differently.
        warnings.push(format!(
            "{} ({}): layer digest {d} is not a blob of this image (recompressed?); placed by the package database if possible",
            sanitize(&f.id),
            sanitize(&f.package)
        ));
    }
    Ok(None)
}

fn triaged(
    f: &Finding,
    layer: Option<usize>,
    located_by: Option<LocatedBy>,
    split: usize,
) -> TriagedFinding {
    TriagedFinding {
        id: f.id.clone(),
        package: f.package.clone(),
        installed_version: f.installed.clone(),
        fixed_versions: f.fixed.clone(),
        severity: f.severity,
        part: Part::of(layer, split),
        layer,
        located_by,
        package_type: f.pkg_type.clone(),
        os_package: f.os_package,
        paths: f.paths.clone(),
        title: f.title.clone(),
        status: f.status.clone(),
    }
}

/// What a second listing of a finding adds: a higher severity, more fixed versions and paths.
fn merge(t: &mut TriagedFinding, f: &Finding) {
    t.severity = t.severity.max(f.severity);
    extend_new(&mut t.fixed_versions, f.fixed.iter().cloned());
    extend_new(&mut t.paths, f.paths.iter().cloned());
}
