//! A deterministic parallel gzip encoder for the layers regraft writes.
//!
//! The input is cut into fixed `BLOCK`-sized blocks. Each block is compressed on its own by
//! libdeflate into a complete gzip member (header, deflate stream, CRC-32 and size), and the
//! members are written one after the other: a multi-member gzip file, as RFC 1952 allows and as
//! BGZF (samtools) and gzp's `Mgzip` write. Every gzip reader regraft's users meet reads all the
//! members: Go's `compress/gzip` (Docker, containerd, skopeo, umoci, registries) by default,
//! GNU gzip and pigz, zlib's `gzread`, Python's `gzip`, flate2's `MultiGzDecoder`.
//!
//! Why not one member with a dictionary (pigz's scheme, which this module used before):
//! libdeflate compresses a whole buffer at once, 2-3x as fast as zlib at the same level and a
//! little smaller, but has no preset dictionary and always ends its stream. Independent 1 MiB
//! blocks at level 6 come out 0.988x the size of `pigz -6`'s one stream on real layer tars
//! (BENCHMARKS.md); on the unit tests' repetitive sample they cost 3.8% against one stream.
//! The bytes depend on libdeflate's version, which Cargo.toml pins.
//!
//! Every member's bytes are a pure function of (its data, the level): libdeflate gets the whole
//! block in one call. So the output is the same for any number of threads, and a golden-digest
//! test pins it at 1, 2 and 3 threads. gzp's `Gzip` is not deterministic (see
//! `reference/deps.md`), hence this module.

use super::{Blocked, write_blocked};
use libdeflater::{CompressionLvl, Compressor};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Input block size. Part of the output format: changing it changes every digest.
pub const BLOCK: usize = 1 << 20;
/// The levels libdeflate has.
pub const LEVELS: std::ops::RangeInclusive<u32> = 1..=12;

/// A compressor for `level` (within `LEVELS`).
fn compressor(level: u32) -> io::Result<Compressor> {
    let lvl = CompressionLvl::new(level as i32)
        .map_err(|_| io::Error::other(format!("gzip level {level} is not 1 to 12")))?;
    Ok(Compressor::new(lvl))
}

/// Compresses one block into one complete gzip member. libdeflate writes the header
/// `1f8b 0800 00000000 00ff` and then XFL by level, which is a function of the level only.
pub fn gzip_member(c: &mut Compressor, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = vec![0u8; c.gzip_compress_bound(data.len())];
    let n = c
        .gzip_compress(data, &mut out)
        .map_err(|e| io::Error::other(format!("gzip: {e:?}")))?;
    out.truncate(n);
    Ok(out)
}

/// A compressed block.
type BlockResult = io::Result<Vec<u8>>;

struct Job {
    data: Vec<u8>,
    reply: SyncSender<BlockResult>,
}

/// The number of threads to compress with: the machine's cores, at most 8.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8)
}

/// A gzip writer whose output bytes depend only on the input and the level.
pub struct ParGzWriter<W: Write> {
    out: W,
    level: u32,
    threads: usize,
    buf: Vec<u8>,
    /// Members written or handed to the pool (an empty input still gets one).
    members: u64,
    /// The compressor of the one-thread path.
    here: Option<Compressor>,
    pending: VecDeque<Receiver<BlockResult>>,
    pool: Option<Pool>,
}

struct Pool {
    tx: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    fn new(threads: usize, level: u32) -> io::Result<Pool> {
        let (tx, rx) = sync_channel::<Job>(threads);
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = Vec::with_capacity(threads);
        for _ in 0..threads {
            let rx = Arc::clone(&rx);
            let mut c = compressor(level)?;
            workers.push(
                std::thread::Builder::new()
                    .name("regraft-gzip".into())
                    .spawn(move || {
                        loop {
                            let job = match rx.lock() {
                                Ok(r) => r.recv(),
                                Err(_) => return,
                            };
                            let Ok(job) = job else { return };
                            let _ = job.reply.send(gzip_member(&mut c, &job.data));
                        }
                    })?,
            );
        }
        Ok(Pool {
            tx: Some(tx),
            workers,
        })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.tx = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl<W: Write> ParGzWriter<W> {
    /// `threads` only changes the speed, never the bytes; 1 compresses on the calling thread.
    /// A level outside `LEVELS` is an error at the first block.
    pub fn new(out: W, level: u32, threads: usize) -> ParGzWriter<W> {
        ParGzWriter {
            out,
            level,
            threads: threads.max(1),
            buf: Vec::with_capacity(BLOCK),
            members: 0,
            here: None,
            pending: VecDeque::new(),
            pool: None,
        }
    }

    fn drain_one(&mut self) -> io::Result<()> {
        if let Some(rx) = self.pending.pop_front() {
            let r = rx
                .recv()
                .map_err(|_| io::Error::other("gzip worker stopped"))?;
            self.out.write_all(&r?)?;
        }
        Ok(())
    }

    /// Hands the buffered block to a worker (or compresses it here with one thread, or when
    /// it is the only block).
    fn submit(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(if last { 0 } else { BLOCK }),
        );
        self.members += 1;
        if self.threads == 1 || (last && self.pool.is_none()) {
            let c = match &mut self.here {
                Some(c) => c,
                None => self.here.insert(compressor(self.level)?),
            };
            let member = gzip_member(c, &data)?;
            self.drain_all()?;
            return self.out.write_all(&member);
        }
        if self.pool.is_none() {
            self.pool = Some(Pool::new(self.threads, self.level)?);
        }
        while self.pending.len() >= 2 * self.threads {
            self.drain_one()?;
        }
        let (reply, rx) = sync_channel(1);
        let tx = self
            .pool
            .as_ref()
            .and_then(|p| p.tx.as_ref())
            .ok_or_else(|| io::Error::other("gzip pool closed"))?;
        tx.send(Job { data, reply })
            .map_err(|_| io::Error::other("gzip worker stopped"))?;
        self.pending.push_back(rx);
        Ok(())
    }

    fn drain_all(&mut self) -> io::Result<()> {
        while !self.pending.is_empty() {
            self.drain_one()?;
        }
        Ok(())
    }

    /// Compresses what is left and returns the inner writer. An empty input is one empty
    /// member; an input of whole blocks ends with its last full block (no empty member).
    pub fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() || self.members == 0 {
            self.submit(true)?;
        }
        self.drain_all()?;
        self.pool = None;
        // Move the writer out; the remaining fields drop normally.
        let ParGzWriter { out, .. } = self;
        Ok(out)
    }
}

impl<W: Write> Blocked for ParGzWriter<W> {
    const BLOCK: usize = BLOCK;
    fn block(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
    fn block_full(&mut self) -> io::Result<()> {
        self.submit(false)
    }
}

impl<W: Write> Write for ParGzWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        write_blocked(self, data)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};
    use std::io::Read;

    /// Deterministic, compressible, not trivially repetitive: text-like words from an LCG.
    fn sample(len: usize) -> Vec<u8> {
        let words: [&[u8]; 12] = [
            b"layer ",
            b"digest ",
            b"sha256 ",
            b"\n",
            b"usr/lib/",
            b"opt/vendor/",
            b"0x",
            b"ELF",
            b"{\"config\":",
            b"whiteout ",
            b"\x00\x00\x00\x00",
            b"regraft ",
        ];
        let mut out = Vec::with_capacity(len + 16);
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        while out.len() < len {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let w = words[(x >> 60) as usize % words.len()];
            out.extend_from_slice(w);
            if (x >> 33).is_multiple_of(7) {
                out.push((x >> 17) as u8);
            }
        }
        out.truncate(len);
        out
    }

    fn encode(data: &[u8], threads: usize, piece: usize) -> Vec<u8> {
        let mut w = ParGzWriter::new(Vec::new(), 6, threads);
        for p in data.chunks(piece) {
            w.write_all(p).unwrap();
        }
        w.finish().unwrap()
    }

    fn decode(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// Pins the format: block size, members, compressor and level. If this digest changes,
    /// every gzip layer regraft writes changes its digest too.
    #[test]
    fn golden_digest_at_one_and_two_threads() {
        let data = sample(5 * BLOCK + 12345);
        let golden = "4d6fcc00291e45b5530da132117156c2647db9c71ba8907176eb245b71ddc210";
        for threads in [1, 2, 3] {
            let gz = encode(&data, threads, 77_777);
            assert_eq!(decode(&gz), data, "{threads} threads: round trip");
            assert_eq!(
                hex::encode(Sha256::digest(&gz)),
                golden,
                "{threads} threads: output bytes changed"
            );
        }
    }

    /// One member a block, each a whole gzip file on its own, and the whole within 5% of one
    /// zlib stream at the same level on this repetitive sample (3.8% larger: every block
    /// relearns the words). On real layer tars the blocks come out smaller than pigz -6's one
    /// stream; `benches/compare.sh` measures that.
    #[test]
    fn one_member_a_block_and_near_one_stream() {
        let data = sample(3 * BLOCK + 1);
        let gz = encode(&data, 2, BLOCK);
        let mut rest = &gz[..];
        let mut members = 0;
        let mut back = Vec::new();
        while !rest.is_empty() {
            let mut d = flate2::bufread::GzDecoder::new(rest);
            let mut one = Vec::new();
            d.read_to_end(&mut one).unwrap();
            assert_eq!(
                one.len(),
                BLOCK.min(data.len() - back.len()),
                "member {members}"
            );
            back.extend_from_slice(&one);
            rest = d.into_inner();
            members += 1;
        }
        assert_eq!((members, back == data), (4, true));
        let mut single = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        single.write_all(&data).unwrap();
        let single = single.finish().unwrap();
        assert!(
            (gz.len() as f64) < single.len() as f64 * 1.05,
            "{} vs {}",
            gz.len(),
            single.len()
        );
    }

    #[test]
    fn every_level_round_trips_and_a_bad_level_is_an_error() {
        let data = sample(BLOCK + 7);
        for level in LEVELS {
            let mut w = ParGzWriter::new(Vec::new(), level, 2);
            w.write_all(&data).unwrap();
            assert_eq!(decode(&w.finish().unwrap()), data, "level {level}");
        }
        let mut w = ParGzWriter::new(Vec::new(), 13, 1);
        let e = w.write_all(&data).and_then(|_| w.finish().map(|_| ()));
        assert!(e.unwrap_err().to_string().contains("not 1 to 12"));
    }

    #[test]
    fn edge_sizes_round_trip() {
        for len in [0, 1, 32 * 1024 - 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK] {
            let data = sample(len);
            let a = encode(&data, 1, 4096);
            let b = encode(&data, 2, 1 << 20);
            assert_eq!(a, b, "len {len}");
            assert_eq!(decode(&a), data, "len {len}");
        }
    }
}
