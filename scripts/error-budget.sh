#!/usr/bin/env bash
# Reads what is left of a service stack's error budgets, before a release.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/error-budget.sh [--policy report|enforce] [--override REASON] <apprunner|ecs-express>

Prints, for each SLO of the stack (docs/slo.md), the share of its error
budget left over its window (30 days at the defaults): 1 - (bad / valid)
/ (1 - objective), from the same CloudWatch metrics and expressions its
burn-rate alarms use, as the stack's state gives them (terraform output
slos). A table goes to stdout, and to the step summary in GitHub Actions.

  --policy POLICY    report (the default; also when empty): show the
                     budgets. enforce: exit 1 if any budget is spent (0 %
                     or less left), since the error-budget policy
                     (docs/slo.md) stops every release but the fix. The
                     release workflow passes the repository variable
                     ERROR_BUDGET_POLICY.
  --override REASON  deploy even so, for the fix itself: REASON is printed
                     and goes to the summary; empty is no override. The
                     release workflow passes its error_budget_override
                     input.

A stack not deployed yet, or applied before it had SLOs, has no budget:
that is said, and the exit is 0. Budgets that cannot be read are an error
(exit 1), enforced or not: a release should not go out blind.

Needs terraform, the AWS CLI, jq, AWS_REGION (or AWS_DEFAULT_REGION),
credentials that may read the state and cloudwatch:GetMetricData, and the
state bucket (TF_STATE_BUCKET, or the one scripts/bootstrap.sh made).
Exit 2 on a usage error.
USAGE
}

# queries SLO_JSON SECONDS: the SLO's metric-data queries over one period of
# SECONDS: its metrics, unreturned, then bad and valid.
queries() {
  jq -c --argjson period "$2" '
    [.queries.metrics | to_entries[] | {
      Id: .key,
      MetricStat: {
        Metric: {
          Namespace: .value.namespace,
          MetricName: .value.metric_name,
          Dimensions: [.value.dimensions | to_entries[] | {Name: .key, Value: .value}]
        },
        Period: $period,
        Stat: .value.stat
      },
      ReturnData: false
    }]
    + [{Id: "bad", Expression: .queries.bad, ReturnData: true},
       {Id: "valid", Expression: .queries.valid, ReturnData: true}]' <<<"$1"
}

# complete RESULT: true if CloudWatch answered every query in full, with no
# message: partial data or an expression error would sum to nothing, and
# read as a budget untouched.
complete() {
  jq -e '(.Messages // []) == [] and all(.MetricDataResults[]; .StatusCode == "Complete" and (.Messages // []) == [])' \
    <<<"$1" >/dev/null
}

# sum_of RESULT ID: the sum of a returned series' values (0 if none).
sum_of() {
  jq -r --arg id "$2" '[.MetricDataResults[] | select(.Id == $id) | .Values[]] | add // 0' <<<"$1"
}

# budget_left BAD VALID OBJECTIVE: the share of the budget left, in percent
# with one decimal; 100 when there were no valid events.
budget_left() {
  awk -v bad="$1" -v valid="$2" -v objective="$3" 'BEGIN {
    if (valid <= 0) { printf "100.0\n"; exit }
    budget = (100 - objective) / 100
    printf "%.1f\n", 100 * (1 - (bad / valid) / budget)
  }'
}

# summary LINE: a line of the report, on stdout and in the step summary.
summary() {
  printf '%s\n' "$1"
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    printf '%s\n' "$1" >>"$GITHUB_STEP_SUMMARY"
  fi
}

main() {
  local enforce=false override="" args=()
  while (($# > 0)); do
    case "$1" in
      -h | --help)
        usage
        return 0
        ;;
      --policy)
        case "${2-}" in
          enforce) enforce=true ;;
          report | "") enforce=false ;;
          *) die "--policy is report or enforce, not '${2-}'; try --help" ;;
        esac
        (($# >= 2)) || die "--policy needs report or enforce; try --help"
        shift
        ;;
      --override)
        (($# >= 2)) || die "--override needs a reason (empty for none); try --help"
        override="$2"
        shift
        ;;
      -*) die "unknown option '$1'; try --help" ;;
      *) args+=("$1") ;;
    esac
    shift
  done
  ((${#args[@]} == 1)) || die "give one target, apprunner or ecs-express; try --help"
  local target="${args[0]}"
  [[ "$target" == apprunner || "$target" == ecs-express ]] \
    || die "unknown target $target: apprunner or ecs-express"
  need terraform "install Terraform 1.11 (https://developer.hashicorp.com/terraform/install)"
  need aws "install the AWS CLI v2 (https://aws.amazon.com/cli/)"
  need jq "install jq (Debian: apt-get install jq)"
  local region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  [[ -n "$region" ]] || die "AWS_REGION is not set: export the region the stacks are in"
  local bucket stack="$REPO_ROOT/infra/stacks/$target"
  bucket="$(state_bucket "$region")"

  terraform -chdir="$stack" init -input=false -reconfigure \
    -backend-config="bucket=$bucket" -backend-config="region=$region" >&2 \
    || { printf '%s: cannot read the %s state\n' "$SCRIPT" "$target" >&2; return 1; }
  local slos errors
  errors="$(mktemp)"
  if ! slos="$(terraform -chdir="$stack" output -json slos 2>"$errors")"; then
    # A state without the output: not deployed, or before it had SLOs.
    # Anything else (a state that cannot be read) is no answer.
    if ! grep -q 'Output "slos" not found' "$errors"; then
      cat "$errors" >&2
      rm -f "$errors"
      printf '%s: cannot read the SLOs from the %s state (above)\n' "$SCRIPT" "$target" >&2
      return 1
    fi
    slos=null
  fi
  rm -f "$errors"
  if [[ "$slos" == null ]]; then
    summary "### Error budgets ($target)"
    summary "No SLOs in the $target state yet (not deployed, or deployed before it had them): nothing to check."
    return 0
  fi

  local end start names=() name slo days seconds result bad valid objective left spent=()
  end="$(date -u +%s)"
  summary "### Error budgets ($target)"
  summary ""
  summary "| SLO | objective | window | bad | valid | budget left |"
  summary "|---|---|---|---|---|---|"
  mapfile -t names < <(jq -r 'keys[]' <<<"$slos")
  for name in "${names[@]}"; do
    slo="$(jq -c --arg n "$name" '.[$n]' <<<"$slos")"
    days="$(jq -r '.window_days' <<<"$slo")"
    objective="$(jq -r '.objective_percent' <<<"$slo")"
    seconds=$((days * 86400))
    start=$((end - seconds))
    result="$(aws cloudwatch get-metric-data --region "$(jq -r '.region' <<<"$slo")" \
      --metric-data-queries "$(queries "$slo" "$seconds")" \
      --start-time "$start" --end-time "$end" --output json)" \
      || { printf '%s: cannot read the %s SLO'"'"'s metrics (above)\n' "$SCRIPT" "$name" >&2; return 1; }
    complete "$result" \
      || { printf '%s: the %s SLO'"'"'s metrics came back incomplete: %s\n' "$SCRIPT" "$name" "$(jq -c '[.Messages, .MetricDataResults[].Messages]' <<<"$result")" >&2; return 1; }
    bad="$(sum_of "$result" bad)"
    valid="$(sum_of "$result" valid)"
    left="$(budget_left "$bad" "$valid" "$objective")"
    summary "| $name | $objective % | $days days | $bad | $valid | $left % |"
    if awk -v valid="$valid" 'BEGIN { exit !(valid <= 0) }'; then
      # Nothing to measure for a whole window: no traffic, or metrics that
      # name what no longer exists (a target group replaced, say).
      printf '%s: warning: the %s SLO counted no valid events in %s days: check its metrics (docs/slo.md)\n' "$SCRIPT" "$name" "$days" >&2
    fi
    if awk -v left="$left" 'BEGIN { exit !(left <= 0) }'; then
      spent+=("$name")
    fi
  done
  summary ""

  if ((${#spent[@]} == 0)); then
    summary "Every budget has some left."
    return 0
  fi
  if [[ -n "$override" ]]; then
    summary "Spent: ${spent[*]}. Deploying anyway, overridden: $override"
    return 0
  fi
  if [[ "$enforce" == true ]]; then
    summary "Spent: ${spent[*]}. The error-budget policy stops releases but the fix (docs/slo.md): run the release with error_budget_override set to why this one is the fix."
    return 1
  fi
  summary "Spent: ${spent[*]}. Not enforced (the policy is report; the repository variable ERROR_BUDGET_POLICY=enforce enforces it): deploying."
}

main "$@"
