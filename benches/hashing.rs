//! SHA-256 throughput through regraft's hasher (sha2 0.11, SHA-NI detected at runtime).
//! Compare with `openssl speed -evp sha256` (benches/compare.sh prints both).

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use regraft::model::digest::{Digest, Hasher};
use std::hint::black_box;

fn hashing(c: &mut Criterion) {
    let data = common::sample(64 << 20);
    let mut g = c.benchmark_group("sha256");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(20);
    g.bench_function("one call, 64 MiB", |b| {
        b.iter(|| Digest::of(black_box(&data)))
    });
    g.bench_function("64 KiB updates, 64 MiB", |b| {
        b.iter(|| {
            let mut h = Hasher::new();
            for c in black_box(&data).chunks(64 << 10) {
                h.update(c);
            }
            h.finish()
        })
    });
    g.finish();
}

criterion_group!(benches, hashing);
criterion_main!(benches);
