//! Parsers of files found inside images, pure and bounded by what they are given: ELF,
//! `ld.so.cache`, `/etc/passwd` and `/etc/group`.

pub mod elf;
pub mod ldcache;
pub mod users;

mod strings;
