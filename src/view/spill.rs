//! The one spill store: where the file data a job keeps lives while it works. Data of
//! compressed layers is copied into a temporary file (beside the output, or in the temporary
//! directory); data of an uncompressed input layer on disk stays where it lies and is read in
//! place, guarded against the file changing meanwhile. The merged views of the toolbox and the
//! graft and the check's filesystem all keep their data here.

use crate::error::{Error, Result};
use crate::layer::entry::DataRef;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

/// Where the file data of selected entries is: copied into a temporary file beside the output
/// (entries of compressed layers), or left where it lies in an uncompressed input layer on
/// disk (which the walk reads whole and verifies, or the copy to the output does). A `DataRef`
/// addresses either: offsets at and above `TAR_BASE` fall in the input layers registered with
/// `add_tar`.
pub struct Spill {
    file: File,
    len: u64,
    /// (first virtual offset, the layer's tar, which knows its file's identity when opened).
    tars: Vec<(u64, crate::layer::TarRange)>,
    next_tar: u64,
}

const TAR_BASE: u64 = 1 << 62;

impl Spill {
    pub fn new(dir: &std::path::Path) -> Result<Spill> {
        let file = tempfile::tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
        Ok(Spill {
            file,
            len: 0,
            tars: Vec::new(),
            next_tar: TAR_BASE,
        })
    }
    /// A spill file in the system's temporary directory (for data that never reaches an output).
    pub fn in_temp_dir() -> Result<Spill> {
        Spill::new(&std::env::temp_dir())
    }
    /// Appends the next `size` bytes of `r`; `what` names the layer in errors.
    pub fn put(&mut self, r: &mut impl Read, size: u64, what: &str) -> Result<DataRef> {
        self.put_with_head(&[], r, size, what)
    }
    /// Appends `head` (bytes of the entry already read) and then the rest of its `size` bytes
    /// from `r`.
    pub fn put_with_head(
        &mut self,
        head: &[u8],
        r: &mut impl Read,
        size: u64,
        what: &str,
    ) -> Result<DataRef> {
        let offset = self.len;
        let spill = |e: std::io::Error| Error::layer_io(format!("{what}: spill"), e);
        // Reads move the file position: always append at the end of what was written.
        (&self.file).seek(SeekFrom::Start(offset)).map_err(spill)?;
        let mut w = BufWriter::with_capacity(256 * 1024, &self.file);
        w.write_all(head).map_err(spill)?;
        let rest = size.saturating_sub(head.len() as u64);
        let n = head.len() as u64
            + std::io::copy(&mut r.take(rest), &mut w).map_err(|e| Error::layer_io(what, e))?;
        w.flush().map_err(spill)?;
        if n != size {
            return Err(Error::layer(
                what,
                format!("entry data truncated: {n} of {size} bytes"),
            ));
        }
        self.len += size;
        Ok(DataRef { offset, len: size })
    }
    /// Registers an uncompressed input layer; returns the virtual offset of its tar's start.
    pub fn add_tar(&mut self, r: crate::layer::TarRange) -> u64 {
        let base = self.next_tar;
        self.next_tar = base.saturating_add(r.len()).saturating_add(1);
        self.tars.push((base, r));
        base
    }
    pub fn copy_to(&self, d: DataRef, w: &mut impl Write) -> Result<()> {
        if d.offset >= TAR_BASE {
            let (base, tar) = self
                .tars
                .iter()
                .rev()
                .find(|(b, _)| *b <= d.offset)
                .ok_or_else(|| {
                    Error::Invalid("internal: no input layer for a data reference".into())
                })?;
            return tar.copy_range(d.offset - base, d.len, w);
        }
        let mut f = &self.file;
        f.seek(SeekFrom::Start(d.offset))
            .map_err(|e| Error::io_while("spill", e))?;
        let n = std::io::copy(&mut f.take(d.len), w)
            .map_err(|e| Error::io_while("writing layer", e))?;
        if n != d.len {
            return Err(Error::Invalid("spill file shorter than expected".into()));
        }
        Ok(())
    }
    /// Reads one kept file's data into memory (the check reads small files this way).
    pub fn read(&self, d: DataRef) -> Result<Vec<u8>> {
        let mut v = Vec::with_capacity(usize::try_from(d.len).unwrap_or(0));
        self.copy_to(d, &mut v)?;
        Ok(v)
    }
    /// After the data was used: fails if an input file whose data was read where it lies
    /// changed since it was opened (and verified), so what was copied is what was verified.
    pub fn check_unchanged(&self) -> Result<()> {
        for (_, t) in &self.tars {
            t.check_unchanged()?;
        }
        Ok(())
    }
}
