//! The image model and the values it is made of: digests, the spec's documents, references,
//! the config and its one typed reader, the image (manifest, config, layers), an image planned
//! for writing, path globs, and the hard limits on what is read from inside an image.

pub mod config;
pub mod digest;
pub mod glob;
pub mod image;
pub mod limits;
pub mod out;
pub mod path;
pub mod reference;
pub mod spec;
