//! Licenses for an SBOM: what a package's database records (rpm's `LICENSE`, apk's `L:`), or
//! for dpkg the `License:` fields of a machine-readable `/usr/share/doc/PKG/copyright`
//! (DEP-5, <https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/>), which names
//! licenses by Debian's short names (`GPL-2+`, `BSD-3-clause`).
//!
//! SPDX documents must carry valid SPDX license expressions: a string made only of SPDX
//! license list identifiers (`spdx-licenses.txt`, the license list's IDs) and operators is
//! used as it is; any other is carried whole as `LicenseRef-<name>`, with its text in the
//! document's extracted licenses (as Syft and Trivy do).

use std::collections::BTreeSet;

/// The SPDX license list's identifiers and exception identifiers (license list 3.x, as
/// `license-expression` ships it), one a line.
const SPDX_IDS: &str = include_str!("spdx-licenses.txt");

/// The list's spelling of `s` (SPDX matches identifiers regardless of case; CycloneDX's schema
/// lists them in the one spelling), a trailing `+` (or later) kept.
fn canonical_id(s: &str) -> Option<String> {
    let (id, plus) = match s.strip_suffix('+') {
        Some(id) => (id, "+"),
        None => (s, ""),
    };
    SPDX_IDS
        .lines()
        .find(|l| l.eq_ignore_ascii_case(id))
        .map(|l| format!("{l}{plus}"))
}

/// `expr` with its identifiers in the list's spelling, when it is a valid SPDX license
/// expression made of listed identifiers; None otherwise.
pub fn canonical(expr: &str) -> Option<String> {
    let spaced = expr.replace('(', " ( ").replace(')', " ) ");
    let mut depth = 0i32;
    // Alternate: an operand is wanted, then an operator.
    let mut want_operand = true;
    let mut out: Vec<String> = Vec::new();
    for t in spaced.split_whitespace() {
        match t {
            "(" if want_operand => depth += 1,
            ")" if !want_operand => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            "AND" | "OR" | "WITH" if !want_operand => want_operand = true,
            id if want_operand => {
                out.push(canonical_id(id)?);
                want_operand = false;
                continue;
            }
            _ => return None,
        }
        out.push(t.to_string());
    }
    if out.is_empty() || want_operand || depth != 0 {
        return None;
    }
    Some(out.join(" ").replace("( ", "(").replace(" )", ")"))
}

/// Whether `expr` is a valid SPDX license expression made of listed identifiers.
pub fn is_spdx_expression(expr: &str) -> bool {
    canonical(expr).is_some()
}

/// `LicenseRef-` and the name with every character outside `[A-Za-z0-9.-]` as `-`.
pub fn license_ref(name: &str) -> String {
    let body: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("LicenseRef-{body}")
}

/// The `License:` values of a machine-readable Debian copyright file, sorted and unique; empty
/// when the file is not machine-readable (no `Format:` naming the copyright format in its first
/// paragraph).
pub fn debian_copyright(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let first = text.split("\n\n").next().unwrap_or("");
    let machine = first.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.eq_ignore_ascii_case("format") && v.contains("copyright-format")
        })
    });
    if !machine {
        return Vec::new();
    }
    let mut out = BTreeSet::new();
    for l in text.lines() {
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("license")
            && !v.trim().is_empty()
        {
            out.insert(v.trim().to_string());
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spdx_expressions() {
        for (e, ok) in [
            ("MIT", true),
            ("GPL-2.0-or-later", true),
            ("BSD-3-Clause AND CC0-1.0", true),
            ("(MIT OR Apache-2.0) AND BSD-2-Clause", true),
            ("GPL-2.0-only WITH Classpath-exception-2.0", true),
            ("GPL-2+", false),
            ("GPLv2+", false),
            ("MIT AND", false),
            ("(MIT", false),
            ("", false),
            ("public-domain", false),
        ] {
            assert_eq!(is_spdx_expression(e), ok, "{e}");
        }
        assert_eq!(canonical("bsd-2-clause").as_deref(), Some("BSD-2-Clause"));
        assert_eq!(
            canonical("(mit OR Apache-2.0) AND MPL-2.0+").as_deref(),
            Some("(MIT OR Apache-2.0) AND MPL-2.0+")
        );
        assert_eq!(
            license_ref("GPL-2+ or Artistic"),
            "LicenseRef-GPL-2--or-Artistic"
        );
    }

    #[test]
    fn debian_copyright_licenses() {
        let dep5 = b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: x\n\nFiles: *\nCopyright: me\nLicense: GPL-2+\n This program is free software\n\nFiles: debian/*\nLicense: BSD-3-clause\n\nLicense: GPL-2+\n text\n";
        assert_eq!(debian_copyright(dep5), ["BSD-3-clause", "GPL-2+"]);
        assert!(
            debian_copyright(b"This is the Debian prepackaged version\nLicense: x\n").is_empty()
        );
    }
}
