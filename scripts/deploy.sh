#!/usr/bin/env bash
# Deploys an image, by digest, to one of the two targets with Terraform,
# smoke-tests the live URL, and records the image as the last good one.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/deploy.sh [--dry-run] <apprunner|ecs-express> <image-digest|last-good>

Deploys IMAGE-DIGEST (REGISTRY/REPOSITORY@sha256:..., as scripts/push.sh
prints it) with infra/stacks/<target> and its committed terraform.tfvars.
\`last-good\` deploys the stack's last good image again: a rollback.

In order:
  1. terraform init, then reads the state. It stops here if the state
     cannot be read, or if the stack has resources but its last good image
     (scripts/last-good.sh) cannot be read: a deploy never starts without
     its rollback target. An empty state is a first deploy, which first
     checks the prerequisites: App Runner access, or for ECS Express the
     default VPC's subnets (unless terraform.tfvars gives subnets) and the
     ECS service-linked role, created if missing.
  2. ECS Express: looks up the load balancer Express Mode serves the service
     from, for the WAF; a first deploy applies once more to put the WAF in
     front of it. Moving the WAF takes an administrator: in GitHub Actions
     it stops instead.
  3. terraform plan, then apply of exactly that plan;
  4. scripts/smoke.sh against the service URL;
  5. records the image as the stack's last good one.

Needs terraform and the AWS CLI, and in the environment:
  TF_STATE_BUCKET   the state bucket (scripts/bootstrap.sh prints it)
  AWS_REGION        the region (or AWS_DEFAULT_REGION)
  AWS credentials that may apply the stack
In GitHub Actions, service_url goes to \$GITHUB_OUTPUT.

  --dry-run   print the commands instead of running them; it assumes a
              stack that exists, since it cannot read the state
USAGE
}

readonly DIGEST_PATTERN='^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$'

# tf ARGS...: terraform on the chosen stack.
tf() {
  run terraform -chdir="$STACK_DIR" "$@"
}

# tf_read ARGS... : terraform on the stack for a value; under --dry-run it
# prints the command and gives the placeholder in TF_DRY_VALUE.
tf_read() {
  if [[ "$DRY_RUN" == true ]]; then
    run terraform -chdir="$STACK_DIR" "$@"
    printf '%s\n' "$TF_DRY_VALUE"
  else
    terraform -chdir="$STACK_DIR" "$@"
  fi
}

# say MESSAGE: progress on stderr; stdout is for results.
say() {
  printf '%s: %s\n' "$SCRIPT" "$1" >&2
}

# github_output NAME VALUE: hands a value to later workflow steps.
github_output() {
  if [[ -n "${GITHUB_OUTPUT:-}" && "$DRY_RUN" == false ]]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}

last_good() {
  local command=("$REPO_ROOT/scripts/last-good.sh")
  [[ "$DRY_RUN" == true ]] && command+=(--dry-run)
  "${command[@]}" "$@"
}

# state_is_empty: true if the stack's state holds no resource; dies if the
# state cannot be read, rather than taking an error for a first deploy.
state_is_empty() {
  local resources
  TF_DRY_VALUE="module.service.(the stack's resources)"
  resources="$(tf_read state list)" \
    || die "cannot read the $TARGET stack's state in s3://$TF_STATE_BUCKET; stopping before the plan"
  [[ -z "$resources" ]]
}

preflight_apprunner() {
  aws apprunner list-services --region "$REGION" --max-results 1 >/dev/null 2>&1 \
    || die "this account cannot use App Runner in $REGION (it closed to new customers on 2026-04-30): deploy ecs-express instead"
}

preflight_ecs_express() {
  local vpc count error
  if stack_sets ecs-express subnets; then
    say "preflight: subnets come from terraform.tfvars"
  else
    vpc="$(aws ec2 describe-vpcs --region "$REGION" --filters Name=is-default,Values=true \
      --query 'Vpcs[0].VpcId' --output text)" \
      || die "cannot list the VPCs in $REGION to find the default one"
    [[ "$vpc" == vpc-* ]] \
      || die "$REGION has no default VPC and terraform.tfvars gives no subnets: run aws ec2 create-default-vpc, or set subnets in infra/stacks/ecs-express/terraform.tfvars"
    count="$(aws ec2 describe-subnets --region "$REGION" \
      --filters "Name=vpc-id,Values=$vpc" Name=default-for-az,Values=true \
      --query 'length(Subnets)' --output text)" \
      || die "cannot list the subnets of the default VPC $vpc"
    ((count >= 2)) \
      || die "the default VPC $vpc has $count public default subnet(s), and Express Mode needs two in different zones: run aws ec2 create-default-subnet --availability-zone <zone>, or set subnets in infra/stacks/ecs-express/terraform.tfvars"
    say "preflight: the default VPC $vpc has $count public subnets"
  fi
  error="$(mktemp)"
  if aws iam get-role --role-name AWSServiceRoleForECS >/dev/null 2>"$error"; then
    say "preflight: the ECS service-linked role exists"
  elif grep -q NoSuchEntity "$error"; then
    say "preflight: creating the ECS service-linked role AWSServiceRoleForECS, which Express Mode needs"
    aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com >/dev/null \
      || die "cannot create the ECS service-linked role; an administrator can: aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com"
  else
    die "cannot check for the ECS service-linked role AWSServiceRoleForECS: $(head -n 1 "$error")"
  fi
  rm -f "$error"
}

# load_balancer: prints the load balancer Express Mode serves the service
# from, read from the current service revision (Terraform cannot see it).
load_balancer() {
  local revision lb
  TF_DRY_VALUE="arn:aws:ecs:$REGION:123456789012:service-revision/sre-kata/sre-kata/1"
  revision="$(tf_read output -raw service_revision_arn)" \
    || die "cannot read the service revision from the ecs-express state"
  if [[ "$DRY_RUN" == true ]]; then
    run aws ecs describe-service-revisions --region "$REGION" --service-revision-arns "$revision" \
      --query 'serviceRevisions[0].ecsManagedResources.ingressPaths[0].loadBalancer.arn' --output text
    printf 'arn:aws:elasticloadbalancing:%s:123456789012:loadbalancer/app/express/0\n' "$REGION"
    return 0
  fi
  lb="$(aws ecs describe-service-revisions --region "$REGION" --service-revision-arns "$revision" \
    --query 'serviceRevisions[0].ecsManagedResources.ingressPaths[0].loadBalancer.arn' --output text)" \
    || die "cannot describe the service revision $revision to find its load balancer"
  [[ "$lb" == arn:*:elasticloadbalancing:* ]] \
    || die "the service revision $revision names no load balancer (got '$lb'); deploy again once Express Mode has made it"
  printf '%s\n' "$lb"
}

# waf_target LB: checks where the web ACL is now; only an administrator may
# move it (the deploy role can refresh the association, not change it).
waf_target() {
  local lb="$1" current
  TF_DRY_VALUE="$lb"
  if [[ "$DRY_RUN" == true ]]; then
    current="$(tf_read output -raw waf_load_balancer_arn)"
  else
    # A state from before this output existed has no association either.
    current="$(tf_read output -raw waf_load_balancer_arn 2>/dev/null)" || current=""
  fi
  if [[ "$current" == "$lb" ]]; then
    say "waf: the web ACL is in front of $lb, the load balancer Express Mode serves the service from"
  elif [[ "${GITHUB_ACTIONS:-}" == true ]]; then
    die "Express Mode serves the service from $lb, but the web ACL is ${current:-on no load balancer}; moving it takes an administrator: scripts/deploy.sh ecs-express last-good"
  else
    say "waf: putting the web ACL in front of $lb (Express Mode's load balancer, from the service revision)"
  fi
}

# plan_changes_only_the_service: in GitHub Actions, where the deploy role
# may change the service alone, a plan that changes more (a setting
# committed but not applied) would stop halfway through apply; it stops
# before instead.
plan_changes_only_the_service() {
  [[ "${GITHUB_ACTIONS:-}" == true ]] || return 0
  local service others
  case "$TARGET" in
    apprunner) service=module.service.aws_apprunner_service.this ;;
    ecs-express) service=module.service.aws_ecs_express_gateway_service.this ;;
  esac
  if [[ "$DRY_RUN" == true ]]; then
    run terraform -chdir="$STACK_DIR" show -json deploy.tfplan
    return 0
  fi
  need jq "install jq (Debian: apt-get install jq)"
  others="$(terraform -chdir="$STACK_DIR" show -json deploy.tfplan | jq -r --arg service "$service" \
    '.resource_changes[]? | select(.address != $service)
      | select(.change.actions != ["no-op"] and .change.actions != ["read"]) | .address')" \
    || die "cannot read the plan to check what it changes"
  [[ -z "$others" ]] \
    || die "the plan changes $(paste -sd ' ' <<<"$others") besides the service: an administrator applies settings first (scripts/deploy.sh $TARGET last-good)"
}

plan_and_apply() {
  tf plan -input=false -out=deploy.tfplan -var "image=$1" -var "state_bucket=$TF_STATE_BUCKET" "${@:2}"
  plan_changes_only_the_service
  tf apply -input=false deploy.tfplan
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
  ((${#args[@]} == 2)) || die "give a target (apprunner or ecs-express) and an image digest or last-good; try --help"
  TARGET="${args[0]}"
  local image="${args[1]}"
  [[ "$TARGET" == apprunner || "$TARGET" == ecs-express ]] \
    || die "unknown target '$TARGET': use apprunner (App Runner accounts) or ecs-express (everyone else)"
  [[ "$image" == last-good || "$image" =~ $DIGEST_PATTERN ]] \
    || die "the image must be given by digest (REGISTRY/REPOSITORY@sha256:<64 hex>), as scripts/push.sh prints it, or as last-good; never a tag"

  REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  [[ -n "$REGION" ]] || die "AWS_REGION is not set; export the region the service runs in"
  [[ -n "${TF_STATE_BUCKET:-}" ]] || die "TF_STATE_BUCKET is not set; export the bucket scripts/bootstrap.sh printed"
  check_github_repository "$TARGET"
  if [[ "$DRY_RUN" == false ]]; then
    need terraform "install Terraform 1.10 or newer (https://developer.hashicorp.com/terraform/install)"
    need aws "install the AWS CLI v2 (https://aws.amazon.com/cli/)"
  fi
  STACK_DIR="$REPO_ROOT/infra/stacks/$TARGET"

  # -reconfigure: a checkout that ran init before the backend gained
  # kms_key_id would otherwise stop and ask; the bucket and key are the same.
  tf init -input=false -reconfigure -backend-config="bucket=$TF_STATE_BUCKET" -backend-config="region=$REGION" >&2

  local first=false last_good=""
  if state_is_empty; then
    first=true
    [[ "$image" != last-good ]] || die "no last good image is recorded for $TARGET, whose state is empty: nothing to roll back to"
    say "first deploy of $TARGET: nothing to roll back to; checking the prerequisites"
    "preflight_${TARGET//-/_}"
  else
    last_good="$(last_good get "$TARGET")" \
      || die "stopping before the plan: $TARGET has resources but its last good image cannot be read (for a stack deployed before the record existed: scripts/last-good.sh adopt $TARGET)"
    say "last good image (the rollback target): $last_good"
  fi
  if [[ "$image" == last-good ]]; then
    image="$last_good"
    say "rolling back to $image"
  fi

  local lb=() address
  if [[ "$TARGET" == ecs-express && "$first" == false ]]; then
    address="$(load_balancer)"
    waf_target "$address"
    lb=(-var "load_balancer_arn=$address")
  fi
  plan_and_apply "$image" "${lb[@]}"
  if [[ "$TARGET" == ecs-express && "$first" == true ]]; then
    address="$(load_balancer)"
    say "first deploy: putting the web ACL in front of $address, the load balancer Express Mode made"
    plan_and_apply "$image" -var "load_balancer_arn=$address"
  fi

  local url
  TF_DRY_VALUE="https://service-url.invalid"
  url="$(tf_read output -raw service_url)" || die "cannot read the service URL from the $TARGET state"
  github_output service_url "$url"
  local smoke=("$REPO_ROOT/scripts/smoke.sh")
  [[ "$DRY_RUN" == true ]] && smoke+=(--dry-run)
  "${smoke[@]}" "$url"
  last_good record "$TARGET" "$image"
}

main "$@"
