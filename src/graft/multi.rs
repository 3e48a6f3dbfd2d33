//! Multi-platform grafts. A vendor that is an index (an OCI image index or a Docker manifest
//! list) is grafted platform by platform through the one single-platform graft and its check
//! (`gate::graft_checked`): each platform onto the base's image for the same platform (os,
//! architecture, variant; `arm64` = `arm64/v8`), with its own old base, config, check and
//! summary. The platforms share one output (path mode puts each platform's layers into it as
//! it goes), which is committed once, as one index: its manifests in the vendor's order, every
//! platform's blobs put first and the index last, so any sink (a layout, an archive, a
//! registry) writes it the way it writes one image. Attestation manifests describe the
//! vendor's image, not the new one: they are left out, and the summary says so.

use super::gate::graft_checked;
use super::{GraftPlan, Grafted, WriteMode};
use crate::check::Report;
use crate::error::{Error, Result};
use crate::model::out::{OutBlob, OutImage};
use crate::model::reference::{ImageRef, Transport};
use crate::model::spec::{self, Index, Platform};
use crate::source::Source;
use std::collections::BTreeMap;

/// What `--platform` asks of a multi-platform input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PlatformChoice {
    /// Not given: every platform of a vendor index that has several, else the one image.
    #[default]
    Default,
    /// `--platform all`: every platform of a vendor index.
    All,
    /// `--platform P[,P...]`: these (one: a single-platform graft).
    Only(Vec<Platform>),
}

impl PlatformChoice {
    /// `all`, or a comma-separated list of `os/arch[/variant]` (repeats dropped).
    pub fn parse(s: Option<&str>) -> Result<PlatformChoice> {
        let Some(s) = s else {
            return Ok(PlatformChoice::Default);
        };
        if s == "all" {
            return Ok(PlatformChoice::All);
        }
        let mut v: Vec<Platform> = Vec::new();
        for p in s.split(',') {
            let p = Platform::parse(p)?;
            if !v.iter().any(|q| q.matches(&p)) {
                v.push(p);
            }
        }
        Ok(PlatformChoice::Only(v))
    }

    /// The one platform asked for, when exactly one is.
    pub fn one(&self) -> Option<&Platform> {
        match self {
            PlatformChoice::Only(v) if v.len() == 1 => v.first(),
            _ => None,
        }
    }

    /// Whether several platforms (or all) are asked for.
    pub fn several(&self) -> bool {
        match self {
            PlatformChoice::All => true,
            PlatformChoice::Only(v) => v.len() > 1,
            PlatformChoice::Default => false,
        }
    }
}

/// The platforms a multi-platform graft grafts, in the vendor's order, and what it leaves out.
#[derive(Clone, Debug)]
pub struct Platforms {
    pub list: Vec<Platform>,
    /// One line each: attestations, absent children, platforms `--platform` did not ask for.
    pub left_out: Vec<String>,
    /// The vendor index's annotations (its `base.*` are dropped when written).
    annotations: BTreeMap<String, String>,
}

fn joined(ps: &[Platform]) -> String {
    ps.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `plan` with `choice` is a multi-platform graft, and of which platforms; None for a
/// single-image graft (a single vendor image, a single `--platform`, or an index with one
/// platform image and no `--platform all`). The base must have every platform grafted.
pub fn plan_platforms(plan: &GraftPlan, choice: &PlatformChoice) -> Result<Option<Platforms>> {
    if choice.one().is_some() {
        return Ok(None);
    }
    let vsrc = Source::open(&plan.vendor)?;
    let Some(vp) = vsrc.index_platforms()? else {
        if let PlatformChoice::Only(want) = choice {
            return Err(Error::Usage(format!(
                "--platform {}: the vendor {} is a single image, not an index; give one platform or none",
                joined(want),
                vsrc.describe()
            )));
        }
        return Ok(None);
    };
    let mut left_out = vp.left_out;
    let list: Vec<Platform> = match choice {
        PlatformChoice::Only(want) => {
            if let Some(w) = want
                .iter()
                .find(|w| !vp.platforms.iter().any(|p| w.matches(p)))
            {
                return Err(Error::Invalid(format!(
                    "--platform {w}: the vendor {} has no image for it; it has: {}",
                    vsrc.describe(),
                    joined(&vp.platforms)
                )));
            }
            let (take, skip): (Vec<Platform>, Vec<Platform>) = vp
                .platforms
                .into_iter()
                .partition(|p| want.iter().any(|w| w.matches(p)));
            for p in skip {
                left_out.push(format!("{p}: not asked for by --platform; left out"));
            }
            take
        }
        PlatformChoice::Default if vp.platforms.len() < 2 => return Ok(None),
        _ => vp.platforms,
    };
    if list.is_empty() {
        return Err(Error::Invalid(format!(
            "the vendor {} is an index with no platform image to graft",
            vsrc.describe()
        )));
    }
    check_base(plan, &list)?;
    Ok(Some(Platforms {
        list,
        left_out,
        annotations: vp.annotations,
    }))
}

/// The base must have an image for every platform grafted: an error names the ones it lacks.
fn check_base(plan: &GraftPlan, list: &[Platform]) -> Result<()> {
    let bsrc = Source::open(&plan.base)?;
    let have = match bsrc.index_platforms()? {
        Some(bp) => bp.platforms,
        None => vec![bsrc.image(None)?.view.platform.clone()],
    };
    let missing: Vec<Platform> = list
        .iter()
        .filter(|p| !have.iter().any(|h| p.matches(h)))
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "the base {} has no image for {}, which the vendor has; the base has: {} (--platform {} grafts the platforms both have)",
        bsrc.describe(),
        joined(&missing),
        joined(&have),
        joined(
            &list
                .iter()
                .filter(|p| !missing.contains(p))
                .cloned()
                .collect::<Vec<_>>()
        )
    )))
}

/// One platform of a multi-platform graft: its graft (summary, planned image) and its check.
pub struct PlatformGraft {
    pub platform: Platform,
    pub grafted: Grafted,
    pub report: Report,
}

/// A multi-platform graft, planned and checked.
pub struct MultiGrafted {
    pub platforms: Vec<PlatformGraft>,
    pub left_out: Vec<String>,
    /// The index to write: every platform's blobs, each manifest, the index.
    pub image: OutImage,
    /// The output, begun (path mode): `Sink::commit(image)` finishes it.
    pub sink: Option<Box<dyn crate::sink::Sink>>,
}

impl MultiGrafted {
    /// Whether any platform's check has errors left.
    pub fn has_errors(&self) -> bool {
        self.platforms.iter().any(|p| p.report.has_errors())
    }
}

/// Refuses an output that cannot hold an index: a docker archive (a file or `-o -`), which
/// `docker load` on the classic image store reads as single-platform images only.
pub fn check_output(plan: &GraftPlan) -> Result<()> {
    refuse_single_image_output(&plan.output, "the vendor")
}

/// Refuses an output that cannot hold an index (a docker archive, `-o -`); `what` names the
/// multi-platform input in the message.
pub fn refuse_single_image_output(out: &ImageRef, what: &str) -> Result<()> {
    if out.transport == Transport::DockerArchive || out.path.as_os_str() == "-" {
        return Err(Error::Usage(format!(
            "output {out}: a docker archive holds single-platform images (docker load on the classic store reads one image per entry), and {what} is multi-platform: write oci-archive:FILE or oci:DIR for the index, or pick one platform with --platform"
        )));
    }
    Ok(())
}

/// Grafts and checks every platform, in order, into one output; plans the index.
/// The platforms run one after the other: each already reads on a second thread while it
/// writes, and they share the one output.
pub fn graft_all(plan: &GraftPlan, ps: &Platforms, write: WriteMode) -> Result<MultiGrafted> {
    check_output(plan)?;
    let mut sink = None;
    let mut done = Vec::new();
    for p in &ps.list {
        // Each platform's manifest gets the annotations and media types with the index,
        // below.
        let one = GraftPlan {
            platform: Some(p.clone()),
            docs: Default::default(),
            ..plan.clone()
        };
        let (mut grafted, report) = graft_checked(&one, write, sink.take())
            .map_err(|e| Error::context(format!("platform {p}"), e))?;
        sink = grafted.sink.take();
        done.push(PlatformGraft {
            platform: p.clone(),
            grafted,
            report,
        });
    }
    let image = index_image(&done, &ps.annotations);
    let image = finish_index(image, plan, &mut done)?;
    Ok(MultiGrafted {
        platforms: done,
        left_out: ps.left_out.clone(),
        image,
        sink,
    })
}

/// The index and its platforms' manifests with the plan's annotations and media types
/// (`mutate::finish`: every child is made here, so every child gets them); each platform's
/// summary names its manifest as written.
fn finish_index(image: OutImage, plan: &GraftPlan, done: &mut [PlatformGraft]) -> Result<OutImage> {
    if plan.docs.is_empty() {
        return Ok(image);
    }
    let what = format!("the index for {}", plan.output);
    let image = crate::mutate::finish(image, &plan.docs, crate::mutate::Children::Made, &what)?;
    let bytes = image
        .blobs
        .iter()
        .find_map(|b| match b {
            OutBlob::Bytes { desc, bytes } if desc.digest == image.top.digest => Some(bytes),
            _ => None,
        })
        .ok_or_else(|| Error::Invalid(format!("{what}: its bytes are not held")))?;
    let idx: Index = spec::parse_json(bytes, &what)?;
    for (d, m) in done.iter_mut().zip(&idx.manifests) {
        d.grafted.summary.manifest_digest = m.digest.to_string();
    }
    Ok(image)
}

/// The index over the platforms' images, in their order; the vendor index's annotations
/// (less its `base.*`, which each manifest carries for its own base).
fn index_image(done: &[PlatformGraft], annotations: &BTreeMap<String, String>) -> OutImage {
    crate::mutate::index_of(
        done.iter().map(|d| (&d.platform, &d.grafted.image)),
        annotations,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_choices_parse() {
        assert_eq!(
            PlatformChoice::parse(None).unwrap(),
            PlatformChoice::Default
        );
        assert_eq!(
            PlatformChoice::parse(Some("all")).unwrap(),
            PlatformChoice::All
        );
        let one = PlatformChoice::parse(Some("linux/arm64")).unwrap();
        assert_eq!(one.one().unwrap().architecture, "arm64");
        assert!(!one.several());
        // arm64 and arm64/v8 are one platform: the repeat goes.
        let two = PlatformChoice::parse(Some("linux/amd64,linux/arm64,linux/arm64/v8")).unwrap();
        assert!(two.several());
        let PlatformChoice::Only(v) = &two else {
            panic!("a list");
        };
        assert_eq!(joined(v), "linux/amd64, linux/arm64");
        assert!(PlatformChoice::parse(Some("linux/amd64,")).is_err());
        assert!(PlatformChoice::parse(Some("amd64")).is_err());
    }
}
