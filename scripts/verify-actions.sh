#!/usr/bin/env bash
# Checks every pinned action against its upstream repository on GitHub: the
# commit in .github/pinned-actions.txt must be the commit its tag names.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/verify-actions.sh [LIST]

For each action in LIST (default: .github/pinned-actions.txt), asks its
repository on GitHub which commit its tag names (git ls-remote, peeling an
annotated tag) and fails unless it is the commit the list pins. An action
marked "via OTHER" is pinned inside OTHER's action.yml, not by us: that
file, at OTHER's pinned commit, must name the same commit.

tests/workflows.rs holds the workflows to the list offline; this checks the
list against GitHub, which needs the network (ci.yml runs it). Prints one
line per action; exit 1 if any pin is not its tag's commit.

Needs git and curl. GITHUB_SERVER_URL (default https://github.com) and
RAW_SERVER (default https://raw.githubusercontent.com) name the servers.
USAGE
}

# tag_commit ACTION TAG: prints the commit TAG names in ACTION's repository.
tag_commit() {
  local action="$1" tag="$2" refs peeled
  refs="$(git ls-remote "$SERVER/$action" "refs/tags/$tag" "refs/tags/$tag^{}")" || return 1
  # An annotated tag is listed twice: the tag object, then ^{} its commit.
  peeled="$(awk -v ref="refs/tags/$tag^{}" '$2 == ref { print $1 }' <<<"$refs")"
  [[ -n "$peeled" ]] || peeled="$(awk -v ref="refs/tags/$tag" '$2 == ref { print $1 }' <<<"$refs")"
  [[ -n "$peeled" ]] || return 1
  printf '%s\n' "$peeled"
}

# pinned_inside ACTION COMMIT PARENT: true if PARENT's action.yml, at the
# commit the list pins PARENT to, uses ACTION@COMMIT.
pinned_inside() {
  local action="$1" commit="$2" parent="$3" parent_commit
  parent_commit="$(awk -v a="$parent" '$1 == a { print $3; exit }' "$LIST")"
  [[ -n "$parent_commit" ]] || return 1
  curl -fsSL "${RAW_SERVER:-https://raw.githubusercontent.com}/$parent/$parent_commit/action.yml" \
    | grep -qE "uses:[[:space:]]*$action@$commit([[:space:]]|\$)"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    -*) die "unknown option '$1'; try --help" ;;
  esac
  (($# <= 1)) || die "give at most one LIST; try --help"
  LIST="${1:-$REPO_ROOT/.github/pinned-actions.txt}"
  [[ -f "$LIST" ]] || die "no list of pinned actions at $LIST"
  need git "install git"
  need curl "install curl"
  SERVER="${GITHUB_SERVER_URL:-https://github.com}"

  local action tag commit _date via parent failed=0 actual
  while read -r action tag commit _date via parent; do
    [[ -z "$action" || "$action" == \#* ]] && continue
    if ! actual="$(tag_commit "$action" "$tag")"; then
      printf 'FAIL %s %s: GitHub names no such tag\n' "$action" "$tag"
      failed=1
    elif [[ "$actual" != "$commit" ]]; then
      printf 'FAIL %s %s: the tag is %s upstream, the pin %s\n' "$action" "$tag" "$actual" "$commit"
      failed=1
    elif [[ "$via" == via ]] && ! pinned_inside "$action" "$commit" "$parent"; then
      printf 'FAIL %s %s: %s does not pin it at %s\n' "$action" "$tag" "$parent" "$commit"
      failed=1
    else
      printf 'ok   %s %s %s\n' "$action" "$tag" "$commit"
    fi
  done <"$LIST"
  return "$failed"
}

main "$@"
