//! OCI layout directories. A new layout is built in a temporary directory beside the target
//! and renamed into place by the commit. Into an existing layout, under a lock (an flock on
//! the layout directory, held from open to commit), blobs go in as they are put (each written
//! to a temporary file and renamed), and `index.json` is replaced last by rename, so the
//! images already there are never lost; a sink dropped uncommitted removes the blobs it added.

use super::{
    BlobWriter, Naming, OutBlob, OutImage, Sink, WriteOptions, blob_order, copy_blob,
    index_annotations,
};
use crate::error::{Error, IoContext, Result};
use crate::model::digest::Digest;
use crate::model::image::{BlobData, Layer};
use crate::model::reference::ImageRef;
use crate::model::spec::annotation::REF_NAME;
use crate::model::spec::{self, Index};
use crate::store::container::Container;
use crate::store::stamp::FileStamp;
use crate::store::temp::{self, sync_dir, temp_prefix, write_file_atomic};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the blobs go until the commit.
enum Target {
    /// A new layout, built in a temporary directory beside the target.
    New {
        /// Taken by the commit, which renames it into place.
        staging: Option<tempfile::TempDir>,
        parent: PathBuf,
    },
    /// An existing layout, locked; the blob names it had, so that an uncommitted sink removes
    /// exactly the ones it added (the lock keeps other writers out, so every new name is ours).
    Existing {
        /// Held until the sink is dropped, committed or not.
        _lock: File,
        before: BTreeSet<OsString>,
    },
}

pub struct LayoutSink {
    out: ImageRef,
    opts: WriteOptions,
    target: Target,
    committed: bool,
    /// Layers offered to a tee (`offer_tees`) and not settled yet, each with the temporary
    /// blob file its tee writes.
    teed: Vec<(OutBlob, tempfile::NamedTempFile)>,
}

fn is_layout(p: &Path) -> bool {
    p.join("oci-layout").is_file() && p.join("index.json").is_file()
}

fn blob_names(dir: &Path) -> BTreeSet<OsString> {
    fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

impl LayoutSink {
    pub fn open(out: ImageRef, opts: WriteOptions) -> Result<LayoutSink> {
        let path = &out.path;
        let target =
            if path.exists() && !(path.is_dir() && fs::read_dir(path).at(path)?.next().is_none()) {
                if !is_layout(path) {
                    return Err(Error::Usage(format!(
                        "output {}: exists and is not an OCI layout (no oci-layout and index.json)",
                        path.display()
                    )));
                }
                // The lock is the layout directory itself (flock on its descriptor): nothing is
                // added to the layout for it, and it goes with the process however that ends.
                let lock = File::open(path).at(path)?;
                lock.lock().at(path)?;
                temp::clean_stale_temps(path);
                let before = blob_names(&path.join("blobs/sha256"));
                Target::Existing {
                    _lock: lock,
                    before,
                }
            } else {
                temp::check_output_parent(path)?;
                let parent = temp::parent_dir(path);
                fs::create_dir_all(&parent).at(&parent)?;
                let staging = temp::output_dir_in(&parent)?;
                Target::New {
                    staging: Some(staging),
                    parent,
                }
            };
        let sink = LayoutSink {
            out,
            opts,
            target,
            committed: false,
            teed: Vec::new(),
        };
        let dir = sink.blob_dir();
        fs::create_dir_all(&dir).at(&dir)?;
        Ok(sink)
    }

    /// The layout being written: the staging directory, or the existing layout.
    fn root(&self) -> &Path {
        match &self.target {
            Target::New { staging, .. } => staging.as_ref().map_or(&self.out.path, |s| s.path()),
            Target::Existing { .. } => &self.out.path,
        }
    }

    fn blob_dir(&self) -> PathBuf {
        self.root().join("blobs/sha256")
    }

    /// Replaces index.json: a new layout's holds the image alone; an existing one's keeps
    /// every image it had (a ref that exists moves to the new image).
    fn write_index(&self, top: spec::Descriptor, name: Option<&str>) -> Result<()> {
        let root = self.root();
        let mut index = match &self.target {
            Target::New { .. } => {
                write_file_atomic(root, "oci-layout", spec::OCI_LAYOUT)?;
                Index::empty()
            }
            Target::Existing { .. } => {
                let ipath = root.join("index.json");
                let bytes = fs::read(&ipath).at(&ipath)?;
                spec::parse_json(&bytes, &ipath.display().to_string())?
            }
        };
        if let Some(n) = name {
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
        write_file_atomic(root, "index.json", &spec::to_json(&index))
    }
}

impl LayoutSink {
    /// Settles teed layer `i`: the temporary file its tee filled and verified is synced and
    /// renamed into place; one the read did not fill goes, and the blob is put as any other.
    fn settle(&mut self, i: usize) -> Result<()> {
        use crate::model::image::Tee;
        let (b, tmp) = self.teed.remove(i);
        let OutBlob::Layer { layer, .. } = &b else {
            return Err(Error::Invalid(
                "internal: only layers are offered to a tee".into(),
            ));
        };
        match layer.checked.settle_tee() {
            Tee::Filled => {
                tmp.as_file().sync_all().at(tmp.path())?;
                let dest = self.blob_dir().join(b.digest().hex());
                tmp.persist(&dest).map_err(|e| Error::io(&dest, e.error))?;
                crate::progress::verbose(|| {
                    format!(
                        "blob {}: written to the layout as it was read and verified",
                        b.digest()
                    )
                });
                Ok(())
            }
            Tee::Reading => Err(Error::Invalid(format!(
                "internal: blob {} is put while it is still read",
                b.digest()
            ))),
            Tee::None | Tee::Waiting(_) => {
                drop(tmp);
                self.put(&b)
            }
        }
    }
}

impl Sink for LayoutSink {
    /// Layers whose blob is not a whole file on disk (a member of an archive, a registry's
    /// blob) and that the layout lacks get a temporary blob file that the caller's read fills
    /// (a whole file is hard-linked instead, after the read that verified it).
    fn offer_tees(&mut self, layers: &[OutBlob]) -> Result<()> {
        let dir = self.blob_dir();
        for b in layers {
            let OutBlob::Layer { layer, .. } = b else {
                continue;
            };
            let dest = dir.join(b.digest().hex());
            if dest.exists()
                || crate::layer::blob_file(&layer.data)?.is_some()
                || self.teed.iter().any(|(t, _)| t.digest() == b.digest())
            {
                continue;
            }
            let tmp = temp::output_file_in(&dir)?;
            let f = tmp.as_file().try_clone().at(tmp.path())?;
            layer.checked.attach_tee(Box::new(f));
            self.teed.push((b.clone(), tmp));
        }
        Ok(())
    }

    fn put(&mut self, b: &OutBlob) -> Result<()> {
        if let Some(i) = self.teed.iter().position(|(t, _)| t.digest() == b.digest()) {
            return self.settle(i);
        }
        let dir = self.blob_dir();
        let dest = dir.join(b.digest().hex());
        if let Ok(m) = fs::symlink_metadata(&dest)
            && m.is_file()
            && m.len() == b.size()
        {
            return Ok(()); // content-addressed: already there
        }
        if link_blob(b, &dir, &dest, self.opts)? {
            return Ok(());
        }
        let tmp = temp::output_file_in(&dir)?;
        {
            let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
            copy_blob(b, &mut w, self.opts)?;
            w.flush().at(tmp.path())?;
        }
        tmp.as_file().sync_all().at(tmp.path())?;
        tmp.persist(&dest).map_err(|e| Error::io(&dest, e.error))?;
        Ok(())
    }

    fn put_new(&mut self, write: &mut BlobWriter<'_>) -> Result<BlobData> {
        let dir = self.blob_dir();
        let tmp = temp::output_file_in(&dir)?;
        let (digest, _size) = {
            let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
            let r = write(&mut w)?;
            w.flush().at(tmp.path())?;
            r
        };
        tmp.as_file().sync_all().at(tmp.path())?;
        let dest = dir.join(digest.hex());
        tmp.persist(&dest).map_err(|e| Error::io(&dest, e.error))?;
        Ok(BlobData::Member {
            store: Arc::new(Container::open_dir(self.root())?),
            name: digest.blob_path(),
        })
    }

    /// Puts what is not in yet (the config, the manifest, layers the caller did not put; a
    /// blob already there is only looked at), then replaces index.json and, for a new layout,
    /// renames it into place.
    fn commit(mut self: Box<Self>, img: &OutImage) -> Result<Digest> {
        for b in blob_order(img) {
            self.put(b)?;
        }
        let name = img.out_name(&self.out);
        let mut top = img.top.clone();
        top.annotations
            .extend(index_annotations(name.as_deref(), Naming::Oci));
        sync_dir(&self.blob_dir());
        self.write_index(top, name.as_deref())?;
        let root = self.root().to_path_buf();
        sync_dir(&root);
        if let Target::New { staging, parent } = &mut self.target
            && let Some(staging) = staging.take()
        {
            let built = staging.keep();
            if let Err(e) = fs::rename(&built, &self.out.path) {
                let _ = fs::remove_dir_all(&built);
                return Err(Error::io(&self.out.path, e));
            }
            sync_dir(parent);
        }
        self.committed = true;
        Ok(img.top.digest.clone())
    }
}

impl Drop for LayoutSink {
    /// Uncommitted: a new layout's staging directory goes by itself; an existing layout loses
    /// the blobs this sink added (no index refers to them), then the lock is released.
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Target::Existing { before, .. } = &self.target {
            let dir = self.blob_dir();
            for n in blob_names(&dir).difference(before) {
                let _ = fs::remove_file(dir.join(n));
            }
        }
    }
}

/// Publishes an unchanged layer blob that is already a file on disk (a blob of an input layout,
/// or the new layer's temporary file) by hard link when the output is on the same filesystem,
/// so its bytes are never written again. When this run already read that very file whole and
/// verified it (its digest and diff_id, or hashed it as it wrote it) and the file's stamp is
/// unchanged since (`Checked::file`), the link is the blob: no byte is read again. Otherwise
/// the linked inode is read once to verify its size, digest and diff_id (a raw hash only when
/// this run already inflated that blob); a blob that fails is unlinked and the error returned.
/// `false`: not linkable, copy instead.
fn link_blob(b: &OutBlob, dir: &Path, dest: &Path, opts: WriteOptions) -> Result<bool> {
    let OutBlob::Layer {
        image,
        index,
        layer,
    } = b
    else {
        return Ok(false);
    };
    let Some(src) = crate::layer::blob_file(&layer.data)? else {
        return Ok(false);
    };
    // Compared before the link, which changes the file's ctime.
    let known = layer.checked.is_done()
        && layer
            .checked
            .file()
            .is_some_and(|s| FileStamp::of_path(&src).ok() == Some(s));
    let name = format!("{}link-{}", temp_prefix(), b.digest().hex());
    let tmp = dir.join(&name);
    let _ = fs::remove_file(&tmp);
    if fs::hard_link(&src, &tmp).is_err() {
        return Ok(false); // another filesystem, or links not allowed: copy
    }
    let still = |s: FileStamp| FileStamp::of_path(&tmp).is_ok_and(|t| t.same_content(&s));
    if known && layer.checked.file().is_some_and(still) {
        crate::progress::verbose(|| {
            format!(
                "{}: linked, verified when it was read",
                crate::layer::describe(image, *index, layer)
            )
        });
    } else {
        let linked = Layer {
            data: BlobData::Member {
                store: Arc::new(Container::open_dir(dir)?),
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
    }
    // Durable like a copied blob (nearly free for an input blob that is already on disk).
    File::open(&tmp).and_then(|f| f.sync_all()).at(&tmp)?;
    fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))?;
    Ok(true)
}
