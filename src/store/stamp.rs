//! What tells that a file on disk is still the one regraft read: its identity, size and times.
//! Any write changes mtime and ctime, and ctime cannot be set back by anyone but root (and a
//! hard link to the file changes ctime too, so compare before linking).

use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl FileStamp {
    pub fn of(m: &std::fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        FileStamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// The stamp of the file at `p` (not following a final symlink: blob files are files).
    pub fn of_path(p: &Path) -> std::io::Result<FileStamp> {
        std::fs::symlink_metadata(p).map(|m| FileStamp::of(&m))
    }

    /// The same file with the same bytes, its ctime aside: what a hard link to it leaves.
    pub fn same_content(&self, other: &FileStamp) -> bool {
        (self.dev, self.ino, self.size, self.mtime)
            == (other.dev, other.ino, other.size, other.mtime)
    }
}
