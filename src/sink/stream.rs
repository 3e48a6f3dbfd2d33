//! A docker archive streamed to stdout (`-o -`, for `| docker load`). The documented
//! exception to the sink contract: a stream cannot be taken back, so what was written stays
//! written when a later blob fails. Blobs go out as they are put, in the archive's order.

use super::archive::{ArchiveKind, write_blob, write_head, write_tail};
use super::{BlobWriter, NewBlob, OutBlob, OutImage, Sink, WriteOptions};
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::image::BlobData;
use crate::model::reference::ImageRef;
use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::sync::Arc;

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

    /// A stream cannot go back to fill in a header: the blob is written to a temporary file
    /// first, then put like any other.
    fn put_new(&mut self, write: &mut BlobWriter<'_>) -> Result<NewBlob> {
        let dir = std::env::temp_dir();
        let tmp = crate::store::temp::temp_file_in(&dir)?;
        let f = tmp
            .as_file()
            .try_clone()
            .map_err(|e| Error::io(tmp.path(), e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let (digest, size) = write(&mut w)?;
        w.flush().map_err(|e| Error::io(tmp.path(), e))?;
        let data = BlobData::File(Arc::new(tmp.into_temp_path()));
        let desc = crate::model::spec::Descriptor::new("", digest.clone(), size);
        self.put(&OutBlob::Raw {
            desc,
            data: data.clone(),
        })?;
        Ok(NewBlob { data, digest, size })
    }

    fn commit(mut self: Box<Self>, img: &OutImage) -> Result<Digest> {
        self.start()?;
        let name = img.out_name(&self.out);
        write_tail(&mut self.w, img, name.as_deref(), ArchiveKind::Docker)?;
        self.w.flush().map_err(io)?;
        Ok(img.top.digest.clone())
    }
}
