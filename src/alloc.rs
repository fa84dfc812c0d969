//! The allocator of the static musl build, which is what ships.
//!
//! musl's own malloc takes one global lock per call, which costs a threaded
//! server much of its throughput; mimalloc keeps per-thread heaps. The glibc
//! build (`cargo run`, tests) keeps glibc's allocator: nothing here applies.

#![allow(unsafe_code)] // the crate denies it everywhere else

/// The global allocator of musl builds.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Trades a little speed for memory: commit arena memory as pages are
/// touched, not up front, and return freed memory to the OS at once. Measured
/// (docs/benchmarks): idle RSS from about 5 MiB to about 1.5 MiB. Call it
/// first thing in `main`; it does nothing on other builds.
pub fn tune() {
    #[cfg(target_env = "musl")]
    // SAFETY: mi_option_set only stores an option value; the indices are
    // mimalloc's mi_option_arena_eager_commit (4) and mi_option_purge_delay
    // (15), stable across its v2 and v3 (retired options keep their slots).
    unsafe {
        libmimalloc_sys::mi_option_set(4, 0);
        libmimalloc_sys::mi_option_set(15, 0);
    }
}
