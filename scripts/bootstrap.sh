#!/usr/bin/env bash
# One-time setup of an account and region: the state bucket, then the
# registry stack (image repository, GitHub's OIDC provider, push and destroy
# roles). Safe to run again: both applies converge.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/bootstrap.sh [--dry-run] [--auto-approve]

With administrator credentials, once per account and region:
  1. applies infra/bootstrap: a versioned, KMS-encrypted S3 bucket, closed
     to the public and to anything but TLS, for the other stacks' state
     (locked with S3 lockfiles, no DynamoDB). Its own state stays in
     infra/bootstrap/terraform.tfstate: keep that file, or import the bucket
     again later.
  2. applies infra/stacks/registry with its committed terraform.tfvars: set
     github_repository there to your repository first.
It prints \`export TF_STATE_BUCKET=...\` on stdout. The other scripts
derive the same name from the signed-in account and the region, so the
line is needed only where those differ.

Needs terraform, AWS_REGION (or AWS_DEFAULT_REGION) and AWS credentials.

  --dry-run        print the commands instead of running them
  --auto-approve   apply without asking

Each stack is planned, shown, and applied exactly as planned once you
answer yes. A SIGINT or SIGTERM (Ctrl-C) is passed on to terraform once:
it stops cleanly and releases the state lock.
USAGE
}

# apply_stack DIR ARGS...: plans DIR, asks (unless --auto-approve), and
# applies exactly that plan; a plan without changes applies nothing.
# Terraform never reads the terminal: it runs supervised (lib.sh), so a
# Ctrl-C stops it cleanly, lock released.
apply_stack() {
  local dir="$1" plan="bootstrap.tfplan" status=0 answer=""
  shift
  if [[ "$DRY_RUN" == true ]]; then
    run terraform -chdir="$dir" plan -input=false -lock-timeout="$LOCK_TIMEOUT" -detailed-exitcode -out="$plan" "$@"
    run terraform -chdir="$dir" apply -input=false -lock-timeout="$LOCK_TIMEOUT" "$plan"
    return 0
  fi
  # -detailed-exitcode: 0 no changes, 2 changes, 1 an error.
  supervised terraform -chdir="$dir" plan -input=false -lock-timeout="$LOCK_TIMEOUT" \
    -detailed-exitcode -out="$plan" "$@" >&2 || status=$?
  stop_if_signalled
  if ((status == 0)); then
    rm -f "$dir/$plan"
    printf '%s: %s is up to date\n' "$SCRIPT" "${dir#"$REPO_ROOT/"}" >&2
    return 0
  fi
  ((status == 2)) || die "the plan of ${dir#"$REPO_ROOT/"} failed (above); nothing was applied"
  if [[ "$AUTO_APPROVE" == false ]]; then
    [[ -t 0 ]] || { rm -f "$dir/$plan"; die "nothing to answer with: run it in a terminal, or pass --auto-approve"; }
    read -r -p "Apply this plan to ${dir#"$REPO_ROOT/"}? Only 'yes' applies it: " answer || true
    stop_if_signalled
    # The plan may hold sensitive values: it does not outlive the answer.
    [[ "$answer" == yes ]] || { rm -f "$dir/$plan"; die "not applied: the answer was not 'yes'"; }
  fi
  status=0
  supervised terraform -chdir="$dir" apply -input=false -lock-timeout="$LOCK_TIMEOUT" "$plan" >&2 || status=$?
  rm -f "$dir/$plan"
  stop_if_signalled
  ((status == 0)) || die "the apply of ${dir#"$REPO_ROOT/"} failed (above)"
}

main() {
  AUTO_APPROVE=false
  catch_stop_signals
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --dry-run) DRY_RUN=true ;;
      --auto-approve) AUTO_APPROVE=true ;;
      *) die "unknown argument '$1'; try --help" ;;
    esac
    shift
  done
  local region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  [[ -n "$region" ]] || die "AWS_REGION is not set; export the region for the state bucket, e.g. AWS_REGION=eu-west-1"
  check_github_repository registry
  [[ "$DRY_RUN" == true ]] || need terraform "install Terraform 1.10 or newer (https://developer.hashicorp.com/terraform/install)"

  local bootstrap="$REPO_ROOT/infra/bootstrap" registry="$REPO_ROOT/infra/stacks/registry" bucket
  run terraform -chdir="$bootstrap" init -input=false >&2
  apply_stack "$bootstrap"
  if [[ "$DRY_RUN" == true ]]; then
    run terraform -chdir="$bootstrap" output -raw state_bucket
    bucket="sre-kata-tfstate-ACCOUNT-$region"
  else
    # Read first, print after: a failure must not print a half line.
    bucket="$(terraform -chdir="$bootstrap" output -raw state_bucket)" \
      || die "applied infra/bootstrap, but cannot read its state_bucket output"
    [[ -n "$bucket" ]] || die "infra/bootstrap has an empty state_bucket output"
  fi

  run terraform -chdir="$registry" init -input=false -reconfigure \
    -backend-config="bucket=$bucket" -backend-config="region=$region" >&2
  apply_stack "$registry" -var "state_bucket=$bucket"
  printf 'export TF_STATE_BUCKET=%s\n' "$bucket"
}

main "$@"
