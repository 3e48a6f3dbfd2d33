//! What counts as the application in the result, and what the check reads of it: its nodes in
//! the result, the raw entries of its layers, and its ELF files and scripts (sniffed first,
//! then read whole).

use super::report::{Checked, Finding, Severity};
use super::{CheckInput, abs, under};
use crate::error::Result;
use crate::formats::elf;
use crate::layer::entry::Kind;
use crate::view::fs::{AppEntry, Fs};
use crate::view::merged::{Key, Node};

/// An application ELF file, parsed.
pub struct AppElf {
    pub path: String,
    pub elf: elf::Elf,
}

/// An application script: its path and its `#!` line (without the `#!`).
pub struct Script {
    pub path: String,
    pub line: Vec<u8>,
}

/// The application as the check sees it.
pub struct App {
    /// How many nodes it has in the result (`nodes` walks them: no list of them is kept, a
    /// large application's would be 16 bytes an entry).
    count: usize,
    /// Layers at and above it are the application's.
    boundary: usize,
    /// The selections as given and as resolved in the result (`raw`, `nodes`).
    paths: Vec<Vec<u8>>,
    sels: Vec<Vec<u8>>,
    pub elves: Vec<AppElf>,
    pub scripts: Vec<Script>,
}

impl App {
    /// Finds the application's nodes and entries and reads its ELF files and scripts; an ELF
    /// file that does not parse is a warning in `out`.
    pub fn read(fs: &Fs, input: &CheckInput<'_>, out: &mut Vec<Finding>) -> Result<App> {
        let sels: Vec<Vec<u8>> = input
            .paths
            .iter()
            .map(|p| fs.result.resolve(p).unwrap_or_else(|_| p.clone()))
            .collect();
        let mut app = App {
            count: 0,
            boundary: input.boundary,
            sels,
            paths: input.paths.to_vec(),
            elves: Vec::new(),
            scripts: Vec::new(),
        };
        app.count = app.nodes(fs).count();
        app.read_programs(fs, out)?;
        Ok(app)
    }

    pub fn checked(&self) -> Checked {
        Checked {
            elf_files: self.elves.len(),
            scripts: self.scripts.len(),
            application_entries: self.count,
        }
    }

    /// The ELF files and the executable scripts among the application's files.
    fn read_programs(&mut self, fs: &Fs, out: &mut Vec<Finding>) -> Result<()> {
        let (mut elves, mut scripts) = (Vec::new(), Vec::new());
        for (p, n) in self.nodes(fs) {
            if n.kind != Kind::File {
                continue;
            }
            // Files are sniffed first: an uncompressed layer's data is read where it lies, and
            // only ELF files and scripts are read whole.
            match fs.head(n, 4)? {
                Some(h) if elf::is_elf(&h) || h.starts_with(b"#!") => {}
                _ => continue,
            }
            let Some(d) = fs.data(n)? else { continue };
            if elf::is_elf(&d) {
                match elf::parse(&d) {
                    Ok(e) => elves.push(AppElf {
                        path: abs(p),
                        elf: e,
                    }),
                    Err(e) => out.push(Finding::new(
                        Severity::Warning,
                        "unreadable-elf",
                        &abs(p),
                        "a readable ELF file".into(),
                        e.chain(),
                    )),
                }
            } else if d.starts_with(b"#!") && n.meta.mode & 0o111 != 0 {
                let line = d[2..].split(|&b| b == b'\n').next().unwrap_or_default();
                scripts.push(Script {
                    path: abs(p),
                    line: line.to_vec(),
                });
            }
        }
        self.elves = elves;
        self.scripts = scripts;
        Ok(())
    }
}

impl App {
    /// The application's nodes in the result, in path order: those of the layers above the
    /// base, or with `--path` the subtrees of the selections (resolved in the result; one
    /// selection inside another is walked twice, as it was listed).
    pub fn nodes<'f>(&'f self, fs: &'f Fs) -> Box<dyn Iterator<Item = (&'f Key, &'f Node)> + 'f> {
        if self.sels.is_empty() {
            let boundary = self.boundary;
            Box::new(
                fs.result
                    .nodes
                    .iter()
                    .filter(move |(_, n)| n.layer() >= boundary),
            )
        } else {
            Box::new(self.sels.iter().flat_map(|s| fs.result.subtree(s)))
        }
    }

    /// The raw entries of the layers above the base (under the selections, with `--path`),
    /// where `fs` keeps them.
    pub fn raw<'f>(&self, fs: &'f Fs) -> Vec<&'f AppEntry> {
        let (paths, sels) = (&self.paths, &self.sels);
        fs.app
            .iter()
            .filter(|e| paths.is_empty() || paths.iter().chain(sels).any(|s| under(&e.path, s)))
            .collect()
    }
}
