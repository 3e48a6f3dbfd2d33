//! rpm databases, all three backends, each found where rpm keeps it (`var/lib/rpm/`, and
//! `usr/lib/sysimage/rpm/` since rpm 4.16):
//!
//! - sqlite, `rpmdb.sqlite` (rpm 4.16 and later: RHEL/UBI 9, Fedora 33+, Rocky, Alma, Amazon
//!   Linux 2023), whose `Packages` table holds one header blob a row;
//! - ndb, `Packages.db` (SUSE and openSUSE), read by `formats::rpmndb`;
//! - Berkeley DB hash, `Packages` (RHEL and CentOS 7 and 8, Amazon Linux 2), read by
//!   `formats::bdbhash`: keys are 4-byte header numbers, key 0 rpm's own counter.
//!
//! The header blobs are parsed by [`crate::formats::rpmheader`]. rpm reads one backend in a
//! directory; where an image has two there, the first in [`DBS`]'s order is read (sqlite, then
//! ndb, then Berkeley DB: the newer rpm's conversion leaves the old file behind).
//!
//! sqlite reads a file, not bytes: the database (and its `-wal`, whose committed pages belong
//! to the database until a checkpoint moves them) is written to a private temporary directory
//! first. Both were kept from the image within `MAX_PACKAGE_DB`. The file is untrusted:
//! sqlite opens it in defensive mode, with the schema untrusted, `Packages` must be a plain
//! table, and a progress handler stops a query that runs past a fixed budget of steps.

use crate::error::{Error, Result};
use crate::formats::rpmheader::{self, RpmHeader};
use crate::formats::{bdbhash, rpmndb};
use std::io::Write;

/// rpm's database backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Ndb,
    Bdb,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Ndb => "ndb",
            Backend::Bdb => "bdb",
        }
    }
}

/// One place an rpm database may be: its path, its backend, and where its `-wal` would be.
#[derive(Clone, Copy, Debug)]
pub struct DbFile {
    pub path: &'static [u8],
    pub backend: Backend,
    pub wal: Option<&'static [u8]>,
}

const fn db(path: &'static [u8], backend: Backend, wal: Option<&'static [u8]>) -> DbFile {
    DbFile { path, backend, wal }
}

/// Where rpm's databases are, in the order they are looked for: per directory, the first
/// found is the one read.
pub const DBS: &[DbFile] = &[
    db(
        b"var/lib/rpm/rpmdb.sqlite",
        Backend::Sqlite,
        Some(b"var/lib/rpm/rpmdb.sqlite-wal"),
    ),
    db(b"var/lib/rpm/Packages.db", Backend::Ndb, None),
    db(b"var/lib/rpm/Packages", Backend::Bdb, None),
    db(
        b"usr/lib/sysimage/rpm/rpmdb.sqlite",
        Backend::Sqlite,
        Some(b"usr/lib/sysimage/rpm/rpmdb.sqlite-wal"),
    ),
    db(b"usr/lib/sysimage/rpm/Packages.db", Backend::Ndb, None),
    db(b"usr/lib/sysimage/rpm/Packages", Backend::Bdb, None),
];

/// Every file of [`DBS`]: the databases and the `-wal`s.
pub fn is_db_file(p: &[u8]) -> bool {
    DBS.iter().any(|d| d.path == p || d.wal == Some(p))
}

/// The directory of a database path (`var/lib/rpm`).
pub fn dir_of(p: &[u8]) -> &[u8] {
    p.iter().rposition(|&b| b == b'/').map_or(p, |i| &p[..i])
}

/// The packages of one database of `backend` (with its `-wal`, for sqlite), by header number.
/// `what` names the database for errors; `files` asks for each package's file list.
pub fn read(
    backend: Backend,
    db: &[u8],
    wal: Option<&[u8]>,
    what: &str,
    files: bool,
) -> Result<Vec<Record>> {
    match backend {
        Backend::Sqlite => read_sqlite(db, wal, what, files),
        Backend::Ndb => read_ndb(db, what, files),
        Backend::Bdb => read_bdb(db, what, files),
    }
}

fn record(blob: &[u8], files: bool, what: &str, at: impl FnOnce() -> String) -> Result<Record> {
    let header =
        rpmheader::parse(blob, files).map_err(|e| Error::format(what, format!("{}: {e}", at())))?;
    Ok(Record {
        header,
        blob_sha256: crate::model::digest::Digest::of(blob).to_string(),
    })
}

/// The packages of an ndb `Packages.db`, by package index.
pub fn read_ndb(db: &[u8], what: &str, files: bool) -> Result<Vec<Record>> {
    rpmndb::read(db)
        .map_err(|e| Error::format(what, format!("ndb: {e}")))?
        .into_iter()
        .map(|b| record(b.blob, files, what, || format!("package {}", b.pkgidx)))
        .collect()
}

/// The packages of a Berkeley DB hash `Packages`, by header number; key 0, rpm's record of
/// the next header number, is no package.
pub fn read_bdb(db: &[u8], what: &str, files: bool) -> Result<Vec<Record>> {
    let err = |e: String| Error::format(what, format!("Berkeley DB: {e}"));
    let h = bdbhash::read(db).map_err(err)?;
    let mut out = Vec::with_capacity(h.records.len());
    for (key, data) in &h.records {
        let k: [u8; 4] = key.as_slice().try_into().map_err(|_| {
            err(format!(
                "a key of {} bytes (rpm's are 4-byte header numbers)",
                key.len()
            ))
        })?;
        let n = if h.big_endian {
            u32::from_be_bytes(k)
        } else {
            u32::from_le_bytes(k)
        };
        if n == 0 {
            continue;
        }
        out.push((n, record(data, files, what, || format!("header {n}"))?));
    }
    out.sort_by_key(|r| r.0);
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(err(format!("header {} twice", w[0].0)));
    }
    Ok(out.into_iter().map(|r| r.1).collect())
}

/// sqlite virtual-machine steps one read may take, in thousands: reading every row of a
/// 64 MiB database takes well under a million; a hostile file stops here instead of hanging.
const STEP_BUDGET_K: u32 = 200_000;

/// One installed package: its header, and a digest of its blob (what tells whether a layer
/// rewrote the package's record).
pub struct Record {
    pub header: RpmHeader,
    pub blob_sha256: String,
}

/// The packages in an rpm sqlite database and its `-wal` (when present), sorted by rowid. `what`
/// names the database for errors. `files` asks for each package's file list.
pub fn read_sqlite(db: &[u8], wal: Option<&[u8]>, what: &str, files: bool) -> Result<Vec<Record>> {
    let dir = temp_dir(what)?;
    let conn = open_copy(dir.path(), "db", db, wal, what)?;
    Ok(rows(&conn, what, files)?
        .into_iter()
        .map(|(_, r, _)| r)
        .collect())
}

fn temp_dir(what: &str) -> Result<tempfile::TempDir> {
    tempfile::tempdir().map_err(|e| Error::format_from(what, "a temporary directory", e))
}

/// Writes a private copy of an untrusted sqlite database (and its `-wal`) as
/// `dir/NAME/rpmdb.sqlite` and opens it read-write (replaying a `-wal` needs its `-shm`), in
/// defensive mode with the schema untrusted and a budget of steps; checks it has a
/// `Packages` table.
fn open_copy(
    dir: &std::path::Path,
    name: &str,
    db: &[u8],
    wal: Option<&[u8]>,
    what: &str,
) -> Result<rusqlite::Connection> {
    let err = |why: String| Error::format(what, why);
    if !db.starts_with(b"SQLite format 3\0") {
        return Err(err(
            "not an sqlite database (no \"SQLite format 3\" header)".into(),
        ));
    }
    let dir = dir.join(name);
    let write = |p: &std::path::Path, b: &[u8]| -> Result<()> {
        std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::File::create(p))
            .and_then(|mut f| f.write_all(b))
            .map_err(|e| Error::format_from(what, "writing a temporary copy", e))
    };
    let path = dir.join("rpmdb.sqlite");
    write(&path, db)?;
    if let Some(w) = wal.filter(|w| !w.is_empty()) {
        write(&dir.join("rpmdb.sqlite-wal"), w)?;
    }
    let sq = |e: rusqlite::Error| err(format!("sqlite: {e}"));
    use rusqlite::{OpenFlags, config::DbConfig};
    let mut conn = rusqlite::Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sq)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .map_err(sq)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)
        .map_err(sq)?;
    let mut left = STEP_BUDGET_K;
    conn.progress_handler(
        1000,
        Some(move || {
            left = left.saturating_sub(1);
            left == 0
        }),
    )
    .map_err(sq)?;
    let kind: Option<String> = conn
        .query_row(
            "SELECT type FROM sqlite_master WHERE name = 'Packages'",
            [],
            |r| r.get(0),
        )
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })
        .map_err(sq)?;
    if kind.as_deref() != Some("table") {
        return Err(err("no Packages table: not an rpm database".into()));
    }
    Ok(conn)
}

/// Every package row: its header number, its record and its blob.
fn rows(
    conn: &rusqlite::Connection,
    what: &str,
    files: bool,
) -> Result<Vec<(i64, Record, Vec<u8>)>> {
    let err = |why: String| Error::format(what, why);
    let sq = |e: rusqlite::Error| err(format!("sqlite: {e}"));
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(sq)?;
    let mut rows = stmt.query([]).map_err(sq)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sq)? {
        let hnum: i64 = row.get(0).map_err(sq)?;
        let blob = row.get_ref(1).map_err(sq)?;
        let blob = blob
            .as_blob()
            .map_err(|_| err(format!("Packages row {hnum}: the blob is not a BLOB")))?;
        let header =
            rpmheader::parse(blob, files).map_err(|e| err(format!("Packages row {hnum}: {e}")))?;
        out.push((
            hnum,
            Record {
                header,
                blob_sha256: crate::model::digest::Digest::of(blob).to_string(),
            },
            blob.to_vec(),
        ));
    }
    Ok(out)
}

/// The index tables of an open rpm database: the tables with exactly the columns `key`,
/// `hnum`, `idx` (rpm's `Name`, `Basenames`, `Providename`, ...), by name.
fn index_tables(conn: &rusqlite::Connection, schema: &str, what: &str) -> Result<Vec<String>> {
    let sq = |e: rusqlite::Error| Error::format(what, format!("sqlite: {e}"));
    let names: Vec<String> = conn
        .prepare(&format!(
            "SELECT name FROM {schema}.sqlite_master WHERE type = 'table' ORDER BY name"
        ))
        .map_err(sq)?
        .query_map([], |r| r.get(0))
        .map_err(sq)?
        .collect::<std::result::Result<_, _>>()
        .map_err(sq)?;
    let mut out = Vec::new();
    for n in names {
        // Only plain names are quoted into statements below.
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let cols: Vec<String> = conn
            .prepare(&format!("PRAGMA {schema}.table_info(\"{n}\")"))
            .map_err(sq)?
            .query_map([], |r| r.get(1))
            .map_err(sq)?
            .collect::<std::result::Result<_, _>>()
            .map_err(sq)?;
        if cols == ["key", "hnum", "idx"] {
            out.push(n);
        }
    }
    Ok(out)
}

/// What `merge_sqlite` made.
pub struct Merged {
    /// The merged database's bytes (WAL mode, as rpm keeps it, with no `-wal` of its own).
    pub db: Vec<u8>,
    /// The base's packages the merged database keeps.
    pub base_packages: usize,
    /// `name-[epoch:]version-release.arch` of the vendor's packages it took in.
    pub vendor_packages: Vec<String>,
}

/// The base's sqlite database with the vendor's packages that `keep` chooses put in: a base
/// package of the same name and architecture is taken out first, with its rows in every index
/// table; each vendor package goes in with a new header number and the index rows rpm wrote
/// for it in the vendor's database (so no index is computed here: rpm's own entries move).
/// Deterministic: the same inputs give the same bytes (the file is vacuumed).
pub fn merge_sqlite(
    base: (&[u8], Option<&[u8]>),
    vendor: (&[u8], Option<&[u8]>),
    keep: &dyn Fn(&Record) -> bool,
    what: &str,
) -> Result<Merged> {
    let err = |why: String| Error::format(what, why);
    let sq = |e: rusqlite::Error| err(format!("sqlite: {e}"));
    let dir = temp_dir(what)?;
    let v = open_copy(
        dir.path(),
        "vendor",
        vendor.0,
        vendor.1,
        &format!("{what} (the vendor's)"),
    )?;
    let kept: Vec<(i64, Record, Vec<u8>)> = rows(&v, what, false)?
        .into_iter()
        .filter(|(_, r, _)| keep(r))
        .collect();
    // Checkpointed into the file, so ATTACH sees every row.
    v.pragma_update(None, "journal_mode", "DELETE")
        .map_err(sq)?;
    drop(v);
    let m = open_copy(
        dir.path(),
        "merged",
        base.0,
        base.1,
        &format!("{what} (the base's)"),
    )?;
    m.pragma_update(None, "journal_mode", "DELETE")
        .map_err(sq)?;
    let tables = index_tables(&m, "main", what)?;
    let replaced: std::collections::BTreeSet<(String, String)> = kept
        .iter()
        .map(|(_, r, _)| (r.header.name.clone(), r.header.arch.clone()))
        .collect();
    let base_rows = rows(&m, what, false)?;
    let vpath = dir.path().join("vendor").join("rpmdb.sqlite");
    m.execute("ATTACH DATABASE ?1 AS v", [vpath.to_string_lossy()])
        .map_err(sq)?;
    let vtables = index_tables(&m, "v", what)?;
    let tx = m.unchecked_transaction().map_err(sq)?;
    let mut base_packages = 0;
    for (h, r, _) in &base_rows {
        if !replaced.contains(&(r.header.name.clone(), r.header.arch.clone())) {
            base_packages += 1;
            continue;
        }
        for t in &tables {
            tx.execute(&format!("DELETE FROM main.\"{t}\" WHERE hnum = ?1"), [h])
                .map_err(sq)?;
        }
        tx.execute("DELETE FROM main.Packages WHERE hnum = ?1", [h])
            .map_err(sq)?;
    }
    let mut vendor_packages = Vec::new();
    for (vh, r, blob) in &kept {
        tx.execute("INSERT INTO main.Packages (blob) VALUES (?1)", [blob])
            .map_err(sq)?;
        let nh = tx.last_insert_rowid();
        for t in tables.iter().filter(|t| vtables.contains(t)) {
            tx.execute(
                &format!(
                    "INSERT INTO main.\"{t}\" (key, hnum, idx) SELECT key, ?1, idx FROM v.\"{t}\" WHERE hnum = ?2 ORDER BY rowid"
                ),
                [nh, *vh],
            )
            .map_err(sq)?;
        }
        let hd = &r.header;
        vendor_packages.push(format!("{}-{}.{}", hd.name, hd.evr(), hd.arch));
    }
    tx.commit().map_err(sq)?;
    m.execute("DETACH DATABASE v", []).map_err(sq)?;
    m.execute("VACUUM", []).map_err(sq)?;
    m.pragma_update(None, "journal_mode", "WAL").map_err(sq)?;
    m.close().map_err(|(_, e)| sq(e))?;
    let path = dir.path().join("merged").join("rpmdb.sqlite");
    let wal = dir.path().join("merged").join("rpmdb.sqlite-wal");
    if std::fs::metadata(&wal).is_ok_and(|w| w.len() > 0) {
        return Err(err("internal: the merged database kept a -wal".into()));
    }
    let db =
        std::fs::read(&path).map_err(|e| Error::format_from(what, "reading the merged copy", e))?;
    Ok(Merged {
        db,
        base_packages,
        vendor_packages,
    })
}

/// The source package's name from `SOURCERPM` (`openssl-3.0.7-27.el9.src.rpm` -> `openssl`).
pub fn source_name(source_rpm: &str) -> Option<&str> {
    let s = source_rpm
        .strip_suffix(".src.rpm")
        .or_else(|| source_rpm.strip_suffix(".nosrc.rpm"))?;
    let (nv, _release) = s.rsplit_once('-')?;
    let (n, _version) = nv.rsplit_once('-')?;
    (!n.is_empty()).then_some(n)
}

/// The source package's `version-release` from `SOURCERPM` (`openssl-3.0.7-27.el9.src.rpm`
/// -> `3.0.7-27.el9`).
pub fn source_version(source_rpm: &str) -> Option<&str> {
    let n = source_name(source_rpm)?;
    let s = source_rpm
        .strip_suffix(".src.rpm")
        .or_else(|| source_rpm.strip_suffix(".nosrc.rpm"))?;
    s.get(n.len() + 1..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names() {
        for (s, want) in [
            ("openssl-3.0.7-27.el9.src.rpm", Some("openssl")),
            ("rg-foo-1.2-3.src.rpm", Some("rg-foo")),
            ("x.nosrc.rpm", None),
            ("python3.11-3.11.5-1.el9.src.rpm", Some("python3.11")),
            ("", None),
        ] {
            assert_eq!(source_name(s), want, "{s}");
        }
        assert_eq!(
            source_version("openssl-3.0.7-27.el9.src.rpm"),
            Some("3.0.7-27.el9")
        );
    }

    /// The rows a `-wal` holds (committed, not yet checkpointed into the database file) are
    /// packages too, as rpm itself reads them.
    #[test]
    fn rows_in_the_wal_are_read() {
        use crate::formats::rpmheader::build;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rpmdb.sqlite");
        let blob = |n: &str| {
            let s = |v: &str| [v.as_bytes(), b"\0"].concat();
            build(&[
                (1000, 6, 1, s(n)),
                (1001, 6, 1, s("1.0")),
                (1002, 6, 1, s("1")),
            ])
        };
        let c = rusqlite::Connection::open(&p).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
        )
        .unwrap();
        c.execute("INSERT INTO Packages (blob) VALUES (?1)", [blob("in-wal")])
            .unwrap();
        // Copied while the connection holds the WAL open: the database file alone lacks the row.
        let db = std::fs::read(&p).unwrap();
        let wal = std::fs::read(dir.path().join("rpmdb.sqlite-wal")).unwrap();
        assert!(!wal.is_empty());
        drop(c);
        let names = |w: Option<&[u8]>| -> Vec<String> {
            read_sqlite(&db, w, "db", false)
                .map(|v| v.into_iter().map(|r| r.header.name).collect())
                .unwrap_or_else(|e| vec![e.to_string()])
        };
        assert_eq!(names(Some(&wal)), ["in-wal"]);
        assert_ne!(names(None), ["in-wal"]);
    }

    #[test]
    fn not_sqlite_and_truncated_are_errors() {
        let e = read_sqlite(b"hello", None, "db", false).err().unwrap();
        assert!(e.to_string().contains("not an sqlite database"), "{e}");
        let mut head = b"SQLite format 3\0".to_vec();
        head.resize(100, 0);
        let e = read_sqlite(&head, None, "db", false).err().unwrap();
        assert!(e.to_string().starts_with("db: "), "{e}");
    }
}
