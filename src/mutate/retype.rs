//! `--format docker`: documents rewritten with Docker's media types, for registries and Docker
//! versions that want `application/vnd.docker.distribution.manifest.v2+json`: a manifest
//! becomes a schema 2 manifest (container config, rootfs layers), an index a manifest list
//! over such manifests. Only the documents' bytes change (and so their digests); the config
//! and layer blobs are the same bytes. `--format oci` (the default) leaves them as they are.

use crate::error::{Error, Result};
use crate::model::spec::media;
use serde_json::Value;

/// The media types an output's documents are written with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MediaFormat {
    #[default]
    Oci,
    Docker,
}

impl MediaFormat {
    pub fn parse(s: &str) -> Result<MediaFormat> {
        match s {
            "oci" => Ok(MediaFormat::Oci),
            "docker" | "v2s2" => Ok(MediaFormat::Docker),
            _ => Err(Error::Usage(format!(
                "--format {s:?}: expected oci or docker"
            ))),
        }
    }
}

/// A layer's Docker media type, told by its OCI one.
fn docker_layer(mt: &str, what: &str) -> Result<&'static str> {
    match mt {
        media::OCI_LAYER | media::DOCKER_LAYER => Ok(media::DOCKER_LAYER),
        media::OCI_LAYER_GZIP | media::DOCKER_LAYER_GZIP => Ok(media::DOCKER_LAYER_GZIP),
        other => Err(Error::Usage(format!(
            "{what}: --format docker: Docker's schema 2 manifest has no media type for a layer \
             of type {}; write it with --format oci, or recompress the image's zstd layers",
            crate::text::sanitize(other)
        ))),
    }
}

/// Docker's schema 2 and manifest list have no artifactType or subject; annotations they
/// ignore, so those stay.
fn drop_oci_only(obj: &mut serde_json::Map<String, Value>) {
    obj.shift_remove("artifactType");
    obj.shift_remove("subject");
}

/// `doc`, an image manifest, in Docker's schema 2 media types (`what` names it in messages).
pub(super) fn docker_manifest(doc: &mut Value, what: &str) -> Result<()> {
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| Error::Invalid(format!("{what}: the manifest is not an object")))?;
    obj.insert(
        "mediaType".into(),
        Value::String(media::DOCKER_MANIFEST.into()),
    );
    if let Some(c) = obj.get_mut("config").and_then(Value::as_object_mut) {
        c.insert(
            "mediaType".into(),
            Value::String(media::DOCKER_CONFIG.into()),
        );
    }
    drop_oci_only(obj);
    if let Some(ls) = obj.get_mut("layers").and_then(Value::as_array_mut) {
        for l in ls {
            let mt = l.get("mediaType").and_then(Value::as_str).unwrap_or("");
            let d = docker_layer(mt, what)?;
            l["mediaType"] = Value::String(d.into());
        }
    }
    Ok(())
}

/// `doc`, an index whose children are Docker schema 2 manifests already, as a Docker manifest
/// list.
pub(super) fn docker_index(doc: &mut Value, what: &str) -> Result<()> {
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| Error::Invalid(format!("{what}: the index is not an object")))?;
    obj.insert("mediaType".into(), Value::String(media::DOCKER_LIST.into()));
    drop_oci_only(obj);
    for m in obj
        .get_mut("manifests")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let mt = m.get("mediaType").and_then(Value::as_str).unwrap_or("");
        if mt != media::DOCKER_MANIFEST {
            return Err(Error::Invalid(format!(
                "{what}: --format docker: the manifest list would name a {} child",
                crate::text::sanitize(mt)
            )));
        }
        if let Some(o) = m.as_object_mut() {
            o.shift_remove("artifactType");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manifests_and_lists_take_docker_types() {
        let mut m = json!({"schemaVersion":2,"mediaType":media::OCI_MANIFEST,
            "config":{"mediaType":media::OCI_CONFIG,"digest":"sha256:00","size":1},
            "layers":[{"mediaType":media::OCI_LAYER_GZIP,"digest":"sha256:01","size":2},
                      {"mediaType":media::OCI_LAYER,"digest":"sha256:02","size":3}],
            "subject":{"x":1},"annotations":{"a":"b"}});
        docker_manifest(&mut m, "t").unwrap();
        assert_eq!(m["mediaType"], media::DOCKER_MANIFEST);
        assert_eq!(m["config"]["mediaType"], media::DOCKER_CONFIG);
        assert_eq!(m["layers"][0]["mediaType"], media::DOCKER_LAYER_GZIP);
        assert_eq!(m["layers"][1]["mediaType"], media::DOCKER_LAYER);
        assert!(m.get("subject").is_none());
        assert_eq!(m["annotations"]["a"], "b");
        let mut z = json!({"layers":[{"mediaType":media::OCI_LAYER_ZSTD}]});
        assert!(
            docker_manifest(&mut z, "t")
                .unwrap_err()
                .to_string()
                .contains("zstd")
        );

        let mut i = json!({"schemaVersion":2,"mediaType":media::OCI_INDEX,
            "manifests":[{"mediaType":media::DOCKER_MANIFEST,"digest":"sha256:03","size":4,
                          "platform":{"os":"linux","architecture":"arm64"}}]});
        docker_index(&mut i, "t").unwrap();
        assert_eq!(i["mediaType"], media::DOCKER_LIST);
        assert_eq!(i["manifests"][0]["platform"]["architecture"], "arm64");
        let mut mixed = json!({"manifests":[{"mediaType":media::OCI_MANIFEST}]});
        assert!(docker_index(&mut mixed, "t").is_err());
    }
}
