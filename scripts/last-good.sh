#!/usr/bin/env bash
# Reads and writes the last good image of a service stack: the digest that
# last passed the smoke test there, the target of every rollback.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/last-good.sh [--dry-run] get [--retired] <apprunner|ecs-express>
       scripts/last-good.sh [--dry-run] record <apprunner|ecs-express> <image-digest>
       scripts/last-good.sh [--dry-run] retire <apprunner|ecs-express>
       scripts/last-good.sh [--dry-run] adopt <apprunner|ecs-express>

The last good image of a stack is the digest that last passed
scripts/smoke.sh there, signed by the release workflow. It lives beside
the stack's state, in s3://\$TF_STATE_BUCKET/<target>/last-good-image:
versioned, KMS-encrypted, written only after a smoke test passed, so a
failed deploy, a failed rollback or a cancelled job never changes it. It
describes the stack that is there: a teardown retires it.

  get      print it. Exit 1, with one line on stderr, if it cannot be
           read; exit 3 if there is none (only credentials that may list
           the bucket can tell: S3 answers others 403 either way).
           --retired: the one retired by the last teardown instead
  record   record IMAGE-DIGEST (scripts/deploy.sh does, after the smoke
           test passed and AWS confirmed the service runs it). It first
           tags the image, its signature and its SBOM attestation in ECR
           good-<digest hex>, good-<digest hex>.sig and .att, tags the
           repository's lifecycle rules keep, so a rollback target and
           what proves it are never expired
  retire   move the record aside, to <target>/last-good-image.retired,
           once its stack is gone (scripts/destroy.sh does, after the
           destroy): a new stack starts with none, and
           scripts/deploy.sh <target> last-good deploys the retired one
  adopt    for a stack deployed before this record existed, by an
           administrator: if the service runs the image the state names,
           that image carries the release workflow's signature and it
           passes the smoke test, record that image

Needs the AWS CLI, AWS_REGION (or AWS_DEFAULT_REGION) and the state
bucket: TF_STATE_BUCKET, or the one scripts/bootstrap.sh made for this
account and region. adopt needs terraform and cosign too.

  --dry-run   print the commands instead of running them
USAGE
}

readonly DIGEST_PATTERN='^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$'

# record_url TARGET [SUFFIX]: where the target's record lives.
record_url() {
  printf 's3://%s/%s/last-good-image%s\n' "$TF_STATE_BUCKET" "$1" "${2:-}"
}

# get TARGET [SUFFIX]: prints the record (SUFFIX .retired: the retired one).
get() {
  local target="$1" url image error
  url="$(record_url "$target" "${2:-}")"
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
# and its signature and SBOM attestation (cosign's sha256-<hex>.sig and
# .att) good-<hex>.sig and .att: infra/modules/ecr keeps every good-* tag
# of its newest good releases, so a rollback target keeps what proves it.
# Good tags are immutable and name the digest, so one already there is
# this image's: kept as it is, even if the signature's tag has moved since
# (a second signature appended), since it holds a signature too.
keep() {
  local image="$1" repository digest hex
  repository="${image#*/}"
  repository="${repository%@*}"
  digest="${image#*@}"
  hex="${digest#sha256:}"
  tag_manifest "$repository" "imageDigest=$digest" "good-$hex" \
    || die "ECR has no image $digest in $repository (expired?); it is not recorded as good"
  tag_manifest "$repository" "imageTag=sha256-$hex.sig" "good-$hex.sig" \
    || die "ECR has no signature for $image (cosign's sha256-$hex.sig); it is not recorded as good"
  tag_manifest "$repository" "imageTag=sha256-$hex.att" "good-$hex.att" \
    || die "ECR has no SBOM attestation for $image (cosign's sha256-$hex.att), which scripts/sign.sh makes with the signature; it is not recorded as good"
}

# tag_manifest REPOSITORY IMAGE-ID TAG: gives the manifest IMAGE-ID names
# (imageDigest=... or imageTag=...) the tag TAG as well. Returns 1 if
# there is no such manifest; dies on any other error.
tag_manifest() {
  local repository="$1" id="$2" tag="$3" manifest type error
  if [[ "$DRY_RUN" == true ]]; then
    run aws ecr batch-get-image --region "$REGION" --repository-name "$repository" \
      --image-ids "$id" --query 'images[0].[imageManifestMediaType,imageManifest]' --output text
    run aws ecr put-image --region "$REGION" --repository-name "$repository" --image-tag "$tag" \
      --image-manifest-media-type "(its media type)" --image-manifest "(its manifest)"
    return 0
  fi
  manifest="$(aws ecr batch-get-image --region "$REGION" --repository-name "$repository" \
    --image-ids "$id" --query 'images[0].imageManifest' --output text)" \
    || die "cannot read $id from ECR to tag it $tag; nothing is recorded as good"
  [[ -n "$manifest" && "$manifest" != None ]] || return 1
  type="$(aws ecr batch-get-image --region "$REGION" --repository-name "$repository" \
    --image-ids "$id" --query 'images[0].imageManifestMediaType' --output text)" \
    || die "cannot read $id from ECR to tag it $tag; nothing is recorded as good"
  error="$(mktemp)"
  if ! aws ecr put-image --region "$REGION" --repository-name "$repository" --image-tag "$tag" \
    --image-manifest-media-type "$type" --image-manifest "$manifest" \
    >/dev/null 2>"$error" && ! grep -q 'ImageAlreadyExistsException\|ImageTagAlreadyExistsException' "$error"; then
    die "cannot tag $id $tag in ECR to keep it, so nothing is recorded as good: $(head -n 1 "$error")"
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

# retire TARGET: moves the record aside once its stack is gone. A record
# that is not there (a stack never recorded, or retired already) is fine.
retire() {
  local target="$1" url retired error
  url="$(record_url "$target")"
  retired="$(record_url "$target" .retired)"
  if [[ "$DRY_RUN" == true ]]; then
    run aws s3 cp --region "$REGION" --only-show-errors "$url" "$retired"
    run aws s3 rm --region "$REGION" --only-show-errors "$url"
    return 0
  fi
  error="$(mktemp)"
  if ! aws s3 cp --region "$REGION" --only-show-errors "$url" "$retired" 2>"$error"; then
    if grep -q '(404)\|NoSuchKey\|does not exist' "$error"; then
      rm -f "$error"
      printf '%s: %s has no last good image to retire\n' "$SCRIPT" "$target" >&2
      return 0
    elif grep -q '(403)\|Forbidden' "$error"; then
      # The roles that run this may read exactly this key, so S3's 403 is
      # its answer for a record that is not there, to a caller that may
      # not list the bucket. Were it one that cannot be read, the next
      # first deploy of the stack (an administrator's) retires it.
      rm -f "$error"
      printf '%s: %s has no last good image to retire (S3: 403, its answer for a missing one to these credentials)\n' "$SCRIPT" "$target" >&2
      return 0
    fi
    die "cannot retire the last good image of $target ($url): $(head -n 1 "$error"); run scripts/last-good.sh retire $target once it can be read"
  fi
  rm -f "$error"
  # The bucket is versioned: the removed record stays in its history.
  aws s3 rm --region "$REGION" --only-show-errors "$url" \
    || die "copied the last good image of $target to $retired, but cannot remove $url; run scripts/last-good.sh retire $target again"
  printf '%s: retired the last good image of %s to %s\n' "$SCRIPT" "$target" "$retired" >&2
}

adopt() {
  local target="$1" stack url image arn running repository
  stack="$REPO_ROOT/infra/stacks/$target"
  if [[ "$DRY_RUN" == false ]]; then
    need terraform "install Terraform 1.10 or newer (https://developer.hashicorp.com/terraform/install)"
    need cosign "install cosign (https://docs.sigstore.dev/cosign/system_config/installation/) to check the image's signature"
  fi
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
  # Only signed images are recorded: a rollback checks the signature.
  repository="$(stack_setting "$target" github_repository)"
  cosign_login "$image"
  cosign verify --certificate-identity "$(release_identity "$repository")" \
    --certificate-oidc-issuer "$SIGNATURE_ISSUER" "$image" >/dev/null 2>&1 \
    || die "$target runs $image, which has no signature from $repository's release workflow, and a rollback would refuse it: deploy a signed image instead (scripts/deploy.sh --first $target <image-digest>)"
  "$REPO_ROOT/scripts/smoke.sh" "$url" >&2 \
    || die "the live service at $url fails the smoke test: $image is not adopted as good"
  record "$target" "$image"
}

# A digest for dry runs, which cannot read the state.
readonly DIGEST_EXAMPLE="123456789012.dkr.ecr.eu-west-1.amazonaws.com/sre-kata@sha256:0000000000000000000000000000000000000000000000000000000000000000"

main() {
  local args=() retired=""
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --dry-run) DRY_RUN=true ;;
      --retired) retired=.retired ;;
      -*) die "unknown option '$1'; try --help" ;;
      *) args+=("$1") ;;
    esac
    shift
  done
  ((${#args[@]} >= 2)) || die "give a command (get, record, retire or adopt) and a target; try --help"
  local command="${args[0]}" target="${args[1]}"
  [[ "$target" == apprunner || "$target" == ecs-express ]] \
    || die "unknown target '$target': use apprunner or ecs-express"
  [[ -z "$retired" || "$command" == get ]] || die "--retired goes with get only"
  REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  [[ -n "$REGION" ]] || die "AWS_REGION is not set; export the region the service runs in"
  [[ "$DRY_RUN" == true ]] || need aws "install the AWS CLI v2 (https://aws.amazon.com/cli/)"
  TF_STATE_BUCKET="$(state_bucket "$REGION")"
  case "$command" in
    get) ((${#args[@]} == 2)) || die "get takes a target only"; get "$target" "$retired" ;;
    record) ((${#args[@]} == 3)) || die "record takes a target and an image digest"; record "$target" "${args[2]}" ;;
    retire) ((${#args[@]} == 2)) || die "retire takes a target only"; retire "$target" ;;
    adopt) ((${#args[@]} == 2)) || die "adopt takes a target only"; adopt "$target" ;;
    *) die "unknown command '$command': use get, record, retire or adopt" ;;
  esac
}

main "$@"
