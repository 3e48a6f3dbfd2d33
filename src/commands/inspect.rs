//! `regraft inspect`: what an image is, as text or JSON.

use crate::cli::{self, Globals, ImageArgs};
use anyhow::Result;
use regraft::error::exit;
use regraft::source::Source;

pub fn run(a: &ImageArgs, g: &Globals) -> Result<u8> {
    let img = Source::open(&cli::input(&a.image)?)?.image(g.platform.as_ref())?;
    let rep = regraft::inspect::inspect(&img);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rep)?);
    } else {
        print!("{}", rep.text());
    }
    Ok(exit::OK)
}
