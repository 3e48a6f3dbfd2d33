//! The rest of the `docker cp` / `docker commit` toolbox, daemonless: copy files out of an
//! image (`cp`), append local files as a layer (`add`), delete paths with a whiteout layer
//! (`rm`), list the merged filesystem (`ls`) and edit the runtime config (`config`).

pub mod add;
pub mod append;
pub mod cp;
pub mod flatten;
pub mod ls;
pub mod raw;
pub mod rm;

use crate::error::{Error, Result};
use crate::layer::entry::{Kind, Meta};
use crate::model::image::Image;
use crate::view::MergedView;

/// `drwxr-xr-x`-style mode string.
pub fn mode_string(kind: &Kind, mode: u32) -> String {
    let t = match kind {
        Kind::Dir => 'd',
        Kind::Symlink(_) => 'l',
        Kind::Char => 'c',
        Kind::Block => 'b',
        Kind::Fifo => 'p',
        Kind::File => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(t);
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (i, (b, c)) in bits.iter().enumerate() {
        let set = mode & b != 0;
        let special = match i {
            2 => mode & 0o4000 != 0,
            5 => mode & 0o2000 != 0,
            8 => mode & 0o1000 != 0,
            _ => false,
        };
        s.push(match (set, special, i) {
            (true, true, 8) => 't',
            (false, true, 8) => 'T',
            (true, true, _) => 's',
            (false, true, _) => 'S',
            (true, false, _) => *c,
            (false, false, _) => '-',
        });
    }
    s
}

/// Parses `UID:GID` (numbers) for `--chown`.
pub fn parse_chown(s: &str) -> Result<(u64, u64)> {
    let (u, g) = s.split_once(':').unwrap_or((s, s));
    let n = |x: &str| {
        x.parse::<u64>()
            .map_err(|_| Error::Usage(format!("--chown {s:?}: expected numeric UID[:GID]")))
    };
    Ok((n(u)?, n(g)?))
}

/// Parses an octal `--chmod` mode.
pub fn parse_chmod(s: &str) -> Result<u32> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            Error::Usage(format!(
                "--chmod {s:?}: expected an octal mode such as 0755"
            ))
        })
}

/// Fails unless the view has something at `p` (the root is always there); `shown` is how the
/// message names the path.
fn must_exist(img: &Image, view: &MergedView, p: &[u8], shown: &str) -> Result<()> {
    if !p.is_empty() && view.get(p).is_none() {
        return Err(Error::Invalid(format!(
            "{}: {shown} does not exist",
            img.name
        )));
    }
    Ok(())
}

/// Root-owned directory attributes for directories regraft has to invent.
pub fn default_dir_meta(mtime: u64) -> Meta {
    Meta {
        mode: 0o755,
        mtime,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(mode_string(&Kind::Dir, 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(&Kind::File, 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(&Kind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(&Kind::File, 0o2644), "-rw-r-Sr--");
        assert_eq!(parse_chmod("0755").unwrap(), 0o755);
        assert!(parse_chmod("999").is_err());
        assert_eq!(parse_chown("1000:100").unwrap(), (1000, 100));
        assert_eq!(parse_chown("7").unwrap(), (7, 7));
    }
}
