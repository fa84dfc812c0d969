#!/usr/bin/env bash
# Creates the GitHub environments and variables the workflows need, from
# the stacks' Terraform outputs, so that nothing is copied by hand.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/github-setup.sh [--dry-run] --reviewer LOGIN [--reviewer LOGIN]... <apprunner|ecs-express>

For the repository named in infra/stacks/<target>/terraform.tfvars, with
the GitHub CLI (gh, logged in with admin rights on it):
  - environment destroy: from main only, after one of the reviewers
    approves (set again on every run);
  - environment production: deployments from main only (created once; the
    rules an administrator adds to it later, such as reviewers, stay);
  - repository variables, read from terraform outputs, the credentials and
    the environment: AWS_REGION, AWS_ACCOUNT_ID, TF_STATE_BUCKET,
    DEPLOY_TARGET (the target given), ECR_REPOSITORY, AWS_PUSH_ROLE_ARN,
    AWS_DESTROY_ROLE_ARN, and each deployed stack's own deploy role:
    AWS_DEPLOY_ROLE_ARN_ECS_EXPRESS, AWS_DEPLOY_ROLE_ARN_APPRUNNER (a stack
    with an empty state has none, and its variable is removed).
Run it after scripts/bootstrap.sh: releases then build, push and sign, and
deploy nothing until the target's first deploy (by an administrator, of
such a signed image). Run it again after that first deploy, and after a
stack is deployed or torn down. It is safe to run again.

Needs gh, terraform, the AWS CLI and AWS_REGION; the state bucket is
TF_STATE_BUCKET, or the one scripts/bootstrap.sh made for this account and
region.

  --reviewer LOGIN   a GitHub user who must approve a destroy (at least one)
  --dry-run          print the commands instead of running them
USAGE
}

# output STACK NAME: a Terraform output of infra/stacks/STACK.
output() {
  if [[ "$DRY_RUN" == true ]]; then
    run terraform -chdir="$REPO_ROOT/infra/stacks/$1" output -raw "$2"
    printf '<%s>\n' "$2"
  else
    terraform -chdir="$REPO_ROOT/infra/stacks/$1" output -raw "$2" \
      || die "cannot read the $2 output of infra/stacks/$1: deploy it first"
  fi
}

# deploy_role STACK: prints the stack's deploy role, or nothing if the
# stack's state is empty (never deployed, or torn down) or names no role
# yet (a first deploy that stopped before it: said on stderr).
deploy_role() {
  local resources
  if [[ "$DRY_RUN" == true ]]; then
    run terraform -chdir="$REPO_ROOT/infra/stacks/$1" state list
    output "$1" deploy_role_arn
    return 0
  fi
  resources="$(terraform -chdir="$REPO_ROOT/infra/stacks/$1" state list)" \
    || die "cannot read the state of infra/stacks/$1 in s3://$TF_STATE_BUCKET"
  [[ -n "$resources" ]] || return 0
  terraform -chdir="$REPO_ROOT/infra/stacks/$1" output -raw deploy_role_arn 2>/dev/null \
    || printf 'github-setup: infra/stacks/%s has resources but no deploy role yet (a first deploy that stopped halfway?): none is set for it\n' "$1" >&2
}

init() {
  run terraform -chdir="$REPO_ROOT/infra/stacks/$1" init -input=false -reconfigure \
    -backend-config="bucket=$TF_STATE_BUCKET" -backend-config="region=$REGION" >&2
}

# with_input TEXT COMMAND...: runs COMMAND with TEXT on its stdin; under
# --dry-run, prints it instead.
with_input() {
  local text="$1"
  shift
  if [[ "$DRY_RUN" == true ]]; then
    printf '%q ' "$@" >&2
    printf '<<< %q\n' "$text" >&2
  else
    printf '%s' "$text" | "$@"
  fi
}

# put_environment NAME JSON: creates or replaces an environment's settings.
put_environment() {
  local name="$1" body="$2" error
  if [[ "$DRY_RUN" == true ]]; then
    with_input "$body" gh api --method PUT "repos/$REPOSITORY/environments/$name" --input -
    return 0
  fi
  error="$(mktemp)"
  if ! with_input "$body" gh api --method PUT "repos/$REPOSITORY/environments/$name" --input - >/dev/null 2>"$error"; then
    if grep -qi 'reviewer' "$error"; then
      die "GitHub refused required reviewers for the $name environment (a private repository needs GitHub Enterprise for them): $(head -n 1 "$error")"
    fi
    die "cannot create the $name environment of $REPOSITORY: $(head -n 1 "$error")"
  fi
  rm -f "$error"
}

# environment_exists NAME: true if the repository has the environment.
environment_exists() {
  if [[ "$DRY_RUN" == true ]]; then
    run gh api "repos/$REPOSITORY/environments/$1" --silent
    return 1
  fi
  gh api "repos/$REPOSITORY/environments/$1" --silent >/dev/null 2>&1
}

# main_only NAME: limits the environment's deployments to main.
main_only() {
  local name="$1" policies=""
  if [[ "$DRY_RUN" == true ]]; then
    run gh api "repos/$REPOSITORY/environments/$name/deployment-branch-policies" --jq '.branch_policies[].name'
  else
    policies="$(gh api "repos/$REPOSITORY/environments/$name/deployment-branch-policies" \
      --jq '.branch_policies[].name')" || die "cannot read the branch policies of the $name environment"
  fi
  if ! grep -qx main <<<"$policies"; then
    run gh api --method POST "repos/$REPOSITORY/environments/$name/deployment-branch-policies" \
      -f name=main -f type=branch >/dev/null || die "cannot limit the $name environment to main"
  fi
  printf 'environment %s: deployments from main only\n' "$name" >&2
}

variable() {
  run gh variable set "$1" --repo "$REPOSITORY" --body "$2"
}

main() {
  local args=() reviewers=()
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --dry-run) DRY_RUN=true ;;
      --reviewer)
        [[ -n "${2:-}" && "${2:-}" != -* ]] || die "--reviewer needs a GitHub login"
        reviewers+=("$2")
        shift
        ;;
      -*) die "unknown option '$1'; try --help" ;;
      *) args+=("$1") ;;
    esac
    shift
  done
  ((${#args[@]} == 1)) || die "give the target the release workflow deploys to: apprunner or ecs-express"
  local target="${args[0]}"
  [[ "$target" == apprunner || "$target" == ecs-express ]] \
    || die "unknown target '$target': use apprunner or ecs-express"
  ((${#reviewers[@]} > 0)) || die "give at least one --reviewer LOGIN: a destroy must wait for a human"
  REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  [[ -n "$REGION" ]] || die "AWS_REGION is not set; export the region the service runs in"
  check_github_repository "$target"
  REPOSITORY="$(stack_setting "$target" github_repository)"
  if [[ "$DRY_RUN" == false ]]; then
    need gh "install the GitHub CLI (https://cli.github.com) and run gh auth login"
    need terraform "install Terraform 1.10 or newer (https://developer.hashicorp.com/terraform/install)"
    need aws "install the AWS CLI v2 (https://aws.amazon.com/cli/)"
  fi

  TF_STATE_BUCKET="$(state_bucket "$REGION")"

  # Every value first, so that a failure leaves nothing half set.
  local stack stacks=(ecs-express apprunner) roles=()
  init registry
  for stack in "${stacks[@]}"; do
    init "$stack"
    roles+=("$(deploy_role "$stack")")
  done
  local account push destroy repository
  if [[ "$DRY_RUN" == true ]]; then
    run aws sts get-caller-identity --query Account --output text
    account="<account>"
  else
    account="$(aws sts get-caller-identity --query Account --output text)" \
      || die "cannot tell the AWS account: sign in so that 'aws sts get-caller-identity' works"
  fi
  repository="$(output registry repository_name)"
  push="$(output registry push_role_arn)"
  destroy="$(output registry destroy_role_arn)"

  local ids=() login id
  for login in "${reviewers[@]}"; do
    if [[ "$DRY_RUN" == true ]]; then
      run gh api "users/$login" --jq .id
      id=0
    else
      id="$(gh api "users/$login" --jq .id)" || die "no GitHub user $login"
    fi
    ids+=("{\"type\":\"User\",\"id\":$id}")
  done
  local branches='"deployment_branch_policy":{"protected_branches":false,"custom_branch_policies":true}'
  local joined
  joined="$(IFS=,; printf '%s' "${ids[*]}")"
  # destroy first: its reviewers are what GitHub may refuse (private
  # repositories without Enterprise), and then nothing else is set yet.
  put_environment destroy "{\"reviewers\":[$joined],$branches}"
  main_only destroy
  # production is created once: a PUT would replace the protection rules
  # (e.g. reviewers) an administrator has added since.
  if environment_exists production; then
    printf 'environment production: exists; its protection rules stay as they are\n' >&2
  else
    put_environment production "{$branches}"
  fi
  main_only production

  variable AWS_REGION "$REGION"
  variable AWS_ACCOUNT_ID "$account"
  variable TF_STATE_BUCKET "$TF_STATE_BUCKET"
  variable DEPLOY_TARGET "$target"
  variable ECR_REPOSITORY "$repository"
  variable AWS_PUSH_ROLE_ARN "$push"
  variable AWS_DESTROY_ROLE_ARN "$destroy"
  local i name ready=false
  for i in "${!stacks[@]}"; do
    name="$(deploy_role_variable "${stacks[i]}")"
    if [[ -n "${roles[i]}" ]]; then
      variable "$name" "${roles[i]}"
      [[ "${stacks[i]}" != "$target" ]] || ready=true
    else
      # A role of a stack torn down must not be assumed again.
      run gh variable delete "$name" --repo "$REPOSITORY" >/dev/null 2>&1 || true
    fi
  done
  # The one-role variable of before: the workflows no longer read it.
  run gh variable delete AWS_DEPLOY_ROLE_ARN --repo "$REPOSITORY" >/dev/null 2>&1 || true
  if [[ "$ready" == true ]]; then
    printf 'github-setup: %s is set up to release to %s\n' "$REPOSITORY" "$target" >&2
  else
    printf 'github-setup: %s is set up to build, push and sign releases; %s has not been deployed yet, so they deploy nothing: deploy a signed release by hand first (docs/deploy.md, step 5), then run this again\n' "$REPOSITORY" "$target" >&2
  fi
}

main "$@"
