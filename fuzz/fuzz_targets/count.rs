//! count_repeated against the definition, counted with a map, on arbitrary
//! Unicode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|s: &str| {
    let mut occurrences: BTreeMap<char, usize> = BTreeMap::new();
    for c in s.chars() {
        *occurrences.entry(c).or_default() += 1;
    }
    let expected = occurrences.values().filter(|&&n| n > 1).count();
    assert_eq!(sre_kata::count::count_repeated(s), expected, "{s:?}");
});
