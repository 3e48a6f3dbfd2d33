//! `ls`: the merged filesystem (or one layer's entries), with the layer and history entry
//! each entry comes from.

use crate::error::{Error, Result};
use crate::layer::entry::{self, Kind, Op};
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

fn kind_name(k: &Kind) -> &'static str {
    match k {
        Kind::File => "file",
        Kind::Dir => "dir",
        Kind::Symlink(_) => "symlink",
        Kind::Char => "char",
        Kind::Block => "block",
        Kind::Fifo => "fifo",
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
    if !p.is_empty() && view.get(&p).is_none() {
        return Err(Error::Invalid(format!(
            "{}: /{} does not exist",
            img.name,
            crate::text::sanitize_bytes(&p)
        )));
    }
    Ok(view
        .subtree(&p)
        .map(|(k, n)| LsEntry {
            path: format!("/{}", crate::text::lossless(k)),
            kind: kind_name(&n.kind).into(),
            mode: super::mode_string(&n.kind, n.meta.mode),
            uid: n.meta.uid,
            gid: n.meta.gid,
            size: if n.kind == Kind::File { n.size } else { 0 },
            mtime: n.meta.mtime,
            link: match &n.kind {
                Kind::Symlink(t) => Some(crate::text::lossless(t)),
                _ => None,
            },
            layer: n.layer,
            history_index: img.layers.get(n.layer).and_then(|l| l.history),
            created_by: img.history_of(n.layer).and_then(|h| h.created_by.clone()),
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
        let path = format!("/{}", crate::text::lossless(&le.path));
        let (kind, mode, uid, gid, size, mtime, link) = match &le.op {
            Op::Put {
                kind, meta, size, ..
            } => (
                kind_name(kind).to_string(),
                super::mode_string(kind, meta.mode),
                meta.uid,
                meta.gid,
                *size,
                meta.mtime,
                match kind {
                    Kind::Symlink(t) => Some(crate::text::lossless(t)),
                    _ => None,
                },
            ),
            Op::Link { target, meta } => (
                "hardlink".into(),
                super::mode_string(&Kind::File, meta.mode),
                meta.uid,
                meta.gid,
                0,
                meta.mtime,
                Some(format!("/{}", crate::text::lossless(target))),
            ),
            Op::Whiteout => ("whiteout".into(), String::new(), 0, 0, 0, 0, None),
            Op::Opaque => ("opaque".into(), String::new(), 0, 0, 0, 0, None),
            // The layer's root entry (`.`, `./`) sets the root's attributes: list it as `/`.
            Op::Skip if le.path.is_empty() && e.header().entry_type().is_dir() => {
                let h = e.header();
                (
                    "dir".into(),
                    super::mode_string(&Kind::Dir, h.mode().unwrap_or(0) & 0o7777),
                    h.uid().unwrap_or(0),
                    h.gid().unwrap_or(0),
                    0,
                    h.mtime().unwrap_or(0),
                    None,
                )
            }
            Op::Skip => return Ok(()),
        };
        out.push(LsEntry {
            path,
            kind,
            mode,
            uid,
            gid,
            size,
            mtime,
            link,
            layer: index,
            history_index: l.history,
            created_by: img.history_of(index).and_then(|h| h.created_by.clone()),
        });
        Ok(())
    })?;
    Ok(out)
}

/// Text listing: paths, or with `long` the attributes, layer and history entry too.
pub fn text(entries: &[LsEntry], long: bool) -> String {
    use std::fmt::Write;
    let z = crate::text::sanitize;
    let mut o = String::new();
    for e in entries {
        let name = match &e.link {
            Some(l) if e.kind == "symlink" => format!("{} -> {}", z(&e.path), z(l)),
            Some(l) if e.kind == "hardlink" => format!("{} link to {}", z(&e.path), z(l)),
            _ => z(&e.path),
        };
        if !long {
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
