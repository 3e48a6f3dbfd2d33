//! A `postinst` that only registers alternatives, done as `update-alternatives --install`
//! (dpkg 1.21, `utils/update-alternatives.c`) does it for a link group that is new to the
//! image, in auto mode: `LINK -> /etc/alternatives/NAME -> PATH` for the master and for each
//! slave whose file exists, and `/var/lib/dpkg/alternatives/NAME` (status, master link, the
//! slaves sorted by name, then the one choice with its priority and slave files). The script is
//! read conservatively: a shebang, comments, blank lines, `set -e`, `exit 0` and
//! `update-alternatives [--quiet] --install LINK NAME PATH PRIORITY [--slave LINK NAME PATH]...`
//! with plain words only; anything else (a condition, a variable, a quote) leaves the script
//! one regraft does not run. A group the image already has is not merged: refused.

use crate::error::{Error, Result};

/// One `--install`: the master (link, name, path), its priority and its slaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub link: String,
    pub name: String,
    pub path: String,
    pub priority: i32,
    /// (link, name, path), in the order given.
    pub slaves: Vec<(String, String, String)>,
}

/// The groups a `postinst` installs, when it does nothing else; None otherwise.
pub fn parse_postinst(script: &[u8]) -> Option<Vec<Group>> {
    let text = std::str::from_utf8(script).ok()?;
    // Lines joined at a trailing backslash.
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for l in text.lines() {
        if let Some(head) = l.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
            continue;
        }
        cur.push_str(l);
        lines.push(std::mem::take(&mut cur));
    }
    if !cur.is_empty() {
        return None;
    }
    let mut groups = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if i == 0 && (t == "#!/bin/sh" || t == "#!/bin/bash" || t == "#!/bin/sh -e") {
            continue;
        }
        if t.is_empty() || t.starts_with('#') || t == "set -e" || t == "exit 0" {
            continue;
        }
        let plain = |w: &str| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._+-@:,=".contains(c))
        };
        let words: Vec<&str> = t.split_whitespace().collect();
        if !words.iter().all(|w| plain(w)) {
            return None;
        }
        let mut w = words.as_slice();
        w = w.strip_prefix(&["update-alternatives"])?;
        if let Some(rest) = w.strip_prefix(&["--quiet"]) {
            w = rest;
        }
        let ["--install", link, name, path, prio, rest @ ..] = w else {
            return None;
        };
        let mut slaves = Vec::new();
        let mut rest = rest;
        while let ["--slave", l, n, p, more @ ..] = rest {
            slaves.push((l.to_string(), n.to_string(), p.to_string()));
            rest = more;
        }
        if !rest.is_empty() {
            return None;
        }
        let g = Group {
            link: link.to_string(),
            name: name.to_string(),
            path: path.to_string(),
            priority: prio.parse().ok()?,
            slaves,
        };
        let names_ok = std::iter::once((&g.link, &g.name, &g.path))
            .chain(g.slaves.iter().map(|(l, n, p)| (l, n, p)))
            .all(|(l, n, p)| {
                l.starts_with('/')
                    && p.starts_with('/')
                    && !n.contains('/')
                    && !n.starts_with('.')
                    && l != p
                    && !l.split('/').any(|c| c == "..")
                    && !p.split('/').any(|c| c == "..")
            });
        if !names_ok {
            return None;
        }
        groups.push(g);
    }
    (!groups.is_empty()).then_some(groups)
}

/// What the layer gets for one group: (absolute path, symlink target) links and the admin
/// file's text. `exists` says whether a path is in the patched filesystem (a slave whose file
/// is missing gets no links, as update-alternatives skips it).
pub fn install(
    g: &Group,
    exists: &dyn Fn(&str) -> bool,
) -> Result<(Vec<(String, String)>, String)> {
    if !exists(&g.path) {
        return Err(Error::Invalid(format!(
            "update-alternatives --install {} {} {}: the alternative {} does not exist",
            g.link, g.name, g.path, g.path
        )));
    }
    let mut links = vec![
        (format!("/etc/alternatives/{}", g.name), g.path.clone()),
        (g.link.clone(), format!("/etc/alternatives/{}", g.name)),
    ];
    let mut slaves = g.slaves.clone();
    slaves.sort_by(|a, b| a.1.cmp(&b.1));
    for (l, n, p) in &slaves {
        if exists(p) {
            links.push((format!("/etc/alternatives/{n}"), p.clone()));
            links.push((l.clone(), format!("/etc/alternatives/{n}")));
        }
    }
    let mut admin = format!("auto\n{}\n", g.link);
    for (l, n, _) in &slaves {
        admin.push_str(&format!("{n}\n{l}\n"));
    }
    admin.push('\n');
    admin.push_str(&format!("{}\n{}\n", g.path, g.priority));
    for (_, _, p) in &slaves {
        admin.push_str(&format!("{p}\n"));
    }
    admin.push('\n');
    Ok((links, admin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_update_alternatives_install_is_taken() {
        let s = b"#!/bin/sh\nset -e\n# register\nupdate-alternatives --install /usr/bin/hello hello /usr/bin/hello-a 50 \\\n  --slave /usr/share/man/man1/hello.1.gz hello.1.gz /usr/share/man/man1/hello-a.1.gz\n";
        let g = parse_postinst(s).unwrap();
        assert_eq!(g[0].name, "hello");
        assert_eq!(g[0].priority, 50);
        assert_eq!(g[0].slaves[0].1, "hello.1.gz");
        for bad in [
            &b"#!/bin/sh\nupdate-alternatives --install /usr/bin/x x $P 1\n"[..],
            b"#!/bin/sh\nif [ \"$1\" = configure ]; then\nupdate-alternatives --install /a a /b 1\nfi\n",
            b"#!/bin/sh\nupdate-alternatives --install /a a /b 1; rm -rf /\n",
            b"#!/bin/sh\nupdate-alternatives --remove a /b\n",
            b"#!/bin/sh\nupdate-alternatives --install /a ../a /b 1\n",
            b"#!/bin/sh\nset -e\n",
        ] {
            assert_eq!(parse_postinst(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn the_admin_file_as_update_alternatives_writes_it() {
        let g = Group {
            link: "/usr/bin/h".into(),
            name: "h".into(),
            path: "/usr/bin/h-a".into(),
            priority: 5,
            slaves: vec![
                ("/z".into(), "zz".into(), "/missing".into()),
                ("/a".into(), "aa".into(), "/there".into()),
            ],
        };
        let (links, admin) = install(&g, &|p| p != "/missing").unwrap();
        assert_eq!(
            admin,
            "auto\n/usr/bin/h\naa\n/a\nzz\n/z\n\n/usr/bin/h-a\n5\n/there\n/missing\n\n"
        );
        assert_eq!(links.len(), 4);
        assert!(install(&g, &|_| false).is_err());
    }
}
