#!/usr/bin/env bash
# Reads and writes the last good image of a service stack: the digest that
# last passed the smoke test there, the target of every rollback.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/last-good.sh [--dry-run] get <apprunner|ecs-express>
       scripts/last-good.sh [--dry-run] record <apprunner|ecs-express> <image-digest>
       scripts/last-good.sh [--dry-run] adopt <apprunner|ecs-express>

The last good image of a stack is the digest that last passed
scripts/smoke.sh there. It lives beside the stack's state, in
s3://\$TF_STATE_BUCKET/<target>/last-good-image: versioned, KMS-encrypted,
written only after a smoke test passed, so a failed deploy, a failed
rollback or a cancelled job never changes it.

  get      print it. Exit 1, with one line on stderr, if it cannot be
           read; exit 3 if there is none (only credentials that may list
           the bucket can tell: S3 answers others 403 either way)
  record   record IMAGE-DIGEST (scripts/deploy.sh does, after the smoke
           test passed and AWS confirmed the service runs it). It first
           tags the image in ECR good-<digest>, a tag the repository's
           lifecycle rules keep, so a rollback target is never expired
  adopt    for a stack deployed before this record existed, by an
           administrator: if the service runs the image the state names
           and passes the smoke test, record that image

Needs the AWS CLI, TF_STATE_BUCKET and AWS_REGION (or AWS_DEFAULT_REGION);
adopt needs terraform too.

  --dry-run   print the commands instead of running them
USAGE
}

readonly DIGEST_PATTERN='^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$'

# record_url TARGET: where the target's record lives.
record_url() {
  printf 's3://%s/%s/last-good-image\n' "$TF_STATE_BUCKET" "$1"
}

get() {
  local target="$1" url image error
  url="$(record_url "$target")"
  if [[ "$DRY_RUN" == true ]]; then
    run aws s3 cp --region "$REGION" --only-show-errors "$url" -
    printf '%s\n' "$DIGEST_EXAMPLE"
    return 0
  fi
  error="$(mktemp)"
  if ! image="$(aws s3 cp --region "$REGION" --only-show-errors "$url" - 2>"$error")"; then
    # S3 answers 403 for a missing object to a caller without ListBucket,
    # so only a caller with it sees 404 for a record that does not exist.
    printf '%s: cannot read the last good image of %s at %s: %s\n' \
      "$SCRIPT" "$target" "$url" "$(head -n 1 "$error")" >&2
    if grep -q '(404)\|NoSuchKey' "$error"; then
      rm -f "$error"
      return 3
    fi
    rm -f "$error"
    return 1
  fi
  rm -f "$error"
  image="${image%%$'\n'*}"
  [[ "$image" =~ $DIGEST_PATTERN ]] || {
    printf '%s: %s does not hold an image by digest\n' "$SCRIPT" "$url" >&2
    return 1
  }
  printf '%s\n' "$image"
}

# keep IMAGE-DIGEST: tags the image good-<digest hex> in its repository,
# which infra/modules/ecr's lifecycle rules never count against the images
# it expires. The repository's tags are immutable, and this tag names the
# digest, so a tag already there is this one.
keep() {
  local image="$1" repository digest tag manifest type error
  repository="${image#*/}"
  repository="${repository%@*}"
  digest="${image#*@}"
  tag="good-${digest#sha256:}"
  if [[ "$DRY_RUN" == true ]]; then
    run aws ecr batch-get-image --region "$REGION" --repository-name "$repository" \
      --image-ids "imageDigest=$digest" --query 'images[0].imageManifest' --output text
    run aws ecr put-image --region "$REGION" --repository-name "$repository" --image-tag "$tag" \
      --image-digest "$digest" --image-manifest-media-type "(its media type)" --image-manifest "(its manifest)"
    return 0
  fi
  manifest="$(aws ecr batch-get-image --region "$REGION" --repository-name "$repository" \
    --image-ids "imageDigest=$digest" --query 'images[0].imageManifest' --output text)" \
    || die "cannot read $image from ECR to keep it; it is not recorded as good"
  type="$(aws ecr batch-get-image --region "$REGION" --repository-name "$repository" \
    --image-ids "imageDigest=$digest" --query 'images[0].imageManifestMediaType' --output text)" \
    || die "cannot read $image from ECR to keep it; it is not recorded as good"
  [[ -n "$manifest" && "$manifest" != None ]] \
    || die "ECR has no image $digest in $repository (expired?); it is not recorded as good"
  error="$(mktemp)"
  if ! aws ecr put-image --region "$REGION" --repository-name "$repository" --image-tag "$tag" \
    --image-digest "$digest" --image-manifest-media-type "$type" --image-manifest "$manifest" \
    >/dev/null 2>"$error" && ! grep -q ImageAlreadyExistsException "$error"; then
    die "cannot tag $image $tag in ECR to keep it, so it is not recorded as good: $(head -n 1 "$error")"
  fi
  rm -f "$error"
}

record() {
  local target="$1" image="$2" url
  [[ "$image" =~ $DIGEST_PATTERN ]] \
    || die "the image must be given by digest (REGISTRY/REPOSITORY@sha256:<64 hex>)"
  url="$(record_url "$target")"
  keep "$image"
  if [[ "$DRY_RUN" == true ]]; then
    printf 'printf %%s\\n %q | ' "$image" >&2
    run aws s3 cp --region "$REGION" --only-show-errors - "$url"
    return 0
  fi
  printf '%s\n' "$image" | aws s3 cp --region "$REGION" --only-show-errors - "$url" \
    || die "could not record $image as the last good image at $url"
  printf 'last good image of %s: %s\n' "$target" "$image" >&2
}

adopt() {
  local target="$1" stack url image arn running
  stack="$REPO_ROOT/infra/stacks/$target"
  [[ "$DRY_RUN" == true ]] || need terraform "install Terraform 1.10 or newer (https://developer.hashicorp.com/terraform/install)"
  run terraform -chdir="$stack" init -input=false -reconfigure \
    -backend-config="bucket=$TF_STATE_BUCKET" -backend-config="region=$REGION" >&2
  if [[ "$DRY_RUN" == true ]]; then
    run terraform -chdir="$stack" output -raw image
    run terraform -chdir="$stack" output -raw service_url
    run terraform -chdir="$stack" output -raw service_arn
    service_image "$target" "(the service ARN)"
    "$REPO_ROOT/scripts/smoke.sh" --dry-run "https://service-url.invalid"
    record "$target" "$DIGEST_EXAMPLE"
    return 0
  fi
  image="$(terraform -chdir="$stack" output -raw image)" \
    || die "cannot read the $target stack's deployed image from its state"
  url="$(terraform -chdir="$stack" output -raw service_url)" \
    || die "cannot read the $target stack's service URL from its state"
  arn="$(terraform -chdir="$stack" output -raw service_arn)" \
    || die "cannot read the $target stack's service ARN from its state"
  # The state keeps the image of a failed apply too; AWS says what runs.
  running="$(service_image "$target" "$arn")" || die "cannot ask AWS which image $target runs"
  [[ "$running" == "$image" ]] \
    || die "$target runs $running, but its state names $image (a deploy that failed?): deploy the image you trust with scripts/deploy.sh --first $target <image-digest>"
  "$REPO_ROOT/scripts/smoke.sh" "$url" >&2 \
    || die "the live service at $url fails the smoke test: $image is not adopted as good"
  record "$target" "$image"
}

# A digest for dry runs, which cannot read the state.
readonly DIGEST_EXAMPLE="123456789012.dkr.ecr.eu-west-1.amazonaws.com/sre-kata@sha256:0000000000000000000000000000000000000000000000000000000000000000"

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
  ((${#args[@]} >= 2)) || die "give a command (get, record or adopt) and a target; try --help"
  local command="${args[0]}" target="${args[1]}"
  [[ "$target" == apprunner || "$target" == ecs-express ]] \
    || die "unknown target '$target': use apprunner or ecs-express"
  REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  [[ -n "$REGION" ]] || die "AWS_REGION is not set; export the region the service runs in"
  [[ -n "${TF_STATE_BUCKET:-}" ]] || die "TF_STATE_BUCKET is not set; export the bucket scripts/bootstrap.sh printed"
  [[ "$DRY_RUN" == true ]] || need aws "install the AWS CLI v2 (https://aws.amazon.com/cli/)"
  case "$command" in
    get) ((${#args[@]} == 2)) || die "get takes a target only"; get "$target" ;;
    record) ((${#args[@]} == 3)) || die "record takes a target and an image digest"; record "$target" "${args[2]}" ;;
    adopt) ((${#args[@]} == 2)) || die "adopt takes a target only"; adopt "$target" ;;
    *) die "unknown command '$command': use get, record or adopt" ;;
  esac
}

main "$@"
