//! The merged filesystem of a stack of layers ([`merged`]), the filesystem the check reads
//! ([`fs`]), and one streaming pass over an image's files ([`contents`]).

pub mod contents;
pub mod fs;
pub mod load;
pub mod merged;
pub mod spill;

pub use merged::{MergedView, Node};
