//! Golden outputs: every case of `tests/golden/cases.txt` (grafts in both modes and every output
//! form, the toolbox, the read-only commands, two errors) run on the committed fixtures, each
//! digested (exit code, stdout, stderr, every file it wrote) and compared with
//! `tests/golden/digests.txt`. It pins today's bytes so that a restructuring cannot change an
//! output unnoticed.
//!
//! `REGRAFT_GOLDEN_WRITE=FILE` writes the digests to FILE instead of comparing (with
//! `REGRAFT_BIN=BIN` for another binary and `REGRAFT_GOLDEN_CASES=FILE` for other cases, this
//! compares two builds on any images: `tests/golden/compare.sh`). A digest changes only in a
//! commit that says why.

use crate::common::{root, tmp};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::Command;

fn digest_tree(dir: &Path, rel: &str, h: &mut Sha256) {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    for n in names {
        let p = dir.join(&n);
        let r = format!("{rel}/{}", n.to_string_lossy());
        let m = std::fs::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        if ft.is_dir() {
            h.update(format!("dir {r}\n"));
            digest_tree(&p, &r, h);
        } else if ft.is_symlink() {
            let t = std::fs::read_link(&p).unwrap();
            h.update(format!("link {r} {}\n", t.display()));
        } else if ft.is_file() {
            let d = Sha256::digest(std::fs::read(&p).unwrap());
            h.update(format!("file {r} {}\n", hex::encode(d)));
        } else {
            h.update(format!("other {r} {}\n", ft.is_fifo()));
        }
    }
}

/// Runs one case in a fresh directory; returns its digest and a short account for a mismatch.
fn run_case(bin: &str, fixtures: &str, cmd: &str) -> (String, String) {
    let d = tmp();
    let o = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(d.path())
        .env("R", bin)
        .env("F", fixtures)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("run sh");
    let dir = d.path().display().to_string();
    let norm = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .replace(&dir, "$DIR")
            .replace(fixtures, "$F")
    };
    let (out, err) = (norm(&o.stdout), norm(&o.stderr));
    let mut h = Sha256::new();
    h.update(format!("exit {:?}\n", o.status.code()));
    h.update(format!(
        "stdout {}\n{out}\nstderr {}\n{err}\n",
        out.len(),
        err.len()
    ));
    digest_tree(d.path(), "", &mut h);
    let account = format!("exit {:?}\nstderr:\n{err}", o.status.code());
    (hex::encode(h.finalize()), account)
}

fn read_cases(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (n, c) = l.split_once('\t').expect("NAME<TAB>COMMAND");
            (n.to_string(), c.to_string())
        })
        .collect()
}

#[test]
fn outputs_match_the_golden_digests() {
    let dir = root().join("tests/golden");
    let cases = std::env::var("REGRAFT_GOLDEN_CASES")
        .map(Into::into)
        .unwrap_or_else(|_| dir.join("cases.txt"));
    let bin = std::env::var("REGRAFT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_regraft").into());
    let fixtures = root().join("fixtures").display().to_string();
    let mut got = BTreeMap::new();
    let mut accounts = BTreeMap::new();
    for (name, cmd) in read_cases(&cases) {
        let (digest, account) = run_case(&bin, &fixtures, &cmd);
        got.insert(name.clone(), digest);
        accounts.insert(name, account);
    }
    if let Ok(out) = std::env::var("REGRAFT_GOLDEN_WRITE") {
        let text: String = got.iter().map(|(n, d)| format!("{n} {d}\n")).collect();
        std::fs::write(out, text).unwrap();
        return;
    }
    let want: BTreeMap<String, String> = std::fs::read_to_string(dir.join("digests.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, d)| (n.to_string(), d.to_string()))
        .collect();
    let mut bad = Vec::new();
    for (name, digest) in &got {
        match want.get(name) {
            Some(w) if w == digest => {}
            Some(w) => bad.push(format!(
                "{name}: expected {w}, found {digest}\n{}",
                accounts[name]
            )),
            None => bad.push(format!("{name}: no golden digest")),
        }
    }
    for name in want.keys().filter(|n| !got.contains_key(*n)) {
        bad.push(format!("{name}: golden digest without a case"));
    }
    assert!(
        bad.is_empty(),
        "{} golden case(s) differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(got.len() >= 60, "only {} golden cases ran", got.len());
}
