#!/usr/bin/env bash
# Load benchmark: the shipped binary against nginx and the Flask original,
# on one core each; writes docs/benchmarks/. Not part of the test run.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/bench.sh [--rounds N] [--seconds N] [--help]

Builds the release musl binary (and the image, with podman or docker), then
runs bench/run.py: each server pinned to CPU 0 (taskset -c 0), wrk pinned to
CPU 1 (-t1 -c32, keep-alive, GET /query?param=acx333x), N interleaved rounds
(default 3) of N seconds (default 5), against
  sre-kata, nginx answering a fixed body, and the Flask original
  (Flask 2.1.0, Werkzeug 2.1.2, gunicorn 20.0.4 -w 2 --threads 2);
plus cold start, idle RSS, image size and the count criterion benchmark.
Writes docs/benchmarks/results.{json,md} and throughput.svg.

Needs two CPUs, wrk, nginx, taskset and python3 with venv; as root (or with
sudo) it installs wrk and nginx-light with apt-get when they are missing.
USAGE
}

main() {
  local rounds=3 seconds=5
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --rounds | --seconds)
        [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive number"
        [[ "$1" == --rounds ]] && rounds="$2" || seconds="$2"
        shift
        ;;
      *) die "unknown argument '$1'; try --help" ;;
    esac
    shift
  done
  (($(nproc) >= 2)) || die "the benchmark pins the server and the load to two different CPUs; this machine has $(nproc)"
  local missing=()
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
  need taskset "install util-linux"

  local image_bytes=()
  if container_engine >/dev/null; then
    "$REPO_ROOT/scripts/build.sh"
    image_bytes=(--image-bytes "$("$(container_engine)" image inspect --format '{{.Size}}' "$IMAGE_NAME:$(image_tag)")")
  else
    printf '%s: no podman or docker: the image size is left out\n' "$SCRIPT" >&2
    "$REPO_ROOT/scripts/build.sh" --binary-only
  fi

  local venv="$REPO_ROOT/bench/.venv"
  python_venv "$venv" "$REPO_ROOT/bench/requirements.txt"
  python3 "$REPO_ROOT/bench/run.py" --binary "$(musl_binary)" --venv "$venv" \
    --rounds "$rounds" --seconds "$seconds" "${image_bytes[@]}"
}

main "$@"
