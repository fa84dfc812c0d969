#!/usr/bin/env bash
# Signs a pushed image and attaches its SBOM, as the release workflow.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/sign.sh [--dry-run] IMAGE SBOM

Signs IMAGE (REGISTRY/REPOSITORY@sha256:..., as scripts/push.sh prints it)
with keyless cosign, and attaches SBOM (the CycloneDX JSON scripts/build.sh
wrote) to it as a signed attestation of type cyclonedx. Keyless: the
certificate names the GitHub workflow that signed, through its OIDC token,
and the signature is logged in the public Rekor transparency log. Meant for
release.yml, which needs id-token: write; scripts/deploy.sh checks the
signature before it deploys.

A signature or attestation that this workflow identity already made is
kept, not made again (a rerun). cosign keeps them under tags of their own,
sha256-<digest>.sig and .att, the only tags of the repository that may be
rewritten (infra/modules/ecr): cosign adds a signature by rewriting its
tag, so nothing written there first can block it. Needs cosign, the AWS
CLI and GITHUB_REPOSITORY.

  --dry-run   print the commands instead of running them
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
  ((${#args[@]} == 2)) || die "give the IMAGE (by digest) and its SBOM file; try --help"
  local image="${args[0]}" sbom="${args[1]}"
  [[ "$image" =~ @sha256:[0-9a-f]{64}$ ]] || die "IMAGE must be a reference by digest (…@sha256:<64 hex>), never a tag"
  [[ -f "$sbom" ]] || die "no SBOM at $sbom; scripts/build.sh writes it next to the binary"
  [[ -n "${GITHUB_REPOSITORY:-}" ]] || die "GITHUB_REPOSITORY is not set; signing is done by the release workflow"
  if [[ "$DRY_RUN" == false ]]; then
    need cosign "install cosign (https://docs.sigstore.dev/cosign/system_config/installation/)"
    need aws "install the AWS CLI v2 (https://aws.amazon.com/cli/)"
  fi

  local identity=(--certificate-identity "$(release_identity "$GITHUB_REPOSITORY")"
    --certificate-oidc-issuer "$SIGNATURE_ISSUER")
  cosign_login "$image"
  if [[ "$DRY_RUN" == false ]] && cosign verify "${identity[@]}" "$image" >/dev/null 2>&1; then
    printf '%s: %s is signed already\n' "$SCRIPT" "$image" >&2
  else
    run cosign sign --yes "$image" >&2
  fi
  if [[ "$DRY_RUN" == false ]] \
    && cosign verify-attestation --type cyclonedx "${identity[@]}" "$image" >/dev/null 2>&1; then
    printf '%s: %s has its SBOM attestation already\n' "$SCRIPT" "$image" >&2
  else
    run cosign attest --yes --type cyclonedx --predicate "$sbom" "$image" >&2
  fi
}

main "$@"
