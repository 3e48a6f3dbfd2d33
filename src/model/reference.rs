//! Image references on the command line: `docker-archive:FILE[:NAME:TAG|:@N]`,
//! `oci-archive:FILE[:REF]`, `oci:DIR[:REF]`, `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]` (a
//! registry, skopeo's spelling), or a bare path identified by its content (input) or its shape
//! (output). After a file transport, FILE ends at the first `:`.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    DockerArchive,
    OciArchive,
    Oci,
    /// `docker://`: a registry. `path` is `HOST/REPO`, the selector the full name with its
    /// tag (`Name`) or the digest (`Digest`).
    Registry,
    /// A bare path: the kind is told from the file's content.
    Sniff,
}

/// How to pick one image among several in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// `NAME:TAG` or a plain ref name.
    Name(String),
    /// `@sha256:...`
    Digest(crate::model::digest::Digest),
    /// `@N`, counting from 0.
    Nth(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    pub transport: Transport,
    pub path: PathBuf,
    pub selector: Option<Selector>,
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.transport == Transport::Registry {
            return match &self.selector {
                Some(Selector::Name(n)) => write!(f, "docker://{n}"),
                Some(Selector::Digest(d)) => write!(f, "docker://{}@{d}", self.path.display()),
                _ => write!(f, "docker://{}", self.path.display()),
            };
        }
        let t = match self.transport {
            Transport::Registry => "docker://",
            Transport::DockerArchive => "docker-archive:",
            Transport::OciArchive => "oci-archive:",
            Transport::Oci => "oci:",
            Transport::Sniff => "",
        };
        write!(f, "{t}{}", self.path.display())?;
        match &self.selector {
            None => Ok(()),
            Some(Selector::Name(n)) => write!(f, ":{n}"),
            Some(Selector::Digest(d)) => write!(f, ":@{d}"),
            Some(Selector::Nth(n)) => write!(f, ":@{n}"),
        }
    }
}

fn split_transport(s: &str) -> (Transport, &str) {
    for (p, t) in [
        ("docker-archive:", Transport::DockerArchive),
        ("oci-archive:", Transport::OciArchive),
        ("oci:", Transport::Oci),
        // skopeo's and umoci's users type `oci-dir:` for a layout directory.
        ("oci-dir:", Transport::Oci),
    ] {
        if let Some(rest) = s.strip_prefix(p) {
            return (t, rest);
        }
    }
    (Transport::Sniff, s)
}

fn parse_selector(s: &str) -> Result<Option<Selector>> {
    if s.is_empty() {
        return Ok(None);
    }
    if let Some(rest) = s.strip_prefix('@') {
        if rest.starts_with("sha256:") || rest.contains(':') {
            return crate::model::digest::Digest::parse(rest)
                .map(|d| Some(Selector::Digest(d)))
                .map_err(|e| Error::Usage(format!("bad image selector {s:?}: {}", e.chain())));
        }
        return rest
            .parse::<usize>()
            .map(|n| Some(Selector::Nth(n)))
            .map_err(|_| {
                Error::Usage(format!(
                    "bad image selector {s:?}: expected @N or @sha256:..."
                ))
            });
    }
    Ok(Some(Selector::Name(s.to_string())))
}

/// Refuses the transports of an image store behind a daemon: regraft reads and writes files,
/// and says which command turns the store's image into one.
fn refuse_daemon(s: &str) -> Result<()> {
    let instead = if let Some(rest) = s.strip_prefix("docker-daemon:") {
        format!(
            "docker save -o image.tar {rest} (or skopeo copy docker-daemon:{rest} oci-archive:image.tar)"
        )
    } else if let Some(rest) = s.strip_prefix("containers-storage:") {
        format!(
            "skopeo copy containers-storage:{rest} oci-archive:image.tar (or podman save -o image.tar {rest})"
        )
    } else {
        return Ok(());
    };
    Err(Error::Usage(format!(
        "{}: regraft reads no daemon or container store; write the image to a file first: {}, \
         and give regraft the file",
        crate::text::sanitize(s),
        crate::text::sanitize(&instead)
    )))
}

/// A registry reference, taken apart for the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryTarget {
    /// `HOST[:PORT]` as written (`docker.io` for Docker Hub).
    pub host: String,
    /// The repository path below the host.
    pub repo: String,
    /// The tag, when the reference names one.
    pub tag: Option<String>,
    /// The digest, when the reference names one.
    pub digest: Option<crate::model::digest::Digest>,
}

impl RegistryTarget {
    /// What a manifest request names: the digest, else the tag.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }
}

/// Parses what follows `docker://`: Docker's normalisation (`debian:12` is
/// `docker.io/library/debian:12`, no tag is `latest`), then the distribution spec's grammar
/// for repository names and tags, so that nothing but a name reaches a URL.
fn parse_registry(s: &str, whole: &str) -> Result<ImageRef> {
    let bad = |why: &str| Error::Usage(format!("image reference {whole:?}: {why}"));
    if s.is_empty() {
        return Err(bad("no registry name"));
    }
    let full = normalize_name(s);
    let (name, digest) = match full.split_once('@') {
        Some((n, d)) => (
            n.to_string(),
            Some(
                crate::model::digest::Digest::parse(d)
                    .map_err(|e| bad(&format!("bad digest: {}", e.chain())))?,
            ),
        ),
        None => (full.clone(), None),
    };
    let (repo_full, tag) =
        if digest.is_some() && !name.rsplit('/').next().unwrap_or("").contains(':') {
            (name.clone(), None)
        } else {
            let (r, t) = split_tag(&name);
            (r, Some(t))
        };
    let (host, repo) = repo_full
        .split_once('/')
        .ok_or_else(|| bad("expected HOST/REPO"))?;
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    if !host_ok {
        return Err(bad("bad registry host"));
    }
    let repo_ok = !repo.is_empty()
        && repo.len() <= 255
        && repo.split('/').all(|part| {
            !part.is_empty()
                && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        });
    if !repo_ok {
        return Err(bad(
            "a repository name is lowercase letters, digits and . _ - between slashes",
        ));
    }
    if let Some(t) = &tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && !t.starts_with(['.', '-'])
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return Err(bad("a tag is up to 128 letters, digits and _ . -"));
        }
    }
    let selector = match (&digest, &tag) {
        (Some(d), None) => Selector::Digest(d.clone()),
        (_, Some(t)) => Selector::Name(format!("{repo_full}:{t}")),
        (None, None) => Selector::Name(format!("{repo_full}:latest")),
    };
    let mut r = ImageRef {
        transport: Transport::Registry,
        path: repo_full.clone().into(),
        selector: Some(selector),
    };
    // A tag and a digest both: the digest is what is fetched; keep it.
    if let (Some(d), Some(_)) = (&digest, &tag) {
        r.selector = Some(Selector::Digest(d.clone()));
    }
    Ok(r)
}

impl ImageRef {
    /// The registry, repository and tag or digest of a `docker://` reference.
    pub fn registry(&self) -> Option<RegistryTarget> {
        if self.transport != Transport::Registry {
            return None;
        }
        let path = self.path.to_str()?;
        let (host, repo) = path.split_once('/')?;
        let (tag, digest) = match &self.selector {
            Some(Selector::Name(n)) => (Some(split_tag(n).1), None),
            Some(Selector::Digest(d)) => (None, Some(d.clone())),
            _ => (None, None),
        };
        Some(RegistryTarget {
            host: host.to_string(),
            repo: repo.to_string(),
            tag,
            digest,
        })
    }

    pub fn is_registry(&self) -> bool {
        self.transport == Transport::Registry
    }

    /// Parses an input reference.
    pub fn parse_input(s: &str) -> Result<ImageRef> {
        refuse_daemon(s)?;
        if let Some(rest) = s.strip_prefix("docker://") {
            return parse_registry(rest, s);
        }
        let (transport, rest) = split_transport(s);
        if rest.is_empty() {
            return Err(Error::Usage(format!("empty image reference {s:?}")));
        }
        if transport == Transport::Sniff {
            // A bare path may itself contain ':'; only split when the whole does not exist.
            if Path::new(rest).exists() {
                return Ok(ImageRef {
                    transport,
                    path: rest.into(),
                    selector: None,
                });
            }
        }
        let (path, sel) = match rest.split_once(':') {
            Some((p, r)) => (p, parse_selector(r)?),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(Error::Usage(format!("image reference {s:?} has no path")));
        }
        Ok(ImageRef {
            transport,
            path: path.into(),
            selector: sel,
        })
    }

    /// Parses an output reference. A bare path must end in `.tar` (a docker archive), name an
    /// existing OCI layout, or end in `/` (a new OCI layout).
    pub fn parse_output(s: &str) -> Result<ImageRef> {
        if s == "-" {
            // A docker archive streamed to stdout (for `| docker load`).
            return Ok(ImageRef {
                transport: Transport::DockerArchive,
                path: "-".into(),
                selector: None,
            });
        }
        refuse_daemon(s)?;
        if let Some(rest) = s.strip_prefix("docker://") {
            let r = parse_registry(rest, s)?;
            if matches!(r.selector, Some(Selector::Digest(_))) {
                return Err(Error::Usage(format!(
                    "output {s:?}: a registry output is named by a tag, not a digest"
                )));
            }
            return Ok(r);
        }
        let (transport, rest) = split_transport(s);
        if rest.is_empty() {
            return Err(Error::Usage(format!("empty output reference {s:?}")));
        }
        let (path, sel) = match transport {
            Transport::Sniff => (rest, None),
            _ => match rest.split_once(':') {
                Some((p, r)) => (p, parse_selector(r)?),
                None => (rest, None),
            },
        };
        if matches!(sel, Some(Selector::Nth(_)) | Some(Selector::Digest(_))) {
            return Err(Error::Usage(format!(
                "output {s:?}: an output is named by a tag, not @N or a digest"
            )));
        }
        let transport = match transport {
            Transport::Sniff => {
                let p = Path::new(path);
                if path.ends_with(".tar") {
                    Transport::DockerArchive
                } else if path.ends_with('/') || p.join("oci-layout").is_file() {
                    Transport::Oci
                } else {
                    return Err(Error::Usage(format!(
                        "output {s:?}: cannot tell the format; name a .tar file (docker archive), \
                         a directory ending in / (OCI layout), or use docker-archive:, oci-archive: or oci:"
                    )));
                }
            }
            t => t,
        };
        if let (Transport::DockerArchive, Some(Selector::Name(n))) = (transport, &sel)
            && (!n.contains(':') || n.ends_with(':'))
        {
            return Err(Error::Usage(format!(
                "output {s:?}: a docker archive is named NAME:TAG"
            )));
        }
        Ok(ImageRef {
            transport,
            path: path.into(),
            selector: sel,
        })
    }

    pub fn name(&self) -> Option<&str> {
        match &self.selector {
            Some(Selector::Name(n)) => Some(n),
            _ => None,
        }
    }
}

/// Docker's name normalisation: `vendor:1` -> `docker.io/library/vendor:1`,
/// `org/x` -> `docker.io/org/x:latest`; registries with a `.`/`:` or `localhost` stay.
pub fn normalize_name(name: &str) -> String {
    let (domain, remainder) = match name.split_once('/') {
        Some((d, r)) if d.contains('.') || d.contains(':') || d == "localhost" => {
            (d.to_string(), r.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    let mut remainder = if domain == "docker.io" && !remainder.contains('/') {
        format!("library/{remainder}")
    } else {
        remainder
    };
    let last = remainder.rsplit('/').next().unwrap_or("");
    if !last.contains(':') && !remainder.contains('@') {
        remainder.push_str(":latest");
    }
    format!("{domain}/{remainder}")
}

/// Splits a normalised or plain `name:tag` into (repository, tag); the tag defaults to latest.
pub fn split_tag(name: &str) -> (String, String) {
    let slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    match name[slash..].rfind(':') {
        Some(i) => (
            name[..slash + i].to_string(),
            name[slash + i + 1..].to_string(),
        ),
        None => (name.to_string(), "latest".to_string()),
    }
}

/// A short, familiar form of a name: `docker.io/library/x:1` -> `x:1`.
pub fn familiar_name(name: &str) -> String {
    let n = normalize_name(name);
    n.strip_prefix("docker.io/library/")
        .or_else(|| n.strip_prefix("docker.io/"))
        .map(str::to_string)
        .unwrap_or(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs() {
        let r = ImageRef::parse_input("docker-archive:/x/y.tar:vendor:1.0").unwrap();
        assert_eq!(r.transport, Transport::DockerArchive);
        assert_eq!(r.path, PathBuf::from("/x/y.tar"));
        assert_eq!(r.selector, Some(Selector::Name("vendor:1.0".into())));
        let r = ImageRef::parse_input("oci:dir:@2").unwrap();
        assert_eq!(r.selector, Some(Selector::Nth(2)));
        let r = ImageRef::parse_input("oci:dir").unwrap();
        assert_eq!(r.selector, None);
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = ImageRef::parse_input(&format!("oci-archive:a.tar:@{d}")).unwrap();
        assert!(matches!(r.selector, Some(Selector::Digest(_))));
        assert!(ImageRef::parse_input("oci:").is_err());
        assert!(ImageRef::parse_input("oci:x:@abc").is_err());
    }

    #[test]
    fn other_tools_spellings() {
        let r = ImageRef::parse_input("oci-dir:dir:app").unwrap();
        assert_eq!(r.transport, Transport::Oci);
        assert_eq!(r.selector, Some(Selector::Name("app".into())));
        assert_eq!(
            ImageRef::parse_output("oci-dir:out").unwrap().transport,
            Transport::Oci
        );
        for (s, names) in [
            ("docker-daemon:app:1", "docker save -o image.tar app:1"),
            (
                "containers-storage:app:1",
                "skopeo copy containers-storage:app:1",
            ),
        ] {
            let e = ImageRef::parse_input(s).unwrap_err();
            assert!(e.is_usage() && e.to_string().contains(names), "{e}");
            assert!(ImageRef::parse_output(s).is_err());
        }
    }

    #[test]
    fn outputs() {
        assert_eq!(
            ImageRef::parse_output("out.tar").unwrap().transport,
            Transport::DockerArchive
        );
        assert_eq!(
            ImageRef::parse_output("out/").unwrap().transport,
            Transport::Oci
        );
        assert!(ImageRef::parse_output("out").is_err());
        assert!(ImageRef::parse_output("docker-archive:o.tar:notag").is_err());
        let r = ImageRef::parse_output("oci:o:fixed").unwrap();
        assert_eq!(r.name(), Some("fixed"));
    }

    #[test]
    fn registries() {
        let r = ImageRef::parse_input("docker://127.0.0.1:5000/vend/app:1").unwrap();
        assert_eq!(r.transport, Transport::Registry);
        assert_eq!(r.to_string(), "docker://127.0.0.1:5000/vend/app:1");
        assert_eq!(r.name(), Some("127.0.0.1:5000/vend/app:1"));
        let t = r.registry().unwrap();
        assert_eq!(
            (t.host.as_str(), t.repo.as_str(), t.reference()),
            ("127.0.0.1:5000", "vend/app", "1".to_string())
        );
        let t = ImageRef::parse_input("docker://debian")
            .unwrap()
            .registry()
            .unwrap();
        assert_eq!(
            (t.host.as_str(), t.repo.as_str()),
            ("docker.io", "library/debian")
        );
        assert_eq!(t.reference(), "latest");
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = ImageRef::parse_input(&format!("docker://localhost:5000/a@{d}")).unwrap();
        assert_eq!(r.registry().unwrap().reference(), d);
        assert_eq!(r.to_string(), format!("docker://localhost:5000/a@{d}"));
        assert!(ImageRef::parse_output(&format!("docker://localhost:5000/a@{d}")).is_err());
        for bad in [
            "docker://",
            "docker://h:5000/A/b:1",
            "docker://h:5000/a/../b:1",
            "docker://h:5000/a:b/c",
            "docker://h:5000/a:-x",
            "docker://h:5000/a?x=1:1",
        ] {
            assert!(ImageRef::parse_input(bad).is_err(), "{bad}");
        }
        let o = ImageRef::parse_output("docker://h:5000/a/b:1-fixed").unwrap();
        assert_eq!(o.name(), Some("h:5000/a/b:1-fixed"));
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize_name("vendor:1.0"), "docker.io/library/vendor:1.0");
        assert_eq!(normalize_name("vendor"), "docker.io/library/vendor:latest");
        assert_eq!(normalize_name("org/x"), "docker.io/org/x:latest");
        assert_eq!(normalize_name("reg.io:5000/x/y:z"), "reg.io:5000/x/y:z");
        assert_eq!(normalize_name("localhost/x"), "localhost/x:latest");
        assert_eq!(
            split_tag("reg.io:5000/x"),
            ("reg.io:5000/x".into(), "latest".into())
        );
        assert_eq!(split_tag("x:1"), ("x".into(), "1".into()));
        assert_eq!(familiar_name("docker.io/library/x:1"), "x:1");
    }
}
