//! The few things `check` needs from an ELF file, read by hand from bytes: class, byte order,
//! type, machine, `PT_INTERP`, and from the dynamic section `DT_NEEDED`, `DT_SONAME`,
//! `DT_RPATH`, `DT_RUNPATH`, the version needs (`GLIBC_2.34` from `libc.so.6`) and the versions
//! a library defines. Every offset is bounds-checked; a malformed file is an error, never a
//! panic. The work is bounded by the file, whatever it says: each string is at most `PATH_MAX`
//! bytes (a run path, a list of them, `MAX_RUN_PATH`), all of them together at most
//! `STRINGS_PER_FILE` or the file's size, and the version entries (which may share one chain)
//! at most `MAX_ELF_VERSIONS`.

use super::strings::{Strings, name};
use crate::error::{Error, Result};
use crate::model::limits::{MAX_ELF_VERSIONS, MAX_RUN_PATH};
use serde::Serialize;
use std::cell::Cell;

/// The C library family a program is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Libc {
    Glibc,
    Musl,
}

impl Libc {
    pub fn name(self) -> &'static str {
        match self {
            Libc::Glibc => "glibc",
            Libc::Musl => "musl",
        }
    }
}

pub const MAGIC: &[u8; 4] = b"\x7fELF";

pub const EM_386: u16 = 3;
pub const EM_ARM: u16 = 40;
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;
pub const EM_PPC64: u16 = 21;
pub const EM_S390: u16 = 22;
pub const EM_RISCV: u16 = 243;

/// One version an object needs from one library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionNeed {
    pub file: String,
    pub version: String,
    pub weak: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Elf {
    /// 32 or 64.
    pub class: u8,
    pub little_endian: bool,
    /// ET_EXEC = 2, ET_DYN = 3.
    pub e_type: u16,
    pub machine: u16,
    pub interp: Option<String>,
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub rpath: Option<String>,
    pub runpath: Option<String>,
    pub version_needs: Vec<VersionNeed>,
    pub version_defs: Vec<String>,
    /// Has a dynamic section (a static program has none).
    pub dynamic: bool,
}

/// The name of a machine, for messages.
pub fn machine_name(m: u16) -> String {
    match m {
        EM_386 => "i386".into(),
        EM_ARM => "arm".into(),
        EM_X86_64 => "x86-64".into(),
        EM_AARCH64 => "aarch64".into(),
        EM_PPC64 => "ppc64".into(),
        EM_S390 => "s390".into(),
        EM_RISCV => "riscv".into(),
        o => format!("machine {o}"),
    }
}

/// The ELF class and machine an OCI architecture runs.
pub fn expected_machine(arch: &str) -> Option<(u8, u16)> {
    Some(match arch {
        "amd64" => (64, EM_X86_64),
        "arm64" => (64, EM_AARCH64),
        "386" => (32, EM_386),
        "arm" => (32, EM_ARM),
        "ppc64le" => (64, EM_PPC64),
        "s390x" => (64, EM_S390),
        "riscv64" => (64, EM_RISCV),
        _ => return None,
    })
}

/// A bounds-checked reader of an ELF file's integers and strings in its byte order.
struct R<'a> {
    b: &'a [u8],
    le: bool,
    is64: bool,
    /// The strings read from here so far.
    strings: Strings<'a>,
    /// Version entries read so far (see `MAX_ELF_VERSIONS`).
    versions: Cell<usize>,
}

impl R<'_> {
    fn bytes(&self, off: u64, n: u64) -> Result<&[u8]> {
        let s = usize::try_from(off).ok();
        let e = off.checked_add(n).and_then(|e| usize::try_from(e).ok());
        match (s, e) {
            (Some(s), Some(e)) if e <= self.b.len() => Ok(&self.b[s..e]),
            _ => Err(Error::Invalid(format!(
                "ELF: {n} bytes at offset {off} lie outside the file ({} bytes)",
                self.b.len()
            ))),
        }
    }
    /// An unsigned integer of `n` (at most 8) bytes in the file's byte order.
    fn uint(&self, off: u64, n: u64) -> Result<u64> {
        let b = self.bytes(off, n)?;
        let push = |acc: u64, &byte: &u8| (acc << 8) | u64::from(byte);
        Ok(if self.le {
            b.iter().rev().fold(0, push)
        } else {
            b.iter().fold(0, push)
        })
    }
    fn u16(&self, off: u64) -> Result<u16> {
        // Two bytes always fit.
        self.uint(off, 2).map(|v| v as u16)
    }
    fn u32(&self, off: u64) -> Result<u32> {
        self.uint(off, 4).map(|v| v as u32)
    }
    fn u64(&self, off: u64) -> Result<u64> {
        self.uint(off, 8)
    }
    /// A word: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, off: u64) -> Result<u64> {
        self.uint(off, if self.is64 { 8 } else { 4 })
    }
    fn cstr(&self, off: u64) -> Result<String> {
        self.strings.at(off)
    }
    /// Counts one more version entry.
    fn version_entry(&self) -> Result<()> {
        self.versions.set(self.versions.get() + 1);
        if self.versions.get() > MAX_ELF_VERSIONS.get() {
            let what = "ELF: the version needs and definitions";
            return Err(MAX_ELF_VERSIONS.error(what, format!("{} entries", self.versions.get())));
        }
        Ok(())
    }
}

struct Load {
    vaddr: u64,
    offset: u64,
    filesz: u64,
}

fn vaddr_to_off(loads: &[Load], v: u64) -> Option<u64> {
    loads
        .iter()
        .find(|l| v >= l.vaddr && v < l.vaddr.saturating_add(l.filesz))
        .map(|l| v - l.vaddr + l.offset)
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
const DT_VERDEF: u64 = 0x6fff_fffc;
const DT_VERDEFNUM: u64 = 0x6fff_fffd;
const DT_VERNEED: u64 = 0x6fff_fffe;
const DT_VERNEEDNUM: u64 = 0x6fff_ffff;
const VER_FLG_BASE: u16 = 1;
const VER_FLG_WEAK: u16 = 2;

/// Whether `b` starts like an ELF file.
pub fn is_elf(b: &[u8]) -> bool {
    b.len() >= 4 && &b[..4] == MAGIC
}

/// Parses the parts of an ELF file `check` needs.
pub fn parse(b: &[u8]) -> Result<Elf> {
    let (r, mut elf) = header(b)?;
    let segments = program_headers(&r, &mut elf)?;
    let Some((doff, dsize)) = segments.dynamic else {
        return Ok(elf);
    };
    elf.dynamic = true;
    let d = Dynamic::read(&r, &segments.loads, doff, dsize)?;
    d.names(&mut elf)?;
    d.version_needs(&mut elf)?;
    d.version_defs(&mut elf)?;
    Ok(elf)
}

/// The names of the symbols the file defines in its dynamic symbol table (`.dynsym`, found
/// through the section headers) that start with `prefix`: a Node addon's
/// `node_register_module_v108`. Empty when the file has no section headers or no `.dynsym`.
pub fn defined_symbols_starting(b: &[u8], prefix: &[u8]) -> Result<Vec<String>> {
    const SHT_DYNSYM: u32 = 11;
    let (r, _) = header(b)?;
    let (shoff, shentsize, shnum) = if r.is64 {
        (r.u64(0x28)?, r.u16(0x3a)?, r.u16(0x3c)?)
    } else {
        (u64::from(r.u32(0x20)?), r.u16(0x2e)?, r.u16(0x30)?)
    };
    // Offsets come from the file: every sum and product is checked.
    let at = |base: u64, i: u64, size: u64| -> Result<u64> {
        i.checked_mul(size)
            .and_then(|o| base.checked_add(o))
            .ok_or_else(|| Error::Invalid("ELF: a section offset overflows".into()))
    };
    // (type, offset, size, entry size, linked section) of a section header.
    let section = |i: u64| -> Result<(u32, u64, u64, u64, u32)> {
        let h = at(shoff, i, u64::from(shentsize))?;
        let f = |o: u64| at(h, 1, o);
        if r.is64 {
            Ok((
                r.u32(f(4)?)?,
                r.u64(f(24)?)?,
                r.u64(f(32)?)?,
                r.u64(f(56)?)?,
                r.u32(f(40)?)?,
            ))
        } else {
            let w = |o| r.u32(f(o)?).map(u64::from);
            Ok((r.u32(f(4)?)?, w(16)?, w(20)?, w(36)?, r.u32(f(24)?)?))
        }
    };
    let mut out = Vec::new();
    if shoff == 0 {
        return Ok(out);
    }
    for i in 0..u64::from(shnum) {
        let (kind, off, size, ent, link) = section(i)?;
        if kind != SHT_DYNSYM || ent == 0 {
            continue;
        }
        let (_, stroff, strsize, _, _) = section(u64::from(link))?;
        let strtab = r.bytes(stroff, strsize)?;
        for k in 0..size / ent {
            let sym = at(off, k, ent)?;
            let shndx = r.u16(at(sym, 1, if r.is64 { 6 } else { 14 })?)?;
            let name = usize::try_from(r.u32(sym)?).unwrap_or(usize::MAX);
            let Some(tail) = strtab.get(name..) else {
                continue;
            };
            if shndx != 0 && tail.starts_with(prefix) {
                let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
                r.strings.charge(end)?;
                out.push(String::from_utf8_lossy(&tail[..end]).into_owned());
            }
        }
    }
    Ok(out)
}

/// The ELF header: class, byte order, type and machine; a reader for the rest.
fn header(b: &[u8]) -> Result<(R<'_>, Elf)> {
    if !is_elf(b) || b.len() < 0x34 {
        return Err(Error::Invalid("not an ELF file".into()));
    }
    let class = match b[4] {
        1 => 32,
        2 => 64,
        c => return Err(Error::Invalid(format!("ELF: unknown class {c}"))),
    };
    let le = match b[5] {
        1 => true,
        2 => false,
        d => return Err(Error::Invalid(format!("ELF: unknown byte order {d}"))),
    };
    let r = R {
        b,
        le,
        is64: class == 64,
        strings: Strings::new(b, "ELF"),
        versions: Cell::new(0),
    };
    let elf = Elf {
        class,
        little_endian: le,
        e_type: r.u16(16)?,
        machine: r.u16(18)?,
        ..Default::default()
    };
    Ok((r, elf))
}

/// What the program headers say besides `PT_INTERP`: the loaded segments (to map addresses
/// to offsets) and where the dynamic section is.
struct Segments {
    loads: Vec<Load>,
    /// (offset, size) of `PT_DYNAMIC`.
    dynamic: Option<(u64, u64)>,
}

/// Reads the program headers; `PT_INTERP` goes straight into `elf`.
fn program_headers(r: &R, elf: &mut Elf) -> Result<Segments> {
    let (phoff, phentsize, phnum) = if r.is64 {
        (r.u64(32)?, r.u16(54)?, r.u16(56)?)
    } else {
        (u64::from(r.u32(28)?), r.u16(42)?, r.u16(44)?)
    };
    let mut out = Segments {
        loads: Vec::new(),
        dynamic: None,
    };
    for i in 0..u64::from(phnum) {
        let ph = phoff + i * u64::from(phentsize);
        let p_type = r.u32(ph)?;
        let (offset, vaddr, filesz) = if r.is64 {
            (r.u64(ph + 8)?, r.u64(ph + 16)?, r.u64(ph + 32)?)
        } else {
            (
                u64::from(r.u32(ph + 4)?),
                u64::from(r.u32(ph + 8)?),
                u64::from(r.u32(ph + 16)?),
            )
        };
        match p_type {
            PT_LOAD => out.loads.push(Load {
                vaddr,
                offset,
                filesz,
            }),
            PT_DYNAMIC => out.dynamic = Some((offset, filesz)),
            PT_INTERP => {
                let s = name(r.bytes(offset, filesz)?, || "ELF: PT_INTERP".into())?;
                elf.interp = Some(String::from_utf8_lossy(s).into_owned());
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The dynamic section: its (tag, value) entries up to `DT_NULL`, and its string table.
struct Dynamic<'a, 'b> {
    r: &'a R<'b>,
    loads: &'a [Load],
    tags: Vec<(u64, u64)>,
    strtab: u64,
}

impl<'a, 'b> Dynamic<'a, 'b> {
    fn read(r: &'a R<'b>, loads: &'a [Load], off: u64, size: u64) -> Result<Self> {
        let ent = if r.is64 { 16 } else { 8 };
        let mut tags: Vec<(u64, u64)> = Vec::new();
        for i in 0..size / ent {
            let o = off + i * ent;
            let tag = r.word(o)?;
            if tag == DT_NULL {
                break;
            }
            tags.push((tag, r.word(o + ent / 2)?));
        }
        let mut d = Dynamic {
            r,
            loads,
            tags,
            strtab: 0,
        };
        d.strtab = d
            .get(DT_STRTAB)
            .and_then(|v| d.offset(v))
            .ok_or_else(|| Error::Invalid("ELF: dynamic section without a string table".into()))?;
        Ok(d)
    }
    /// The value of the first entry tagged `t`.
    fn get(&self, t: u64) -> Option<u64> {
        self.tags.iter().find(|(k, _)| *k == t).map(|(_, v)| *v)
    }
    /// The file offset of a virtual address.
    fn offset(&self, vaddr: u64) -> Option<u64> {
        vaddr_to_off(self.loads, vaddr)
    }
    /// The string at `off` in the string table.
    fn str(&self, off: u64) -> Result<String> {
        self.r.cstr(self.strtab + off)
    }
    /// The run path at `off` in the string table: at most `MAX_RUN_PATH`.
    fn run_path(&self, off: u64) -> Result<String> {
        self.r.strings.within(self.strtab + off, MAX_RUN_PATH)
    }
    /// Where the table that `table` points to starts and how many entries `count` says it
    /// has, when the section has both.
    fn table(&self, table: u64, count: u64, name: &str) -> Result<Option<(u64, u64)>> {
        let (Some(v), Some(n)) = (self.get(table), self.get(count)) else {
            return Ok(None);
        };
        let off = self
            .offset(v)
            .ok_or_else(|| Error::Invalid(format!("ELF: {name} outside the file")))?;
        Ok(Some((off, n)))
    }

    /// `DT_NEEDED`, `DT_SONAME`, `DT_RPATH`, `DT_RUNPATH`.
    fn names(&self, elf: &mut Elf) -> Result<()> {
        for (t, v) in &self.tags {
            match *t {
                DT_NEEDED => elf.needed.push(self.str(*v)?),
                DT_SONAME => elf.soname = Some(self.str(*v)?),
                // A run path is a list of directories, not one path.
                DT_RPATH => elf.rpath = Some(self.run_path(*v)?),
                DT_RUNPATH => elf.runpath = Some(self.run_path(*v)?),
                _ => {}
            }
        }
        Ok(())
    }

    /// Calls `f` with the offset of each entry of a chain that starts at `off`: at most `n`
    /// entries, each linked to the next by the offset (relative, 0 ends the chain) stored at
    /// `next_at` in it. Each entry counts against `MAX_ELF_VERSIONS`.
    fn walk(
        &self,
        mut off: u64,
        n: u64,
        next_at: u64,
        mut f: impl FnMut(u64) -> Result<()>,
    ) -> Result<()> {
        for _ in 0..n {
            self.r.version_entry()?;
            f(off)?;
            let next = self.r.u32(off + next_at)?;
            if next == 0 {
                break;
            }
            off += u64::from(next);
        }
        Ok(())
    }

    /// The version needs: `Elf_Verneed` entries (one per library), each with its
    /// `Elf_Vernaux` entries (one per version).
    fn version_needs(&self, elf: &mut Elf) -> Result<()> {
        let r = self.r;
        let Some((first, n)) = self.table(DT_VERNEED, DT_VERNEEDNUM, "DT_VERNEED")? else {
            return Ok(());
        };
        self.walk(first, n, 12, |off| {
            let cnt = r.u16(off + 2)?;
            let file = self.str(u64::from(r.u32(off + 4)?))?;
            let aux = off + u64::from(r.u32(off + 8)?);
            self.walk(aux, u64::from(cnt), 12, |aux| {
                let flags = r.u16(aux + 4)?;
                // Each entry keeps its own copy of the library's name.
                r.strings.charge(file.len())?;
                elf.version_needs.push(VersionNeed {
                    file: file.clone(),
                    version: self.str(u64::from(r.u32(aux + 8)?))?,
                    weak: flags & VER_FLG_WEAK != 0,
                });
                Ok(())
            })
        })
    }

    /// The versions the object defines: each `Elf_Verdef`'s first name, but for the base
    /// definition (the object's own name).
    fn version_defs(&self, elf: &mut Elf) -> Result<()> {
        let r = self.r;
        let Some((first, n)) = self.table(DT_VERDEF, DT_VERDEFNUM, "DT_VERDEF")? else {
            return Ok(());
        };
        self.walk(first, n, 16, |off| {
            let flags = r.u16(off + 2)?;
            let aux = off + u64::from(r.u32(off + 12)?);
            if flags & VER_FLG_BASE == 0 {
                elf.version_defs.push(self.str(u64::from(r.u32(aux)?))?);
            }
            Ok(())
        })
    }
}

impl Elf {
    /// A program (has a loader, or is a non-PIE executable) rather than a library.
    pub fn is_program(&self) -> bool {
        self.interp.is_some() || self.e_type == 2
    }
    /// The libc family the loader names.
    pub fn libc(&self) -> Option<Libc> {
        let i = self.interp.as_deref()?;
        if i.contains("ld-musl") {
            Some(Libc::Musl)
        } else if i.contains("ld-linux") || i.contains("ld64.so") || i.contains("ld.so") {
            Some(Libc::Glibc)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_running_test_binary() {
        // The test binary itself is a dynamically linked glibc program on the build host.
        let b = std::fs::read("/proc/self/exe").unwrap();
        let e = parse(&b).unwrap();
        assert!(e.is_program());
        assert!(e.needed.iter().any(|n| n.starts_with("libc.so")));
        assert!(
            e.version_needs
                .iter()
                .any(|v| v.version.starts_with("GLIBC_2."))
        );
    }

    #[test]
    fn defined_dynamic_symbols_by_prefix() {
        // The C library the test binary runs with defines gnu_get_libc_version and _release.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let libc = maps
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .find(|p| p.contains("/libc.so"));
        // A static or musl build of the tests maps none: nothing to compare with.
        let Some(libc) = libc else { return };
        let b = std::fs::read(libc).unwrap();
        let mut got = defined_symbols_starting(&b, b"gnu_get_libc_").unwrap();
        got.sort();
        assert_eq!(got, ["gnu_get_libc_release", "gnu_get_libc_version"]);
        // The test binary only uses malloc: an undefined symbol is not defined.
        let exe = std::fs::read("/proc/self/exe").unwrap();
        assert!(
            defined_symbols_starting(&exe, b"malloc")
                .unwrap()
                .is_empty()
        );
        for n in [0, 20, 64, 1000] {
            let _ = defined_symbols_starting(&b[..n], b"gnu_");
        }
        // Section offsets near u64::MAX are errors, not overflows.
        let mut bad = b.clone();
        bad[0x28..0x30].copy_from_slice(&(u64::MAX - 1).to_le_bytes());
        assert!(defined_symbols_starting(&bad, b"gnu_").is_err());
    }

    #[test]
    fn truncated_files_are_errors_not_panics() {
        let b = std::fs::read("/proc/self/exe").unwrap();
        for n in [0, 3, 4, 20, 52, 64, 200, 1000] {
            let _ = parse(&b[..n.min(b.len())]);
        }
        assert!(parse(b"\x7fELF").is_err());
        assert!(parse(b"#!/bin/sh\n").is_err());
    }

    /// Lays out a small dynamic ELF by hand: one PT_LOAD over the whole file, PT_INTERP,
    /// PT_DYNAMIC with the tags `parse` reads, a version need (two entries) and a version
    /// definition (the base one, which is skipped, and one more).
    fn synthetic(is64: bool, le: bool) -> Vec<u8> {
        struct W {
            b: Vec<u8>,
            le: bool,
        }
        impl W {
            fn put(&mut self, off: usize, v: u64, n: usize) {
                for (i, byte) in v.to_le_bytes().into_iter().take(n).enumerate() {
                    self.b[off + if self.le { i } else { n - 1 - i }] = byte;
                }
            }
        }
        let mut w = W {
            b: vec![0u8; 0x400],
            le,
        };
        let word = if is64 { 8 } else { 4 };
        const VADDR: u64 = 0x10000;
        w.b[..4].copy_from_slice(MAGIC);
        w.b[4] = if is64 { 2 } else { 1 };
        w.b[5] = if le { 1 } else { 2 };
        w.put(16, 3, 2);
        w.put(18, u64::from(EM_X86_64), 2);
        let (phoff, phent) = if is64 { (64, 56) } else { (52, 32) };
        if is64 {
            w.put(32, phoff as u64, 8);
            w.put(54, phent as u64, 2);
            w.put(56, 3, 2);
        } else {
            w.put(28, phoff as u64, 4);
            w.put(42, phent as u64, 2);
            w.put(44, 3, 2);
        }
        let (interp, dynamic, strtab, verneed, verdef) = (0x100, 0x140, 0x200, 0x300, 0x340);
        for (i, (t, off, size)) in [
            (PT_LOAD, 0u64, 0x400u64),
            (PT_INTERP, interp, 25),
            (PT_DYNAMIC, dynamic, 12 * 2 * word as u64),
        ]
        .into_iter()
        .enumerate()
        {
            let ph = phoff + i * phent;
            w.put(ph, u64::from(t), 4);
            let (o, v, f) = if is64 { (8, 16, 32) } else { (4, 8, 16) };
            w.put(ph + o, off, word);
            w.put(ph + v, VADDR + off, word);
            w.put(ph + f, size, word);
        }
        w.b[interp as usize..][..24].copy_from_slice(b"/lib/ld-musl-x86_64.so.1");
        let names =
            b"\0libc.so.6\0libm.so.6\0libx.so.1\0$ORIGIN\0GLIBC_2.34\0GLIBC_2.2.5\0libx\0V_1\0";
        w.b[strtab..][..names.len()].copy_from_slice(names);
        let at = |s: &[u8]| names.windows(s.len()).position(|x| x == s).unwrap() as u64;
        let tags = [
            (DT_NEEDED, at(b"libc.so.6")),
            (DT_NEEDED, at(b"libm.so.6")),
            (DT_SONAME, at(b"libx.so.1")),
            (DT_RUNPATH, at(b"$ORIGIN")),
            (DT_STRTAB, VADDR + strtab as u64),
            (DT_VERNEED, VADDR + verneed as u64),
            (DT_VERNEEDNUM, 1),
            (DT_VERDEF, VADDR + verdef as u64),
            (DT_VERDEFNUM, 2),
            (DT_NULL, 0),
        ];
        for (i, (t, v)) in tags.into_iter().enumerate() {
            w.put(dynamic as usize + i * 2 * word, t, word);
            w.put(dynamic as usize + i * 2 * word + word, v, word);
        }
        // Verneed: cnt 2, file, aux at +16; two vernaux 16 bytes apart, the second weak.
        w.put(verneed + 2, 2, 2);
        w.put(verneed + 4, at(b"libc.so.6"), 4);
        w.put(verneed + 8, 16, 4);
        w.put(verneed + 16 + 8, at(b"GLIBC_2.34"), 4);
        w.put(verneed + 16 + 12, 16, 4);
        w.put(verneed + 32 + 4, u64::from(VER_FLG_WEAK), 2);
        w.put(verneed + 32 + 8, at(b"GLIBC_2.2.5"), 4);
        // Verdef: the base definition (the file's own name), then V_1; aux right after each.
        w.put(verdef + 2, u64::from(VER_FLG_BASE), 2);
        w.put(verdef + 12, 20, 4);
        w.put(verdef + 16, 28, 4);
        w.put(verdef + 20, at(b"libx"), 4);
        w.put(verdef + 28 + 12, 20, 4);
        w.put(verdef + 28 + 20, at(b"V_1"), 4);
        w.b
    }

    #[test]
    fn every_part_is_read_in_both_classes_and_byte_orders() {
        for (is64, le) in [(true, true), (false, false), (true, false), (false, true)] {
            let e = parse(&synthetic(is64, le)).unwrap();
            let need = |v: &str, weak| VersionNeed {
                file: "libc.so.6".into(),
                version: v.into(),
                weak,
            };
            assert_eq!(
                e,
                Elf {
                    class: if is64 { 64 } else { 32 },
                    little_endian: le,
                    e_type: 3,
                    machine: EM_X86_64,
                    interp: Some("/lib/ld-musl-x86_64.so.1".into()),
                    needed: vec!["libc.so.6".into(), "libm.so.6".into()],
                    soname: Some("libx.so.1".into()),
                    rpath: None,
                    runpath: Some("$ORIGIN".into()),
                    version_needs: vec![need("GLIBC_2.34", false), need("GLIBC_2.2.5", true)],
                    version_defs: vec!["V_1".into()],
                    dynamic: true,
                },
                "is64 {is64}, le {le}"
            );
            assert_eq!(e.libc(), Some(Libc::Musl));
        }
    }

    #[test]
    fn malformed_parts_are_named() {
        let ok = synthetic(true, true);
        let err = |b: &[u8]| parse(b).unwrap_err().to_string();
        let with = |at: usize, v: &[u8]| {
            let mut b = ok.clone();
            b[at..at + v.len()].copy_from_slice(v);
            b
        };
        // (what is broken, the bytes, the message)
        let table: Vec<(&str, Vec<u8>, &str)> = vec![
            ("class", with(4, &[7]), "ELF: unknown class 7"),
            ("byte order", with(5, &[9]), "ELF: unknown byte order 9"),
            // The DT_STRTAB entry (the fifth) becomes DT_NULL: no string table.
            (
                "string table",
                with(0x140 + 4 * 16, &[0; 16]),
                "ELF: dynamic section without a string table",
            ),
            // DT_VERNEED (the sixth) points past every PT_LOAD.
            (
                "verneed",
                with(0x140 + 5 * 16 + 8, &[0, 0, 0, 1]),
                "ELF: DT_VERNEED outside the file",
            ),
            (
                "verdef",
                with(0x140 + 7 * 16 + 8, &[0, 0, 0, 1]),
                "ELF: DT_VERDEF outside the file",
            ),
            (
                "interp",
                with(0x40 + 56 + 32, &[0xff, 0xff]),
                "ELF: 65535 bytes at offset 256 lie outside the file (1024 bytes)",
            ),
        ];
        for (what, b, msg) in table {
            assert_eq!(err(&b), msg, "{what}");
        }
        // Without PT_DYNAMIC (the third program header becomes PT_NULL): a static program.
        let e = parse(&with(0x40 + 2 * 56, &[0; 4])).unwrap();
        assert!(!e.dynamic && e.needed.is_empty() && e.interp.is_some());
    }

    /// A little-endian ELF64 with one PT_LOAD over the whole file at `VADDR`, a PT_DYNAMIC
    /// holding `tags` (DT_STRTAB at the start of `tail`, DT_NULL added) and `tail` after it;
    /// `tags` may name `tail`'s address as `TAIL`, and offsets in it are added to it.
    fn dyn_elf(tags: &[(u64, u64)], tail: &[u8]) -> Vec<u8> {
        const VADDR: u64 = 0x10000;
        let dynamic = 64 + 2 * 56;
        let n = tags.len() + 2;
        let tail_at = (dynamic + n * 16) as u64;
        let mut b = vec![0u8; tail_at as usize];
        b[..4].copy_from_slice(MAGIC);
        (b[4], b[5]) = (2, 1);
        let put = |b: &mut Vec<u8>, at: usize, v: u64, len: usize| {
            b[at..at + len].copy_from_slice(&v.to_le_bytes()[..len]);
        };
        put(&mut b, 16, 3, 2);
        put(&mut b, 18, u64::from(EM_X86_64), 2);
        put(&mut b, 32, 64, 8);
        put(&mut b, 54, 56, 2);
        put(&mut b, 56, 2, 2);
        let total = tail_at + tail.len() as u64;
        for (i, (t, off, size)) in [
            (PT_LOAD, 0, total),
            (PT_DYNAMIC, dynamic as u64, n as u64 * 16),
        ]
        .into_iter()
        .enumerate()
        {
            let ph = 64 + i * 56;
            put(&mut b, ph, u64::from(t), 4);
            put(&mut b, ph + 8, off, 8);
            put(&mut b, ph + 16, VADDR + off, 8);
            put(&mut b, ph + 32, size, 8);
        }
        let all = [(DT_STRTAB, VADDR + tail_at)]
            .into_iter()
            .chain(tags.iter().map(|&(t, v)| match t {
                DT_VERNEED | DT_VERDEF => (t, VADDR + tail_at + v),
                _ => (t, v),
            }));
        for (i, (t, v)) in all.enumerate() {
            put(&mut b, dynamic + i * 16, t, 8);
            put(&mut b, dynamic + i * 16 + 8, v, 8);
        }
        b.extend_from_slice(tail);
        b
    }

    /// Regression: `DT_VERNEEDNUM` was capped but each entry's `vn_cnt` was not, and all
    /// entries may share one 65,535-entry aux chain: a 1 MB file took 2 GB (256 entries) or
    /// aborted (4,096).
    #[test]
    fn version_entries_sharing_one_chain_stop_at_the_limit() {
        let (vns, auxes) = (40_960usize, 65_535usize);
        let aux_at = 32 + vns * 16;
        let mut tail = b"\0libc.so.6\0GLIBC_2.2.5\0".to_vec();
        tail.resize(32, 0);
        for i in 0..vns {
            let mut vn = [0u8; 16];
            vn[2..4].copy_from_slice(&(auxes as u16).to_le_bytes());
            vn[4..8].copy_from_slice(&1u32.to_le_bytes());
            vn[8..12].copy_from_slice(&((aux_at - (32 + i * 16)) as u32).to_le_bytes());
            vn[12..16].copy_from_slice(&16u32.to_le_bytes());
            tail.extend_from_slice(&vn);
        }
        for _ in 0..auxes {
            let mut aux = [0u8; 16];
            aux[8..12].copy_from_slice(&11u32.to_le_bytes());
            aux[12..16].copy_from_slice(&16u32.to_le_bytes());
            tail.extend_from_slice(&aux);
        }
        let b = dyn_elf(&[(DT_VERNEED, 32), (DT_VERNEEDNUM, vns as u64)], &tail);
        let e = parse(&b).unwrap_err().to_string();
        assert!(e.ends_with("(MAX_ELF_VERSIONS)"), "{e}");
    }

    /// Regression: a thousand `DT_NEEDED` at one NUL-free 1 MB string were each copied
    /// (19 s, 2 GB); a string has at most `PATH_MAX` bytes, and strings read again and again
    /// stop at the file's size.
    #[test]
    fn needed_names_pointing_at_one_long_string_stop_at_the_limits() {
        let needed = |n: usize| vec![(DT_NEEDED, 1); n];
        let mut tail = vec![0u8];
        tail.extend(std::iter::repeat_n(b'x', 1 << 20));
        let e = parse(&dyn_elf(&needed(10_000), &tail))
            .unwrap_err()
            .to_string();
        assert!(e.contains("longer than the limit"), "{e}");
        assert!(e.ends_with("(PATH_MAX)"), "{e}");
        let mut tail = vec![0u8];
        tail.extend(std::iter::repeat_n(b'x', 4000));
        tail.push(0);
        let e = parse(&dyn_elf(&needed(10_000), &tail))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("(STRINGS_PER_FILE)"), "{e}");
        // Ten of them are fine.
        let e = parse(&dyn_elf(&needed(10), &tail)).unwrap();
        assert_eq!(e.needed.len(), 10);
    }

    /// Regression: run paths were read as one path, at most `PATH_MAX`: a library with a
    /// 4,849-byte `DT_RUNPATH` (Nix, Guix and Spack builds list many directories) was a
    /// bad library. A run path is a list; it may take `MAX_RUN_PATH`.
    #[test]
    fn run_paths_longer_than_path_max_are_read() {
        let dirs = (0..80)
            .map(|i| format!("/nix/store/{i:032}-some-package-1.0/lib"))
            .collect::<Vec<_>>()
            .join(":");
        assert!(dirs.len() > 4096, "{}", dirs.len());
        let mut tail = vec![0u8];
        tail.extend_from_slice(dirs.as_bytes());
        tail.push(0);
        let e = parse(&dyn_elf(&[(DT_RUNPATH, 1), (DT_RPATH, 1)], &tail)).unwrap();
        assert_eq!(e.runpath.as_deref(), Some(dirs.as_str()));
        assert_eq!(e.rpath.as_deref(), Some(dirs.as_str()));
        // Past its own limit, a run path is refused by its name.
        let mut tail = vec![0u8];
        tail.extend(std::iter::repeat_n(b'x', (64 << 10) + 10));
        tail.push(0);
        let e = parse(&dyn_elf(&[(DT_RUNPATH, 1)], &tail))
            .unwrap_err()
            .to_string();
        assert!(e.contains("longer than the limit"), "{e}");
        assert!(e.ends_with("(MAX_RUN_PATH)"), "{e}");
    }

    #[test]
    fn libc_defines_glibc_versions() {
        let p = ["/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("the test host has glibc");
        let e = parse(&std::fs::read(p).unwrap()).unwrap();
        assert!(
            e.version_defs
                .iter()
                .any(|v| v == "GLIBC_2.2.5" || v == "GLIBC_2.17")
        );
        assert_eq!(e.soname.as_deref(), Some("libc.so.6"));
    }
}
