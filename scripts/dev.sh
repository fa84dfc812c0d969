#!/usr/bin/env bash
# Runs the service locally on http://localhost:8080 with text logs, from
# source or (--container) as the image that ships.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/dev.sh [--container] [--help]

Builds the service and runs it on http://localhost:\${PORT:-8080} with text
logs, until Ctrl-C. Any setting from \`sre-kata --help\` can be set in the
environment, e.g. PORT=9090 LOG_FORMAT=json scripts/dev.sh.

  --container   build the image with scripts/build.sh and run that instead,
                with podman (or docker), the port published on localhost
USAGE
}

print_hint() {
  printf 'Try:  curl -i "http://localhost:%s/query?param=caiopa"\nStop: Ctrl-C\n\n' "$PORT"
}

run_container() {
  local engine tag setting
  engine="$(container_engine)" \
    || die "no container engine: install podman (Debian: apt-get install podman) or Docker"
  "$REPO_ROOT/scripts/build.sh"
  tag="$(image_tag)"
  local env=(--env "LOG_FORMAT=$LOG_FORMAT")
  for setting in WORKERS MAX_URL_BYTES IDLE_TIMEOUT_SECS SHUTDOWN_GRACE_SECS LOG_LEVEL; do
    [[ -z "${!setting:-}" ]] || env+=(--env "$setting=${!setting}")
  done
  print_hint
  # Attached, so Ctrl-C reaches the service as SIGINT and it drains.
  exec "$engine" run --rm --name "sre-kata-dev-$PORT" --publish "127.0.0.1:$PORT:8080" \
    "${env[@]}" "$IMAGE_NAME:$tag"
}

main() {
  local container=false
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    --container) container=true ;;
    "") ;;
    *) die "unknown argument '$1'; try --help" ;;
  esac
  (($# <= 1)) || die "too many arguments; try --help"
  need cargo "install Rust with rustup (https://rustup.rs), then open a new shell"

  export HOST="${HOST:-127.0.0.1}" PORT="${PORT:-8080}" LOG_FORMAT="${LOG_FORMAT:-text}"
  if [[ "$container" == true ]]; then
    run_container
  fi
  cargo build --quiet --manifest-path "$REPO_ROOT/Cargo.toml"
  print_hint
  exec "$REPO_ROOT/target/debug/sre-kata"
}

main "$@"
