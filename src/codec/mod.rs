//! Compression: gzip, zstd or none, told by magic bytes; encoders and decoders, and the
//! deterministic parallel gzip writer for new layers.

pub mod compress;
pub mod pgzip;
