#!/usr/bin/env bash
# Deploys an image, by digest, to one of the two targets with Terraform, then
# smoke-tests the live URL.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/deploy.sh [--dry-run] <apprunner|ecs-express> <image-digest>

Deploys IMAGE-DIGEST (REGISTRY/REPOSITORY@sha256:..., as scripts/push.sh
prints it) with the Terraform stack infra/stacks/<target>: init, plan, apply
that plan, then scripts/smoke.sh against the service URL. Before applying it
prints the image deployed until now: re-deploying that is the rollback.

Needs terraform, and in the environment:
  TF_STATE_BUCKET          the state bucket (scripts/bootstrap.sh prints it)
  AWS_REGION               the region (or AWS_DEFAULT_REGION)
  TF_VAR_github_repository owner/name of the GitHub repository allowed to
                           deploy (GITHUB_REPOSITORY is used in Actions)
  AWS credentials that may apply the stack
Other stack variables can be set as TF_VAR_<name> (see variables.tf).
In GitHub Actions, previous_image and service_url go to \$GITHUB_OUTPUT.

  --dry-run   print the commands instead of running them
USAGE
}

readonly DIGEST_PATTERN='^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$'

# tf ARGS...: terraform on the chosen stack.
tf() {
  run terraform -chdir="$STACK_DIR" "$@"
}

# github_output NAME VALUE: hands a value to later workflow steps.
github_output() {
  if [[ -n "${GITHUB_OUTPUT:-}" && "$DRY_RUN" == false ]]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
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
  ((${#args[@]} == 2)) || die "give a target (apprunner or ecs-express) and an image digest; try --help"
  local target="${args[0]}" image="${args[1]}"
  [[ "$target" == apprunner || "$target" == ecs-express ]] \
    || die "unknown target '$target': use apprunner (App Runner accounts) or ecs-express (everyone else)"
  [[ "$image" =~ $DIGEST_PATTERN ]] \
    || die "the image must be given by digest (REGISTRY/REPOSITORY@sha256:<64 hex>), as scripts/push.sh prints it; never a tag"

  local region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  [[ -n "$region" ]] || die "AWS_REGION is not set; export the region the service runs in"
  [[ -n "${TF_STATE_BUCKET:-}" ]] || die "TF_STATE_BUCKET is not set; export the bucket scripts/bootstrap.sh printed"
  if [[ -z "${TF_VAR_github_repository:-}" ]]; then
    [[ -n "${GITHUB_REPOSITORY:-}" ]] \
      || die "TF_VAR_github_repository is not set; export the GitHub repository allowed to deploy, as owner/name"
    export TF_VAR_github_repository="$GITHUB_REPOSITORY"
  fi
  [[ "$DRY_RUN" == true ]] || need terraform "install Terraform 1.10 or newer (https://developer.hashicorp.com/terraform/install)"
  STACK_DIR="$REPO_ROOT/infra/stacks/$target"

  # -reconfigure: a checkout that ran init before the backend gained
  # kms_key_id would otherwise stop and ask; the bucket and key are the same.
  tf init -input=false -reconfigure -backend-config="bucket=$TF_STATE_BUCKET" -backend-config="region=$region"

  local previous=""
  if [[ "$DRY_RUN" == false ]]; then
    previous="$(terraform -chdir="$STACK_DIR" output -raw image 2>/dev/null || true)"
  fi
  printf 'previous image: %s\n' "${previous:-none (first deploy)}" >&2
  github_output previous_image "$previous"

  tf plan -input=false -out=deploy.tfplan -var "image=$image" -var "state_bucket=$TF_STATE_BUCKET"
  tf apply -input=false deploy.tfplan

  local url="https://service-url.invalid"
  if [[ "$DRY_RUN" == false ]]; then
    url="$(terraform -chdir="$STACK_DIR" output -raw service_url)"
  fi
  github_output service_url "$url"
  local smoke=("$REPO_ROOT/scripts/smoke.sh")
  [[ "$DRY_RUN" == true ]] && smoke+=(--dry-run)
  "${smoke[@]}" "$url"
}

main "$@"
