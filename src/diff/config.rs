//! The config fields that differ between two images, `Env` and `Labels` compared per
//! variable and label.

use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Serialize)]
pub struct ConfigChange {
    /// `architecture`, `config.Entrypoint`, `config.Env.PATH`, `config.Labels.KEY`, ...
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// `Env` as name -> value (a name without `=` maps to Null).
fn env_map(v: Option<&Value>) -> BTreeMap<String, Value> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), Value::String(v.to_string())),
            None => (e.to_string(), Value::Null),
        })
        .collect()
}

fn obj_map(v: Option<&Value>) -> BTreeMap<String, Value> {
    v.and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn compare_maps(
    prefix: &str,
    a: &BTreeMap<String, Value>,
    b: &BTreeMap<String, Value>,
    out: &mut Vec<ConfigChange>,
) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        if x != y {
            out.push(ConfigChange {
                field: format!("{prefix}{k}"),
                old: x.cloned().unwrap_or(Value::Null),
                new: y.cloned().unwrap_or(Value::Null),
            });
        }
    }
}

/// The config fields that differ; `Env` and `Labels` compared per variable and label.
pub fn config_changes(old: &Value, new: &Value) -> Vec<ConfigChange> {
    let mut out = Vec::new();
    let mut top_a = obj_map(Some(old));
    let mut top_b = obj_map(Some(new));
    let ca = top_a.remove("config");
    let cb = top_b.remove("config");
    let (ra, rb) = (top_a.remove("rootfs"), top_b.remove("rootfs"));
    compare_maps("", &top_a, &top_b, &mut out);
    compare_maps(
        "rootfs.",
        &obj_map(ra.as_ref()),
        &obj_map(rb.as_ref()),
        &mut out,
    );
    let mut a = obj_map(ca.as_ref());
    let mut b = obj_map(cb.as_ref());
    let (ea, eb) = (a.remove("Env"), b.remove("Env"));
    let (la, lb) = (a.remove("Labels"), b.remove("Labels"));
    compare_maps("config.", &a, &b, &mut out);
    compare_maps(
        "config.Env.",
        &env_map(ea.as_ref()),
        &env_map(eb.as_ref()),
        &mut out,
    );
    compare_maps(
        "config.Labels.",
        &obj_map(la.as_ref()),
        &obj_map(lb.as_ref()),
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_changes_per_field_env_and_label() {
        let a = json!({"architecture": "amd64", "config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["bash"], "Labels": {"x": "1"}}});
        let b = json!({"architecture": "amd64", "config": {"Env": ["PATH=/usr/bin", "B=2"], "Cmd": ["bash"], "Labels": {"x": "2"}}});
        let got: Vec<String> = config_changes(&a, &b)
            .into_iter()
            .map(|c| c.field)
            .collect();
        assert_eq!(
            got,
            [
                "config.Env.A",
                "config.Env.B",
                "config.Env.PATH",
                "config.Labels.x"
            ]
        );
    }
}
