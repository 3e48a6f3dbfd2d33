//! Type conflicts: an application entry that is a directory where the base has something else
//! at that path (or the reverse). Extracting it replaces the base's entry, and with a symlink
//! (a merged `/usr`'s `/lib`) everything the base reaches through it.

use super::abs;
use super::report::{Finding, Severity};
use crate::layer::entry::{Kind, Shape};
use crate::view::fs::{AppEntry, AppOp, Fs};

pub fn check(fs: &Fs, app: &[&AppEntry], out: &mut Vec<Finding>) {
    for e in app {
        let AppOp::Put(shape) = e.op else { continue };
        let Ok(at) = fs.base.resolve_parent(&e.path) else {
            continue;
        };
        let Some(b) = fs.base.get(&at) else { continue };
        if (shape == Shape::Dir) == (b.kind == Kind::Dir) {
            continue;
        }
        let base_desc = match &b.kind {
            Kind::Symlink(t) => format!(
                "the base's symlink {} -> {}",
                abs(&at),
                String::from_utf8_lossy(t)
            ),
            k => format!("the base's {} {}", k.name(), abs(&at)),
        };
        out.push(Finding::new(
            Severity::Error,
            "type-conflict",
            &abs(&e.path),
            format!("a {} (layer {})", shape.name(), e.layer),
            format!("it replaces {base_desc}, and everything the base has through it"),
        ));
    }
}
