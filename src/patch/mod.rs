//! `regraft patch`: updates an image's Debian packages in place, offline, from local
//! repositories, without running the image: the plan (`plan.rs`: what to update and what the
//! new versions need), the repositories (`repo.rs`), the `.deb` reader (`deb.rs`) and the one
//! new layer with dpkg's database updated (`apply.rs`). Maintainer scripts are not run: each
//! one an update carries (the new version's `preinst`/`postinst`, the old one's
//! `prerm`/`postrm`) blocks the patch unless `--accept maintainer-script:PACKAGE` takes it
//! on, except a new version's `postinst` that only registers alternatives, which is done here
//! as `update-alternatives` does it (`alternatives.rs`); `ldconfig` triggers are done here: when an update adds or removes a library, the layer
//! carries `/etc/ld.so.cache` as the image's `ldconfig` would write it (`ldconfig.rs`).
//! An apk image (Alpine, Wolfi) goes through `apkpatch.rs` and its parts (`apk.rs`,
//! `apkrepo.rs`, `apkplan.rs`, `apkdb.rs`, `apkapply.rs`) into the same `Patched`.

pub mod alternatives;
pub mod apk;
pub mod apkapply;
pub mod apkdb;
pub mod apkpatch;
pub mod apkplan;
pub mod apkrepo;
pub mod apksign;
pub mod apply;
pub mod deb;
pub mod ldconfig;
pub mod plan;
pub mod repo;

use crate::check::accept::Accepts;
use crate::codec::compress::Codec;
use crate::error::{Error, Result};
use crate::layer::entry::Meta;
use crate::model::image::{Image, Layer};
use crate::model::limits::MAX_PACKAGE_DB;
use crate::view::contents::{self, Contents, Wanted};
use crate::view::fs::{Fs, Verify};
pub use apply::Applied;
pub use plan::{Update, Want};
use std::path::Path;

/// What the patch reads of the image: dpkg's `status` and `info/`, apk's `lib/apk/db/`, and
/// `/etc` (conffiles, apk's protected files).
pub fn read_image(img: &Image, max_layer_size: u64) -> Result<Contents> {
    let keep = |p: &[u8]| {
        p == b"var/lib/dpkg/status"
            || p.starts_with(b"var/lib/dpkg/info/")
            || p.starts_with(b"etc/")
            || p.starts_with(b"lib/apk/db/")
            || p.starts_with(b"usr/lib/apk/db/")
    };
    contents::read(
        img,
        max_layer_size,
        &Wanted {
            hash: false,
            keep: &keep,
            keep_max: MAX_PACKAGE_DB,
            probe_elf: &|_| false,
            watch: &[],
        },
    )
}

/// The maintainer scripts an update carries: (package, script names).
pub fn scripts(c: &Contents, u: &Update, new_files: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = new_files
        .iter()
        .filter(|f| ["preinst", "postinst"].contains(f))
        .map(|f| format!("{} {f}", u.to.version))
        .collect();
    let Some(from) = &u.from else { return v };
    for old in ["prerm", "postrm"] {
        let any = [format!("{}:{}", from.name, from.arch), from.name.clone()]
            .iter()
            .any(|p| {
                c.view
                    .get(format!("var/lib/dpkg/info/{p}.{old}").as_bytes())
                    .is_some()
            });
        if any {
            v.push(format!("{} {old}", from.version));
        }
    }
    v
}

/// The plan, its checks, and the layer (None for a dry run).
pub struct Patched {
    pub updates: Vec<Update>,
    /// What a report asked for that the repositories cannot fix.
    pub unfixed: Vec<String>,
    pub applied: Vec<Applied>,
    pub layer: Option<Layer>,
    /// (package, script) the user accepted.
    pub accepted_scripts: Vec<(String, String)>,
    /// The package files the layer writes (cleaned, relative).
    pub files: Vec<Vec<u8>>,
    /// Set when the layer holds a regenerated `/etc/ld.so.cache`: what it says.
    pub ld_so_cache: Option<String>,
    /// The alternatives a `postinst` registers, done by regraft (one line each).
    pub alternatives: Vec<String>,
}

/// The will-it-run check of the patched image: the application is the patch layer (the new
/// versions' files, checked against the image's loader, libraries and symbol versions); the
/// same files in the image before the patch are the baseline, so what they already lacked is
/// pre-existing. `--accept` rules pass findings one by one.
/// None when there is no patch layer (nothing to update).
pub fn check(
    img: &Image,
    p: &Patched,
    accepts: &Accepts,
    max_layer_size: u64,
) -> Result<Option<crate::check::Report>> {
    use crate::check::CheckInput;
    use crate::view::fs::Verify;
    let Some(layer) = &p.layer else {
        return Ok(None);
    };
    let mut layers = img.layers.clone();
    layers.push(layer.clone());
    let input = |layers: &[crate::model::image::Layer],
                 boundary,
                 paths: &[Vec<u8>]|
     -> Result<crate::check::Report> {
        Ok(crate::check::check(
            &CheckInput {
                name: &img.name,
                layers,
                boundary,
                paths,
                config: &img.config,
                max_layer_size,
                verify: Verify::Here,
            },
            None,
        )?
        .0)
    };
    let mut report = input(&layers, img.layers.len(), &[])?;
    // The layer is dpkg's own update (its database written with it): replacing the old
    // versions' files is what it is for, not a shadowed package.
    report.drop_check("shadowed-package");
    report.application = format!("the patch layer ({} package file(s))", p.files.len());
    if !report.findings.is_empty() {
        let before = crate::view::load::merged_view(img, max_layer_size, &[], None)?;
        let existed: Vec<Vec<u8>> = p
            .files
            .iter()
            .filter(|f| before.get(f).is_some())
            .cloned()
            .collect();
        if !existed.is_empty() {
            let mut baseline = input(&img.layers, 0, &existed)?;
            baseline.baseline = None;
            report.compare_with(&baseline);
            report.baseline = Some(format!("{} before the patch", img.name));
        }
    }
    report.accept(accepts);
    Ok(Some(report))
}

/// Plans and applies the updates `want` asks for.
#[allow(clippy::too_many_arguments)]
pub fn patch(
    img: &Image,
    c: &Contents,
    repos: &repo::Repos,
    want: &Want,
    accepts: &Accepts,
    codec: Codec,
    out_dir: Option<&Path>,
    mtime: u64,
    max_layer_size: u64,
) -> Result<Patched> {
    let status = c.kept_at(b"var/lib/dpkg/status").ok_or_else(|| {
        Error::Invalid(format!(
            "{}: no /var/lib/dpkg/status and no /lib/apk/db/installed: regraft patch updates dpkg and apk packages",
            img.name
        ))
    })?;
    let installed = plan::installed(&String::from_utf8_lossy(status));
    let plan::Plan { updates, unfixed } = plan::plan(&installed, repos, want)?;
    let mut blocked = Vec::new();
    let mut accepted_scripts = Vec::new();
    let mut alt_groups: Vec<(String, Vec<alternatives::Group>)> = Vec::new();
    for u in &updates {
        // The .deb is what its index says before anything in it is read, and its control
        // names the package the plan chose.
        repo::verify(&u.to)?;
        let control = deb::Deb::open(&u.to.path)?.control()?;
        let f = deb::fields(&control.control);
        let said = |k| deb::field(&f, k).unwrap_or("");
        if said("Package") != u.to.name
            || said("Version") != u.to.version
            || said("Architecture") != u.to.arch
        {
            return Err(Error::Invalid(format!(
                "{}: the index says {} {} {}, the package's control {} {} {}",
                u.to.path.display(),
                u.to.name,
                u.to.version,
                u.to.arch,
                said("Package"),
                said("Version"),
                said("Architecture")
            )));
        }
        let names: Vec<&str> = control.files.keys().map(String::as_str).collect();
        for s in scripts(c, u, &names) {
            let accepted = accepts.find("maintainer-script", &u.to.name).is_some();
            // A postinst that only registers alternatives is done here.
            let alts = (!accepted && s.ends_with(" postinst"))
                .then(|| control.files.get("postinst"))
                .flatten()
                .and_then(|b| alternatives::parse_postinst(b));
            match (accepted, alts) {
                (true, _) => accepted_scripts.push((u.to.name.clone(), s)),
                (false, Some(groups)) => alt_groups.push((u.to.name.clone(), groups)),
                (false, None) => blocked.push(format!("{}: {s}", u.to.name)),
            }
        }
        if let Some(t) = control.files.get("triggers") {
            for l in String::from_utf8_lossy(t)
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
            {
                let w: Vec<&str> = l.split_whitespace().collect();
                let ldconfig = matches!(w[..], ["activate-noawait" | "activate", "ldconfig"]);
                if !w.is_empty()
                    && !ldconfig
                    && accepts.find("maintainer-script", &u.to.name).is_none()
                {
                    blocked.push(format!("{}: trigger '{l}'", u.to.name));
                }
            }
        }
    }
    if !blocked.is_empty() {
        return Err(Error::Invalid(format!(
            "the updates carry maintainer scripts or triggers that regraft does not run: {}. Read them (dpkg-deb -e PACKAGE.deb), and pass --accept maintainer-script:PACKAGE for each whose effect the image can do without",
            blocked.join("; ")
        )));
    }
    if updates.is_empty() {
        return Ok(Patched {
            updates,
            unfixed,
            applied: Vec::new(),
            layer: None,
            files: Vec::new(),
            accepted_scripts,
            ld_so_cache: None,
            alternatives: Vec::new(),
        });
    }
    let scratch = out_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    // A dry run builds the layer too (in the temporary directory): the check reads it.
    let build = |extra: &[apply::Extra]| {
        apply::build(
            c,
            &updates,
            extra,
            codec,
            Some(&scratch),
            &scratch,
            mtime,
            max_layer_size,
        )
    };
    let (mut layer, applied, mut files) = build(&[])?;
    let db_meta = |mode| Meta {
        mode,
        mtime,
        ..Default::default()
    };
    let mut extra: Vec<apply::Extra> = Vec::new();
    let mut done_alternatives = Vec::new();
    if !alt_groups.is_empty() {
        let written: std::collections::BTreeSet<&[u8]> = files.iter().map(Vec::as_slice).collect();
        let exists = |p: &str| {
            let rel = p.trim_start_matches('/').as_bytes();
            written.contains(rel)
                || c.view
                    .resolve(rel)
                    .is_ok_and(|r| written.contains(r.as_slice()) || c.view.get(&r).is_some())
        };
        for d in ["etc/alternatives", "var/lib/dpkg/alternatives"] {
            if c.view
                .resolve(d.as_bytes())
                .ok()
                .and_then(|r| c.view.get(&r).cloned())
                .is_none()
            {
                extra.push(apply::Extra {
                    path: d.as_bytes().to_vec(),
                    meta: db_meta(0o755),
                    kind: apply::ExtraKind::Dir,
                });
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (pkg, groups) in &alt_groups {
            for g in groups {
                let admin_path = format!("var/lib/dpkg/alternatives/{}", g.name);
                let taken = c
                    .view
                    .resolve(admin_path.as_bytes())
                    .is_ok_and(|r| c.view.get(&r).is_some());
                if taken || !names.insert(g.name.clone()) {
                    return Err(Error::Invalid(format!(
                        "{pkg}: its postinst installs the alternative {} which the image (or another update) already has: regraft does not merge link groups yet; pass --accept maintainer-script:{pkg} and run update-alternatives on the result",
                        g.name
                    )));
                }
                let (links, admin) = alternatives::install(g, &exists)
                    .map_err(|e| Error::context(format!("{pkg}: postinst"), e))?;
                for (link, target) in &links {
                    let rel = link.trim_start_matches('/');
                    let path = c.view.resolve_parent(rel.as_bytes())?;
                    extra.push(apply::Extra {
                        path,
                        meta: db_meta(0o777),
                        kind: apply::ExtraKind::Symlink(target.as_bytes().to_vec()),
                    });
                }
                let path = c.view.resolve_parent(admin_path.as_bytes())?;
                extra.push(apply::Extra {
                    path,
                    meta: db_meta(0o644),
                    kind: apply::ExtraKind::File(admin.into_bytes()),
                });
                done_alternatives.push(format!(
                    "{pkg}: postinst done by regraft: update-alternatives --install {} {} {} {} (auto: {} -> /etc/alternatives/{} -> {})",
                    g.link, g.name, g.path, g.priority, g.link, g.name, g.path
                ));
            }
        }
    }
    // ldconfig's effect: a library added or gone changes /etc/ld.so.cache, which is written
    // again as the image's ldconfig would write it, and the layer built again with it.
    let mut ld_so_cache = None;
    let changed = applied.iter().any(|a| !a.libraries_changed.is_empty());
    if changed && let Some(old) = c.kept_at(b"etc/ld.so.cache") {
        let arch = plan::image_arch(&plan::installed(&String::from_utf8_lossy(status)));
        let mut fs = Fs::new(&img.name, img.layers.len(), max_layer_size, Verify::Here)?;
        for l in img.layers.iter().chain([&layer]) {
            fs.add_layer(l)?;
        }
        let cache = ldconfig::regenerate(&mut fs, &arch)
            .map_err(|e| Error::context("regenerating /etc/ld.so.cache", e))?;
        drop(fs);
        for (path, target) in &cache.links {
            extra.push(apply::Extra {
                path: path.clone(),
                meta: db_meta(0o777),
                kind: apply::ExtraKind::Symlink(target.as_bytes().to_vec()),
            });
        }
        let linked: Vec<String> = cache
            .links
            .iter()
            .map(|(p, t)| format!("/{} -> {t}", String::from_utf8_lossy(p)))
            .collect();
        if cache.bytes != old || !linked.is_empty() {
            let path = c.view.resolve_parent(b"etc/ld.so.cache")?;
            let meta = c
                .view
                .get(&path)
                .map(|n| Meta {
                    mtime,
                    ..n.meta.clone()
                })
                .unwrap_or(db_meta(0o644));
            extra.push(apply::Extra {
                path,
                meta,
                kind: apply::ExtraKind::File(cache.bytes),
            });
            ld_so_cache = Some(format!(
                "/etc/ld.so.cache rewritten as ldconfig would write it: {} libraries from {}{}",
                cache.entries,
                cache.dirs.join(" "),
                if linked.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; soname links made as ldconfig makes them: {}",
                        linked.join(", ")
                    )
                }
            ));
        }
    }
    if !extra.is_empty() {
        (layer, _, files) = build(&extra)?;
    }
    Ok(Patched {
        updates,
        unfixed,
        applied,
        layer: Some(layer),
        files,
        accepted_scripts,
        ld_so_cache,
        alternatives: done_alternatives,
    })
}
