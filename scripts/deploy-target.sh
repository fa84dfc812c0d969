#!/usr/bin/env bash
# Decides, in a workflow, which stack a release or rollback goes to and
# which role deploys it: each stack has its own deploy role.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/deploy-target.sh [--require-role]

Reads, from the environment (the workflow passes them):
  TARGET_INPUT                       the run's target input: empty or
                                     "default" for DEPLOY_TARGET
  DEPLOY_TARGET                      the repository's default target
  AWS_DEPLOY_ROLE_ARN_ECS_EXPRESS    the ecs-express stack's deploy role
  AWS_DEPLOY_ROLE_ARN_APPRUNNER      the apprunner stack's deploy role
  AWS_DEPLOY_ROLE_ARN                the one role of before, if still set:
                                     a warning to run github-setup.sh
  IMAGE                              the image being released (optional)
and writes to \$GITHUB_OUTPUT (or prints, outside GitHub Actions):
  target   apprunner or ecs-express
  role     that stack's deploy role
  deploy   true if the stack has a deploy role, false if not

Each stack's deploy role may read and change that stack only, so a run for
either target needs that target's role; scripts/github-setup.sh sets both
variables from the stacks' outputs. A stack without a role has not been
deployed yet (its first deploy, by an administrator, creates it): a release
then builds, pushes and signs, says in the run summary how to deploy that
image by hand, and deploys nothing.

  --require-role   exit 2 if the target has no deploy role (a rollback has
                   nothing to roll back without a stack)
USAGE
}

# put NAME VALUE: a step output, or a line on stdout outside a workflow.
put() {
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  else
    printf '%s=%s\n' "$1" "$2"
  fi
}

# summary TEXT: a note in the run's summary page (and on stderr).
summary() {
  printf '%s\n' "$1" >&2
  [[ -z "${GITHUB_STEP_SUMMARY:-}" ]] || printf '%s\n' "$1" >>"$GITHUB_STEP_SUMMARY"
}

main() {
  local require_role=false
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --require-role) require_role=true ;;
      *) die "unknown argument '$1'; try --help" ;;
    esac
    shift
  done
  local target="${TARGET_INPUT:-}" role variable
  [[ -n "$target" && "$target" != default ]] || target="${DEPLOY_TARGET:-}"
  [[ -n "$target" ]] || die "no target: the repository variable DEPLOY_TARGET is not set; run scripts/github-setup.sh (docs/deploy.md)"
  variable="$(deploy_role_variable "$target")" || die "unknown target '$target': use apprunner or ecs-express"
  role="${!variable:-}"
  put target "$target"
  put role "$role"
  if [[ -n "$role" ]]; then
    put deploy true
    return 0
  fi
  put deploy false
  if [[ -n "${AWS_DEPLOY_ROLE_ARN:-}" ]]; then
    # A repository set up before each stack had its own role variable.
    printf '::warning::the repository variable AWS_DEPLOY_ROLE_ARN is no longer read: run scripts/github-setup.sh again, which sets %s\n' "$variable"
  fi
  if [[ "$require_role" == true ]]; then
    die "the repository variable $variable is not set: the $target stack has not been deployed yet, or scripts/github-setup.sh has not run since its first deploy"
  fi
  summary "No deploy role for $target yet (the repository variable $variable is empty), so this release is built, pushed and signed, and deploys nothing. Its stack's first deploy is an administrator's (docs/deploy.md, step 5): scripts/deploy.sh $target ${IMAGE:-<the image this run pushed>}, then scripts/github-setup.sh again."
}

main "$@"
