//! `docker://` references and registry challenges, as a command line and a registry give them:
//! whatever parses names a host, a repository and a tag that cannot reach a URL as anything
//! but a name (no query, fragment, space, `..` or empty component).
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::model::reference::ImageRef;
use regraft::store::registry::client::parse_challenge;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = parse_challenge(&s);
    for r in [
        ImageRef::parse_input(&format!("docker://{s}")),
        ImageRef::parse_output(&format!("docker://{s}")),
    ] {
        let Ok(r) = r else { continue };
        let t = r.registry().expect("a docker:// reference is a registry's");
        for part in t.repo.split('/') {
            assert!(!part.is_empty() && part != ".." && part != ".", "{t:?}");
        }
        let safe = |x: &str| {
            x.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-._:/[]".contains(&c))
        };
        assert!(safe(&t.host) && safe(&t.repo) && safe(&t.reference()), "{t:?}");
    }
});
