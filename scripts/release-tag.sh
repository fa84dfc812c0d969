#!/usr/bin/env bash
# Records a deployed release on GitHub: a release and tag named after the
# version, with the image digest in its notes and in the run summary.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/release-tag.sh [--dry-run] IMAGE [SERVICE_URL]

Creates the GitHub release v<version>-<run> (version from Cargo.toml, run
from GITHUB_RUN_NUMBER) at GITHUB_SHA, with IMAGE (the digest deployed) and
SERVICE_URL in its notes, and adds both to \$GITHUB_STEP_SUMMARY. Meant for
the release workflow: needs gh, GH_TOKEN, GITHUB_REPOSITORY, GITHUB_SHA and
GITHUB_RUN_NUMBER.

  --dry-run   print the gh command instead of running it
USAGE
}

main() {
  local args=()
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --dry-run) DRY_RUN=true ;;
      -*) die "unknown option '$1'; try --help" ;;
      *) args+=("$1") ;;
    esac
    shift
  done
  ((${#args[@]} >= 1 && ${#args[@]} <= 2)) || die "give the deployed IMAGE (and optionally the SERVICE_URL); try --help"
  local image="${args[0]}" url="${args[1]:-}"
  [[ "$image" == *@sha256:* ]] || die "IMAGE must be a reference by digest (…@sha256:…)"
  local var
  for var in GITHUB_REPOSITORY GITHUB_SHA GITHUB_RUN_NUMBER; do
    [[ -n "${!var:-}" ]] || die "$var is not set; this script runs in GitHub Actions"
  done
  if [[ "$DRY_RUN" == false ]]; then
    need gh "install the GitHub CLI (https://cli.github.com)"
    [[ -n "${GH_TOKEN:-}" ]] || die "GH_TOKEN is not set; pass the workflow's github.token"
  fi

  local tag notes
  tag="v$(crate_version)-$GITHUB_RUN_NUMBER"
  notes="$(printf 'Image: %s\n\nService: %s\n\nCommit: %s\n' "$image" "${url:-(not recorded)}" "$GITHUB_SHA")"
  run gh release create "$tag" --repo "$GITHUB_REPOSITORY" --target "$GITHUB_SHA" \
    --title "$tag" --notes "$notes"
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" && "$DRY_RUN" == false ]]; then
    printf '### Released %s\n\n%s\n' "$tag" "$notes" >>"$GITHUB_STEP_SUMMARY"
  fi
  printf '%s\n' "$tag"
}

main "$@"
