//! Query decoding against a byte-by-byte reference decoder written from the
//! WHATWG form-urlencoded algorithm, on arbitrary query strings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sre_kata::query::{find_param, ParamError};

/// `+` to space, then `%HH` to a byte; any other `%` stays.
fn reference_decode(raw: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::new();
    let mut i = 0;
    while i < spaced.len() {
        if spaced[i] == b'%' && i + 2 < spaced.len() {
            if let (Some(hi), Some(lo)) = (hex(spaced[i + 1]), hex(spaced[i + 2])) {
                out.push(hi * 16 + lo);
                i += 3;
                continue;
            }
        }
        out.push(spaced[i]);
        i += 1;
    }
    out
}

fn reference(query: &str, name: &str) -> Result<String, ParamError> {
    let values: Vec<&[u8]> = query
        .as_bytes()
        .split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .filter_map(|piece| {
            let eq = piece.iter().position(|&b| b == b'=');
            let (n, v) = match eq {
                Some(at) => (&piece[..at], &piece[at + 1..]),
                None => (piece, &piece[piece.len()..]),
            };
            (reference_decode(n) == name.as_bytes()).then_some(v)
        })
        .collect();
    match values.as_slice() {
        [] => Err(ParamError::Missing),
        [value] => String::from_utf8(reference_decode(value)).map_err(|_| ParamError::NotUtf8),
        _ => Err(ParamError::Repeated),
    }
}

fuzz_target!(|query: &str| {
    let ours = find_param(query, "param").map(|v| v.into_owned());
    assert_eq!(ours, reference(query, "param"), "query {query:?}");
});
