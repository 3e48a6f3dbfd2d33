//! A Python venv's `pyvenv.cfg`: `key = value` lines, of which the check reads `home` (the
//! directory of the interpreter the venv runs) and `version` (`version_info` in newer venvs,
//! `3.11.2`), as `venv`'s own reader (`site.py`) does: split at the first `=`, both sides
//! trimmed, keys compared lowercased, other lines ignored.

/// What a `pyvenv.cfg` says of its interpreter.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PyVenv {
    pub home: Option<String>,
    /// The full version, as written.
    pub version: Option<String>,
}

impl PyVenv {
    /// `3.11` of `3.11.2`: the part that names `lib/python3.11` and the ABI.
    pub fn major_minor(&self) -> Option<String> {
        let v = self.version.as_deref()?;
        let mut it = v.split('.');
        let (a, b) = (it.next()?, it.next()?);
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
        (digits(a) && digits(b)).then(|| format!("{a}.{b}"))
    }
}

pub fn parse(text: &str) -> PyVenv {
    let mut v = PyVenv::default();
    for line in text.lines() {
        let Some((k, val)) = line.split_once('=') else {
            continue;
        };
        let val = val.trim().to_string();
        match k.trim().to_ascii_lowercase().as_str() {
            "home" => v.home = Some(val),
            "version" | "version_info" => v.version = Some(val),
            _ => {}
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_and_version_as_venv_writes_them() {
        let cases = [
            (
                "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n",
                Some("/usr/bin"),
                Some("3.11"),
            ),
            (
                "HOME=/opt/py/bin\nversion_info = 3.12.1.final.0\n",
                Some("/opt/py/bin"),
                Some("3.12"),
            ),
            ("no equals here\nversion = three\n", None, None),
            ("", None, None),
        ];
        for (text, home, mm) in cases {
            let v = parse(text);
            assert_eq!(v.home.as_deref(), home, "{text}");
            assert_eq!(v.major_minor().as_deref(), mm, "{text}");
        }
    }
}
