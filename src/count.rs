//! Counting: how many distinct characters occur at least twice in a string.
//!
//! Contract: [`count_repeated`] equals Python's
//! `len({c for c in s if s.count(c) > 1})`. A character is a Unicode scalar
//! value, case-sensitive, and every one counts: spaces, punctuation, controls.
//! The cost is linear in the input, and nothing is allocated for ASCII input.

use std::collections::HashMap;

/// Returns how many distinct characters of `s` occur more than once.
pub fn count_repeated(s: &str) -> usize {
    let mut ascii = AsciiTally::default();
    if s.is_ascii() {
        s.bytes().for_each(|byte| ascii.add(byte));
        return ascii.repeated();
    }

    // In UTF-8 a byte below 0x80 is always a whole character, so ASCII keeps
    // its table and only the rest pays for hashing.
    let mut others: HashMap<char, bool> = HashMap::new();
    for c in s.chars() {
        if c.is_ascii() {
            ascii.add(c as u8);
        } else {
            others
                .entry(c)
                .and_modify(|repeated| *repeated = true)
                .or_insert(false);
        }
    }
    ascii.repeated() + others.values().filter(|&&repeated| repeated).count()
}

/// Per ASCII byte, bit 0 says "seen" and bit 1 says "seen again". Two bits
/// saturate where a counter could overflow, and need no branch to update.
struct AsciiTally([u8; 128]);

impl Default for AsciiTally {
    fn default() -> Self {
        Self([0; 128])
    }
}

impl AsciiTally {
    fn add(&mut self, byte: u8) {
        let slot = &mut self.0[usize::from(byte & 0x7f)];
        *slot |= 1 | (*slot << 1);
    }

    fn repeated(&self) -> usize {
        self.0.iter().filter(|&&slot| slot & 2 != 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::count_repeated;
    use proptest::prelude::*;

    /// The definition, straight from the contract: quadratic and obviously right.
    fn naive(s: &str) -> usize {
        let chars: Vec<char> = s.chars().collect();
        let mut repeated: Vec<char> = chars
            .iter()
            .copied()
            .filter(|c| chars.iter().filter(|d| *d == c).count() > 1)
            .collect();
        repeated.sort_unstable();
        repeated.dedup();
        repeated.len()
    }

    #[test]
    fn examples_from_the_contract() {
        assert_eq!(count_repeated("caiopa"), 1);
        assert_eq!(count_repeated("acx333x"), 2);
    }

    #[test]
    fn edge_cases() {
        assert_eq!(count_repeated(""), 0);
        assert_eq!(count_repeated("a"), 0);
        assert_eq!(count_repeated("aa"), 1);
        assert_eq!(count_repeated("aaaaaaaa"), 1, "a triple still counts once");
        assert_eq!(count_repeated("aA"), 0, "case-sensitive");
        assert_eq!(
            count_repeated("  \t\t\0\0"),
            3,
            "whitespace and controls count"
        );
        assert_eq!(count_repeated("\u{7f}\u{7f}"), 1, "the last ASCII byte");
    }

    #[test]
    fn non_ascii_characters_are_scalar_values() {
        assert_eq!(count_repeated("ééa"), 1);
        assert_eq!(count_repeated("日本日本"), 2);
        assert_eq!(count_repeated("😀😀"), 1, "astral-plane characters");
        // e + combining acute is two scalar values, unlike precomposed é
        assert_eq!(count_repeated("e\u{301}e\u{301}"), 2);
        assert_eq!(count_repeated("é\u{e9}"), 1, "precomposed é twice");
        assert_eq!(count_repeated("\u{fffd}\u{fffd}"), 1);
    }

    #[test]
    fn long_input_with_every_byte_repeated_does_not_overflow() {
        let s: String = (0u8..128).map(char::from).cycle().take(128 * 300).collect();
        assert_eq!(count_repeated(&s), 128);
    }

    proptest! {
        #[test]
        fn matches_the_definition_on_any_unicode(s in any::<String>()) {
            prop_assert_eq!(count_repeated(&s), naive(&s));
        }

        #[test]
        fn matches_the_definition_on_small_alphabets(s in "[a-cé日😀 ]{0,40}") {
            prop_assert_eq!(count_repeated(&s), naive(&s));
        }

        #[test]
        fn matches_the_definition_on_ascii(s in "[\\x00-\\x7f]{0,300}") {
            prop_assert_eq!(count_repeated(&s), naive(&s));
        }
    }
}
