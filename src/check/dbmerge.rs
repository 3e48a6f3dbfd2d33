//! The package database merge (layer mode): when the application layers carry a dpkg
//! database, that database is the vendor's OLD OS's, and it hides the new base's. One small
//! extra layer on top puts back a merged one:
//! - `var/lib/dpkg/status`: the new base's stanzas, plus the stanzas of the packages the vendor
//!   added on top of its old base (a stanza of the same package and architecture in the base is
//!   replaced: the vendor's files are the ones on top). A package the vendor changed that the
//!   new base lacks entirely also keeps the vendor's stanza (its files are there);
//! - `var/lib/dpkg/info/*`: the new base's files where the application layers replaced or
//!   deleted them for a package whose record is the base's; whiteouts for the vendor's info
//!   files of packages whose record is not kept. The vendor's info files of the packages it
//!   added stay as the application layers wrote them.
//!
//! apk and distroless `status.d` databases are not merged (an apk database is one file whose
//! format keeps the file lists inline; `status.d` has no shared file to shadow).

use crate::codec::compress::{Codec, Compression};
use crate::error::{Error, Result};
use crate::layer::entry::{Kind, Meta};
use crate::layer::tarw::{OutKind, TarWriter};
use crate::model::digest::Digest;
use crate::model::limits::{MAX_PACKAGE_DB, MAX_SYSTEM_FILE};
use crate::model::out::OutImage;
use crate::mutate::{
    Addenda, Base, Created, HistoryKind, LayerDest, LayerFrom, append, history_entry, new_layer,
    whiteout_path,
};
use crate::view::fs::Fs;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

#[derive(Clone, Debug, Serialize)]
pub struct MergeSummary {
    /// `dpkg` or `rpm`.
    pub database: &'static str,
    pub base_packages: usize,
    /// `name version` of the vendor's packages kept in the merged database.
    pub vendor_packages: Vec<String>,
    pub restored_info_files: usize,
    pub removed_info_files: usize,
    /// Set once the layer is added to an image.
    pub layer_digest: Option<String>,
}

impl MergeSummary {
    pub fn text(&self) -> String {
        let info = if self.database == "dpkg" {
            format!(
                "; {} info file(s) of base packages restored, {} removed",
                self.restored_info_files, self.removed_info_files
            )
        } else {
            String::new()
        };
        format!(
            "package database: the application layers carry the old OS's {} database; an extra layer merges it: the new base's {} package(s) plus the vendor's {} ({}){info}{}",
            self.database,
            self.base_packages,
            self.vendor_packages.len(),
            if self.vendor_packages.is_empty() {
                "none".to_string()
            } else {
                self.vendor_packages.join(", ")
            },
            self.layer_digest
                .as_deref()
                .map(|d| format!(" (layer {d})"))
                .unwrap_or_default()
        )
    }
}

/// The dpkg database, relative to the root.
const STATUS: &[u8] = b"var/lib/dpkg/status";
const INFO: &[u8] = b"var/lib/dpkg/info";

/// A planned merge layer: what it holds and what it does.
pub struct MergeLayer {
    /// The parent directories, with the base's attributes.
    dirs: Vec<(&'static [u8], Meta)>,
    body: Body,
    pub summary: MergeSummary,
}

/// What a merge layer holds besides its parent directories.
enum Body {
    Dpkg {
        /// The merged status file and its attributes.
        status: Vec<u8>,
        status_meta: Meta,
        /// `info/` path -> the base's entry to restore, or None for a whiteout.
        info: BTreeMap<Vec<u8>, Option<InfoFile>>,
    },
    Rpm {
        /// The merged `rpmdb.sqlite` at `path`, with the base's attributes.
        path: &'static [u8],
        db: Vec<u8>,
        meta: Meta,
        /// The `-wal` and `-shm` beside it that the layers below hold: whited out, so that no
        /// stale journal is replayed onto the merged file.
        whiteouts: Vec<Vec<u8>>,
    },
}

/// A base `info/` entry to put back.
struct InfoFile {
    meta: Meta,
    data: Vec<u8>,
    kind: Kind,
}

/// One stanza of a dpkg status file.
struct Stanza {
    package: String,
    architecture: String,
    /// Neither `not-installed` nor `config-files`.
    installed: bool,
    text: String,
}

impl Stanza {
    fn key(&self) -> (&str, &str) {
        (&self.package, &self.architecture)
    }
}

/// A dpkg status file's stanzas.
fn stanzas(text: &str) -> Vec<Stanza> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let para = para.trim_matches('\n');
        if para.is_empty() {
            continue;
        }
        let field = |k: &str| {
            para.lines()
                .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
                .unwrap_or_default()
        };
        let status = field("Status:");
        let state = status.split_whitespace().nth(2).unwrap_or("installed");
        out.push(Stanza {
            package: field("Package:"),
            architecture: field("Architecture:"),
            installed: state != "not-installed" && state != "config-files",
            text: para.to_string(),
        });
    }
    out
}

fn status_of(fs: &Fs, view: &crate::view::MergedView) -> Result<Option<(Vec<u8>, Meta)>> {
    match view.get(STATUS) {
        Some(n) if n.kind == Kind::File => Ok(fs
            .data_within(n, STATUS, MAX_PACKAGE_DB)?
            .map(|d| (d, n.meta.clone()))),
        _ => Ok(None),
    }
}

/// The status files a merge starts from.
struct Databases {
    base: Vec<Stanza>,
    vendor: Vec<Stanza>,
    /// (package, architecture) installed in the vendor's old base, when known.
    old: Option<BTreeSet<(String, String)>>,
    /// The merged file's attributes: the base's, dated as the later of the two files.
    meta: Meta,
}

impl Databases {
    /// None when the application layers carry no dpkg database over a base that has one.
    fn read(fs: &Fs, old_base: Option<&Fs>) -> Result<Option<Databases>> {
        let Some(rn) = fs.result.get(STATUS) else {
            return Ok(None);
        };
        if rn.layer() < fs.boundary {
            return Ok(None);
        }
        let (Some((base_bytes, mut meta)), Some((vendor_bytes, _))) =
            (status_of(fs, &fs.base)?, status_of(fs, &fs.result)?)
        else {
            return Ok(None);
        };
        meta.mtime = meta.mtime.max(rn.meta.mtime);
        meta.set_pax_mtime(None);
        let old = match old_base {
            Some(o) => status_of(o, &o.result)?.map(|(d, _)| {
                stanzas(&String::from_utf8_lossy(&d))
                    .into_iter()
                    .filter(|s| s.installed)
                    .map(|s| (s.package, s.architecture))
                    .collect()
            }),
            None => None,
        };
        Ok(Some(Databases {
            base: stanzas(&String::from_utf8_lossy(&base_bytes)),
            vendor: stanzas(&String::from_utf8_lossy(&vendor_bytes)),
            old,
            meta,
        }))
    }

    /// The vendor's stanzas the merged file keeps: the installed packages it added (not in
    /// its old base; without one, not in the new base), and those it changed that the new
    /// base lacks entirely (their `info/*.list` the application layers wrote).
    fn vendor_kept(&self, fs: &Fs) -> Vec<&Stanza> {
        let base_names: BTreeSet<&str> = self.base.iter().map(|s| s.package.as_str()).collect();
        let touched: BTreeSet<String> = fs
            .result
            .subtree(INFO)
            .filter(|(k, n)| n.layer() >= fs.boundary && k.ends_with(b".list"))
            .filter_map(|(k, _)| super::pkgs::info_package(k))
            .collect();
        self.vendor
            .iter()
            .filter(|s| s.installed)
            .filter(|s| {
                let in_base = base_names.contains(s.package.as_str());
                let added = match &self.old {
                    Some(o) => !o.contains(&(s.package.clone(), s.architecture.clone())),
                    None => !in_base,
                };
                added || (!in_base && touched.contains(&s.package))
            })
            .collect()
    }
}

/// The merged status file: the base's stanzas but those the vendor's kept ones replace, then
/// the vendor's kept ones. Also the number of installed base packages it lists.
fn merged_status(base: &[Stanza], kept: &[&Stanza]) -> (String, usize) {
    let replaced: BTreeSet<(&str, &str)> = kept.iter().map(|s| s.key()).collect();
    let mut merged = String::new();
    let mut base_count = 0;
    for s in base.iter().filter(|s| !replaced.contains(&s.key())) {
        base_count += usize::from(s.installed);
        merged.push_str(&s.text);
        merged.push_str("\n\n");
    }
    for s in kept {
        merged.push_str(&s.text);
        merged.push_str("\n\n");
    }
    (merged, base_count)
}

/// The `info/` entries of the merge layer, and how many restore and remove.
struct InfoPlan {
    files: BTreeMap<Vec<u8>, Option<InfoFile>>,
    restored: usize,
    removed: usize,
}

/// `info/` files: the base's, except for the packages whose vendor record is kept (`kept`):
/// a base file the application layers replaced or deleted is restored, a file only they
/// wrote is whited out.
fn plan_info(fs: &Fs, kept: &BTreeSet<&str>) -> Result<InfoPlan> {
    let mut plan = InfoPlan {
        files: BTreeMap::new(),
        restored: 0,
        removed: 0,
    };
    let paths: BTreeSet<&[u8]> = fs
        .base
        .subtree(INFO)
        .chain(fs.result.subtree(INFO))
        .map(|(k, _)| k.as_bytes())
        .collect();
    for p in paths {
        let Some(pkg) = super::pkgs::info_package(p) else {
            continue;
        };
        if kept.contains(pkg.as_str()) {
            continue;
        }
        // Whether the result's entry is the application layers' (None: there is none).
        let from_app = fs.result.get(p).map(|r| r.layer() >= fs.boundary);
        match (fs.base.get(p), from_app) {
            (Some(_), Some(false)) => {}
            (Some(bn), _) => {
                plan.files
                    .insert(p.to_vec(), Some(base_info_file(fs, p, bn)?));
                plan.restored += 1;
            }
            (None, Some(true)) => {
                plan.files.insert(p.to_vec(), None);
                plan.removed += 1;
            }
            (None, _) => {}
        }
    }
    Ok(plan)
}

/// A base `info/` entry with its bytes.
fn base_info_file(fs: &Fs, p: &[u8], bn: &crate::view::Node) -> Result<InfoFile> {
    let data = match bn.kind {
        Kind::File => fs.data_within(bn, p, MAX_SYSTEM_FILE)?.ok_or_else(|| {
            Error::Invalid(format!(
                "internal: no data kept for the base's {}",
                String::from_utf8_lossy(p)
            ))
        })?,
        _ => Vec::new(),
    };
    Ok(InfoFile {
        meta: bn.meta.clone(),
        data,
        kind: bn.kind.clone(),
    })
}

/// The parent directories of what the layer holds, with the base's attributes (`info/` only
/// when the layer has entries there).
fn parent_dirs(fs: &Fs, info: &InfoPlan) -> Vec<(&'static [u8], Meta)> {
    [&b"var"[..], b"var/lib", b"var/lib/dpkg", INFO]
        .into_iter()
        .filter(|d| !info.files.is_empty() || *d != INFO)
        .map(|d| {
            let meta = fs.base.get(d).map(|n| n.meta.clone()).unwrap_or(Meta {
                mode: 0o755,
                ..Default::default()
            });
            (d, meta)
        })
        .collect()
}

/// Plans the merge layer, or None when the application layers carry no dpkg database over a
/// base that has one. `old_base` is the vendor's old base (its status file), when known; else
/// "added" means "not in the new base".
pub fn plan(fs: &Fs, old_base: Option<&Fs>) -> Result<Option<MergeLayer>> {
    let Some(dbs) = Databases::read(fs, old_base)? else {
        return rpm_plan(fs, old_base);
    };
    let kept = dbs.vendor_kept(fs);
    let (status, base_packages) = merged_status(&dbs.base, &kept);
    let info = plan_info(fs, &kept.iter().map(|s| s.package.as_str()).collect())?;
    let vendor_packages = kept
        .iter()
        .map(|s| {
            let v = s
                .text
                .lines()
                .find_map(|l| l.strip_prefix("Version:"))
                .unwrap_or("")
                .trim();
            format!("{} {v}", s.package)
        })
        .collect();
    Ok(Some(MergeLayer {
        dirs: parent_dirs(fs, &info),
        summary: MergeSummary {
            database: "dpkg",
            base_packages,
            vendor_packages,
            restored_info_files: info.restored,
            removed_info_files: info.removed,
            layer_digest: None,
        },
        body: Body::Dpkg {
            status: status.into_bytes(),
            status_meta: dbs.meta.clone(),
            info: info.files,
        },
    }))
}

/// The rpm merge (sqlite backend): when the application layers rewrote an `rpmdb.sqlite` that
/// the new base has too, the merged file is the new base's database plus the packages the
/// vendor added over its old base (by name and architecture; without an old base, those the
/// new base lacks), and those it changed that the new base lacks entirely; a base package of
/// the same name and architecture gives way. rpm's own index rows move with each package
/// (`packages::rpm::merge_sqlite`). ndb and Berkeley DB databases are not merged.
fn rpm_plan(fs: &Fs, old_base: Option<&Fs>) -> Result<Option<MergeLayer>> {
    use crate::packages::rpm::{self, Backend};
    for d in rpm::DBS.iter().filter(|d| d.backend == Backend::Sqlite) {
        let Some(rn) = fs.result.get(d.path) else {
            continue;
        };
        if rn.layer() < fs.boundary || rn.kind != Kind::File {
            continue;
        }
        let Some(bn) = fs.base.get(d.path).filter(|n| n.kind == Kind::File) else {
            continue;
        };
        let what = String::from_utf8_lossy(d.path).into_owned();
        let file =
            |f: &Fs, view: &crate::view::MergedView, p: Option<&[u8]>| -> Result<Option<Vec<u8>>> {
                match p.and_then(|p| view.get(p).map(|n| (p, n))) {
                    Some((p, n)) if n.kind == Kind::File => f.data_within(n, p, MAX_PACKAGE_DB),
                    _ => Ok(None),
                }
            };
        let (Some(vendor_db), Some(base_db)) = (
            file(fs, &fs.result, Some(d.path))?,
            file(fs, &fs.base, Some(d.path))?,
        ) else {
            continue;
        };
        let vendor_wal = file(fs, &fs.result, d.wal)?;
        let base_wal = file(fs, &fs.base, d.wal)?;
        let base_names: BTreeSet<String> =
            rpm::read_sqlite(&base_db, base_wal.as_deref(), &what, false)?
                .into_iter()
                .map(|r| r.header.name)
                .collect();
        // The vendor's old base: (name, arch) -> the blob's digest.
        let old: Option<BTreeMap<(String, String), String>> = match old_base {
            Some(o) => match file(o, &o.result, Some(d.path))? {
                Some(db) => Some(
                    rpm::read_sqlite(&db, file(o, &o.result, d.wal)?.as_deref(), &what, false)?
                        .into_iter()
                        .map(|r| ((r.header.name, r.header.arch), r.blob_sha256))
                        .collect(),
                ),
                None => None,
            },
            None => None,
        };
        let keep = |r: &rpm::Record| {
            let key = (r.header.name.clone(), r.header.arch.clone());
            match &old {
                Some(o) => match o.get(&key) {
                    None => true,
                    Some(sha) => *sha != r.blob_sha256 && !base_names.contains(&r.header.name),
                },
                None => !base_names.contains(&r.header.name),
            }
        };
        let merged = rpm::merge_sqlite(
            (&base_db, base_wal.as_deref()),
            (&vendor_db, vendor_wal.as_deref()),
            &keep,
            &what,
        )?;
        let mut meta = bn.meta.clone();
        meta.mtime = meta.mtime.max(rn.meta.mtime);
        meta.set_pax_mtime(None);
        let dir = rpm::dir_of(d.path);
        let whiteouts = [format!("{what}-wal"), format!("{what}-shm")]
            .into_iter()
            .map(String::into_bytes)
            .filter(|p| fs.result.get(p).is_some())
            .collect();
        let dirs = (1..=dir.iter().filter(|&&b| b == b'/').count() + 1)
            .map(|k| {
                let end = dir
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'/')
                    .map(|(i, _)| i)
                    .nth(k - 1)
                    .unwrap_or(dir.len());
                let p: &'static [u8] = &dir[..end];
                let meta = fs.base.get(p).map(|n| n.meta.clone()).unwrap_or(Meta {
                    mode: 0o755,
                    ..Default::default()
                });
                (p, meta)
            })
            .collect();
        return Ok(Some(MergeLayer {
            dirs,
            summary: MergeSummary {
                database: "rpm",
                base_packages: merged.base_packages,
                vendor_packages: merged.vendor_packages,
                restored_info_files: 0,
                removed_info_files: 0,
                layer_digest: None,
            },
            body: Body::Rpm {
                path: d.path,
                db: merged.db,
                meta,
                whiteouts,
            },
        }));
    }
    Ok(None)
}

impl MergeLayer {
    /// The layer's entries: parent directories, the status file, the `info/` files and
    /// whiteouts.
    fn write<W: Write>(&self, tw: &mut TarWriter<W>) -> Result<()> {
        let io = |e: std::io::Error| Error::io_while("writing the package database layer", e);
        for (d, meta) in &self.dirs {
            tw.append_header(d, &OutKind::Dir, meta).map_err(io)?;
        }
        match &self.body {
            Body::Dpkg {
                status,
                status_meta,
                info,
            } => {
                write_file(tw, STATUS, status, &Kind::File, status_meta).map_err(io)?;
                for (p, f) in info {
                    match f {
                        Some(f) => write_file(tw, p, &f.data, &f.kind, &f.meta).map_err(io)?,
                        None => tw.append_marker(&whiteout_path(p)).map_err(io)?,
                    }
                }
            }
            Body::Rpm {
                path,
                db,
                meta,
                whiteouts,
            } => {
                write_file(tw, path, db, &Kind::File, meta).map_err(io)?;
                for w in whiteouts {
                    tw.append_marker(&whiteout_path(w)).map_err(io)?;
                }
            }
        }
        Ok(())
    }
}

/// One entry with its bytes (a file's; other kinds have none).
fn write_file<W: Write>(
    tw: &mut TarWriter<W>,
    p: &[u8],
    data: &[u8],
    kind: &Kind,
    meta: &Meta,
) -> std::io::Result<()> {
    tw.append_header(p, &OutKind::from_kind(kind, data.len() as u64), meta)?;
    if *kind == Kind::File {
        tw.data().write_all(data)?;
        tw.pad(data.len() as u64)?;
    }
    Ok(())
}

/// Appends the merge layer (gzip-compressed) to a planned image: its diff_id and one history
/// entry dated as the image is. Returns the new image and its manifest's digest.
pub fn append_layer(
    img: &OutImage,
    layer: &MergeLayer,
    created_by: &str,
    created: Option<&str>,
) -> Result<(OutImage, Digest)> {
    let new = new_layer(
        LayerDest::Memory,
        Codec::default_for(Compression::Gzip),
        |tw| layer.write(tw),
    )?;
    let base = Base::of_planned(img)?;
    let add = Addenda {
        layers: vec![LayerFrom {
            image: "package database".into(),
            index: base.layers.len(),
            layer: new,
        }],
        history: vec![history_entry(
            created,
            created_by.into(),
            "regraft: merged package database",
            HistoryKind::Layer,
        )],
        // The graft dated the image it plans; the layer added to it does not move the date.
        created: Created::Keep,
    };
    let out = append(base, add)?;
    let top = out.top.digest.clone();
    Ok((out, top))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::compress::Encoder;
    use crate::model::digest::DiffId;
    use crate::model::image::{BlobData, Layer};
    use crate::model::out::OutBlob;
    use crate::model::spec::{Descriptor, Platform, media};
    use serde_json::Value;
    use std::sync::Arc;

    /// A planned image as the graft plans one: a config with history and `created`, one layer,
    /// annotations, a platform and a name.
    fn planned() -> OutImage {
        let tar = TarWriter::new(Vec::new()).finish().unwrap();
        let layer = Layer {
            desc: Descriptor::new(media::OCI_LAYER, Digest::of(&tar), tar.len() as u64),
            diff_id: DiffId(Digest::of(&tar)),
            data: BlobData::Bytes(Arc::new(tar)),
            history: None,
            checked: Default::default(),
        };
        let config: Value = serde_json::from_str(
            r#"{"architecture":"amd64","created":"2024-01-02T03:04:05Z","os":"linux",
                "config":{"Env":["A=1"]},"rootfs":{"type":"layers","diff_ids":[]},
                "history":[{"created_by":"base"}],"x-unknown":true}"#,
        )
        .unwrap();
        let platform = Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            ..Default::default()
        };
        let base = Base {
            config,
            layers: vec![LayerFrom {
                image: "base".into(),
                index: 0,
                layer,
            }],
            annotations: BTreeMap::from([("a".to_string(), "b".to_string())]),
            platform: Some(platform),
            name: Some("x:1".into()),
            what: "test".into(),
        };
        let nothing = Addenda {
            layers: vec![],
            history: vec![],
            created: Created::Set(Some("2024-01-02T03:04:05Z".into())),
        };
        append(base, nothing).unwrap()
    }

    /// `tar` compressed as the merge layer is.
    fn gzip(tar: &[u8]) -> Vec<u8> {
        let mut e = Encoder::new(Codec::default_for(Compression::Gzip), Vec::new()).unwrap();
        e.write_all(tar).unwrap();
        e.finish().unwrap()
    }

    fn bytes_of(img: &OutImage, d: &Digest) -> String {
        img.blobs
            .iter()
            .find_map(|b| match b {
                OutBlob::Bytes { desc, bytes } if desc.digest == *d => {
                    Some(String::from_utf8(bytes.to_vec()).unwrap())
                }
                _ => None,
            })
            .unwrap()
    }

    /// The package database layer's image, byte for byte: the config gains its diff_id and a
    /// history entry dated as the image is (nothing else moves), the manifest its descriptor.
    #[test]
    fn the_merge_layer_is_appended_as_pinned() {
        let img = planned();
        // The layer: the directory, the status file.
        let layer = MergeLayer {
            dirs: vec![(b"var", Meta::default())],
            body: Body::Dpkg {
                status: b"Package: a\n\n".to_vec(),
                status_meta: Meta::default(),
                info: BTreeMap::new(),
            },
            summary: MergeSummary {
                database: "dpkg",
                base_packages: 0,
                vendor_packages: vec![],
                restored_info_files: 0,
                removed_info_files: 0,
                layer_digest: None,
            },
        };
        let mut tw = TarWriter::new(Vec::new());
        tw.append_header(b"var", &OutKind::Dir, &Meta::default())
            .unwrap();
        let tar_of_var = tw.finish().unwrap();
        let mut tw = TarWriter::new(Vec::new());
        tw.append_header(b"var", &OutKind::Dir, &Meta::default())
            .unwrap();
        write_file(
            &mut tw,
            STATUS,
            b"Package: a\n\n",
            &Kind::File,
            &Meta::default(),
        )
        .unwrap();
        let tar = tw.finish().unwrap();
        let (out, top) =
            append_layer(&img, &layer, "merged", Some("2024-01-02T03:04:05Z")).unwrap();
        assert_eq!(top, out.top.digest);
        let docker = out.docker.clone().unwrap();
        let new = docker.layers[1].clone();
        let diff = docker.diff_ids[1].clone();
        assert_eq!(docker.layers.len(), 2);
        assert_eq!(
            bytes_of(&out, &docker.config),
            format!(
                r#"{{"architecture":"amd64","created":"2024-01-02T03:04:05Z","os":"linux","config":{{"Env":["A=1"]}},"rootfs":{{"type":"layers","diff_ids":["{}","{diff}"]}},"history":[{{"created_by":"base"}},{{"created":"2024-01-02T03:04:05Z","created_by":"merged","comment":"regraft: merged package database"}}],"x-unknown":true}}"#,
                docker.diff_ids[0]
            )
        );
        let cfg_size = bytes_of(&out, &docker.config).len();
        assert_eq!(
            bytes_of(&out, &top),
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{cfg_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":1024}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{new}","size":{}}}],"annotations":{{"a":"b"}}}}"#,
                docker.config,
                docker.layers[0],
                out.blobs[2].size()
            )
        );
        assert_eq!(out.top.platform, img.top.platform);
        assert_eq!(out.top.media_type, media::OCI_MANIFEST);
        assert_eq!(out.name.as_deref(), Some("x:1"));
        let names: Vec<String> = out
            .blobs
            .iter()
            .map(|b| match b {
                OutBlob::Layer { image, index, .. } => format!("{image} {index}"),
                b => b.digest().to_string(),
            })
            .collect();
        assert_eq!(
            names,
            [
                docker.config.to_string(),
                "base 0".into(),
                "package database 1".into(),
                top.to_string()
            ]
        );
        // The layer: the tar, gzip-compressed as a new layer is by default.
        assert_eq!(diff.to_string(), Digest::of(&tar).to_string());
        assert_eq!(new, Digest::of(&gzip(&tar)));
        // The compression as pinned before the merge layer went through the layer builder.
        assert_eq!(
            Digest::of(&gzip(&tar_of_var)).to_string(),
            "sha256:cd6fb30e0387215853c4864638a67643dc8257a9e53e39470976479f84492033"
        );
    }
}
