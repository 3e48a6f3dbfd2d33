//! The `regraft` binary: parse, run, print the error chain, map to an exit code.

mod cli;
mod commands;

use regraft::error::exit;
use std::process::ExitCode;

/// Parses the command line. Global flags (`-q`, `-v`, `--progress`, `--platform`, ...) may come
/// before a subcommand (`regraft -q verify X`); the graft's own flags may not.
fn parse() -> Result<cli::Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = cli::Cli::command();
    let m = cmd.try_get_matches_from_mut(std::env::args_os())?;
    if let Some((sub, _)) = m.subcommand() {
        let graft_flag = cmd.get_arguments().find(|a| {
            !a.is_global_set()
                && m.value_source(a.get_id().as_str())
                    == Some(clap::parser::ValueSource::CommandLine)
        });
        if let Some(a) = graft_flag {
            return Err(cmd.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("the subcommand '{sub}' cannot be used with '{a}'"),
            ));
        }
    }
    cli::Cli::from_arg_matches(&m)
}

/// glibc's malloc raises its mmap threshold each time a large block is freed (up to 32 MiB),
/// so large transient buffers (I/O, layer entry chunks) move into the per-thread heaps, where
/// they fragment: the peak memory of a graft of many small files then swung from run to run
/// between two values (300k files 64 or 84 MiB, 1M files 169 or 256 MiB, for the same binary
/// and input). A fixed threshold keeps such buffers out of the heaps, and the peak is the
/// lower value every run (BENCHMARKS.md, "Memory per entry, fifth round").
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator, before any thread starts; an
    // unknown value is refused (ignored here: the default then stands).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn main() -> ExitCode {
    tune_malloc();
    let cli = match parse() {
        Ok(c) => c,
        Err(e) => return usage(&e),
    };
    let result = commands::run(cli);
    regraft::progress::stop();
    if let Some(l) = regraft::progress::io_line() {
        regraft::progress::verbose(|| l);
    }
    regraft::store::registry::forget_kept_blobs();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(&e),
    }
}

/// A command line clap refused (exit 2), or `--help`/`--version` (exit 0).
fn usage(e: &clap::Error) -> ExitCode {
    let _ = e.print();
    ExitCode::from(if e.use_stderr() {
        exit::USAGE
    } else {
        exit::OK
    })
}

/// Prints the error and its sources as one chain; exit 2 for a usage error, else 1.
fn fail(e: &anyhow::Error) -> ExitCode {
    let chain: Vec<String> = e
        .chain()
        .map(|s| regraft::text::sanitize_lines(&s.to_string()))
        .collect();
    eprintln!("regraft: error: {}", chain.join(": "));
    let usage = e
        .downcast_ref::<regraft::Error>()
        .is_some_and(regraft::Error::is_usage);
    ExitCode::from(if usage { exit::USAGE } else { exit::ERROR })
}
