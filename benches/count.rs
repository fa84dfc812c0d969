//! Throughput of `count_repeated` on ASCII and non-ASCII input of 16 B to
//! 8 KiB (the longest target the service accepts by default). scripts/bench.sh
//! runs it and reports GB/s; the cost must grow linearly with the input.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sre_kata::count::count_repeated;
use std::hint::black_box;

/// `len` bytes of text cycling through `alphabet`, cut on a character boundary.
fn input(alphabet: &str, len: usize) -> String {
    let mut s = String::with_capacity(len + 4);
    for c in alphabet.chars().cycle() {
        if s.len() + c.len_utf8() > len {
            break;
        }
        s.push(c);
    }
    s
}

fn count(c: &mut Criterion) {
    let mut group = c.benchmark_group("count");
    let ascii = "The quick brown fox jumps over the lazy dog 0123456789!?";
    let non_ascii =
        "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich; 日本語のテキスト 😀";
    for (name, alphabet) in [("ascii", ascii), ("non-ascii", non_ascii)] {
        for len in [16, 1024, 8192] {
            let text = input(alphabet, len);
            group.throughput(Throughput::Bytes(text.len() as u64));
            group.bench_with_input(BenchmarkId::new(name, len), &text, |b, text| {
                b.iter(|| count_repeated(black_box(text)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, count);
criterion_main!(benches);
