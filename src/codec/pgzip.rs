//! A deterministic parallel gzip encoder (pigz's scheme) for the layers regraft writes.
//!
//! The input is cut into fixed `BLOCK`-sized blocks. Each block is compressed on its own as raw
//! deflate by zlib-rs (through flate2), primed with the previous block's last 32 KiB as a
//! dictionary so the ratio stays within a fraction of a percent of one stream; every block but the
//! last ends with a sync flush (byte-aligned, not final), the last with a final block. The block
//! streams are concatenated into ONE gzip member whose CRC-32 is combined from the blocks' CRCs.
//!
//! Every block's bytes are a pure function of (its data, its dictionary, the level): the compressor
//! gets the whole block in one call with an output buffer larger than deflate's bound, because
//! zlib-rs output depends on how input is split between calls. So the output is the same for
//! any number of threads, and a golden-digest test pins it at 1 and 2 threads. gzp's `Gzip` is
//! not deterministic and needs C zlib (see `reference/deps.md`), hence this module.

use super::{Blocked, write_blocked};
use flate2::{Compress, FlushCompress, Status};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Input block size. Part of the output format: changing it changes every digest.
pub const BLOCK: usize = 1 << 20;
/// Deflate's window: how much of the previous block primes the next one.
const DICT: usize = 32 * 1024;
/// flate2's gzip header: no mtime, no name, XFL 0, OS 255 (unknown); reproducible.
const HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];

/// How a block ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// More blocks follow: a sync flush ends the block on a byte boundary.
    Sync,
    /// The last block: it ends the deflate stream.
    Finish,
}

/// Compresses one block as raw deflate.
pub fn deflate_block(level: u32, dict: &[u8], data: &[u8], end: Flush) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(flate2::Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = match end {
        Flush::Sync => FlushCompress::Sync,
        Flush::Finish => FlushCompress::Finish,
    };
    // Above deflate's worst case (stored blocks: 5 bytes per 16 KiB plus framing), so one call
    // does it all; the loop is only a safety net and is itself deterministic.
    let mut out = Vec::with_capacity(data.len() + (data.len() >> 10) + 4096);
    loop {
        let consumed = c.total_in() as usize;
        let st = c
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = c.total_in() as usize == data.len();
        let room_left = out.len() < out.capacity();
        match st {
            Status::StreamEnd => break,
            _ if end == Flush::Sync && all_in && room_left => break,
            _ => out.reserve(64 * 1024),
        }
    }
    Ok(out)
}

/// A compressed block and the CRC-32 of its input.
type BlockResult = io::Result<(Vec<u8>, crc32fast::Hasher)>;

struct Job {
    data: Vec<u8>,
    dict: Vec<u8>,
    end: Flush,
    reply: SyncSender<BlockResult>,
}

fn compress_job(level: u32, job: &Job) -> BlockResult {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&job.data);
    Ok((deflate_block(level, &job.dict, &job.data, job.end)?, crc))
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
    /// The last `DICT` bytes of the previous block.
    dict: Vec<u8>,
    crc: crc32fast::Hasher,
    header_written: bool,
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
                            let _ = job.reply.send(compress_job(level, &job));
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
    pub fn new(out: W, level: u32, threads: usize) -> ParGzWriter<W> {
        ParGzWriter {
            out,
            level,
            threads: threads.max(1),
            buf: Vec::with_capacity(BLOCK),
            dict: Vec::new(),
            crc: crc32fast::Hasher::new(),
            header_written: false,
            pending: VecDeque::new(),
            pool: None,
        }
    }

    fn write_out(&mut self, block: BlockResult) -> io::Result<()> {
        let (bytes, crc) = block?;
        if !self.header_written {
            self.out.write_all(&HEADER)?;
            self.header_written = true;
        }
        self.crc.combine(&crc);
        self.out.write_all(&bytes)
    }

    fn drain_one(&mut self) -> io::Result<()> {
        if let Some(rx) = self.pending.pop_front() {
            let r = rx
                .recv()
                .map_err(|_| io::Error::other("gzip worker stopped"))?;
            self.write_out(r)?;
        }
        Ok(())
    }

    /// Hands the buffered block to a worker (or compresses it here with one thread).
    fn submit(&mut self, end: Flush) -> io::Result<()> {
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(BLOCK));
        let dict = std::mem::take(&mut self.dict);
        self.dict = data[data.len().saturating_sub(DICT)..].to_vec();
        let (reply, rx) = sync_channel(1);
        let job = Job {
            data,
            dict,
            end,
            reply,
        };
        if self.threads == 1 || (end == Flush::Finish && self.pool.is_none()) {
            // One block in all (or one thread): no pool needed.
            let r = compress_job(self.level, &job);
            self.drain_all()?;
            return self.write_out(r);
        }
        if self.pool.is_none() {
            self.pool = Some(Pool::new(self.threads, self.level)?);
        }
        while self.pending.len() >= 2 * self.threads {
            self.drain_one()?;
        }
        let tx = self
            .pool
            .as_ref()
            .and_then(|p| p.tx.as_ref())
            .ok_or_else(|| io::Error::other("gzip pool closed"))?;
        tx.send(job)
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

    /// Compresses what is left, writes the trailer and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit(Flush::Finish)?;
        self.drain_all()?;
        let crc = std::mem::take(&mut self.crc);
        let len = crc.total_len();
        self.out.write_all(&crc.finalize().to_le_bytes())?;
        self.out.write_all(&(len as u32).to_le_bytes())?;
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
        self.submit(Flush::Sync)
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

    /// Pins the format: block size, dictionary, flushes, header and level. If this digest
    /// changes, every gzip layer regraft writes changes its digest too.
    #[test]
    fn golden_digest_at_one_and_two_threads() {
        let data = sample(5 * BLOCK + 12345);
        let golden = "aa310f48e481aea6706b5c8985cb72583f0b8b2424f9d9e04b27524ee3f3d172";
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

    #[test]
    fn one_member_and_close_to_a_single_stream() {
        let data = sample(3 * BLOCK + 1);
        let gz = encode(&data, 2, BLOCK);
        // One member: the single-member decoder reads all of it.
        let mut one = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut one)
            .unwrap();
        assert_eq!(one, data);
        let mut single = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        single.write_all(&data).unwrap();
        let single = single.finish().unwrap();
        assert!(
            (gz.len() as f64) < single.len() as f64 * 1.01,
            "{} vs {}",
            gz.len(),
            single.len()
        );
    }

    #[test]
    fn edge_sizes_round_trip() {
        for len in [0, 1, DICT - 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK] {
            let data = sample(len);
            let a = encode(&data, 1, 4096);
            let b = encode(&data, 2, 1 << 20);
            assert_eq!(a, b, "len {len}");
            assert_eq!(decode(&a), data, "len {len}");
        }
    }
}
