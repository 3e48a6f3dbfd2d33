//! `add`: local files and directories appended to an image as one new layer (the `docker cp`
//! and `docker commit` route). A directory's contents go into DEST, as `COPY` does. Ownership is
//! root unless `--chown`; `--chmod` sets every mode; `SOURCE_DATE_EPOCH` clamps mtimes.
//! Symlinks are copied as links; sockets and device files are skipped with a warning.

use crate::codec::compress::Codec;
use crate::error::{Error, IoContext, Result};
use crate::layer::entry::{Kind, Meta};
use crate::layer::tarw::{OutKind, TarWriter};
use crate::model::image::{Image, Layer};
use crate::mutate::LayerDest;
use crate::view::load::merged_view;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct AddOptions {
    pub chown: Option<(u64, u64)>,
    pub chmod: Option<u32>,
    /// Clamp mtimes to this (SOURCE_DATE_EPOCH).
    pub clamp: Option<u64>,
}

enum Src {
    Host {
        path: PathBuf,
        kind: Kind,
        meta: Meta,
        size: u64,
    },
    /// A parent directory the layer must carry.
    Parent(Meta),
}

/// Parses `SRC:DEST`: DEST is after the last `:` (an absolute path in the image).
pub fn parse_spec(s: &str) -> Result<(PathBuf, String)> {
    match s.rsplit_once(':') {
        Some((src, dest)) if !src.is_empty() && dest.starts_with('/') => {
            Ok((PathBuf::from(src), dest.to_string()))
        }
        _ => Err(Error::Usage(format!(
            "{s:?}: expected SRC:DEST with an absolute DEST, e.g. ./bin:/opt/app/bin"
        ))),
    }
}

fn host_meta(m: &std::fs::Metadata, o: &AddOptions) -> Meta {
    let mtime = m.mtime().max(0) as u64;
    Meta {
        mode: o.chmod.unwrap_or(m.permissions().mode() & 0o7777),
        uid: o.chown.map(|c| c.0).unwrap_or(0),
        gid: o.chown.map(|c| c.1).unwrap_or(0),
        mtime: o.clamp.map(|c| c.min(mtime)).unwrap_or(mtime),
        ..Default::default()
    }
}

fn collect(
    src: &Path,
    dest: &[u8],
    o: &AddOptions,
    out: &mut BTreeMap<Vec<u8>, Src>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let m = std::fs::symlink_metadata(src).at(src)?;
    let ft = m.file_type();
    let meta = host_meta(&m, o);
    if ft.is_dir() {
        out.insert(
            dest.to_vec(),
            Src::Host {
                path: src.to_path_buf(),
                kind: Kind::Dir,
                meta,
                size: 0,
            },
        );
        let mut names: Vec<_> = std::fs::read_dir(src)
            .at(src)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()
            .at(src)?;
        names.sort();
        for n in names {
            let mut d = dest.to_vec();
            d.push(b'/');
            d.extend_from_slice(n.as_encoded_bytes());
            collect(&src.join(&n), &d, o, out, warnings)?;
        }
    } else if ft.is_symlink() {
        let t = std::fs::read_link(src).at(src)?;
        out.insert(
            dest.to_vec(),
            Src::Host {
                path: src.to_path_buf(),
                kind: Kind::symlink(t.as_os_str().as_encoded_bytes()),
                meta,
                size: 0,
            },
        );
    } else if ft.is_file() {
        out.insert(
            dest.to_vec(),
            Src::Host {
                path: src.to_path_buf(),
                kind: Kind::File,
                meta,
                size: m.len(),
            },
        );
    } else {
        warnings.push(format!(
            "{}: not a file, directory or symlink; skipped",
            src.display()
        ));
    }
    Ok(())
}

/// Builds the layer. Returns it and warnings.
pub fn add_layer(
    img: &Image,
    specs: &[(PathBuf, String)],
    o: &AddOptions,
    codec: Codec,
    dir: Option<&Path>,
    max: u64,
) -> Result<(Layer, Vec<String>)> {
    let view = merged_view(img, max, &[], None)?;
    let mut warnings = Vec::new();
    let mut out: BTreeMap<Vec<u8>, Src> = BTreeMap::new();
    for (src, dest) in specs {
        let clean = crate::model::path::clean_selection(dest)?;
        // Land under the image's real directories (merged /usr symlinks followed).
        let dest = view
            .resolve_parent(&clean)
            .map_err(|e| Error::context(dest, e))?;
        if let Some(n) = view.get(&dest) {
            let is_dir_src = std::fs::symlink_metadata(src).at(src)?.is_dir();
            if is_dir_src && n.kind != Kind::Dir {
                return Err(Error::Invalid(format!(
                    "{}: the image has a {} there; a directory cannot replace it",
                    crate::text::sanitize_bytes(&dest),
                    n.kind.name()
                )));
            }
        }
        // Parents: the image's attributes where it has them, else root 0755.
        for a in crate::model::path::ancestors(&dest) {
            let meta = view
                .get(&a)
                .filter(|n| n.kind == Kind::Dir)
                .map(|n| n.meta.clone())
                .unwrap_or_else(|| super::default_dir_meta(o.clamp.unwrap_or(0)));
            out.entry(a).or_insert(Src::Parent(meta));
        }
        collect(src, &dest, o, &mut out, &mut warnings)?;
    }
    let layer = crate::mutate::new_layer(LayerDest::temp_file_or_discard(dir), codec, |tw| {
        for (p, s) in &out {
            match s {
                Src::Parent(meta) => tw.append_header(p, &OutKind::Dir, meta).map_err(writing)?,
                Src::Host {
                    path,
                    kind,
                    meta,
                    size,
                } => {
                    write_host(tw, p, path, kind, meta, *size)?;
                }
            }
        }
        Ok(())
    })?;
    Ok((layer, warnings))
}

fn write_host<W: std::io::Write>(
    tw: &mut TarWriter<W>,
    p: &[u8],
    path: &Path,
    kind: &Kind,
    meta: &Meta,
    size: u64,
) -> Result<()> {
    tw.append_header(p, &OutKind::from_kind(kind, size), meta)
        .map_err(writing)?;
    if *kind == Kind::File && size > 0 {
        let f = std::fs::File::open(path).at(path)?;
        let n = std::io::copy(&mut std::io::Read::take(f, size), tw.data()).map_err(writing)?;
        if n != size {
            return Err(Error::Invalid(format!(
                "{}: changed while being read ({n} of {size} bytes)",
                path.display()
            )));
        }
        tw.pad(size).map_err(writing)?;
    }
    Ok(())
}

fn writing(e: std::io::Error) -> Error {
    Error::io_while("writing the new layer", e)
}
