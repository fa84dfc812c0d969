//! The request-head parser (vendor/tiny_http/src/head.rs) on arbitrary
//! bytes: it never panics, and whatever it accepts, it frames as a plain
//! reading of the bytes does: the head ends at the first empty line (CRLF
//! or bare LF, as RFC 9112 lets a recipient read lines), and a body is
//! declared exactly when a Content-Length other than 0 or a
//! Transfer-Encoding is there. So no body can pass for a request, and no
//! request for a body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tiny_http::head::{self, Parse, MAX_HEAD_BYTES};

/// Where a plain reading ends the head, and whether it declares a body.
fn reference(bytes: &[u8]) -> Option<(usize, bool)> {
    // Empty lines before the request line are skipped.
    let mut at = 0;
    loop {
        if bytes[at..].starts_with(b"\r\n") {
            at += 2;
        } else if bytes[at..].starts_with(b"\n") {
            at += 1;
        } else {
            break;
        }
    }
    let mut lines = Vec::new();
    let mut start = at;
    while let Some(lf) = bytes[start..].iter().position(|&b| b == b'\n') {
        let end = start + lf;
        let line = bytes[start..end].strip_suffix(b"\r").unwrap_or(&bytes[start..end]);
        if line.is_empty() && !lines.is_empty() {
            let declares_body = lines[1..].iter().any(|line: &&[u8]| {
                let Some(colon) = line.iter().position(|&b| b == b':') else {
                    return false;
                };
                let (name, value) = (&line[..colon], &line[colon + 1..]);
                let value: Vec<u8> = value.iter().copied().filter(|b| !b" \t".contains(b)).collect();
                name.eq_ignore_ascii_case(b"transfer-encoding")
                    || (name.eq_ignore_ascii_case(b"content-length")
                        && !value.split(|&b| b == b',').next().unwrap_or_default().iter().all(|&b| b == b'0'))
            });
            return Some((end + 1, declares_body));
        }
        lines.push(line);
        start = end + 1;
    }
    None
}

fuzz_target!(|bytes: &[u8]| {
    match head::parse(bytes) {
        Parse::Complete(head) => {
            let (len, declares_body) =
                reference(bytes).unwrap_or_else(|| panic!("accepted, but no end in {bytes:?}"));
            assert_eq!(head.len, len, "where the head ends, in {bytes:?}");
            assert_eq!(head.declares_body, declares_body, "the body, in {bytes:?}");
            assert!(head.len <= MAX_HEAD_BYTES);
            assert!(bytes[head.target.clone()].iter().all(|b| (b'!'..=b'~').contains(b)));
            for field in &head.fields {
                let _ = (&bytes[field.name.clone()], &bytes[field.value.clone()]);
            }
        }
        Parse::Partial => {
            assert!(bytes.len() < MAX_HEAD_BYTES);
            assert!(reference(bytes).is_none(), "partial, but ended, in {bytes:?}");
        }
        Parse::Rejected(reason, _) => {
            assert!((400..=505).contains(&reason.status()));
        }
    }
});
