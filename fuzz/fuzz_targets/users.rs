//! `/etc/passwd` and `/etc/group` as found in images, and a config's `User` value: the names
//! read, the user and group a `User` asks for.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regraft::formats::users;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let names = users::names(&text);
    assert!(names.len() <= text.lines().count());
    let (u, g) = users::wanted(text.lines().next().unwrap_or(""));
    let _ = (u, g);
});
