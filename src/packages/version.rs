//! Version ordering per ecosystem: [`compare_dpkg`] is dpkg's `verrevcmp` (epochs, `~` before
//! everything, revisions), [`compare_apk`] follows apk-tools (`_alpha` < `_beta` < `_pre` <
//! `_rc` < release < `_cvs` < `_svn` < `_git` < `_hg` < `_p`, then `-rN`), [`compare_rpm`] is
//! rpm's `rpmvercmp` over epoch, version and release (`~` before everything, `^` after the end).

use std::cmp::Ordering;

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

/// rpm's `rpmvercmp` (`lib/rpmvercmp.c`) over one part (a version or a release): runs of
/// digits or of letters are compared, other characters only separate; `~` sorts before
/// anything, even the end; `^` after the end but before anything else; a number is newer than
/// letters.
fn rpmvercmp(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        let (x, y) = (a.get(i).copied(), b.get(j).copied());
        if x == Some(b'~') || y == Some(b'~') {
            if x != Some(b'~') {
                return Ordering::Greater;
            }
            if y != Some(b'~') {
                return Ordering::Less;
            }
            (i, j) = (i + 1, j + 1);
            continue;
        }
        if x == Some(b'^') || y == Some(b'^') {
            if x.is_none() {
                return Ordering::Less;
            }
            if y.is_none() {
                return Ordering::Greater;
            }
            if x != Some(b'^') {
                return Ordering::Greater;
            }
            if y != Some(b'^') {
                return Ordering::Less;
            }
            (i, j) = (i + 1, j + 1);
            continue;
        }
        let (Some(x), Some(_)) = (x, y) else {
            break;
        };
        let num = x.is_ascii_digit();
        let run = |s: &[u8], from: usize| {
            let mut k = from;
            while k < s.len()
                && (if num {
                    s[k].is_ascii_digit()
                } else {
                    s[k].is_ascii_alphabetic()
                })
            {
                k += 1;
            }
            k
        };
        let (ei, ej) = (run(a, i), run(b, j));
        if ej == j {
            // Different kinds of run: a number is newer than letters.
            return if num {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut p, mut q) = (&a[i..ei], &b[j..ej]);
        if num {
            while p.first() == Some(&b'0') {
                p = &p[1..];
            }
            while q.first() == Some(&b'0') {
                q = &q[1..];
            }
            let o = p.len().cmp(&q.len());
            if o != Ordering::Equal {
                return o;
            }
        }
        let o = p.cmp(q);
        if o != Ordering::Equal {
            return o;
        }
        (i, j) = (ei, ej);
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// Splits `[epoch:]version[-release]`; a missing epoch is 0, a missing release None.
fn rpm_parts(v: &str) -> (u64, &str, Option<&str>) {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), r)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((v, r)) => (epoch, v, Some(r)),
        None => (epoch, rest, None),
    }
}

/// Orders two rpm EVRs (`[epoch:]version-release`) as rpm does (`rpmverCmp`, what
/// `rpm.vercmp` runs): epochs, then versions, then releases; a missing release is older than
/// any (an installed package always has one).
pub fn compare_rpm(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = rpm_parts(a);
    let (eb, vb, rb) = rpm_parts(b);
    ea.cmp(&eb)
        .then_with(|| rpmvercmp(va.as_bytes(), vb.as_bytes()))
        .then_with(|| match (ra, rb) {
            (Some(x), Some(y)) => rpmvercmp(x.as_bytes(), y.as_bytes()),
            (x, y) => x.is_some().cmp(&y.is_some()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    /// Each row both ways: `a` against `b`, and `b` against `a` reversed.
    fn check_table(compare: fn(&str, &str) -> Ordering, table: &[(&str, &str, Ordering)]) {
        for &(a, b, want) in table {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

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
        check_table(compare_dpkg, &table);
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
        check_table(compare_apk, &table);
    }

    #[test]
    fn rpm_ordering_table() {
        // Cases from rpm's own test suite (tests/rpmvercmp.at).
        let table = [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0.1", Equal),
            ("2.0", "2.0.1", Less),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("xyz.4", "2", Less),
            ("5.5p2", "5.6p1", Less),
            ("5.6p1", "6.5p1", Less),
            ("6.0.rc1", "6.0", Greater),
            ("10b2", "10a1", Greater),
            ("1.0aa", "1.0a", Greater),
            ("10.0001", "10.1", Equal),
            ("10.0001", "10.0039", Less),
            ("4.999.9", "5.0", Less),
            ("20101121", "20101122", Less),
            ("2_0", "2_0", Equal),
            ("2.0", "2_0", Equal),
            ("a", "a", Equal),
            ("a+", "a_", Equal),
            ("+", "_", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
            // Epoch, version, release.
            ("2:1.2-3", "1.2.10-1", Greater),
            ("2:1.2-3", "2:1.2.10-1", Less),
            ("1.2-3.el9", "1.2-3.el9_1", Less),
            ("1:1.1.1k-7.el8", "1:1.1.1k-12.el8", Less),
            ("1.2", "1.2-5", Less),
        ];
        check_table(compare_rpm, &table);
    }
}
