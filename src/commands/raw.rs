//! `regraft manifest`, `config-blob`, `digest` and `blob`: an image's raw documents and blobs
//! on stdout, for shell pipelines (`| jq`, `| sha256sum`). Nothing is added to the bytes: no
//! newline after a document, so its sha256 is its digest.

use super::print::emit;
use crate::cli::{self, BlobArgs, DigestArgs, Globals, RawArgs};
use anyhow::Result;
use regraft::error::exit;
use regraft::model::digest::Digest;
use regraft::model::image::Image;
use regraft::source::Source;
use regraft::toolbox::raw;
use std::io::Write;

fn open(image: &str, g: &Globals) -> Result<Image> {
    Ok(Source::open(&cli::input(image)?)?.image(g.platform.as_ref())?)
}

/// Raw bytes to stdout; a reader that went away is no error.
fn emit_bytes(b: &[u8]) -> Result<u8> {
    let mut o = std::io::stdout().lock();
    match o.write_all(b).and_then(|()| o.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(exit::OK),
    }
}

pub fn manifest(a: &RawArgs, g: &Globals) -> Result<u8> {
    emit_bytes(&raw::manifest(&open(&a.image, g)?))
}

pub fn config_blob(a: &RawArgs, g: &Globals) -> Result<u8> {
    emit_bytes(&open(&a.image, g)?.config_bytes)
}

pub fn digest(a: &DigestArgs, g: &Globals) -> Result<u8> {
    let img = open(&a.image, g)?;
    let d = if a.config {
        img.config_desc.digest.clone()
    } else {
        raw::manifest_digest(&img)
    };
    emit(&format!("{d}\n"))?;
    Ok(exit::OK)
}

pub fn blob(a: &BlobArgs, g: &Globals) -> Result<u8> {
    let d = Digest::parse(&a.digest)
        .map_err(|e| regraft::Error::Usage(format!("blob {:?}: {}", a.digest, e.chain())))?;
    let img = open(&a.image, g)?;
    let mut o = std::io::BufWriter::new(std::io::stdout().lock());
    match raw::write_blob(&img, &d, &mut o) {
        Err(e) if broken_pipe(&e) => Ok(exit::OK),
        r => r.map(|()| exit::OK).map_err(Into::into),
    }
}

/// Whether an error comes from a reader that went away (`| head -c 10`).
fn broken_pipe(e: &regraft::Error) -> bool {
    let mut s: Option<&dyn std::error::Error> = Some(e);
    while let Some(x) = s {
        if x.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        s = x.source();
    }
    false
}
