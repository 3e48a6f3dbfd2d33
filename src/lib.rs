//! regraft: move a vendor's application onto a new base image, daemonless and offline, on image
//! files on disk (docker-save tarballs of every generation, OCI archives, OCI layouts).
//!
//! The library reads every source into one [`image::Image`] model ([`source`]), streams and
//! verifies layers ([`layer`]), and writes any model to any sink ([`write`]). The CLI in
//! `main.rs`/`cli.rs` is a thin shell over it.

pub mod check;
pub mod compress;
pub mod config;
pub mod contents;
pub mod diff;
pub mod digest;
pub mod error;
pub mod exclude;
pub mod graft;
pub mod image;
pub mod inspect;
pub mod layer;
pub mod mutate;
pub mod packages;
pub mod pgzip;
pub mod progress;
pub mod reference;
pub mod source;
pub mod spec;
pub mod tarw;
pub mod toolbox;
pub mod triage;
pub mod verify;
pub mod walk;
pub mod write;

pub use error::{Error, Result};

/// Makes a name from an image safe to print: control characters (escape sequences included)
/// and invalid UTF-8 become `\xNN` / `\u{..}` escapes.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.push_str(&c.escape_default().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// `sanitize`, keeping line breaks (for multi-line messages such as image listings).
pub fn sanitize_lines(s: &str) -> String {
    s.split('\n').map(sanitize).collect::<Vec<_>>().join("\n")
}

/// Raw bytes as text: valid UTF-8 as it is, each invalid byte as `\xNN` (for JSON and
/// listings; terminal output still goes through `sanitize`).
pub fn lossless(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}

/// `sanitize` for raw bytes (tar names need not be UTF-8).
pub fn sanitize_bytes(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        out.push_str(&sanitize(chunk.valid()));
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sanitize_strips_escapes() {
        assert_eq!(super::sanitize("a\x1b[31mb\n"), "a\\u{1b}[31mb\\n");
        assert_eq!(super::sanitize_bytes(b"x\xffy"), "x\\xffy");
    }
}
