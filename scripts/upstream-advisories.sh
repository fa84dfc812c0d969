#!/usr/bin/env bash
# Follows the advisories of the crates we forked: cargo deny does not check
# path dependencies, and our fork has a name of its own, so no scanner
# matches upstream's advisories to it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/upstream-advisories.sh [DATABASE]

For every crate of this workspace forked from another
([package.metadata.fork] in its Cargo.toml: upstream, reviewed-advisories),
lists the RustSec advisories filed against the upstream crate and fails on
any that is not in reviewed-advisories: read it, judge whether the fork is
affected (fix it if so), and add its id there with a line saying why.
Withdrawn advisories are skipped.

DATABASE is a copy of the RustSec advisory database (its crates/ folder
holds crates/<name>/RUSTSEC-*.md); by default, every copy cargo deny
fetched under \${CARGO_HOME:-~/.cargo}/advisory-dbs. scripts/test.sh
--advisories runs cargo deny, then this (ci.yml, and every Monday).

Needs cargo and python3.
USAGE
}

# forks: prints "NAME UPSTREAM REVIEWED-ID..." for each forked crate.
forks() {
  cargo metadata --format-version 1 --no-deps --offline --manifest-path "$REPO_ROOT/Cargo.toml" \
    | python3 -c '
import json, sys
for package in json.load(sys.stdin)["packages"]:
    fork = (package.get("metadata") or {}).get("fork")
    if fork:
        print(package["name"], fork["upstream"], *fork.get("reviewed-advisories", []))
'
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    -*) die "unknown option '$1'; try --help" ;;
  esac
  (($# <= 1)) || die "give at most one DATABASE; try --help"
  need cargo "install Rust with rustup (https://rustup.rs)"
  need python3 "install Python 3"
  local databases=()
  if (($# == 1)); then
    [[ -d "$1/crates" ]] || die "$1 is not an advisory database: it has no crates/ folder"
    databases=("$1")
  else
    local found
    for found in "${CARGO_HOME:-$HOME/.cargo}"/advisory-dbs/*/; do
      [[ -d "$found/crates" ]] && databases+=("${found%/}")
    done
    ((${#databases[@]} > 0)) \
      || die "no advisory database under ${CARGO_HOME:-$HOME/.cargo}/advisory-dbs: run cargo deny fetch (or scripts/test.sh --advisories) first"
  fi

  local name upstream reviewed database file id failed=0 listed
  local lines
  lines="$(forks)" || die "cannot read the workspace's crates (cargo metadata)"
  [[ -n "$lines" ]] || die "no crate of this workspace names the crate it was forked from"
  while read -r name upstream reviewed; do
    listed=0
    local -A seen=()
    for database in "${databases[@]}"; do
      for file in "$database/crates/$upstream"/RUSTSEC-*.md; do
        [[ -f "$file" ]] || continue
        grep -q '^withdrawn *=' "$file" && continue
        id="$(basename "$file" .md)"
        [[ -z "${seen[$id]:-}" ]] || continue # in two copies of the database
        seen[$id]=1
        listed=$((listed + 1))
        if [[ " $reviewed " == *" $id "* ]]; then
          printf 'reviewed  %s (%s, forked as %s)\n' "$id" "$upstream" "$name"
        else
          printf 'NEW       %s (%s, forked as %s): %s\n' "$id" "$upstream" "$name" \
            "$(grep -m 1 '^# ' "$file" | sed 's/^# //')"
          failed=1
        fi
      done
    done
    printf '%s: %s advisories against %s in the database\n' "$name" "$listed" "$upstream"
  done <<<"$lines"
  ((failed == 0)) || printf 'Read each NEW advisory, judge the fork, and list its id under reviewed-advisories ([package.metadata.fork]).\n'
  return "$failed"
}

main "$@"
