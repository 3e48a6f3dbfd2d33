//! `ls`: the merged filesystem (or one layer's entries), with the layer and history entry
//! each entry comes from.

use crate::error::{Error, Result};
use crate::layer::entry::{self, Kind, Meta, Op};
use crate::model::image::Image;
use crate::view::load::merged_view;
use serde::Serialize;

#[derive(Serialize, Debug, Clone)]
pub struct LsEntry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub mode: String,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime: u64,
    pub link: Option<String>,
    /// Layer index as `inspect` shows it.
    pub layer: usize,
    pub history_index: Option<usize>,
    pub created_by: Option<String>,
}

/// How `text` lists entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// Paths only, whiteouts and opaque markers tagged as such.
    Paths,
    /// Attributes, layer and history entry too (`--long`).
    Long,
}

/// An entry's own attributes, as listed.
struct Attrs {
    kind: String,
    mode: String,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    link: Option<String>,
}

impl Attrs {
    fn of(kind: &Kind, meta: &Meta, size: u64) -> Attrs {
        Attrs {
            kind: kind.short_name().into(),
            mode: super::mode_string(kind, meta.mode),
            uid: meta.uid,
            gid: meta.gid,
            size,
            mtime: meta.mtime,
            link: match kind {
                Kind::Symlink(t) => Some(crate::text::lossless(t)),
                _ => None,
            },
        }
    }

    /// A whiteout or opaque marker: no attributes of its own.
    fn marker(kind: &str) -> Attrs {
        Attrs {
            kind: kind.into(),
            mode: String::new(),
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            link: None,
        }
    }

    /// The listing's row: these attributes at `path`, from layer `layer` of `img`.
    fn row(self, path: String, img: &Image, layer: usize) -> LsEntry {
        LsEntry {
            path,
            kind: self.kind,
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            size: self.size,
            mtime: self.mtime,
            link: self.link,
            layer,
            history_index: img.layers.get(layer).and_then(|l| l.history),
            created_by: img.history_of(layer).and_then(|h| h.created_by.clone()),
        }
    }
}

fn clean(path: Option<&str>) -> Result<Vec<u8>> {
    match path {
        None => Ok(vec![]),
        Some(p) => Ok(entry::clean_path(p.as_bytes())?.unwrap_or_default()),
    }
}

/// The merged view at or below `path`.
pub fn ls(img: &Image, path: Option<&str>, max: u64) -> Result<Vec<LsEntry>> {
    let view = merged_view(img, max, &[], None)?;
    let p = clean(path)?;
    let p = if p.is_empty() {
        p
    } else {
        view.resolve_parent(&p)?
    };
    let shown = format!("/{}", crate::text::sanitize_bytes(&p));
    super::must_exist(img, &view, &p, &shown)?;
    Ok(view
        .subtree(&p)
        .map(|(k, n)| {
            let size = if n.kind == Kind::File { n.size } else { 0 };
            Attrs::of(&n.kind, &n.meta, size).row(
                format!("/{}", crate::text::lossless(k)),
                img,
                n.layer(),
            )
        })
        .collect())
}

/// One layer's entries as they are in its tar (whiteouts and opaque markers shown as such).
pub fn ls_layer(img: &Image, index: usize, max: u64) -> Result<Vec<LsEntry>> {
    let l = img.layers.get(index).ok_or_else(|| {
        Error::Usage(format!(
            "--layer {index}: {} has {} layers (0 to {})",
            img.name,
            img.layers.len(),
            img.layers.len().saturating_sub(1)
        ))
    })?;
    let mut out = Vec::new();
    crate::layer::each_entry(&img.name, index, l, max, |e, le| {
        let attrs = match &le.op {
            Op::Put {
                kind, meta, size, ..
            } => Attrs::of(kind, meta, *size),
            Op::Link { target, meta } => Attrs {
                kind: "hardlink".into(),
                link: Some(format!("/{}", crate::text::lossless(target))),
                ..Attrs::of(&Kind::File, meta, 0)
            },
            Op::Whiteout => Attrs::marker("whiteout"),
            Op::Opaque => Attrs::marker("opaque"),
            // The layer's root entry (`.`, `./`) sets the root's attributes: list it as `/`.
            Op::Skip if le.path.is_empty() && e.header().entry_type().is_dir() => {
                Attrs::of(&Kind::Dir, &root_meta(e.header()), 0)
            }
            Op::Skip => return Ok(()),
        };
        out.push(attrs.row(format!("/{}", crate::text::lossless(&le.path)), img, index));
        Ok(())
    })?;
    Ok(out)
}

/// The attributes a layer's root entry gives the root.
fn root_meta(h: &tar::Header) -> Meta {
    Meta {
        mode: h.mode().unwrap_or(0) & 0o7777,
        uid: h.uid().unwrap_or(0),
        gid: h.gid().unwrap_or(0),
        mtime: h.mtime().unwrap_or(0),
        ..Default::default()
    }
}

/// Text listing: paths, or in a long listing the attributes, layer and history entry too.
pub fn text(entries: &[LsEntry], listing: Listing) -> String {
    use std::fmt::Write;
    let z = crate::text::sanitize;
    let mut o = String::new();
    for e in entries {
        let name = match &e.link {
            Some(l) if e.kind == "symlink" => format!("{} -> {}", z(&e.path), z(l)),
            Some(l) if e.kind == "hardlink" => format!("{} link to {}", z(&e.path), z(l)),
            _ => z(&e.path),
        };
        if listing == Listing::Paths {
            let tag = match e.kind.as_str() {
                "whiteout" => "whiteout ",
                "opaque" => "opaque ",
                _ => "",
            };
            let _ = writeln!(o, "{tag}{name}");
            continue;
        }
        let when = crate::mutate::config::rfc3339(e.mtime as i64);
        let by = e
            .created_by
            .as_deref()
            .map(|c| format!("  ({})", z(c)))
            .unwrap_or_default();
        let mode = if e.mode.is_empty() {
            e.kind.clone()
        } else {
            e.mode.clone()
        };
        let _ = writeln!(
            o,
            "{:<10} {:>5}/{:<5} {:>10} {} L{} {}{}",
            mode, e.uid, e.gid, e.size, when, e.layer, name, by
        );
    }
    o
}
