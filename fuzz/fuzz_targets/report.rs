//! Scanner reports in every form `triage` reads (Trivy and Grype JSON, CycloneDX, SARIF), told
//! by content: any input gives Ok or Err, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = regraft::triage::parse::parse(data, "report");
});
