//! Applying planned apk updates without running the image: one new layer with each new
//! version's files (landed through the image's directory symlinks), whiteouts for what the old
//! version owned and the new one does not, and apk's database as apk-tools 2 leaves it
//! (`lib/apk/db/installed`: the package's block in `apk_db_write_fdb`'s order, `C: P: V: A: S:
//! I: T: U: L: o: m: t: c: k:`, `D: p: i:`, `r: q: s:`, then `F:`/`M:` per directory and
//! `R:`/`a:`/`Z:` per file, `Z:` the SHA1 of the content or of a symlink's target;
//! `lib/apk/db/triggers`; `lib/apk/db/scripts.tar`, whose entries are named after the package's
//! identity, so the new version's scripts replace the old one's there). apk's protected paths
//! (`etc/` by default, `etc/apk/protected_paths.d/*.list`) keep a file the image changed: the
//! new one lands beside it as `.apk-new` (or not at all when it is the same), and an old one the
//! image changed is not removed. Scripts are never run: the patch lists and refuses them
//! unless accepted (`super::apk_patch`).

use super::Applied;
use super::apk::{self, Apk};
use super::apkdb::{Owned, Protect, blocks, new_block, on_disk, scripts_tar};
use super::plan::Update;
use crate::codec::compress::Codec;
use crate::error::{Error, Result};
use crate::layer::entry::{Kind, Meta, Op, parse_entry};
use crate::layer::tarw::OutKind;
use crate::model::image::Layer;
use crate::model::limits::MAX_SYSTEM_FILE;
use crate::mutate::{LayerDest, LayerTar, new_layer, whiteout_path};
use crate::view::contents::Contents;
use sha1::Digest as _;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

/// What `build` made.
pub struct Built {
    pub layer: Layer,
    pub applied: Vec<Applied>,
    pub files: Vec<Vec<u8>>,
    /// Directories the updates write into or remove from (for installed packages' triggers).
    pub touched_dirs: BTreeSet<String>,
}

/// Builds the patch layer of apk updates; `db_path` is where the image keeps `installed`.
#[allow(clippy::too_many_arguments)]
pub fn build(
    c: &Contents,
    db_path: &str,
    updates: &[Update],
    apks: &[Apk],
    codec: Codec,
    dir: Option<&Path>,
    scratch: &Path,
    mtime: u64,
    max_layer_size: u64,
) -> Result<Built> {
    let db = c
        .kept_at(db_path.as_bytes())
        .ok_or_else(|| Error::Invalid(format!("the image has no /{db_path}")))?;
    let db = String::from_utf8_lossy(db).into_owned();
    let all = blocks(&db);
    let updated: BTreeSet<&str> = updates
        .iter()
        .filter_map(|u| u.from.as_ref().map(|f| f.name.as_str()))
        .collect();
    // Who owns each path today (packages the patch does not update).
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut old_sum: BTreeMap<String, String> = BTreeMap::new();
    for b in &all {
        let name = b.get("P").unwrap_or_default();
        for (p, z) in b.files() {
            if let Some(z) = z {
                old_sum.insert(p.clone(), z);
            }
            if !updated.contains(name.as_str()) {
                owner.insert(p, name.clone());
            }
        }
    }
    let protect = Protect::read(c);
    let mut applied = Vec::new();
    let mut new_blocks: BTreeMap<String, String> = BTreeMap::new();
    let mut written: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut touched: BTreeSet<String> = BTreeSet::new();
    let db_meta = Meta {
        mode: 0o644,
        mtime,
        ..Default::default()
    };
    let layer = new_layer(LayerDest::temp_file_or_discard(dir), codec, |tw| {
        let mut all_new: BTreeMap<String, String> = BTreeMap::new();
        let mut new_dirs: BTreeSet<String> = BTreeSet::new();
        for (u, a) in updates.iter().zip(apks) {
            let mut ap = Applied {
                package: u.to.name.clone(),
                from: u.from_version().to_string(),
                to: u.to.version.clone(),
                why: u.why.clone(),
                ..Default::default()
            };
            let data = a.data(scratch, max_layer_size)?;
            let mut ar = tar::Archive::new(std::io::BufReader::new(data));
            let what = |e: &dyn std::fmt::Display| {
                Error::Invalid(format!("{}: data segment: {e}", a.path.display()))
            };
            let mut dirs: Vec<(String, Meta)> = Vec::new();
            let mut files: Vec<Owned> = Vec::new();
            let mut sums: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for e in ar.entries().map_err(|e| what(&e))? {
                let mut e = e.map_err(|e| what(&e))?;
                let pax = apk::entry_sha1(&mut e);
                let entry = parse_entry(&mut e).map_err(|e| Error::context(a.path.display(), e))?;
                // apk installs no top-level dot names and no `.keep_*` placeholders.
                if entry.path.is_empty() || entry.path.starts_with(b".") {
                    continue;
                }
                let path = String::from_utf8_lossy(&entry.path).into_owned();
                let (pdir, base) = path.rsplit_once('/').unwrap_or(("", &path));
                let (pdir, base) = (pdir.to_string(), base.to_string());
                if base.starts_with(".keep_") {
                    continue;
                }
                let dest = c
                    .view
                    .resolve_parent(&entry.path)
                    .map_err(|e| Error::context(format!("/{path}"), e))?;
                if let Some(o) = owner.get(&path)
                    && !matches!(
                        entry.op,
                        Op::Put {
                            kind: Kind::Dir,
                            ..
                        }
                    )
                {
                    return Err(what(&format!(
                        "/{path} belongs to the installed package {o}, which this patch does not update: regraft patch does not move files between packages"
                    )));
                }
                if let Some(o) = all_new.get(&path)
                    && !matches!(
                        entry.op,
                        Op::Put {
                            kind: Kind::Dir,
                            ..
                        }
                    )
                {
                    return Err(what(&format!(
                        "/{path} is also written by {o}'s new version"
                    )));
                }
                let ensure_dir = |dirs: &mut Vec<(String, Meta)>| {
                    if !dirs.iter().any(|(d, _)| *d == pdir) {
                        dirs.push((
                            pdir.clone(),
                            Meta {
                                mode: 0o755,
                                ..Default::default()
                            },
                        ));
                    }
                };
                let check = |got: &[u8]| -> Result<()> {
                    match &pax {
                        Some(want) if want != got => Err(what(&format!(
                            "/{path}: checksum mismatch: APK-TOOLS.checksum.SHA1 is {}, the content's SHA1 is {}",
                            hex::encode(want),
                            hex::encode(got)
                        ))),
                        _ => Ok(()),
                    }
                };
                match entry.op {
                    Op::Put {
                        kind: Kind::Dir,
                        meta,
                        ..
                    } => {
                        match dirs.iter_mut().find(|(d, _)| *d == path) {
                            Some(d) => d.1 = meta.clone(),
                            None => dirs.push((path.clone(), meta.clone())),
                        }
                        let exists = c
                            .view
                            .resolve(&entry.path)
                            .ok()
                            .and_then(|r| c.view.get(&r).map(|n| n.kind == Kind::Dir))
                            .unwrap_or(false);
                        if !exists && written.insert(dest.clone()) {
                            tw.append_header(&dest, &OutKind::Dir, &meta).map_err(io)?;
                        }
                        continue;
                    }
                    Op::Put {
                        kind, meta, size, ..
                    } => {
                        ensure_dir(&mut dirs);
                        touched.insert(pdir.clone());
                        let protected = protect.covers(&entry.path)
                            && c.view.get(&dest).is_some_and(|n| n.kind != Kind::Dir);
                        let sha1 = match &kind {
                            Kind::File if protected => {
                                if size > MAX_SYSTEM_FILE.value {
                                    return Err(MAX_SYSTEM_FILE.error(
                                        format!("{}: /{path}", a.path.display()),
                                        format!("{size} bytes"),
                                    ));
                                }
                                let mut body = Vec::new();
                                (&mut e)
                                    .take(size)
                                    .read_to_end(&mut body)
                                    .map_err(|x| what(&x))?;
                                let h = sha1::Sha1::digest(&body).to_vec();
                                check(&h)?;
                                land_protected(
                                    c,
                                    tw,
                                    &path,
                                    &dest,
                                    &meta,
                                    &kind,
                                    &body,
                                    &h,
                                    &old_sum,
                                    &mut ap,
                                    &mut written,
                                )?;
                                Some(h)
                            }
                            Kind::Symlink(t) if protected => {
                                let h = sha1::Sha1::digest(&t[..]).to_vec();
                                check(&h)?;
                                land_protected(
                                    c,
                                    tw,
                                    &path,
                                    &dest,
                                    &meta,
                                    &kind,
                                    &[],
                                    &h,
                                    &old_sum,
                                    &mut ap,
                                    &mut written,
                                )?;
                                Some(h)
                            }
                            Kind::File => {
                                tw.append_header(&dest, &OutKind::File { size }, &meta)
                                    .map_err(io)?;
                                let mut tee = Sha1Tee {
                                    w: tw.data(),
                                    h: sha1::Sha1::new(),
                                };
                                let n = std::io::copy(&mut (&mut e).take(size), &mut tee)
                                    .map_err(io)?;
                                let h = tee.h.finalize().to_vec();
                                if n != size {
                                    return Err(what(&format!(
                                        "/{path}: truncated ({n} of {size} bytes)"
                                    )));
                                }
                                tw.pad(size).map_err(io)?;
                                check(&h)?;
                                written.insert(dest.clone());
                                Some(h)
                            }
                            other => {
                                tw.append_header(&dest, &OutKind::from_kind(other, 0), &meta)
                                    .map_err(io)?;
                                written.insert(dest.clone());
                                match other {
                                    Kind::Symlink(t) => {
                                        let h = sha1::Sha1::digest(&t[..]).to_vec();
                                        check(&h)?;
                                        Some(h)
                                    }
                                    _ => None,
                                }
                            }
                        };
                        if let Some(h) = &sha1 {
                            sums.insert(entry.path.to_vec(), h.clone());
                        }
                        ap.files += 1;
                        ap.bytes += size;
                        files.push(Owned {
                            dir: pdir,
                            name: base,
                            meta,
                            sha1,
                        });
                    }
                    Op::Link { target, meta } => {
                        ensure_dir(&mut dirs);
                        touched.insert(pdir.clone());
                        let t = c
                            .view
                            .resolve_parent(&target)
                            .map_err(|e| Error::context(format!("/{path}"), e))?;
                        // Only to a file of the same package written before it (apk's rule).
                        let Some(h) = sums.get(&target).cloned().filter(|_| written.contains(&t))
                        else {
                            return Err(what(&format!(
                                "/{path}: a hard link to /{}, which the package does not write before it",
                                String::from_utf8_lossy(&target)
                            )));
                        };
                        tw.append_header(&dest, &OutKind::Hardlink(&t), &meta)
                            .map_err(io)?;
                        written.insert(dest.clone());
                        sums.insert(entry.path.to_vec(), h.clone());
                        ap.files += 1;
                        files.push(Owned {
                            dir: pdir,
                            name: base,
                            meta,
                            sha1: Some(h),
                        });
                    }
                    Op::Whiteout | Op::Opaque => {
                        return Err(what(&format!("/{path}: a whiteout name inside a package")));
                    }
                    Op::Skip => continue,
                }
                all_new.insert(path, u.to.name.clone());
            }
            let old = u.from.as_ref().and_then(|f| {
                all.iter()
                    .find(|b| b.get("P").as_deref() == Some(f.name.as_str()))
            });
            new_dirs.extend(dirs.iter().map(|(d, _)| d.clone()));
            new_blocks.insert(u.to.name.clone(), new_block(a, old, &dirs, &files));
            applied.push(ap);
        }
        // What the old versions owned and the new ones do not: (where, which update, path).
        let mut gone: Vec<(Vec<u8>, usize, String)> = Vec::new();
        let mut old_dirs: Vec<(String, usize)> = Vec::new();
        for (k, (u, ap)) in updates.iter().zip(applied.iter_mut()).enumerate() {
            let Some(f) = &u.from else { continue };
            let Some(old) = all
                .iter()
                .find(|b| b.get("P").as_deref() == Some(f.name.as_str()))
            else {
                continue;
            };
            old_dirs.extend(
                old.fields
                    .iter()
                    .filter(|(l, v)| l == "F" && !v.is_empty())
                    .map(|(_, v)| (v.clone(), k)),
            );
            for (p, z) in old.files() {
                if all_new.contains_key(&p) {
                    continue;
                }
                let Ok(Some(clean)) = crate::layer::entry::clean_path(p.as_bytes()) else {
                    continue;
                };
                let Ok(dest) = c.view.resolve_parent(&clean) else {
                    continue;
                };
                if !c.view.get(&dest).is_some_and(|n| n.kind != Kind::Dir) {
                    continue;
                }
                // A protected file the image changed stays (apk's purge keeps it).
                if protect.covers(&clean) {
                    let same = match (on_disk(c, &dest), z.as_deref().and_then(apk::from_q1)) {
                        (Some(d), Some(z)) => d == z,
                        _ => false,
                    };
                    if !same {
                        ap.conffiles_kept
                            .push(format!("/{p} (changed in the image; left in place)"));
                        continue;
                    }
                }
                gone.push((dest, k, p));
            }
        }
        // A directory an old version owned that no package owns now is removed when nothing
        // is left in it (apk's rmdir when a directory's last owner goes).
        let owned: BTreeSet<&str> = all
            .iter()
            .filter(|b| !b.get("P").is_some_and(|n| updated.contains(n.as_str())))
            .flat_map(|b| {
                b.fields
                    .iter()
                    .filter(|(l, _)| l == "F")
                    .map(|(_, v)| v.as_str())
            })
            .chain(new_dirs.iter().map(String::as_str))
            .collect();
        old_dirs.retain(|(d, _)| !owned.contains(d.as_str()));
        old_dirs.sort_by_key(|(d, _)| std::cmp::Reverse(d.matches('/').count()));
        old_dirs.dedup_by(|a, b| a.0 == b.0);
        let mut away: BTreeSet<Vec<u8>> = gone.iter().map(|(d, _, _)| d.clone()).collect();
        let mut rmdirs: Vec<(Vec<u8>, usize, String)> = Vec::new();
        for (d, k) in old_dirs {
            let Ok(Some(clean)) = crate::layer::entry::clean_path(d.as_bytes()) else {
                continue;
            };
            let Ok(dest) = c.view.resolve(&clean) else {
                continue;
            };
            if !c.view.get(&dest).is_some_and(|n| n.kind == Kind::Dir) {
                continue;
            }
            let mut under = dest.clone();
            under.push(b'/');
            let empty = c
                .view
                .subtree(&dest)
                .skip(1)
                .all(|(p, _)| away.contains(p.as_bytes()))
                && !written.iter().any(|w| w.starts_with(&under));
            if empty {
                away.insert(dest.clone());
                rmdirs.push((dest, k, format!("{d}/")));
            }
        }
        let removed_dirs: Vec<Vec<u8>> = rmdirs.iter().map(|(d, _, _)| d.clone()).collect();
        let inside = |p: &[u8]| {
            removed_dirs
                .iter()
                .any(|d| p.len() > d.len() && p.starts_with(d) && p[d.len()] == b'/')
        };
        for (dest, k, p) in gone.into_iter().chain(rmdirs) {
            let ap = &mut applied[k];
            ap.removed.push(format!("/{p}"));
            if let Some((d, _)) = p.trim_end_matches('/').rsplit_once('/') {
                touched.insert(d.to_string());
            }
            // One whiteout for a removed directory covers what was in it.
            if !inside(&dest) && written.insert(whiteout_path(&dest)) {
                tw.append_marker(&whiteout_path(&dest)).map_err(io)?;
            }
        }
        // The database: each updated block where it stood, a new package's where apk sorts
        // it (by name).
        let mut fresh: Vec<(&String, &String)> = new_blocks
            .iter()
            .filter(|(n, _)| updates.iter().any(|u| u.to.name == **n && u.from.is_none()))
            .collect();
        fresh.reverse();
        let mut out = String::new();
        for b in &all {
            let name = b.get("P").unwrap_or_default();
            while fresh.last().is_some_and(|(n, _)| **n < name) {
                let (_, e) = fresh.pop().unwrap_or_else(|| unreachable!());
                out.push_str(e);
                out.push('\n');
            }
            let from = updates
                .iter()
                .find(|u| u.from.as_ref().is_some_and(|f| f.name == name));
            match from {
                Some(u) => out.push_str(&new_blocks[&u.to.name]),
                None => {
                    out.push_str(&b.raw);
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
            .get(db_path.as_bytes())
            .map(|n| Meta {
                mtime,
                ..n.meta.clone()
            })
            .unwrap_or(db_meta.clone());
        let db_dest = c
            .view
            .resolve_parent(db_path.as_bytes())
            .map_err(|e| Error::context(format!("/{db_path}"), e))?;
        write_file(tw, &db_dest, &meta, out.as_bytes())?;
        let db_dir = db_path.rsplit_once('/').map_or("", |x| x.0);
        let olds: Vec<(String, String, String)> = updates
            .iter()
            .filter_map(|u| {
                let f = u.from.as_ref()?;
                let b = all
                    .iter()
                    .find(|b| b.get("P").as_deref() == Some(f.name.as_str()))?;
                Some((
                    f.name.clone(),
                    f.version.clone(),
                    b.get("C").unwrap_or_default(),
                ))
            })
            .collect();
        let olds_c: BTreeSet<&str> = olds.iter().map(|(_, _, c)| c.as_str()).collect();
        // `triggers`: the old versions' lines out, the new versions' in.
        let trig_path = format!("{db_dir}/triggers");
        let old_trig = c
            .kept_at(trig_path.as_bytes())
            .map(|b| String::from_utf8_lossy(b).into_owned());
        let mut trig = String::new();
        for l in old_trig.iter().flat_map(|t| t.lines()) {
            let csum = l.split_whitespace().next().unwrap_or("");
            if !olds_c.contains(csum) {
                trig.push_str(l);
                trig.push('\n');
            }
        }
        for a in apks {
            let t = a.all("triggers");
            if !t.is_empty() {
                trig.push_str(&format!("{} {}\n", a.identity, t.join(" ")));
            }
        }
        if old_trig.as_deref().is_some_and(|o| o != trig)
            || (old_trig.is_none() && !trig.is_empty())
        {
            let dest = c
                .view
                .resolve_parent(trig_path.as_bytes())
                .map_err(|e| Error::context(format!("/{trig_path}"), e))?;
            write_file(tw, &dest, &db_meta, trig.as_bytes())?;
        }
        // `scripts.tar`: the old versions' entries out, the new versions' in at the end.
        let st_path = format!("{db_dir}/scripts.tar");
        let old_st = c.kept_at(st_path.as_bytes());
        let any_new = apks.iter().any(|a| !a.scripts.is_empty());
        if old_st.is_some() || any_new {
            let st = scripts_tar(old_st.unwrap_or(&[]), &olds, apks)
                .map_err(|e| Error::Invalid(format!("/{st_path}: {e}")))?;
            if old_st != Some(st.as_slice()) {
                let dest = c
                    .view
                    .resolve_parent(st_path.as_bytes())
                    .map_err(|e| Error::context(format!("/{st_path}"), e))?;
                write_file(tw, &dest, &db_meta, &st)?;
            }
        }
        Ok(())
    })?;
    let files = written
        .into_iter()
        .filter(|p| {
            !p.rsplit(|&b| b == b'/')
                .next()
                .unwrap_or(p)
                .starts_with(b".wh.")
        })
        .collect();
    Ok(Built {
        layer,
        applied,
        files,
        touched_dirs: touched,
    })
}

/// A new file in a protected directory where the image has one: overwritten when the image's
/// is what the database says was installed, else left, with the new one as `.apk-new` unless
/// it is the same (apk's `apk_db_migrate_files`).
#[allow(clippy::too_many_arguments)]
fn land_protected(
    c: &Contents,
    tw: &mut LayerTar<'_>,
    path: &str,
    dest: &[u8],
    meta: &Meta,
    kind: &Kind,
    body: &[u8],
    new: &[u8],
    old_sum: &BTreeMap<String, String>,
    ap: &mut Applied,
    written: &mut BTreeSet<Vec<u8>>,
) -> Result<()> {
    let disk = on_disk(c, dest);
    let recorded = old_sum.get(path).and_then(|z| apk::from_q1(z));
    let pristine = matches!((&disk, &recorded), (Some(d), Some(r)) if d == r);
    let mut target = dest.to_vec();
    if !pristine {
        if disk.as_deref() == Some(new) {
            ap.conffiles_kept.push(format!(
                "/{path} (changed in the image; the same as the new one)"
            ));
            return Ok(());
        }
        ap.conffiles_kept.push(format!(
            "/{path} (changed in the image; the new version is /{path}.apk-new)"
        ));
        target.extend_from_slice(b".apk-new");
    }
    match kind {
        Kind::Symlink(t) => tw
            .append_header(&target, &OutKind::Symlink(t), meta)
            .map_err(io)?,
        _ => write_file(tw, &target, meta, body)?,
    }
    written.insert(target);
    Ok(())
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

/// A writer that hashes (SHA1, as apk's `Z:`) what it passes on.
struct Sha1Tee<W> {
    w: W,
    h: sha1::Sha1,
}

impl<W: Write> Write for Sha1Tee<W> {
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
