//! JSON output: the one string escaper every JSON body and log line goes
//! through. Output is always valid JSON (RFC 8259) whatever the input, and it
//! stays ASCII-safe for HTML: `<`, `>` and `&` are escaped as well, so a value
//! can never be read as markup even by a client that sniffs.

use std::fmt::Write;

/// Appends `value` to `out` as a quoted JSON string.
pub fn push_str(out: &mut String, value: &str) {
    out.reserve(value.len() + 2);
    out.push('"');
    let mut clean_from = 0;
    for (i, byte) in value.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f | 0x7f | b'<' | b'>' | b'&' => "",
            _ => continue,
        };
        out.push_str(&value[clean_from..i]);
        if escape.is_empty() {
            // Infallible: writing to a String cannot fail.
            let _ = write!(out, "\\u{:04x}", byte);
        } else {
            out.push_str(escape);
        }
        clean_from = i + 1;
    }
    out.push_str(&value[clean_from..]);
    out.push('"');
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
        fn output_has_no_raw_markup_or_controls(s in any::<String>()) {
            let out = quoted(&s);
            prop_assert!(!out.contains(['<', '>', '&', '\n', '\r']));
            prop_assert!(!out.bytes().any(|b| b < 0x20 || b == 0x7f));
        }
    }
}
