//! Parsers of files found inside images, pure and bounded by what they are given: ELF,
//! `ld.so.cache`, `/etc/passwd` and `/etc/group`, a Python venv's `pyvenv.cfg`, the central directory of a jar (zip),
//! rpm header blobs and the rpm databases that hold them (ndb's `Packages.db`, Berkeley DB hash).

pub mod bdbhash;
pub mod elf;
pub mod ldcache;
pub mod ldcache_write;
pub mod pyvenv;
pub mod rpmheader;
pub mod rpmndb;
pub mod users;
pub mod zip;

mod strings;
