//! Building new images from old ones. Inputs never change: the result is a plan (`OutImage`)
//! the writers turn into files. `layer` builds new layers (the one builder); `append` puts
//! layers and history on an image and plans the result (the one place `created`,
//! `rootfs.diff_ids` and `history` are written); `config` is the config merge and the
//! overrides.

mod annotate;
mod append;
pub mod config;
pub mod edits;
pub mod finish;
pub mod index;
pub mod layer;
pub mod retype;
pub mod rewrite;

pub use annotate::Annotations;
pub use append::{Addenda, Base, Created, HistoryKind, LayerFrom, append, history_entry};
pub use finish::{Children, DocEdits, finish};
pub use index::index_of;
pub use layer::{LayerDest, LayerTar, new_layer, whiteout_path};

use crate::codec::compress::Codec;
use crate::error::Result;
use crate::model::image::Image;
use serde_json::Value;

/// `created` for an edited image: SOURCE_DATE_EPOCH when set, else the image's own.
pub fn created(img: &Image, source_date_epoch: Option<i64>) -> Option<String> {
    match source_date_epoch {
        Some(t) => Some(config::rfc3339(t)),
        None => img
            .config
            .get("created")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

/// The compression of a new layer on `img` when none is asked for: that of its top layer
/// (told by its bytes), gzip for an image without layers.
pub fn default_codec(img: &Image) -> Result<Codec> {
    Ok(match img.layers.last() {
        Some(l) => Codec::default_for(crate::layer::layer_compression(l)?),
        None => Codec::default_for(crate::codec::compress::Compression::Gzip),
    })
}
