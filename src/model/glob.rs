//! Path globs, matched by one engine: `--exclude GLOB` over an entry's cleaned absolute path
//! (`/opt/x/y`), and the check's ld.so.conf `include` patterns over one file name. `?` is one
//! byte and `*` a run of bytes, neither crossing `/`; `**` is any run, and `**/` may also match
//! no directory at all. On a name (no `/`) that is the shell's `*` and `?`.
//!
//! For `--exclude`, a path is excluded when it or any of its parent directories matches, so a
//! matching directory drops its subtree; the path is read once for all its parents. A whiteout
//! is matched by the path it deletes.

use crate::error::{Error, Result};

#[derive(Clone, Debug, Default)]
pub struct Excludes {
    pats: Vec<Glob>,
}

/// One step of a compiled pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Byte(u8),
    /// `?`: one byte other than `/`.
    One,
    /// `*`: any run without `/`.
    Star,
    /// `**`: any run.
    Stars,
    /// `**/`: no directory at all, or any run that ends in `/`.
    Dirs,
}

fn tokens(pat: &[u8]) -> Vec<Token> {
    let mut out = Vec::with_capacity(pat.len());
    let mut rest = pat;
    while let Some(&c) = rest.first() {
        let (t, len) = match rest {
            [b'*', b'*', b'/', ..] => (Token::Dirs, 3),
            [b'*', b'*', ..] => (Token::Stars, 2),
            [b'*', ..] => (Token::Star, 1),
            [b'?', ..] => (Token::One, 1),
            _ => (Token::Byte(c), 1),
        };
        // A star next to the same star matches nothing more: `***` and `****` are `**`.
        let same_star = matches!(t, Token::Star | Token::Stars) && out.last() == Some(&t);
        if !same_star {
            out.push(t);
        }
        rest = &rest[len..];
    }
    out
}

/// Where a match can stand after reading part of the text: before token `i` (`at[i]`), or
/// inside the run of the `**/` that is token `i` (`inside[i]`).
struct Positions {
    at: Vec<bool>,
    inside: Vec<bool>,
}

impl Positions {
    fn none(tokens: usize) -> Positions {
        Positions {
            at: vec![false; tokens + 1],
            inside: vec![false; tokens],
        }
    }

    fn any(&self) -> bool {
        self.at.contains(&true) || self.inside.contains(&true)
    }

    /// Adds the positions reachable without reading a byte: past a star (it may match
    /// nothing), past `**/` (no directory), into the run of `**/`. They only move forward, so
    /// one pass suffices.
    fn close(&mut self, toks: &[Token]) {
        for (i, t) in toks.iter().enumerate() {
            if !self.at[i] {
                continue;
            }
            match t {
                Token::Star | Token::Stars => self.at[i + 1] = true,
                Token::Dirs => {
                    self.at[i + 1] = true;
                    self.inside[i] = true;
                }
                Token::Byte(_) | Token::One => {}
            }
        }
    }

    /// Sets `next` to the positions after reading `c`.
    fn step(&self, toks: &[Token], c: u8, next: &mut Positions) {
        next.at.fill(false);
        next.inside.fill(false);
        for (i, t) in toks.iter().enumerate() {
            if self.inside[i] {
                next.inside[i] = true;
                next.at[i + 1] |= c == b'/';
            }
            if !self.at[i] {
                continue;
            }
            match *t {
                Token::Byte(b) if b == c => next.at[i + 1] = true,
                Token::One if c != b'/' => next.at[i + 1] = true,
                Token::Star if c != b'/' => next.at[i] = true,
                Token::Stars => next.at[i] = true,
                _ => {}
            }
        }
        next.close(toks);
    }
}

/// A compiled glob (see the module doc). It runs as a set of pattern positions stepped over
/// the text once, so a match takes at most pattern x text steps whatever the pattern (a
/// backtracking matcher is exponential in the number of stars).
#[derive(Clone, Debug)]
pub struct Glob {
    toks: Vec<Token>,
}

impl Glob {
    pub fn new(pat: &[u8]) -> Glob {
        Glob { toks: tokens(pat) }
    }

    /// Whether all of `text` matches.
    pub fn matches(&self, text: &[u8]) -> bool {
        self.first_match(text, |i| i == text.len())
    }

    /// Whether `text` or one of its parent directories (a prefix that ends before a `/`)
    /// matches: one pass over `text`, each prefix read once.
    pub fn matches_path_or_parent(&self, text: &[u8]) -> bool {
        self.first_match(text, |i| i == text.len() || (i > 0 && text[i] == b'/'))
    }

    /// Steps over `text` once; whether the whole pattern matched the first `i` bytes for an
    /// `i` that `at_end` accepts.
    fn first_match(&self, text: &[u8], at_end: impl Fn(usize) -> bool) -> bool {
        let toks = &self.toks;
        let done = toks.len();
        let mut pos = Positions::none(toks.len());
        let mut next = Positions::none(toks.len());
        pos.at[0] = true;
        pos.close(toks);
        for (i, &c) in text.iter().enumerate() {
            if pos.at[done] && at_end(i) {
                return true;
            }
            pos.step(toks, c, &mut next);
            std::mem::swap(&mut pos, &mut next);
            if !pos.any() {
                return false;
            }
        }
        pos.at[done] && at_end(text.len())
    }
}

/// Whether `text` matches the glob `pat`.
pub fn matches(pat: &[u8], text: &[u8]) -> bool {
    Glob::new(pat).matches(text)
}

impl Excludes {
    pub fn new(globs: &[String]) -> Result<Excludes> {
        let mut pats = Vec::new();
        for g in globs {
            if g.is_empty() {
                return Err(Error::Usage("--exclude needs a pattern".into()));
            }
            // Patterns are absolute; a relative one is taken from the root.
            let mut p = g.trim_end_matches('/').as_bytes().to_vec();
            if !p.starts_with(b"/") {
                p.insert(0, b'/');
            }
            pats.push(Glob::new(&p));
        }
        Ok(Excludes { pats })
    }

    pub fn is_empty(&self) -> bool {
        self.pats.is_empty()
    }

    /// Whether the cleaned relative path `rel` (`opt/x`) or a parent of it matches.
    pub fn excludes(&self, rel: &[u8]) -> bool {
        if self.pats.is_empty() || rel.is_empty() {
            return false;
        }
        let mut abs = Vec::with_capacity(rel.len() + 1);
        abs.push(b'/');
        abs.extend_from_slice(rel);
        self.pats.iter().any(|p| p.matches_path_or_parent(&abs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The recursive matcher `--exclude` used before, kept as the model: right, but
    /// exponential in the number of stars.
    fn naive(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') if p.get(1) == Some(&b'*') => {
                let rest = &p[2..];
                if rest.first() == Some(&b'/') && naive(&rest[1..], s) {
                    return true;
                }
                (0..=s.len()).any(|i| naive(rest, &s[i..]))
            }
            Some(b'*') => {
                let rest = &p[1..];
                let mut i = 0;
                loop {
                    if naive(rest, &s[i..]) {
                        return true;
                    }
                    if i == s.len() || s[i] == b'/' {
                        return false;
                    }
                    i += 1;
                }
            }
            Some(b'?') => !s.is_empty() && s[0] != b'/' && naive(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && naive(&p[1..], &s[1..]),
        }
    }

    /// The check's former matcher of ld.so.conf `include` patterns over one name.
    fn naive_name(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => naive_name(&p[1..], n) || (!n.is_empty() && naive_name(p, &n[1..])),
            (Some(b'?'), Some(_)) => naive_name(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => naive_name(&p[1..], &n[1..]),
            _ => false,
        }
    }

    #[test]
    fn table_of_both_former_engines() {
        for (pat, text, want) in [
            // ld.so.conf `include` over a name (the check's former cases).
            ("*.conf", "x.conf", true),
            ("*.conf", "x.conf.bak", false),
            ("a?c", "abc", true),
            ("*.conf", ".confx", false),
            // `--exclude` over a path.
            ("/opt/vendor/*.jar", "/opt/vendor/a.jar", true),
            ("/opt/vendor/*.jar", "/opt/vendor/lib/a.jar", false),
            ("/**/__pycache__", "/usr/lib/python3/__pycache__", true),
            ("/**/__pycache__", "/__pycache__", true),
            ("/srv/?.txt", "/srv/a.txt", true),
            ("/srv/?.txt", "/srv/ab.txt", false),
            ("/srv/?", "/srv/", false),
            ("/opt/**", "/opt/a/b/c", true),
            ("/opt/**", "/optx", false),
            ("/a/**/b", "/a/b", true),
            ("/a/**/b", "/a/x/y/b", true),
            ("/a/**b", "/a/x/b", true),
            // `**/` matches no directory, or a run that ends in `/`: never a bare name.
            ("**/", "a", false),
            ("**/", "a/", true),
            ("/a*", "/ab/c", false),
            ("", "", true),
            ("", "a", false),
            ("***", "a/b", true),
        ] {
            assert_eq!(
                matches(pat.as_bytes(), text.as_bytes()),
                want,
                "{pat} ~ {text}"
            );
            assert_eq!(
                naive(pat.as_bytes(), text.as_bytes()),
                want,
                "{pat} ~ {text}"
            );
        }
    }

    #[test]
    fn excludes() {
        let e = Excludes::new(&[
            "/opt/vendor/*.jar".into(),
            "**/__pycache__".into(),
            "/srv/?.txt".into(),
        ])
        .unwrap();
        assert!(e.excludes(b"opt/vendor/a.jar"));
        assert!(!e.excludes(b"opt/vendor/lib/a.jar"), "* stops at /");
        assert!(
            e.excludes(b"usr/lib/python3/__pycache__/x.pyc"),
            "a matching directory drops its subtree"
        );
        assert!(e.excludes(b"__pycache__"), "**/ matches no directory too");
        assert!(e.excludes(b"srv/a.txt"));
        assert!(!e.excludes(b"srv/ab.txt"));
        let all = Excludes::new(&["/opt/**".into()]).unwrap();
        assert!(all.excludes(b"opt/a/b/c"));
        assert!(!all.excludes(b"optx"));
        assert!(!Excludes::default().excludes(b"anything"));
    }

    /// A hostile ld.so.conf `include` pattern took the former backtracking matcher seconds
    /// (`*a*a*a*a*a*a*a*a*a*a*c` against 40 characters: 15 s); it must answer at once.
    #[test]
    fn many_stars_do_not_backtrack() {
        let pat = "*a".repeat(12) + "*c";
        assert!(!matches(pat.as_bytes(), "a".repeat(60).as_bytes()));
        let pat = "/**a".repeat(12) + "/**c";
        assert!(!matches(pat.as_bytes(), "/a".repeat(60).as_bytes()));
    }

    /// `--exclude '**/__pycache__'` matched every prefix of every path, each from the start:
    /// 50 files under a directory 5,000 levels deep took more than 120 s. The path is read
    /// once now, whatever its depth.
    #[test]
    fn a_deep_path_is_read_once_for_all_its_parents() {
        let e = Excludes::new(&["**/__pycache__".into(), "/a/**/*.pyc".into()]).unwrap();
        let deep = "d/".repeat(50_000);
        assert!(!e.excludes(format!("{deep}x").as_bytes()));
        assert!(e.excludes(format!("{deep}__pycache__/x").as_bytes()));
        assert!(e.excludes(format!("a/{deep}x.pyc").as_bytes()));
    }

    fn word(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(b"ab/*?".to_vec()), 0..max)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]
        #[test]
        fn matches_the_recursive_model(pat in word(8), text in word(10)) {
            prop_assert_eq!(matches(&pat, &text), naive(&pat, &text));
        }

        #[test]
        fn excludes_matches_every_prefix_alone(pat in word(8), text in word(10)) {
            let e = Excludes { pats: vec![Glob::new(&pat)] };
            let abs: Vec<u8> = [&b"/"[..], &text].concat();
            let prefixes = (1..=abs.len()).filter(|&e| e == abs.len() || abs[e] == b'/');
            let want = !text.is_empty() && prefixes.into_iter().any(|e| naive(&pat, &abs[..e]));
            prop_assert_eq!(e.excludes(&text), want);
        }

        #[test]
        fn on_names_matches_the_former_name_glob(pat in word(8), text in word(10)) {
            let pat: Vec<u8> = pat.into_iter().filter(|&b| b != b'/').collect();
            let name: Vec<u8> = text.into_iter().filter(|&b| b != b'/').collect();
            prop_assert_eq!(matches(&pat, &name), naive_name(&pat, &name));
        }
    }
}
