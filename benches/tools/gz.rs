//! regraft's gzip encoder for new layers, as one command, so benches/compare.sh can time it
//! beside `pigz` on the same file (whole-process timing, same cores):
//!
//!     cargo run --release --example gz -- LEVEL INPUT OUTPUT
//!
//! Reads INPUT in 1 MiB pieces through `codec::compress::Encoder` (the writer every new gzip
//! layer goes through: libdeflate members of 1 MiB on every core) and writes OUTPUT.

use regraft::codec::compress::{Codec, Encoder};
use std::fs::File;
use std::io::{BufWriter, Read, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let [level, input, output] = &a[..] else {
        return Err("usage: gz LEVEL INPUT OUTPUT".into());
    };
    let codec = Codec::parse(&format!("gzip:{level}"))?;
    let mut r = File::open(input)?;
    let mut e = Encoder::new(
        codec,
        BufWriter::with_capacity(1 << 20, File::create(output)?),
    )?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        e.write_all(&buf[..n])?;
    }
    e.finish()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(())
}
