//! Applying planned updates without running the image: one new layer holding each new
//! version's files (from its `.deb`'s data tar, landed through the image's directory symlinks
//! as dpkg lands them), whiteouts for what the old version had and the new one has not, and
//! dpkg's database as dpkg leaves it after `--unpack` and `--configure`: the `status` entry
//! (dpkg's field order), `info/PKG.list`, `md5sums`, the other control members, and the
//! conffile rules of dpkg: a conffile the user changed is kept, and the new one is written
//! beside it as `.dpkg-dist` when the package changed it too.

use super::deb::{self, Deb};
use super::plan::Update;
use super::repo;
use crate::codec::compress::Codec;
use crate::error::{Error, Result};
use crate::layer::entry::{Kind, Meta, Op, parse_entry};
use crate::layer::tarw::OutKind;
use crate::model::image::Layer;
use crate::model::limits::MAX_SYSTEM_FILE;
use crate::mutate::{LayerDest, LayerTar, new_layer, whiteout_path};
use crate::view::contents::Contents;
use md5::Digest as _;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

const INFO: &str = "var/lib/dpkg/info";
const STATUS: &str = "var/lib/dpkg/status";

/// What one package's update wrote, for the summary.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Applied {
    pub package: String,
    pub from: String,
    pub to: String,
    pub why: String,
    pub files: usize,
    pub removed: Vec<String>,
    pub conffiles_kept: Vec<String>,
    pub bytes: u64,
    /// Shared libraries (`*.so`, `*.so.N`) the old version had and the new one has not, or the
    /// reverse: `ldconfig` would change `/etc/ld.so.cache`, which the patch then rewrites.
    pub libraries_changed: Vec<String>,
}

/// Whether a listed path names a shared library `ldconfig` caches.
fn is_library(p: &str) -> bool {
    let name = p.rsplit('/').next().unwrap_or(p);
    name.starts_with("lib") && (name.ends_with(".so") || name.contains(".so."))
}

/// dpkg's order of the fields of a `status` entry (lib/dpkg/parse.c); others follow in the
/// order the control file has them.
const FIELD_ORDER: &[&str] = &[
    "Package",
    "Essential",
    "Protected",
    "Status",
    "Priority",
    "Section",
    "Installed-Size",
    "Origin",
    "Maintainer",
    "Bugs",
    "Architecture",
    "Multi-Arch",
    "Source",
    "Version",
    "Config-Version",
    "Replaces",
    "Provides",
    "Depends",
    "Pre-Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Enhances",
    "Conffiles",
    "Description",
    "Triggers-Pending",
    "Triggers-Awaited",
];

/// The `status` entry of an installed package from its control file.
fn status_entry(control: &str, conffiles: &[(String, String)], want: &str) -> String {
    let mut fields = deb::fields(control);
    fields.retain(|(k, _)| !k.eq_ignore_ascii_case("Status"));
    fields.push(("Status".into(), format!("{want} ok installed")));
    if !conffiles.is_empty() {
        let v: String = conffiles
            .iter()
            .map(|(p, h)| format!("\n {p} {h}"))
            .collect();
        fields.push(("Conffiles".into(), v));
    }
    let rank = |k: &str| {
        FIELD_ORDER
            .iter()
            .position(|f| f.eq_ignore_ascii_case(k))
            .unwrap_or(FIELD_ORDER.len())
    };
    let known_desc = rank("Description");
    // Stable: unknown fields keep their order, after the known ones (Description included).
    let mut order: Vec<usize> = (0..fields.len()).collect();
    order.sort_by_key(|&i| {
        let r = rank(&fields[i].0);
        (
            if r == FIELD_ORDER.len() {
                known_desc * 2 + 1
            } else {
                r * 2
            },
            i,
        )
    });
    let mut out = String::new();
    for i in order {
        let (k, v) = &fields[i];
        if v.starts_with('\n') {
            out.push_str(&format!("{k}:{v}\n"));
        } else {
            out.push_str(&format!("{k}: {v}\n"));
        }
    }
    out
}

fn md5_hex(b: &[u8]) -> String {
    hex::encode(md5::Md5::digest(b))
}

/// The info files' prefix of an installed package: `name:arch` where the image's dpkg uses
/// that (Multi-Arch: same), else `name`.
fn info_prefix(c: &Contents, name: &str, arch: &str) -> String {
    let qualified = format!("{name}:{arch}");
    if c.view
        .get(format!("{INFO}/{qualified}.list").as_bytes())
        .is_some()
    {
        qualified
    } else {
        name.to_string()
    }
}

/// The info files' prefix of a package new to the image: `name:arch` for `Multi-Arch: same`.
fn new_prefix(a: &super::repo::Available) -> String {
    match a.field("Multi-Arch") {
        Some("same") => format!("{}:{}", a.name, a.arch),
        _ => a.name.clone(),
    }
}

/// The conffiles of an update's old version.
fn old_conf_of(u: &Update) -> BTreeMap<String, String> {
    u.from
        .as_ref()
        .map(|f| old_conffiles(&f.fields))
        .unwrap_or_default()
}

/// The conffiles of a package's `status` entry: (path, md5).
fn old_conffiles(fields: &[(String, String)]) -> BTreeMap<String, String> {
    deb::field(fields, "Conffiles")
        .unwrap_or("")
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect()
}

/// An entry the layer writes besides the packages' (a regenerated `/etc/ld.so.cache`, the
/// links and file of an alternative).
pub struct Extra {
    /// Cleaned, with its parents resolved in the image.
    pub path: Vec<u8>,
    pub meta: Meta,
    pub kind: ExtraKind,
}

pub enum ExtraKind {
    File(Vec<u8>),
    Symlink(Vec<u8>),
    Dir,
}

/// Builds the patch layer; returns it, what each update did and the package files it wrote. `mtime`: the time dpkg's
/// database files get (deterministic: SOURCE_DATE_EPOCH or the image's creation).
#[allow(clippy::too_many_arguments)]
pub fn build(
    c: &Contents,
    updates: &[Update],
    extra: &[Extra],
    codec: Codec,
    dir: Option<&Path>,
    scratch: &Path,
    mtime: u64,
    max_layer_size: u64,
) -> Result<(Layer, Vec<Applied>, Vec<Vec<u8>>)> {
    let status = c
        .kept_at(STATUS.as_bytes())
        .ok_or_else(|| Error::Invalid(format!("the image has no /{STATUS}")))?;
    let status = String::from_utf8_lossy(status).into_owned();
    // dpkg-divert's table: FROM, TO, PACKAGE, three lines each.
    let diversions: BTreeMap<String, (String, String)> = c
        .kept_at(b"var/lib/dpkg/diversions")
        .map(|b| {
            let text = String::from_utf8_lossy(b).into_owned();
            let lines: Vec<&str> = text.lines().collect();
            lines
                .chunks(3)
                .filter(|c| c.len() == 3)
                .map(|c| (c[0].to_string(), (c[1].to_string(), c[2].to_string())))
                .collect()
        })
        .unwrap_or_default();
    // Each package's new data and control, read and verified before anything is written.
    let mut debs = Vec::new();
    for u in updates {
        repo::verify(&u.to)?;
        let d = Deb::open(&u.to.path)?;
        let control = d.control()?;
        debs.push((d, control));
    }
    // Every path a new version lists, so no other update's old file is whited out under it.
    let mut applied: Vec<Applied> = Vec::new();
    let mut new_status_entries: BTreeMap<String, String> = BTreeMap::new();
    let mut written: BTreeSet<Vec<u8>> = BTreeSet::new();
    let layer = new_layer(LayerDest::temp_file_or_discard(dir), codec, |tw| {
        let mut all_new: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut lists: Vec<(String, Vec<u8>)> = Vec::new();
        let mut generated: Vec<(String, Vec<u8>)> = Vec::new();
        for (u, (d, control)) in updates.iter().zip(&debs) {
            let mut a = Applied {
                package: u.to.name.clone(),
                from: u.from_version().to_string(),
                to: u.to.version.clone(),
                why: u.why.clone(),
                ..Default::default()
            };
            let conffiles: BTreeSet<String> = control
                .files
                .get("conffiles")
                .map(|b| {
                    String::from_utf8_lossy(b)
                        .lines()
                        .map(|l| l.trim().to_string())
                        .filter(|l| l.starts_with('/'))
                        .collect()
                })
                .unwrap_or_default();
            let old_conf = u
                .from
                .as_ref()
                .map(|f| old_conffiles(&f.fields))
                .unwrap_or_default();
            let mut new_conf: Vec<(String, String)> = Vec::new();
            let mut list = String::from("/.\n");
            // What dpkg writes for a package that ships no md5sums: each file's, in its order.
            let mut md5sums = String::new();
            let data = d.data(scratch, max_layer_size)?;
            let mut ar = tar::Archive::new(std::io::BufReader::new(data));
            let what = |e: &dyn std::fmt::Display| {
                Error::Invalid(format!("{}: data.tar: {e}", d.path.display()))
            };
            for e in ar.entries().map_err(|e| what(&e))? {
                let mut e = e.map_err(|e| what(&e))?;
                let entry = parse_entry(&mut e).map_err(|e| Error::context(d.path.display(), e))?;
                if entry.path.is_empty() {
                    continue;
                }
                let shown = format!("/{}", String::from_utf8_lossy(&entry.path));
                list.push_str(&shown);
                list.push('\n');
                all_new.insert(entry.path.to_vec());
                let dest = c
                    .view
                    .resolve_parent(&entry.path)
                    .map_err(|e| Error::context(&shown, e))?;
                if let Some((to, by)) = diversions.get(&shown)
                    && *by != u.to.name
                    && !matches!(
                        entry.op,
                        Op::Put {
                            kind: Kind::Dir,
                            ..
                        }
                    )
                {
                    return Err(what(&format!(
                        "{shown} is diverted to {to} by {by} (dpkg-divert): regraft patch does not follow diversions yet"
                    )));
                }
                match entry.op {
                    Op::Put {
                        kind: Kind::Dir,
                        meta,
                        ..
                    } => {
                        let exists = c
                            .view
                            .resolve(&entry.path)
                            .ok()
                            .and_then(|r| c.view.get(&r).map(|n| n.kind == Kind::Dir))
                            .unwrap_or(false);
                        if !exists && written.insert(dest.clone()) {
                            tw.append_header(&dest, &OutKind::Dir, &meta).map_err(io)?;
                        }
                    }
                    Op::Put {
                        kind: Kind::File,
                        meta,
                        size,
                        ..
                    } if conffiles.contains(&shown) => {
                        if size > MAX_SYSTEM_FILE.value {
                            return Err(MAX_SYSTEM_FILE.error(
                                format!("{}: conffile {shown}", d.path.display()),
                                format!("{size} bytes"),
                            ));
                        }
                        let mut body = Vec::new();
                        (&mut e)
                            .take(size)
                            .read_to_end(&mut body)
                            .map_err(|x| what(&x))?;
                        let new_md5 = md5_hex(&body);
                        md5sums.push_str(&format!("{new_md5}  {}\n", &shown[1..]));
                        new_conf.push((shown.clone(), new_md5.clone()));
                        let current = c.kept_at(&dest).map(md5_hex);
                        let was = old_conf.get(&shown);
                        // A conffile the image deleted stays deleted, as dpkg leaves it.
                        if was.is_some() && c.view.get(&dest).is_none() {
                            a.conffiles_kept
                                .push(format!("{shown} (deleted in the image; left deleted)"));
                            continue;
                        }
                        let user_changed =
                            matches!((&current, was), (Some(cur), Some(w)) if cur != w);
                        let target = if user_changed {
                            if was.is_some_and(|w| *w == new_md5) {
                                a.conffiles_kept.push(format!(
                                    "{shown} (changed in the image; the package did not change it)"
                                ));
                                continue;
                            }
                            a.conffiles_kept.push(format!("{shown} (changed in the image; the new version is {shown}.dpkg-dist)"));
                            let mut t = dest.clone();
                            t.extend_from_slice(b".dpkg-dist");
                            t
                        } else {
                            dest.clone()
                        };
                        write_file(tw, &target, &meta, &body)?;
                        written.insert(target);
                        a.files += 1;
                        a.bytes += size;
                    }
                    Op::Put {
                        kind, meta, size, ..
                    } => {
                        tw.append_header(&dest, &OutKind::from_kind(&kind, size), &meta)
                            .map_err(io)?;
                        if kind == Kind::File {
                            let mut tee = Md5Tee {
                                w: tw.data(),
                                h: md5::Md5::new(),
                            };
                            let n =
                                std::io::copy(&mut (&mut e).take(size), &mut tee).map_err(io)?;
                            let digest = hex::encode(tee.h.finalize());
                            if n != size {
                                return Err(what(&format!(
                                    "{shown}: truncated ({n} of {size} bytes)"
                                )));
                            }
                            tw.pad(size).map_err(io)?;
                            md5sums.push_str(&format!("{digest}  {}\n", &shown[1..]));
                        }
                        written.insert(dest);
                        a.files += 1;
                        a.bytes += size;
                    }
                    Op::Link { target, meta } => {
                        let t = c
                            .view
                            .resolve_parent(&target)
                            .map_err(|e| Error::context(&shown, e))?;
                        // A link within the package only: its target written before it in
                        // this layer (a link to a file of the image would not unpack).
                        if !written.contains(&t) {
                            return Err(what(&format!(
                                "{shown}: a hard link to /{}, which the package does not write before it",
                                String::from_utf8_lossy(&target)
                            )));
                        }
                        tw.append_header(&dest, &OutKind::Hardlink(&t), &meta)
                            .map_err(io)?;
                        written.insert(dest);
                        a.files += 1;
                    }
                    Op::Whiteout | Op::Opaque => {
                        return Err(what(&format!("{shown}: a whiteout name inside a package")));
                    }
                    Op::Skip => {}
                }
            }
            let prefix = match &u.from {
                Some(f) => info_prefix(c, &f.name, &f.arch),
                None => new_prefix(&u.to),
            };
            lists.push((prefix.clone(), list.into_bytes()));
            if !control.files.contains_key("md5sums") {
                generated.push((prefix.clone(), md5sums.into_bytes()));
            }
            // Old conffiles the new version does not ship: kept, marked obsolete (dpkg).
            for (path, hash) in &old_conf {
                if !conffiles.contains(path) {
                    let hash = hash.split_whitespace().next().unwrap_or(hash);
                    new_conf.push((path.clone(), format!("{hash} obsolete")));
                }
            }
            // The old entry's want flag stays (a held package stays held).
            let want = u
                .from
                .as_ref()
                .and_then(|f| f.field("Status"))
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("install")
                .to_string();
            new_status_entries.insert(
                u.to.name.clone(),
                status_entry(&control.control, &new_conf, &want),
            );
            applied.push(a);
        }
        // What the old versions had and the new ones have not.
        for ((u, (_, control)), a) in updates.iter().zip(&debs).zip(applied.iter_mut()) {
            let prefix = match &u.from {
                Some(f) => info_prefix(c, &f.name, &f.arch),
                None => new_prefix(&u.to),
            };
            let old_list = match &u.from {
                Some(_) => c
                    .kept_at(format!("{INFO}/{prefix}.list").as_bytes())
                    .unwrap_or_default(),
                None => &[],
            };
            let old_libs: BTreeSet<String> = String::from_utf8_lossy(old_list)
                .lines()
                .filter(|l| is_library(l))
                .map(str::to_string)
                .collect();
            let new_list = lists
                .iter()
                .find(|(p, _)| *p == prefix)
                .map(|(_, l)| String::from_utf8_lossy(l).into_owned())
                .unwrap_or_default();
            let new_libs: BTreeSet<String> = new_list
                .lines()
                .filter(|l| is_library(l))
                .map(str::to_string)
                .collect();
            a.libraries_changed = old_libs.symmetric_difference(&new_libs).cloned().collect();
            for line in String::from_utf8_lossy(old_list).lines() {
                let Ok(Some(p)) = crate::layer::entry::clean_path(line.as_bytes()) else {
                    continue;
                };
                // An old conffile the new version no longer ships stays, as dpkg keeps it
                // (marked obsolete in its Conffiles).
                if all_new.contains(&p)
                    || old_conf_of(u).contains_key(&format!("/{}", String::from_utf8_lossy(&p)))
                {
                    continue;
                }
                let Ok(dest) = c.view.resolve_parent(&p) else {
                    continue;
                };
                let gone = c.view.get(&dest).is_some_and(|n| n.kind != Kind::Dir);
                if gone && written.insert(whiteout_path(&dest)) {
                    tw.append_marker(&whiteout_path(&dest)).map_err(io)?;
                    a.removed.push(format!("/{}", String::from_utf8_lossy(&p)));
                }
            }
            // The info files: the list, then each control member but `control`; old ones the
            // new version lacks are deleted.
            let new_names: BTreeSet<String> = control
                .files
                .keys()
                .map(|k| format!("{prefix}.{k}"))
                .chain([format!("{prefix}.list"), format!("{prefix}.md5sums")])
                .collect();
            let db_meta = Meta {
                mode: 0o644,
                mtime,
                ..Default::default()
            };
            let list = lists
                .iter()
                .find(|(p, _)| *p == prefix)
                .map(|(_, l)| l.clone())
                .unwrap_or_default();
            write_file(
                tw,
                format!("{INFO}/{prefix}.list").as_bytes(),
                &db_meta,
                &list,
            )?;
            for (k, v) in &control.files {
                let mode =
                    if ["preinst", "postinst", "prerm", "postrm", "config"].contains(&k.as_str()) {
                        0o755
                    } else {
                        0o644
                    };
                let m = Meta {
                    mode,
                    ..db_meta.clone()
                };
                write_file(tw, format!("{INFO}/{prefix}.{k}").as_bytes(), &m, v)?;
            }
            if let Some((_, sums)) = generated.iter().find(|(p, _)| *p == prefix) {
                write_file(
                    tw,
                    format!("{INFO}/{prefix}.md5sums").as_bytes(),
                    &db_meta,
                    sums,
                )?;
            }
            let dir = c.view.get(INFO.as_bytes());
            if dir.is_some() {
                let start = format!("{INFO}/{prefix}.");
                for (k, n) in c.view.subtree(INFO.as_bytes()) {
                    let name = String::from_utf8_lossy(k.as_bytes()).into_owned();
                    let Some(file) = name.strip_prefix(&format!("{INFO}/")) else {
                        continue;
                    };
                    // `foo.bar.list` is package foo.bar's, not foo's: what follows the
                    // prefix is one suffix, without a dot.
                    let own = name
                        .strip_prefix(&start)
                        .is_some_and(|rest| !rest.contains('.'));
                    if own && n.kind != Kind::Dir && !new_names.contains(file) {
                        tw.append_marker(&whiteout_path(k.as_bytes())).map_err(io)?;
                    }
                }
            }
        }
        // dpkg's status, each updated entry replaced where it stood, a new package's entry
        // where dpkg sorts it (by name).
        let mut out = String::new();
        let mut fresh: Vec<(&String, &String)> = new_status_entries
            .iter()
            .filter(|(n, _)| updates.iter().any(|u| u.to.name == **n && u.from.is_none()))
            .collect();
        fresh.reverse();
        for stanza in status.split("\n\n") {
            if stanza.trim().is_empty() {
                continue;
            }
            let fields = deb::fields(stanza);
            let name = deb::field(&fields, "Package").unwrap_or("");
            while fresh.last().is_some_and(|(n, _)| n.as_str() < name) {
                let (_, e) = fresh.pop().unwrap();
                out.push_str(e);
                out.push('\n');
            }
            match new_status_entries.get(name) {
                Some(e) => out.push_str(e),
                None => {
                    out.push_str(stanza.trim_end_matches('\n'));
                    out.push('\n');
                }
            }
            out.push('\n');
        }
        while let Some((_, e)) = fresh.pop() {
            out.push_str(e);
            out.push('\n');
        }
        let meta = c
            .view
            .get(STATUS.as_bytes())
            .map(|n| Meta {
                mtime,
                ..n.meta.clone()
            })
            .unwrap_or(Meta {
                mode: 0o644,
                mtime,
                ..Default::default()
            });
        for x in extra {
            match &x.kind {
                ExtraKind::File(body) => write_file(tw, &x.path, &x.meta, body)?,
                ExtraKind::Symlink(t) => tw
                    .append_header(&x.path, &OutKind::Symlink(t), &x.meta)
                    .map_err(io)?,
                ExtraKind::Dir => tw
                    .append_header(&x.path, &OutKind::Dir, &x.meta)
                    .map_err(io)?,
            }
        }
        write_file(tw, STATUS.as_bytes(), &meta, out.as_bytes())?;
        Ok(())
    })?;
    // The package files written (not whiteouts), for the check's baseline.
    let files = written
        .into_iter()
        .filter(|p| {
            !p.rsplit(|&b| b == b'/')
                .next()
                .unwrap_or(p)
                .starts_with(b".wh.")
        })
        .collect();
    Ok((layer, applied, files))
}

fn write_file(tw: &mut LayerTar<'_>, path: &[u8], meta: &Meta, body: &[u8]) -> Result<()> {
    tw.append_header(
        path,
        &OutKind::File {
            size: body.len() as u64,
        },
        meta,
    )
    .map_err(io)?;
    tw.data().write_all(body).map_err(io)?;
    tw.pad(body.len() as u64).map_err(io)
}

/// A writer that hashes (MD5, as dpkg's md5sums) what it passes on.
struct Md5Tee<W> {
    w: W,
    h: md5::Md5,
}

impl<W: Write> Write for Md5Tee<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.w.write(b)?;
        self.h.update(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

fn io(e: std::io::Error) -> Error {
    Error::io_while("writing the patch layer", e)
}
