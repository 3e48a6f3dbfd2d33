//! Compression: gzip, zstd or none, told by magic bytes; encoders and decoders, and the
//! deterministic parallel gzip writer for new layers. Both writers feed their compressor fixed
//! blocks (`Blocked`).

pub mod compress;
pub mod pgzip;

use std::io;

/// A writer that hands its input on in blocks of exactly `BLOCK` bytes (but the last), so that
/// its output cannot depend on how the input was split into writes.
pub(crate) trait Blocked {
    const BLOCK: usize;
    /// The block being filled.
    fn block(&mut self) -> &mut Vec<u8>;
    /// Hands on the block, now full, and leaves an empty one.
    fn block_full(&mut self) -> io::Result<()>;
}

/// `Write::write` for a `Blocked` writer: takes all of `data`.
pub(crate) fn write_blocked<B: Blocked>(w: &mut B, mut data: &[u8]) -> io::Result<usize> {
    let total = data.len();
    while !data.is_empty() {
        let block = w.block();
        let take = (B::BLOCK - block.len()).min(data.len());
        block.extend_from_slice(&data[..take]);
        data = &data[take..];
        if block.len() == B::BLOCK {
            w.block_full()?;
        }
    }
    Ok(total)
}
