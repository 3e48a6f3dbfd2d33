//! The JSON documents regraft parses from untrusted images: index, manifest, config (with the
//! typed view), docker-save manifest.json. Any input must give Ok or Err, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::model::spec::{self, ConfigView, Index, Manifest};

fuzz_target!(|data: &[u8]| {
    let _ = spec::parse_json::<Index>(data, "index");
    let _ = spec::parse_json::<Manifest>(data, "manifest");
    if let Ok(v) = spec::parse_json::<serde_json::Value>(data, "config") {
        if let Ok(view) = ConfigView::from_value(&v, "config") {
            let _ = view.platform.to_string();
        }
        let _ = regraft::mutate::config::merge(&v, &v, Some(&v), &Default::default());
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = regraft::model::spec::Platform::parse(s);
        let _ = regraft::model::reference::ImageRef::parse_input(s);
        let _ = regraft::model::reference::ImageRef::parse_output(s);
        let _ = regraft::mutate::config::parse_rfc3339(s);
        let _ = regraft::model::reference::normalize_name(s);
    }
});
