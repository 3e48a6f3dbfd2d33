//! `regraft inspect`: what an image is, as text or JSON; of an index, its platforms too.

use crate::cli::{self, Globals, ImageArgs};
use anyhow::Result;
use regraft::error::exit;
use regraft::source::Source;

pub fn run(a: &ImageArgs, g: &Globals) -> Result<u8> {
    let src = Source::open(&cli::input(&a.image)?)?;
    let img = src.image(g.platform.as_ref())?;
    let mut rep = regraft::inspect::inspect(&img);
    if img.index_digest.is_some()
        && let Some(ip) = src.index_platforms()?
    {
        rep.platforms = ip.platforms.iter().map(ToString::to_string).collect();
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rep)?);
    } else {
        print!("{}", rep.text());
    }
    Ok(exit::OK)
}
