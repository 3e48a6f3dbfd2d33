//! `regraft completions` and `regraft man`: documents made from the command line's own
//! definition.

use crate::cli::Cli;
use anyhow::Result;
use clap::CommandFactory;
use regraft::error::exit;

pub fn completions(shell: clap_complete::Shell) -> Result<u8> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "regraft", &mut std::io::stdout());
    Ok(exit::OK)
}

pub fn man() -> Result<u8> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
    Ok(exit::OK)
}
