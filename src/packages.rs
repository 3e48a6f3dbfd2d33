//! The OS packages an image's package database lists, each with the layer that last wrote its
//! record, read from the layers without unpacking: dpkg (`var/lib/dpkg/status`), distroless
//! dpkg (`var/lib/dpkg/status.d/*`, one file per package) and apk (`lib/apk/db/installed`).
//! rpm databases (Berkeley DB, NDB or SQLite) are detected and reported as not read.
//!
//! Version ordering per ecosystem: [`compare_dpkg`] is dpkg's `verrevcmp` (epochs, `~` before
//! everything, revisions), [`compare_apk`] follows apk-tools (`_alpha` < `_beta` < `_pre` <
//! `_rc` < release < `_cvs` < `_svn` < `_git` < `_hg` < `_p`, then `-rN`).
//!
//! "The layer that last wrote it": dpkg and apk rewrite their whole database file on every
//! install, so the file's layer says nothing about one package. A package's layer is the last
//! layer after which its own record (its stanza) differs from what the layer below left.

use crate::error::Result;
use crate::model::image::Image;
use crate::view::contents::{self, Contents, Origin, Wanted};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

pub const DPKG_STATUS: &[u8] = b"var/lib/dpkg/status";
pub const DPKG_STATUS_D: &[u8] = b"var/lib/dpkg/status.d";
pub const APK_INSTALLED: &[u8] = b"lib/apk/db/installed";
/// apk 3 and merged-/usr Alpine keep the database here.
pub const APK_INSTALLED_USR: &[u8] = b"usr/lib/apk/db/installed";
const RPM_DBS: &[&[u8]] = &[
    b"var/lib/rpm/Packages",
    b"var/lib/rpm/Packages.db",
    b"var/lib/rpm/rpmdb.sqlite",
    b"usr/lib/sysimage/rpm/Packages",
    b"usr/lib/sysimage/rpm/Packages.db",
    b"usr/lib/sysimage/rpm/rpmdb.sqlite",
];
/// The largest package database file regraft reads.
pub const MAX_DB_SIZE: u64 = 256 << 20;

/// Which database a package record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Db {
    /// `var/lib/dpkg/status`.
    Dpkg,
    /// `var/lib/dpkg/status.d/NAME` (distroless).
    #[serde(rename = "dpkg-status.d")]
    DpkgStatusD,
    /// `lib/apk/db/installed`.
    Apk,
}

impl Db {
    pub fn name(self) -> &'static str {
        match self {
            Db::Dpkg => "dpkg",
            Db::DpkgStatusD => "dpkg-status.d",
            Db::Apk => "apk",
        }
    }
    /// Version ordering of this database's ecosystem.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Db::Dpkg | Db::DpkgStatusD => compare_dpkg(a, b),
            Db::Apk => compare_apk(a, b),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// The source package (dpkg `Source`, apk `o:` origin), when it differs from the name.
    pub source_package: Option<String>,
    /// Index of the layer that last wrote this package's record; None when unknown.
    pub source_layer: Option<usize>,
    pub db: Db,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PackageDb {
    /// Sorted by name, then architecture.
    pub packages: Vec<Package>,
    /// The database files read, as paths in the image.
    pub databases: Vec<String>,
    pub warnings: Vec<String>,
}

impl PackageDb {
    /// The package called `name` (and of `arch`, when given).
    pub fn find(&self, name: &str, arch: Option<&str>) -> Option<&Package> {
        self.packages
            .iter()
            .find(|p| p.name == name && arch.is_none_or(|a| a == p.arch))
    }
    /// The libc family the packages show: "glibc", "musl" or None.
    pub fn libc(&self) -> Option<&'static str> {
        if self.packages.iter().any(|p| p.name == "libc6") {
            Some("glibc")
        } else if self.packages.iter().any(|p| p.name == "musl") {
            Some("musl")
        } else {
            None
        }
    }
}

/// The records of one database file: (name, arch) -> (package, its stanza's text).
type Records = BTreeMap<(String, String), (Package, String)>;

/// What `contents::read` must collect for [`from_contents`].
pub fn wanted_paths(p: &[u8]) -> bool {
    p == DPKG_STATUS
        || p == APK_INSTALLED
        || p == APK_INSTALLED_USR
        || (p.starts_with(DPKG_STATUS_D) && p.get(DPKG_STATUS_D.len()) == Some(&b'/'))
}

pub const WATCH: &[&[u8]] = &[DPKG_STATUS, APK_INSTALLED, APK_INSTALLED_USR];

/// Reads the package databases of `img` (one pass over its layers).
pub fn read_packages(img: &Image, max_layer_size: u64) -> Result<PackageDb> {
    let c = contents::read(
        img,
        max_layer_size,
        &Wanted {
            hash: false,
            keep: &wanted_paths,
            keep_max: MAX_DB_SIZE,
            probe_elf: &|_| false,
            watch: WATCH,
        },
    )?;
    Ok(from_contents(&c))
}

/// The package databases of an image whose contents were read with [`wanted_paths`] kept and
/// [`WATCH`] watched.
pub fn from_contents(c: &Contents) -> PackageDb {
    let mut db = PackageDb::default();
    let mut seen_origins: Vec<Origin> = Vec::new();
    for (path, kind) in [
        (DPKG_STATUS, Db::Dpkg),
        (APK_INSTALLED, Db::Apk),
        (APK_INSTALLED_USR, Db::Apk),
    ] {
        let Some(final_origin) = c.watched.last().and_then(|w| w.get(path)) else {
            continue;
        };
        if seen_origins.contains(final_origin) {
            continue; // the same file reached by two names
        }
        seen_origins.push(final_origin.clone());
        db.databases
            .push(String::from_utf8_lossy(path).into_owned());
        let parse = |b: &[u8]| -> Records {
            let recs = match kind {
                Db::Apk => parse_apk(b),
                _ => parse_dpkg(b, kind),
            };
            recs.into_iter()
                .map(|(p, s)| ((p.name.clone(), p.arch.clone()), (p, s)))
                .collect()
        };
        // The record of each package after each layer that changed the file.
        let mut cache: HashMap<Origin, Records> = HashMap::new();
        let mut prev: Records = BTreeMap::new();
        let mut prev_origin: Option<&Origin> = None;
        let mut changed_at: HashMap<(String, String), usize> = HashMap::new();
        for (layer, w) in c.watched.iter().enumerate() {
            let o = w.get(path);
            if o == prev_origin {
                continue;
            }
            prev_origin = o;
            let now = match o {
                None => BTreeMap::new(),
                Some(o) => match c.kept.get(o) {
                    Some(bytes) => cache
                        .entry(o.clone())
                        .or_insert_with(|| parse(bytes))
                        .clone(),
                    None => {
                        db.warnings.push(format!(
                            "{}: layer {layer} has it as a hardlink or special file; not read",
                            String::from_utf8_lossy(path)
                        ));
                        BTreeMap::new()
                    }
                },
            };
            for (k, (_, stanza)) in &now {
                if prev.get(k).map(|(_, s)| s) != Some(stanza) {
                    changed_at.insert(k.clone(), layer);
                }
            }
            prev = now;
        }
        for (k, (mut p, _)) in prev {
            p.source_layer = changed_at.get(&k).copied();
            db.packages.push(p);
        }
    }
    // distroless: one file per package, whose layer is the one that last wrote the file.
    let dir = DPKG_STATUS_D;
    let mut any_status_d = false;
    for (path, node) in c.view.subtree(dir) {
        if path.as_slice() == dir || node.kind != crate::layer::entry::Kind::File {
            continue;
        }
        let name = &path[dir.len() + 1..];
        if name.contains(&b'/') || name.ends_with(b".md5sums") {
            continue;
        }
        any_status_d = true;
        match c.kept.get(&node.origin) {
            Some(bytes) => {
                for (mut p, _) in parse_dpkg(bytes, Db::DpkgStatusD) {
                    p.source_layer = Some(node.layer);
                    db.packages.push(p);
                }
            }
            None => db.warnings.push(format!(
                "{}: not read (a hardlink to a file outside status.d)",
                String::from_utf8_lossy(path)
            )),
        }
    }
    if any_status_d {
        db.databases
            .push(format!("{}/", String::from_utf8_lossy(DPKG_STATUS_D)));
    }
    for p in RPM_DBS {
        if c.view.get(p).is_some() {
            db.warnings.push(format!(
                "rpm database /{} found but not read: regraft does not read rpm databases",
                String::from_utf8_lossy(p)
            ));
        }
    }
    db.packages.sort_by(|a, b| {
        (&a.name, &a.arch, a.db, &a.version).cmp(&(&b.name, &b.arch, b.db, &b.version))
    });
    db
}

/// Splits a deb822-style file into stanzas of (lowercased field, value) pairs, with each
/// stanza's text. Continuation lines belong to the field above and are not kept.
fn stanzas(text: &str) -> Vec<(Vec<(String, String)>, String)> {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut raw = String::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if !fields.is_empty() {
                out.push((std::mem::take(&mut fields), std::mem::take(&mut raw)));
            }
            raw.clear();
            continue;
        }
        raw.push_str(line);
        raw.push('\n');
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    out
}

/// dpkg `status` (or one `status.d` file): the installed packages, with each one's stanza.
/// A package counts when its `Status` state is neither `not-installed` nor `config-files`
/// (what `dpkg-query -W` calls installed); distroless stanzas have no `Status` at all.
pub fn parse_dpkg(bytes: &[u8], db: Db) -> Vec<(Package, String)> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for (f, raw) in stanzas(&text) {
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let (Some(name), Some(version)) = (get("package"), get("version")) else {
            continue;
        };
        if let Some(st) = get("status") {
            let state = st.split_whitespace().nth(2).unwrap_or("");
            if state == "not-installed" || state == "config-files" {
                continue;
            }
        }
        // `Source: name (version)` names the source package, with its version when it differs.
        let source = get("source")
            .and_then(|s| s.split_whitespace().next())
            .filter(|s| *s != name)
            .map(str::to_string);
        out.push((
            Package {
                name: name.to_string(),
                version: version.to_string(),
                arch: get("architecture").unwrap_or("").to_string(),
                source_package: source,
                source_layer: None,
                db,
            },
            raw,
        ));
    }
    out
}

/// apk `installed`: `P:` name, `V:` version, `A:` arch, `o:` origin; stanzas end at a blank
/// line. Field letters are case-sensitive, so the generic parser is not used.
pub fn parse_apk(bytes: &[u8]) -> Vec<(Package, String)> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut cur: HashMap<char, String> = HashMap::new();
    let mut raw = String::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.is_empty() {
            if let (Some(n), Some(v)) = (cur.get(&'P'), cur.get(&'V')) {
                out.push((
                    Package {
                        name: n.clone(),
                        version: v.clone(),
                        arch: cur.get(&'A').cloned().unwrap_or_default(),
                        source_package: cur.get(&'o').filter(|o| *o != n).cloned(),
                        source_layer: None,
                        db: Db::Apk,
                    },
                    std::mem::take(&mut raw),
                ));
            }
            cur.clear();
            raw.clear();
            continue;
        }
        raw.push_str(line);
        raw.push('\n');
        let mut cs = line.chars();
        if let (Some(k), Some(':')) = (cs.next(), cs.next()) {
            // Only the first of each field counts (`F:`/`R:` repeat per file).
            cur.entry(k).or_insert_with(|| cs.as_str().to_string());
        }
    }
    out
}

/// dpkg's character order: `~` before the end, the end before digits' place, letters before
/// other characters.
fn dpkg_order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(b'~') => -1,
        Some(c) => c as i32 + 256,
    }
}

/// dpkg's `verrevcmp` over one part (upstream version or revision).
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = dpkg_order(a.get(i).copied());
            let bc = dpkg_order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// Splits `[epoch:]upstream[-revision]`; a missing epoch is 0, a missing revision empty
/// (which dpkg orders like "0").
fn dpkg_parts(v: &str) -> (u64, &str, &str) {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), r)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((u, r)) => (epoch, u, r),
        None => (epoch, rest, ""),
    }
}

/// Orders two Debian versions exactly as `dpkg --compare-versions` does.
pub fn compare_dpkg(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = dpkg_parts(a);
    let (eb, ub, rb) = dpkg_parts(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua.as_bytes(), ub.as_bytes()))
        .then_with(|| verrevcmp(ra.as_bytes(), rb.as_bytes()))
}

/// apk version suffixes, in order; pre-release ones sort before the bare release.
const APK_SUFFIXES: &[(&str, i32)] = &[
    ("alpha", -4),
    ("beta", -3),
    ("pre", -2),
    ("rc", -1),
    ("cvs", 1),
    ("svn", 2),
    ("git", 3),
    ("hg", 4),
    ("p", 5),
];

#[derive(Debug, Default)]
struct ApkVersion<'a> {
    numbers: Vec<&'a str>,
    letter: Option<u8>,
    suffixes: Vec<(i32, u64)>,
    revision: u64,
    /// Anything past what the grammar allows, compared as bytes last.
    rest: &'a str,
}

fn parse_apk_version(v: &str) -> ApkVersion<'_> {
    let mut out = ApkVersion::default();
    let b = v.as_bytes();
    let mut i = 0;
    let digits = |i: usize| {
        let mut k = i;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        k
    };
    loop {
        let k = digits(i);
        if k == i {
            break;
        }
        out.numbers.push(&v[i..k]);
        i = k;
        if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
        } else {
            break;
        }
    }
    if let Some(&c) = b.get(i)
        && c.is_ascii_lowercase()
        && !b.get(i + 1).is_some_and(u8::is_ascii_lowercase)
    {
        out.letter = Some(c);
        i += 1;
    }
    while b.get(i) == Some(&b'_') {
        let name_end = (i + 1..=b.len())
            .find(|&k| k == b.len() || !b[k].is_ascii_lowercase())
            .unwrap_or(b.len());
        let Some(&(_, rank)) = APK_SUFFIXES.iter().find(|(s, _)| *s == &v[i + 1..name_end]) else {
            break;
        };
        let k = digits(name_end);
        out.suffixes
            .push((rank, v[name_end..k].parse().unwrap_or(0)));
        i = k;
    }
    if b.get(i) == Some(&b'-') && b.get(i + 1) == Some(&b'r') {
        let k = digits(i + 2);
        if k > i + 2 {
            out.revision = v[i + 2..k].parse().unwrap_or(u64::MAX);
            i = k;
        }
    }
    out.rest = &v[i..];
    out
}

/// Orders two Alpine package versions the way apk-tools does for well-formed versions.
pub fn compare_apk(a: &str, b: &str) -> Ordering {
    let (x, y) = (parse_apk_version(a.trim()), parse_apk_version(b.trim()));
    for k in 0..x.numbers.len().max(y.numbers.len()) {
        let o = match (x.numbers.get(k), y.numbers.get(k)) {
            (Some(p), Some(q)) => {
                // After the first component, a leading zero makes it a fraction (1.01 < 1.1).
                if k > 0 && (p.starts_with('0') || q.starts_with('0')) {
                    p.cmp(q)
                } else {
                    let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                    p.len().cmp(&q.len()).then_with(|| p.cmp(q))
                }
            }
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    let o = x.letter.cmp(&y.letter);
    if o != Ordering::Equal {
        return o;
    }
    for k in 0..x.suffixes.len().max(y.suffixes.len()) {
        let p = x.suffixes.get(k).copied().unwrap_or((0, 0));
        let q = y.suffixes.get(k).copied().unwrap_or((0, 0));
        let o = p.cmp(&q);
        if o != Ordering::Equal {
            return o;
        }
    }
    x.revision.cmp(&y.revision).then_with(|| x.rest.cmp(y.rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn dpkg_ordering_table() {
        // Cases from dpkg's own test suite (t-version.c) and Debian policy 5.6.12.
        let table = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.0-0", Equal),
            ("0:1.0", "1.0", Equal),
            ("1:0.1", "2.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0~", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1.0-1", "1.0-1.1", Less),
            ("1.0-1~bpo1", "1.0-1", Less),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0+", Less),
            ("1.0.0", "1.0", Greater),
            ("1.01", "1.1", Equal),
            ("2.36-9+deb12u4", "2.36-9+deb12u10", Less),
            ("3.0.11-1~deb12u2", "3.0.13-1~deb12u1", Less),
            ("1:2.0-1", "2:1.0-1", Less),
            ("1.2.3-a", "1.2.3-b", Less),
            ("7.88.1-10+deb12u5", "8.14.1-2", Less),
        ];
        for (a, b, want) in table {
            assert_eq!(compare_dpkg(a, b), want, "{a} vs {b}");
            assert_eq!(compare_dpkg(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn apk_ordering_table() {
        let table = [
            ("1.2.3-r0", "1.2.3-r1", Less),
            ("1.2.3-r10", "1.2.3-r9", Greater),
            ("1.2.3", "1.2.3-r0", Equal),
            ("1.2_rc1-r0", "1.2-r0", Less),
            ("1.2_alpha1", "1.2_beta1", Less),
            ("1.2_p1", "1.2", Greater),
            ("1.2_p1", "1.2.1", Less),
            ("1.2a", "1.2", Greater),
            ("1.2a", "1.2b", Less),
            ("1.10", "1.9", Greater),
            ("1.01", "1.1", Less),
            ("3.0.8-r0", "3.0.10-r0", Less),
            ("1.1.1t-r0", "1.1.1u-r0", Less),
            ("2.38.1-r0", "2.38.1-r0", Equal),
            ("1.0_git20230101", "1.0", Greater),
            ("1.0_rc2", "1.0_rc10", Less),
        ];
        for (a, b, want) in table {
            assert_eq!(compare_apk(a, b), want, "{a} vs {b}");
            assert_eq!(compare_apk(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn dpkg_status_keeps_installed_and_source() {
        let s = b"Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\nDescription: x\n more\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n";
        let p = parse_dpkg(s, Db::Dpkg);
        let got: Vec<_> = p
            .iter()
            .map(|(p, _)| {
                (
                    p.name.as_str(),
                    p.version.as_str(),
                    p.source_package.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("libssl3", "3.0.11-1~deb12u2", Some("openssl")),
                ("libc6", "2.36-9", None)
            ]
        );
    }

    #[test]
    fn apk_installed_fields() {
        let s = b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\no:musl\nF:lib\nR:libc.musl-x86_64.so.1\n\nP:libcrypto3\nV:3.1.4-r1\nA:x86_64\no:openssl\n";
        let p = parse_apk(s);
        let got: Vec<_> = p
            .iter()
            .map(|(p, _)| {
                (
                    p.name.as_str(),
                    p.version.as_str(),
                    p.source_package.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("musl", "1.2.4-r2", None),
                ("libcrypto3", "3.1.4-r1", Some("openssl"))
            ]
        );
    }
}
