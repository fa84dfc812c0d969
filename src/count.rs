//! Counting: how many distinct characters occur at least twice in a string.
//!
//! Contract: [`count_repeated`] equals Python's
//! `len({c for c in s if s.count(c) > 1})`. A character is a Unicode scalar
//! value, case-sensitive, and every one counts: spaces, punctuation, controls.
//! The cost is linear in the input, and nothing is allocated for ASCII input:
//! ASCII is tallied in tables over its 128 values, the rest in a hash map.

use std::collections::HashMap;

/// Returns how many distinct characters of `s` occur more than once.
pub fn count_repeated(s: &str) -> usize {
    let mut ascii = AsciiTally::default();
    if s.is_ascii() {
        ascii.add_all(s.as_bytes());
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

/// The ASCII bytes seen, and seen again, as bitsets over the 128 values.
#[derive(Default)]
struct AsciiTally {
    seen: u128,
    repeated: u128,
}

/// Below this many bytes, bits are set byte by byte; above, counting in
/// tables first is faster (benches/count.rs).
const COUNT_FROM: usize = 256;

/// Bytes per counting block: four lanes of at most `u16::MAX` each.
const BLOCK: usize = 4 * u16::MAX as usize;

impl AsciiTally {
    fn add(&mut self, byte: u8) {
        let bit = 1u128 << (byte & 0x7f);
        self.repeated |= self.seen & bit;
        self.seen |= bit;
    }

    fn add_all(&mut self, bytes: &[u8]) {
        if bytes.len() < COUNT_FROM {
            bytes.iter().for_each(|&byte| self.add(byte));
            return;
        }
        // Four tables take turns byte by byte, so that the processor works on
        // four increments at once instead of waiting on one.
        let mut counts = [[0u16; 128]; 4];
        for block in bytes.chunks(BLOCK) {
            let mut quads = block.chunks_exact(4);
            for quad in &mut quads {
                for (lane, &byte) in quad.iter().enumerate() {
                    counts[lane][usize::from(byte & 0x7f)] += 1;
                }
            }
            // The remainder goes one byte per lane: a block has at most
            // u16::MAX quads, so no lane passes u16::MAX (piling it all on
            // one lane overflowed when the last block held 262,137 to
            // 262,139 bytes).
            for (lane, &byte) in quads.remainder().iter().enumerate() {
                counts[lane][usize::from(byte & 0x7f)] += 1;
            }
            self.fold(&mut counts);
        }
    }

    /// Moves a block's counts into the bitsets, and clears them.
    fn fold(&mut self, counts: &mut [[u16; 128]; 4]) {
        for i in 0..128 {
            let total: u32 = counts.iter().map(|lane| u32::from(lane[i])).sum();
            let bit = 1u128 << i;
            if total > 1 || (total == 1 && self.seen & bit != 0) {
                self.repeated |= bit;
            }
            if total > 0 {
                self.seen |= bit;
            }
        }
        *counts = [[0; 128]; 4];
    }

    fn repeated(&self) -> usize {
        self.repeated.count_ones() as usize
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

    /// A linear reference for long inputs, where `naive` is too slow.
    fn by_map(s: &str) -> usize {
        let mut counts = std::collections::HashMap::new();
        for c in s.chars() {
            *counts.entry(c).or_insert(0u64) += 1;
        }
        counts.values().filter(|&&n| n > 1).count()
    }

    #[test]
    fn lengths_at_the_block_boundaries_are_counted_right() {
        // The case that overflowed a lane: the last block 262,139 bytes.
        let reported = "abbb".repeat(65_534) + "aaa";
        assert_eq!(count_repeated(&reported), 2);
        for blocks in 1..=2 {
            for offset in -5i64..=5 {
                let len = (blocks * super::BLOCK) as i64 + offset;
                let same = "a".repeat(len as usize);
                assert_eq!(count_repeated(&same), 1, "{len} times 'a'");
                let mixed: String = (0..len)
                    .map(|i| if i % 7 == 0 { 'x' } else { 'a' })
                    .collect();
                assert_eq!(count_repeated(&mixed), by_map(&mixed), "{len} mixed");
                let tail = "b".repeat(len as usize - 3) + "aaa";
                assert_eq!(count_repeated(&tail), 2, "{len} with a tail");
            }
        }
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

    #[test]
    fn counting_blocks_carry_over() {
        // One 'a' in each of two counting blocks, and 300 000 'b's.
        let block = super::BLOCK;
        let mut s = String::from("a");
        s.push_str(&"b".repeat(block + 300_000));
        s.push('a');
        assert_eq!(count_repeated(&s), 2);
        let lone: String = std::iter::once('x')
            .chain("y".repeat(block).chars())
            .collect();
        assert_eq!(
            count_repeated(&lone),
            1,
            "x appears once, across a block edge"
        );
    }

    #[test]
    fn a_block_marks_seen_only_the_characters_it_holds() {
        let block = super::BLOCK;
        // 'a' ends the first block and is alone in the second: seen once
        // in each, so repeated.
        let twice = "a".to_owned() + &"b".repeat(block - 1) + "a";
        assert_eq!(count_repeated(&twice), 2);
        // 'a' only in the second block: the first, which lacks it, must
        // not have marked it seen.
        let once = "b".repeat(block) + "a";
        assert_eq!(count_repeated(&once), 1);
    }

    #[test]
    fn both_tally_paths_agree_around_the_switch() {
        for len in super::COUNT_FROM - 3..super::COUNT_FROM + 3 {
            let s: String = (0..len)
                .map(|i| char::from(b'!' + (i * 7 % 90) as u8))
                .collect();
            assert_eq!(count_repeated(&s), naive(&s), "{len}");
        }
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
        fn matches_the_definition_on_ascii(s in "[\\x00-\\x7f]{0,700}") {
            prop_assert_eq!(count_repeated(&s), naive(&s));
        }
    }
}
