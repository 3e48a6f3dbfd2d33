//! What a graft did, for the terminal and for `--json`: the inputs, the old-base split, the
//! layers grafted or written, the config values taken from the vendor, and the output.

use super::{GraftMode, GraftPlan, Inputs, ModeResult, WriteMode};
use crate::model::image::Image;
use crate::model::out::OutImage;
use crate::oldbase::OldBaseSummary;
use serde::Serialize;

#[derive(Serialize, Clone, Debug)]
pub struct ImageSummary {
    pub name: String,
    pub manifest_digest: String,
    pub layers: usize,
}

#[derive(Serialize, Clone, Debug)]
pub struct NewLayerSummary {
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub compression: String,
    pub entries: usize,
}

#[derive(Serialize, Clone, Debug)]
pub struct Summary {
    pub mode: GraftMode,
    pub vendor: ImageSummary,
    pub base: ImageSummary,
    pub old_base: OldBaseSummary,
    pub paths: Vec<String>,
    pub grafted_layers: Vec<String>,
    pub new_layer: Option<NewLayerSummary>,
    pub layers: usize,
    pub from_vendor: Vec<String>,
    pub tag: Option<String>,
    pub output: String,
    pub manifest_digest: String,
    pub config_digest: String,
    pub warnings: Vec<String>,
    /// Layers `--exclude` rewrote (layer mode): index, old and new digest, entries dropped.
    pub rewritten_layers: Vec<String>,
    pub dry_run: bool,
    /// What a push to a registry moved (absent for files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved: Option<Moved>,
}

/// What a push to a registry moved: bytes and blobs uploaded, and the blobs that moved no
/// bytes (mounted from another repository of the registry, or there already).
#[derive(Serialize, Clone, Debug, Default)]
pub struct Moved {
    pub bytes_uploaded: u64,
    pub blobs_uploaded: u64,
    pub blobs_mounted: u64,
    pub blobs_present: u64,
}

impl Moved {
    pub fn from_transfer(t: &crate::sink::Transfer) -> Moved {
        use std::sync::atomic::Ordering::Relaxed;
        Moved {
            bytes_uploaded: t.uploaded.load(Relaxed),
            blobs_uploaded: t.blobs_uploaded.load(Relaxed),
            blobs_mounted: t.blobs_mounted.load(Relaxed),
            blobs_present: t.blobs_present.load(Relaxed),
        }
    }

    /// One line for a terminal.
    pub fn text(&self) -> String {
        format!(
            "{} byte(s) uploaded in {} blob(s); {} blob(s) mounted from another repository, {} there already",
            self.bytes_uploaded, self.blobs_uploaded, self.blobs_mounted, self.blobs_present
        )
    }
}

impl Summary {
    /// The summary of a graft whose result is planned as `image`; `grafted` are the digests
    /// of the layers put on the base.
    pub(super) fn new(
        plan: &GraftPlan,
        inputs: Inputs,
        grafted: Vec<String>,
        done: &ModeResult,
        from_vendor: Vec<String>,
        image: &OutImage,
        write: WriteMode,
    ) -> Summary {
        let image_summary = |i: &Image| ImageSummary {
            name: i.name.clone(),
            manifest_digest: i.manifest_digest.to_string(),
            layers: i.layers.len(),
        };
        Summary {
            mode: plan.mode(),
            vendor: image_summary(&inputs.vendor),
            base: image_summary(&inputs.base),
            old_base: inputs.split.summary,
            paths: plan
                .paths
                .iter()
                .map(|p| format!("/{}", String::from_utf8_lossy(p)))
                .collect(),
            layers: inputs.base.layers.len() + grafted.len(),
            grafted_layers: grafted,
            new_layer: done.new_layer.clone(),
            from_vendor,
            tag: image.name.clone(),
            output: plan.output.to_string(),
            manifest_digest: image.top.digest.to_string(),
            config_digest: image
                .docker
                .as_ref()
                .map(|d| d.config.to_string())
                .unwrap_or_default(),
            warnings: inputs.warnings,
            rewritten_layers: done.rewritten_layers.clone(),
            dry_run: write == WriteMode::DryRun,
            moved: None,
        }
    }

    /// The summary for a terminal: what was grafted onto what, the old base, the layers,
    /// the config values from the vendor, `--exclude`'s rewrites, warnings, what was written.
    pub fn text(&self) -> String {
        let mut o = self.body();
        o.push_str(&self.outcome());
        o
    }

    /// `text` without its last line (what was written): a platform of a multi-platform graft,
    /// whose output is the index.
    pub fn body(&self) -> String {
        use std::fmt::Write as _;
        let z = crate::text::sanitize;
        let mut o = self.headline();
        let _ = writeln!(
            o,
            "  old base: {} layer(s) of the vendor ({}{})",
            self.old_base.layers,
            self.old_base.how,
            self.old_base
                .name
                .as_deref()
                .map(|n| format!(": {}", z(n)))
                .unwrap_or_default()
        );
        if let Some(l) = &self.new_layer {
            let _ = writeln!(
                o,
                "  new layer: {} ({} entries, {} bytes, {})",
                l.digest, l.entries, l.size, l.compression
            );
        }
        let _ = writeln!(
            o,
            "  layers: {} ({} from the base + {})",
            self.layers,
            self.base.layers,
            self.layers - self.base.layers
        );
        if !self.from_vendor.is_empty() {
            let _ = writeln!(
                o,
                "  from the vendor's config: {}",
                shown_list(&self.from_vendor)
            );
        }
        for r in &self.rewritten_layers {
            let _ = writeln!(o, "  --exclude: {}", z(r));
        }
        for w in &self.warnings {
            let _ = writeln!(o, "  warning: {}", z(w));
        }
        o
    }

    /// The first line: what was (or would be) grafted onto what.
    fn headline(&self) -> String {
        let z = crate::text::sanitize;
        let verb = if self.dry_run {
            "would graft"
        } else {
            "grafted"
        };
        // Path mode names the paths taken from the vendor, layer mode the layers of it.
        let (what, from) = match self.mode {
            GraftMode::Path => (shown_list(&self.paths), " from"),
            GraftMode::Layer => (
                format!("{} application layer(s) of", self.grafted_layers.len()),
                "",
            ),
        };
        format!(
            "regraft: {verb} {what}{from} {} onto {}\n",
            z(&self.vendor.name),
            z(&self.base.name)
        )
    }

    /// The last line: what was written, or would be.
    fn outcome(&self) -> String {
        let z = crate::text::sanitize;
        if self.dry_run {
            format!(
                "  dry run: nothing written (would write {})\n",
                z(&self.output)
            )
        } else {
            let moved = self
                .moved
                .as_ref()
                .map(|m| format!("  moved: {}\n", m.text()))
                .unwrap_or_default();
            format!(
                "  wrote {}{}: manifest {}\n{moved}",
                z(&self.output),
                self.tag
                    .as_deref()
                    .map(|t| format!(" as {}", z(t)))
                    .unwrap_or_default(),
                self.manifest_digest
            )
        }
    }
}

/// `items`, each made safe for a terminal, joined by `, `.
fn shown_list(items: &[String]) -> String {
    items
        .iter()
        .map(|p| crate::text::sanitize(p))
        .collect::<Vec<_>>()
        .join(", ")
}
