//! The hard limits on what regraft reads from inside an image, in one place. Everything a
//! vendor image holds is untrusted: a file of a megabyte must not make a parser or a resolver
//! run for hours or allocate gigabytes. Each limit is far above what a real image reaches and
//! each says why it is the number it is; going past one is an error (or, inside a check, a
//! finding) that names the file and the limit by its name and value, never a hang or an abort.
//! The README's trust model lists them.

use crate::error::Error;
use std::fmt::Display;

/// One hard limit: its name (as errors print it), its value and the unit of that value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub name: &'static str,
    pub value: u64,
    pub unit: &'static str,
}

/// A limit, for the constants below.
const fn limit(name: &'static str, value: u64, unit: &'static str) -> Limit {
    Limit { name, value, unit }
}

impl Limit {
    /// The value as a count or a length in memory.
    pub const fn get(self) -> usize {
        self.value as usize
    }

    /// The error for `what` (a file, an entry) going past this limit with `found`.
    pub fn error(self, what: impl Display, found: impl Display) -> Error {
        Error::Limit {
            what: what.to_string(),
            found: found.to_string(),
            name: self.name,
            value: self.value,
            unit: self.unit,
        }
    }
}

/// Bytes in one path inside an image: a tar name, a symlink's or a hardlink's target, a path
/// resolved through symlinks, and a name read from an ELF file or `ld.so.cache`. Linux's
/// `PATH_MAX` (4,096) less the NUL it counts: no longer path can be opened in a running
/// container, and it bounds the work one path costs (its components, the keys of its
/// parents).
pub const PATH_MAX: Limit = limit("PATH_MAX", 4095, "bytes");

/// Bytes in one `DT_RPATH` or `DT_RUNPATH` of an ELF file: a `:`-separated list of
/// directories, not one path. Nix, Guix and Spack builds list dozens of store directories and
/// pass 4 KiB; 64 KiB is some 600 of them. A directory in it past `PATH_MAX` is dropped where
/// the list is expanded; the bytes count against `STRINGS_PER_FILE` like any other string.
pub const MAX_RUN_PATH: Limit = limit("MAX_RUN_PATH", 64 << 10, "bytes");

/// Components in one path inside an image (`usr/lib/x` has three). Linux sets no number of
/// its own (`PATH_MAX` allows 2,048); the deepest trees of real images (nested `node_modules`,
/// Java sources) stay below a hundred levels. 256 bounds the implicit parent directories one
/// tar entry can create, and so the memory one entry costs.
pub const MAX_PATH_DEPTH: Limit = limit("MAX_PATH_DEPTH", 256, "components");

/// Bytes of a tar entry's user or group name. ustar has 32; a PAX `uname`/`gname` record may
/// say more, but no system's account names reach 256 (useradd's limit is 32). Every distinct
/// name is kept once for the whole run (interned), so its length is bounded here.
pub const MAX_OWNER_NAME: Limit = limit("MAX_OWNER_NAME", 256, "bytes");

/// Distinct user and group names one run keeps (interned, each at most `MAX_OWNER_NAME`):
/// real images have a handful; 65,536 keeps the table under 17 MiB whatever the layers say.
pub const MAX_OWNER_NAMES: Limit = limit("MAX_OWNER_NAMES", 65_536, "names");

/// Symlinks one lookup follows, at every level together: Linux's `MAXSYMLINKS`. Counting
/// links followed, not nesting, is what keeps a chain `s1 -> s2/../s2` linear: each link
/// doubles the work a nesting-depth guard allows.
pub const MAX_SYMLINKS: Limit = limit("MAX_SYMLINKS", 40, "links");

/// Components one lookup walks: those of its path and of the targets of the links it
/// follows, `.` and `..` included. The kernel sets no such number; but 40 links each with a
/// target of `PATH_MAX` (`x/../x/../…`, 1,600 components) cost a lookup 65,000 steps, and
/// tar entries whose parents alternate each need one (20,000 entries below such a chain, a
/// 125 KB layer, took 42 s). Four paths of the deepest kind (`MAX_PATH_DEPTH`); a real
/// lookup walks tens.
pub const MAX_LOOKUP_STEPS: Limit = limit("MAX_LOOKUP_STEPS", 1024, "components");

/// Bytes of all the strings read from one ELF file (or one `ld.so.cache`) together, for a
/// file of less than half this; a larger file may read twice the bytes it has. The names a
/// real file points to are parts of its string table, each read once (or twice: ldconfig
/// stores a library's name as the tail of its path); a file whose entries point at the same
/// long string over and over would read its bytes again each time.
pub const STRINGS_PER_FILE: Limit = limit("STRINGS_PER_FILE", 64 << 10, "bytes");

/// Version entries in one ELF file: `Elf_Verneed` and `Elf_Vernaux` together, and
/// `Elf_Verdef`. glibc's `libc.so.6` defines about 50 versions and a program needs a few
/// dozen; entries may share one chain, so without a cap a small file lists billions.
pub const MAX_ELF_VERSIONS: Limit = limit("MAX_ELF_VERSIONS", 4096, "entries");

/// `ld.so.conf` files read and `include` patterns expanded, together. Real systems have one
/// `include /etc/ld.so.conf.d/*.conf` and a dozen files; every pattern scans a directory.
pub const MAX_LD_SO_CONF_INCLUDES: Limit =
    limit("MAX_LD_SO_CONF_INCLUDES", 256, "files and patterns");

/// Bytes of one system file the check reads whole: `/etc/passwd`, `/etc/group`,
/// `ld.so.conf` and its includes, `ld-musl-*.path`, `/etc/ld.so.cache`, dpkg's `info/*.list`
/// and `status.d/*` (package databases are `MAX_PACKAGE_DB`). Real ones are kilobytes (a
/// large `ld.so.cache` is about 1 MiB, the largest `*.list` a few MiB).
pub const MAX_SYSTEM_FILE: Limit = limit("MAX_SYSTEM_FILE", 16 << 20, "bytes");

/// Bytes of a package database file (dpkg's `status`, apk's `installed`) that `packages`,
/// `triage`, `diff` and the check read. A `status` takes about 1.5 KiB a package: a large
/// desktop image (5,000 packages) has 8 MiB; 64 MiB is some 40,000 packages.
pub const MAX_PACKAGE_DB: Limit = limit("MAX_PACKAGE_DB", 64 << 20, "bytes");

/// Bytes of a jar's (a zip's) central directory that the check reads, and the entries it
/// lists. The JDK's own `rt.jar` (Java 8) lists some 20,000 entries in 2 MiB; a large Spring
/// Boot jar some 10,000; 64 MiB and a million entries are far past any real jar.
pub const MAX_ZIP_DIRECTORY: Limit = limit("MAX_ZIP_DIRECTORY", 64 << 20, "bytes");
pub const MAX_ZIP_ENTRIES: Limit = limit("MAX_ZIP_ENTRIES", 1 << 20, "entries");

/// Findings one check reports; the rest are counted in one more finding. A real graft has a
/// handful; a hostile image could otherwise make a report of gigabytes.
pub const MAX_FINDINGS: Limit = limit("MAX_FINDINGS", 1000, "findings");

/// At most the first 64 bytes of a name that went past a limit, terminal-safe, for messages
/// (the name itself may be kilobytes long).
pub fn shown(name: &[u8]) -> String {
    const SHOWN: usize = 64;
    let mut s = crate::text::sanitize_bytes(&name[..name.len().min(SHOWN)]);
    if name.len() > SHOWN {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_limit() {
        let e = PATH_MAX.error("layer 1: a/b/c", "5000 bytes");
        assert_eq!(
            e.to_string(),
            "layer 1: a/b/c: 5000 bytes, over the limit of 4095 bytes (PATH_MAX)"
        );
        assert_eq!(shown(&[b'a'; 100]), format!("{}...", "a".repeat(64)));
        assert_eq!(shown(b"x\x1b"), "x\\u{1b}");
    }
}
