//! Reading layers: tar header parsing into the merged view (no data), and the full verified
//! read path of a gzip layer (raw digest + inflate on a second thread + diff_id + tar walk).

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use regraft::layer::LayerStream;
use regraft::layer::entry::parse_entry;
use regraft::model::digest::{DiffId, Digest};
use regraft::model::image::{BlobData, Layer};
use regraft::model::spec::{Descriptor, media};
use regraft::view::MergedView;
use std::hint::black_box;
use std::io::{Read, Write};
use std::sync::Arc;

fn walk(tar: &[u8]) -> usize {
    let mut view = MergedView::new();
    let mut ar = tar::Archive::new(tar);
    let mut entries = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        entries.push(parse_entry(&mut e).unwrap());
    }
    view.apply_layer(0, entries).unwrap();
    view.nodes.len()
}

fn tar_walk(c: &mut Criterion) {
    let tar = common::layer_tar(20_000, 500, 0);
    let mut g = c.benchmark_group("tar walk");
    g.sample_size(20);
    g.throughput(Throughput::Elements(20_500));
    g.bench_function("20k entries into the merged view", |b| {
        b.iter(|| walk(black_box(&tar)))
    });
    g.finish();

    // The whole read path of a compressed layer.
    let tar = common::layer_tar(4_000, 100, 8);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let layer = Layer {
        desc: Descriptor::new(media::OCI_LAYER_GZIP, Digest::of(&gz), gz.len() as u64),
        diff_id: DiffId(Digest::of(&tar)),
        data: BlobData::Bytes(Arc::new(gz)),
        history: None,
        checked: Default::default(),
    };
    let mut g = c.benchmark_group("layer read");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(tar.len() as u64));
    g.bench_function("gzip layer: verify + inflate + diff_id + tar walk", |b| {
        b.iter(|| {
            let mut s = LayerStream::open("bench", 0, &layer, u64::MAX).unwrap();
            let mut n = 0usize;
            {
                let mut ar = tar::Archive::new(&mut s);
                for e in ar.entries().unwrap() {
                    let mut e = e.unwrap();
                    let mut sink = Vec::new();
                    e.read_to_end(&mut sink).unwrap();
                    n += sink.len();
                }
            }
            s.finish().unwrap();
            n
        })
    });
    g.finish();
}

criterion_group!(benches, tar_walk);
criterion_main!(benches);
