//! `--accept-file` rules (CHECK[:PATH-GLOB] a line, `#` comments) parsed, and each line also
//! matched as a path against them: the glob engine over hostile patterns and paths.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::check::accept::{Accepts, CHECKS};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Rules with known check names, so that parsing goes on to the glob.
    let lines: Vec<String> = text
        .lines()
        .take(32)
        .enumerate()
        .map(|(i, l)| format!("{}:{l}", CHECKS[i % CHECKS.len()]))
        .collect();
    let Ok(a) = Accepts::new(&[], Some(("fuzz", &lines.join("\n")))) else {
        return;
    };
    for (i, l) in text.lines().take(32).enumerate() {
        let _ = a.find(CHECKS[i % CHECKS.len()], l);
    }
});
