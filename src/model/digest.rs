//! Content digests. `Digest` names a blob as stored (possibly compressed); `DiffId` names an
//! uncompressed layer tar. Both are sha256 only: regraft refuses other algorithms by name rather
//! than guessing. `HashingWriter` and `VerifyingReader` hash the bytes that pass through them;
//! verification happens in `finish`, never in `Drop`.

use crate::error::{Error, Result};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::{self, Read, Write};

/// A `sha256:<64 lowercase hex>` content digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    /// Parses `sha256:<hex>`. Anything else is an error that quotes the input.
    pub fn parse(s: &str) -> Result<Digest> {
        let Some(hex) = s.strip_prefix("sha256:") else {
            if let Some((alg, _)) = s.split_once(':') {
                return Err(Error::Unsupported(format!(
                    "digest algorithm {:?} is not supported (only sha256): {}",
                    alg,
                    crate::text::sanitize(s)
                )));
            }
            return Err(Error::Invalid(format!(
                "not a digest: {:?}",
                crate::text::sanitize(s)
            )));
        };
        Self::from_hex(hex)
    }

    /// Parses 64 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Result<Digest> {
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(Error::Invalid(format!(
                "not a sha256 digest: {:?}",
                crate::text::sanitize(hex)
            )));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex, &mut out).map_err(|e| Error::context("bad digest hex", e))?;
        Ok(Digest(out))
    }

    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// `blobs/sha256/<hex>`, the path of this blob in an OCI layout.
    pub fn blob_path(&self) -> String {
        format!("blobs/sha256/{}", self.hex())
    }

    /// The first 12 hex digits, as Docker shows image IDs.
    pub fn short(&self) -> String {
        self.hex()[..12].to_string()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}
impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The digest of an uncompressed layer tar, as listed in `rootfs.diff_ids`.
#[derive(
    Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct DiffId(pub Digest);

impl DiffId {
    pub fn parse(s: &str) -> Result<DiffId> {
        Digest::parse(s).map(DiffId)
    }
    pub fn digest(&self) -> &Digest {
        &self.0
    }
}
impl fmt::Display for DiffId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A running sha256 with a byte count.
#[derive(Clone, Default)]
pub struct Hasher {
    h: Sha256,
    n: u64,
}

impl Hasher {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn update(&mut self, b: &[u8]) {
        self.h.update(b);
        self.n += b.len() as u64;
    }
    pub fn len(&self) -> u64 {
        self.n
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    pub fn finish(self) -> (Digest, u64) {
        (Digest(self.h.finalize().into()), self.n)
    }
}

/// sha256 on a thread of its own, fed owned chunks, which come back for reuse once hashed:
/// whoever reads or builds the bytes overlaps with hashing them, without copying them again.
pub struct ParHasher {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    recycled: std::sync::mpsc::Receiver<Vec<u8>>,
    handle: Option<std::thread::JoinHandle<(Digest, u64)>>,
}

impl ParHasher {
    pub fn new() -> io::Result<ParHasher> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let (back, recycled) = std::sync::mpsc::sync_channel::<Vec<u8>>(6);
        let handle = std::thread::Builder::new()
            .name("regraft-sha256".into())
            .spawn(move || {
                let mut h = Hasher::new();
                for c in rx {
                    h.update(&c);
                    let _ = back.try_send(c);
                }
                h.finish()
            })?;
        Ok(ParHasher {
            tx: Some(tx),
            recycled,
            handle: Some(handle),
        })
    }

    /// An empty buffer to fill: a hashed chunk back for reuse, or a new one.
    pub fn buffer(&self) -> Vec<u8> {
        let mut b = self.recycled.try_recv().unwrap_or_default();
        b.clear();
        b
    }

    /// Hands `chunk` (the next bytes) to the hashing thread.
    pub fn send(&self, chunk: Vec<u8>) -> io::Result<()> {
        match &self.tx {
            Some(tx) => tx
                .send(chunk)
                .map_err(|_| io::Error::other("the hashing thread stopped")),
            None => Err(io::Error::other("the hashing thread stopped")),
        }
    }

    /// The digest of every chunk sent, and their length.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        drop(self.tx.take());
        self.handle
            .take()
            .ok_or_else(|| io::Error::other("the hashing thread stopped"))?
            .join()
            .map_err(|_| io::Error::other("the hashing thread panicked"))
    }
}

impl Drop for ParHasher {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Hashes everything written through it on a second thread (`ParHasher`), so that the writing
/// thread's work (building a tar, reading file data, the write itself) overlaps with sha256.
pub struct ParHashingWriter<W> {
    inner: W,
    chunk: Vec<u8>,
    hasher: ParHasher,
}

const PAR_CHUNK: usize = 1 << 20;

impl<W: Write> ParHashingWriter<W> {
    pub fn new(inner: W) -> io::Result<Self> {
        Ok(ParHashingWriter {
            inner,
            chunk: Vec::with_capacity(PAR_CHUNK),
            hasher: ParHasher::new()?,
        })
    }

    fn send(&mut self) -> io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let next = self.hasher.buffer();
        let full = std::mem::replace(&mut self.chunk, next);
        self.hasher.send(full)
    }

    /// Returns the inner writer, the digest and the number of bytes written.
    pub fn finish(mut self) -> io::Result<(W, Digest, u64)> {
        self.send()?;
        let (d, n) = self.hasher.finish()?;
        Ok((self.inner, d, n))
    }
}

impl<W: Write> Write for ParHashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let k = rest.len().min(PAR_CHUNK - self.chunk.len());
            self.chunk.extend_from_slice(&rest[..k]);
            rest = &rest[k..];
            if self.chunk.len() == PAR_CHUNK {
                self.send()?;
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes everything written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::new(),
        }
    }
    pub fn written(&self) -> u64 {
        self.hasher.len()
    }
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
    /// Returns the inner writer, the digest and the number of bytes written.
    pub fn finish(self) -> (W, Digest, u64) {
        let (d, n) = self.hasher.finish();
        (self.inner, d, n)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes everything read through it; with a cap, refuses to read more than `cap` bytes
/// (reads beyond the cap fail, so a lying descriptor cannot make a read run away).
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    cap: Option<u64>,
    what: String,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(),
            cap: None,
            what: String::new(),
        }
    }
    /// Fails reads once more than `cap` bytes have come through.
    pub fn capped(inner: R, cap: u64, what: impl Into<String>) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(),
            cap: Some(cap),
            what: what.into(),
        }
    }
    pub fn read_so_far(&self) -> u64 {
        self.hasher.len()
    }
    pub fn finish(self) -> (R, Digest, u64) {
        let (d, n) = self.hasher.finish();
        (self.inner, d, n)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = match self.cap {
            Some(cap) => {
                let left = cap.saturating_sub(self.hasher.len());
                if left == 0 {
                    // One probing byte tells "exactly at the cap" from "more than the cap".
                    let mut probe = [0u8; 1];
                    return match self.inner.read(&mut probe)? {
                        0 => Ok(0),
                        // Carries the error itself: whoever wraps it need not name the blob.
                        _ => Err(io::Error::other(Error::layer(
                            &self.what,
                            format!("more than the {cap} bytes declared"),
                        ))),
                    };
                }
                buf.len().min(left.min(usize::MAX as u64) as usize)
            }
            None => buf.len(),
        };
        let n = self.inner.read(&mut buf[..want])?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Reads a blob while checking it against its descriptor: never more than `size` bytes, and at
/// `finish` exactly `size` bytes with the expected digest.
pub struct VerifyingReader<R> {
    inner: HashingReader<R>,
    expected: Digest,
    size: u64,
    what: String,
}

impl<R: Read> VerifyingReader<R> {
    pub fn new(inner: R, expected: Digest, size: u64, what: impl Into<String>) -> Self {
        let what = what.into();
        VerifyingReader {
            inner: HashingReader::capped(inner, size, what.clone()),
            expected,
            size,
            what,
        }
    }
    pub fn read_so_far(&self) -> u64 {
        self.inner.read_so_far()
    }
    /// Reads what is left (a decoder may stop before the blob's end), then checks size and digest.
    pub fn finish(mut self) -> Result<R> {
        let mut sink = [0u8; 64 * 1024];
        loop {
            match self.inner.read(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(Error::layer_io(&self.what, e)),
            }
        }
        let (r, d, n) = self.inner.finish();
        if n != self.size {
            return Err(Error::SizeMismatch {
                what: self.what,
                expected: self.size,
                found: n,
            });
        }
        if d != self.expected {
            return Err(Error::DigestMismatch {
                what: self.what,
                expected: self.expected.to_string(),
                found: d.to_string(),
            });
        }
        Ok(r)
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        let s = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let d = Digest::parse(s).unwrap();
        assert_eq!(d.to_string(), s);
        assert_eq!(d, Digest::of(b""));
        assert_eq!(d.blob_path(), format!("blobs/sha256/{}", &s[7..]));
    }

    #[test]
    fn rejects_bad_digests() {
        for bad in [
            "",
            "sha256:",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
            "sha256:../../../../etc/passwd0000000000000000000000000000000000000000",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(matches!(
            Digest::parse("sha512:00"),
            Err(Error::Unsupported(_))
        ));
    }

    #[test]
    fn verifying_reader_checks_size_and_digest() {
        let data = b"hello world";
        let d = Digest::of(data);
        let mut r = VerifyingReader::new(&data[..], d.clone(), 11, "blob");
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert!(r.finish().is_ok());

        let r = VerifyingReader::new(&data[..], d.clone(), 5, "blob");
        assert!(r.finish().is_err(), "longer than declared");
        let r = VerifyingReader::new(&data[..], d.clone(), 20, "blob");
        assert!(matches!(r.finish(), Err(Error::SizeMismatch { .. })));
        let r = VerifyingReader::new(&data[..], Digest::of(b"x"), 11, "blob");
        assert!(matches!(r.finish(), Err(Error::DigestMismatch { .. })));
    }
}
