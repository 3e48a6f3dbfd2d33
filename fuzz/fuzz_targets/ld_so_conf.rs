//! The check over an image whose loader configuration comes from the input: `/etc/ld.so.conf`
//! is the first part (parts are split at the bytes `\0\xff`), the next parts are files in
//! `/etc/ld.so.conf.d/` (or, for a part that starts with `glibc-ld.so.cache1.1`,
//! `/etc/ld.so.cache`), and a program needs a library none of them has, so the loader's
//! configuration is read in full. Includes, globs and caches must end in bounded time and
//! memory, with findings, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::check::{CheckInput, check};
use regraft::model::digest::{DiffId, Digest};
use regraft::model::image::{BlobData, Layer};
use regraft::model::spec::{Descriptor, media};
use regraft::view::fs::Verify;
use std::sync::Arc;

/// A tar of regular files, each `(path, bytes)`.
fn tar(files: &[(String, &[u8])]) -> Option<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_path(p).ok()?;
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, *data).ok()?;
    }
    b.into_inner().ok()
}

fn layer(bytes: Vec<u8>) -> Layer {
    let d = Digest::of(&bytes);
    Layer {
        desc: Descriptor::new(media::OCI_LAYER, d.clone(), bytes.len() as u64),
        diff_id: DiffId(d),
        data: BlobData::Bytes(Arc::new(bytes)),
        history: None,
        checked: Default::default(),
    }
}

/// The smallest dynamic x86-64 program that needs `libnowhere.so.1`.
fn program() -> Vec<u8> {
    let mut b = vec![0u8; 0x200];
    b[..6].copy_from_slice(b"\x7fELF\x02\x01");
    let put = |b: &mut Vec<u8>, at: usize, v: u64, n: usize| {
        b[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
    };
    put(&mut b, 16, 3, 2);
    put(&mut b, 18, 62, 2);
    put(&mut b, 32, 64, 8);
    put(&mut b, 54, 56, 2);
    put(&mut b, 56, 2, 2);
    for (i, (t, off, size)) in [(1u64, 0u64, 0x200u64), (2, 0x100, 48)].into_iter().enumerate() {
        let ph = 64 + i * 56;
        put(&mut b, ph, t, 4);
        put(&mut b, ph + 8, off, 8);
        put(&mut b, ph + 16, 0x10000 + off, 8);
        put(&mut b, ph + 32, size, 8);
    }
    for (i, (t, v)) in [(5u64, 0x10180u64), (1, 1)].into_iter().enumerate() {
        put(&mut b, 0x100 + i * 16, t, 8);
        put(&mut b, 0x108 + i * 16, v, 8);
    }
    b[0x181..0x181 + 16].copy_from_slice(b"libnowhere.so.1\0");
    b
}

/// `data` split at each `\0\xff`.
fn parts(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(i) = rest.windows(2).position(|w| w == b"\0\xff") {
        out.push(&rest[..i]);
        rest = &rest[i + 2..];
    }
    out.push(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    let mut parts = parts(data).into_iter();
    let mut base: Vec<(String, &[u8])> = Vec::new();
    base.push(("etc/ld.so.conf".into(), parts.next().unwrap_or_default()));
    for (i, p) in parts.filter(|p| !p.is_empty()).take(64).enumerate() {
        let path = if p.starts_with(b"glibc-ld.so.cache1.1") {
            "etc/ld.so.cache".to_string()
        } else {
            format!("etc/ld.so.conf.d/{i:02}.conf")
        };
        base.push((path, p));
    }
    let prog = program();
    let (Some(b), Some(a)) = (tar(&base), tar(&[("opt/app/prog".into(), &prog[..])])) else {
        return;
    };
    let layers = [layer(b), layer(a)];
    let config = serde_json::json!({"architecture": "amd64", "os": "linux"});
    let input = CheckInput {
        name: "fuzz",
        layers: &layers,
        boundary: 1,
        paths: &[],
        config: &config,
        max_layer_size: 1 << 24,
        verify: Verify::Here,
    };
    let _ = check(&input, None);
});
