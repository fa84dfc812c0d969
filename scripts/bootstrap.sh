#!/usr/bin/env bash
# Creates the S3 bucket for Terraform state, once per AWS account and region.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/bootstrap.sh [--dry-run] [--auto-approve]

Applies infra/bootstrap: a versioned, KMS-encrypted S3 bucket, closed to the
public and to anything but TLS, for the state of the other stacks (locked
with S3 lockfiles, no DynamoDB). Run it once per account and region, with
administrator credentials; it prints the bucket name to export as
TF_STATE_BUCKET. Its own state stays in infra/bootstrap/terraform.tfstate:
keep that file, or import the bucket again later.

Needs terraform, AWS_REGION (or AWS_DEFAULT_REGION) and AWS credentials.

  --dry-run        print the commands instead of running them
  --auto-approve   apply without asking
USAGE
}

main() {
  local approve=()
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --dry-run) DRY_RUN=true ;;
      --auto-approve) approve=(-auto-approve) ;;
      *) die "unknown argument '$1'; try --help" ;;
    esac
    shift
  done
  [[ -n "${AWS_REGION:-${AWS_DEFAULT_REGION:-}}" ]] \
    || die "AWS_REGION is not set; export the region for the state bucket, e.g. AWS_REGION=eu-west-1"
  [[ "$DRY_RUN" == true ]] || need terraform "install Terraform 1.10 or newer (https://developer.hashicorp.com/terraform/install)"

  local stack="$REPO_ROOT/infra/bootstrap"
  run terraform -chdir="$stack" init -input=false
  run terraform -chdir="$stack" apply -input=false "${approve[@]}"
  if [[ "$DRY_RUN" == false ]]; then
    printf 'export TF_STATE_BUCKET=%s\n' "$(terraform -chdir="$stack" output -raw state_bucket)"
  fi
}

main "$@"
