//! Appending to an image, in one place (as go-containerregistry's `mutate.Append`): the graft,
//! the toolbox's edits and the package database merge each describe a base and what to add,
//! and `append` writes `created`, `rootfs.diff_ids`, `history`, the manifest and the blob list
//! of the result.

use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::image::{Image, Layer};
use crate::model::out::{DockerEntry, OutBlob, OutImage};
use crate::model::spec::{self, Descriptor, Manifest, Platform, media};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A layer of a new image, and what its blob is called in messages: the image it comes from
/// and its index there.
#[derive(Clone)]
pub struct LayerFrom {
    pub image: String,
    pub index: usize,
    pub layer: Layer,
}

impl LayerFrom {
    fn blob(&self) -> OutBlob {
        OutBlob::Layer {
            image: self.image.clone(),
            index: self.index,
            layer: self.layer.clone(),
        }
    }
}

/// The image an append starts from: what of it the result keeps.
pub struct Base {
    /// The config as the result starts from (the caller's edits already made); its
    /// `history` is the history the new entries follow.
    pub config: Value,
    pub layers: Vec<LayerFrom>,
    /// The manifest's annotations.
    pub annotations: BTreeMap<String, String>,
    pub platform: Option<Platform>,
    /// The result's name (`--tag`), if any.
    pub name: Option<String>,
    /// What messages call the image.
    pub what: String,
}

impl Base {
    /// `img` as it is, named `name`.
    pub fn of_image(img: &Image, name: Option<String>) -> Base {
        Base {
            config: img.config.clone(),
            layers: img
                .layers
                .iter()
                .enumerate()
                .map(|(index, l)| LayerFrom {
                    image: img.name.clone(),
                    index,
                    layer: l.clone(),
                })
                .collect(),
            annotations: img.manifest.annotations.clone(),
            platform: Some(img.view.platform.clone()),
            name,
            what: img.name.clone(),
        }
    }

    /// An image planned by an earlier append (its config and manifest are bytes it holds).
    pub fn of_planned(img: &OutImage) -> Result<Base> {
        let missing = |what: &str| Error::Invalid(format!("the planned image has no {what}"));
        let config = img
            .docker
            .as_ref()
            .map(|d| &d.config)
            .ok_or_else(|| missing("config"))?;
        let doc = |digest: &Digest, what: &str| {
            img.blobs
                .iter()
                .find_map(|b| match b {
                    OutBlob::Bytes { desc, bytes } if desc.digest == *digest => Some(bytes),
                    _ => None,
                })
                .ok_or_else(|| missing(what))
        };
        let manifest: Manifest = serde_json::from_slice(doc(&img.top.digest, "manifest")?)
            .map_err(|e| Error::json("the planned manifest", e))?;
        let layers = img
            .blobs
            .iter()
            .filter_map(|b| match b {
                OutBlob::Layer {
                    image,
                    index,
                    layer,
                } => Some(LayerFrom {
                    image: image.clone(),
                    index: *index,
                    layer: layer.clone(),
                }),
                _ => None,
            })
            .collect();
        Ok(Base {
            config: serde_json::from_slice(doc(config, "config")?)
                .map_err(|e| Error::json("the planned config", e))?,
            layers,
            annotations: manifest.annotations,
            platform: img.top.platform.clone(),
            name: img.name.clone(),
            what: "the planned image".into(),
        })
    }
}

/// The result's `created`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Created {
    /// As the base's config has it. The package database layer is added to an image the
    /// graft has just dated; its date stays the graft's.
    Keep,
    /// Set to this, or removed when None: a graft's date (SOURCE_DATE_EPOCH, else the later
    /// of the base's and the vendor's) or an edit's (SOURCE_DATE_EPOCH, else the image's own).
    Set(Option<String>),
}

/// What an append adds.
pub struct Addenda {
    /// The new layers, on top of the base's in this order.
    pub layers: Vec<LayerFrom>,
    /// The history entries that follow the base's: one per new layer, and `empty_layer` ones
    /// (a config edit; the vendor's own history in layer mode). An empty history is left out
    /// of the config: only a graft whose inputs have none ends with one, as every other
    /// caller adds an entry.
    pub history: Vec<Value>,
    pub created: Created,
}

impl Addenda {
    /// One edit of `img` by the toolbox (`add`, `rm`, `config`): its layer, or none for a
    /// config-only edit, and one history entry for it with `comment` (default `regraft`). A
    /// config-only edit without a comment gets no history entry, as Docker's commit writes
    /// its `--message` only when given.
    pub fn edit(
        img: &Image,
        layer: Option<Layer>,
        created_by: String,
        created: Option<String>,
        comment: Option<&str>,
    ) -> Addenda {
        let kind = match layer {
            Some(_) => HistoryKind::Layer,
            None => HistoryKind::EmptyLayer,
        };
        let entry = (kind == HistoryKind::Layer || comment.is_some()).then(|| {
            history_entry(
                created.as_deref(),
                created_by,
                comment.unwrap_or("regraft"),
                kind,
            )
        });
        Addenda {
            layers: layer
                .map(|layer| LayerFrom {
                    image: "new layer".into(),
                    index: img.layers.len(),
                    layer,
                })
                .into_iter()
                .collect(),
            history: entry.into_iter().collect(),
            created: Created::Set(created),
        }
    }
}

/// `base` with `add` appended: the config's `created`, `rootfs` and `history`, a new OCI
/// manifest, and every blob to write (config, layers in order, manifest).
pub fn append(base: Base, add: Addenda) -> Result<OutImage> {
    let mut history: Vec<Value> = base
        .config
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    history.extend(add.history);
    let all: Vec<LayerFrom> = base.layers.into_iter().chain(add.layers).collect();
    let layers: Vec<Layer> = all.iter().map(|l| l.layer.clone()).collect();
    let created = match add.created {
        Created::Keep => base
            .config
            .get("created")
            .and_then(Value::as_str)
            .map(str::to_string),
        Created::Set(c) => c,
    };
    let cfg = with_layers(
        base.config,
        created.as_deref(),
        &layers,
        history,
        &base.what,
    )?;
    plan_image(
        &cfg,
        &layers,
        all.iter().map(LayerFrom::blob).collect(),
        base.annotations,
        base.platform,
        base.name,
    )
}

/// What a history entry stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryKind {
    /// A layer.
    Layer,
    /// A config-only edit (`empty_layer: true`).
    EmptyLayer,
}

/// A history entry written by regraft: `comment` says which part of it.
pub fn history_entry(
    created: Option<&str>,
    created_by: String,
    comment: &str,
    kind: HistoryKind,
) -> Value {
    let mut h = serde_json::Map::new();
    if let Some(c) = created {
        h.insert("created".into(), Value::String(c.to_string()));
    }
    h.insert("created_by".into(), Value::String(created_by));
    h.insert("comment".into(), Value::String(comment.into()));
    if kind == HistoryKind::EmptyLayer {
        h.insert("empty_layer".into(), Value::Bool(true));
    }
    Value::Object(h)
}

/// `cfg` as the config of an image made of `layers`: `created` is set or removed (in place:
/// the other keys keep their order but for a removal, which moves the last key into the
/// gap); `rootfs` keeps any other keys it has; an empty history is left out. `name` is for
/// messages.
fn with_layers(
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

/// The written form of an image regraft made: the config's bytes (written once, digested as
/// written), an OCI manifest over `layers` (Docker media types mapped to their OCI twins), and
/// every blob to write, `layer_blobs` included.
fn plan_image(
    config: &Value,
    layers: &[Layer],
    layer_blobs: Vec<OutBlob>,
    annotations: BTreeMap<String, String>,
    platform: Option<Platform>,
    name: Option<String>,
) -> Result<OutImage> {
    let cbytes = serde_json::to_vec(config).map_err(|e| Error::json("config", e))?;
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
    top.platform = platform;
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
    use crate::codec::compress::{Codec, Compression};
    use crate::mutate::layer::{LayerDest, new_layer};
    use serde_json::json;

    fn layer() -> Layer {
        new_layer(
            LayerDest::Discard,
            Codec::default_for(Compression::None),
            |_| Ok(()),
        )
        .unwrap()
    }

    /// `created` is set or removed, rootfs keeps its other keys, an empty history is left
    /// out; every other key stays where it was.
    #[test]
    fn with_layers_writes_created_diff_ids_and_history() {
        let layer = layer();
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
            serde_json::to_string(&history_entry(
                Some("t"),
                "by".into(),
                "regraft",
                HistoryKind::EmptyLayer
            ))
            .unwrap(),
            r#"{"created":"t","created_by":"by","comment":"regraft","empty_layer":true}"#
        );
        assert_eq!(
            serde_json::to_string(&history_entry(
                None,
                "by".into(),
                "regraft",
                HistoryKind::Layer
            ))
            .unwrap(),
            r#"{"created_by":"by","comment":"regraft"}"#
        );
    }
}
