#!/usr/bin/env bash
# Destroys one service stack (App Runner or ECS Express), after confirmation.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/destroy.sh [--dry-run] <apprunner|ecs-express> --confirm <same target>

Destroys everything infra/stacks/<target> created: the service, its WAF,
alarms, keys and roles. The ECR repository, the images and the state bucket
stay (docs/deploy.md, Teardown). --confirm must repeat the target. Then it
retires the stack's last good image (scripts/last-good.sh retire), which
described the stack that is gone: a new stack starts without one, and
scripts/deploy.sh <target> last-good deploys the retired one again.

Needs terraform, the AWS CLI, AWS_REGION (or AWS_DEFAULT_REGION), and
credentials that may delete the stack (the registry's destroy role, or an
administrator). The state bucket is TF_STATE_BUCKET, or the one
scripts/bootstrap.sh made for this account and region. The stack's
settings come from its terraform.tfvars.

  --dry-run   print the commands instead of running them

A SIGINT or SIGTERM (a cancelled workflow, Ctrl-C) is passed on to
terraform once: it stops cleanly and releases the state lock.
USAGE
}

main() {
  local target="" confirm=""
  catch_stop_signals
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --dry-run) DRY_RUN=true ;;
      --confirm)
        [[ -n "${2:-}" && "${2:-}" != -* ]] || die "--confirm needs the target again, e.g. --confirm ecs-express"
        confirm="$2"
        shift
        ;;
      -*) die "unknown option '$1'; try --help" ;;
      *)
        [[ -z "$target" ]] || die "more than one target given; try --help"
        target="$1"
        ;;
    esac
    shift
  done
  [[ "$target" == apprunner || "$target" == ecs-express ]] \
    || die "give the target to destroy: apprunner or ecs-express"
  [[ "$confirm" == "$target" ]] || die "to destroy $target, confirm with --confirm $target"

  local region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  [[ -n "$region" ]] || die "AWS_REGION is not set; export the region the service runs in"
  [[ "$DRY_RUN" == true ]] || need terraform "install Terraform 1.10 or newer (https://developer.hashicorp.com/terraform/install)"
  TF_STATE_BUCKET="$(state_bucket "$region")"
  export TF_STATE_BUCKET

  local stack="$REPO_ROOT/infra/stacks/$target" image="IMAGE_FROM_STATE"
  run terraform -chdir="$stack" init -input=false -reconfigure -backend-config="bucket=$TF_STATE_BUCKET" -backend-config="region=$region"
  if [[ "$DRY_RUN" == false ]]; then
    # Every variable needs a value, even to destroy; the image is the one deployed.
    image="$(terraform -chdir="$stack" output -raw image 2>/dev/null)" \
      || die "the $target stack has no deployed image in its state: nothing to destroy"
  fi
  local destroy=(terraform -chdir="$stack" destroy -input=false -auto-approve -lock-timeout="$LOCK_TIMEOUT"
    -var "image=$image" -var "state_bucket=$TF_STATE_BUCKET")
  if [[ "$DRY_RUN" == true ]]; then
    run "${destroy[@]}"
  else
    # A cancelled run stops terraform cleanly, lock released (lib.sh).
    local status=0
    supervised "${destroy[@]}" || status=$?
    stop_if_signalled
    ((status == 0)) || exit "$status"
  fi
  local last_good=("$REPO_ROOT/scripts/last-good.sh")
  [[ "$DRY_RUN" == false ]] || last_good+=(--dry-run)
  "${last_good[@]}" retire "$target"
  # Its deploy role is gone with it, but the repository variable naming
  # it stays until an administrator runs github-setup.sh again.
  local next="the $target stack is destroyed. Its deploy role went with it: run scripts/github-setup.sh again (an administrator), or releases for $target fail at their credentials step. To bring it back: scripts/deploy.sh $target last-good (docs/deploy.md, Teardown)."
  printf '%s: %s\n' "$SCRIPT" "$next" >&2
  [[ -z "${GITHUB_STEP_SUMMARY:-}" || "$DRY_RUN" == true ]] || printf '%s\n' "$next" >>"$GITHUB_STEP_SUMMARY"
}

main "$@"
