#!/usr/bin/env bash
# Runs the service locally on http://localhost:8080 with text logs.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/dev.sh [--help]

Builds the service and runs it on http://localhost:\${PORT:-8080} with text
logs, until Ctrl-C. Any setting from \`sre-kata --help\` can be set in the
environment, e.g. PORT=9090 LOG_FORMAT=json scripts/dev.sh.
USAGE
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) die "unknown argument '$1'; try --help" ;;
  esac
  need cargo "install Rust with rustup (https://rustup.rs), then open a new shell"

  export HOST="${HOST:-127.0.0.1}" PORT="${PORT:-8080}" LOG_FORMAT="${LOG_FORMAT:-text}"
  cargo build --quiet --manifest-path "$REPO_ROOT/Cargo.toml"
  printf 'Try:  curl -i "http://localhost:%s/query?param=caiopa"\nStop: Ctrl-C\n\n' "$PORT"
  exec "$REPO_ROOT/target/debug/sre-kata"
}

main "$@"
