//! Temporaries and atomic replacement: every image output (archive, layout, `index.json`) is
//! built under a temporary name beside its target, synced, and renamed into place, and so is
//! every temporary layer. Temporary names carry the writer's pid (`.regraft-tmp-<pid>-*`) so
//! that a later run can remove what a killed one left. (`--digestfile` and `cp`'s files on the
//! host are plain writes.) What will be renamed into place as an output is created with the
//! modes a plain `create` would give (0666 and 0777 less the umask), as `cp` would; scratch
//! temporaries stay private (0600).

use crate::error::{Error, IoContext, Result};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub const TEMP_PREFIX: &str = ".regraft-tmp-";

/// This process's prefix for temporary names.
pub fn temp_prefix() -> String {
    format!("{TEMP_PREFIX}{}-", std::process::id())
}

/// The directory a path's file lives in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> std::path::PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

/// Checks that nothing but missing directories stands between an output path and the
/// filesystem: its nearest existing ancestor must be a directory (`-o file.tar/x.tar`, where
/// `file.tar` is a file, is named as such instead of failing with `File exists`).
pub fn check_output_parent(path: &Path) -> Result<()> {
    for a in path.ancestors().skip(1) {
        if a.as_os_str().is_empty() {
            return Ok(());
        }
        match fs::metadata(a) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => {
                return Err(Error::Usage(format!(
                    "output {}: {} is not a directory",
                    crate::text::sanitize(&path.display().to_string()),
                    crate::text::sanitize(&a.display().to_string()),
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) if e.raw_os_error() == Some(20) => continue, // ENOTDIR: a file further up
            Err(e) => return Err(Error::io(a, e)),
        }
    }
    Ok(())
}

/// A private temporary file in `dir` (after removing stale ones): mode 0600, for scratch data
/// (a new layer before it is copied into an output) that others must not read.
pub fn temp_file_in(dir: &Path) -> Result<tempfile::NamedTempFile> {
    clean_stale_temps(dir);
    tempfile::Builder::new()
        .prefix(&temp_prefix())
        .tempfile_in(dir)
        .at(dir)
}

/// A temporary file in `dir` that will be renamed into place as (part of) an output: created
/// with mode 0666, which the kernel reduces by the umask, as `cp` would.
pub fn output_file_in(dir: &Path) -> Result<tempfile::NamedTempFile> {
    clean_stale_temps(dir);
    tempfile::Builder::new()
        .prefix(&temp_prefix())
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .at(dir)
}

/// A temporary directory in `dir` that will be renamed into place as an output (a layout):
/// mode 0777 less the umask, as `mkdir` would.
pub fn output_dir_in(dir: &Path) -> Result<tempfile::TempDir> {
    clean_stale_temps(dir);
    tempfile::Builder::new()
        .prefix(&temp_prefix())
        .permissions(fs::Permissions::from_mode(0o777))
        .tempdir_in(dir)
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

/// Writes the output file `dir/name` atomically: a synced temporary renamed over it.
pub fn write_file_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = output_file_in(dir)?;
    tmp.as_file().write_all(bytes).at(tmp.path())?;
    tmp.as_file().sync_all().at(tmp.path())?;
    let dest = dir.join(name);
    tmp.persist(&dest).map_err(|e| Error::io(&dest, e.error))?;
    Ok(())
}
