//! `regraft sbom`: an image's OS packages as a CycloneDX 1.6 or SPDX 2.3 JSON document, for
//! a scanner on the other side of an airgap. Each package carries its purl (`packages::purl`),
//! source package, licenses (`license.rs`) and the layer (index, diff_id, digest) that last
//! wrote its database record; the image (manifest and config digests, tags, base annotations)
//! is the described component.
//!
//! Deterministic: the same image gives the same bytes. Packages keep the database's sorted
//! order; the one timestamp is `SOURCE_DATE_EPOCH` when set, else the image config's
//! `created`, else the Unix epoch; serial numbers and namespaces derive from the manifest
//! digest.
//!
//! The floors: `license` (license names), then the two writers `cyclonedx` and `spdx` over the
//! [`Inventory`] this file gathers.

pub mod cyclonedx;
pub mod license;
pub mod spdx;

use crate::error::Result;
use crate::model::image::Image;
use crate::packages::{self, Db, Distro, PackageDb};
use crate::view::contents::{self, Contents, Wanted};

/// The document formats `sbom` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    CycloneDx,
    Spdx,
}

/// One package as a document lists it.
#[derive(Clone, Debug)]
pub struct Item {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub db: Db,
    pub purl: String,
    pub source_package: Option<String>,
    /// The source package's version, when it differs from `version`.
    pub source_version: Option<String>,
    /// License names or expressions, as the database or the copyright file gives them.
    pub licenses: Vec<String>,
    pub layer: Option<LayerRef>,
}

/// A layer of the image, by index and digests.
#[derive(Clone, Debug)]
pub struct LayerRef {
    pub index: usize,
    pub diff_id: String,
    pub digest: String,
}

/// Everything a document says, gathered once.
#[derive(Clone, Debug)]
pub struct Inventory {
    pub image_name: String,
    pub tags: Vec<String>,
    pub manifest_digest: String,
    pub config_digest: String,
    pub diff_ids: Vec<String>,
    pub architecture: String,
    pub os: String,
    /// `org.opencontainers.image.base.name` and `.base.digest`, when the manifest has them.
    pub base_name: Option<String>,
    pub base_digest: Option<String>,
    pub distro: Option<Distro>,
    pub databases: Vec<String>,
    /// RFC 3339, UTC, seconds.
    pub timestamp: String,
    pub items: Vec<Item>,
    pub warnings: Vec<String>,
}

/// `usr/share/doc/PKG/copyright`.
fn is_copyright(p: &[u8]) -> bool {
    p.strip_prefix(b"usr/share/doc/")
        .and_then(|r| r.strip_suffix(b"/copyright"))
        .is_some_and(|pkg| !pkg.is_empty() && !pkg.contains(&b'/'))
}

/// Reads `img` once (package databases, os-release, dpkg copyright files) and gathers the
/// inventory. `epoch` is `SOURCE_DATE_EPOCH`, when set.
pub fn inventory(img: &Image, max_layer_size: u64, epoch: Option<i64>) -> Result<Inventory> {
    let keep = |p: &[u8]| packages::wanted_paths(p) || is_copyright(p);
    let c = contents::read(
        img,
        max_layer_size,
        &Wanted {
            keep: &keep,
            ..packages::wanted()
        },
    )?;
    let db = packages::from_contents(&c)?;
    Ok(gather(img, &c, db, epoch))
}

fn gather(img: &Image, c: &Contents, db: PackageDb, epoch: Option<i64>) -> Inventory {
    let layer = |i: usize| {
        img.layers.get(i).map(|l| LayerRef {
            index: i,
            diff_id: l.diff_id.to_string(),
            digest: l.desc.digest.to_string(),
        })
    };
    let items = db
        .packages
        .iter()
        .map(|p| {
            let licenses = match (p.db, &p.license) {
                (_, Some(l)) => vec![l.clone()],
                (Db::Dpkg | Db::DpkgStatusD, None) => {
                    let path = format!("usr/share/doc/{}/copyright", p.name);
                    c.kept_at(path.as_bytes())
                        .map(license::debian_copyright)
                        .unwrap_or_default()
                }
                _ => Vec::new(),
            };
            Item {
                name: p.name.clone(),
                version: p.version.clone(),
                arch: p.arch.clone(),
                db: p.db,
                purl: packages::purl::purl(p, db.distro.as_ref()),
                source_package: p.source_package.clone(),
                source_version: p.source_version.clone(),
                licenses,
                layer: p.source_layer.and_then(layer),
            }
        })
        .collect();
    let timestamp = document_time(epoch, img);
    let ann = &img.manifest.annotations;
    Inventory {
        image_name: img.name.clone(),
        tags: img.tags.clone(),
        manifest_digest: img.manifest_digest.to_string(),
        config_digest: img.config_desc.digest.to_string(),
        diff_ids: img.layers.iter().map(|l| l.diff_id.to_string()).collect(),
        architecture: img.view.platform.architecture.clone(),
        os: img.view.platform.os.clone(),
        base_name: ann.get("org.opencontainers.image.base.name").cloned(),
        base_digest: ann.get("org.opencontainers.image.base.digest").cloned(),
        distro: db.distro.clone(),
        databases: db.databases.clone(),
        timestamp,
        items,
        warnings: db.warnings,
    }
}

/// The document for `inv` in `format`, as written (pretty JSON and a final newline).
pub fn render(inv: &Inventory, format: Format) -> Result<Vec<u8>> {
    let doc = match format {
        Format::CycloneDx => cyclonedx::document(inv),
        Format::Spdx => spdx::document(inv),
    };
    let mut out = serde_json::to_vec_pretty(&doc)
        .map_err(|e| crate::error::Error::json("serialising the SBOM", e))?;
    out.push(b'\n');
    Ok(out)
}

/// The one timestamp a document regraft writes about an image carries: `SOURCE_DATE_EPOCH`
/// when set, else the image config's `created`, else the Unix epoch; whole seconds, UTC.
pub fn document_time(epoch: Option<i64>, img: &Image) -> String {
    let created = crate::model::config::ConfigDoc::new(&img.config)
        .top_str("created")
        .and_then(crate::mutate::config::parse_rfc3339)
        .map(|(secs, _)| secs);
    crate::mutate::config::rfc3339(epoch.or(created).unwrap_or(0))
}

/// A UUID (version 4 layout, deterministic) from the first bytes of `hex`, a sha256.
pub fn uuid_from(hex: &str) -> String {
    let hex = hex.rsplit(':').next().unwrap_or(hex);
    let h: String = hex
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(32)
        .collect();
    let h = format!("{h:0<32}");
    let variant = match u8::from_str_radix(&h[16..17], 16).unwrap_or(0) & 0x3 {
        0 => '8',
        1 => '9',
        2 => 'a',
        _ => 'b',
    };
    format!(
        "{}-{}-4{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        variant,
        &h[17..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_ids() {
        assert_eq!(
            uuid_from("sha256:0123456789abcdef0123456789abcdef0123"),
            "01234567-89ab-4def-8123-456789abcdef"
        );
        assert!(is_copyright(b"usr/share/doc/libc6/copyright"));
        assert!(!is_copyright(b"usr/share/doc/x/y/copyright"));
        assert!(!is_copyright(b"usr/share/doc//copyright"));
    }
}
