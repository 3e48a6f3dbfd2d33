//! The distribution an image says it is (`/etc/os-release`, else `/usr/lib/os-release`): the
//! `distro` qualifier of its package URLs and the namespace of rpm ones.

use serde::Serialize;

/// What `/etc/os-release` says the distribution is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Distro {
    /// `ID`: debian, alpine, rhel, rocky, fedora, ...
    pub id: String,
    /// `VERSION_ID`: 12, 3.19.1, 9.4 (empty for Debian testing and sid).
    pub version_id: String,
    /// `PRETTY_NAME`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
}

impl Distro {
    /// Parses an os-release file (`KEY=value`, values optionally quoted); None without `ID`.
    pub fn parse(bytes: &[u8]) -> Option<Distro> {
        let text = String::from_utf8_lossy(bytes);
        let mut d = Distro::default();
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v)
                .to_string();
            match k.trim() {
                "ID" => d.id = v,
                "VERSION_ID" => d.version_id = v,
                "PRETTY_NAME" => d.pretty_name = Some(v),
                _ => {}
            }
        }
        (!d.id.is_empty()).then_some(d)
    }
    /// `debian-12`, `alpine-3.19.1`, `rhel-9.4`: the purl `distro` qualifier.
    pub fn qualifier(&self) -> String {
        if self.version_id.is_empty() {
            self.id.clone()
        } else {
            format!("{}-{}", self.id, self.version_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_parses() {
        let d = Distro::parse(b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n").unwrap();
        assert_eq!(d.qualifier(), "debian-12");
        assert_eq!(
            d.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(
            Distro::parse(b"ID='alpine'\n").unwrap().qualifier(),
            "alpine"
        );
        assert_eq!(Distro::parse(b"NAME=x\n"), None);
    }
}
