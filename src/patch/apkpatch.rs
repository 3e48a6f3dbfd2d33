//! `regraft patch` on an apk image (Alpine, Wolfi): the repositories read (`apkrepo.rs`), the
//! plan (`apkplan.rs`), each package checked against its index before it is read, the scripts
//! apk would run listed and refused unless accepted, then the one layer (`apkapply.rs`).
//! The scripts apk runs for an upgrade are the new version's `.pre-upgrade`/`.post-upgrade`
//! (`.pre-install`/`.post-install` for a package new to the image), its `.trigger` when it
//! declares triggers, and the `.trigger` of every installed package whose trigger directories
//! the update writes into or removes from (`lib/apk/db/triggers`).

use super::apkapply::{self, Built};
use super::apkdb;
use super::apkrepo::{self, ApkRepos};
use super::{Patched, Want, apkplan};
use crate::check::accept::Accepts;
use crate::codec::compress::Codec;
use crate::error::{Error, Result};
use crate::model::image::Image;
use crate::packages::{APK_INSTALLED, APK_INSTALLED_USR};
use crate::view::contents::Contents;
use std::path::{Path, PathBuf};

/// Where the image keeps apk's `installed`, if it is an apk image.
pub fn db_path(c: &Contents) -> Option<&'static str> {
    [APK_INSTALLED, APK_INSTALLED_USR]
        .into_iter()
        .find(|p| c.kept_at(p).is_some())
        .map(|p| std::str::from_utf8(p).unwrap_or_default())
}

/// What `patch` did, and what the repositories were.
pub struct ApkPatched {
    pub patched: Patched,
    pub notes: Vec<String>,
}

/// Plans and applies the apk updates `want` asks for.
#[allow(clippy::too_many_arguments)]
pub fn patch(
    img: &Image,
    c: &Contents,
    repo_paths: &[PathBuf],
    keyring: &[PathBuf],
    want: &Want,
    accepts: &Accepts,
    codec: Codec,
    out_dir: Option<&Path>,
    mtime: u64,
    max_layer_size: u64,
) -> Result<ApkPatched> {
    let db_path = db_path(c)
        .ok_or_else(|| Error::Invalid(format!("{}: no /lib/apk/db/installed", img.name)))?;
    let keys = if keyring.is_empty() {
        None
    } else {
        Some(super::apksign::Keys::read(keyring)?)
    };
    let repos = ApkRepos::read(repo_paths, keys.as_ref())?;
    let db =
        String::from_utf8_lossy(c.kept_at(db_path.as_bytes()).unwrap_or_default()).into_owned();
    let installed = apkplan::installed(&db);
    let super::plan::Plan { updates, unfixed } = apkplan::plan(&installed, &repos.packages, want)?;
    // Each package is what its index says before anything in it is used.
    let apks = updates
        .iter()
        .map(|u| apkrepo::verify(&u.to))
        .collect::<Result<Vec<_>>>()?;
    let mut blocked = Vec::new();
    let mut accepted_scripts = Vec::new();
    let mut take = |pkg: &str, what: String| match accepts.find("maintainer-script", pkg) {
        Some(_) => accepted_scripts.push((pkg.to_string(), what)),
        None => blocked.push(format!("{pkg}: {what}")),
    };
    for (u, a) in updates.iter().zip(&apks) {
        let runs: &[&str] = if u.from.is_some() {
            &["pre-upgrade", "post-upgrade"]
        } else {
            &["pre-install", "post-install"]
        };
        for s in runs {
            if a.scripts.contains_key(*s) {
                take(&u.to.name, format!("{} .{s}", u.to.version));
            }
        }
        let triggers = a.all("triggers");
        if a.scripts.contains_key("trigger") && !triggers.is_empty() {
            take(
                &u.to.name,
                format!("{} .trigger ({})", u.to.version, triggers.join(" ")),
            );
        }
    }
    if updates.is_empty() {
        return Ok(ApkPatched {
            patched: Patched {
                ld_so_cache: None,
                alternatives: Vec::new(),
                updates,
                unfixed,
                applied: Vec::new(),
                layer: None,
                files: Vec::new(),
                accepted_scripts,
            },
            notes: repos.notes,
        });
    }
    let scratch = out_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let Built {
        layer,
        applied,
        files,
        touched_dirs,
    } = apkapply::build(
        c,
        db_path,
        &updates,
        &apks,
        codec,
        Some(&scratch),
        &scratch,
        mtime,
        max_layer_size,
    )?;
    // Installed packages' triggers on the directories the update changes.
    let db_dir = db_path.rsplit_once('/').map_or("", |x| x.0);
    let trig = c
        .kept_at(format!("{db_dir}/{}", "triggers").as_bytes())
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let blocks = apkdb::blocks(&db);
    let updated: Vec<&str> = updates
        .iter()
        .filter_map(|u| u.from.as_ref().map(|f| f.name.as_str()))
        .collect();
    for l in trig.lines() {
        let mut w = l.split_whitespace();
        let Some(csum) = w.next() else { continue };
        let Some(owner) = blocks
            .iter()
            .find(|b| b.get("C").as_deref() == Some(csum))
            .and_then(|b| b.get("P"))
        else {
            continue;
        };
        if updated.contains(&owner.as_str()) {
            continue;
        }
        let hits: Vec<String> = touched_dirs
            .iter()
            .map(|d| format!("/{d}"))
            .filter(|d| {
                w.clone()
                    .any(|g| crate::model::glob::matches(g.as_bytes(), d.as_bytes()))
            })
            .collect();
        if !hits.is_empty() {
            take(&owner, format!("installed .trigger on {}", hits.join(" ")));
        }
    }
    if !blocked.is_empty() {
        return Err(Error::Invalid(format!(
            "the updates carry scripts that apk would run and regraft does not: {}. Read them (tar -xzf PACKAGE.apk .post-upgrade), and pass --accept maintainer-script:PACKAGE for each whose effect the image can do without",
            blocked.join("; ")
        )));
    }
    Ok(ApkPatched {
        patched: Patched {
            ld_so_cache: None,
            alternatives: Vec::new(),
            updates,
            unfixed,
            applied,
            layer: Some(layer),
            files,
            accepted_scripts,
        },
        notes: repos.notes,
    })
}
