//! JSON output: the one string escaper every JSON body and log line goes
//! through. Output is always valid JSON (RFC 8259) whatever the input, and it
//! stays ASCII-safe for HTML: `<`, `>` and `&` are escaped as well, so a value
//! can never be read as markup even by a client that sniffs.

/// For each byte, true if it must be escaped. Runs of other bytes are
/// copied whole, which is most of every log line.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] =
            byte < 0x20 || byte == 0x7f || matches!(byte as u8, b'"' | b'\\' | b'<' | b'>' | b'&');
        byte += 1;
    }
    table
};

/// Appends `value` to `out` as a quoted JSON string.
pub fn push_str(out: &mut String, value: &str) {
    out.reserve(value.len() + 2);
    out.push('"');
    let bytes = value.as_bytes();
    let mut clean_from = 0;
    while let Some(offset) = bytes[clean_from..]
        .iter()
        .position(|&b| NEEDS_ESCAPE[usize::from(b)])
    {
        let i = clean_from + offset;
        out.push_str(&value[clean_from..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            other => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(other >> 4)]));
                out.push(char::from(HEX[usize::from(other & 0xf)]));
            }
        }
        clean_from = i + 1;
    }
    out.push_str(&value[clean_from..]);
    out.push('"');
}

/// Appends `n` in decimal, without the formatting machinery of `write!`.
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Infallible: the bytes are ASCII digits.
    out.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
}

/// Returns `value` as a quoted JSON string.
pub fn quoted(value: &str) -> String {
    let mut out = String::new();
    push_str(&mut out, value);
    out
}

#[cfg(test)]
mod tests {
    use super::quoted;
    use proptest::prelude::*;

    #[test]
    fn escapes_quotes_backslashes_and_controls() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(
            quoted("\n\r\t\u{0}\u{1f}\u{7f}"),
            r#""\n\r\t\u0000\u001f\u007f""#
        );
    }

    #[test]
    fn escapes_markup_characters() {
        assert_eq!(
            quoted("<script>alert(1)</script>&"),
            r#""\u003cscript\u003ealert(1)\u003c/script\u003e\u0026""#
        );
    }

    #[test]
    fn integers_in_decimal() {
        for n in [0, 7, 10, 99, 1234567890, u64::MAX] {
            let mut out = String::new();
            super::push_u64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn keeps_non_ascii_as_is() {
        assert_eq!(quoted("é日😀"), "\"é日😀\"");
    }

    proptest! {
        #[test]
        fn any_string_round_trips_through_a_json_parser(s in any::<String>()) {
            let parsed: String = serde_json::from_str(&quoted(&s)).unwrap();
            prop_assert_eq!(parsed, s);
        }

        #[test]
        fn any_integer_is_written_as_display_writes_it(n in any::<u64>()) {
            let mut out = String::new();
            super::push_u64(&mut out, n);
            prop_assert_eq!(out, n.to_string());
        }

        #[test]
        fn output_has_no_raw_markup_or_controls(s in any::<String>()) {
            let out = quoted(&s);
            prop_assert!(!out.contains(['<', '>', '&', '\n', '\r']));
            prop_assert!(!out.bytes().any(|b| b < 0x20 || b == 0x7f));
        }
    }
}
