//! rpm's database: header blobs parsed (with and without file lists), and a whole sqlite
//! database read as `packages` reads it (temporary copy, sqlite, every header parsed). The
//! inputs are generated: 400 packages of 120 files in 12 directories (a UBI 9 minimal image has
//! about 100 packages; a full Fedora container about 400).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use regraft::formats::rpmheader;
use std::hint::black_box;

fn s(v: &str) -> Vec<u8> {
    let mut b = v.as_bytes().to_vec();
    b.push(0);
    b
}

fn header(i: usize) -> Vec<u8> {
    let dirs: Vec<String> = (0..12)
        .map(|d| format!("/usr/lib64/pkg{i}/d{d}/"))
        .collect();
    let base: Vec<String> = (0..120).map(|f| format!("file-{f}.so.{i}")).collect();
    let arr = |v: &[String]| v.iter().flat_map(|x| s(x)).collect::<Vec<u8>>();
    let idx: Vec<u8> = (0..120i32).flat_map(|f| (f % 12).to_be_bytes()).collect();
    rpmheader::build(&[
        (1000, 6, 1, s(&format!("package-{i}"))),
        (1003, 4, 1, 1i32.to_be_bytes().to_vec()),
        (1001, 6, 1, s("3.0.7")),
        (1002, 6, 1, s("27.el9")),
        (1022, 6, 1, s("x86_64")),
        (1014, 6, 1, s("Apache-2.0 AND MIT")),
        (1044, 6, 1, s(&format!("package-{i}-3.0.7-27.el9.src.rpm"))),
        (1117, 8, 120, arr(&base)),
        (1118, 8, 12, arr(&dirs)),
        (1116, 4, 120, idx),
    ])
}

fn sqlite_db(headers: &[Vec<u8>]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rpmdb.sqlite");
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(
        "CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
    )
    .unwrap();
    for h in headers {
        c.execute("INSERT INTO Packages (blob) VALUES (?1)", [h])
            .unwrap();
    }
    drop(c);
    std::fs::read(&p).unwrap()
}

fn bench(c: &mut Criterion) {
    let headers: Vec<Vec<u8>> = (0..400).map(header).collect();
    let bytes: u64 = headers.iter().map(|h| h.len() as u64).sum();
    let mut g = c.benchmark_group("rpm");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("400 headers, fields only", |b| {
        b.iter(|| {
            for h in &headers {
                black_box(rpmheader::parse(h, false).unwrap());
            }
        })
    });
    g.bench_function("400 headers, with 120 files each", |b| {
        b.iter(|| {
            for h in &headers {
                black_box(rpmheader::parse(h, true).unwrap());
            }
        })
    });
    let db = sqlite_db(&headers);
    g.throughput(Throughput::Bytes(db.len() as u64));
    g.bench_function("rpmdb.sqlite of 400 packages, read", |b| {
        b.iter(|| {
            black_box(regraft::packages::rpm::read_sqlite(&db, None, "db", false).unwrap());
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
