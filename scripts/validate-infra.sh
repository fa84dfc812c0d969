#!/usr/bin/env bash
# Runs terraform init and validate on every root of infra/. Needs the
# provider registry, so CI's GitHub workflow runs it; the offline sandbox
# cannot (scripts/test.sh runs fmt and checkov there instead).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/validate-infra.sh [--dry-run]

For infra/bootstrap and each infra/stacks/*: terraform init -backend=false,
then terraform validate, which checks every module the stack uses. Needs
terraform and network access to the Terraform provider registry.

  --dry-run   print the commands instead of running them
USAGE
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    --dry-run) DRY_RUN=true ;;
    "") ;;
    *) die "unknown argument '$1'; try --help" ;;
  esac
  [[ "$DRY_RUN" == true ]] || need terraform "install Terraform 1.10 or newer (https://developer.hashicorp.com/terraform/install)"
  local root
  for root in "$REPO_ROOT/infra/bootstrap" "$REPO_ROOT"/infra/stacks/*/; do
    root="${root%/}"
    printf '\n==> %s\n' "${root#"$REPO_ROOT/"}" >&2
    run terraform -chdir="$root" init -backend=false -input=false
    run terraform -chdir="$root" validate
  done
}

main "$@"
