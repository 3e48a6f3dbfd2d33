//! The files an image lives in: an OCI layout directory or a tar archive, each member opened on
//! its own.

pub mod container;
