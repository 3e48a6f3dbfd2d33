//! The documents an output is written with: `--annotation`/`--annotation-rm`/
//! `--label-to-annotation` and `--format`, applied to a planned image (`OutImage`) after
//! everything else is planned. Each document that changes is written once and re-digested,
//! and every descriptor of it (the plan's top, its blob, an index's entry) moved to the new
//! bytes; every other blob stays as planned.
//!
//! Which documents: a single image's manifest. An index and, with it, each child manifest
//! that is written anew: every child when the command made them (a multi-platform graft),
//! or when `--format docker` must rewrite them; a copied index's children otherwise stay
//! byte for byte (their digests, and signatures over them, stay valid). A child's
//! `--label-to-annotation` reads its own config; the index's takes the labels every platform
//! has with the same value. `--annotation-rm K` removes K wherever it is, and must find it on
//! at least one document.

use super::annotate::{self, Annotations};
use super::retype::{self, MediaFormat};
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::out::{OutBlob, OutImage};
use crate::model::spec::{Descriptor, media};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What the written documents get.
#[derive(Clone, Debug, Default)]
pub struct DocEdits {
    pub annotations: Annotations,
    pub format: MediaFormat,
}

impl DocEdits {
    pub fn is_empty(&self) -> bool {
        self.annotations.is_empty() && self.format == MediaFormat::Oci
    }
}

/// Where an index output's child manifests come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Children {
    /// Copied from the input (`convert --all`): rewritten only when `--format` must.
    Copied,
    /// Made by this command (a multi-platform graft): they get the annotations too.
    Made,
}

/// The bytes the plan holds for `digest`.
fn held<'a>(plan: &'a OutImage, digest: &Digest) -> Option<&'a Arc<Vec<u8>>> {
    plan.blobs.iter().find_map(|b| match b {
        OutBlob::Bytes { desc, bytes } if desc.digest == *digest => Some(bytes),
        _ => None,
    })
}

fn parse(bytes: &[u8], what: &str) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|e| Error::json(what, e))
}

/// Puts `bytes` (of media type `media_type`) in place of the document `old` wherever the plan
/// holds it (its blob, the top); returns the new descriptor.
fn replace_doc(plan: &mut OutImage, old: &Digest, bytes: Vec<u8>, media_type: &str) -> Descriptor {
    let digest = Digest::of(&bytes);
    let size = bytes.len() as u64;
    let moved = |d: &Descriptor| {
        let mut d = d.clone();
        d.media_type = media_type.into();
        d.digest = digest.clone();
        d.size = size;
        d
    };
    let bytes = Arc::new(bytes);
    let mut new = None;
    for b in &mut plan.blobs {
        if let OutBlob::Bytes { desc, .. } = b
            && desc.digest == *old
        {
            let desc = moved(desc);
            new = Some(desc.clone());
            *b = OutBlob::Bytes {
                desc,
                bytes: bytes.clone(),
            };
        }
    }
    if plan.top.digest == *old {
        plan.top = moved(&plan.top);
        new = Some(plan.top.clone());
    }
    new.unwrap_or_else(|| Descriptor::new(media_type, digest, size))
}

/// A child manifest the plan holds that describes an image: the manifest and its config's
/// bytes. None for anything else (an attestation, a manifest not held).
fn child_image(plan: &OutImage, digest: &Digest, what: &str) -> Result<Option<(Value, Vec<u8>)>> {
    let Some(m) = held(plan, digest) else {
        return Ok(None);
    };
    let doc = parse(m, what)?;
    let config = doc
        .pointer("/config/mediaType")
        .and_then(Value::as_str)
        .filter(|mt| media::is_image_config(mt))
        .and_then(|_| doc.pointer("/config/digest").and_then(Value::as_str))
        .map(Digest::parse)
        .transpose()?;
    Ok(config
        .and_then(|c| held(plan, &c).map(|b| b.to_vec()))
        .map(|c| (doc, c)))
}

/// The labels every one of `sets` has, with the same value.
fn common(sets: &[Vec<(String, String)>]) -> Vec<(String, String)> {
    let Some((first, rest)) = sets.split_first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|l| rest.iter().all(|s| s.contains(l)))
        .cloned()
        .collect()
}

/// An index's entry moved to the rewritten child `new` (its platform and annotations kept).
fn point(entry: &mut Value, new: &Descriptor) {
    entry["mediaType"] = Value::String(new.media_type.clone());
    entry["digest"] = Value::String(new.digest.to_string());
    entry["size"] = Value::from(new.size);
}

/// An index's children and then the index itself (`doc`, edited in place); the keys of
/// `--annotation-rm` found go to `removed`. Returns the index's media type.
fn finish_index(
    plan: &mut OutImage,
    doc: &mut Value,
    e: &DocEdits,
    children: Children,
    what: &str,
    removed: &mut BTreeSet<String>,
) -> Result<&'static str> {
    let a = &e.annotations;
    let docker = e.format == MediaFormat::Docker;
    let n = doc["manifests"].as_array().map_or(0, Vec::len);
    let mut labels = Vec::new();
    // A child named twice is rewritten once.
    let mut done: std::collections::BTreeMap<Digest, Descriptor> = Default::default();
    for i in 0..n {
        let digest = doc["manifests"][i]["digest"].as_str().unwrap_or_default();
        let digest = Digest::parse(digest)?;
        if let Some(new) = done.get(&digest) {
            point(&mut doc["manifests"][i], new);
            continue;
        }
        let cwhat = format!("{what}: manifest {digest}");
        let Some((mut m, cfg)) = child_image(plan, &digest, &cwhat)? else {
            if docker {
                return Err(Error::Usage(format!(
                    "{cwhat}: --format docker: a Docker manifest list holds image manifests \
                     only, and this one is not (an attestation?); write the index with \
                     --format oci"
                )));
            }
            continue;
        };
        let own = if a.from_labels {
            annotate::labels_of_config(&cfg)?
        } else {
            Vec::new()
        };
        labels.push(own.clone());
        if children == Children::Copied && !docker {
            continue;
        }
        removed.extend(annotate::edit_doc(&mut m, a, own, &cwhat)?);
        let mt = if docker {
            retype::docker_manifest(&mut m, &cwhat)?;
            media::DOCKER_MANIFEST
        } else {
            media::OCI_MANIFEST
        };
        let bytes = serde_json::to_vec(&m).map_err(|e| Error::json("the manifest", e))?;
        let new = replace_doc(plan, &digest, bytes, mt);
        point(&mut doc["manifests"][i], &new);
        done.insert(digest, new);
    }
    removed.extend(annotate::edit_doc(doc, a, common(&labels), what)?);
    Ok(if docker {
        retype::docker_index(doc, what)?;
        media::DOCKER_LIST
    } else {
        media::OCI_INDEX
    })
}

/// Applies `e` to the documents of `plan` (named `what` in messages); see the module's doc.
pub fn finish(
    mut plan: OutImage,
    e: &DocEdits,
    children: Children,
    what: &str,
) -> Result<OutImage> {
    if e.is_empty() {
        return Ok(plan);
    }
    let a = &e.annotations;
    let docker = e.format == MediaFormat::Docker;
    let top_bytes = held(&plan, &plan.top.digest)
        .cloned()
        .ok_or_else(|| Error::Invalid(format!("{what}: the planned manifest is not held")))?;
    let mut doc = parse(&top_bytes, "the planned manifest")?;
    let had = annotate::keys(&doc);
    let mut removed: BTreeSet<String> = BTreeSet::new();
    let media_type = if doc.get("manifests").is_some() {
        finish_index(&mut plan, &mut doc, e, children, what, &mut removed)?
    } else {
        let labels = if a.from_labels {
            let c = doc
                .pointer("/config/digest")
                .and_then(Value::as_str)
                .map(Digest::parse)
                .transpose()?
                .and_then(|c| held(&plan, &c))
                .ok_or_else(|| Error::Invalid(format!("{what}: the planned config is not held")))?;
            annotate::labels_of_config(c)?
        } else {
            Vec::new()
        };
        removed.extend(annotate::edit_doc(&mut doc, a, labels, what)?);
        if docker {
            retype::docker_manifest(&mut doc, what)?;
            media::DOCKER_MANIFEST
        } else {
            media::OCI_MANIFEST
        }
    };
    if let Some(k) = a.rm.iter().find(|k| !removed.contains(*k)) {
        return Err(Error::Invalid(format!(
            "{what}: --annotation-rm {}: no document written has such an annotation; the {} has: {}",
            crate::text::sanitize(k),
            if media_type == media::OCI_INDEX || media_type == media::DOCKER_LIST {
                "index"
            } else {
                "manifest"
            },
            if had.is_empty() {
                "none".to_string()
            } else {
                crate::text::sanitize(&had.join(", "))
            }
        )));
    }
    let bytes = serde_json::to_vec(&doc).map_err(|e| Error::json("the manifest", e))?;
    let old = plan.top.digest.clone();
    replace_doc(&mut plan, &old, bytes, media_type);
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A planned image: a config with `labels`, a manifest with `annotations`.
    fn image(labels: Value, annotations: Value) -> OutImage {
        let c = OutBlob::json(
            media::OCI_CONFIG,
            serde_json::to_vec(&json!({"config":{"Labels":labels}})).unwrap(),
        );
        let m = json!({"schemaVersion":2,"mediaType":media::OCI_MANIFEST,
            "config":{"mediaType":media::OCI_CONFIG,"digest":c.digest().to_string(),"size":c.size()},
            "layers":[],"annotations":annotations,"x-keep":true});
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

    /// An index over `children`, with `annotations`.
    fn index(children: Vec<OutImage>, annotations: Value) -> OutImage {
        let mut blobs = Vec::new();
        let mut ms = Vec::new();
        for (i, c) in children.into_iter().enumerate() {
            let mut d = c.top.clone();
            d.platform = Some(
                crate::model::spec::Platform::parse(["linux/amd64", "linux/arm64"][i]).unwrap(),
            );
            ms.push(serde_json::to_value(&d).unwrap());
            blobs.extend(c.blobs);
        }
        let i = json!({"schemaVersion":2,"mediaType":media::OCI_INDEX,"manifests":ms,"annotations":annotations});
        let i = OutBlob::json(media::OCI_INDEX, serde_json::to_vec(&i).unwrap());
        let OutBlob::Bytes { desc, .. } = &i else {
            unreachable!()
        };
        blobs.push(i.clone());
        OutImage {
            top: desc.clone(),
            blobs,
            name: None,
            docker: None,
        }
    }

    fn doc(p: &OutImage, d: &Digest) -> Value {
        serde_json::from_slice(held(p, d).unwrap()).unwrap()
    }

    fn edits(set: &[&str], rm: &[&str], from_labels: bool, format: MediaFormat) -> DocEdits {
        DocEdits {
            annotations: Annotations {
                set: set.iter().map(|s| s.to_string()).collect(),
                rm: rm.iter().map(|s| s.to_string()).collect(),
                from_labels,
            },
            format,
        }
    }

    #[test]
    fn a_manifest_is_annotated_and_retyped_once() {
        let p = image(
            json!({"l":"from-label","a":"label-a"}),
            json!({"a":"1","b":"2"}),
        );
        let e = edits(&["c=3", "a=set"], &["b"], true, MediaFormat::Docker);
        let out = finish(p.clone(), &e, Children::Copied, "t").unwrap();
        let m = doc(&out, &out.top.digest);
        assert_eq!(
            m["annotations"],
            json!({"a":"set","l":"from-label","c":"3"})
        );
        assert_eq!(m["mediaType"], media::DOCKER_MANIFEST);
        assert_eq!(m["x-keep"], true);
        assert_eq!(out.top.media_type, media::DOCKER_MANIFEST);
        assert_eq!(out.blobs.len(), 2, "the manifest replaced, not added");
        assert_eq!(
            out.top.digest,
            Digest::of(held(&out, &out.top.digest).unwrap())
        );
        // Nothing asked: the same plan, byte for byte.
        let same = finish(p.clone(), &DocEdits::default(), Children::Copied, "t").unwrap();
        assert_eq!(same.top.digest, p.top.digest);
        // Removing what is not there is an error naming what is.
        let err = finish(
            p,
            &edits(&[], &["zz"], false, MediaFormat::Oci),
            Children::Copied,
            "t",
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("--annotation-rm zz") && err.contains("a, b"),
            "{err}"
        );
    }

    #[test]
    fn an_index_and_its_children() {
        let kids = || {
            vec![
                image(json!({"same":"1","own":"amd"}), json!({"k":"child"})),
                image(json!({"same":"1","own":"arm"}), json!({})),
            ]
        };
        let p = index(kids(), json!({"i":"x"}));
        let old_children: Vec<Digest> = doc(&p, &p.top.digest)["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| Digest::parse(m["digest"].as_str().unwrap()).unwrap())
            .collect();
        // Copied children stay as they are; the index gets the common labels.
        let e = edits(&["n=v"], &["i"], true, MediaFormat::Oci);
        let out = finish(p.clone(), &e, Children::Copied, "t").unwrap();
        let i = doc(&out, &out.top.digest);
        assert_eq!(i["annotations"], json!({"same":"1","n":"v"}));
        for (m, d) in i["manifests"].as_array().unwrap().iter().zip(&old_children) {
            assert_eq!(m["digest"], d.to_string());
        }
        // Made children get them too (each its own labels); a key on a child only is
        // removed there.
        let e = edits(&["n=v"], &["k"], true, MediaFormat::Oci);
        let out = finish(p.clone(), &e, Children::Made, "t").unwrap();
        let i = doc(&out, &out.top.digest);
        let ms = i["manifests"].as_array().unwrap();
        let c0 = doc(
            &out,
            &Digest::parse(ms[0]["digest"].as_str().unwrap()).unwrap(),
        );
        let c1 = doc(
            &out,
            &Digest::parse(ms[1]["digest"].as_str().unwrap()).unwrap(),
        );
        assert_eq!(c0["annotations"], json!({"same":"1","own":"amd","n":"v"}));
        assert_eq!(c1["annotations"], json!({"same":"1","own":"arm","n":"v"}));
        assert_eq!(ms[1]["platform"]["architecture"], "arm64");
        assert_eq!(i["annotations"], json!({"i":"x","same":"1","n":"v"}));
        // --format docker: a manifest list over schema 2 children, copied or made.
        let out = finish(
            p,
            &edits(&[], &[], false, MediaFormat::Docker),
            Children::Copied,
            "t",
        )
        .unwrap();
        let i = doc(&out, &out.top.digest);
        assert_eq!(out.top.media_type, media::DOCKER_LIST);
        assert_eq!(i["mediaType"], media::DOCKER_LIST);
        let had = [json!({"k":"child"}), Value::Null];
        for (m, had) in i["manifests"].as_array().unwrap().iter().zip(had) {
            assert_eq!(m["mediaType"], media::DOCKER_MANIFEST);
            let c = doc(&out, &Digest::parse(m["digest"].as_str().unwrap()).unwrap());
            assert_eq!(c["mediaType"], media::DOCKER_MANIFEST);
            assert_eq!(c["config"]["mediaType"], media::DOCKER_CONFIG);
            assert_eq!(c["annotations"], had, "nothing asked, nothing added");
        }
    }
}
