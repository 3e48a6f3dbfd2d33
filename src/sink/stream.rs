//! A docker archive streamed to stdout (`-o -`, for `| docker load`). The documented
//! exception to the sink contract: a stream cannot be taken back, so what was written stays
//! written when a later blob fails. Blobs go out as they are put, in the archive's order; a
//! blob written by `put_new` goes through a temporary file (a stream cannot go back to fill in
//! its header).

use super::archive::{ArchiveKind, write_blob, write_head, write_tail};
use super::{OutBlob, OutImage, Sink, WriteOptions};
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::reference::ImageRef;
use std::collections::HashSet;
use std::io::{BufWriter, Write};

pub struct StreamSink {
    out: ImageRef,
    opts: WriteOptions,
    w: BufWriter<std::io::Stdout>,
    started: bool,
    written: HashSet<Digest>,
}

impl StreamSink {
    pub fn stdout(out: ImageRef, opts: WriteOptions) -> StreamSink {
        StreamSink {
            out,
            opts,
            w: BufWriter::with_capacity(1 << 20, std::io::stdout()),
            started: false,
            written: HashSet::new(),
        }
    }

    fn start(&mut self) -> Result<()> {
        if !self.started {
            write_head(&mut self.w)?;
            self.started = true;
        }
        Ok(())
    }
}

fn io(e: std::io::Error) -> Error {
    Error::io_while("writing to stdout", e)
}

impl Sink for StreamSink {
    fn put(&mut self, b: &OutBlob) -> Result<()> {
        if !self.written.insert(b.digest().clone()) {
            return Ok(());
        }
        self.start()?;
        write_blob(&mut self.w, b, self.opts).map(|_| ())
    }

    fn commit(mut self: Box<Self>, img: &OutImage) -> Result<Digest> {
        self.start()?;
        for b in super::blob_order(img) {
            self.put(b)?;
        }
        let name = img.out_name(&self.out);
        write_tail(&mut self.w, img, name.as_deref(), ArchiveKind::Docker)?;
        self.w.flush().map_err(io)?;
        Ok(img.top.digest.clone())
    }
}
