#!/usr/bin/env bash
# Smoke-tests a running deployment: health, a few answers, two error paths.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/smoke.sh [--dry-run] [--wait SECONDS] BASE_URL

Checks the service at BASE_URL (e.g. https://abc.eu-west-1.awsapprunner.com):
waits up to --wait seconds (default 120) for /healthz to answer 200, then
checks /healthz, three /query answers, and the 400 and 404 problems. Prints
one line per check and exits 1 if any failed.

  --dry-run   print the requests instead of sending them
USAGE
}

FAILURES=0

# fetch PATH: prints "STATUS CONTENT-TYPE" then the body, for BASE_URL/PATH.
fetch() {
  local path="$1" body status_and_type
  body="$(mktemp)"
  status_and_type="$(curl --silent --show-error --max-time 10 --output "$body" \
    --write-out '%{http_code} %{content_type}' "$BASE_URL$path" 2>&1)" || true
  printf '%s\n' "$status_and_type"
  cat "$body"
  rm -f "$body"
}

# expect PATH STATUS CONTENT-TYPE BODY-FRAGMENT: one check, reported on a line.
expect() {
  local path="$1" status="$2" type="$3" fragment="$4"
  if [[ "$DRY_RUN" == true ]]; then
    run curl --silent --max-time 10 "$BASE_URL$path"
    return 0
  fi
  local answer first body
  answer="$(fetch "$path")"
  first="${answer%%$'\n'*}"
  body="${answer#*$'\n'}"
  [[ "$answer" == *$'\n'* ]] || body=""
  if [[ "$first" == "$status $type"* && "$body" == *"$fragment"* ]]; then
    printf 'ok    GET %s -> %s\n' "$path" "$status"
  else
    printf 'FAIL  GET %s: expected %s %s with %s; got %s %s\n' \
      "$path" "$status" "$type" "$fragment" "$first" "${body:0:300}"
    FAILURES=$((FAILURES + 1))
  fi
}

wait_until_healthy() {
  local deadline=$((SECONDS + WAIT)) first
  [[ "$DRY_RUN" == true ]] && return 0
  while :; do
    first="$(fetch /healthz)"
    first="${first%%$'\n'*}"
    [[ "$first" == "200 "* ]] && return 0
    if ((SECONDS >= deadline)); then
      printf 'FAIL  /healthz did not answer 200 within %ss (last: %s)\n' "$WAIT" "$first"
      exit 1
    fi
    sleep 2
  done
}

main() {
  WAIT=120
  BASE_URL=""
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --dry-run) DRY_RUN=true ;;
      --wait)
        [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--wait needs a number of seconds"
        WAIT="$2"
        shift
        ;;
      -*) die "unknown option '$1'; try --help" ;;
      *)
        [[ -z "$BASE_URL" ]] || die "more than one BASE_URL given; try --help"
        BASE_URL="${1%/}"
        ;;
    esac
    shift
  done
  [[ -n "$BASE_URL" ]] || die "BASE_URL is missing, e.g. scripts/smoke.sh https://abc.eu-west-1.awsapprunner.com"
  [[ "$BASE_URL" =~ ^https?:// ]] || die "BASE_URL must start with http:// or https://"
  need curl "install curl (Debian: apt-get install curl)"

  wait_until_healthy
  local json="application/json" problem="application/problem+json"
  expect "/healthz" 200 "$json" '{"status":"ok"}'
  expect "/query?param=caiopa" 200 "$json" '{"count":1}'
  expect "/query?param=acx333x" 200 "$json" '{"count":2}'
  expect "/query?param=%C3%A9t%C3%A9" 200 "$json" '{"count":1}'
  expect "/query" 400 "$problem" '"type":"tag:sre-kata,2026:problem:missing-param"'
  expect "/no-such-path" 404 "$problem" '"status":404'

  if ((FAILURES > 0)); then
    printf '%s check(s) failed against %s\n' "$FAILURES" "$BASE_URL"
    return 1
  fi
  [[ "$DRY_RUN" == true ]] || printf 'all checks passed against %s\n' "$BASE_URL"
}

main "$@"
