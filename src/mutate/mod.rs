//! Building new images from old ones: new layers written through diff_id hashing, the encoder
//! and blob hashing into a temporary file; an image with layers appended and its config edited.
//! Inputs never change: the result is a plan (`OutImage`) the writers turn into files.

use crate::codec::compress::{Codec, Encoder};
use config::Overrides;
pub mod config;

use crate::error::{Error, Result};
use crate::layer::tarw::TarWriter;
use crate::model::digest::{DiffId, Digest, HashingWriter};
use crate::model::image::{BlobData, Image, Layer};
use crate::model::out::{DockerEntry, OutBlob, OutImage};
use crate::model::spec::{self, Descriptor, Manifest, media};
use serde_json::Value;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

/// The tar writer a new layer is written through.
pub type LayerTar<W> = TarWriter<BufWriter<HashingWriter<Encoder<HashingWriter<W>>>>>;

/// Writes a new layer with `fill`, into a temporary file in `dir` (or nowhere, for a dry run).
pub fn new_layer(
    dir: Option<&Path>,
    codec: Codec,
    fill: impl FnOnce(&mut LayerTar<BufWriter<Box<dyn Write>>>) -> Result<()>,
) -> Result<Layer> {
    let io = |e: std::io::Error| Error::Invalid(format!("writing the new layer: {e}"));
    let (sink, tmp): (Box<dyn Write>, Option<tempfile::NamedTempFile>) = match dir {
        Some(d) => {
            let tmp = tempfile::Builder::new()
                .prefix(".regraft-tmp-layer-")
                .tempfile_in(d)
                .map_err(|e| Error::io(d, e))?;
            let f = tmp
                .as_file()
                .try_clone()
                .map_err(|e| Error::io(tmp.path(), e))?;
            (Box::new(f), Some(tmp))
        }
        None => (Box::new(std::io::sink()), None),
    };
    let blob = HashingWriter::new(BufWriter::with_capacity(1 << 20, sink));
    let enc = Encoder::new(codec, blob).map_err(io)?;
    let diff = HashingWriter::new(enc);
    let mut tw = TarWriter::new(BufWriter::with_capacity(256 * 1024, diff));
    fill(&mut tw)?;
    let buf = tw.finish().map_err(io)?;
    let diff = buf.into_inner().map_err(|e| io(e.into_error()))?;
    let (enc, diff_id, _) = diff.finish();
    let blob = enc.finish().map_err(io)?;
    let (mut w, digest, size) = blob.finish();
    w.flush().map_err(io)?;
    let data = match tmp {
        Some(t) => BlobData::File(Arc::new(t.into_temp_path())),
        None => BlobData::Bytes(Arc::new(Vec::new())),
    };
    Ok(Layer {
        desc: Descriptor::new(spec::oci_layer_type(codec.compression), digest, size),
        diff_id: DiffId(diff_id),
        data,
        history: None,
        checked: Default::default(),
    })
}

/// A history entry written by regraft.
pub fn history_entry(created: Option<&str>, created_by: String, empty_layer: bool) -> Value {
    let mut h = serde_json::Map::new();
    if let Some(c) = created {
        h.insert("created".into(), Value::String(c.to_string()));
    }
    h.insert("created_by".into(), Value::String(created_by));
    h.insert("comment".into(), Value::String("regraft".into()));
    if empty_layer {
        h.insert("empty_layer".into(), Value::Bool(true));
    }
    Value::Object(h)
}

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

/// `img` with `layers` appended (each with its history entry), `history_only` entries added
/// for config-only edits, overrides applied, and a new OCI manifest.
pub fn append(
    img: &Image,
    layers: Vec<(Layer, Value)>,
    history_only: Vec<Value>,
    ov: &Overrides,
    created: Option<String>,
    name: Option<String>,
) -> Result<OutImage> {
    let mut cfg = img.config.clone();
    config::apply_overrides(&mut cfg, ov)?;
    let mut history: Vec<Value> = cfg
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut all: Vec<Layer> = img.layers.clone();
    for (l, h) in &layers {
        all.push(l.clone());
        history.push(h.clone());
    }
    history.extend(history_only);
    let cfg = with_layers(cfg, created.as_deref(), &all, history, &img.name)?;
    let blobs = all
        .iter()
        .enumerate()
        .map(|(i, l)| OutBlob::Layer {
            image: if i < img.layers.len() {
                img.name.clone()
            } else {
                "new layer".into()
            },
            index: i,
            layer: l.clone(),
        })
        .collect();
    plan_image(
        &cfg,
        &all,
        blobs,
        img.manifest.annotations.clone(),
        img.view.platform.clone(),
        name,
    )
}

/// `cfg` as the config of an image made of `layers`: the one place `created`,
/// `rootfs.diff_ids` and `history` are written for a new image (the graft, the toolbox's
/// edits and the package database merge all come here). `created` is set or removed;
/// `rootfs` keeps any other keys it has; an empty history is left out. `name` is for messages.
pub fn with_layers(
    mut cfg: Value,
    created: Option<&str>,
    layers: &[Layer],
    history: Vec<Value>,
    name: &str,
) -> Result<Value> {
    let obj = cfg
        .as_object_mut()
        .ok_or_else(|| Error::Invalid(format!("{name}: config is not an object")))?;
    match created {
        Some(c) => {
            obj.insert("created".into(), Value::String(c.to_string()));
        }
        None => {
            obj.remove("created");
        }
    }
    let rootfs = obj
        .entry("rootfs")
        .or_insert_with(|| Value::Object(Default::default()))
        .as_object_mut()
        .ok_or_else(|| Error::Invalid(format!("{name}: rootfs is not an object")))?;
    rootfs.insert("type".into(), Value::String("layers".into()));
    rootfs.insert(
        "diff_ids".into(),
        Value::Array(
            layers
                .iter()
                .map(|l| Value::String(l.diff_id.to_string()))
                .collect(),
        ),
    );
    if history.is_empty() {
        obj.remove("history");
    } else {
        obj.insert("history".into(), Value::Array(history));
    }
    Ok(cfg)
}

/// The compression of a new layer on `img` when none is asked for: that of its top layer
/// (told by its bytes), gzip for an image without layers.
pub fn default_codec(img: &Image) -> Result<Codec> {
    Ok(match img.layers.last() {
        Some(l) => Codec::default_for(crate::layer::layer_compression(l)?),
        None => Codec::default_for(crate::codec::compress::Compression::Gzip),
    })
}

/// The written form of an image regraft made: the config's bytes (written once, digested as
/// written), an OCI manifest over `layers` (Docker media types mapped to their OCI twins), and
/// every blob to write, `layer_blobs` included.
pub fn plan_image(
    config: &Value,
    layers: &[Layer],
    layer_blobs: Vec<OutBlob>,
    annotations: std::collections::BTreeMap<String, String>,
    platform: crate::model::spec::Platform,
    name: Option<String>,
) -> Result<OutImage> {
    let cbytes = serde_json::to_vec(config).map_err(|e| Error::Invalid(format!("config: {e}")))?;
    let cdesc = Descriptor::new(media::OCI_CONFIG, Digest::of(&cbytes), cbytes.len() as u64);
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: cdesc.clone(),
        layers: layers
            .iter()
            .map(|l| {
                let mut d = l.desc.clone();
                d.media_type = Image::oci_layer_type(&l.desc);
                d
            })
            .collect(),
        subject: None,
        annotations,
        extra: Default::default(),
    };
    let mbytes = spec::to_json(&manifest);
    let mut top = Descriptor::new(
        media::OCI_MANIFEST,
        Digest::of(&mbytes),
        mbytes.len() as u64,
    );
    top.platform = Some(platform);
    let mut blobs = vec![OutBlob::Bytes {
        desc: cdesc.clone(),
        bytes: Arc::new(cbytes),
    }];
    blobs.extend(layer_blobs);
    blobs.push(OutBlob::Bytes {
        desc: top.clone(),
        bytes: Arc::new(mbytes),
    });
    Ok(OutImage {
        top,
        blobs,
        name,
        docker: Some(DockerEntry {
            config: cdesc.digest.clone(),
            layers: layers.iter().map(|l| l.desc.digest.clone()).collect(),
            diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::compress::Compression;
    use crate::layer::entry::Meta;
    use crate::layer::tarw::OutKind;
    use serde_json::json;

    fn fill<W: Write>(tw: &mut TarWriter<W>) -> Result<()> {
        let meta = Meta {
            mode: 0o644,
            ..Default::default()
        };
        tw.append_header(b"etc/a", &OutKind::File { size: 3 }, &meta)
            .unwrap();
        tw.data().write_all(b"abc").unwrap();
        tw.pad(3).unwrap();
        Ok(())
    }

    fn blob_bytes(l: &Layer) -> Vec<u8> {
        match &l.data {
            BlobData::File(p) => std::fs::read(&**p).unwrap(),
            BlobData::Bytes(b) => b.to_vec(),
            _ => panic!("unexpected blob data"),
        }
    }

    /// A new layer's digests do not depend on where it is written; its blob hashes to its
    /// digest, and inflates to the tar that hashes to its diff_id (an uncompressed layer's
    /// digest is its diff_id).
    #[test]
    fn new_layers_are_hashed_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut tar = TarWriter::new(Vec::new());
        fill(&mut tar).unwrap();
        let tar = tar.finish().unwrap();
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let codec = Codec::default_for(c);
            let file = new_layer(Some(dir.path()), codec, fill).unwrap();
            let dry = new_layer(None, codec, fill).unwrap();
            assert_eq!(file.desc.digest, dry.desc.digest, "{c:?}");
            assert_eq!(file.desc.size, dry.desc.size);
            assert_eq!(file.diff_id, dry.diff_id);
            assert_eq!(file.desc.media_type, spec::oci_layer_type(c));
            let blob = blob_bytes(&file);
            assert_eq!(Digest::of(&blob), file.desc.digest);
            assert_eq!(blob.len() as u64, file.desc.size);
            let mut back = Vec::new();
            std::io::Read::read_to_end(
                &mut crate::codec::compress::decoder(&blob[..], "t").unwrap(),
                &mut back,
            )
            .unwrap();
            assert_eq!(back, tar);
            assert_eq!(file.diff_id.to_string(), Digest::of(&tar).to_string());
            if c == Compression::None {
                assert_eq!(file.desc.digest, *file.diff_id.digest());
            }
        }
    }

    /// `created` is set or removed, rootfs keeps its other keys, an empty history is left
    /// out; every other key stays where it was.
    #[test]
    fn with_layers_writes_created_diff_ids_and_history() {
        let layer = new_layer(None, Codec::default_for(Compression::None), fill).unwrap();
        let d = layer.diff_id.to_string();
        let cfg = json!({"created":"old","os":"linux","rootfs":{"x":1,"diff_ids":[]},"history":[{"a":1}],"z":0});
        // (created, history, expected)
        let table = [
            (
                Some("new"),
                vec![json!({"b":2})],
                format!(
                    r#"{{"created":"new","os":"linux","rootfs":{{"x":1,"diff_ids":["{d}"],"type":"layers"}},"history":[{{"b":2}}],"z":0}}"#
                ),
            ),
            (
                None,
                vec![],
                format!(
                    r#"{{"z":0,"os":"linux","rootfs":{{"x":1,"diff_ids":["{d}"],"type":"layers"}}}}"#
                ),
            ),
        ];
        for (created, history, want) in table {
            let out = with_layers(
                cfg.clone(),
                created,
                std::slice::from_ref(&layer),
                history,
                "t",
            )
            .unwrap();
            assert_eq!(serde_json::to_string(&out).unwrap(), want);
        }
        let no_rootfs = with_layers(json!({"os":"linux"}), None, &[], vec![], "t").unwrap();
        assert_eq!(
            serde_json::to_string(&no_rootfs).unwrap(),
            r#"{"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
        );
        assert!(with_layers(json!([]), None, &[], vec![], "t").is_err());
    }

    #[test]
    fn history_entries() {
        assert_eq!(
            serde_json::to_string(&history_entry(Some("t"), "by".into(), true)).unwrap(),
            r#"{"created":"t","created_by":"by","comment":"regraft","empty_layer":true}"#
        );
        assert_eq!(
            serde_json::to_string(&history_entry(None, "by".into(), false)).unwrap(),
            r#"{"created_by":"by","comment":"regraft"}"#
        );
    }
}
