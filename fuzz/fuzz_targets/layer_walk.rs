//! The tar/whiteout walker: the input is a layer tar, applied twice (so that its whiteouts and
//! opaque markers act on a lower layer), then resolved the way a graft does.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::layer::entry;
use regraft::view::MergedView;

fn entries(data: &[u8]) -> Option<Vec<entry::LayerEntry>> {
    let mut ar = tar::Archive::new(data);
    let mut out = Vec::new();
    for e in ar.entries().ok()? {
        let mut e = e.ok()?;
        match entry::parse_entry(&mut e) {
            Ok(le) => out.push(le),
            Err(_) => return None,
        }
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let Some(es) = entries(data) else { return };
    let mut v = MergedView::new();
    if v.apply_layer(0, es.clone()).is_err() {
        return;
    }
    let _ = v.apply_layer(1, es);
    let keys: Vec<Vec<u8>> = v.nodes.keys().take(64).map(|k| k.to_vec()).collect();
    for k in keys {
        let _ = v.resolve(&k);
        let _ = v.resolve_parent(&k);
        let _ = v.subtree(&k).count();
    }
});
