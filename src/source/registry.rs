//! A registry as an image source (`docker://HOST/REPO:TAG|@DIGEST`): the manifest or index
//! the reference names, fetched once and hashed (a digest reference must match it), then the
//! same index walk, platform choice and manifest/config reading as an OCI layout
//! (`oci::resolve`, `oci::load_image`), every document fetched by digest and verified before
//! it is parsed. Layers stay in the registry: they are streamed from it when read, checked as
//! any store's blobs are.

use super::Entry;
use super::ImageSource;
use super::oci::{self, Docs};
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::image::{Format, Image};
use crate::model::out::OutImage;
use crate::model::reference::{ImageRef, RegistryTarget, Selector};
use crate::model::spec::{self, Descriptor, Platform, media};
use crate::store::registry::RegistryStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct RegistrySource {
    docs: RegistryDocs,
    reference: ImageRef,
    target: RegistryTarget,
    /// The descriptor of what the reference names (manifest or index), with the digest of
    /// the bytes the registry served.
    top: Descriptor,
}

/// A repository's documents, by digest: manifests and indexes from `/manifests/`, configs
/// from `/blobs/`, each checked against its descriptor's size and digest.
struct RegistryDocs {
    store: Arc<RegistryStore>,
    display: String,
    /// Documents already fetched (the top manifest or index), by digest.
    fetched: Mutex<HashMap<Digest, Arc<Vec<u8>>>>,
}

impl RegistrySource {
    pub fn open(r: &ImageRef) -> Result<RegistrySource> {
        let target = r
            .registry()
            .ok_or_else(|| Error::Usage(format!("{r}: not a registry reference")))?;
        let api_host = if target.host == "docker.io" {
            "registry-1.docker.io"
        } else {
            &target.host
        };
        let store = Arc::new(RegistryStore::open(api_host, &target.repo)?);
        let docs = RegistryDocs {
            store: store.clone(),
            display: r.to_string(),
            fetched: Default::default(),
        };
        let reference = target.reference();
        let f = store.manifest(&reference, spec::MAX_JSON + 1)?;
        if f.bytes.len() as u64 > spec::MAX_JSON {
            return Err(Error::format(
                &docs.display,
                "the manifest is larger than regraft reads for a JSON document",
            ));
        }
        let digest = Digest::of(&f.bytes);
        if let Some(want) = &target.digest
            && want != &digest
        {
            return Err(Error::DigestMismatch {
                what: format!("{}: manifest", docs.display),
                expected: want.to_string(),
                found: digest.to_string(),
            });
        }
        // The document's own mediaType wins over the Content-Type header.
        let v: serde_json::Value =
            spec::parse_json(&f.bytes, &format!("{}: manifest", docs.display))?;
        let media_type = v
            .get("mediaType")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .or(f.media_type)
            .or_else(|| {
                v.get("manifests")
                    .is_some()
                    .then(|| media::OCI_INDEX.to_string())
            })
            .unwrap_or_else(|| media::OCI_MANIFEST.to_string());
        let top = Descriptor::new(&media_type, digest.clone(), f.bytes.len() as u64);
        docs.fetched
            .lock()
            .map_err(|_| Error::Invalid("internal: registry cache poisoned".into()))?
            .insert(digest, Arc::new(f.bytes));
        Ok(RegistrySource {
            docs,
            reference: r.clone(),
            target,
            top,
        })
    }

    fn name(&self) -> Option<String> {
        self.target
            .tag
            .as_ref()
            .map(|t| format!("{}/{}:{t}", self.target.host, self.target.repo))
    }

    fn check_selector(&self, sel: Option<&Selector>) -> Result<()> {
        match sel {
            None => Ok(()),
            Some(Selector::Name(n)) if Some(n) == self.name().as_ref() => Ok(()),
            Some(Selector::Digest(d)) if d == &self.top.digest => Ok(()),
            Some(s) => Err(Error::Usage(format!(
                "{}: a registry reference names one image; {s:?} is another",
                self.docs.display
            ))),
        }
    }
}

impl Docs for RegistryDocs {
    fn display(&self) -> &str {
        &self.display
    }

    fn read_json(&self, d: &Descriptor, what: &str) -> Result<Vec<u8>> {
        if d.size > spec::MAX_JSON {
            return Err(Error::format(
                &self.display,
                format!(
                    "{what} {} declares {} bytes, more than regraft reads for a JSON document",
                    d.digest, d.size
                ),
            ));
        }
        let cached = self
            .fetched
            .lock()
            .ok()
            .and_then(|m| m.get(&d.digest).cloned());
        let bytes = match cached {
            Some(b) => b.as_ref().clone(),
            None if media::is_manifest(&d.media_type) || media::is_index(&d.media_type) => {
                self.store
                    .manifest(&d.digest.to_string(), d.size + 1)?
                    .bytes
            }
            None => {
                let mut v = Vec::new();
                let r = self.store.blob(&d.digest.to_string())?;
                std::io::Read::read_to_end(&mut std::io::Read::take(r, d.size + 1), &mut v)
                    .map_err(|e| {
                        Error::layer_io(format!("{}: {what} {}", self.display, d.digest), e)
                    })?;
                v
            }
        };
        if bytes.len() as u64 != d.size {
            return Err(Error::SizeMismatch {
                what: format!("{}: {what} {}", self.display, d.digest),
                expected: d.size,
                found: bytes.len() as u64,
            });
        }
        let found = Digest::of(&bytes);
        if found != d.digest {
            return Err(Error::DigestMismatch {
                what: format!("{}: {what}", self.display),
                expected: d.digest.to_string(),
                found: found.to_string(),
            });
        }
        Ok(bytes)
    }

    fn blobs(&self) -> Arc<dyn crate::store::BlobStore> {
        self.store.clone()
    }

    fn has(&self, _d: &Digest) -> bool {
        // A registry holds what its manifests name; a missing blob is an error when read.
        true
    }
}

impl ImageSource for RegistrySource {
    fn describe(&self) -> &str {
        &self.docs.display
    }

    fn entries(&self) -> Vec<Entry> {
        vec![Entry {
            names: self.name().into_iter().collect(),
            digest: Some(self.top.digest.clone()),
            media_type: self.top.media_type.clone(),
        }]
    }

    fn image(&self, sel: Option<&Selector>, platform: Option<&Platform>) -> Result<Image> {
        self.check_selector(sel)?;
        let (mdesc, from_index) = oci::OciIndex::resolve(&self.docs, &self.top, platform)?;
        oci::load_image(
            &self.docs,
            Format::Registry,
            &mdesc,
            from_index,
            self.name().into_iter().collect(),
            &self.reference,
        )
    }

    fn whole_index(
        &self,
        sel: Option<&Selector>,
        warnings: &mut Vec<String>,
    ) -> Result<Option<OutImage>> {
        self.check_selector(sel)?;
        oci::plan_index(
            &self.docs,
            &self.top,
            Format::Registry,
            &self.reference,
            warnings,
            self.name().into_iter().collect(),
        )
    }

    fn dual_format_disagreements(&self) -> Result<Vec<String>> {
        Ok(vec![])
    }
}
