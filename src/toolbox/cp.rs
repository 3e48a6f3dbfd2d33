//! `cp`: copy a path out of an image's merged filesystem, with `docker cp` semantics: a new
//! DEST becomes a copy of PATH; an existing directory DEST receives PATH's basename inside it;
//! `-` writes a tar of it to stdout. Writing to the host is defensive: nothing is written
//! through a symlink, no device node is created (skipped with a warning), and setuid/setgid
//! bits are cleared unless `--preserve-special`. Ownership is the caller's; modes and mtimes
//! are kept.

use crate::error::{Error, IoContext, Result};
use crate::layer::entry::{Kind, split_parent};
use crate::layer::tarw::{OutKind, TarWriter};
use crate::model::image::Image;
use crate::view::load::merged_view;
use crate::view::spill::Spill;
use crate::view::{MergedView, Node};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Splits `IMAGE:PATH` at the last `:` followed by `/`.
pub fn split_image_path(s: &str) -> Result<(String, String)> {
    match s.rmatch_indices(":/").next() {
        Some((i, _)) if i > 0 => Ok((s[..i].to_string(), s[i + 1..].to_string())),
        _ => Err(Error::Usage(format!("{s:?}: expected IMAGE:/PATH"))),
    }
}

pub struct CpOptions {
    pub preserve_special: bool,
}

struct Selected {
    view: MergedView,
    spill: Spill,
    src: Vec<u8>,
}

fn select(img: &Image, path: &str, max: u64, spill_dir: &Path) -> Result<Selected> {
    let sel = crate::model::path::clean_selection(path).or_else(|e| {
        if path.trim_matches('/').is_empty() {
            Ok(vec![])
        } else {
            Err(e)
        }
    })?;
    let mut spill = Spill::new(spill_dir)?;
    let keep = vec![sel.clone()];
    let mut view = merged_view(img, max, &keep, Some(&mut spill))?;
    let src = if sel.is_empty() {
        sel
    } else {
        view.resolve_parent(&sel)?
    };
    super::must_exist(img, &view, &src, &crate::text::sanitize(path))?;
    crate::view::load::fill_missing(img, max, &mut view, std::slice::from_ref(&src), &mut spill)?;
    Ok(Selected { view, spill, src })
}

fn basename(p: &[u8]) -> &[u8] {
    split_parent(p).1
}

/// Writes the selection as a tar (PATH's basename as its top entry) to `w`.
pub fn cp_to_tar(img: &Image, path: &str, max: u64, w: impl Write) -> Result<()> {
    let s = select(img, path, max, &std::env::temp_dir())?;
    let io = |e: std::io::Error| Error::io_while("writing the tar", e);
    let mut tw = TarWriter::new(std::io::BufWriter::new(w));
    let base = basename(&s.src).to_vec();
    let mut first: HashMap<u32, Vec<u8>> = HashMap::new();
    for (k, n) in s.view.subtree(&s.src) {
        let rel = &k[s.src.len()..];
        let name = if base.is_empty() {
            rel.trim_ascii_start()
                .strip_prefix(b"/")
                .unwrap_or(rel)
                .to_vec()
        } else {
            [base.as_slice(), rel].concat()
        };
        if name.is_empty() {
            continue;
        }
        if n.kind == Kind::File {
            if let Some(t) = first.get(&n.inode) {
                tw.append_header(&name, &OutKind::Hardlink(t), &n.meta)
                    .map_err(io)?;
                continue;
            }
            first.insert(n.inode, name.clone());
        }
        tw.append_header(&name, &OutKind::from_kind(&n.kind, n.size), &n.meta)
            .map_err(io)?;
        if n.kind == Kind::File && n.size > 0 {
            let d = n
                .data()
                .ok_or_else(|| Error::Invalid("internal: no data kept".into()))?;
            s.spill.copy_to(d, tw.data())?;
            tw.pad(n.size).map_err(io)?;
        }
    }
    let mut w = tw.finish().map_err(io)?;
    w.flush().map_err(io)?;
    s.spill.check_unchanged()
}

/// Copies the selection to a host path. Returns warnings.
pub fn cp_to_dir(
    img: &Image,
    path: &str,
    dest: &Path,
    opts: &CpOptions,
    max: u64,
) -> Result<Vec<String>> {
    let target = host_target(dest, path)?;
    let s = select(img, path, max, &std::env::temp_dir())?;
    if s.src.is_empty() && !target.is_dir() {
        // The root has no node of its own.
        fs::create_dir(&target).at(&target)?;
    }
    let mut w = HostWriter {
        target: &target,
        opts,
        spill: &s.spill,
        warnings: Vec::new(),
        first: HashMap::new(),
        dirs: Vec::new(),
    };
    for (k, n) in s.view.subtree(&s.src) {
        let rel = &k[s.src.len()..];
        let rel = rel.strip_prefix(b"/").unwrap_or(rel);
        let out = if rel.is_empty() {
            target.clone()
        } else {
            target.join(OsStr::from_bytes(rel))
        };
        w.write(k, n, out)?;
    }
    w.finish_dirs()?;
    s.spill.check_unchanged()?;
    Ok(w.warnings)
}

/// Where on the host the selection goes: `dest` itself when it is new, PATH's basename inside
/// it when it is a directory. Never a symlink, never over a file, never into a missing
/// directory.
fn host_target(dest: &Path, path: &str) -> Result<PathBuf> {
    let target: PathBuf = match fs::symlink_metadata(dest) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(Error::Invalid(format!(
                "{}: is a symlink; regraft cp never writes through one",
                dest.display()
            )));
        }
        Ok(m) if m.is_dir() => {
            let s = crate::model::path::clean_selection(path)?;
            dest.join(OsStr::from_bytes(basename(&s)))
        }
        Ok(_) => {
            return Err(Error::Invalid(format!(
                "{}: exists and is not a directory",
                dest.display()
            )));
        }
        Err(_) => dest.to_path_buf(),
    };
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Error::Invalid(format!(
            "{}: parent directory does not exist",
            target.display()
        )));
    }
    Ok(target)
}

/// The mode a node gets on the host: setuid and setgid cleared unless `--preserve-special`.
fn host_mode(mode: u32, opts: &CpOptions) -> u32 {
    let mode = mode & 0o7777;
    if opts.preserve_special {
        mode
    } else {
        mode & !0o6000
    }
}

/// Writes the nodes of a selection under `target`, in path order.
struct HostWriter<'a> {
    target: &'a Path,
    opts: &'a CpOptions,
    spill: &'a Spill,
    warnings: Vec<String>,
    /// The first path written for each hardlink group.
    first: HashMap<u32, PathBuf>,
    /// Directories get their modes and mtimes last (`finish_dirs`).
    dirs: Vec<(PathBuf, &'a Node)>,
}

impl<'a> HostWriter<'a> {
    /// Writes node `n` (image path `k`) at `out`.
    fn write(&mut self, k: &[u8], n: &'a Node, out: PathBuf) -> Result<()> {
        self.refuse_links(&out)?;
        let shown = format!("/{}", String::from_utf8_lossy(k));
        let mode = host_mode(n.meta.mode, self.opts);
        if mode != n.meta.mode & 0o7777 {
            self.warnings.push(format!(
                "{shown}: setuid/setgid cleared (use --preserve-special to keep)"
            ));
        }
        match &n.kind {
            Kind::Dir => {
                if !out.is_dir() {
                    fs::create_dir(&out).at(&out)?;
                }
                self.dirs.push((out, n));
            }
            Kind::File => self.write_file(n, out, mode, &shown)?,
            Kind::Symlink(t) => {
                let _ = fs::remove_file(&out);
                std::os::unix::fs::symlink(OsStr::from_bytes(t), &out).at(&out)?;
            }
            Kind::Char | Kind::Block | Kind::Fifo => {
                self.warnings.push(format!(
                    "{shown}: {} not created on the host; skipped",
                    n.kind.name()
                ));
            }
        }
        Ok(())
    }

    /// Never through a symlink: every existing component below the target must be a real
    /// directory (we create them ourselves, in order, so this only trips on a race or on an
    /// existing tree that holds links), and `out` itself no symlink.
    fn refuse_links(&self, out: &Path) -> Result<()> {
        if let Some(p) = out.parent()
            && p.starts_with(self.target)
            && fs::symlink_metadata(p)
                .map(|m| !m.is_dir())
                .unwrap_or(false)
        {
            return Err(Error::Invalid(format!(
                "{}: parent is not a directory (a symlink?); refusing",
                out.display()
            )));
        }
        if let Ok(m) = fs::symlink_metadata(out)
            && m.file_type().is_symlink()
        {
            return Err(Error::Invalid(format!(
                "{}: exists as a symlink; regraft cp never writes through one",
                out.display()
            )));
        }
        Ok(())
    }

    /// A regular file: a hardlink to the group's first path, or a new file with the node's
    /// data, mode and mtime.
    fn write_file(&mut self, n: &Node, out: PathBuf, mode: u32, shown: &str) -> Result<()> {
        let _ = fs::remove_file(&out);
        if let Some(t) = self.first.get(&n.inode) {
            fs::hard_link(t, &out).at(&out)?;
            return Ok(());
        }
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&out)
            .at(&out)?;
        if let Some(d) = n.data() {
            self.spill.copy_to(d, &mut f)?;
        } else if n.size > 0 {
            return Err(Error::Invalid(format!(
                "internal: no data kept for {shown}"
            )));
        }
        f.set_permissions(fs::Permissions::from_mode(mode))
            .at(&out)?;
        f.set_modified(mtime(n)).at(&out)?;
        self.first.insert(n.inode, out);
        Ok(())
    }

    /// Directory modes and mtimes last, deepest first, so that filling them does not undo it.
    fn finish_dirs(&self) -> Result<()> {
        for (p, n) in self.dirs.iter().rev() {
            let mode = host_mode(n.meta.mode, self.opts);
            fs::set_permissions(p, fs::Permissions::from_mode(mode | 0o700)).at(p)?;
            if let Ok(f) = fs::File::open(p) {
                let _ = f.set_modified(mtime(n));
            }
            fs::set_permissions(p, fs::Permissions::from_mode(mode)).at(p)?;
        }
        Ok(())
    }
}

fn mtime(n: &Node) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(n.meta.mtime)
}
