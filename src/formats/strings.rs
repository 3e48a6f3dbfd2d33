//! The strings a parser copies out of one file (a name in an ELF file's string table, a path
//! in `ld.so.cache`): each at most `PATH_MAX` bytes (a run path, a list of paths, at most
//! `MAX_RUN_PATH`), and all of them together at most twice the file's size or
//! `STRINGS_PER_FILE`, whichever is larger. Entries that point at the same
//! long string over and over then cost what the file costs, not its size times their number.

use crate::error::{Error, Result};
use crate::model::limits::{Limit, PATH_MAX, STRINGS_PER_FILE};
use std::cell::Cell;

/// The strings read from one file so far.
pub(crate) struct Strings<'a> {
    file: &'a [u8],
    /// Names the file in errors: `ELF`, `ld.so.cache`.
    what: &'static str,
    left: Cell<usize>,
}

impl<'a> Strings<'a> {
    pub fn new(file: &'a [u8], what: &'static str) -> Strings<'a> {
        Strings {
            file,
            what,
            left: Cell::new(budget(file)),
        }
    }

    /// The NUL-terminated string at `off` (or up to the end of the file), a name or a path:
    /// at most `PATH_MAX` bytes.
    pub fn at(&self, off: u64) -> Result<String> {
        self.within(off, PATH_MAX)
    }

    /// The NUL-terminated string at `off` (or up to the end of the file), at most `limit`.
    pub fn within(&self, off: u64, limit: Limit) -> Result<String> {
        let s = usize::try_from(off)
            .ok()
            .filter(|&s| s < self.file.len())
            .ok_or_else(|| {
                Error::Invalid(format!("{}: string at {off} outside the file", self.what))
            })?;
        let s = bounded(&self.file[s..], limit, || {
            format!("{}: the string at {off}", self.what)
        })?;
        self.charge(s.len())?;
        Ok(String::from_utf8_lossy(s).into_owned())
    }

    /// Takes a string of `len` bytes (and its NUL) from what is left.
    pub fn charge(&self, len: usize) -> Result<()> {
        let cost = len + 1;
        match self.left.get().checked_sub(cost) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => Err(STRINGS_PER_FILE.error(
                format!("{}: the strings its entries point to", self.what),
                format!(
                    "more than {} bytes together (twice the file's size, when larger than the limit)",
                    budget(self.file)
                ),
            )),
        }
    }
}

/// What the strings read from `file` may take together: each byte of it read twice (a name
/// may be the tail of a path, as ldconfig writes them), or the limit for a small file.
fn budget(file: &[u8]) -> usize {
    file.len().saturating_mul(2).max(STRINGS_PER_FILE.get())
}

/// The string at the start of `b` (up to a NUL or the end), a name or a path: at most
/// `PATH_MAX` bytes; `what` names it in the error.
pub(crate) fn name(b: &[u8], what: impl FnOnce() -> String) -> Result<&[u8]> {
    bounded(b, PATH_MAX, what)
}

/// The string at the start of `b` (up to a NUL or the end), at most `limit` bytes; `what`
/// names it in the error. Reads at most `limit` + 1 bytes.
fn bounded(b: &[u8], limit: Limit, what: impl FnOnce() -> String) -> Result<&[u8]> {
    let window = &b[..b.len().min(limit.get() + 1)];
    match window.iter().position(|&c| c == 0) {
        Some(end) => Ok(&b[..end]),
        None if window.len() <= limit.get() => Ok(window),
        None => Err(limit.error(what(), "longer than the limit")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_string_and_all_together_are_bounded() {
        let mut file = b"\0short\0".to_vec();
        file.extend(std::iter::repeat_n(b'x', 5000));
        let s = Strings::new(&file, "T");
        assert_eq!(s.at(1).unwrap(), "short");
        let e = s.at(7).unwrap_err().to_string();
        assert!(
            e.starts_with("T: the string at 7: longer than the limit"),
            "{e}"
        );
        assert_eq!(s.at(file.len() as u64 - 3).unwrap(), "xxx");
        assert!(s.at(file.len() as u64).is_err());
        // The same 4000 bytes again and again: 64 KiB in all, then the limit.
        file[4007] = 0;
        let s = Strings::new(&file, "T");
        let ok = (0..20).take_while(|_| s.at(7).is_ok()).count();
        assert_eq!(ok, (64 << 10) / 4001);
        let e = s.at(7).unwrap_err().to_string();
        assert!(e.ends_with("(STRINGS_PER_FILE)"), "{e}");
    }
}
