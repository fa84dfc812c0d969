#!/usr/bin/env bash
# Soak test: constant load plus slow and garbage clients for some minutes,
# watching the server's memory, threads and descriptors. Not part of CI.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/soak.sh [MINUTES] [--help]

Builds the release musl binary and runs bench/soak.py for MINUTES (default
10): wrk -t1 -c4 with valid requests, while about 40 slow clients and a
garbage connection every 100 ms come and go; RSS, threads and open
descriptors are sampled every second. Fails (exit 1) if any of them trends
upward after the warm-up, or if any valid request got anything but a 2xx.
Writes docs/soak/summary.md, soak.svg and samples.json.

Needs two CPUs, wrk, taskset and python3; as root (or with sudo) it
installs wrk with apt-get when it is missing.
USAGE
}

main() {
  local minutes=10
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *)
      [[ "$1" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "MINUTES must be a number, not '$1'; try --help"
      minutes="$1"
      ;;
  esac
  (($(nproc) >= 2)) || die "the soak pins the server and the load to two different CPUs; this machine has $(nproc)"
  command -v wrk >/dev/null 2>&1 || apt_install wrk
  need taskset "install util-linux"
  need python3 "install Python 3"
  "$REPO_ROOT/scripts/build.sh" --binary-only
  python3 "$REPO_ROOT/bench/soak.py" --binary "$(musl_binary)" --minutes "$minutes"
}

main "$@"
