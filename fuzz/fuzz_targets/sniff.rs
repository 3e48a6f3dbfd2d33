//! Input sniffing and reading: the input is written as a file and opened as an image (tar or
//! gzipped tar: docker save of any generation, OCI archive), then verified.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::model::reference::{ImageRef, Transport};

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::Builder::new().prefix("regraft-fuzz-").tempdir_in("/dev/shm") else { return };
    let path = dir.path().join("in.tar");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let r = ImageRef { transport: Transport::Sniff, path, selector: None };
    if let Ok(src) = regraft::source::Source::open(&r) {
        let _ = src.entries();
        for i in 0..src.entries().len().min(4) {
            if let Ok(img) = src.image_with(Some(&regraft::model::reference::Selector::Nth(i)), None) {
                let _ = regraft::verify::verify_image(&img, 1 << 24);
            }
        }
        let _ = src.dual_format_disagreements();
    }
});
