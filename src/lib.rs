//! regraft: move a vendor's application onto a new base image, daemonless and offline, on image
//! files on disk (docker-save tarballs of every generation, OCI archives, OCI layouts).
//!
//! The modules stand in floors; each imports only from the floors below it (ARCHITECTURE.md):
//! - foundation: [`error`], [`text`], [`progress`];
//! - bytes: [`codec`] (compression), [`store`] (the files an image lives in);
//! - the image model and paths: [`model`];
//! - parsers of files found inside images: [`formats`];
//! - reading and writing layer tars: [`layer`];
//! - the merged filesystem of a layer stack: [`view`];
//! - building new images: [`mutate`]; sources and sinks: [`source`], [`sink`];
//! - the features: [`oldbase`], [`check`], [`graft`], [`packages`], [`triage`], [`diff`],
//!   [`toolbox`], [`inspect`], [`verify`].
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
pub mod toolbox;
pub mod triage;
pub mod verify;

pub use error::{Error, Result};
