//! apk's `lib/apk/db/installed` as found in images: parsed, and the versions found compared
//! both ways (an order: equal to itself, antisymmetric).
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::packages::{Db, parse_apk};
use std::cmp::Ordering;

fuzz_target!(|data: &[u8]| {
    let pkgs = parse_apk(data);
    for w in pkgs.windows(2) {
        let (a, b) = (&w[0].0.version, &w[1].0.version);
        assert_eq!(Db::Apk.compare(a, a), Ordering::Equal, "{a:?}");
        assert_eq!(Db::Apk.compare(a, b), Db::Apk.compare(b, a).reverse(), "{a:?} {b:?}");
    }
});
