//! The `regraft` binary: parse, run, print the error chain, map to an exit code.

mod cli;
mod run;

use clap::Parser;
use regraft::error::exit;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run::run(cli) {
        Ok(code) => {
            regraft::progress::stop();
            ExitCode::from(code)
        }
        Err(e) => {
            regraft::progress::stop();
            eprint!(
                "regraft: error: {}",
                regraft::sanitize_lines(&e.to_string())
            );
            let mut src = e.source();
            while let Some(s) = src {
                eprint!(": {}", regraft::sanitize_lines(&s.to_string()));
                src = s.source();
            }
            eprintln!();
            let usage = e
                .downcast_ref::<regraft::Error>()
                .is_some_and(regraft::Error::is_usage);
            ExitCode::from(if usage { exit::USAGE } else { exit::ERROR })
        }
    }
}
