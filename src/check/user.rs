//! The config's `User`: the user and group it names exist in the result's `/etc/passwd` and
//! `/etc/group` (numeric ids need not; [`crate::formats::users`] says which parts are names).

use super::report::{Finding, Severity};
use crate::error::Result;
use crate::formats::users;
use crate::view::fs::Fs;

/// Checks `user` (the config's `User`, empty when unset).
pub fn check(fs: &Fs, user: &str, out: &mut Vec<Finding>) -> Result<()> {
    if user.is_empty() {
        return Ok(());
    }
    let (u, g) = users::wanted(user);
    for (name, file, what) in [(u, "/etc/passwd", "user"), (g, "/etc/group", "group")] {
        let Some(name) = name else { continue };
        let known = fs
            .read_result(file)?
            .map(|b| users::names(&String::from_utf8_lossy(&b)))
            .unwrap_or_default();
        if !known.contains(&name) {
            out.push(Finding::new(
                Severity::Error,
                &format!("missing-{what}"),
                "config User",
                format!("the {what} {name} (User {user})"),
                format!("{file} of the result has no {what} {name}"),
            ));
        }
    }
    Ok(())
}
