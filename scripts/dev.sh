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
                with podman (or docker), the port published on localhost;
                podman probes it with /sre-kata healthcheck every 10 s
                ("podman healthcheck run sre-kata-dev-\$PORT" asks at once)
USAGE
}

print_hint() {
  printf 'Try:  curl -i "http://localhost:%s/query?param=caiopa"\nStop: Ctrl-C\n\n' "$PORT"
}

# The service's settings passed on to the container when set; PORT and HOST
# are the container's own (8080 on every address), published as PORT on
# localhost.
readonly CONTAINER_SETTINGS=(WORKERS MAX_URL_BYTES IDLE_TIMEOUT_SECS WRITE_TIMEOUT_SECS
  MAX_CONNECTIONS TRUSTED_PROXIES SHUTDOWN_GRACE_SECS LOG_LEVEL)

# health_flags ENGINE: prints, one per line, the run flags that give the
# container the binary's own probe. The image carries none (the Containerfile
# says why). podman runs a JSON array as given; Docker runs any --health-cmd
# with /bin/sh -c, which a scratch image lacks, so it gets none.
health_flags() {
  if is_podman "$1"; then
    printf '%s\n' --health-cmd '["/sre-kata", "healthcheck"]' --health-interval 10s \
      --health-timeout 3s --health-start-period 2s --health-retries 3
  else
    printf '%s: note: no health probe: docker runs --health-cmd with /bin/sh, which the image does not have\n' \
      "$SCRIPT" >&2
  fi
}

run_container() {
  local engine tag setting
  engine="$(container_engine)" \
    || die "no container engine: install podman (Debian: apt-get install podman) or Docker"
  "$REPO_ROOT/scripts/build.sh"
  tag="$(image_tag)"
  local env=(--env "LOG_FORMAT=$LOG_FORMAT") health
  for setting in "${CONTAINER_SETTINGS[@]}"; do
    [[ -z "${!setting:-}" ]] || env+=(--env "$setting=${!setting}")
  done
  mapfile -t health < <(health_flags "$engine")
  print_hint
  # Attached, so Ctrl-C reaches the service as SIGINT and it drains.
  exec "$engine" run --rm --name "sre-kata-dev-$PORT" --publish "127.0.0.1:$PORT:8080" \
    "${health[@]}" "${env[@]}" "$IMAGE_NAME:$tag"
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
  # Where cargo built it: CARGO_TARGET_DIR, or target/ in the checkout.
  exec "$(cargo_target_dir)/debug/sre-kata"
}

main "$@"
