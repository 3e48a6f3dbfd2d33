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
    /// A file that is not what it should be, and the error of the parser that said so.
    #[error("{file}: {msg}")]
    FormatFrom {
        file: String,
        msg: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{what}: {msg}")]
    Layer { what: String, msg: String },
    /// An io error while doing something that is not one named file (writing the new layer,
    /// writing to stdout, a spill): `what` says what was being done, the source what failed.
    #[error("{what}")]
    While {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing a layer's bytes failed; `what` names the layer.
    #[error("{what}")]
    LayerIo {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A JSON document could not be read or written; `what` names it.
    #[error("{what}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// Something failed while doing `what`, for the reason its source gives (an error of
    /// regraft's own from a lower step, or a parser's).
    #[error("{what}")]
    Context {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Input from an image past one of regraft's hard limits (`model::limits`): what went
    /// past it, by how much, and the limit by its name and value.
    #[error("{what}: {found}, over the limit of {value} {unit} ({name})")]
    Limit {
        what: String,
        found: String,
        name: &'static str,
        value: u64,
        unit: &'static str,
    },
    /// A registry refused or failed a request: `what` names the request (never with
    /// credentials), `msg` the status and the registry's error codes.
    #[error("{what}: {msg}")]
    Registry { what: String, msg: String },
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
    /// A format error caused by another error (a JSON or tar parser's, an io error).
    pub fn format_from(
        file: impl std::fmt::Display,
        msg: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::FormatFrom {
            file: file.to_string(),
            msg: msg.into(),
            source: source.into(),
        }
    }
    pub fn registry(what: impl std::fmt::Display, msg: impl Into<String>) -> Self {
        Error::Registry {
            what: what.to_string(),
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
    /// An io error while doing `what`. An io error that carries one of regraft's own errors
    /// (a verifying reader's) is that error: it already names what it is about.
    pub fn io_while(what: impl std::fmt::Display, source: std::io::Error) -> Self {
        match unwrap_own(source) {
            Ok(e) => e,
            Err(source) => Error::While {
                what: what.to_string(),
                source,
            },
        }
    }
    /// An io error reading or writing the layer `what`; as `io_while` for carried errors.
    /// An io error that is only a message (a decoder's, a reader's limit) is that message,
    /// named by the layer once.
    pub fn layer_io(what: impl std::fmt::Display, source: std::io::Error) -> Self {
        match unwrap_own(source) {
            Ok(e) => e,
            Err(source) if source.raw_os_error().is_none() && source.get_ref().is_some() => {
                Error::layer(what, source.to_string())
            }
            Err(source) => Error::LayerIo {
                what: what.to_string(),
                source,
            },
        }
    }
    /// `source` happened while doing `what`.
    pub fn context(
        what: impl std::fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Context {
            what: what.to_string(),
            source: source.into(),
        }
    }
    /// A JSON error about the document `what`.
    pub fn json(what: impl std::fmt::Display, source: serde_json::Error) -> Self {
        Error::Json {
            what: what.to_string(),
            source,
        }
    }
    /// The error and every source below it, joined by `: ` (as `main` prints it), for
    /// documents that carry an error as one string.
    pub fn chain(&self) -> String {
        let mut s = self.to_string();
        let mut src = std::error::Error::source(self);
        while let Some(e) = src {
            s.push_str(": ");
            s.push_str(&e.to_string());
            src = e.source();
        }
        s
    }
    /// True when the error is the user's mistake in how regraft was called (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }
}

/// The regraft error an io error carries, if it carries one; else the io error back.
fn unwrap_own(e: std::io::Error) -> std::result::Result<Error, std::io::Error> {
    if e.get_ref().is_some_and(|i| i.is::<Error>()) {
        let kind = e.kind();
        match e.into_inner().map(|i| i.downcast::<Error>()) {
            Some(Ok(own)) => return Ok(*own),
            Some(Err(other)) => return Err(std::io::Error::new(kind, other)),
            None => return Err(std::io::Error::from(kind)),
        }
    }
    Err(e)
}

/// The tar crate's error, without the header bytes it quotes: "numeric field was not a number:
/// <the field> when getting <what> for <the entry's name>" copies raw bytes of the input into
/// the message (a text file given as an image would have its lines printed). The field's
/// bytes are dropped; the entry's name is kept, sanitized and cut to 100 characters.
pub fn quiet_tar(e: std::io::Error) -> std::io::Error {
    let msg = e.to_string();
    let quiet = [
        "numeric field was not a number",
        "numeric field did not have utf-8 text",
    ]
    .into_iter()
    .find(|p| msg.starts_with(p))
    .map(|p| match msg.rsplit_once(" when getting ") {
        Some((_, what)) => match what.split_once(" for ") {
            // The entry's name is worth keeping (sanitized and cut: it is input too).
            Some((field, name)) => {
                let name: String = crate::text::sanitize(name).chars().take(100).collect();
                format!("{p} (the header's {field} field, entry {name})")
            }
            None => format!("{p} (the header's {what} field)"),
        },
        None => p.to_string(),
    });
    match quiet {
        Some(q) => std::io::Error::new(e.kind(), q),
        None => e,
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
