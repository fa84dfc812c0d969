#!/usr/bin/env bash
# Records a deployed release on GitHub: a release and tag named after the
# version, with the image digest in its notes and in the run summary.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/release-tag.sh [--dry-run] [--image-id ID] [--toolchain TEXT] [--sbom FILE] IMAGE [SERVICE_URL]

Creates the GitHub release v<version>-<run> (version from Cargo.toml, run
from GITHUB_RUN_NUMBER) at GITHUB_SHA, with IMAGE (the digest deployed),
its image id, SERVICE_URL and how to verify the image in its notes, the
SBOM attached, and adds the notes to \$GITHUB_STEP_SUMMARY. Meant for the
release workflow: needs gh, GH_TOKEN, GITHUB_REPOSITORY, GITHUB_SHA and
GITHUB_RUN_NUMBER.

  --image-id ID   the image id (sha256:<hex>, the config digest) that
                  scripts/rebuild.sh --expect compares a rebuild with
  --toolchain TEXT  the compilers that built the binary (scripts/build.sh
                  prints them), which a rebuild must use
  --sbom FILE     the CycloneDX SBOM to attach (scripts/build.sh wrote it)
  --dry-run       print the gh command instead of running it
USAGE
}

main() {
  local args=() image_id="" sbom="" toolchain=""
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --dry-run) DRY_RUN=true ;;
      --image-id) (($# >= 2)) || die "--image-id needs an ID; try --help"; image_id="$2"; shift ;;
      --sbom) (($# >= 2)) || die "--sbom needs a FILE; try --help"; sbom="$2"; shift ;;
      --toolchain) (($# >= 2)) || die "--toolchain needs TEXT; try --help"; toolchain="$2"; shift ;;
      -*) die "unknown option '$1'; try --help" ;;
      *) args+=("$1") ;;
    esac
    shift
  done
  ((${#args[@]} >= 1 && ${#args[@]} <= 2)) || die "give the deployed IMAGE (and optionally the SERVICE_URL); try --help"
  local image="${args[0]}" url="${args[1]:-}"
  [[ "$image" == *@sha256:* ]] || die "IMAGE must be a reference by digest (…@sha256:…)"
  [[ -z "$image_id" || "$image_id" =~ ^sha256:[0-9a-f]{64}$ ]] \
    || die "--image-id '$image_id' is not an image id (sha256:<64 hex>)"
  [[ -z "$sbom" || -f "$sbom" ]] || die "--sbom: no file at $sbom"
  local var
  for var in GITHUB_REPOSITORY GITHUB_SHA GITHUB_RUN_NUMBER; do
    [[ -n "${!var:-}" ]] || die "$var is not set; this script runs in GitHub Actions"
  done
  if [[ "$DRY_RUN" == false ]]; then
    need gh "install the GitHub CLI (https://cli.github.com)"
    [[ -n "${GH_TOKEN:-}" ]] || die "GH_TOKEN is not set; pass the workflow's github.token"
  fi

  local tag notes assets=()
  tag="v$(crate_version)-$GITHUB_RUN_NUMBER"
  notes="$(printf 'Image: %s\n\nImage id: %s\n\nService: %s\n\nCommit: %s\n\n' \
    "$image" "${image_id:-(not recorded)}" "${url:-(not recorded)}" "$GITHUB_SHA")"
  notes+="$(printf '\nBuilt on GitHub'"'"'s ubuntu-24.04 runner, with: %s\n\nVerify (README, "Verifying a release"):\n\n    cosign verify --certificate-identity %s --certificate-oidc-issuer %s %s\n    gh attestation verify oci://%s --repo %s\n    IMAGE_SOURCE=%s/%s scripts/rebuild.sh --commit %s --expect %s\n' \
    "${toolchain:-(not recorded)}" \
    "$(release_identity "$GITHUB_REPOSITORY")" "$SIGNATURE_ISSUER" "$image" "$image" "$GITHUB_REPOSITORY" \
    "${GITHUB_SERVER_URL:-https://github.com}" "$GITHUB_REPOSITORY" "$GITHUB_SHA" "${image_id:-<image id>}")"
  [[ -z "$sbom" ]] || assets=("$sbom#SBOM (CycloneDX JSON)")
  run gh release create "$tag" --repo "$GITHUB_REPOSITORY" --target "$GITHUB_SHA" \
    --title "$tag" --notes "$notes" "${assets[@]}"
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" && "$DRY_RUN" == false ]]; then
    printf '### Released %s\n\n%s\n' "$tag" "$notes" >>"$GITHUB_STEP_SUMMARY"
  fi
  printf '%s\n' "$tag"
}

main "$@"
