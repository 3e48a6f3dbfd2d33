//! The JVM check's jar reading: a jar's central directory and every class file's 8-byte header
//! (inflated from the first bytes of its deflate stream), read through ranges of the file as
//! the check reads a jar kept in the spill store. The jar is written by Python's zipfile, as
//! `jar` would write it: 20,000 deflated classes of 2 KiB.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use regraft::formats::zip;
use std::hint::black_box;
use std::os::unix::fs::FileExt;

const CLASSES: usize = 20_000;

fn make_jar(path: &std::path::Path) {
    let script = format!(
        "import sys, zipfile, random\n\
         r = random.Random(7)\n\
         with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
         \x20   z.writestr('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\\n')\n\
         \x20   for i in range({CLASSES}):\n\
         \x20       body = bytes([0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 61]) + r.randbytes(1024) + bytes(1024)\n\
         \x20       z.writestr(f'com/example/p{{i % 97}}/C{{i}}.class', body)\n"
    );
    let ok = std::process::Command::new("python3")
        .args(["-c", &script, &path.display().to_string()])
        .status()
        .expect("python3");
    assert!(ok.success());
}

fn newest(file: &std::fs::File, len: u64) -> u16 {
    let mut read_at = |o: u64, n: usize| -> regraft::error::Result<Vec<u8>> {
        let mut v = vec![0u8; n.min(len.saturating_sub(o) as usize)];
        file.read_exact_at(&mut v, o).unwrap();
        Ok(v)
    };
    let entries = zip::entries(len, &mut read_at, |n| n.ends_with(b".class")).unwrap();
    let mut heads = zip::Heads::default();
    entries
        .iter()
        .filter_map(|e| heads.head(e, 8, &mut read_at).unwrap())
        .map(|h| u16::from_be_bytes([h[6], h[7]]))
        .max()
        .unwrap()
}

fn jar_scan(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.jar");
    make_jar(&path);
    let file = std::fs::File::open(&path).unwrap();
    let len = file.metadata().unwrap().len();
    assert_eq!(newest(&file, len), 61);
    let mut g = c.benchmark_group("jar scan");
    g.sample_size(20);
    g.throughput(Throughput::Elements(CLASSES as u64));
    g.bench_function("20k classes: directory and every class header", |b| {
        b.iter(|| newest(black_box(&file), len))
    });
    g.finish();
}

criterion_group!(benches, jar_scan);
criterion_main!(benches);
