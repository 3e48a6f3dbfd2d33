//! The old-base split: which of a vendor image's layers (and history entries) belong to the
//! image it was built on, and which are its application. The graft, the check and triage all
//! ask this one place: the user names the old base (`--old-base IMAGE`, whose diff_ids must be a
//! prefix of the vendor's and whose history must match), or counts its layers
//! (`--old-base-layers N`); else the vendor's `org.opencontainers.image.base.digest`
//! annotation names it when that image is in the same file; else it is a stated guess: the
//! vendor's first layer.

use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::image::Image;
use crate::model::reference::{ImageRef, Selector};
use crate::model::spec::{self, Platform};
use crate::source::Source;
use serde::Serialize;
use serde_json::Value;

/// What the user said of the old base.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum OldBase {
    /// Nothing: the annotation, else a guess.
    #[default]
    Find,
    /// `--old-base IMAGE`.
    Image(ImageRef),
    /// `--old-base-layers N`.
    Layers(usize),
}

impl OldBase {
    /// From the two flags; `--old-base` wins when both are given.
    pub fn from_flags(image: Option<ImageRef>, layers: Option<usize>) -> OldBase {
        match (image, layers) {
            (Some(r), _) => OldBase::Image(r),
            (None, Some(n)) => OldBase::Layers(n),
            (None, None) => OldBase::Find,
        }
    }
}

/// How the split was found.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitHow {
    #[serde(rename = "--old-base")]
    OldBase,
    #[serde(rename = "--old-base-layers")]
    OldBaseLayers,
    #[serde(rename = "annotation")]
    Annotation,
    #[serde(rename = "guess")]
    Guess,
}

impl std::fmt::Display for SplitHow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SplitHow::OldBase => "--old-base",
            SplitHow::OldBaseLayers => "--old-base-layers",
            SplitHow::Annotation => "annotation",
            SplitHow::Guess => "guess",
        })
    }
}

/// The split as the summaries and `--json` show it.
#[derive(Serialize, Clone, Debug)]
pub struct OldBaseSummary {
    pub how: SplitHow,
    pub layers: usize,
    pub history_entries: usize,
    pub name: Option<String>,
}

/// The split between the vendor's old base and its application.
pub struct Split {
    /// The vendor's layers that belong to its old base.
    pub layers: usize,
    /// The vendor's history entries that belong to its old base.
    pub history: usize,
    /// The old base's config, when the old base image is known.
    pub old_config: Option<Value>,
    pub summary: OldBaseSummary,
}

fn history_entry_matches(a: &spec::History, b: &spec::History) -> bool {
    a.created_by == b.created_by && a.is_empty_layer() == b.is_empty_layer()
}

/// The history index just past the entry that made layer `n - 1` (0 if n == 0).
fn history_after_layer(img: &Image, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    match img.layers.get(n - 1).and_then(|l| l.history) {
        Some(h) => h + 1,
        None => img.view.history.len(),
    }
}

impl Split {
    /// The split at `layers` layers and `history` history entries, found as `how` says.
    fn new(
        how: SplitHow,
        layers: usize,
        history: usize,
        old: Option<&Image>,
        name: Option<String>,
    ) -> Split {
        Split {
            layers,
            history,
            old_config: old.map(|o| o.config.clone()),
            summary: OldBaseSummary {
                how,
                layers,
                history_entries: history,
                name,
            },
        }
    }

    /// The split at `old`'s layers, where `old` is known to be the vendor's base.
    fn at_base(how: SplitHow, vendor: &Image, old: &Image, name: String) -> Split {
        let layers = old.view.diff_ids.len();
        // An old base without history: the vendor's own history says where its layers end.
        let history = if old.view.history.is_empty() {
            history_after_layer(vendor, layers)
        } else {
            old.view.history.len()
        };
        Split::new(how, layers, history, Some(old), Some(name))
    }

    /// The split at the vendor's first `n` layers, the old base image unknown.
    fn at_layer(how: SplitHow, vendor: &Image, n: usize) -> Split {
        Split::new(how, n, history_after_layer(vendor, n), None, None)
    }
}

/// Finds the split of `vendor` (read from `vendor_src`, which may also hold the image its base
/// annotation names) as `given` says. `warnings` gets the note when the split is a guess.
pub fn find_split(
    given: &OldBase,
    vendor_src: &Source,
    vendor: &Image,
    platform: &Platform,
    warnings: &mut Vec<String>,
) -> Result<Split> {
    match given {
        OldBase::Image(r) => {
            let old = Source::open(r)?.image(Some(platform))?;
            check_is_base(vendor, &old)?;
            let name = old.name.clone();
            Ok(Split::at_base(SplitHow::OldBase, vendor, &old, name))
        }
        OldBase::Layers(n) => {
            if *n > vendor.layers.len() {
                return Err(Error::Usage(format!(
                    "--old-base-layers {n}: the vendor has only {} layers",
                    vendor.layers.len()
                )));
            }
            Ok(Split::at_layer(SplitHow::OldBaseLayers, vendor, *n))
        }
        OldBase::Find => Ok(annotated_or_guess(vendor_src, vendor, platform, warnings)),
    }
}

/// Fails unless `old` is the base of `vendor`: its diff_ids a prefix of the vendor's and its
/// history entries the first of the vendor's.
fn check_is_base(vendor: &Image, old: &Image) -> Result<()> {
    let (v, o) = (&vendor.view.diff_ids, &old.view.diff_ids);
    if o.len() > v.len() {
        return Err(Error::Invalid(format!(
            "{} is not the base of {}: it has {} layers, the vendor only {}",
            old.name,
            vendor.name,
            o.len(),
            v.len()
        )));
    }
    if let Some(i) = (0..o.len()).find(|&i| o[i] != v[i]) {
        return Err(Error::Invalid(format!(
            "{} is not the base of {}: they part at layer {i}: old base has {}, vendor has {}",
            old.name, vendor.name, o[i], v[i]
        )));
    }
    let (vh, oh) = (&vendor.view.history, &old.view.history);
    if oh.len() > vh.len() || oh.iter().zip(vh).any(|(a, b)| !history_entry_matches(a, b)) {
        let at = oh
            .iter()
            .zip(vh)
            .position(|(a, b)| !history_entry_matches(a, b))
            .unwrap_or(vh.len());
        return Err(Error::Invalid(format!(
            "{} is not the base of {}: their histories part at entry {at}",
            old.name, vendor.name
        )));
    }
    Ok(())
}

/// Nothing given: the image the vendor's base annotation names, when `vendor_src` holds it
/// and it is the vendor's base; else the guess (the vendor's first layer), with a warning.
fn annotated_or_guess(
    vendor_src: &Source,
    vendor: &Image,
    platform: &Platform,
    warnings: &mut Vec<String>,
) -> Split {
    let annotation = |key: &str| vendor.manifest.annotations.get(key).cloned();
    let ann_name = annotation("org.opencontainers.image.base.name");
    let ann_digest = annotation("org.opencontainers.image.base.digest");
    let annotated = match (&ann_name, &ann_digest) {
        (n, Some(d)) => format!("{}@{}", n.as_deref().unwrap_or(""), d),
        (Some(n), None) => n.clone(),
        (None, None) => String::new(),
    };
    if let Some(d) = ann_digest.as_deref().and_then(|d| Digest::parse(d).ok())
        && let Ok(old) = vendor_src.image_with(Some(&Selector::Digest(d)), Some(platform))
    {
        let o = &old.view.diff_ids;
        if o.len() <= vendor.view.diff_ids.len() && o[..] == vendor.view.diff_ids[..o.len()] {
            return Split::at_base(SplitHow::Annotation, vendor, &old, annotated);
        }
    }
    let mut msg = "the vendor's old base is a guess: its first layer".to_string();
    if !annotated.is_empty() {
        msg.push_str(&format!(
            " (the vendor names {} as its base, which is not in {})",
            annotated,
            vendor_src.describe()
        ));
    }
    msg.push_str("; give --old-base IMAGE or --old-base-layers N to make it exact");
    warnings.push(msg);
    Split::at_layer(SplitHow::Guess, vendor, vendor.layers.len().min(1))
}
