//! The image model and the values it is made of: digests, the spec's documents, references,
//! the image (manifest, config, layers), an image planned for writing, and path globs.

pub mod digest;
pub mod glob;
pub mod image;
pub mod out;
pub mod path;
pub mod reference;
pub mod spec;
