//! `verify`: every digest, size and diff_id of an image, read once, stopping at the first
//! mismatch; plus, for dual-format files, whether `manifest.json` agrees with `index.json`.

use crate::error::Result;
use crate::layer::LayerStream;
use crate::model::image::Image;

#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub layers: usize,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
}

/// Streams every layer of `img` and checks it. The manifest and config were checked when the
/// image was opened.
pub fn verify_image(img: &Image, max_layer_size: u64) -> Result<Report> {
    let mut rep = Report::default();
    for (i, l) in img.layers.iter().enumerate() {
        let mut s = LayerStream::open(&img.name, i, l, max_layer_size)?;
        let n = match std::io::copy(&mut s, &mut std::io::sink()) {
            Ok(n) => n,
            Err(e) => return Err(s.fail(e)),
        };
        s.finish()?;
        rep.layers += 1;
        rep.compressed_bytes += l.desc.size;
        rep.uncompressed_bytes += n;
    }
    Ok(rep)
}
