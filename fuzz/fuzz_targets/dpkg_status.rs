//! dpkg's package database as found in images: a `status` file (and a distroless `status.d`
//! stanza file) parsed, `info/` file names read for their package, and the versions found
//! compared both ways (an order: equal to itself, antisymmetric).
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::packages::{Db, parse_dpkg};
use std::cmp::Ordering;

fuzz_target!(|data: &[u8]| {
    for db in [Db::Dpkg, Db::DpkgStatusD] {
        let pkgs = parse_dpkg(data, db);
        for w in pkgs.windows(2) {
            let (a, b) = (&w[0].0.version, &w[1].0.version);
            assert_eq!(db.compare(a, a), Ordering::Equal, "{a:?}");
            assert_eq!(db.compare(a, b), db.compare(b, a).reverse(), "{a:?} {b:?}");
        }
    }
    // `.list` files: one path a line, named info/PACKAGE[:ARCH].list.
    for line in data.split(|&b| b == b'\n').take(64) {
        let mut name = b"var/lib/dpkg/info/".to_vec();
        name.extend_from_slice(line);
        let _ = regraft::check::pkgs::info_package(&name);
    }
});
