//! `inspect`: what an image is, as a stable JSON document and as text.

use crate::model::image::Image;
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
pub struct LayerInfo {
    pub index: usize,
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub media_type: String,
    /// The history entry that made the layer (its index in the config's history), if any.
    pub history_index: Option<usize>,
    pub created_by: Option<String>,
}

#[derive(Serialize)]
pub struct Inspect {
    pub image: String,
    pub format: String,
    pub tags: Vec<String>,
    pub platform: String,
    /// When the image was picked from an index: every platform image the index has, in its
    /// order (attestations left out); `--platform` picks one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
    pub manifest_digest: String,
    pub manifest_media_type: String,
    pub index_digest: Option<String>,
    pub config_digest: String,
    pub created: Option<String>,
    pub author: Option<String>,
    pub layers: Vec<LayerInfo>,
    pub history: Value,
    pub config: Value,
    pub annotations: std::collections::BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

pub fn inspect(img: &Image) -> Inspect {
    let s = |k: &str| {
        img.config
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Inspect {
        image: img.name.clone(),
        format: img.format.describe().to_string(),
        tags: img.tags.clone(),
        platform: img.view.platform.to_string(),
        platforms: Vec::new(),
        manifest_digest: img.manifest_digest.to_string(),
        manifest_media_type: img
            .manifest
            .media_type
            .clone()
            .unwrap_or_else(|| crate::model::spec::media::OCI_MANIFEST.into()),
        index_digest: img.index_digest.as_ref().map(|d| d.to_string()),
        config_digest: img.config_desc.digest.to_string(),
        created: s("created"),
        author: s("author"),
        layers: img
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| LayerInfo {
                index: i,
                digest: l.desc.digest.to_string(),
                diff_id: l.diff_id.to_string(),
                size: l.desc.size,
                media_type: l.desc.media_type.clone(),
                history_index: l.history,
                created_by: img.history_of(i).and_then(|h| h.created_by.clone()),
            })
            .collect(),
        history: img.config.get("history").cloned().unwrap_or(Value::Null),
        config: img.config.get("config").cloned().unwrap_or(Value::Null),
        annotations: img.manifest.annotations.clone(),
        warnings: img.warnings.clone(),
    }
}

impl Inspect {
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let z = crate::text::sanitize;
        let mut o = String::new();
        let _ = writeln!(o, "image:     {}", z(&self.image));
        let _ = writeln!(o, "format:    {}", self.format);
        let tags: Vec<String> = self.tags.iter().map(|t| z(t)).collect();
        let _ = writeln!(
            o,
            "tags:      {}",
            if tags.is_empty() {
                "(none)".into()
            } else {
                tags.join(", ")
            }
        );
        let _ = writeln!(o, "platform:  {}", z(&self.platform));
        if !self.platforms.is_empty() {
            let _ = writeln!(o, "platforms: {} (index)", z(&self.platforms.join(", ")));
        }
        let _ = writeln!(
            o,
            "manifest:  {} ({})",
            self.manifest_digest,
            z(&self.manifest_media_type)
        );
        if let Some(i) = &self.index_digest {
            let _ = writeln!(o, "index:     {i}");
        }
        let _ = writeln!(o, "config:    {}", self.config_digest);
        if let Some(c) = &self.created {
            let _ = writeln!(o, "created:   {}", z(c));
        }
        for (k, v) in &self.annotations {
            let _ = writeln!(o, "annotation {}={}", z(k), z(v));
        }
        let _ = writeln!(o, "layers:");
        for l in &self.layers {
            let _ = writeln!(
                o,
                "  {:>2}  {}  {:>12} B  {}\n      diff_id {}{}",
                l.index,
                l.digest,
                l.size,
                z(&l.media_type),
                l.diff_id,
                l.created_by
                    .as_deref()
                    .map(|c| format!("\n      created_by {}", z(c)))
                    .unwrap_or_default()
            );
        }
        if let Value::Object(cfg) = &self.config {
            let _ = writeln!(o, "runtime config:");
            for (k, v) in cfg {
                if v.is_null() {
                    continue;
                }
                let _ = writeln!(o, "  {}: {}", z(k), z(&v.to_string()));
            }
        }
        for w in &self.warnings {
            let _ = writeln!(o, "warning: {}", z(w));
        }
        o
    }
}
