//! The commands on top: the global flags set up once, then one function per subcommand, each in
//! its own file, turning its validated arguments into library calls and printing the results.

#[macro_use]
mod print;

mod add;
mod append;
mod check;
mod config;
mod convert;
mod cp;
mod diff;
mod docs;
mod edit;
mod flatten;
mod graft;
mod inspect;
mod ls;
mod packages;
mod patch;
mod raw;
mod rm;
mod sbom;
mod triage;
mod verify;

use crate::cli::{Cli, Command};
use anyhow::Result;

/// Runs the command line; the result is the exit code.
pub fn run(cli: Cli) -> Result<u8> {
    let g = cli.global.validate()?;
    if cli.command.is_some() && g.platforms.several() {
        return Err(regraft::Error::Usage(format!(
            "--platform {}: a command reads one image; give one platform (only the graft takes several, or all)",
            cli.global.platform.as_deref().unwrap_or_default()
        ))
        .into());
    }
    regraft::store::registry::configure(cli.global.registry_options()?);
    // The commands that read an image's layers once stream them; the others (the graft and
    // its check, the edits, diff, triage, packages) keep what they read from a registry.
    regraft::store::registry::keep_blobs(!matches!(
        cli.command,
        Some(Command::Inspect(_))
            | Some(Command::Verify(_))
            | Some(Command::Convert(_))
            | Some(Command::Cp(_))
            | Some(Command::Ls(_))
    ));
    regraft::progress::set_verbose(cli.global.verbose);
    regraft::progress::set_quiet(cli.global.quiet);
    if wants_progress(&cli) {
        regraft::progress::start();
    }
    match cli.command {
        Some(Command::Inspect(a)) => inspect::run(&a, &g),
        Some(Command::Verify(a)) => verify::run(&a, &g),
        Some(Command::Convert(a)) => convert::run(&a, &g),
        Some(Command::Cp(a)) => cp::run(&a, &g),
        Some(Command::Ls(a)) => ls::run(&a, &g),
        Some(Command::Add(a)) => add::run(&a, &g),
        Some(Command::Append(a)) => append::run(&a, &g),
        Some(Command::Flatten(a)) => flatten::run(&a, &g),
        Some(Command::Rm(a)) => rm::run(&a, &g),
        Some(Command::Config(a)) => config::run(&a, &g),
        Some(Command::Triage(a)) => triage::run(&a, &g),
        Some(Command::Packages(a)) => packages::run(&a, &g),
        Some(Command::Sbom(a)) => sbom::run(&a, &g),
        Some(Command::Diff(a)) => diff::run(&a, &g),
        Some(Command::Patch(a)) => patch::run(&a, &g),
        Some(Command::Check(a)) => check::run(&a, &g),
        Some(Command::Manifest(a)) => raw::manifest(&a, &g),
        Some(Command::ConfigBlob(a)) => raw::config_blob(&a, &g),
        Some(Command::Digest(a)) => raw::digest(&a, &g),
        Some(Command::Blob(a)) => raw::blob(&a, &g),
        Some(Command::Completions { shell }) => docs::completions(shell),
        Some(Command::Man) => docs::man(),
        None => graft::run(&cli.graft, &g),
    }
}

/// Progress: on a terminal unless -q, or wherever --progress asks; never for the commands that
/// read no layers and print a document (completions, the man page).
fn wants_progress(cli: &Cli) -> bool {
    !cli.global.quiet
        && (cli.global.progress || std::io::IsTerminal::is_terminal(&std::io::stderr()))
        && !matches!(
            cli.command,
            Some(Command::Completions { .. }) | Some(Command::Man)
        )
}
