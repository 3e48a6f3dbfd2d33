//! What the commands print besides a result's own text: stderr lines that first clear the
//! progress line, stdout that a reader may leave early, warnings, and the digest file.

use anyhow::Result;
use regraft::model::digest::Digest;

/// `eprintln!`, after clearing the progress line.
macro_rules! say {
    ($($t:tt)*) => {{
        regraft::progress::stop();
        eprintln!($($t)*);
    }};
}

/// `eprint!`, after clearing the progress line.
macro_rules! say_part {
    ($($t:tt)*) => {{
        regraft::progress::stop();
        eprint!($($t)*);
    }};
}

/// Writes a command's output to stdout; a reader that went away (`| head`) is no error
/// (`print!` would panic).
pub fn emit(s: &str) -> Result<()> {
    use std::io::Write as _;
    let mut o = std::io::stdout().lock();
    match o.write_all(s.as_bytes()).and_then(|()| o.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// A warning on stderr, after clearing the progress line.
pub fn warn(w: &str) {
    say!("regraft: warning: {}", regraft::text::sanitize(w));
}

/// Writes `d` to `--digestfile`, when given.
pub fn write_digestfile(path: Option<&str>, d: &Digest) -> Result<()> {
    if let Some(p) = path {
        std::fs::write(p, d.to_string()).map_err(|e| regraft::Error::io(p, e))?;
    }
    Ok(())
}

/// Writes a document the user asked for with a file flag (`sbom -o`, `diff --vex-out`,
/// `triage --sarif`) atomically: a synced temporary beside it renamed into place, so a failed
/// run leaves nothing half-written there.
pub fn write_output_file(path: &str, bytes: &[u8]) -> Result<()> {
    let p = std::path::Path::new(path);
    let name = p
        .file_name()
        .ok_or_else(|| regraft::Error::Usage(format!("{path}: not a file name")))?;
    let dir = regraft::store::temp::parent_dir(p);
    std::fs::create_dir_all(&dir).map_err(|e| regraft::Error::io(&dir, e))?;
    regraft::store::temp::write_file_atomic(&dir, &name.to_string_lossy(), bytes)?;
    Ok(())
}
