//! One streaming pass over an image's layers that yields what `packages`, `triage` and `diff`
//! need to know about its files without unpacking anything to disk: the merged view (by the
//! rules in `view::merged`), the sha256 of every regular file's content, the bytes of a few
//! small files the caller names (package databases), the ELF interpreter of executables, and
//! which layer's copy of a watched path is visible after each layer.
//!
//! Files are keyed by their origin, `(layer, path as written in that layer)`, which is what a
//! merged-view node carries (a hardlink carries its target's origin), so a lookup never needs to
//! know how the path was reached.

use crate::error::{Error, Result};
use crate::layer::entry::{self, Kind, Op};
use crate::model::digest::{Digest, Hasher};
use crate::model::image::Image;
use crate::model::limits::Limit;
use crate::view::MergedView;
use crate::view::merged::Key;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;

/// `(layer index, path as written in that layer)`.
pub type Origin = (usize, Key);

/// What an executable needs to run, read from its ELF program headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Elf {
    /// An executable (`ET_EXEC`) without `PT_INTERP`.
    Static,
    /// A shared object (`ET_DYN`) without `PT_INTERP`: a library (or a static-pie program).
    SharedObject,
    /// The program interpreter (`/lib64/ld-linux-x86-64.so.2`, `/lib/ld-musl-x86_64.so.1`).
    Dynamic(String),
}

/// What to collect.
pub struct Wanted<'a> {
    /// Hash every regular file's content.
    pub hash: bool,
    /// Keep the bytes of regular files whose cleaned path this accepts (at most `keep_max` each).
    pub keep: &'a dyn Fn(&[u8]) -> bool,
    pub keep_max: Limit,
    /// Probe files with an executable bit in these layers for an ELF interpreter.
    pub probe_elf: &'a dyn Fn(usize) -> bool,
    /// Paths whose visible origin is recorded after each layer.
    pub watch: &'a [&'a [u8]],
}

/// What one pass found.
#[derive(Default)]
pub struct Contents {
    pub view: MergedView,
    pub digests: HashMap<Origin, Digest>,
    pub kept: HashMap<Origin, Vec<u8>>,
    pub elf: HashMap<Origin, Elf>,
    /// For each layer, the origin of each watched path visible after it (absent: not there).
    pub watched: Vec<BTreeMap<Vec<u8>, Origin>>,
}

impl Contents {
    /// The kept bytes of the file visible at `path`, if it was kept.
    pub fn kept_at(&self, path: &[u8]) -> Option<&[u8]> {
        let (k, n) = self.view.nodes.get_key_value(path)?;
        self.kept.get(&n.origin(k)).map(Vec::as_slice)
    }
    /// The content digest of the regular file visible at `path`, when hashing was asked for.
    pub fn digest_at(&self, path: &[u8]) -> Option<&Digest> {
        let (k, n) = self.view.nodes.get_key_value(path)?;
        self.digests.get(&n.origin(k))
    }
}

/// Reads every layer of `img` once (each verified against its digest and diff_id).
pub fn read(img: &Image, max_layer_size: u64, want: &Wanted<'_>) -> Result<Contents> {
    let mut out = Contents::default();
    for i in 0..img.layers.len() {
        let r = read_layer(img, i, max_layer_size, want, &out.view)?;
        out.digests.extend(r.digests);
        out.kept.extend(r.kept);
        out.elf.extend(r.elf);
        out.view
            .apply_layer(i, r.entries)
            .map_err(|e| Error::context(&img.name, e))?;
        let mut w = BTreeMap::new();
        for p in want.watch {
            if let Some((k, n)) = out.view.nodes.get_key_value(&p[..]) {
                w.insert(p.to_vec(), n.origin(k));
            }
        }
        out.watched.push(w);
    }
    Ok(out)
}

struct LayerRead {
    entries: Vec<entry::LayerEntry>,
    digests: Vec<(Origin, Digest)>,
    kept: Vec<(Origin, Vec<u8>)>,
    elf: Vec<(Origin, Elf)>,
}

fn read_layer(
    img: &Image,
    i: usize,
    max: u64,
    want: &Wanted<'_>,
    view_before: &MergedView,
) -> Result<LayerRead> {
    let l = &img.layers[i];
    let what = crate::layer::describe(&img.name, i, l);
    let mut read = LayerRead {
        entries: Vec::new(),
        digests: Vec::new(),
        kept: Vec::new(),
        elf: Vec::new(),
    };
    crate::layer::each_entry(&img.name, i, l, max, |e, le| {
        if let Op::Put {
            kind: Kind::File,
            size,
            meta,
            ..
        } = &le.op
        {
            let file = FileAt {
                layer: i,
                path: &le.path,
                size: *size,
                mode: meta.mode,
            };
            read.file(e, &file, want, view_before, &what)?;
        }
        read.entries.push(le);
        Ok(())
    })?;
    Ok(read)
}

/// A regular file of the layer being read.
struct FileAt<'a> {
    layer: usize,
    path: &'a [u8],
    size: u64,
    mode: u32,
}

impl LayerRead {
    /// Reads what `want` asks of one regular file: its digest, its bytes, its ELF interpreter.
    fn file(
        &mut self,
        e: &mut impl Read,
        f: &FileAt<'_>,
        want: &Wanted<'_>,
        view_before: &MergedView,
        what: &str,
    ) -> Result<()> {
        // A parent that is a symlink in the lower layers (merged /usr) puts the file
        // elsewhere; the caller's paths are the resolved ones.
        let resolved = view_before
            .resolve_parent(f.path)
            .unwrap_or_else(|_| f.path.to_vec());
        let keep = (want.keep)(f.path) || (want.keep)(&resolved);
        if keep && f.size > want.keep_max.value {
            let what = format!("{what}: {}", crate::model::limits::shown(f.path));
            return Err(want.keep_max.error(what, format!("{} bytes", f.size)));
        }
        let probe = f.mode & 0o111 != 0 && (want.probe_elf)(f.layer);
        if !(want.hash || keep || probe) {
            return Ok(());
        }
        let mut h = Hasher::new();
        let mut head: Vec<u8> = Vec::new();
        let mut all: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = e.read(&mut buf).map_err(|x| Error::layer_io(what, x))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            if head.len() < ELF_HEAD {
                let k = n.min(ELF_HEAD - head.len());
                head.extend_from_slice(&buf[..k]);
            }
            if keep {
                all.extend_from_slice(&buf[..n]);
            }
            if !want.hash && !keep && head.len() >= ELF_HEAD {
                break;
            }
        }
        let key = (f.layer, Key::new(f.path));
        if want.hash {
            self.digests.push((key.clone(), h.finish().0));
        }
        if keep {
            self.kept.push((key.clone(), all));
        }
        if probe && let Some(k) = elf_interp(&head) {
            self.elf.push((key, k));
        }
        Ok(())
    }
}

/// How much of a file the ELF probe reads: program headers and the interpreter string sit
/// near the start of every executable linkers write.
const ELF_HEAD: usize = 8192;

/// The ELF interpreter of a 32- or 64-bit, little- or big-endian executable; None when `head`
/// is no ELF file or its headers lie beyond it.
pub fn elf_interp(head: &[u8]) -> Option<Elf> {
    if head.len() < 52 || &head[..4] != b"\x7fELF" {
        return None;
    }
    let is64 = head[4] == 2;
    let le = head[5] == 1;
    // An unsigned field of `n` bytes at `o`, in the file's byte order.
    let uint_at = |o: usize, n: usize| -> Option<u64> {
        let b = head.get(o..o.checked_add(n)?)?;
        let big_endian = |acc: u64, &x: &u8| acc << 8 | u64::from(x);
        Some(if le {
            b.iter().rev().fold(0, big_endian)
        } else {
            b.iter().fold(0, big_endian)
        })
    };
    let u16_at = |o: usize| uint_at(o, 2);
    let u32_at = |o: usize| uint_at(o, 4);
    let u64_at = |o: usize| uint_at(o, 8);
    let (phoff, phentsize, phnum) = if is64 {
        (u64_at(0x20)?, u16_at(0x36)?, u16_at(0x38)?)
    } else {
        (u32_at(0x1c)?, u16_at(0x2a)?, u16_at(0x2c)?)
    };
    for k in 0..phnum {
        let ph = usize::try_from(phoff + k * phentsize).ok()?;
        if u32_at(ph)? != 3 {
            continue; // not PT_INTERP
        }
        let (off, size) = if is64 {
            (u64_at(ph + 8)?, u64_at(ph + 32)?)
        } else {
            (u32_at(ph + 4)?, u32_at(ph + 16)?)
        };
        let s = head.get(usize::try_from(off).ok()?..usize::try_from(off + size).ok()?)?;
        let s = s.split(|&b| b == 0).next().unwrap_or_default();
        return Some(Elf::Dynamic(String::from_utf8_lossy(s).into_owned()));
    }
    if u16_at(0x10)? == 3 {
        Some(Elf::SharedObject)
    } else {
        Some(Elf::Static)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_probe_reads_this_test_binary_and_rejects_text() {
        // The test binary itself is an ELF file of the host; whatever its linking, the probe
        // must recognise it, and a shell script is no ELF.
        let exe = std::env::current_exe().unwrap();
        let mut head = vec![0u8; ELF_HEAD];
        let mut f = std::fs::File::open(exe).unwrap();
        let n = f.read(&mut head).unwrap();
        let got = elf_interp(&head[..n]).expect("an ELF file");
        if let Elf::Dynamic(i) = got {
            assert!(i.contains("ld-"), "interpreter {i}");
        }
        assert_eq!(elf_interp(b"#!/bin/sh\nexec true\n"), None);
        assert_eq!(elf_interp(b"\x7fELF"), None);
    }

    #[test]
    fn elf_probe_reads_32_bit_big_endian_headers() {
        // An ELF32 MSB executable: one PT_INTERP program header at 52, the name at 100.
        let mut h = vec![0u8; 128];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 1; // ELFCLASS32
        h[5] = 2; // ELFDATA2MSB
        h[0x10..0x12].copy_from_slice(&2u16.to_be_bytes()); // ET_EXEC
        h[0x1c..0x20].copy_from_slice(&52u32.to_be_bytes()); // e_phoff
        h[0x2a..0x2c].copy_from_slice(&32u16.to_be_bytes()); // e_phentsize
        h[0x2c..0x2e].copy_from_slice(&1u16.to_be_bytes()); // e_phnum
        h[52..56].copy_from_slice(&3u32.to_be_bytes()); // PT_INTERP
        h[56..60].copy_from_slice(&100u32.to_be_bytes()); // p_offset
        h[68..72].copy_from_slice(&12u32.to_be_bytes()); // p_filesz
        h[100..112].copy_from_slice(b"/lib/ld.so\0\0");
        assert_eq!(elf_interp(&h), Some(Elf::Dynamic("/lib/ld.so".into())));
        // Without the program header: a static executable; as ET_DYN, a shared object.
        h[52..56].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(elf_interp(&h), Some(Elf::Static));
        h[0x10..0x12].copy_from_slice(&3u16.to_be_bytes());
        assert_eq!(elf_interp(&h), Some(Elf::SharedObject));
    }
}
