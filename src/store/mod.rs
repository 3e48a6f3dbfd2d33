//! The files an image lives in, below the image model: where an input's blobs are read from
//! (`BlobStore`; an OCI layout directory or a tar archive is a `Container`, a registry
//! repository a `RegistryStore`), and temporaries with atomic replacement for what regraft
//! writes (`temp`).

pub mod container;
pub mod registry;
pub mod stamp;
pub mod temp;

use crate::error::Result;
use std::io::Read;
use std::path::PathBuf;

/// Where a blob's bytes lie on local disk: the file, the length, and the offset in the file.
pub type Located = (PathBuf, u64, u64);

/// Where an input's blobs are read from. The contract every store keeps:
/// - `open` yields exactly the bytes stored under `name`, unverified: callers check them
///   against the descriptor that named them (`VerifyingReader`), so a store is never trusted;
/// - `locate` says where those bytes lie on local disk when they do, so an uncompressed layer
///   can be read in place and a layout's blob hard-linked; a store with no local files (a
///   registry) returns None and is read through `open` alone;
/// - a missing name is `Error::MissingBlob` from `open` and None from `locate`.
pub trait BlobStore: Send + Sync {
    fn open(&self, name: &str) -> Result<Box<dyn Read + Send>>;
    fn locate(&self, name: &str) -> Result<Option<Located>>;
    /// True when a located blob is a whole file of its own (a layout's), which may be
    /// hard-linked into an output on the same filesystem.
    fn whole_files(&self) -> bool;
    /// The registry host and repository the blobs come from, when they come from one (a
    /// push to the same registry may mount them instead of sending them).
    fn registry(&self) -> Option<(&str, &str)> {
        None
    }
}

impl BlobStore for container::Container {
    fn open(&self, name: &str) -> Result<Box<dyn Read + Send>> {
        container::Container::open(self, name)
    }
    fn locate(&self, name: &str) -> Result<Option<Located>> {
        container::Container::locate(self, name)
    }
    fn whole_files(&self) -> bool {
        self.is_dir()
    }
}
