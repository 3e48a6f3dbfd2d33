//! Building new images from old ones: new layers, appended layers and history, edited configs,
//! and the written form of the result.

pub mod config;
pub mod mutate;
