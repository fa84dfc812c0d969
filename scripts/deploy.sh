#!/usr/bin/env bash
# Deploys an image, by digest, to one of the two targets with Terraform,
# smoke-tests the live URL, and records the image as the last good one.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/deploy.sh [--dry-run] [--first] [--allow-unsigned] [--lock-timeout DURATION] <apprunner|ecs-express> <image-digest|last-good>

Deploys IMAGE-DIGEST (REGISTRY/REPOSITORY@sha256:..., as scripts/push.sh
prints it) with infra/stacks/<target> and its committed terraform.tfvars.
\`last-good\` deploys the stack's last good image again: a rollback; on a
stack that was torn down, the last good image it had.

In order:
  0. checks the image's signature with cosign: it must be signed by this
     repository's release workflow on main (the github_repository of the
     stack's terraform.tfvars), as release.yml signs what it builds. An
     unsigned image, or one signed by anyone else, is refused. A rollback
     checks the last good image the same way.
  1. terraform init, then reads the state. It stops here if the state
     cannot be read, or if the stack has resources but its last good image
     (scripts/last-good.sh) cannot be read: a deploy never starts without
     its rollback target. An empty state is a first deploy (never in
     GitHub Actions: the deploy role cannot create a stack), which checks
     the prerequisites: App Runner access, or for ECS Express the default
     VPC's subnets (unless terraform.tfvars gives subnets) and the ECS
     service-linked role, created if missing. A last good image recorded
     for a stack that is gone is retired first.
  2. ECS Express: looks up the load balancer Express Mode serves the service
     from, for the WAF, and the service's target group on it, where the
     SLOs are measured; a first deploy applies once more to put the WAF in
     front of it and the SLOs' alarms on them. Moving the WAF takes an administrator: in GitHub Actions
     it stops instead.
  3. terraform plan, then apply of exactly that plan; in GitHub Actions it
     stops before apply if the plan changes anything but the service, or
     replaces the service;
  4. scripts/smoke.sh against the service URL, and a check that the
     service runs the image (AWS may have rolled the deployment back);
  5. records the image as the stack's last good one, and prints the URL
     of the stack's dashboard.

Needs terraform, the AWS CLI and cosign, and in the environment:
  AWS_REGION        the region (or AWS_DEFAULT_REGION)
  AWS credentials that may apply the stack
  TF_STATE_BUCKET   the state bucket, if not the one scripts/bootstrap.sh
                    made for this account and region (derived from them)
In GitHub Actions, service_url and dashboard_url go to \$GITHUB_OUTPUT.

  --first     for a stack whose first deploy failed: it has resources
              but no last good image has ever been recorded. Deploys as a
              first deploy, without a rollback target. It needs
              credentials that may list the state bucket (an
              administrator's), so that a missing record is told apart
              from one that cannot be read.
  --allow-unsigned
              skip the signature check, by hand only (refused in GitHub
              Actions): for an image released before signing began, or a
              build to try out. It is never recorded as the last good
              image, since a rollback to it would be refused.
  --lock-timeout DURATION
              how long a plan or apply waits for the state lock (default
              $LOCK_TIMEOUT, as terraform's -lock-timeout: 90s, 25m). The
              rollback after a failed deploy step waits longer: the
              terraform it interrupted may still be stopping.
  --dry-run   print the commands instead of running them; it assumes a
              stack that exists, since it cannot read the state

SIGINT or SIGTERM (a cancelled or timed-out step, Ctrl-C) is passed on to
a running plan or apply once, which stops cleanly and releases the state
lock; then the script exits 130 or 143. In a workflow, run it with exec:
the runner signals the step's shell alone. A lock still held after the
wait is named, with the commands that clear it.
USAGE
}

readonly DIGEST_PATTERN='^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$'

# tf ARGS...: terraform on the chosen stack; its output goes to stderr.
tf() {
  run terraform -chdir="$STACK_DIR" "$@" >&2
}

# tf_locking plan|apply ARGS...: a terraform command that locks the state,
# supervised: a signal to this script reaches it, once, and it releases the
# lock before this script stops. It waits up to LOCK_TIMEOUT for the lock;
# if the lock is still held, it names the lock and the commands that clear
# it from a fresh clone.
tf_locking() {
  local command="$1" errors status=0 id
  shift
  if [[ "$DRY_RUN" == true ]]; then
    run terraform -chdir="$STACK_DIR" "$command" -lock-timeout="$LOCK_TIMEOUT" "$@"
    return 0
  fi
  errors="$(mktemp)"
  # Terraform writes progress to stdout and only problems to stderr, so
  # stderr can be held back and shown after.
  supervised terraform -chdir="$STACK_DIR" "$command" -lock-timeout="$LOCK_TIMEOUT" "$@" >&2 2>"$errors" || status=$?
  cat "$errors" >&2
  if ((status != 0)) && grep -q 'Error acquiring the state lock' "$errors"; then
    id="$(grep -Eo 'ID: +[0-9a-f-]{36}' "$errors" | head -n 1 | awk '{print $2}')"
    say "the $TARGET state is still locked after $LOCK_TIMEOUT (by whom and since when: above). If that run is dead (killed, not stopped) and no other runs, clear it from a checkout of this repository: $(unlock_command "${id:-<ID above>}")"
  fi
  rm -f "$errors"
  stop_if_signalled
  return "$status"
}

# unlock_command ID: the commands that release lock ID, which work in a
# fresh clone too (force-unlock needs the backend initialised first).
unlock_command() {
  printf 'terraform -chdir=infra/stacks/%s init -input=false -reconfigure -backend-config=bucket=%s -backend-config=region=%s && terraform -chdir=infra/stacks/%s force-unlock -force %s' \
    "$TARGET" "$TF_STATE_BUCKET" "$REGION" "$TARGET" "$1"
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
# from, a tab, and the service's target groups on it as a Terraform list
# (sorted, so that the same groups plan the same), read from the current
# service revision (Terraform cannot see them): the WAF goes in front of
# the one, and the SLOs are measured on the others.
# Returns 1, with the reason on stderr, if there is none yet.
load_balancer() {
  local revision edge lb tgs
  local query='serviceRevisions[0].ecsManagedResources.ingressPaths[0].[loadBalancer.arn, targetGroups[].arn]'
  TF_DRY_VALUE="arn:aws:ecs:$REGION:123456789012:service-revision/sre-kata/sre-kata/1"
  if [[ "$DRY_RUN" == true ]]; then
    revision="$(tf_read output -raw service_revision_arn)"
  elif ! revision="$(terraform -chdir="$STACK_DIR" output -raw service_revision_arn 2>/dev/null)"; then
    say "the ecs-express state names no service revision yet"
    return 1
  fi
  if [[ "$DRY_RUN" == true ]]; then
    run aws ecs describe-service-revisions --region "$REGION" --service-revision-arns "$revision" \
      --query "$query" --output json
    printf 'arn:aws:elasticloadbalancing:%s:123456789012:loadbalancer/app/express/0\t' "$REGION"
    printf '["arn:aws:elasticloadbalancing:%s:123456789012:targetgroup/express/0"]\n' "$REGION"
    return 0
  fi
  need jq "install jq (Debian: apt-get install jq)"
  edge="$(aws ecs describe-service-revisions --region "$REGION" --service-revision-arns "$revision" \
    --query "$query" --output json)" || {
    say "cannot describe the service revision $revision to find its load balancer"
    return 1
  }
  lb="$(jq -r '.[0] // empty' <<<"$edge" 2>/dev/null)" || lb=""
  [[ "$lb" == arn:*:elasticloadbalancing:*:loadbalancer/* ]] || {
    say "the service revision $revision names no load balancer (got '$edge')"
    return 1
  }
  tgs="$(jq -c '[.[1][]? | select(test("^arn:[^:]+:elasticloadbalancing:[^:]+:[0-9]+:targetgroup/"))] | sort' <<<"$edge")"
  [[ "$tgs" != "[]" ]] || {
    say "the service revision $revision names no target group (got '$edge')"
    return 1
  }
  printf '%s\t%s\n' "$lb" "$tgs"
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
# may update the service alone, a plan that changes more (a setting
# committed but not applied) or replaces the service (a setting that forces
# it) would stop halfway through apply; it stops before instead.
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
  # Data sources show up as ["read"], and are only read.
  others="$(terraform -chdir="$STACK_DIR" show -json deploy.tfplan | jq -r --arg service "$service" \
    '.resource_changes[]? | select(.change.actions != ["no-op"] and .change.actions != ["read"])
      | select(.address != $service or .change.actions != ["update"])
      | "\(.address) (\(.change.actions | join("+")))"')" \
    || die "cannot read the plan to check what it changes"
  [[ -z "$others" ]] \
    || die "the plan would $(paste -sd ' ' <<<"$others"), and the deploy role may only update the service in place: an administrator applies settings first (scripts/deploy.sh $TARGET last-good)"
}

# verify_signature IMAGE: dies unless IMAGE carries a cosign signature from
# the release workflow on main of the stack's repository. Under
# --allow-unsigned it warns instead, loudly, and checks nothing.
verify_signature() {
  local image="$1" repository identity errors
  if [[ "$ALLOW_UNSIGNED" == true ]]; then
    say "WARNING: --allow-unsigned: deploying $image WITHOUT checking its signature. It will not be recorded as the last good image: a rollback needs a signed one."
    return 0
  fi
  repository="$(stack_setting "$TARGET" github_repository)"
  identity="$(release_identity "$repository")"
  cosign_login "$image"
  if [[ "$DRY_RUN" == true ]]; then
    run cosign verify --certificate-identity "$identity" --certificate-oidc-issuer "$SIGNATURE_ISSUER" "$image"
    return 0
  fi
  errors="$(cosign verify --certificate-identity "$identity" \
    --certificate-oidc-issuer "$SIGNATURE_ISSUER" "$image" 2>&1 >/dev/null)" && {
    say "signed by $identity: $image"
    return 0
  }
  die "refusing $image: it has no valid signature from $repository's release workflow on main (cosign: $(grep -v '^[[:space:]]*$' <<<"$errors" | tail -n 1)); deploy an image release.yml built and signed (a first deploy too: docs/deploy.md)"
}

plan_and_apply() {
  tf_locking plan -input=false -out=deploy.tfplan -var "image=$1" -var "state_bucket=$TF_STATE_BUCKET" "${@:2}"
  plan_changes_only_the_service
  tf_locking apply -input=false deploy.tfplan
}

# check_running IMAGE: the smoke test cannot tell which image answered, and
# AWS can roll a failed deployment back on its own; what the service runs
# is asked of AWS before IMAGE is recorded as good.
check_running() {
  local image="$1" arn running
  TF_DRY_VALUE="(the service ARN)"
  arn="$(tf_read output -raw service_arn)" || die "cannot read the service ARN from the $TARGET state"
  if [[ "$DRY_RUN" == true ]]; then
    service_image "$TARGET" "$arn"
    return 0
  fi
  running="$(service_image "$TARGET" "$arn")" || die "cannot ask AWS which image $TARGET runs; $image is not recorded as good"
  [[ "$running" == "$image" ]] \
    || die "$TARGET runs $running, not $image: AWS rolled the deployment back; $image is not recorded as good"
  say "$TARGET runs $image"
}

# rollback_target: prints the stack's last good image. With --first, a
# stack that has none is deployed without one (empty output); a record
# that cannot be read always stops the deploy.
rollback_target() {
  local status=0
  if [[ "$DRY_RUN" == true && "$FIRST" == true ]]; then
    last_good get "$TARGET" >/dev/null
    return 0
  fi
  last_good get "$TARGET" || status=$?
  ((status == 0)) && return 0
  if [[ "$FIRST" == true && "$status" == 3 ]]; then
    return 0
  elif [[ "$status" == 3 ]]; then
    die "stopping before the plan: $TARGET has resources but no last good image was ever recorded (a first deploy that failed: scripts/deploy.sh --first $TARGET <image-digest>; a stack deployed before the record existed: scripts/last-good.sh adopt $TARGET)"
  elif [[ "$FIRST" == true ]]; then
    die "stopping before the plan: --first needs the record to be missing, not unreadable (above); run it with credentials that may list s3://$TF_STATE_BUCKET (an administrator's)"
  fi
  # 403 is S3's answer to a refused read and, to a caller that may not
  # list the bucket, to a missing record too; a network error is neither.
  die "stopping before the plan: the last good image of $TARGET cannot be read (above), and a deploy never starts without its rollback target. Check the credentials and the network and run it again; an administrator can tell a missing record from a refused one with scripts/last-good.sh get $TARGET (exit 3: missing)"
}

# first_deploy_target: for a stack whose state is empty, prints what
# last-good deploys: the record left by a stack torn down by hand, else
# the one the last teardown retired. Dies if there is neither.
first_deploy_target() {
  local image status=0
  image="$(last_good get "$TARGET")" || status=$?
  if ((status == 0)); then
    printf '%s\n' "$image"
    return 0
  fi
  # Missing is the usual case (the line above says so); unreadable is not.
  ((status == 3)) || die "the $TARGET state is empty and its last good image cannot be read (above)"
  status=0
  image="$(last_good get --retired "$TARGET")" || status=$?
  ((status == 0)) && { printf '%s\n' "$image"; return 0; }
  ((status == 3)) && die "no last good image is recorded for $TARGET, whose state is empty, nor retired by a teardown: nothing to roll back to; deploy an image by digest"
  die "the $TARGET state is empty and its retired last good image cannot be read (above); S3 answers 403 for a missing one too, unless the credentials may list the bucket (an administrator's)"
}

# retry_command IMAGE: this deploy again, as a first deploy, with the
# options it was given, for a first deploy that stopped halfway.
retry_command() {
  local retry="scripts/deploy.sh --first"
  [[ "$ALLOW_UNSIGNED" == false ]] || retry+=" --allow-unsigned"
  printf "%s %s %s" "$retry" "$TARGET" "$1"
}

main() {
  local args=()
  FIRST=false ALLOW_UNSIGNED=false
  catch_stop_signals
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --dry-run) DRY_RUN=true ;;
      --first) FIRST=true ;;
      --allow-unsigned) ALLOW_UNSIGNED=true ;;
      --lock-timeout)
        [[ "${2:-}" =~ ^[0-9]+[smh]$ ]] || die "--lock-timeout needs a duration such as 90s, 25m or 1h; try --help"
        LOCK_TIMEOUT="$2"
        shift
        ;;
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
  [[ "$FIRST" == false || "$image" != last-good ]] \
    || die "--first deploys a stack that has no last good image: give an image digest"

  REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  [[ -n "$REGION" ]] || die "AWS_REGION is not set; export the region the service runs in"
  check_github_repository "$TARGET"
  if [[ "$ALLOW_UNSIGNED" == true && "${GITHUB_ACTIONS:-}" == true ]]; then
    die "--allow-unsigned is for a person deploying by hand, never for a workflow"
  fi
  if [[ "$DRY_RUN" == false ]]; then
    need terraform "install Terraform 1.10 or newer (https://developer.hashicorp.com/terraform/install)"
    need aws "install the AWS CLI v2 (https://aws.amazon.com/cli/)"
    [[ "$ALLOW_UNSIGNED" == true ]] \
      || need cosign "install cosign (https://docs.sigstore.dev/cosign/system_config/installation/) to check the image's signature"
  fi
  TF_STATE_BUCKET="$(state_bucket "$REGION")"
  export TF_STATE_BUCKET # for scripts/last-good.sh
  STACK_DIR="$REPO_ROOT/infra/stacks/$TARGET"
  # An image given by digest is checked before anything else runs.
  [[ "$image" == last-good ]] || verify_signature "$image"

  # -reconfigure: a checkout that ran init before the backend gained
  # kms_key_id would otherwise stop and ask; the bucket and key are the same.
  tf init -input=false -reconfigure -backend-config="bucket=$TF_STATE_BUCKET" -backend-config="region=$REGION"

  # first: no good image yet, so nothing to roll back to, and the service
  # and its endpoint may be brand new.
  local first=false last_good=""
  if state_is_empty; then
    first=true
    # A deploy role may change the service, not create a stack.
    [[ "${GITHUB_ACTIONS:-}" != true ]] \
      || die "the $TARGET state is empty: the stack was never deployed, or was torn down. Its first deploy is an administrator's: scripts/deploy.sh $TARGET <image-digest> (or last-good after a teardown), docs/deploy.md"
    if [[ "$image" == last-good ]]; then
      image="$(first_deploy_target)"
      say "the $TARGET state is empty: deploying its last good image again, $image, as a first deploy"
      verify_signature "$image"
    fi
    say "first deploy of $TARGET: nothing to roll back to; checking the prerequisites"
    "preflight_${TARGET//-/_}"
    # A record that outlived its stack (a teardown by hand) is not this
    # stack's: were this deploy to stop halfway, it must not decide what
    # the next one rolls back to.
    last_good retire "$TARGET"
  else
    last_good="$(rollback_target)"
    if [[ -n "$last_good" ]]; then
      [[ "$FIRST" == false ]] \
        || die "--first is for a stack that has never had a last good image, and $TARGET has one: $last_good"
      say "last good image (the rollback target): $last_good"
    else
      first=true
      say "--first: no last good image was ever recorded for $TARGET; deploying without a rollback target"
    fi
    if [[ "$image" == last-good ]]; then
      image="$last_good"
      say "rolling back to $image"
      verify_signature "$image"
    fi
  fi

  local lb=() edge address target_groups
  if [[ "$TARGET" == ecs-express ]]; then
    if edge="$(load_balancer)"; then
      IFS=$'\t' read -r address target_groups <<<"$edge"
      waf_target "$address"
      lb=(-var "load_balancer_arn=$address" -var "target_group_arns=$target_groups")
    elif [[ "$first" == false ]]; then
      die "stopping before the plan: cannot find the load balancer Express Mode serves $TARGET from (above)"
    fi
  fi
  plan_and_apply "$image" "${lb[@]}"
  if [[ "$TARGET" == ecs-express && ${#lb[@]} == 0 ]]; then
    edge="$(load_balancer)" \
      || die "the service is deployed but Express Mode names no load balancer yet, so the WAF is not in front of it and its SLOs are not measured: run $(retry_command "$image") again in a few minutes"
    IFS=$'\t' read -r address target_groups <<<"$edge"
    say "first deploy: putting the web ACL in front of $address, the load balancer Express Mode made, and measuring the SLOs on $target_groups"
    plan_and_apply "$image" -var "load_balancer_arn=$address" -var "target_group_arns=$target_groups"
  fi

  local url smoke=("$REPO_ROOT/scripts/smoke.sh")
  TF_DRY_VALUE="https://service-url.invalid"
  url="$(tf_read output -raw service_url)" || die "cannot read the service URL from the $TARGET state"
  github_output service_url "$url"
  [[ "$DRY_RUN" == true ]] && smoke+=(--dry-run)
  # A new endpoint's name and certificate can lag the service itself.
  [[ "$first" == true ]] && smoke+=(--fresh)
  "${smoke[@]}" "$url" >&2
  check_running "$image"
  # A step stopped meanwhile is rolled back by the next: record nothing.
  stop_if_signalled
  if [[ "$ALLOW_UNSIGNED" == true ]]; then
    # The record holds only images a rollback can verify.
    say "$TARGET runs $image, unsigned, which is never recorded as good: the last good image stays ${last_good:-unrecorded}"
    return 0
  fi
  last_good record "$TARGET" "$image"
  print_dashboard
}

# print_dashboard: where to watch the SLOs now. A stack applied before the
# dashboard existed has no such output; that is not a failed deploy.
print_dashboard() {
  local dashboard
  TF_DRY_VALUE="https://console.aws.amazon.com/cloudwatch/home#dashboards/dashboard/sre-kata-$TARGET"
  if dashboard="$(tf_read output -raw dashboard_url 2>/dev/null)"; then
    say "dashboard: $dashboard"
    github_output dashboard_url "$dashboard"
  else
    say "the $TARGET state has no dashboard_url output yet: no dashboard to show"
  fi
}

main "$@"
