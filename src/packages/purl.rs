//! Package URLs (the purl spec, github.com/package-url/purl-spec) for OS packages, as scanners
//! match them: `pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12`,
//! `pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1`,
//! `pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1`.
//! The namespace is the distribution's `ID` (rpm's `rhel` is `redhat`, as Syft, Trivy and the
//! purl spec's examples spell it); the rpm epoch is a qualifier, not part of the version;
//! qualifiers are sorted by key; every part is percent-encoded outside the unreserved set.

use super::{Db, Distro, Package};

/// Percent-encodes `s` outside `A-Z a-z 0-9 . - _ ~`.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The purl type and namespace of a database in a distribution.
fn type_and_namespace(db: Db, distro: Option<&Distro>) -> (&'static str, String) {
    let id = distro.map(|d| d.id.to_ascii_lowercase());
    match db {
        Db::Dpkg | Db::DpkgStatusD => ("deb", id.unwrap_or_else(|| "debian".into())),
        Db::Apk => ("apk", id.unwrap_or_else(|| "alpine".into())),
        Db::Rpm => (
            "rpm",
            match id.as_deref() {
                Some("rhel") | None => "redhat".into(),
                Some(other) => other.into(),
            },
        ),
    }
}

/// The package URL of `p` in an image of `distro`.
pub fn purl(p: &Package, distro: Option<&Distro>) -> String {
    let (ty, ns) = type_and_namespace(p.db, distro);
    let mut q: Vec<(&str, String)> = Vec::new();
    let mut version = p.version.as_str();
    if p.db == Db::Rpm
        && let Some((e, rest)) = version.split_once(':')
        && !e.is_empty()
        && e.bytes().all(|c| c.is_ascii_digit())
    {
        q.push(("epoch", e.to_string()));
        version = rest;
    }
    if !p.arch.is_empty() {
        q.push(("arch", p.arch.clone()));
    }
    if let Some(d) = distro {
        q.push(("distro", d.qualifier()));
    }
    q.sort();
    let mut s = format!("pkg:{ty}/{}/{}@{}", enc(&ns), enc(&p.name), enc(version));
    for (i, (k, v)) in q.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(&enc(v));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str, arch: &str, db: Db) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: arch.into(),
            source_package: None,
            license: None,
            source_version: None,
            source_layer: None,
            db,
        }
    }

    #[test]
    fn purls_per_ecosystem() {
        let d = |id: &str, v: &str| Distro {
            id: id.into(),
            version_id: v.into(),
            pretty_name: None,
        };
        let table = [
            (
                pkg("libc6", "2.36-9+deb12u4", "amd64", Db::Dpkg),
                Some(d("debian", "12")),
                "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
            ),
            (
                pkg("musl", "1.2.4-r2", "x86_64", Db::Apk),
                Some(d("alpine", "3.19.1")),
                "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1",
            ),
            (
                pkg("openssl-libs", "1:3.0.7-27.el9", "x86_64", Db::Rpm),
                Some(d("rhel", "9.4")),
                "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1",
            ),
            (
                pkg("bash", "5.1.8-6.el9", "x86_64", Db::Rpm),
                Some(d("rocky", "9.3")),
                "pkg:rpm/rocky/bash@5.1.8-6.el9?arch=x86_64&distro=rocky-9.3",
            ),
            (
                pkg("libstdc++6", "1:12.2.0-14", "amd64", Db::Dpkg),
                None,
                "pkg:deb/debian/libstdc%2B%2B6@1%3A12.2.0-14?arch=amd64",
            ),
            (
                pkg("gpg-pubkey", "fd431d51-4ae0493b", "", Db::Rpm),
                Some(d("rhel", "9.4")),
                "pkg:rpm/redhat/gpg-pubkey@fd431d51-4ae0493b?distro=rhel-9.4",
            ),
        ];
        for (p, distro, want) in table {
            assert_eq!(purl(&p, distro.as_ref()), want);
        }
    }
}
