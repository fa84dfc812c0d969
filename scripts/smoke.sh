#!/usr/bin/env bash
# Smoke-tests a running deployment: health, a few answers, two error paths.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/smoke.sh [--dry-run] [--fresh] [--wait SECONDS] BASE_URL

Checks the service at BASE_URL (e.g. https://abc.eu-west-1.awsapprunner.com;
plain http only for localhost, 127.0.0.1 or [::1]): waits up to --wait
seconds (default 120) for /healthz to answer 200, then checks /healthz,
three /query answers, and the 400 and 404 problems.

Errors that waiting cannot fix (no such host, connection refused, a TLS or
certificate failure) end the wait at once. Passed checks print on stdout,
failures on stderr; it exits 1 if any check failed.

  --fresh     the endpoint is brand new (scripts/deploy.sh says so on a
              first deploy): its DNS name, listener and TLS handshake can
              lag the service, so no such host, connection refused and a
              failed TLS connect are waited out too
  --dry-run   print the requests instead of sending them
USAGE
}

FAILURES=0

# fail MESSAGE: one failed check, on stderr.
fail() {
  printf 'FAIL  %s\n' "$1" >&2
  FAILURES=$((FAILURES + 1))
}

# fetch PATH: prints "STATUS CONTENT-TYPE" then the body, for BASE_URL/PATH;
# leaves curl's exit code in CURL_EXIT and its error in CURL_ERROR.
fetch() {
  local path="$1" body error status_and_type
  body="$(mktemp)"
  error="$(mktemp)"
  CURL_EXIT=0
  status_and_type="$(curl --silent --show-error --max-time 10 --output "$body" \
    --write-out '%{http_code} %{content_type}' "$BASE_URL$path" 2>"$error")" || CURL_EXIT=$?
  CURL_ERROR="$(head -n 1 "$error")"
  printf '%s\n' "$status_and_type"
  cat "$body"
  rm -f "$body" "$error"
}

# permanent CURL_EXIT: true for errors no wait will fix: a malformed URL,
# an unknown host, a refused connection, TLS and certificate failures.
# Under --fresh, the first three of those can be a new endpoint's lag.
permanent() {
  case "$1" in
    6 | 7 | 35) [[ "$FRESH" == false ]] ;;
    3 | 51 | 53 | 54 | 58 | 59 | 60 | 77 | 80 | 82 | 83 | 90 | 91) return 0 ;;
    *) return 1 ;;
  esac
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
    fail "GET $path: expected $status $type with $fragment; got $first ${body:0:300}"
  fi
}

wait_until_healthy() {
  local deadline=$((SECONDS + WAIT)) first
  [[ "$DRY_RUN" == true ]] && return 0
  while :; do
    # Not in a command substitution: CURL_EXIT must reach this shell.
    fetch /healthz >"$HEALTH"
    first="$(head -n 1 "$HEALTH")"
    [[ "$first" == "200 "* ]] && return 0
    if permanent "$CURL_EXIT"; then
      fail "$BASE_URL/healthz: ${CURL_ERROR:-curl exit $CURL_EXIT} (curl exit $CURL_EXIT); not retried, since waiting cannot fix it"
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      fail "/healthz did not answer 200 within ${WAIT}s (last: ${first:-${CURL_ERROR:-no answer}})"
      exit 1
    fi
    sleep 2
  done
}

# check_scheme: https, except for the local machine.
check_scheme() {
  local rest host
  case "$BASE_URL" in
    https://*) return 0 ;;
    http://*) rest="${BASE_URL#http://}" ;;
    *) die "BASE_URL must start with https:// (or http:// for a local service)" ;;
  esac
  host="${rest%%/*}"
  case "$host" in
    localhost | localhost:* | 127.0.0.1 | 127.0.0.1:* | "[::1]" | "[::1]:"*) ;;
    *) die "use https:// for $host: a deployed service is only checked over TLS" ;;
  esac
}

main() {
  WAIT=120
  FRESH=false
  BASE_URL=""
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --dry-run) DRY_RUN=true ;;
      --fresh) FRESH=true ;;
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
  check_scheme
  need curl "install curl (Debian: apt-get install curl)"

  HEALTH="$(mktemp)"
  trap 'rm -f "$HEALTH"' EXIT
  wait_until_healthy
  local json="application/json" problem="application/problem+json"
  expect "/healthz" 200 "$json" '{"status":"ok"}'
  expect "/query?param=caiopa" 200 "$json" '{"count":1}'
  expect "/query?param=acx333x" 200 "$json" '{"count":2}'
  expect "/query?param=%C3%A9t%C3%A9" 200 "$json" '{"count":1}'
  expect "/query" 400 "$problem" '"type":"tag:sre-kata,2026:problem:missing-param"'
  expect "/no-such-path" 404 "$problem" '"status":404'

  if ((FAILURES > 0)); then
    printf '%s check(s) failed against %s\n' "$FAILURES" "$BASE_URL" >&2
    return 1
  fi
  [[ "$DRY_RUN" == true ]] || printf 'all checks passed against %s\n' "$BASE_URL"
}

main "$@"
