//! `diff --path` (the file comparison narrowed to subtrees) and `diff --stat` (one line per
//! layer with its size change, from the manifests alone: no layer is read).

use super::files::FileChanges;
use crate::error::Result;
use crate::model::image::Image;
use crate::model::path::is_under;
use crate::source::Source;
use serde::Serialize;

impl FileChanges {
    /// Keeps the changes at or below one of `sels` (cleaned relative paths; none keeps all).
    pub fn narrow(&mut self, sels: &[Vec<u8>]) {
        if sels.is_empty() {
            return;
        }
        let keep = |p: &str| {
            let rel = p.trim_start_matches('/').as_bytes();
            sels.iter().any(|s| s.is_empty() || is_under(rel, s))
        };
        self.added.retain(|e| keep(&e.path));
        self.removed.retain(|e| keep(&e.path));
        self.changed.retain(|c| keep(&c.path));
    }
}

/// One layer position of the two images.
#[derive(Clone, Debug, Serialize)]
pub struct LayerStat {
    pub index: usize,
    /// `same` (the same blob), `changed`, `added` (only NEW has it), `removed` (only OLD).
    pub status: &'static str,
    pub old_digest: Option<String>,
    pub new_digest: Option<String>,
    pub old_size: u64,
    pub new_size: u64,
    /// NEW's size minus OLD's, in bytes (compressed, as stored).
    pub delta: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Stat {
    pub old: String,
    pub new: String,
    pub layers: Vec<LayerStat>,
    pub old_total: u64,
    pub new_total: u64,
    pub delta: i64,
}

/// The layer table of two images, position by position.
pub fn stat_images(old: &Image, new: &Image) -> Stat {
    let n = old.layers.len().max(new.layers.len());
    let layers: Vec<LayerStat> = (0..n)
        .map(|i| {
            let (o, w) = (old.layers.get(i), new.layers.get(i));
            let size = |l: Option<&crate::model::image::Layer>| l.map_or(0, |l| l.desc.size);
            let status = match (o, w) {
                (Some(a), Some(b)) if a.desc.digest == b.desc.digest => "same",
                (Some(_), Some(_)) => "changed",
                (None, _) => "added",
                (_, None) => "removed",
            };
            LayerStat {
                index: i,
                status,
                old_digest: o.map(|l| l.desc.digest.to_string()),
                new_digest: w.map(|l| l.desc.digest.to_string()),
                old_size: size(o),
                new_size: size(w),
                delta: size(w) as i64 - size(o) as i64,
            }
        })
        .collect();
    let old_total: u64 = old.layers.iter().map(|l| l.desc.size).sum();
    let new_total: u64 = new.layers.iter().map(|l| l.desc.size).sum();
    Stat {
        old: old.name.clone(),
        new: new.name.clone(),
        layers,
        old_total,
        new_total,
        delta: new_total as i64 - old_total as i64,
    }
}

/// `diff --stat` of the plan's two images.
pub fn stat(plan: &super::DiffPlan) -> Result<Stat> {
    let old = Source::open(&plan.old)?.image(plan.platform.as_ref())?;
    let platform = plan
        .platform
        .clone()
        .unwrap_or_else(|| old.view.platform.clone());
    let new = Source::open(&plan.new)?.image(Some(&platform))?;
    Ok(stat_images(&old, &new))
}

impl Stat {
    pub fn text(&self) -> String {
        let short = |d: &Option<String>| {
            d.as_deref()
                .map_or("-".to_string(), |d| d.chars().take(19).collect())
        };
        let mut s = format!(
            "{} -> {}\n",
            crate::text::sanitize(&self.old),
            crate::text::sanitize(&self.new)
        );
        for l in &self.layers {
            s.push_str(&format!(
                "{:>3}  {:<8} {:<19} -> {:<19} {:>12} -> {:>12} B  {:+}\n",
                l.index,
                l.status,
                short(&l.old_digest),
                short(&l.new_digest),
                l.old_size,
                l.new_size,
                l.delta
            ));
        }
        s.push_str(&format!(
            "total: {} -> {} B ({:+})\n",
            self.old_total, self.new_total, self.delta
        ));
        s
    }

    pub fn json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| crate::error::Error::json("serialising the layer stat", e))
    }
}
