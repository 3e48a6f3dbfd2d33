//! rpm's database: header blobs parsed (with and without file lists), and a whole database
//! read as `packages` reads it, in each backend: sqlite (temporary copy, sqlite, every header
//! parsed), ndb's `Packages.db` and Berkeley DB hash `Packages` (read from bytes, every header
//! parsed). The inputs are generated: 400 packages of 120 files in 12 directories (a UBI 9
//! minimal image has about 100 packages; a full Fedora container about 400). The Berkeley DB
//! file is written by Berkeley DB's own `db5.3_load` (Debian's db5.3-util) with 4 KiB pages, as
//! RHEL 7 and 8 have them; without it that bench is skipped and says so.

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

/// A Berkeley DB hash `Packages` of `headers` (keys 1.., key 0 rpm's counter), written by
/// `db5.3_load`; None when it is not installed.
fn bdb_db(headers: &[Vec<u8>]) -> Option<Vec<u8>> {
    use std::fmt::Write;
    let hex = |b: &[u8]| {
        b.iter().fold(String::new(), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
    };
    let mut dump =
        String::from("VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\nHEADER=END\n");
    let n = headers.len() as u32 + 1;
    let _ = writeln!(
        dump,
        " {}\n {}",
        hex(&0u32.to_le_bytes()),
        hex(&n.to_le_bytes())
    );
    for (i, h) in headers.iter().enumerate() {
        let _ = writeln!(dump, " {}\n {}", hex(&(i as u32 + 1).to_le_bytes()), hex(h));
    }
    dump.push_str("DATA=END\n");
    let dir = tempfile::tempdir().unwrap();
    let (d, p) = (dir.path().join("dump"), dir.path().join("Packages"));
    std::fs::write(&d, dump).unwrap();
    let ok = std::process::Command::new("db5.3_load")
        .args(["-t", "hash", "-f"])
        .arg(&d)
        .arg(&p)
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| std::fs::read(&p).unwrap())
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
    let blobs: Vec<(u32, &[u8])> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (i as u32 + 1, h.as_slice()))
        .collect();
    let ndb = regraft::formats::rpmndb::write(&blobs);
    g.throughput(Throughput::Bytes(ndb.len() as u64));
    g.bench_function("Packages.db (ndb) of 400 packages, read", |b| {
        b.iter(|| {
            black_box(regraft::packages::rpm::read_ndb(&ndb, "db", false).unwrap());
        })
    });
    match bdb_db(&headers) {
        Some(bdb) => {
            g.throughput(Throughput::Bytes(bdb.len() as u64));
            g.bench_function(
                "Packages (Berkeley DB hash, 4 KiB pages) of 400 packages, read",
                |b| {
                    b.iter(|| {
                        black_box(regraft::packages::rpm::read_bdb(&bdb, "db", false).unwrap());
                    })
                },
            );
        }
        None => eprintln!(
            "rpm bench: db5.3_load (db5.3-util) is not installed; the Berkeley DB bench is skipped"
        ),
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
