//! The merged view built from entries the input describes, one a line: `f PATH`, `d PATH`,
//! `s PATH TARGET` (a symlink), `l PATH TARGET` (a hardlink), `w PATH` (a whiteout), `o PATH`
//! (an opaque directory), `-` (the next layer). Then every path and target is resolved, and
//! every directory's children listed. Deep paths, long chains of links and loops must end in
//! bounded time and memory (`fuzz/run.sh` flags a run over its limits), never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::layer::entry::{DataAt, Kind, LayerEntry, Meta, Op, clean_path};
use regraft::view::MergedView;

fn entry(line: &[u8]) -> Option<LayerEntry> {
    let mut f = line.splitn(3, |&b| b == b' ');
    let (op, path, arg) = (f.next()?, f.next()?, f.next().unwrap_or(b"x"));
    let path = clean_path(path).ok()??;
    let put = |kind| Op::Put {
        kind,
        meta: Meta::default(),
        size: 1,
        data: Some(DataAt::new(0)),
    };
    let op = match op {
        b"f" => put(Kind::File),
        b"d" => put(Kind::Dir),
        b"s" => put(Kind::symlink(arg)),
        b"l" => Op::Link {
            target: clean_path(arg).ok()??,
            meta: Meta::default(),
        },
        b"w" => Op::Whiteout,
        b"o" => Op::Opaque,
        _ => return None,
    };
    Some(LayerEntry {
        path: path.into(),
        op,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut layers: Vec<Vec<LayerEntry>> = vec![Vec::new()];
    let mut wanted: Vec<&[u8]> = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        if line == b"-" {
            layers.push(Vec::new());
            continue;
        }
        wanted.extend(line.split(|&b| b == b' ').skip(1));
        if let (Some(e), Some(l)) = (entry(line), layers.last_mut()) {
            l.push(e);
        }
    }
    let mut v = MergedView::new();
    for (i, l) in layers.into_iter().enumerate() {
        if v.apply_layer(i, l).is_err() {
            break;
        }
    }
    for p in wanted {
        let _ = v.resolve(p);
        let _ = v.resolve_parent(p);
    }
    let dirs: Vec<Vec<u8>> = v
        .nodes
        .iter()
        .filter(|(_, n)| n.kind == Kind::Dir)
        .map(|(k, _)| k.to_vec())
        .collect();
    for d in dirs {
        let _ = v.children(&d).count();
    }
});
