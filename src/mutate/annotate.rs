//! Annotations on a planned image (`--annotation`, `--annotation-rm`, `--label-to-annotation`):
//! the top document (the manifest, or the index when the output is one) is read back from the
//! plan, its `annotations` edited, written once and re-digested, and the plan's descriptor
//! moved to the new bytes. Every other key and blob stays as planned.

use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::out::{OutBlob, OutImage};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The annotation edits, as flags give them.
#[derive(Clone, Debug, Default)]
pub struct Annotations {
    /// `K=V`, set (replacing).
    pub set: Vec<String>,
    /// Keys removed (each must be there).
    pub rm: Vec<String>,
    /// Copy every label of the config to an annotation of the same name (`--annotation`
    /// wins over a label of the same key).
    pub from_labels: bool,
}

impl Annotations {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.rm.is_empty() && !self.from_labels
    }

    /// The `K=V` pairs, checked.
    pub fn pairs(&self) -> Result<Vec<(String, String)>> {
        self.set
            .iter()
            .map(|s| match s.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                _ => Err(Error::Usage(format!(
                    "--annotation {s:?}: expected KEY=VALUE"
                ))),
            })
            .collect()
    }
}

/// The bytes the plan holds for `digest`.
pub(super) fn held<'a>(plan: &'a OutImage, digest: &Digest) -> Option<&'a Arc<Vec<u8>>> {
    plan.blobs.iter().find_map(|b| match b {
        OutBlob::Bytes { desc, bytes } if desc.digest == *digest => Some(bytes),
        _ => None,
    })
}

/// Puts `bytes` in place of the plan's top document (its descriptor re-digested, its media
/// type `media_type` when given), wherever the plan holds the old one.
pub(super) fn replace_top(plan: &mut OutImage, bytes: Vec<u8>, media_type: Option<&str>) {
    let old = plan.top.digest.clone();
    let mut top = plan.top.clone();
    if let Some(mt) = media_type {
        top.media_type = mt.into();
    }
    top.digest = Digest::of(&bytes);
    top.size = bytes.len() as u64;
    let bytes = Arc::new(bytes);
    for b in &mut plan.blobs {
        if let OutBlob::Bytes { desc, .. } = b
            && desc.digest == old
        {
            *b = OutBlob::Bytes {
                desc: top.clone(),
                bytes: bytes.clone(),
            };
        }
    }
    plan.top = top;
}

/// Applies `a` to the top document of `plan` (named `what` in messages).
pub fn annotate(mut plan: OutImage, a: &Annotations, what: &str) -> Result<OutImage> {
    if a.is_empty() {
        return Ok(plan);
    }
    let pairs = a.pairs()?;
    let top = held(&plan, &plan.top.digest)
        .ok_or_else(|| Error::Invalid(format!("{what}: the planned manifest is not held")))?;
    let mut doc: Value =
        serde_json::from_slice(top).map_err(|e| Error::json("the planned manifest", e))?;
    let labels = if a.from_labels {
        labels_of_plan(&plan, &doc, what)?
    } else {
        Vec::new()
    };
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| Error::Invalid(format!("{what}: the manifest is not an object")))?;
    let mut ann: Map<String, Value> = obj
        .get("annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for k in &a.rm {
        if ann.shift_remove(k).is_none() {
            let have: Vec<&str> = ann.keys().map(String::as_str).collect();
            return Err(Error::Invalid(format!(
                "{what}: --annotation-rm {}: the manifest has no such annotation; it has: {}",
                crate::text::sanitize(k),
                if have.is_empty() {
                    "none".to_string()
                } else {
                    crate::text::sanitize(&have.join(", "))
                }
            )));
        }
    }
    for (k, v) in labels.into_iter().chain(pairs) {
        ann.insert(k, Value::String(v));
    }
    if ann.is_empty() {
        obj.shift_remove("annotations");
    } else {
        obj.insert("annotations".into(), Value::Object(ann));
    }
    let bytes = serde_json::to_vec(&doc).map_err(|e| Error::json("the manifest", e))?;
    replace_top(&mut plan, bytes, None);
    Ok(plan)
}

/// The config labels of a planned single image (`doc` is its manifest).
fn labels_of_plan(plan: &OutImage, doc: &Value, what: &str) -> Result<Vec<(String, String)>> {
    let cd = doc
        .pointer("/config/digest")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::Usage(format!(
                "{what}: --label-to-annotation needs one image, not an index"
            ))
        })?;
    let cd = Digest::parse(cd)?;
    let cbytes = held(plan, &cd)
        .ok_or_else(|| Error::Invalid(format!("{what}: the planned config is not held")))?;
    let cfg: Value = serde_json::from_slice(cbytes).map_err(|e| Error::json("the config", e))?;
    Ok(crate::model::config::labels_of(
        cfg.get("config").and_then(Value::as_object),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::media;
    use serde_json::json;

    fn plan(manifest: Value, config: Value) -> OutImage {
        let c = OutBlob::json(media::OCI_CONFIG, serde_json::to_vec(&config).unwrap());
        let mut m = manifest;
        m["config"] = json!({"mediaType": media::OCI_CONFIG, "digest": c.digest().to_string(), "size": c.size()});
        let m = OutBlob::json(media::OCI_MANIFEST, serde_json::to_vec(&m).unwrap());
        let OutBlob::Bytes { desc, .. } = &m else {
            unreachable!()
        };
        OutImage {
            top: desc.clone(),
            blobs: vec![c, m],
            name: None,
            docker: None,
        }
    }

    fn top(p: &OutImage) -> Value {
        serde_json::from_slice(held(p, &p.top.digest).unwrap()).unwrap()
    }

    #[test]
    fn set_remove_and_labels() {
        let p = plan(
            json!({"schemaVersion":2,"annotations":{"a":"1","b":"2"},"x-keep":true}),
            json!({"config":{"Labels":{"l":"from-label","a":"label-a"}}}),
        );
        let a = Annotations {
            set: vec!["c=3".into(), "a=set".into()],
            rm: vec!["b".into()],
            from_labels: true,
        };
        let out = annotate(p.clone(), &a, "t").unwrap();
        let m = top(&out);
        assert_eq!(
            m["annotations"],
            json!({"a":"set","l":"from-label","c":"3"})
        );
        assert_eq!(m["x-keep"], true);
        assert_ne!(out.top.digest, p.top.digest);
        assert_eq!(out.blobs.len(), 2, "the manifest replaced, not added");
        // Removing what is not there is an error naming what is.
        let rm = Annotations {
            rm: vec!["zz".into()],
            ..Default::default()
        };
        let Err(e) = annotate(p, &rm, "t") else {
            panic!("removing a missing annotation passed")
        };
        let e = e.to_string();
        assert!(
            e.contains("--annotation-rm zz") && e.contains("a, b"),
            "{e}"
        );
    }
}
