//! `regraft triage`: a scanner report's findings split into the image's old base and its
//! application. With `--json` a JSON document is printed on every exit, an error's too.

use super::print::emit;
use crate::cli::{Globals, TriageArgs};
use anyhow::Result;
use regraft::error::exit;

pub fn run(a: &TriageArgs, g: &Globals) -> Result<u8> {
    let t = match a.plan(g).and_then(|p| regraft::triage::triage(&p)) {
        Ok(t) => t,
        Err(e) => {
            if a.json {
                print_error(&e)?;
            }
            return Err(e.into());
        }
    };
    if let Some(o) = &a.sarif {
        let mut bytes = serde_json::to_vec_pretty(&regraft::triage::sarif_out::document(&t))?;
        bytes.push(b'\n');
        super::print::write_output_file(o, &bytes)?;
    }
    if a.json {
        emit(&format!("{}\n", t.json()?))?;
    } else {
        emit(&t.text())?;
    }
    Ok(t.exit_code)
}

/// The `--json` document of a triage that failed: the whole error chain, as stderr says it.
fn print_error(e: &regraft::Error) -> Result<()> {
    let code = if e.is_usage() {
        exit::USAGE
    } else {
        exit::ERROR
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "schema": regraft::triage::SCHEMA,
            "error": e.chain(),
            "exit_code": code,
        }))?
    );
    Ok(())
}
