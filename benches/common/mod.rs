//! Deterministic inputs shared by the benches: no files from the host, so numbers compare
//! across machines and runs.

#![allow(dead_code)]

use regraft::layer::entry::Meta;
use regraft::layer::tarw::{OutKind, TarWriter};
use std::io::Write;

/// Compressible, text-and-binary-like bytes from a fixed LCG (about 3:1 with gzip -6, close to
/// a Debian /usr layer).
pub fn sample(len: usize) -> Vec<u8> {
    let words: [&[u8]; 16] = [
        b"layer ",
        b"digest ",
        b"sha256 ",
        b"\n",
        b"usr/lib/x86_64-linux-gnu/",
        b"opt/vendor/",
        b"0x",
        b"\x7fELF\x02\x01\x01",
        b"{\"config\":",
        b"whiteout ",
        b"\x00\x00\x00\x00",
        b"regraft ",
        b"static const char *",
        b"return 0;\n",
        b"\xff\xfe",
        b"    ",
    ];
    let mut out = Vec::with_capacity(len + 32);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while out.len() < len {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.extend_from_slice(words[(x >> 60) as usize]);
        for k in 0..((x >> 40) % 5) {
            out.push((x >> (8 * k)) as u8);
        }
    }
    out.truncate(len);
    out
}

/// A layer tar of `files` regular files (sizes 0..8 KiB, a few large ones) in `dirs`
/// directories, written by regraft's own tar writer.
pub fn layer_tar(files: usize, dirs: usize, big: usize) -> Vec<u8> {
    let data = sample(4 << 20);
    let mut tw = TarWriter::new(Vec::new());
    let meta = Meta {
        mode: 0o644,
        mtime: 1_700_000_000,
        ..Default::default()
    };
    let dmeta = Meta {
        mode: 0o755,
        ..meta.clone()
    };
    for d in 0..dirs {
        tw.append_header(
            format!("usr/share/d{d:05}").as_bytes(),
            &OutKind::Dir,
            &dmeta,
        )
        .unwrap();
    }
    let mut off = 0usize;
    for f in 0..files {
        let size = if f < big { 3 << 20 } else { (f * 7919) % 8192 };
        let name = format!("usr/share/d{:05}/file-{f:07}.txt", f % dirs.max(1));
        tw.append_header(name.as_bytes(), &OutKind::File { size: size as u64 }, &meta)
            .unwrap();
        if off + size > data.len() {
            off = 0;
        }
        tw.data().write_all(&data[off..off + size]).unwrap();
        tw.pad(size as u64).unwrap();
        off += size / 3 + 1;
    }
    tw.finish().unwrap()
}
