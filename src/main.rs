//! The `regraft` binary: parse, run, print the error chain, map to an exit code.

mod cli;
mod run;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprint!("regraft: error: {}", e);
            let mut src = e.source();
            while let Some(s) = src {
                eprint!(": {s}");
                src = s.source();
            }
            eprintln!();
            let usage = e
                .downcast_ref::<regraft::Error>()
                .is_some_and(regraft::Error::is_usage);
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
