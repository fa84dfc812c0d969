//! Query decoding: finds one parameter in an `application/x-www-form-urlencoded`
//! query string, decoded as the WHATWG URL standard says.
//!
//! Contract:
//! - the query splits on `&`, and empty pieces are skipped;
//! - the first `=` of a piece separates name from value, and a piece without
//!   `=` has an empty value;
//! - in names and values alike, `+` becomes a space, then `%HH` becomes the
//!   byte `0xHH`, and a `%` not followed by two hex digits stays as it is;
//! - the decoded value must be UTF-8. It is never decoded lossily, because
//!   turning bad bytes into U+FFFD would change what the caller counts.
//!
//! A value that needs no decoding is borrowed from the query, not copied.

use percent_encoding::percent_decode;
use std::borrow::Cow;

/// Why a query string does not hold exactly one usable value for a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamError {
    /// No piece of the query has this name.
    Missing,
    /// More than one piece has this name, so which value was meant is unclear.
    Repeated,
    /// The value is not UTF-8 once percent-decoded.
    NotUtf8,
}

/// Returns the decoded value of the one parameter called `name` in `query`,
/// the part of a request target after `?`.
pub fn find_param<'q>(query: &'q str, name: &str) -> Result<Cow<'q, str>, ParamError> {
    let mut found = None;
    for piece in query.split('&').filter(|piece| !piece.is_empty()) {
        let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        if decode(raw_name).as_ref() != name.as_bytes() {
            continue;
        }
        if found.is_some() {
            return Err(ParamError::Repeated);
        }
        found = Some(raw_value);
    }
    let raw_value = found.ok_or(ParamError::Missing)?;
    match decode(raw_value) {
        Cow::Borrowed(bytes) => std::str::from_utf8(bytes).map(Cow::Borrowed),
        Cow::Owned(bytes) => String::from_utf8(bytes)
            .map(Cow::Owned)
            .map_err(|e| e.utf8_error()),
    }
    .map_err(|_| ParamError::NotUtf8)
}

/// Decodes one name or value to bytes: `+` to space, then `%HH` to a byte.
fn decode(raw: &str) -> Cow<'_, [u8]> {
    if !raw.contains('+') {
        return percent_decode(raw.as_bytes()).into();
    }
    // `+` is never part of a `%HH` escape, so decoding between the `+`s and
    // joining with spaces gives the same bytes as replacing first.
    let mut bytes = Vec::with_capacity(raw.len());
    for (i, part) in raw.split('+').enumerate() {
        if i > 0 {
            bytes.push(b' ');
        }
        bytes.extend(percent_decode(part.as_bytes()));
    }
    Cow::Owned(bytes)
}

#[cfg(test)]
mod tests {
    use super::{find_param, ParamError};
    use proptest::prelude::*;
    use std::borrow::Cow;

    fn param(query: &str) -> Result<String, ParamError> {
        find_param(query, "param").map(Cow::into_owned)
    }

    #[test]
    fn plain_value() {
        assert_eq!(param("param=caiopa"), Ok("caiopa".into()));
    }

    #[test]
    fn plus_is_a_space_and_percent_2b_is_a_plus() {
        assert_eq!(param("param=a+b"), Ok("a b".into()));
        assert_eq!(param("param=a%2Bb"), Ok("a+b".into()));
        assert_eq!(param("param=%20"), Ok(" ".into()));
    }

    #[test]
    fn percent_escapes_decode_to_bytes_then_utf8() {
        assert_eq!(param("param=%C3%A9%c3%a9"), Ok("éé".into()));
        assert_eq!(param("param=%F0%9F%98%80"), Ok("😀".into()));
    }

    #[test]
    fn a_percent_without_two_hex_digits_stays_literal() {
        assert_eq!(param("param=%"), Ok("%".into()));
        assert_eq!(param("param=%4"), Ok("%4".into()));
        assert_eq!(param("param=%zz"), Ok("%zz".into()));
        assert_eq!(param("param=100%"), Ok("100%".into()));
        assert_eq!(param("param=%%41"), Ok("%A".into()));
    }

    #[test]
    fn names_are_decoded_too() {
        assert_eq!(param("p%61ram=x"), Ok("x".into()));
        assert_eq!(find_param("my+name=x", "my name").as_deref(), Ok("x"));
    }

    #[test]
    fn only_the_first_equals_sign_separates() {
        assert_eq!(param("param=a=b"), Ok("a=b".into()));
        assert_eq!(param("param=="), Ok("=".into()));
    }

    #[test]
    fn empty_or_bare_param_is_an_empty_value() {
        assert_eq!(param("param"), Ok("".into()));
        assert_eq!(param("param="), Ok("".into()));
    }

    #[test]
    fn empty_pieces_and_other_names_are_skipped() {
        assert_eq!(param("&&a=1&&param=x&b&"), Ok("x".into()));
        assert_eq!(
            param("=x&param=y"),
            Ok("y".into()),
            "an empty name is not param"
        );
        assert_eq!(
            param("Param=x"),
            Err(ParamError::Missing),
            "names are case-sensitive"
        );
    }

    #[test]
    fn missing() {
        assert_eq!(param(""), Err(ParamError::Missing));
        assert_eq!(param("other=1"), Err(ParamError::Missing));
        assert_eq!(param("params=1"), Err(ParamError::Missing));
    }

    #[test]
    fn repeated_in_any_spelling() {
        assert_eq!(param("param=a&param=b"), Err(ParamError::Repeated));
        assert_eq!(param("param=a&param=a"), Err(ParamError::Repeated));
        assert_eq!(param("param&p%61ram"), Err(ParamError::Repeated));
    }

    #[test]
    fn invalid_utf8_is_rejected_not_replaced() {
        assert_eq!(param("param=%FF"), Err(ParamError::NotUtf8));
        assert_eq!(
            param("param=%C3"),
            Err(ParamError::NotUtf8),
            "truncated sequence"
        );
        assert_eq!(
            param("param=%ED%A0%80"),
            Err(ParamError::NotUtf8),
            "a surrogate"
        );
        assert_eq!(param("param=a+%FF"), Err(ParamError::NotUtf8));
    }

    #[test]
    fn invalid_utf8_in_other_parameters_does_not_matter() {
        assert_eq!(param("x=%FF&param=ok"), Ok("ok".into()));
    }

    #[test]
    fn undecoded_values_are_borrowed() {
        assert!(matches!(
            find_param("param=abc", "param"),
            Ok(Cow::Borrowed("abc"))
        ));
    }

    /// Percent-encodes every byte, so the encoded form holds no `+` or `&`.
    fn encode_all(s: &str) -> String {
        s.bytes().map(|b| format!("%{b:02X}")).collect()
    }

    proptest! {
        /// Encoding with the WHATWG serializer and decoding gives the input back.
        #[test]
        fn round_trips_the_form_urlencoded_serializer(
            value in any::<String>(),
            before in proptest::collection::vec(("[a-z]{1,5}", any::<String>()), 0..3),
            after in proptest::collection::vec(("[a-z]{1,5}", any::<String>()), 0..3),
        ) {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (name, v) in before.iter().filter(|(n, _)| n != "param") {
                form.append_pair(name, v);
            }
            form.append_pair("param", &value);
            for (name, v) in after.iter().filter(|(n, _)| n != "param") {
                form.append_pair(name, v);
            }
            let query = form.finish();
            prop_assert_eq!(param(&query), Ok(value));
        }

        /// Any spelling of the name, fully escaped, still names the parameter.
        #[test]
        fn round_trips_fully_escaped_names_and_values(value in any::<String>()) {
            let query = format!("{}={}", encode_all("param"), encode_all(&value));
            prop_assert_eq!(param(&query), Ok(value));
        }

        /// On any query, agrees with the WHATWG parser of the `form_urlencoded`
        /// crate, which decodes lossily: where that parser saw invalid UTF-8,
        /// this one refuses it.
        #[test]
        fn agrees_with_the_whatwg_parser(query in "([a-z%+=&]|%[0-9a-fA-F]{2}|param|é){0,24}") {
            let theirs: Vec<String> = form_urlencoded::parse(query.as_bytes())
                .filter(|(name, _)| name == "param")
                .map(|(_, value)| value.into_owned())
                .collect();
            match param(&query) {
                Ok(value) => prop_assert_eq!(theirs, vec![value]),
                Err(ParamError::Missing) => prop_assert!(theirs.is_empty()),
                Err(ParamError::Repeated) => prop_assert!(theirs.len() > 1),
                Err(ParamError::NotUtf8) => {
                    prop_assert_eq!(theirs.len(), 1);
                    prop_assert!(theirs[0].contains(char::REPLACEMENT_CHARACTER));
                }
            }
        }
    }
}
