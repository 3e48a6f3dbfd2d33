//! The one spill store: where the file data a job keeps lives while it works. Data of
//! compressed layers is copied into a temporary file (beside the output, or in the temporary
//! directory); data of an uncompressed input layer on disk stays where it lies and is read in
//! place, guarded against the file changing meanwhile. The merged views of the toolbox and the
//! graft and the check's filesystem all keep their data here.

use crate::error::{Error, Result};
use crate::layer::entry::DataRef;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;

/// Spilled bytes are gathered here and written in pieces of this size: a job that keeps
/// 300,000 small files makes a few hundred large writes, not one per file.
const SPILL_WRITE: usize = 1 << 20;

/// Where the file data of selected entries is: copied into a temporary file beside the output
/// (entries of compressed layers), or left where it lies in an uncompressed input layer on
/// disk (which the walk reads whole and verifies, or the copy to the output does). A `DataRef`
/// addresses either: offsets at and above `TAR_BASE` fall in the input layers registered with
/// `add_tar`.
pub struct Spill {
    file: File,
    /// Bytes written to the file; `pending` holds the ones after them.
    flushed: u64,
    pending: Vec<u8>,
    /// (first virtual offset, the layer's tar, which knows its file's identity when opened).
    tars: Vec<(u64, crate::layer::TarRange)>,
    next_tar: u64,
    /// Other stores' spill files taken over (`absorb`): (first virtual offset, length, file).
    absorbed: Vec<(u64, u64, File)>,
    next_absorbed: u64,
}

const TAR_BASE: u64 = 1 << 62;
/// Offsets at and above this (and below `TAR_BASE`) fall in spill files taken over from
/// other stores; this store's own spilled bytes stay below it.
const ABSORBED_BASE: u64 = 1 << 61;

/// How the data references of a store map into the store that takes it over
/// (`Spill::next_rebase`, then `Spill::absorb`).
#[derive(Clone, Copy, Debug)]
pub struct Rebase {
    tar_shift: u64,
    file_base: u64,
}

impl Rebase {
    /// Where data at `d` of the store taken over is in the store that takes it.
    pub fn at(&self, d: crate::layer::entry::DataAt) -> crate::layer::entry::DataAt {
        let o = d.offset();
        crate::layer::entry::DataAt::new(if o >= TAR_BASE {
            o + self.tar_shift
        } else {
            self.file_base + o
        })
    }
}

impl Spill {
    pub fn new(dir: &std::path::Path) -> Result<Spill> {
        let file = tempfile::tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
        Ok(Spill {
            file,
            flushed: 0,
            pending: Vec::new(),
            tars: Vec::new(),
            next_tar: TAR_BASE,
            absorbed: Vec::new(),
            next_absorbed: ABSORBED_BASE,
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
        let offset = self.flushed + self.pending.len() as u64;
        self.append(head, what)?;
        let rest = size.saturating_sub(head.len() as u64);
        let mut r = r.take(rest);
        let mut n = head.len() as u64;
        let mut buf = [0u8; 64 * 1024];
        loop {
            let k = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::layer_io(what, e)),
            };
            self.append(&buf[..k], what)?;
            n += k as u64;
        }
        if n != size {
            return Err(Error::layer(
                what,
                format!("entry data truncated: {n} of {size} bytes"),
            ));
        }
        Ok(DataRef { offset, len: size })
    }
    /// Adds bytes at the end, writing the gathered ones out in `SPILL_WRITE` pieces.
    fn append(&mut self, mut b: &[u8], what: &str) -> Result<()> {
        while !b.is_empty() {
            let take = (SPILL_WRITE - self.pending.len()).min(b.len());
            self.pending.extend_from_slice(&b[..take]);
            b = &b[take..];
            if self.pending.len() == SPILL_WRITE {
                self.file
                    .write_all_at(&self.pending, self.flushed)
                    .map_err(|e| Error::layer_io(format!("{what}: spill"), e))?;
                self.flushed += SPILL_WRITE as u64;
                self.pending.clear();
            }
        }
        Ok(())
    }
    /// Registers an uncompressed input layer; returns the virtual offset of its tar's start.
    pub fn add_tar(&mut self, r: crate::layer::TarRange) -> u64 {
        let base = self.next_tar;
        self.next_tar = base.saturating_add(r.len()).saturating_add(1);
        self.tars.push((base, r));
        base
    }
    /// Where the data of the next store this one takes over (`absorb`) will be, known before
    /// that store is done with (nothing may be registered or absorbed here in between).
    pub fn next_rebase(&self) -> Rebase {
        Rebase {
            tar_shift: self.next_tar - TAR_BASE,
            file_base: self.next_absorbed,
        }
    }

    /// Takes over `other` (its spill file and its input layers) so that data `rebase`
    /// (from `next_rebase`) maps is read here: the check goes on with data a graft located,
    /// without copying it.
    pub fn absorb(&mut self, mut other: Spill, rebase: Rebase) -> Result<()> {
        if rebase.tar_shift != self.next_tar - TAR_BASE
            || rebase.file_base != self.next_absorbed
            || !other.absorbed.is_empty()
        {
            return Err(Error::Invalid(
                "internal: a spill store changed between its rebase and its absorption".into(),
            ));
        }
        if !other.pending.is_empty() {
            other
                .file
                .write_all_at(&other.pending, other.flushed)
                .map_err(|e| Error::io_while("spill", e))?;
            other.flushed += other.pending.len() as u64;
        }
        for (b, t) in other.tars {
            self.tars.push((b + rebase.tar_shift, t));
        }
        self.next_tar = other.next_tar + rebase.tar_shift;
        self.absorbed
            .push((rebase.file_base, other.flushed, other.file));
        // One byte past the end: a reference is never shared by two files.
        self.next_absorbed = rebase.file_base + other.flushed + 1;
        Ok(())
    }

    pub fn copy_to(&self, d: DataRef, w: &mut impl Write) -> Result<()> {
        if (ABSORBED_BASE..TAR_BASE).contains(&d.offset) {
            let (base, len, file) = self
                .absorbed
                .iter()
                .rev()
                .find(|(b, _, _)| *b <= d.offset)
                .ok_or_else(|| {
                    Error::Invalid("internal: no spill file for a data reference".into())
                })?;
            let at = d.offset - base;
            if at.checked_add(d.len).is_none_or(|e| e > *len) {
                return Err(Error::Invalid("spill file shorter than expected".into()));
            }
            return copy_file_range_to(file, at, d.len, w);
        }
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
        let end = d
            .offset
            .checked_add(d.len)
            .filter(|e| *e <= self.flushed + self.pending.len() as u64)
            .ok_or_else(|| Error::Invalid("spill file shorter than expected".into()))?;
        // The part already in the file, read at its offset (no shared file position)...
        let in_file = self.flushed.min(end);
        if d.offset < in_file {
            copy_file_range_to(&self.file, d.offset, in_file - d.offset, w)?;
        }
        let at = d.offset.max(in_file);
        // ...and the part still gathered in memory.
        if at < end {
            let from = (at - self.flushed) as usize;
            let to = (end - self.flushed) as usize;
            w.write_all(&self.pending[from..to])
                .map_err(|e| Error::io_while("writing layer", e))?;
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

/// Copies `len` bytes at `at` of a spill file to `w`.
fn copy_file_range_to(file: &File, at: u64, len: u64, w: &mut impl Write) -> Result<()> {
    crate::layer::range::copy_file_at(file, at, len, w, |e| Error::io_while("spill", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::entry::DataAt;

    /// Many small entries and large ones that cross the gathering buffer's edges read back
    /// whole, before and after the bytes around them reach the file.
    #[test]
    fn entries_read_back_across_the_write_buffer() {
        let mut s = Spill::in_temp_dir().unwrap();
        let mut refs = Vec::new();
        let mut x: u32 = 7;
        for i in 0..3000usize {
            let len = match i % 500 {
                0 => SPILL_WRITE + 12_345,
                1 => 3 * SPILL_WRITE,
                _ => (i * 37) % 2000,
            };
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8
                })
                .collect();
            let head = &data[..len.min(i % 7)];
            let d = s
                .put_with_head(head, &mut &data[head.len()..], len as u64, "t")
                .unwrap();
            // Readable at once, while part of it may still be gathered in memory.
            assert_eq!(s.read(d).unwrap(), data, "entry {i} at once");
            refs.push((d, data));
        }
        assert!(s.flushed > 0 && !s.pending.is_empty());
        for (i, (d, data)) in refs.iter().enumerate() {
            assert_eq!(&s.read(*d).unwrap(), data, "entry {i} later");
        }
        let short = s.put(&mut &b"abc"[..], 5, "t").unwrap_err().to_string();
        assert!(short.contains("truncated: 3 of 5"), "{short}");
        let past = DataRef {
            offset: s.flushed + s.pending.len() as u64,
            len: 1,
        };
        assert!(s.read(past).is_err());
    }

    /// A store taken over by another reads back through the other: bytes already in its file
    /// and bytes still gathered in memory, beside the taker's own (before and after), and a
    /// second store taken over after the first.
    #[test]
    fn an_absorbed_store_reads_back_through_the_taker() {
        let data = |seed: u8, len: usize| -> Vec<u8> {
            (0..len)
                .map(|i| (i as u8).wrapping_mul(31) ^ seed)
                .collect()
        };
        let mut taker = Spill::in_temp_dir().unwrap();
        let mine = data(1, SPILL_WRITE + 77);
        let d_mine = taker.put(&mut &mine[..], mine.len() as u64, "t").unwrap();
        let mut refs = Vec::new();
        for k in 0..2u8 {
            let mut other = Spill::in_temp_dir().unwrap();
            // One piece across the gathering buffer's edge (partly in the file), one still
            // gathered in memory.
            let a = data(10 + k, SPILL_WRITE + 5);
            let b = data(20 + k, 300);
            let da = other.put(&mut &a[..], a.len() as u64, "o").unwrap();
            let db = other.put(&mut &b[..], b.len() as u64, "o").unwrap();
            assert!(!other.pending.is_empty());
            let r = taker.next_rebase();
            taker.absorb(other, r).unwrap();
            for (d, bytes) in [(da, a), (db, b)] {
                let at = r.at(DataAt::new(d.offset)).of(d.len);
                assert!((ABSORBED_BASE..TAR_BASE).contains(&at.offset));
                refs.push((at, bytes));
            }
        }
        // The taker's own bytes, before and after.
        let later = data(3, 1000);
        let d_later = taker.put(&mut &later[..], later.len() as u64, "t").unwrap();
        refs.push((d_mine, mine));
        refs.push((d_later, later));
        for (i, (d, bytes)) in refs.iter().enumerate() {
            assert_eq!(&taker.read(*d).unwrap(), bytes, "piece {i}");
        }
        // A reference past an absorbed file's end is refused, not read from the next one.
        let (d, _) = &refs[1];
        let past = DataRef {
            offset: d.offset,
            len: d.len + 1,
        };
        assert!(taker.read(past).is_err());
        // A rebase taken before another absorption is stale.
        let stale = taker.next_rebase();
        taker
            .absorb(Spill::in_temp_dir().unwrap(), taker.next_rebase())
            .unwrap();
        assert!(taker.absorb(Spill::in_temp_dir().unwrap(), stale).is_err());
    }
}
