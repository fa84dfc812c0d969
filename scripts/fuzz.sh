#!/usr/bin/env bash
# Runs every cargo-fuzz target for a while; a crash fails the run.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/fuzz.sh [SECONDS] [--help]

Runs each fuzz target in fuzz/fuzz_targets (query decoding, counting,
routing with the request-id filter, and the request-head parser against a
plain reading of the framing) for SECONDS (default 60) with cargo
fuzz (libFuzzer, nightly Rust), keeping each target's corpus in
fuzz/corpus/. A crash stops the run with exit code 1 and leaves its input in
fuzz/artifacts/<target>/: turn it into a regression test, then fix the bug.
Installs cargo-fuzz and the nightly toolchain if they are missing.
USAGE
}

main() {
  local seconds=60
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *)
      [[ "$1" =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive number, not '$1'; try --help"
      seconds="$1"
      ;;
  esac
  need rustup "install Rust with rustup (https://rustup.rs)"
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
  fi

  # The longest input each target gets: count's reaches past two of its
  # 262,140-byte counting blocks; head's past the 64 KiB head limit.
  local target max_len
  for target in query count route head; do
    case "$target" in
      count) max_len=600000 ;;
      head) max_len=70000 ;;
      *) max_len=4096 ;;
    esac
    step "fuzz $target for ${seconds}s" \
      cargo +nightly fuzz run --fuzz-dir "$REPO_ROOT/fuzz" "$target" -- \
      -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1
  done
}

main "$@"
