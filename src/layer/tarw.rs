//! Writing layer tars: ustar headers, with a PAX extended header whenever a value does not fit
//! ustar or carries more than it can (long names and link targets, xattrs, sub-second mtimes,
//! large ids and sizes). Output depends only on the entries given: no clock, no host lookups.

use crate::layer::entry::{Kind, Meta};
use std::io::{self, Write};

/// What to write for one entry.
pub enum OutKind<'a> {
    File {
        size: u64,
    },
    Dir,
    Symlink(&'a [u8]),
    /// A hardlink to a path written earlier in the same layer.
    Hardlink(&'a [u8]),
    Char,
    Block,
    Fifo,
}

impl<'a> OutKind<'a> {
    pub fn from_kind(k: &'a Kind, size: u64) -> OutKind<'a> {
        match k {
            Kind::File => OutKind::File { size },
            Kind::Dir => OutKind::Dir,
            Kind::Symlink(t) => OutKind::Symlink(t),
            Kind::Char => OutKind::Char,
            Kind::Block => OutKind::Block,
            Kind::Fifo => OutKind::Fifo,
        }
    }
}

impl OutKind<'_> {
    /// The header's entry type, size and link target.
    fn header_fields(&self) -> (tar::EntryType, u64, Option<&[u8]>) {
        match self {
            OutKind::File { size } => (tar::EntryType::Regular, *size, None),
            OutKind::Dir => (tar::EntryType::Directory, 0, None),
            OutKind::Symlink(t) => (tar::EntryType::Symlink, 0, Some(t)),
            OutKind::Hardlink(t) => (tar::EntryType::Link, 0, Some(t)),
            OutKind::Char => (tar::EntryType::Char, 0, None),
            OutKind::Block => (tar::EntryType::Block, 0, None),
            OutKind::Fifo => (tar::EntryType::Fifo, 0, None),
        }
    }
}

/// The attributes a reader (`layer::entry::parse_entry`) gets back from the header
/// `TarWriter::append_header` writes for `kind` with `meta`: the permission bits only, a
/// device's numbers only for a device, a name cut at a NUL where the ustar field holds it, and
/// an mtime too large for ustar carried (and read back) as a PAX record. A writer that builds
/// the view of the layer it writes without reading it back (path mode's new layer) records
/// these.
pub fn as_read(kind: &OutKind<'_>, meta: &Meta) -> Meta {
    let mut m = meta.clone();
    m.mode &= 0o7777;
    if !matches!(kind, OutKind::Char | OutKind::Block) && m.device() != (0, 0) {
        m.set_device(0, 0);
    }
    let header_mtime = if fits_octal(m.mtime, 12) { m.mtime } else { 0 };
    match m.pax_mtime() {
        Some(p) => {
            m.mtime = p
                .split('.')
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(header_mtime)
        }
        None if !fits_octal(m.mtime, 12) => m.set_pax_mtime(Some(m.mtime.to_string())),
        None => {}
    }
    let field = |n: crate::layer::entry::Name| {
        let b = n.as_bytes();
        match b.iter().position(|&c| c == 0) {
            Some(i) if b.len() <= 32 => crate::layer::entry::Name::new(&b[..i]),
            _ => n,
        }
    };
    m.uname = field(m.uname);
    m.gname = field(m.gname);
    m
}

pub struct TarWriter<W: Write> {
    w: W,
    /// Bytes of tar written so far (each file's data counted by its `pad`).
    len: u64,
}

fn pax_record(out: &mut Vec<u8>, key: &str, val: &[u8]) {
    // "%d %s=%s\n", where the length counts itself.
    let body = key.len() + val.len() + 3;
    let mut len = body + 1;
    loop {
        let total = body + len.to_string().len();
        if total == len {
            break;
        }
        len = total;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(val);
    out.push(b'\n');
}

fn fits_octal(v: u64, width: usize) -> bool {
    // width bytes including the terminating NUL.
    v < 1u64 << (3 * (width - 1))
}

/// The PAX records an entry needs: every value that does not fit its ustar field or carries
/// more than it can (the exact mtime, xattrs).
fn pax_overflow(pax: &mut Vec<u8>, full: &[u8], link: Option<&[u8]>, size: u64, meta: &Meta) {
    let ascii = |b: &[u8]| b.iter().all(|c| c.is_ascii() && *c != 0);
    if full.len() > 100 || !ascii(full) {
        pax_record(pax, "path", full);
    }
    if let Some(t) = link
        && (t.len() > 100 || !ascii(t))
    {
        pax_record(pax, "linkpath", t);
    }
    if !fits_octal(size, 12) {
        pax_record(pax, "size", size.to_string().as_bytes());
    }
    if !fits_octal(meta.uid, 8) {
        pax_record(pax, "uid", meta.uid.to_string().as_bytes());
    }
    if !fits_octal(meta.gid, 8) {
        pax_record(pax, "gid", meta.gid.to_string().as_bytes());
    }
    if let Some(m) = meta.pax_mtime() {
        pax_record(pax, "mtime", m.as_bytes());
    } else if !fits_octal(meta.mtime, 12) {
        pax_record(pax, "mtime", meta.mtime.to_string().as_bytes());
    }
    if meta.uname.as_bytes().len() > 32 {
        pax_record(pax, "uname", meta.uname.as_bytes());
    }
    if meta.gname.as_bytes().len() > 32 {
        pax_record(pax, "gname", meta.gname.as_bytes());
    }
    for (k, v) in meta.xattrs() {
        pax_record(pax, &format!("SCHILY.xattr.{k}"), v);
    }
}

fn set_name_field(field: &mut [u8], v: &[u8]) {
    let n = v.len().min(field.len());
    field[..n].copy_from_slice(&v[..n]);
    for b in &mut field[n..] {
        *b = 0;
    }
}

impl<W: Write> TarWriter<W> {
    pub fn new(w: W) -> Self {
        TarWriter { w, len: 0 }
    }

    fn header_block(
        &mut self,
        name: &[u8],
        kind: &OutKind<'_>,
        meta: &Meta,
        pax: &mut Vec<u8>,
    ) -> io::Result<[u8; 512]> {
        let mut h = tar::Header::new_ustar();
        let (etype, size, link) = kind.header_fields();
        h.set_entry_type(etype);
        // Names: ustar's 100-byte field (a directory gets its trailing slash); longer ones in PAX.
        let mut full = name.to_vec();
        if matches!(kind, OutKind::Dir) {
            full.push(b'/');
        }
        pax_overflow(pax, &full, link, size, meta);
        {
            let old = h.as_old_mut();
            set_name_field(&mut old.name, &full);
            if let Some(t) = link {
                set_name_field(&mut old.linkname, t);
            }
        }
        h.set_mode(meta.mode & 0o7777);
        h.set_uid(if fits_octal(meta.uid, 8) { meta.uid } else { 0 });
        h.set_gid(if fits_octal(meta.gid, 8) { meta.gid } else { 0 });
        h.set_size(if fits_octal(size, 12) { size } else { 0 });
        h.set_mtime(if fits_octal(meta.mtime, 12) {
            meta.mtime
        } else {
            0
        });
        // Always a ustar header (`new_ustar` above).
        if let Some(u) = h.as_ustar_mut() {
            set_name_field(&mut u.uname, meta.uname.as_bytes());
            set_name_field(&mut u.gname, meta.gname.as_bytes());
        }
        if matches!(kind, OutKind::Char | OutKind::Block) {
            let (major, minor) = meta.device();
            h.set_device_major(major)?;
            h.set_device_minor(minor)?;
        }
        h.set_cksum();
        let mut out = [0u8; 512];
        out.copy_from_slice(h.as_bytes());
        Ok(out)
    }

    /// Writes one entry's header(s); the caller then writes exactly `size` data bytes for a file
    /// and calls `pad`.
    pub fn append_header(
        &mut self,
        name: &[u8],
        kind: &OutKind<'_>,
        meta: &Meta,
    ) -> io::Result<()> {
        let mut pax = Vec::new();
        let block = self.header_block(name, kind, meta, &mut pax)?;
        if !pax.is_empty() {
            let mut ph = tar::Header::new_ustar();
            ph.set_entry_type(tar::EntryType::XHeader);
            // A fixed name: the PAX header's own name carries no information.
            set_name_field(&mut ph.as_old_mut().name, b"././@PaxHeader");
            ph.set_mode(0o644);
            ph.set_uid(0);
            ph.set_gid(0);
            ph.set_mtime(0);
            ph.set_size(pax.len() as u64);
            ph.set_cksum();
            self.w.write_all(ph.as_bytes())?;
            self.len += 512;
            self.w.write_all(&pax)?;
            self.pad(pax.len() as u64)?;
        }
        self.w.write_all(&block)?;
        self.len += 512;
        Ok(())
    }

    /// The tar's length so far, when every file's data was followed by `pad`.
    pub fn written(&self) -> u64 {
        self.len
    }

    pub fn data(&mut self) -> &mut W {
        &mut self.w
    }

    /// Pads the `size` data bytes just written to a whole block.
    pub fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (size % 512) as usize;
        if rem != 0 {
            self.w.write_all(&[0u8; 512][..512 - rem])?;
        }
        self.len += size.div_ceil(512) * 512;
        Ok(())
    }

    /// A whiteout or opaque marker: an empty regular file, mode 0, mtime 0, owned by root.
    pub fn append_marker(&mut self, name: &[u8]) -> io::Result<()> {
        self.append_header(name, &OutKind::File { size: 0 }, &Meta::default())
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.w.write_all(&[0u8; 1024])?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn long_names_xattrs_and_links_round_trip_through_the_tar_crate() {
        let long = "d/".repeat(80) + "file";
        let mut meta = Meta {
            mode: 0o4755,
            uid: 1000,
            gid: 3_000_000,
            mtime: 981_173_106,
            uname: crate::layer::entry::Name::new(b"app"),
            ..Default::default()
        };
        meta.set_pax_mtime(Some("981173106.5".into()));
        meta.set_xattrs(vec![(
            "security.capability".into(),
            vec![1, 0, 0, 2, 0, 0x20, 0, 0],
        )]);
        let mut w = TarWriter::new(Vec::new());
        w.append_header(long.as_bytes(), &OutKind::File { size: 3 }, &meta)
            .unwrap();
        w.data().write_all(b"abc").unwrap();
        w.pad(3).unwrap();
        w.append_header(b"l", &OutKind::Hardlink(long.as_bytes()), &meta)
            .unwrap();
        let bytes = w.finish().unwrap();
        let mut ar = tar::Archive::new(&bytes[..]);
        let mut es = ar.entries().unwrap();
        let mut e = es.next().unwrap().unwrap();
        assert_eq!(e.path_bytes().as_ref(), long.as_bytes());
        let le = crate::layer::entry::parse_entry(&mut e).unwrap();
        match le.op {
            crate::layer::entry::Op::Put { meta: m, size, .. } => {
                assert_eq!(m, meta);
                assert_eq!(size, 3);
            }
            _ => panic!("not a file"),
        }
        let mut s = String::new();
        e.read_to_string(&mut s).unwrap();
        assert_eq!(s, "abc");
        let e = es.next().unwrap().unwrap();
        assert_eq!(e.link_name_bytes().unwrap().as_ref(), long.as_bytes());
    }

    /// What `as_read` says a header gives back is what the reader reads, over attributes
    /// that ustar holds, that need PAX records, and that a header drops.
    #[test]
    fn as_read_is_what_the_reader_reads() {
        use crate::layer::entry::{Name, Op, parse_entry};
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let names = [
            &b""[..],
            b"root",
            b"a\0b",
            &[b'u'; 32],
            &[b'v'; 40],
            b"\xff\xfe",
        ];
        let mtimes = [
            0,
            1_700_000_000,
            8u64.pow(11) - 1,
            8u64.pow(11),
            u64::MAX >> 1,
        ];
        for i in 0..600 {
            let mut meta = Meta {
                mode: (next(1 << 20)) as u32,
                uid: [0, 1000, 2_097_151, 2_097_152, 1 << 40][next(5) as usize],
                gid: [0, 7, 2_097_152][next(3) as usize],
                mtime: mtimes[next(5) as usize],
                uname: Name::new(names[next(6) as usize]),
                gname: Name::new(names[next(6) as usize]),
                extra: None,
            };
            match next(4) {
                0 => meta.set_pax_mtime(Some(format!("{}.25", meta.mtime))),
                1 => meta.set_pax_mtime(Some("junk".into())),
                _ => {}
            }
            if next(2) == 0 {
                meta.set_xattrs(vec![("user.k".into(), vec![0, 1, 255])]);
            }
            if next(2) == 0 {
                meta.set_device(next(4096) as u32, next(4096) as u32);
            }
            let kinds = [
                OutKind::File { size: 2 },
                OutKind::Dir,
                OutKind::Symlink(b"../t"),
                OutKind::Char,
                OutKind::Block,
                OutKind::Fifo,
            ];
            let kind = &kinds[i % kinds.len()];
            let mut w = TarWriter::new(Vec::new());
            w.append_header(b"p", kind, &meta).unwrap();
            if let OutKind::File { size } = kind {
                w.data().write_all(&vec![b'x'; *size as usize]).unwrap();
                w.pad(*size).unwrap();
            }
            let bytes = w.finish().unwrap();
            let mut ar = tar::Archive::new(&bytes[..]);
            let mut e = ar.entries().unwrap().next().unwrap().unwrap();
            let got = match parse_entry(&mut e).unwrap().op {
                Op::Put { meta, .. } => meta,
                other => panic!("{other:?}"),
            };
            assert_eq!(got, as_read(kind, &meta), "entry {i}: {meta:?}");
        }
    }
}
