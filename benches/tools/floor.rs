//! The floor of a graft job, as one command: the least work any tool must do. For each input
//! blob the job needs: read it once and sha256 it; if it is compressed, inflate it once with
//! the fastest backend measured in `reference/deps.md` (zlib-rs through flate2, or libzstd) on a
//! second thread and sha256 the tar (its diff_id), so both cores work, as in deps.md's
//! "2 threads" read path. Then write the output's size in bytes once to a file and fsync it.
//! No JSON, no tar parsing, no merged view, no compression: a tool cannot do less and still
//! check what it copies.
//!
//!     cargo run --release --example floor -- [--write FILE BYTES] BLOB[@OFFSET+LEN]...
//!     cargo run --release --example floor -- --hash MIB     # regraft's SHA-256 speed
//!
//! `BLOB@OFFSET+LEN` names a member inside a tar file (docker-save layers). benches/compare.sh
//! lists the blobs of each job and times this command beside the tools.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::sync::mpsc::sync_channel;

const CHUNK: usize = 512 * 1024;

/// Reads and hashes the raw blob as it is consumed.
struct Hashing<R> {
    inner: R,
    h: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.h.update(&buf[..n]);
        Ok(n)
    }
}

fn blob(spec: &str) -> io::Result<(u64, u64)> {
    let (path, range) = match spec.rsplit_once('@') {
        Some((p, r)) => (p, Some(r)),
        None => (spec, None),
    };
    let mut f = File::open(path)?;
    let (off, len) = match range.and_then(|r| r.split_once('+')) {
        Some((o, l)) => (
            o.parse().map_err(io::Error::other)?,
            l.parse().map_err(io::Error::other)?,
        ),
        None => (0, f.metadata()?.len()),
    };
    f.seek(SeekFrom::Start(off))?;
    let raw = Hashing {
        inner: f.take(len),
        h: Sha256::new(),
    };
    let mut br = BufReader::with_capacity(256 * 1024, raw);
    let head = br.fill_buf()?.to_vec();
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    let zstd = head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    if !gzip && !zstd {
        // An uncompressed layer: its digest is its diff_id; one hash.
        io::copy(&mut br, &mut io::sink())?;
        let _ = br.into_inner().h.finalize();
        return Ok((len, len));
    }
    let (tx, rx) = sync_channel::<Vec<u8>>(4);
    let producer = std::thread::spawn(move || -> io::Result<()> {
        let mut dec: Box<dyn Read> = if gzip {
            Box::new(flate2::bufread::MultiGzDecoder::new(br))
        } else {
            Box::new(zstd::stream::read::Decoder::with_buffer(br)?)
        };
        loop {
            let mut buf = vec![0u8; CHUNK];
            let mut n = 0;
            while n < CHUNK {
                match dec.read(&mut buf[n..])? {
                    0 => break,
                    k => n += k,
                }
            }
            if n == 0 {
                return Ok(());
            }
            buf.truncate(n);
            if tx.send(buf).is_err() {
                return Ok(());
            }
        }
    });
    let mut h = Sha256::new();
    let mut tar = 0u64;
    for c in rx {
        tar += c.len() as u64;
        h.update(&c);
    }
    let _ = h.finalize();
    producer.join().map_err(|_| io::Error::other("panic"))??;
    Ok((len, tar))
}

/// CPU time of this thread so far (ns), from the scheduler: precise, and fair under load.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `--hash MIB`: SHA-256 speed of regraft's own hasher, in MB/s by wall and by CPU time, to
/// set beside `openssl speed -evp sha256` (which divides by CPU time unless `-elapsed`).
fn hash_speed(mib: usize) {
    let data: Vec<u8> = (0..64u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    let mut h = regraft::model::digest::Hasher::new();
    h.update(&data[..1 << 20]); // warm up
    let (t0, c0) = (std::time::Instant::now(), cpu_ns());
    let mut h = regraft::model::digest::Hasher::new();
    for _ in 0..mib.div_ceil(64) {
        h.update(&data);
    }
    let (_, n) = h.finish();
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), (cpu_ns() - c0) as f64 / 1e9);
    println!(
        "regraft sha256: {:.0} MB/s wall, {:.0} MB/s CPU ({} bytes)",
        n as f64 / wall / 1e6,
        n as f64 / cpu.max(1e-9) / 1e6,
        n
    );
}

fn main() -> io::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--hash") {
        hash_speed(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2048));
        return Ok(());
    }
    let mut write = None;
    if args.first().map(String::as_str) == Some("--write") && args.len() >= 3 {
        let bytes: u64 = args[2].parse().map_err(io::Error::other)?;
        write = Some((args[1].clone(), bytes));
        args.drain(..3);
    }
    let (mut raw, mut tar) = (0, 0);
    for a in &args {
        let (r, t) = blob(a)?;
        raw += r;
        tar += t;
    }
    if let Some((path, bytes)) = write {
        let buf: Vec<u8> = (0..4 << 20)
            .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let mut f = File::create(&path)?;
        let mut left = bytes;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            f.write_all(&buf[..n])?;
            left -= n as u64;
        }
        f.sync_all()?;
        std::fs::remove_file(&path)?;
    }
    eprintln!("floor: read {raw} bytes, inflated to {tar}");
    Ok(())
}
