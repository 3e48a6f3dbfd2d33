//! Writing the new layer: the deterministic parallel gzip encoder at 1 and 2 threads (same
//! bytes either way), flate2's single-stream encoder for reference, and zstd -3.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use regraft::codec::compress::{Codec, Encoder};
use regraft::codec::pgzip::ParGzWriter;
use std::hint::black_box;
use std::io::Write;

fn layer_build(c: &mut Criterion) {
    let tar = common::layer_tar(3_000, 100, 6);
    let mut g = c.benchmark_group("layer build");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(tar.len() as u64));
    for threads in [1, 2] {
        g.bench_function(format!("pgzip -6, {threads} thread(s)"), |b| {
            b.iter(|| {
                let mut w = ParGzWriter::new(Vec::new(), 6, threads);
                w.write_all(black_box(&tar)).unwrap();
                w.finish().unwrap().len()
            })
        });
    }
    g.bench_function("flate2 GzEncoder -6 (one stream)", |b| {
        b.iter(|| {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            w.write_all(black_box(&tar)).unwrap();
            w.finish().unwrap().len()
        })
    });
    for codec in ["gzip", "zstd:3", "none"] {
        g.bench_function(format!("Encoder {codec}"), |b| {
            let codec = Codec::parse(codec).unwrap();
            b.iter(|| {
                let mut e = Encoder::new(codec, Vec::new()).unwrap();
                e.write_all(black_box(&tar)).unwrap();
                e.finish().unwrap().len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, layer_build);
criterion_main!(benches);
