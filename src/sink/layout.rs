//! OCI layout directories. A new layout is built in a temporary directory beside the target
//! and renamed into place. Into an existing layout, under a lock (an flock on the layout directory), blobs go in first (each
//! written to a temporary file and renamed), and `index.json` is replaced last by rename, so
//! the images already there are never lost. Temporary names carry the writer's pid so that a
//! later run can remove what a killed one left.

use super::archive::OCI_LAYOUT;
use super::{OutBlob, OutImage, WriteOptions, blob_order, copy_blob, index_annotations};
use crate::error::{Error, IoContext, Result};
use crate::model::image::{BlobData, Layer};
use crate::model::spec::annotation::REF_NAME;
use crate::model::spec::{self, Index};
use crate::store::container::Container;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const TEMP_PREFIX: &str = ".regraft-tmp-";

fn temp_prefix() -> String {
    format!("{TEMP_PREFIX}{}-", std::process::id())
}

pub fn temp_file_in(dir: &Path) -> Result<tempfile::NamedTempFile> {
    clean_stale_temps(dir);
    tempfile::Builder::new()
        .prefix(&temp_prefix())
        .tempfile_in(dir)
        .at(dir)
}

/// Removes temporaries left in `dir` by regraft processes that no longer run.
pub fn clean_stale_temps(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let p = e.path();
        let _ = if p.is_dir() {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
    }
}

/// Best effort: makes a rename in `dir` durable.
pub fn sync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

fn write_file_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = temp_file_in(dir)?;
    tmp.as_file().write_all(bytes).at(tmp.path())?;
    tmp.as_file().sync_all().at(tmp.path())?;
    let dest = dir.join(name);
    tmp.persist(&dest).map_err(|e| Error::io(&dest, e.error))?;
    Ok(())
}

fn write_blobs(root: &Path, img: &OutImage, opts: WriteOptions) -> Result<()> {
    let dir = root.join("blobs/sha256");
    fs::create_dir_all(&dir).at(&dir)?;
    for b in blob_order(img) {
        let dest = dir.join(b.digest().hex());
        if let Ok(m) = fs::symlink_metadata(&dest)
            && m.is_file()
            && m.len() == b.size()
        {
            continue; // content-addressed: already there
        }
        if link_blob(b, &dir, &dest, opts)? {
            continue;
        }
        let tmp = temp_file_in(&dir)?;
        {
            let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
            copy_blob(b, &mut w, opts)?;
            w.flush().at(tmp.path())?;
        }
        tmp.as_file().sync_all().at(tmp.path())?;
        tmp.persist(&dest).map_err(|e| Error::io(&dest, e.error))?;
    }
    sync_dir(&dir);
    Ok(())
}

/// Publishes an unchanged layer blob that is already a file on disk (a blob of an input layout,
/// or the new layer's temporary file) by hard link when the output is on the same filesystem,
/// so its bytes are never written again. The linked inode is then read once to verify its
/// size, digest and diff_id (a raw hash only when this run already inflated that blob); a
/// blob that fails is unlinked and the error returned. `false`: not linkable, copy instead.
fn link_blob(b: &OutBlob, dir: &Path, dest: &Path, opts: WriteOptions) -> Result<bool> {
    let OutBlob::Layer {
        image,
        index,
        layer,
    } = b
    else {
        return Ok(false);
    };
    let src = match &layer.data {
        BlobData::Member { container, name } if container.is_dir() => {
            match container.locate(name)? {
                Some((p, _, 0)) => p,
                _ => return Ok(false),
            }
        }
        BlobData::File(p) => p.to_path_buf(),
        _ => return Ok(false),
    };
    let name = format!("{}link-{}", temp_prefix(), b.digest().hex());
    let tmp = dir.join(&name);
    let _ = fs::remove_file(&tmp);
    if fs::hard_link(&src, &tmp).is_err() {
        return Ok(false); // another filesystem, or links not allowed: copy
    }
    let linked = Layer {
        data: BlobData::Member {
            container: Arc::new(Container::open_dir(dir)?),
            name,
        },
        ..layer.clone()
    };
    let verified = crate::layer::copy_layer(
        image,
        *index,
        &linked,
        &mut std::io::sink(),
        opts.max_layer_size,
    );
    if let Err(e) = verified {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // Durable like a copied blob (nearly free for an input blob that is already on disk).
    File::open(&tmp).and_then(|f| f.sync_all()).at(&tmp)?;
    fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))?;
    Ok(true)
}

fn is_layout(p: &Path) -> bool {
    p.join("oci-layout").is_file() && p.join("index.json").is_file()
}

pub fn write_layout(
    path: &Path,
    img: &OutImage,
    name: Option<&str>,
    opts: WriteOptions,
) -> Result<()> {
    let mut top = img.top.clone();
    top.annotations.extend(index_annotations(name, false));
    if path.exists() && !(path.is_dir() && fs::read_dir(path).at(path)?.next().is_none()) {
        if !is_layout(path) {
            return Err(Error::Usage(format!(
                "output {}: exists and is not an OCI layout (no oci-layout and index.json)",
                path.display()
            )));
        }
        return add_to_layout(path, top, name, img, opts);
    }
    // A new layout, built beside the target.
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).at(&parent)?;
    clean_stale_temps(&parent);
    let tmp = tempfile::Builder::new()
        .prefix(&temp_prefix())
        .tempdir_in(&parent)
        .at(&parent)?;
    write_blobs(tmp.path(), img, opts)?;
    let mut index = Index::empty();
    index.manifests.push(top);
    write_file_atomic(tmp.path(), "oci-layout", OCI_LAYOUT)?;
    write_file_atomic(tmp.path(), "index.json", &spec::to_json(&index))?;
    let built = tmp.keep();
    if let Err(e) = fs::rename(&built, path) {
        let _ = fs::remove_dir_all(&built);
        return Err(Error::io(path, e));
    }
    sync_dir(&parent);
    Ok(())
}

fn add_to_layout(
    path: &Path,
    top: crate::model::spec::Descriptor,
    name: Option<&str>,
    img: &OutImage,
    opts: WriteOptions,
) -> Result<()> {
    // The lock is the layout directory itself (flock on its descriptor): nothing is added
    // to the layout for it, and it goes with the process however that ends.
    let lock = File::open(path).at(path)?;
    lock.lock().at(path)?;
    clean_stale_temps(path);
    // After a failure the layout is as it was: the blobs this run added go again. No index
    // refers to them yet, and the lock keeps other writers out, so every new name is ours.
    let blob_dir = path.join("blobs/sha256");
    let before = blob_names(&blob_dir);
    let result = (|| {
        write_blobs(path, img, opts)?;
        let ipath = path.join("index.json");
        let bytes = fs::read(&ipath).at(&ipath)?;
        let mut index: Index = spec::parse_json(&bytes, &ipath.display().to_string())?;
        if let Some(n) = name {
            // A ref that exists moves to the new image.
            index
                .manifests
                .retain(|d| d.annotations.get(REF_NAME).map(String::as_str) != Some(n));
        }
        if !index
            .manifests
            .iter()
            .any(|d| d.digest == top.digest && d.annotations == top.annotations)
        {
            index.manifests.push(top);
        }
        write_file_atomic(path, "index.json", &spec::to_json(&index))?;
        sync_dir(path);
        Ok(())
    })();
    if result.is_err() {
        for n in blob_names(&blob_dir).difference(&before) {
            let _ = fs::remove_file(blob_dir.join(n));
        }
    }
    drop(lock);
    result
}

fn blob_names(dir: &Path) -> std::collections::BTreeSet<std::ffi::OsString> {
    fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}
