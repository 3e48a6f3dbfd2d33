//! Layer compression: told by magic bytes, never by a name or media type. Decoders for gzip
//! (every member of a multi-member stream) and zstd; encoders that give the same bytes for the
//! same input by feeding the compressor fixed-size chunks.

use super::{Blocked, write_blocked};
use crate::error::{Error, Result};
use std::io::{self, BufRead, BufReader, Read, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Tells compression from the first bytes of a blob. bzip2 and xz, which Docker also sniffs,
/// are named and refused.
pub fn sniff(head: &[u8], what: &str) -> Result<Compression> {
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        Ok(Compression::Gzip)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Compression::Zstd)
    } else if head.len() >= 4 && head[0] & 0xf0 == 0x50 && head[1..4] == [0x2a, 0x4d, 0x18] {
        // A zstd skippable frame.
        Ok(Compression::Zstd)
    } else if head.starts_with(b"BZh") {
        Err(Error::Unsupported(format!(
            "{what}: bzip2-compressed layers are not supported"
        )))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Err(Error::Unsupported(format!(
            "{what}: xz-compressed layers are not supported"
        )))
    } else {
        Ok(Compression::None)
    }
}

/// Buffer size for layer streams.
pub const BUF: usize = 256 * 1024;

/// A decoder that can give back its raw reader when done (to verify the raw blob).
pub enum Decoder<R: Read> {
    None(BufReader<R>),
    Gzip(Box<flate2::bufread::MultiGzDecoder<BufReader<R>>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, BufReader<R>>>),
}

impl<R: Read> Decoder<R> {
    pub fn compression(&self) -> Compression {
        match self {
            Decoder::None(_) => Compression::None,
            Decoder::Gzip(_) => Compression::Gzip,
            Decoder::Zstd(_) => Compression::Zstd,
        }
    }
    pub fn into_inner(self) -> R {
        match self {
            Decoder::None(b) => b.into_inner(),
            Decoder::Gzip(g) => g.into_inner().into_inner(),
            Decoder::Zstd(z) => z.finish().into_inner(),
        }
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::None(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
        }
    }
}

/// Wraps a raw blob stream in the decoder its magic bytes call for.
pub fn decoder<R: Read>(raw: R, what: &str) -> Result<Decoder<R>> {
    let mut br = BufReader::with_capacity(BUF, raw);
    let head = br.fill_buf().map_err(|e| Error::layer_io(what, e))?;
    Ok(match sniff(head, what)? {
        Compression::None => Decoder::None(br),
        Compression::Gzip => Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(br))),
        Compression::Zstd => Decoder::Zstd(Box::new(
            zstd::stream::read::Decoder::with_buffer(br)
                .map_err(|e| Error::layer_io(format!("{what}: zstd"), e))?,
        )),
    })
}

/// Caps a decompressed stream at `limit` bytes (the `--max-layer-size` bound).
pub struct LimitedReader<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> LimitedReader<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        LimitedReader {
            inner,
            left: limit,
            limit,
        }
    }
}

impl<R> LimitedReader<R> {
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(format!(
                    "decompressed layer exceeds --max-layer-size ({} bytes)",
                    self.limit
                ))),
            };
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Compression choice for a layer regraft writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Codec {
    pub compression: Compression,
    pub level: i32,
}

impl Codec {
    pub const GZIP_DEFAULT: i32 = 6;
    pub const ZSTD_DEFAULT: i32 = 3;

    /// Parses `none`, `gzip[:LEVEL]`, `zstd[:LEVEL]`.
    pub fn parse(s: &str) -> Result<Codec> {
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (
                n,
                Some(l.parse::<i32>().map_err(|_| {
                    Error::Usage(format!("--compression {s:?}: level must be a number"))
                })?),
            ),
            None => (s, None),
        };
        let c = match name {
            "none" if level.is_none() => Codec {
                compression: Compression::None,
                level: 0,
            },
            "gzip" => Codec {
                compression: Compression::Gzip,
                level: level.unwrap_or(Self::GZIP_DEFAULT),
            },
            "zstd" => Codec {
                compression: Compression::Zstd,
                level: level.unwrap_or(Self::ZSTD_DEFAULT),
            },
            _ => {
                return Err(Error::Usage(format!(
                    "--compression {s:?}: expected none, gzip[:LEVEL] or zstd[:LEVEL]"
                )));
            }
        };
        match c.compression {
            Compression::Gzip if !(1..=12).contains(&c.level) => Err(Error::Usage(format!(
                "--compression {s:?}: gzip levels are 1 to 12"
            ))),
            Compression::Zstd if !(1..=19).contains(&c.level) => Err(Error::Usage(format!(
                "--compression {s:?}: zstd levels are 1 to 19"
            ))),
            _ => Ok(c),
        }
    }

    pub fn default_for(c: Compression) -> Codec {
        match c {
            Compression::None => Codec {
                compression: c,
                level: 0,
            },
            Compression::Gzip => Codec {
                compression: c,
                level: Self::GZIP_DEFAULT,
            },
            Compression::Zstd => Codec {
                compression: c,
                level: Self::ZSTD_DEFAULT,
            },
        }
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.compression {
            Compression::None => write!(f, "none"),
            c => write!(f, "{}:{}", c.name(), self.level),
        }
    }
}

/// Chunk size fed to the compressor: a streaming compressor's output may depend on write
/// boundaries (zlib-rs's does; gzip now goes through `pgzip`'s fixed blocks), so every
/// write reaching the encoder is exactly this long (except the last).
pub const ENCODE_CHUNK: usize = 64 * 1024;

/// An encoder whose output bytes depend only on the input bytes and the codec.
pub struct Encoder<W: Write> {
    inner: EncoderInner<W>,
    buf: Vec<u8>,
}

enum EncoderInner<W: Write> {
    None(W),
    /// Deterministic parallel gzip (`pgzip`): same bytes for any thread count.
    Gzip(crate::codec::pgzip::ParGzWriter<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    pub fn new(codec: Codec, w: W) -> io::Result<Self> {
        let inner = match codec.compression {
            Compression::None => EncoderInner::None(w),
            Compression::Gzip => EncoderInner::Gzip(crate::codec::pgzip::ParGzWriter::new(
                w,
                codec.level as u32,
                crate::codec::pgzip::default_threads(),
            )),
            Compression::Zstd => {
                let mut e = zstd::stream::write::Encoder::new(w, codec.level)?;
                e.include_checksum(true)?;
                EncoderInner::Zstd(e)
            }
        };
        Ok(Encoder {
            inner,
            buf: Vec::with_capacity(ENCODE_CHUNK),
        })
    }

    fn write_chunk(&mut self, chunk_len: usize) -> io::Result<()> {
        let chunk = &self.buf[..chunk_len];
        match &mut self.inner {
            EncoderInner::None(w) => w.write_all(chunk),
            EncoderInner::Gzip(w) => w.write_all(chunk),
            EncoderInner::Zstd(w) => w.write_all(chunk),
        }
    }

    pub fn finish(mut self) -> io::Result<W> {
        let n = self.buf.len();
        if n > 0 {
            self.write_chunk(n)?;
        }
        match self.inner {
            EncoderInner::None(w) => Ok(w),
            EncoderInner::Gzip(w) => w.finish(),
            EncoderInner::Zstd(w) => w.finish(),
        }
    }
}

impl<W: Write> Blocked for Encoder<W> {
    const BLOCK: usize = ENCODE_CHUNK;
    fn block(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
    fn block_full(&mut self) -> io::Result<()> {
        self.write_chunk(ENCODE_CHUNK)?;
        self.buf.clear();
        Ok(())
    }
}

impl<W: Write> Write for Encoder<W> {
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

    fn roundtrip(codec: Codec, data: &[u8]) -> Vec<u8> {
        let mut e = Encoder::new(codec, Vec::new()).unwrap();
        // Uneven writes must not change the output.
        for part in data.chunks(7777) {
            e.write_all(part).unwrap();
        }
        let out = e.finish().unwrap();
        let mut e2 = Encoder::new(codec, Vec::new()).unwrap();
        e2.write_all(data).unwrap();
        assert_eq!(
            out,
            e2.finish().unwrap(),
            "output depends on write boundaries"
        );
        let mut d = decoder(&out[..], "t").unwrap();
        assert_eq!(d.compression(), codec.compression);
        let mut back = Vec::new();
        d.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
        out
    }

    #[test]
    fn encoders_round_trip_and_are_deterministic() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for s in ["none", "gzip", "gzip:1", "zstd", "zstd:9"] {
            roundtrip(Codec::parse(s).unwrap(), &data);
        }
    }

    #[test]
    fn multi_member_gzip_is_read_whole() {
        let mut a = Encoder::new(Codec::parse("gzip").unwrap(), Vec::new()).unwrap();
        a.write_all(b"hello").unwrap();
        let mut two = a.finish().unwrap();
        two.extend_from_slice(&two.clone());
        let mut d = decoder(&two[..], "t").unwrap();
        let mut s = String::new();
        d.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hellohello");
    }

    #[test]
    fn codec_parse() {
        assert!(Codec::parse("gzip:0").is_err());
        assert!(Codec::parse("none:3").is_err());
        assert!(Codec::parse("brotli").is_err());
        assert_eq!(Codec::parse("zstd:5").unwrap().level, 5);
    }

    #[test]
    fn limited_reader_stops_bombs() {
        let data = vec![0u8; 1000];
        let mut r = LimitedReader::new(&data[..], 999);
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
        let mut r = LimitedReader::new(&data[..], 1000);
        assert!(r.read_to_end(&mut out).is_ok());
    }
}
