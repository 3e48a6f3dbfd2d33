//! The one error type of the library. Every variant names what it is about: a file, a blob, a
//! path inside an image, and for mismatches both the expected and the found value.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: digest mismatch: expected {expected}, found {found}")]
    DigestMismatch {
        what: String,
        expected: String,
        found: String,
    },
    #[error("{what}: size mismatch: expected {expected} bytes, found {found}")]
    SizeMismatch {
        what: String,
        expected: u64,
        found: u64,
    },
    #[error(
        "{what}: diff_id mismatch: config says {expected}, uncompressed layer hashes to {found}"
    )]
    DiffIdMismatch {
        what: String,
        expected: String,
        found: String,
    },
    #[error("{container}: blob {name} is missing")]
    MissingBlob { container: String, name: String },
    #[error("{file}: {msg}")]
    Format { file: String, msg: String },
    #[error("{what}: {msg}")]
    Layer { what: String, msg: String },
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub fn format(file: impl std::fmt::Display, msg: impl Into<String>) -> Self {
        Error::Format {
            file: file.to_string(),
            msg: msg.into(),
        }
    }
    pub fn layer(what: impl std::fmt::Display, msg: impl Into<String>) -> Self {
        let what = what.to_string();
        let mut msg = msg.into();
        // The verifying reader's io errors already name the layer; do not name it twice.
        if let Some(rest) = msg.strip_prefix(&format!("{what}: ")) {
            msg = rest.to_string();
        }
        Error::Layer { what, msg }
    }
    /// True when the error is the user's mistake in how regraft was called (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }
}

/// Adds a path to an io::Error.
pub trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

/// Exit codes, in one place: 0 ok, 1 error, 2 usage, 3 failed check, 4 findings at or above
/// `--fail-on`.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const CHECK_FAILED: u8 = 3;
    pub const FINDINGS: u8 = 4;
}
