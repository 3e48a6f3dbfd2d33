//! The config edits that remove or clear, beside the overrides that set (`config.rs`): Env
//! and label removals, exposed ports and volumes added and removed, the healthcheck, the stop
//! signal, and the top-level `author` and `os.version`. Each removal names something the image
//! has: removing what is not there is an error, so a typo never passes as an edit.

use crate::error::{Error, Result};
use crate::model::config::{env_of, labels_of};
use serde_json::{Map, Value};

/// The edits, as flags give them (checked when applied).
#[derive(Clone, Debug, Default)]
pub struct ConfigEdits {
    pub env_rm: Vec<String>,
    pub label_rm: Vec<String>,
    pub expose: Vec<String>,
    pub expose_rm: Vec<String>,
    pub volume: Vec<String>,
    pub volume_rm: Vec<String>,
    /// A healthcheck as Docker's JSON (`{"Test":["CMD","curl","-f","http://localhost/"]}`),
    /// `NONE` (disabled, as Dockerfile's `HEALTHCHECK NONE`) or `""` (removed: inherit none).
    pub healthcheck: Option<String>,
    /// `""` removes it.
    pub stop_signal: Option<String>,
    /// `""` removes it.
    pub os_version: Option<String>,
    /// `""` removes it.
    pub author: Option<String>,
}

impl ConfigEdits {
    pub fn is_empty(&self) -> bool {
        self.env_rm.is_empty()
            && self.label_rm.is_empty()
            && self.expose.is_empty()
            && self.expose_rm.is_empty()
            && self.volume.is_empty()
            && self.volume_rm.is_empty()
            && self.healthcheck.is_none()
            && self.stop_signal.is_none()
            && self.os_version.is_none()
            && self.author.is_none()
    }

    /// The edits' own checks, before any image is read: each value well formed, and no key
    /// both added and removed.
    pub fn validate(&self) -> Result<()> {
        for p in self.expose.iter().chain(&self.expose_rm) {
            port_key(p)?;
        }
        for v in self.volume.iter().chain(&self.volume_rm) {
            volume_key(v)?;
        }
        if let Some(h) = &self.healthcheck {
            healthcheck(h)?;
        }
        both(&self.expose, &self.expose_rm, "--expose", port_key)?;
        both(&self.volume, &self.volume_rm, "--volume", volume_key)?;
        Ok(())
    }
}

/// Refuses a key given to both the adding and the removing flag.
fn both(add: &[String], rm: &[String], flag: &str, key: fn(&str) -> Result<String>) -> Result<()> {
    for a in add {
        let k = key(a)?;
        if rm.iter().any(|r| key(r).is_ok_and(|r| r == k)) {
            return Err(Error::Usage(format!(
                "{flag} {k} and {flag}-rm {k}: add or remove it, not both"
            )));
        }
    }
    Ok(())
}

/// `PORT[/PROTO]` as `ExposedPorts` keys it: `8080/tcp` (tcp when no protocol is given).
pub fn port_key(s: &str) -> Result<String> {
    let (port, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    let proto = proto.to_ascii_lowercase();
    let ok_port = port.parse::<u16>().is_ok_and(|p| p > 0);
    if !ok_port || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(Error::Usage(format!(
            "--expose {s:?}: expected PORT[/tcp|udp|sctp] with PORT 1-65535"
        )));
    }
    Ok(format!("{port}/{proto}"))
}

/// A volume is an absolute path, kept as written but for a trailing `/`.
fn volume_key(s: &str) -> Result<String> {
    let t = if s.len() > 1 {
        s.trim_end_matches('/')
    } else {
        s
    };
    if !t.starts_with('/') || t.contains('\0') {
        return Err(Error::Usage(format!(
            "--volume {s:?}: expected an absolute path inside the container"
        )));
    }
    Ok(t.to_string())
}

/// `--healthcheck`: Docker's JSON object, `NONE`, or `""` (None: remove the field).
pub fn healthcheck(s: &str) -> Result<Option<Value>> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t == "NONE" {
        return Ok(Some(serde_json::json!({"Test": ["NONE"]})));
    }
    let bad = |why: &str| {
        Error::Usage(format!(
            "--healthcheck {s:?}: {why}; expected NONE or a JSON object such as \
             {{\"Test\":[\"CMD\",\"curl\",\"-f\",\"http://localhost/\"],\"Interval\":30000000000}}"
        ))
    };
    let v: Value = serde_json::from_str(t).map_err(|e| bad(&format!("not JSON ({e})")))?;
    let obj = v.as_object().ok_or_else(|| bad("not an object"))?;
    let test = obj
        .get("Test")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty() && a.iter().all(Value::is_string))
        .ok_or_else(|| bad("Test must be a non-empty array of strings"))?;
    if !matches!(test[0].as_str(), Some("NONE" | "CMD" | "CMD-SHELL" | "")) {
        return Err(bad("Test must start with NONE, CMD or CMD-SHELL"));
    }
    for (k, v) in obj {
        let known = matches!(
            k.as_str(),
            "Interval" | "Timeout" | "StartPeriod" | "StartInterval" | "Retries"
        );
        if known && !v.is_u64() {
            return Err(bad(&format!(
                "{k} must be a whole number (nanoseconds, or a count)"
            )));
        }
    }
    Ok(Some(v))
}

/// Applies the edits to a config (removals are checked against what the config holds).
/// `what` names the image in messages.
pub fn apply(config: &mut Value, e: &ConfigEdits, what: &str) -> Result<()> {
    if e.is_empty() {
        return Ok(());
    }
    e.validate()?;
    let obj = config
        .as_object_mut()
        .ok_or_else(|| Error::Invalid(format!("{what}: config is not an object")))?;
    top_level(obj, "author", e.author.as_deref());
    top_level(obj, "os.version", e.os_version.as_deref());
    let mut cfg = obj
        .get("config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if !e.env_rm.is_empty() {
        let mut env = env_of(Some(&cfg));
        for k in &e.env_rm {
            let at = env.iter().position(|(x, _)| x == k).ok_or_else(|| {
                missing(
                    what,
                    "--env-rm",
                    k,
                    "Env",
                    env.iter().map(|(k, _)| k.as_str()),
                )
            })?;
            env.remove(at);
        }
        cfg.insert(
            "Env".into(),
            Value::Array(
                env.iter()
                    .map(|(k, v)| Value::String(format!("{k}={v}")))
                    .collect(),
            ),
        );
    }
    if !e.label_rm.is_empty() {
        let mut lab = labels_of(Some(&cfg));
        for k in &e.label_rm {
            let at = lab.iter().position(|(x, _)| x == k).ok_or_else(|| {
                missing(
                    what,
                    "--label-rm",
                    k,
                    "Labels",
                    lab.iter().map(|(k, _)| k.as_str()),
                )
            })?;
            lab.remove(at);
        }
        let m: Map<String, Value> = lab
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        cfg.insert(
            "Labels".into(),
            if m.is_empty() {
                Value::Null
            } else {
                Value::Object(m)
            },
        );
    }
    set_keys(
        &mut cfg,
        "ExposedPorts",
        "--expose",
        &e.expose,
        &e.expose_rm,
        port_key,
        what,
    )?;
    set_keys(
        &mut cfg,
        "Volumes",
        "--volume",
        &e.volume,
        &e.volume_rm,
        volume_key,
        what,
    )?;
    if let Some(h) = &e.healthcheck {
        match healthcheck(h)? {
            Some(v) => cfg.insert("Healthcheck".into(), v),
            None => cfg.remove("Healthcheck"),
        };
    }
    if let Some(s) = &e.stop_signal {
        if s.is_empty() {
            cfg.remove("StopSignal");
        } else {
            cfg.insert("StopSignal".into(), Value::String(s.clone()));
        }
    }
    obj.insert("config".into(), Value::Object(cfg));
    Ok(())
}

/// A top-level string field set, or removed when `""`.
fn top_level(obj: &mut Map<String, Value>, key: &str, v: Option<&str>) {
    match v {
        Some("") => {
            obj.remove(key);
        }
        Some(v) => {
            obj.insert(key.into(), Value::String(v.into()));
        }
        None => {}
    }
}

/// The error for removing what the image does not have, listing what it has.
fn missing<'a>(
    what: &str,
    flag: &str,
    key: &str,
    field: &str,
    have: impl Iterator<Item = &'a str>,
) -> Error {
    let have: Vec<&str> = have.collect();
    let listed = if have.is_empty() {
        "none".to_string()
    } else {
        have.join(", ")
    };
    Error::Invalid(format!(
        "{what}: {flag} {}: the image's {field} has no {}; it has: {}",
        crate::text::sanitize(key),
        crate::text::sanitize(key),
        crate::text::sanitize(&listed)
    ))
}

/// An object-of-empty-objects field (`ExposedPorts`, `Volumes`): keys removed (each must be
/// there), then added; an emptied field is removed.
fn set_keys(
    cfg: &mut Map<String, Value>,
    field: &str,
    flag: &str,
    add: &[String],
    rm: &[String],
    key: fn(&str) -> Result<String>,
    what: &str,
) -> Result<()> {
    if add.is_empty() && rm.is_empty() {
        return Ok(());
    }
    let mut m = cfg
        .get(field)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for r in rm {
        let k = key(r)?;
        if m.remove(&k).is_none() {
            return Err(missing(
                what,
                &format!("{flag}-rm"),
                &k,
                field,
                m.keys().map(String::as_str),
            ));
        }
    }
    for a in add {
        m.entry(key(a)?)
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if m.is_empty() {
        cfg.remove(field);
    } else {
        cfg.insert(field.into(), Value::Object(m));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> Value {
        json!({"author":"a","os":"linux","config":{"Env":["PATH=/bin","A=1","B=2"],
            "Labels":{"x":"1","y":"2"},"ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}},
            "StopSignal":"SIGTERM"}})
    }

    #[test]
    fn removals_and_additions() {
        let mut c = cfg();
        let e = ConfigEdits {
            env_rm: vec!["A".into()],
            label_rm: vec!["x".into(), "y".into()],
            expose: vec!["53/UDP".into(), "8080".into()],
            expose_rm: vec!["80".into()],
            volume: vec!["/srv/".into()],
            volume_rm: vec!["/data".into()],
            healthcheck: Some("NONE".into()),
            stop_signal: Some(String::new()),
            os_version: Some("10.0".into()),
            author: Some(String::new()),
        };
        apply(&mut c, &e, "t").unwrap();
        assert_eq!(
            c,
            json!({"os":"linux","os.version":"10.0","config":{"Env":["PATH=/bin","B=2"],
                "Labels":null,"ExposedPorts":{"53/udp":{},"8080/tcp":{}},"Volumes":{"/srv":{}},
                "Healthcheck":{"Test":["NONE"]}}})
        );
    }

    #[test]
    fn removing_what_is_not_there_names_it() {
        // (edit, what the message says)
        let table = [
            (
                ConfigEdits {
                    env_rm: vec!["NOPE".into()],
                    ..Default::default()
                },
                "--env-rm NOPE: the image's Env has no NOPE; it has: PATH, A, B",
            ),
            (
                ConfigEdits {
                    label_rm: vec!["z".into()],
                    ..Default::default()
                },
                "--label-rm z: the image's Labels has no z; it has: x, y",
            ),
            (
                ConfigEdits {
                    expose_rm: vec!["81".into()],
                    ..Default::default()
                },
                "--expose-rm 81/tcp: the image's ExposedPorts has no 81/tcp; it has: 80/tcp",
            ),
        ];
        for (e, want) in table {
            let mut c = cfg();
            let err = apply(&mut c, &e, "img").unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
            assert_eq!(c, cfg(), "nothing changed");
        }
    }

    #[test]
    fn values_are_checked() {
        for p in ["0", "70000", "80/icmp", "x"] {
            assert!(port_key(p).is_err(), "{p}");
        }
        assert_eq!(port_key("443/TCP").unwrap(), "443/tcp");
        assert!(volume_key("data").is_err());
        assert_eq!(volume_key("/").unwrap(), "/");
        for h in [
            "{}",
            "[1]",
            r#"{"Test":["RUN"]}"#,
            r#"{"Test":["CMD"],"Interval":"5s"}"#,
            "nah",
        ] {
            assert!(healthcheck(h).is_err(), "{h}");
        }
        assert_eq!(healthcheck("").unwrap(), None);
        let h = healthcheck(r#"{"Test":["CMD-SHELL","true"],"Retries":3}"#).unwrap();
        assert_eq!(h.unwrap()["Retries"], 3);
        let both = ConfigEdits {
            expose: vec!["80".into()],
            expose_rm: vec!["80/tcp".into()],
            ..Default::default()
        };
        assert!(both.validate().is_err());
    }
}
