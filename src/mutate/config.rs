//! The config merge of a graft, field by field. The result starts from BASE's config JSON (so
//! unknown top-level keys survive), takes the runtime `config` object from VENDOR (unknown keys
//! too), and merges PATH, Env and Labels deliberately instead of copying VENDOR's verbatim
//! (crane's rebase keeps the old base's PATH and JAVA_HOME). Every value taken from VENDOR is
//! written down for the summary.

use crate::error::{Error, Result};
use crate::model::config::{env_of, labels_of};
use serde_json::{Map, Value};

/// User overrides, applied after the merge.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub env: Vec<String>,
    pub entrypoint: Option<String>,
    pub cmd: Option<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub labels: Vec<String>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.env.is_empty()
            && self.entrypoint.is_none()
            && self.cmd.is_none()
            && self.user.is_none()
            && self.workdir.is_none()
            && self.labels.is_empty()
    }
}

fn get<'a>(v: &'a [(String, String)], k: &str) -> Option<&'a str> {
    v.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str())
}

fn set(v: &mut Vec<(String, String)>, k: &str, val: &str) {
    match v.iter_mut().find(|(x, _)| x == k) {
        Some(e) => e.1 = val.to_string(),
        None => v.push((k.to_string(), val.to_string())),
    }
}

/// The rule Env and Labels share: BASE's entries, then each of VENDOR's whose value differs
/// from OLD's (every one when OLD is unknown) and from BASE's. Returns the entries and the
/// names taken from VENDOR, in VENDOR's order.
fn take_vendor<'a>(
    base: &[(String, String)],
    vendor: impl Iterator<Item = &'a (String, String)>,
    old: Option<&[(String, String)]>,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut out = base.to_vec();
    let mut taken = Vec::new();
    for (k, v) in vendor {
        let differs = old.is_none_or(|o| get(o, k) != Some(v.as_str()));
        if differs && get(base, k) != Some(v.as_str()) {
            set(&mut out, k, v);
            taken.push(k.clone());
        }
    }
    (out, taken)
}

/// `Env` as the config writes it: `KEY=VALUE` strings.
fn env_value(env: &[(String, String)]) -> Value {
    Value::Array(
        env.iter()
            .map(|(k, v)| Value::String(format!("{k}={v}")))
            .collect(),
    )
}

/// `Labels` as the config writes it: an object of strings.
fn labels_value(labels: Vec<(String, String)>) -> Map<String, Value> {
    labels
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// PATH = VENDOR's entries that BASE's PATH lacks, then BASE's PATH.
pub fn merge_path(vendor: Option<&str>, base: Option<&str>) -> Option<String> {
    match (vendor, base) {
        (None, b) => b.map(str::to_string),
        (Some(v), None) => Some(v.to_string()),
        (Some(v), Some(b)) => {
            let have: Vec<&str> = b.split(':').collect();
            let mut out: Vec<&str> = Vec::new();
            for p in v.split(':') {
                if !p.is_empty() && !have.contains(&p) && !out.contains(&p) {
                    out.push(p);
                }
            }
            out.extend(have);
            Some(out.join(":"))
        }
    }
}

/// A JSON array or one word; empty clears (null).
pub fn parse_command(s: &str, flag: &str) -> Result<Value> {
    let t = s.trim();
    if t.starts_with('[') {
        let v: Value = serde_json::from_str(t)
            .map_err(|e| Error::Usage(format!("{flag} {s:?}: not a JSON array: {e}")))?;
        match &v {
            Value::Array(a) if a.iter().all(Value::is_string) => Ok(v),
            _ => Err(Error::Usage(format!(
                "{flag} {s:?}: expected a JSON array of strings"
            ))),
        }
    } else if t.is_empty() {
        // `--cmd ''` / `--entrypoint ''`: cleared, written as Docker writes an unset one.
        Ok(Value::Null)
    } else {
        Ok(Value::Array(vec![Value::String(t.to_string())]))
    }
}

fn kv(s: &str, flag: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(Error::Usage(format!("{flag} {s:?}: expected KEY=VALUE"))),
    }
}

pub struct Merged {
    pub config: Value,
    /// What came from VENDOR, for the summary: `Entrypoint`, `Env VENDOR_HOME`, ...
    pub from_vendor: Vec<String>,
}

/// Merges the runtime config. `old` is the old base's config when known.
pub fn merge(base: &Value, vendor: &Value, old: Option<&Value>, ov: &Overrides) -> Result<Merged> {
    let mut out = base.clone();
    let mut from_vendor = Vec::new();
    let obj = out
        .as_object_mut()
        .ok_or_else(|| Error::Invalid("base config is not an object".into()))?;
    match vendor.get("author") {
        Some(a) if !a.is_null() => {
            obj.insert("author".into(), a.clone());
            from_vendor.push("author".into());
        }
        _ => {
            obj.remove("author");
        }
    }
    let bcfg = base.get("config").and_then(Value::as_object);
    let vcfg = vendor.get("config").and_then(Value::as_object);
    let ocfg = old.and_then(|o| o.get("config")).and_then(Value::as_object);
    let mut cfg = vcfg.cloned().unwrap_or_default();
    // Docker's builder records the parent image's ID here: it names the vendor's build, not
    // this image.
    cfg.remove("Image");
    for (k, v) in &cfg {
        // Listed: what differs from the base, unless both are unset (Docker's empty defaults).
        let b = bcfg.and_then(|b| b.get(k));
        let differs = if is_empty_value(v) {
            b.is_some_and(|b| !is_empty_value(b))
        } else {
            b != Some(v)
        };
        if k != "Env" && k != "Labels" && differs {
            from_vendor.push(k.clone());
        }
    }

    // Env: BASE's, then VENDOR's values that differ from OLD's (all when OLD is unknown).
    let benv = env_of(bcfg);
    let venv = env_of(vcfg);
    let oenv = old.map(|_| env_of(ocfg));
    let (mut env, taken) = take_vendor(
        &benv,
        venv.iter().filter(|(k, _)| k != "PATH"),
        oenv.as_deref(),
    );
    from_vendor.extend(taken.iter().map(|k| format!("Env {k}")));
    let path = merge_path(get(&venv, "PATH"), get(&benv, "PATH"));
    if let Some(p) = &path {
        if get(&benv, "PATH") != Some(p.as_str()) {
            from_vendor.push("Env PATH (vendor entries first)".into());
        }
        set(&mut env, "PATH", p);
    }
    // Labels: the same rule.
    let olab = old.map(|_| labels_of(ocfg));
    let (lab, taken) = take_vendor(&labels_of(bcfg), labels_of(vcfg).iter(), olab.as_deref());
    from_vendor.extend(taken.iter().map(|k| format!("Label {k}")));

    if !env.is_empty() || cfg.contains_key("Env") {
        cfg.insert("Env".into(), env_value(&env));
    }
    if !lab.is_empty() || cfg.contains_key("Labels") {
        let m = labels_value(lab);
        cfg.insert(
            "Labels".into(),
            if m.is_empty() {
                Value::Null
            } else {
                Value::Object(m)
            },
        );
    }
    obj.insert("config".into(), Value::Object(cfg));
    apply_overrides(&mut out, ov)?;
    Ok(Merged {
        config: out,
        from_vendor,
    })
}

/// Docker writes every config field, unset ones as `null`, `""`, `false` or `{}`: those are
/// defaults, not something the vendor chose.
fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

/// Applies `--env`, `--label`, `--entrypoint`, `--cmd`, `--user` and `--workdir` to a config.
pub fn apply_overrides(config: &mut Value, ov: &Overrides) -> Result<()> {
    if ov.is_empty() {
        return Ok(());
    }
    let obj = config
        .as_object_mut()
        .ok_or_else(|| Error::Invalid("config is not an object".into()))?;
    let mut cfg = obj
        .get("config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut env = env_of(Some(&cfg));
    let mut lab = labels_of(Some(&cfg));
    for e in &ov.env {
        let (k, v) = kv(e, "--env")?;
        set(&mut env, &k, &v);
    }
    for l in &ov.labels {
        let (k, v) = kv(l, "--label")?;
        set(&mut lab, &k, &v);
    }
    if let Some(ep) = &ov.entrypoint {
        cfg.insert("Entrypoint".into(), parse_command(ep, "--entrypoint")?);
        if ov.cmd.is_none() {
            // As Docker does: a new entrypoint clears the old Cmd.
            cfg.insert("Cmd".into(), Value::Null);
        }
    }
    if let Some(c) = &ov.cmd {
        cfg.insert("Cmd".into(), parse_command(c, "--cmd")?);
    }
    if let Some(u) = &ov.user {
        cfg.insert("User".into(), Value::String(u.clone()));
    }
    if let Some(w) = &ov.workdir {
        cfg.insert("WorkingDir".into(), Value::String(w.clone()));
    }
    if !ov.env.is_empty() {
        cfg.insert("Env".into(), env_value(&env));
    }
    if !ov.labels.is_empty() {
        cfg.insert("Labels".into(), Value::Object(labels_value(lab)));
    }
    obj.insert("config".into(), Value::Object(cfg));
    Ok(())
}

/// Formats seconds since the epoch as RFC 3339 UTC (`2024-01-02T03:04:05Z`).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The later of two RFC 3339 timestamps, compared as instants where both parse.
pub fn later(a: Option<&str>, b: Option<&str>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(
            if parse_rfc3339(b) > parse_rfc3339(a) {
                b
            } else {
                a
            }
            .to_string(),
        ),
        (a, b) => a.or(b).map(str::to_string),
    }
}

/// Seconds (and nanoseconds) since the epoch of an RFC 3339 timestamp; None if malformed.
pub fn parse_rfc3339(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[st..i];
        let mut f = frac.chars().take(9).collect::<String>();
        while f.len() < 9 {
            f.push('0');
        }
        nanos = f.parse().ok()?;
    }
    let off = match &s[i..] {
        "Z" | "z" => 0,
        // ASCII only: the offset is sliced by byte position.
        t if t.len() == 6 && t.is_ascii() => {
            let sign = if t.starts_with('-') { -1 } else { 1 };
            sign * (t[1..3].parse::<i64>().ok()? * 3600 + t[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let (y, m) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + se - off, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn path_merge() {
        assert_eq!(
            merge_path(
                Some("/opt/v/bin:/usr/bin:/bin"),
                Some("/usr/local/bin:/usr/bin:/bin")
            )
            .as_deref(),
            Some("/opt/v/bin:/usr/local/bin:/usr/bin:/bin")
        );
        assert_eq!(merge_path(None, Some("/b")).as_deref(), Some("/b"));
    }

    #[test]
    fn env_and_labels_follow_the_rule() {
        let base = json!({"architecture":"amd64","os":"linux","x-unknown":1,"author":"base",
            "config":{"Env":["PATH=/usr/bin:/bin","LANG=C.UTF-8","JAVA_HOME=/new"],"Labels":{"b":"new"}}});
        let old = json!({"config":{"Env":["PATH=/usr/bin:/bin","LANG=C","JAVA_HOME=/old"],"Labels":{"b":"old"}}});
        let vendor = json!({"author":"vendor","config":{"Entrypoint":["/app"],"Cmd":["x"],"X-keep":true,
            "Env":["PATH=/app/bin:/usr/bin:/bin","LANG=C","JAVA_HOME=/old","APP=1"],"Labels":{"b":"old","v":"1"}}});
        let m = merge(&base, &vendor, Some(&old), &Overrides::default()).unwrap();
        let c = &m.config;
        assert_eq!(c["x-unknown"], 1);
        assert_eq!(c["author"], "vendor");
        assert_eq!(c["config"]["X-keep"], true);
        assert_eq!(
            c["config"]["Env"],
            json!([
                "PATH=/app/bin:/usr/bin:/bin",
                "LANG=C.UTF-8",
                "JAVA_HOME=/new",
                "APP=1"
            ])
        );
        assert_eq!(c["config"]["Labels"], json!({"b":"new","v":"1"}));
        // Without OLD, every vendor value counts as the vendor's.
        let m = merge(&base, &vendor, None, &Overrides::default()).unwrap();
        assert_eq!(m.config["config"]["Env"][2], "JAVA_HOME=/old");
        // Overrides.
        let ov = Overrides {
            entrypoint: Some("/bin/sh".into()),
            env: vec!["APP=2".into()],
            ..Default::default()
        };
        let m = merge(&base, &vendor, Some(&old), &ov).unwrap();
        assert_eq!(m.config["config"]["Entrypoint"], json!(["/bin/sh"]));
        assert_eq!(m.config["config"]["Cmd"], Value::Null);
        assert_eq!(m.config["config"]["Env"][3], "APP=2");
    }

    /// What `docker build` writes for a vendor: every field, unset ones empty, and `Image` naming
    /// the parent it was built on. Only what the vendor set is listed; `Image` is dropped.
    #[test]
    fn docker_defaults_are_not_changes() {
        let base = json!({"config":{"Env":["PATH=/usr/bin:/bin"],"Cmd":["bash"],"User":""}});
        let vendor = json!({"config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,
            "Tty":false,"Env":["PATH=/usr/bin:/bin"],"Cmd":["bash"],"Image":"sha256:0123abcd",
            "Volumes":null,"WorkingDir":"","Entrypoint":["/app"],"OnBuild":null,"Labels":null}});
        let m = merge(&base, &vendor, None, &Overrides::default()).unwrap();
        assert_eq!(m.from_vendor, vec!["Entrypoint".to_string()]);
        assert!(m.config["config"].get("Image").is_none());
        assert_eq!(m.config["config"]["Entrypoint"], json!(["/app"]));
        // An empty vendor value that replaces a base's value is a change, and is listed.
        let base = json!({"config":{"User":"app","WorkingDir":"/srv","Cmd":null}});
        let m = merge(&base, &vendor, None, &Overrides::default()).unwrap();
        assert_eq!(m.config["config"]["User"], "");
        assert!(
            m.from_vendor.contains(&"User".to_string()),
            "{:?}",
            m.from_vendor
        );
        assert!(m.from_vendor.contains(&"WorkingDir".to_string()));
        assert!(!m.from_vendor.contains(&"Hostname".to_string()));
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20Z"),
            Some((1_700_000_000, 0))
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20.5+01:00"),
            Some((1_700_000_000, 500_000_000))
        );
        assert_eq!(
            later(Some("2020-01-01T00:00:00Z"), Some("2021-01-01T00:00:00Z")).as_deref(),
            Some("2021-01-01T00:00:00Z")
        );
        assert!(parse_rfc3339("yesterday").is_none());
        // Regression (found by fuzzing the JSON target): a six-byte offset holding a multi-byte
        // character panicked on a slice inside the character; an image's `created` is untrusted.
        assert!(parse_rfc3339("2026-11-28T09:20:40\u{1f5}}\u{1}").is_none());
        assert!(parse_rfc3339("2026-11-28T0920409204\u{1f5}}\u{1}").is_none());
    }
}
