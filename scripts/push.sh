#!/usr/bin/env bash
# Pushes the image for the current commit to Amazon ECR and prints its digest.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/push.sh [--dry-run] [--allow-dirty] [--archive FILE] [REPOSITORY]

Pushes $IMAGE_NAME:<git-sha> (made by scripts/build.sh) to the ECR repository
REPOSITORY, tagged <git-sha>-<first 12 hex of the image id> (ECR tags are
immutable, so the tag names the content too; an image already there under
that tag is reused only if it is the same image, the same config digest),
and prints the pushed image by
digest (REGISTRY/REPOSITORY@sha256:...) as the only line on stdout: deploy
that, never a tag. Progress goes to stderr. In GitHub Actions, the step's
outputs are image (that line), name (before the @) and digest (after it).

  REPOSITORY     the ECR repository name; default: the repository_name
                 output of infra/stacks/registry, read from its state
                 (TF_STATE_BUCKET, or the bucket scripts/bootstrap.sh made
                 for this account and region)
  --dry-run      print every command (on stderr) instead of running it
  --allow-dirty  push an image built from uncommitted changes, tagged
                 <sha>-dirty-<first 12 hex of the image id>
  --archive FILE load the image from the archive scripts/build.sh wrote
                 (<target>/x86_64-unknown-linux-musl/release/sre-kata.image.tar)
                 first: release.yml builds in one job and pushes in another

Needs AWS_REGION (or AWS_DEFAULT_REGION), and AWS_ACCOUNT_ID or credentials
for "aws sts get-caller-identity". The engine is \$CONTAINER_ENGINE if set,
else podman, else docker.
USAGE
}

DIGEST_FILE=""
trap '[[ -z "$DIGEST_FILE" ]] || rm -f "$DIGEST_FILE"' EXIT

# repository_from_terraform REGION: the registry stack's repository_name
# output, read from its state (init first: a fresh clone has no backend).
repository_from_terraform() {
  local region="$1" stack="$REPO_ROOT/infra/stacks/registry" bucket
  command -v terraform >/dev/null 2>&1 \
    || die "no REPOSITORY given and terraform is missing to read it; pass the ECR repository name"
  local errors
  bucket="$(state_bucket "$region")"
  errors="$(terraform -chdir="$stack" init -input=false -reconfigure \
    -backend-config="bucket=$bucket" -backend-config="region=$region" 2>&1 >/dev/null)" \
    || die "no REPOSITORY given, and the registry stack's state in s3://$bucket cannot be read to find it ($(grep -m 1 'Error' <<<"$errors" | sed 's/^[^A-Za-z]*//')): check the credentials, the region and the network, or pass the ECR repository name"
  terraform -chdir="$stack" output -raw repository_name 2>/dev/null \
    || die "no REPOSITORY given, and the registry stack's state has no repository_name output: run scripts/bootstrap.sh first, or pass the ECR repository name"
}

account_id() {
  if [[ -n "${AWS_ACCOUNT_ID:-}" ]]; then
    printf '%s\n' "$AWS_ACCOUNT_ID"
  else
    aws sts get-caller-identity --query Account --output text 2>/dev/null \
      || die "cannot tell the AWS account: set AWS_ACCOUNT_ID, or sign in so that 'aws sts get-caller-identity' works"
  fi
}

main() {
  local allow_dirty=false repository="" archive=""
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --dry-run) DRY_RUN=true ;;
      --allow-dirty) allow_dirty=true ;;
      --archive) (($# >= 2)) || die "--archive needs a FILE; try --help"; archive="$2"; shift ;;
      -*) die "unknown option '$1'; try --help" ;;
      *)
        [[ -z "$repository" ]] || die "more than one REPOSITORY given; try --help"
        repository="$1"
        ;;
    esac
    shift
  done

  local region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  [[ -n "$region" ]] || die "AWS_REGION is not set; export the region of the ECR repository, e.g. AWS_REGION=eu-west-1"
  [[ -n "$repository" ]] || repository="$(repository_from_terraform "$region")"
  [[ "$DRY_RUN" == true ]] || need aws "install the AWS CLI v2 (https://aws.amazon.com/cli/)"

  local tag
  tag="$(image_tag)"
  if [[ "$tag" == *-dirty && "$allow_dirty" == false ]]; then
    die "the working tree has uncommitted changes; commit them (the tag is the commit), or pass --allow-dirty"
  fi

  local engine
  engine="$(container_engine)" || die "no container engine: install podman (Debian: apt-get install podman) or Docker"
  if [[ -n "$archive" ]]; then
    [[ -f "$archive" ]] || die "no image archive at $archive; scripts/build.sh writes it"
    run load_image_archive "$engine" "$archive" "$IMAGE_NAME:$tag" >/dev/null
  fi
  "$engine" image inspect "$IMAGE_NAME:$tag" >/dev/null 2>&1 \
    || die "no local image $IMAGE_NAME:$tag; run scripts/build.sh first"

  # ECR tags are immutable, so the tag names the content as well as the
  # commit: <sha> alone would name the first image of that commit ever
  # pushed, by hand at bootstrap (another machine's compilers, so other
  # bytes) or by a dirty tree, and the release would find it taken.
  local remote_tag id
  id="$("$engine" image inspect --format '{{.Id}}' "$IMAGE_NAME:$tag")" \
    || die "cannot read the id of $IMAGE_NAME:$tag"
  id="${id#sha256:}"
  remote_tag="$tag-${id:0:12}"

  local account registry remote
  if [[ "$DRY_RUN" == true && -z "${AWS_ACCOUNT_ID:-}" ]]; then
    run aws sts get-caller-identity --query Account --output text
    account="ACCOUNT_ID"
  else
    account="$(account_id)"
  fi
  registry="$account.dkr.ecr.$region.amazonaws.com"
  remote="$registry/$repository:$remote_tag"

  if [[ "$DRY_RUN" == true ]]; then
    printf 'aws ecr get-login-password --region %q | %q login --username AWS --password-stdin %q\n' \
      "$region" "$engine" "$registry" >&2
  else
    aws ecr get-login-password --region "$region" \
      | "$engine" login --username AWS --password-stdin "$registry" >&2 \
      || die "cannot log in to $registry; check the AWS credentials and that the repository is in $region"
  fi
  # ECR tags are immutable: a re-run for the same tag reuses the image
  # already pushed rather than failing on its tag.
  local existing=""
  if [[ "$DRY_RUN" == true ]]; then
    run aws ecr describe-images --region "$region" --repository-name "$repository" \
      --image-ids "imageTag=$remote_tag" --query 'imageDetails[0].imageDigest' --output text
  else
    existing="$(aws ecr describe-images --region "$region" --repository-name "$repository" \
      --image-ids "imageTag=$remote_tag" --query 'imageDetails[0].imageDigest' --output text 2>/dev/null || true)"
  fi
  if [[ "$existing" == sha256:* ]]; then
    same_image_or_die "$engine" "$tag" "$region" "$repository" "$remote_tag"
    printf '%s: %s is already in %s, the same image; not pushing it again\n' "$SCRIPT" "$remote_tag" "$repository" >&2
    pushed "$registry/$repository" "$existing"
    return 0
  fi

  run "$engine" tag "$IMAGE_NAME:$tag" "$remote" >&2

  local digest
  if is_podman "$engine"; then
    DIGEST_FILE="$(mktemp)"
    run "$engine" push --digestfile "$DIGEST_FILE" "$remote" >&2
    [[ "$DRY_RUN" == true ]] && return 0
    digest="$(<"$DIGEST_FILE")"
  else
    run "$engine" push "$remote" >&2
    [[ "$DRY_RUN" == true ]] && return 0
    digest="$("$engine" image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$remote" \
      | sed -n "s|^$registry/$repository@||p" | head -n 1)"
  fi
  [[ "$digest" == sha256:* ]] || die "the push gave no digest for $remote"
  pushed "$registry/$repository" "$digest"
}

# same_image_or_die ENGINE TAG REGION REPOSITORY REMOTE-TAG: an image
# already under REMOTE-TAG is reused only if it is the image just built: the
# same config digest, which names every layer, not just the 12 hex of the
# tag. Otherwise the release would sign and attest an image it did not
# build.
same_image_or_die() {
  local engine="$1" tag="$2" region="$3" repository="$4" remote_tag="$5" local_id remote_id
  local_id="$("$engine" image inspect --format '{{.Id}}' "$IMAGE_NAME:$tag")" \
    || die "cannot read the id of $IMAGE_NAME:$tag"
  local_id="sha256:${local_id#sha256:}"
  remote_id="$(aws ecr batch-get-image --region "$region" --repository-name "$repository" \
    --image-ids "imageTag=$remote_tag" --query 'images[0].imageManifest' --output text 2>/dev/null \
    | grep -o '"config"[^}]*' | grep -o 'sha256:[0-9a-f]\{64\}' | head -n 1)" || remote_id=""
  [[ -n "$remote_id" ]] || die "cannot read the manifest of $remote_tag in $repository to compare it with this build"
  [[ "$remote_id" == "$local_id" ]] \
    || die "$remote_tag is already in $repository as another image (config $remote_id; this build is $local_id), a build of this commit that is not byte for byte this one; the tag is immutable: delete that image (aws ecr batch-delete-image --repository-name $repository --image-ids imageTag=$remote_tag) and push again"
}

# pushed NAME DIGEST: prints the image by digest, and hands it to later
# workflow steps whole and in parts (attestations name the two apart).
pushed() {
  printf '%s@%s\n' "$1" "$2"
  github_output image "$1@$2"
  github_output name "$1"
  github_output digest "$2"
}

main "$@"
