#!/usr/bin/env bash
# Runs every check: formatting, lints, unit, property and integration tests.
# .ci/run calls it, so CI runs exactly this.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/test.sh [--help]

Runs every check of the repository and stops at the first failure:
  cargo fmt --check, cargo clippy (warnings are errors), cargo test
  (unit, property and integration tests), shellcheck.
Python tools install into .venv from scripts/requirements-tools.txt.
USAGE
}

rust_checks() {
  need cargo "install Rust with rustup (https://rustup.rs), then open a new shell"
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    need rustup "install rustfmt and clippy for your Rust toolchain"
    rustup component add rustfmt clippy
  fi
  step "cargo fmt --check" cargo fmt --all -- --check
  step "cargo clippy" cargo clippy --locked --all-targets -- -D warnings
  step "cargo test" cargo test --locked
}

shell_checks() {
  tools_venv
  step "shellcheck" shellcheck --external-sources "$REPO_ROOT"/scripts/*.sh "$REPO_ROOT/.ci/run"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) die "unknown argument '$1'; try --help" ;;
  esac
  cd "$REPO_ROOT"
  rust_checks
  shell_checks
  printf '\nAll checks passed.\n'
}

main "$@"
