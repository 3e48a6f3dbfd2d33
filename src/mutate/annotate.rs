//! Annotations on one written document (`--annotation`, `--annotation-rm`,
//! `--label-to-annotation`): its `annotations` object edited in place, every other key kept.
//! Which documents get them (the manifest; an index and the child manifests rewritten with
//! it) is `finish`'s.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// The annotation edits, as flags give them.
#[derive(Clone, Debug, Default)]
pub struct Annotations {
    /// `K=V`, set (replacing).
    pub set: Vec<String>,
    /// Keys removed (each must be on at least one document written).
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

/// The annotation keys of a document, for messages.
pub(super) fn keys(doc: &Value) -> Vec<String> {
    doc.get("annotations")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Edits the `annotations` of `doc` (a manifest or an index): `a.rm` removed where present,
/// then `labels`, then `a.set` (so `--annotation` wins). Returns the keys of `a.rm` it
/// removed; whether a key must have been somewhere is the caller's to say.
pub(super) fn edit_doc(
    doc: &mut Value,
    a: &Annotations,
    labels: Vec<(String, String)>,
    what: &str,
) -> Result<Vec<String>> {
    let pairs = a.pairs()?;
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| Error::Invalid(format!("{what}: the document is not a JSON object")))?;
    let mut ann: Map<String, Value> = obj
        .get("annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut removed = Vec::new();
    for k in &a.rm {
        if ann.shift_remove(k).is_some() {
            removed.push(k.clone());
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
    Ok(removed)
}

/// The labels of a config document.
pub(super) fn labels_of_config(cfg: &[u8]) -> Result<Vec<(String, String)>> {
    let cfg: Value = serde_json::from_slice(cfg).map_err(|e| Error::json("the config", e))?;
    Ok(crate::model::config::labels_of(
        cfg.get("config").and_then(Value::as_object),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_remove_and_labels() {
        let mut m = json!({"schemaVersion":2,"annotations":{"a":"1","b":"2"},"x-keep":true});
        let a = Annotations {
            set: vec!["c=3".into(), "a=set".into()],
            rm: vec!["b".into(), "zz".into()],
            from_labels: true,
        };
        let labels = vec![
            ("l".into(), "from-label".into()),
            ("a".into(), "label-a".into()),
        ];
        let removed = edit_doc(&mut m, &a, labels, "t").unwrap();
        assert_eq!(removed, vec!["b".to_string()], "zz was not there");
        assert_eq!(
            m["annotations"],
            json!({"a":"set","l":"from-label","c":"3"}),
            "--annotation wins over a label"
        );
        assert_eq!(m["x-keep"], true);
        // Removing the last one removes the object.
        let mut e = json!({"annotations":{"a":"1"}});
        let rm = Annotations {
            rm: vec!["a".into()],
            ..Default::default()
        };
        edit_doc(&mut e, &rm, vec![], "t").unwrap();
        assert_eq!(e, json!({}));
        let bad = Annotations {
            set: vec!["novalue".into()],
            ..Default::default()
        };
        assert!(edit_doc(&mut e, &bad, vec![], "t").is_err());
    }
}
