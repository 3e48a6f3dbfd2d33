//! rpm header blobs as rpm databases keep them (parsed with file lists), and the EVRs found
//! compared both ways (an order: equal to itself, antisymmetric).
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::formats::rpmheader;
use regraft::packages::compare_rpm;
use std::cmp::Ordering;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = rpmheader::parse(data, true) {
        let a = h.evr();
        let b = format!("{}.{}", h.release, h.version);
        assert_eq!(compare_rpm(&a, &a), Ordering::Equal, "{a:?}");
        assert_eq!(compare_rpm(&a, &b), compare_rpm(&b, &a).reverse(), "{a:?} {b:?}");
    }
});
