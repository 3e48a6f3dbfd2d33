//! regraft: move a vendor's application onto a new base image, daemonless and offline, on image
//! files on disk (docker-save tarballs of every generation, OCI archives, OCI layouts).
//!
//! The modules stand in floors; each imports only from the floors below it (ARCHITECTURE.md):
//! - foundation: [`error`], [`text`], [`progress`];
//! - bytes: [`codec`] (compression), [`store`] (where blobs are read from, temporaries);
//! - the image model and paths: [`model`]; parsers of files found inside images: [`formats`];
//! - reading and writing layer tars: [`layer`];
//! - the merged filesystem of a layer stack: [`view`];
//! - images in and out: [`source`] (`ImageSource` backends), [`sink`] (`Sink`), and building
//!   new images: [`mutate`];
//! - the old base's split: [`oldbase`];
//! - the features: [`packages`], [`check`], [`graft`], [`triage`], [`diff`], [`toolbox`],
//!   [`inspect`], [`verify`].
//!
//! The CLI in `main.rs`/`cli.rs`/`commands/` is a thin shell over it.

pub mod error;
pub mod progress;
pub mod text;

pub mod codec;
pub mod store;

pub mod model;

pub mod formats;
pub mod layer;
pub mod view;

pub mod mutate;
pub mod sink;
pub mod source;

pub mod check;
pub mod diff;
pub mod graft;
pub mod inspect;
pub mod oldbase;
pub mod packages;
pub mod patch;
pub mod sbom;
pub mod toolbox;
pub mod triage;
pub mod verify;

pub use error::{Error, Result};
