//! `regraft diff OLD NEW`: two images compared from their layers, nothing unpacked to disk.
//! Packages (added, removed, upgraded, downgraded, by each ecosystem's version order), files of
//! the merged filesystems (type, mode, owner, size, content digest, symlink target; mtimes are
//! left out, since any rebuild changes them all), and the config fields that changed. With a
//! scanner report made from OLD it says which findings NEW no longer carries because the
//! package was upgraded past the fixed version or removed, and which remain; `vex` states
//! the first two as OpenVEX (`--vex-out`).
//!
//! `packages`, `files`, `config` and `findings` each compare one thing; `text` writes the
//! result for a terminal; this file reads both images and puts the document together.

mod config;
mod files;
mod findings;
pub mod narrow;
mod packages;
mod text;
mod vex;

pub use config::{ConfigChange, config_changes};
pub use files::{FileChange, FileChanges, FileEntry, file_changes};
pub use findings::{FindingChanges, FindingOutcome};
pub use packages::{PackageChanges, VersionChange, package_changes};

use crate::error::{Error, Result};
use crate::model::image::Image;
use crate::model::reference::ImageRef;
use crate::model::spec::Platform;
use crate::packages::{self as pkgdb, PackageDb};
use crate::source::Source;
use crate::triage;
use crate::view::contents::{self, Contents, Wanted};
use serde::Serialize;
use std::path::PathBuf;

pub const SCHEMA: &str = "regraft.diff/v1";

#[derive(Clone, Debug)]
pub struct DiffPlan {
    pub old: ImageRef,
    pub new: ImageRef,
    /// A Trivy or Grype report made from OLD.
    pub report: Option<PathBuf>,
    /// Make the OpenVEX document of what the report's findings are in NEW (`--vex-out`).
    pub vex: bool,
    /// `SOURCE_DATE_EPOCH`, for the VEX timestamp (else NEW's `created`).
    pub source_date_epoch: Option<i64>,
    pub platform: Option<Platform>,
    pub max_layer_size: u64,
    /// `--path`: the file comparison narrowed to these subtrees (cleaned, relative).
    pub paths: Vec<Vec<u8>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Side {
    pub name: String,
    pub config_digest: String,
    pub layers: usize,
    pub packages: usize,
    pub files: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct ImageDiff {
    pub schema: &'static str,
    pub old: Side,
    pub new: Side,
    pub packages: PackageChanges,
    pub files: FileChanges,
    pub config: Vec<ConfigChange>,
    pub findings: Option<FindingChanges>,
    pub warnings: Vec<String>,
    /// The OpenVEX document, when asked for (`--vex-out`); not part of the diff's JSON.
    #[serde(skip)]
    pub vex: Option<serde_json::Value>,
}

fn read_side(img: &Image, max: u64) -> Result<(Contents, PackageDb)> {
    let c = contents::read(
        img,
        max,
        &Wanted {
            hash: true,
            ..pkgdb::wanted()
        },
    )?;
    let db = pkgdb::from_contents(&c)?;
    Ok((c, db))
}

pub fn diff(plan: &DiffPlan) -> Result<ImageDiff> {
    let old = Source::open(&plan.old)?.image(plan.platform.as_ref())?;
    let platform = plan
        .platform
        .clone()
        .unwrap_or_else(|| old.view.platform.clone());
    let new = Source::open(&plan.new)?.image(Some(&platform))?;
    let mut warnings = Vec::new();
    for img in [&old, &new] {
        for w in &img.warnings {
            warnings.push(format!("{}: {w}", img.name));
        }
    }
    // Read the report first: a report of another image should fail before minutes of reading.
    let rep = match &plan.report {
        Some(p) => {
            let r = triage::parse::read(p)?;
            triage::check_belongs(&r, &old, &mut warnings)?;
            Some((p.display().to_string(), r))
        }
        None => None,
    };
    let (oc, odb) = read_side(&old, plan.max_layer_size)?;
    let (nc, ndb) = read_side(&new, plan.max_layer_size)?;
    for (img, db) in [(&old, &odb), (&new, &ndb)] {
        for w in &db.warnings {
            warnings.push(format!("{}: {w}", img.name));
        }
    }
    let side = |img: &Image, c: &Contents, db: &PackageDb| Side {
        name: img.name.clone(),
        config_digest: img.config_desc.digest.to_string(),
        layers: img.layers.len(),
        packages: db.packages.len(),
        files: c.view.nodes.len(),
    };
    let findings = rep.map(|(f, r)| findings::findings(&f, &r, &ndb, &new));
    let vex = match &findings {
        Some(f) if plan.vex => {
            let t = crate::sbom::document_time(plan.source_date_epoch, &new);
            Some(vex::openvex(f, &new, &odb, &ndb, &t))
        }
        _ => None,
    };
    Ok(ImageDiff {
        schema: SCHEMA,
        old: side(&old, &oc, &odb),
        new: side(&new, &nc, &ndb),
        packages: package_changes(&odb, &ndb),
        files: {
            let mut f = file_changes(&oc, &nc);
            f.narrow(&plan.paths);
            f
        },
        config: config_changes(&old.config, &new.config),
        findings,
        warnings,
        vex,
    })
}

impl ImageDiff {
    pub fn json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::json("serialising the diff", e))
    }
}
