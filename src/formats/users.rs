//! The config's `User`: `user`, `user:group`, `uid` or `uid:gid`. Names must exist in the
//! result's `/etc/passwd` and `/etc/group`; numeric ids need not (the runtime accepts any).

/// The names listed in a passwd- or group-format file (first field of each line).
pub fn names(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(':').next())
        .map(str::to_string)
        .collect()
}

/// The user and group names a `User` value needs looked up (numeric parts need not).
pub fn wanted(user: &str) -> (Option<String>, Option<String>) {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let named =
        |s: &str| (!s.is_empty() && !s.chars().all(|c| c.is_ascii_digit())).then(|| s.to_string());
    (named(u), g.and_then(named))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_forms() {
        let t = [
            ("root", (Some("root"), None)),
            ("1000", (None, None)),
            ("1000:1000", (None, None)),
            ("app:staff", (Some("app"), Some("staff"))),
            ("1000:staff", (None, Some("staff"))),
            ("app:50", (Some("app"), None)),
            ("", (None, None)),
        ];
        for (u, (wu, wg)) in t {
            let (gu, gg) = wanted(u);
            assert_eq!((gu.as_deref(), gg.as_deref()), (wu, wg), "{u}");
        }
    }

    #[test]
    fn passwd_names() {
        assert_eq!(
            names("root:x:0:0::/root:/bin/sh\n# c\n\nappuser:x:1000:1000::/:/bin/sh\n"),
            vec!["root", "appuser"]
        );
    }
}
