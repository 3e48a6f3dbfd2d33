//! `--format docker`: a planned image's manifest rewritten with Docker's media types (schema 2
//! manifest, container config, rootfs layers), for registries and Docker versions that want
//! `application/vnd.docker.distribution.manifest.v2+json`. Only the manifest's bytes change
//! (and so its digest); the config and layer blobs are the same bytes. `--format oci` (the
//! default) leaves the plan as it is.

use crate::error::{Error, Result};
use crate::model::out::OutImage;
use crate::model::spec::media;
use serde_json::Value;

/// The media types an output's manifest and config are written with.
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

/// `plan` with its manifest in `format`'s media types (`what` names it in messages).
pub fn retype(mut plan: OutImage, format: MediaFormat, what: &str) -> Result<OutImage> {
    if format == MediaFormat::Oci {
        return Ok(plan);
    }
    let bytes = super::annotate::held(&plan, &plan.top.digest)
        .cloned()
        .ok_or_else(|| Error::Invalid(format!("{what}: the planned manifest is not held")))?;
    let mut doc: Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::json("the planned manifest", e))?;
    if doc.get("manifests").is_some() {
        return Err(Error::Usage(format!(
            "{what}: --format docker writes one image; an index (convert --all) stays OCI"
        )));
    }
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
    // Docker's schema 2 has no artifactType or subject; annotations it ignores, so they stay.
    obj.shift_remove("artifactType");
    obj.shift_remove("subject");
    if let Some(ls) = obj.get_mut("layers").and_then(Value::as_array_mut) {
        for l in ls {
            let mt = l.get("mediaType").and_then(Value::as_str).unwrap_or("");
            let d = docker_layer(mt, what)?;
            l["mediaType"] = Value::String(d.into());
        }
    }
    let bytes = serde_json::to_vec(&doc).map_err(|e| Error::json("the manifest", e))?;
    super::annotate::replace_top(&mut plan, bytes, Some(media::DOCKER_MANIFEST));
    Ok(plan)
}
