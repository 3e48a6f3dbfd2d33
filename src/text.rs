//! Text from images made safe for terminals and JSON: control characters escaped, invalid
//! UTF-8 shown as `\xNN`.

/// Makes a name from an image safe to print: control characters (escape sequences included)
/// and invalid UTF-8 become `\xNN` / `\u{..}` escapes.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.push_str(&c.escape_default().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// `sanitize`, keeping line breaks (for multi-line messages such as image listings).
pub fn sanitize_lines(s: &str) -> String {
    s.split('\n').map(sanitize).collect::<Vec<_>>().join("\n")
}

/// Raw bytes as text: valid UTF-8 as it is, each invalid byte as `\xNN` (for JSON and
/// listings; terminal output still goes through `sanitize`).
pub fn lossless(b: &[u8]) -> String {
    escape_invalid(b, |s, out| out.push_str(s))
}

/// `sanitize` for raw bytes (tar names need not be UTF-8).
pub fn sanitize_bytes(b: &[u8]) -> String {
    escape_invalid(b, |s, out| out.push_str(&sanitize(s)))
}

/// Raw bytes as text: each valid UTF-8 run as `valid` writes it, each invalid byte as `\xNN`.
fn escape_invalid(b: &[u8], valid: impl Fn(&str, &mut String)) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        valid(chunk.valid(), &mut out);
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sanitize_strips_escapes() {
        assert_eq!(super::sanitize("a\x1b[31mb\n"), "a\\u{1b}[31mb\\n");
        assert_eq!(super::sanitize_bytes(b"x\xffy"), "x\\xffy");
        assert_eq!(super::sanitize_bytes(b"\x1b\xff"), "\\u{1b}\\xff");
        assert_eq!(super::lossless(b"\x1b\xffe\xcc\x81"), "\x1b\\xffe\u{301}");
    }
}
