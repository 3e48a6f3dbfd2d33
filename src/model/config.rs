//! An image config as regraft reads it. The document stays JSON (every key kept, unknown ones
//! too, and the bytes passed through untouched unless regraft means to change them);
//! `ConfigDoc` is the one typed reader of its fields, used by the sources, the check, the config
//! merge and triage alike. `ConfigView` (in `spec`) holds the parts validated once at load:
//! platform, diff_ids, history.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A borrowed image config with typed readers. Missing or mistyped fields read as absent:
/// Docker writes `null` for empty ones (`"Cmd": null`), and a config that is not an object
/// has no fields.
#[derive(Clone, Copy, Debug)]
pub struct ConfigDoc<'a>(&'a Value);

impl<'a> ConfigDoc<'a> {
    pub fn new(config: &'a Value) -> ConfigDoc<'a> {
        ConfigDoc(config)
    }

    /// The whole document.
    pub fn value(&self) -> &'a Value {
        self.0
    }

    /// A top-level string (`architecture`, `os`, `variant`, `author`, `created`).
    pub fn top_str(&self, key: &str) -> Option<&'a str> {
        self.0.get(key).and_then(Value::as_str)
    }

    pub fn architecture(&self) -> Option<&'a str> {
        self.top_str("architecture")
    }

    /// The runtime `config` object (Env, Entrypoint, Cmd, User, WorkingDir, Labels, ...).
    pub fn runtime(&self) -> Option<&'a Map<String, Value>> {
        self.0.get("config").and_then(Value::as_object)
    }

    /// A string of the runtime config (`User`, `WorkingDir`, `StopSignal`).
    pub fn runtime_str(&self, key: &str) -> Option<&'a str> {
        self.runtime()
            .and_then(|r| r.get(key))
            .and_then(Value::as_str)
    }

    /// An array of strings of the runtime config (`Entrypoint`, `Cmd`); non-strings are
    /// skipped, a missing or null field is empty.
    pub fn runtime_strings(&self, key: &str) -> Vec<String> {
        strings(self.runtime().and_then(|r| r.get(key)))
    }

    /// `Env` as (name, value) in order; an entry without `=` has the empty value.
    pub fn env(&self) -> Vec<(String, String)> {
        env_of(self.runtime())
    }

    /// `Env` as a map of the entries that have `=` (as a process would see them).
    pub fn env_vars(&self) -> BTreeMap<String, String> {
        self.runtime_strings("Env")
            .iter()
            .filter_map(|e| e.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// `Labels` as (name, value) in the document's order; non-string values read as empty.
    pub fn labels(&self) -> Vec<(String, String)> {
        labels_of(self.runtime())
    }
}

/// `Env` of a runtime config object; see [`ConfigDoc::env`].
pub fn env_of(runtime: Option<&Map<String, Value>>) -> Vec<(String, String)> {
    strings(runtime.and_then(|c| c.get("Env")))
        .into_iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (s, String::new()),
        })
        .collect()
}

/// `Labels` of a runtime config object; see [`ConfigDoc::labels`].
pub fn labels_of(runtime: Option<&Map<String, Value>>) -> Vec<(String, String)> {
    runtime
        .and_then(|c| c.get("Labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The strings of a JSON array (others skipped); anything else is empty.
pub fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_docker_and_oci_configs_alike() {
        let docker = json!({
            "architecture": "amd64",
            "config": {"Env": ["PATH=/bin", "EMPTY=", "BARE"], "Cmd": null,
                       "Entrypoint": ["/app", 3], "User": "app",
                       "Labels": {"a": "1", "n": 2}}
        });
        let c = ConfigDoc::new(&docker);
        assert_eq!(c.architecture(), Some("amd64"));
        assert_eq!(
            c.env(),
            vec![
                ("PATH".into(), "/bin".into()),
                ("EMPTY".into(), "".into()),
                ("BARE".into(), "".into())
            ]
        );
        assert_eq!(c.env_vars().len(), 2);
        assert!(c.runtime_strings("Cmd").is_empty());
        assert_eq!(c.runtime_strings("Entrypoint"), vec!["/app".to_string()]);
        assert_eq!(c.runtime_str("User"), Some("app"));
        assert_eq!(c.runtime_str("WorkingDir"), None);
        assert_eq!(
            c.labels(),
            vec![("a".into(), "1".into()), ("n".into(), "".into())]
        );
        let empty = json!("not an object");
        let c = ConfigDoc::new(&empty);
        assert!(c.env().is_empty() && c.runtime().is_none() && c.architecture().is_none());
    }
}
