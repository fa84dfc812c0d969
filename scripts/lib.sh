# shellcheck shell=bash
# Helpers shared by the scripts in this folder. Source it; do not run it.

# The repository root, whatever the caller's working directory.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT

# The calling script's name, for messages.
SCRIPT="$(basename "${BASH_SOURCE[1]:-$0}")"

# die MESSAGE: prints one line to stderr and exits 2, the code for "something
# the user must supply or fix first".
die() {
  printf '%s: %s\n' "$SCRIPT" "$1" >&2
  exit 2
}

# need COMMAND HOW-TO-GET-IT: dies unless COMMAND is on PATH.
need() {
  local command="$1" how="$2"
  command -v "$command" >/dev/null 2>&1 || die "$command is missing; $how"
}

# Set to true by a script's --dry-run option.
DRY_RUN=false

# run COMMAND...: runs a command; under --dry-run, prints it shell-quoted on
# stderr instead. Scripts keep stdout for their result (a digest, a URL).
run() {
  if [[ "$DRY_RUN" == true ]]; then
    printf '%q ' "$@" >&2
    printf '\n' >&2
  else
    "$@"
  fi
}

# Stopping cleanly. GitHub's runner stops a step (a timeout, a cancel) by
# signalling the step's shell alone: SIGINT, SIGTERM 7.5 s later, SIGKILL
# 2.5 s after that (actions/runner, ProcessInvoker.cs). A terraform child
# gets nothing, keeps the state lock, and is killed at the job's end with
# the lock still held. Terraform stops cleanly on one interrupt (INT or TERM
# alike: it finishes or cancels what is in flight, writes the state,
# releases the lock) and abandons everything on a second one.
#
# So a script that runs terraform with the lock calls catch_stop_signals
# first. From then on the first INT or TERM stops the script at once,
# unless a terraform runs under supervised: then it is passed on to it
# once, as INT, and the script stops when terraform has (STOP_SIGNAL,
# stop_if_signalled). Later signals only say that the script is still
# waiting. If the runner kills the script first, terraform finishes
# stopping on its own, and the next step's -lock-timeout waits for the
# lock. A signal that arrives while another foreground command runs
# (terraform init, cosign) is handled when that command ends, since bash
# runs a trap only then: nothing new starts after it.
catch_stop_signals() {
  STOP_SIGNAL="" SUPERVISED_PID="" SUPERVISED_NAME=""
  trap 'on_stop_signal INT' INT
  trap 'on_stop_signal TERM' TERM
}

# on_stop_signal NAME: the trap.
on_stop_signal() {
  if [[ -n "$STOP_SIGNAL" ]]; then
    printf '%s: SIG%s: still waiting for %s (pid %s) to release the state lock; a second interrupt would make it abandon the lock (kill -KILL %s does, and leaves the lock held)\n' \
      "$SCRIPT" "$1" "${SUPERVISED_NAME:-the current step}" "${SUPERVISED_PID:-$$}" "${SUPERVISED_PID:-$$}" >&2
    return 0
  fi
  STOP_SIGNAL="$1"
  if [[ -z "$SUPERVISED_PID" ]]; then
    stop_if_signalled # between commands: nothing holds the lock
  fi
  printf '%s: SIG%s: asking %s (pid %s) to stop cleanly and release the state lock\n' \
    "$SCRIPT" "$1" "$SUPERVISED_NAME" "$SUPERVISED_PID" >&2
  kill -INT "$SUPERVISED_PID" 2>/dev/null || true
}

# supervised COMMAND...: runs COMMAND (a terraform that takes the state
# lock) and waits for it, after catch_stop_signals. It does not start after
# a stop signal. COMMAND runs in a process group of its own (job control,
# set -m), so a Ctrl-C at a terminal, which signals the whole foreground
# group, reaches it once, through this script, not twice; with stdin from
# /dev/null (no prompt can stop it in the background), and SIGPIPE ignored
# (a pipe that closes, a `| tee` that a Ctrl-C ended, must not kill it with
# the lock held: Go then gets EPIPE). Returns COMMAND's status; call
# stop_if_signalled once its output is shown.
supervised() {
  local status=0
  stop_if_signalled
  SUPERVISED_NAME="$(basename "$1")"
  set -m
  (
    trap '' PIPE
    exec "$@" </dev/null
  ) &
  SUPERVISED_PID=$!
  set +m
  # wait returns early (above 128) when a trapped signal arrives; only the
  # command's own end counts.
  while :; do
    status=0
    wait "$SUPERVISED_PID" || status=$?
    if ((status > 128)) && kill -0 "$SUPERVISED_PID" 2>/dev/null; then
      continue
    fi
    break
  done
  SUPERVISED_PID=""
  return "$status"
}

# stop_if_signalled: exits 130 (SIGINT) or 143 (SIGTERM) once a stop signal
# has come: the step was cancelled or timed out, and nothing more starts.
stop_if_signalled() {
  case "${STOP_SIGNAL:-}" in
    INT) printf '%s: stopped by SIGINT\n' "$SCRIPT" >&2; exit 130 ;;
    TERM) printf '%s: stopped by SIGTERM\n' "$SCRIPT" >&2; exit 143 ;;
  esac
}

# The longest a terraform command waits for the state lock, unless a script
# says otherwise (-lock-timeout). One deploy, rollback or destroy runs at a
# time (the workflows' concurrency group), so a lock held longer is a run
# that died, or one still stopping.
# shellcheck disable=SC2034 # used by the scripts that source this file
LOCK_TIMEOUT=2m

# github_output NAME VALUE: hands a value to later workflow steps (in
# GitHub Actions; elsewhere, and under --dry-run, nothing).
github_output() {
  if [[ -n "${GITHUB_OUTPUT:-}" && "$DRY_RUN" == false ]]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}

# step TITLE COMMAND...: runs a command under a visible heading.
step() {
  local title="$1"
  shift
  printf '\n==> %s\n' "$title"
  "$@"
}

# apt_install PACKAGE...: installs Debian packages, as root or through sudo.
apt_install() {
  local sudo=()
  [[ "$(id -u)" == 0 ]] || sudo=(sudo)
  need apt-get "install these packages by hand: $*"
  "${sudo[@]}" apt-get update -qq
  # Through env: sudo's env_reset would drop a plain assignment.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# python_venv DIR REQUIREMENTS: creates a virtualenv in DIR with the pinned
# packages of REQUIREMENTS, once, or again when that file changes.
python_venv() {
  local venv="$1" requirements="$2"
  need python3 "install Python 3 (Debian: apt-get install python3 python3-venv)"
  if ! cmp -s "$requirements" "$venv/installed-requirements.txt" 2>/dev/null; then
    python3 -m venv "$venv" || die "cannot create $venv (Debian: apt-get install python3-venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --requirement "$requirements"
    cp "$requirements" "$venv/installed-requirements.txt"
  fi
}

# tools_venv: puts the pinned Python tools of scripts/requirements-tools.txt,
# installed into .venv, first on PATH.
tools_venv() {
  python_venv "$REPO_ROOT/.venv" "$REPO_ROOT/scripts/requirements-tools.txt"
  PATH="$REPO_ROOT/.venv/bin:$PATH"
}

# container_engine: prints the container engine to use: $CONTAINER_ENGINE if
# set, else podman, else docker if its daemon answers. Fails if there is none.
container_engine() {
  if [[ -n "${CONTAINER_ENGINE:-}" ]]; then
    printf '%s\n' "$CONTAINER_ENGINE"
  elif command -v podman >/dev/null 2>&1; then
    printf 'podman\n'
  elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    printf 'docker\n'
  else
    return 1
  fi
}

# is_podman ENGINE: true if ENGINE (a name or a path) is podman.
is_podman() {
  [[ "$(basename "$1")" == podman ]]
}

# image_tag: prints the image tag for the checked-out commit: the full git
# SHA, with -dirty appended when the working tree has uncommitted changes.
image_tag() {
  local sha
  sha="$(git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null)" \
    || die "not a git checkout with a commit; the image tag is the git commit"
  if [[ -n "$(git -C "$REPO_ROOT" status --porcelain)" ]]; then
    sha+="-dirty"
  fi
  printf '%s\n' "$sha"
}

# state_bucket REGION: prints the bucket that holds the stacks' state:
# TF_STATE_BUCKET if set, else the one scripts/bootstrap.sh makes for the
# signed-in account and REGION, <name>-tfstate-<account>-<region> with
# infra/bootstrap's default name. Set TF_STATE_BUCKET if you changed it.
state_bucket() {
  local region="$1" account
  if [[ -n "${TF_STATE_BUCKET:-}" ]]; then
    printf '%s\n' "$TF_STATE_BUCKET"
  elif [[ "$DRY_RUN" == true ]]; then
    run aws sts get-caller-identity --query Account --output text
    printf '%s-tfstate-ACCOUNT-%s\n' "$STATE_BUCKET_NAME" "$region"
  else
    need aws "install the AWS CLI v2 (https://aws.amazon.com/cli/)"
    account="$(aws sts get-caller-identity --query Account --output text 2>/dev/null)" \
      && [[ "$account" =~ ^[0-9]{12}$ ]] \
      || die "TF_STATE_BUCKET is not set, and the account to derive it from cannot be read: sign in to AWS, or export TF_STATE_BUCKET as scripts/bootstrap.sh printed it"
    printf '%s-tfstate-%s-%s\n' "$STATE_BUCKET_NAME" "$account" "$region"
  fi
}

# infra/bootstrap's default name, the first part of the state bucket's.
readonly STATE_BUCKET_NAME="sre-kata"

# stack_setting STACK NAME: prints the string setting NAME from the stack's
# committed terraform.tfvars (`NAME = "value"`), or nothing if it is unset.
stack_setting() {
  local file="$REPO_ROOT/infra/stacks/$1/terraform.tfvars"
  [[ -f "$file" ]] || return 0
  sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*\"\([^\"]*\)\"[[:space:]]*\$/\1/p" "$file" | tail -n 1
}

# stack_sets STACK NAME: true if the stack's terraform.tfvars sets NAME.
stack_sets() {
  local file="$REPO_ROOT/infra/stacks/$1/terraform.tfvars"
  [[ -f "$file" ]] && grep -Eq "^[[:space:]]*$2[[:space:]]*=" "$file"
}

# check_github_repository STACK: dies unless the stack's terraform.tfvars
# names the repository, and, in GitHub Actions, the one running.
check_github_repository() {
  local stack="$1" repository file="infra/stacks/$1/terraform.tfvars"
  repository="$(stack_setting "$stack" github_repository)"
  if [[ -z "$repository" || "$repository" == your-org/* ]]; then
    die "$file does not name your repository: set github_repository = \"owner/name\" there and commit it"
  fi
  if [[ -n "${GITHUB_REPOSITORY:-}" && "$repository" != "$GITHUB_REPOSITORY" ]]; then
    die "$file names $repository, but this runs in $GITHUB_REPOSITORY: set github_repository there to $GITHUB_REPOSITORY"
  fi
}

# deploy_role_variable TARGET: the repository variable that holds TARGET's
# deploy role, which may read and change that stack only.
deploy_role_variable() {
  case "$1" in
    ecs-express) printf 'AWS_DEPLOY_ROLE_ARN_ECS_EXPRESS\n' ;;
    apprunner) printf 'AWS_DEPLOY_ROLE_ARN_APPRUNNER\n' ;;
    *) return 1 ;;
  esac
}

# service_image TARGET SERVICE-ARN: prints the image the service runs now,
# as AWS reports it; the state keeps the image of a failed apply too.
service_image() {
  local region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  case "$1" in
    apprunner)
      run aws apprunner describe-service --region "$region" --service-arn "$2" \
        --query Service.SourceConfiguration.ImageRepository.ImageIdentifier --output text ;;
    ecs-express)
      run aws ecs describe-express-gateway-service --region "$region" --service-arn "$2" \
        --query 'service.activeConfigurations[0].primaryContainer.image' --output text ;;
  esac
}

# image_source: the repository URL for the source label: $IMAGE_SOURCE, else
# the GitHub Actions repository, else the "origin" remote (SSH form turned
# into https), else "unknown".
image_source() {
  local remote
  if [[ -n "${IMAGE_SOURCE:-}" ]]; then
    # One word: the value becomes a build argument, one per line.
    [[ "$IMAGE_SOURCE" =~ ^[[:graph:]]+$ ]] \
      || die "IMAGE_SOURCE must be one URL, without spaces or line breaks"
    printf '%s\n' "$IMAGE_SOURCE"
  elif [[ -n "${GITHUB_REPOSITORY:-}" ]]; then
    printf '%s/%s\n' "${GITHUB_SERVER_URL:-https://github.com}" "$GITHUB_REPOSITORY"
  elif remote="$(git -C "$REPO_ROOT" remote get-url origin 2>/dev/null)"; then
    remote="${remote%.git}"
    if [[ "$remote" =~ ^git@([^:]+):(.+)$ ]]; then
      remote="https://${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
    fi
    printf '%s\n' "$remote"
  else
    printf 'unknown\n'
  fi
}

# Every deployed image carries a keyless cosign signature from this
# repository's release workflow on main, issued through GitHub's OIDC.
# shellcheck disable=SC2034 # used by the scripts that source this file
readonly SIGNATURE_ISSUER="https://token.actions.githubusercontent.com"

# release_identity OWNER/REPO: prints the signer's identity, as the
# certificate of a signature made by release.yml on main names it.
release_identity() {
  printf 'https://github.com/%s/.github/workflows/release.yml@refs/heads/main\n' "$1"
}

# cosign_login IMAGE: logs cosign in to the image's ECR registry with the
# AWS CLI's token; cosign reads docker's credentials, not podman's.
cosign_login() {
  local registry="${1%%/*}" region
  region="$(sed -n 's/^[0-9]\{12\}\.dkr\.ecr\.\([a-z0-9-]*\)\.amazonaws\.com\(\.cn\)\{0,1\}$/\1/p' <<<"$registry")"
  [[ -n "$region" ]] || die "$registry is not an ECR registry"
  if [[ "$DRY_RUN" == true ]]; then
    printf 'aws ecr get-login-password --region %q | cosign login %q --username AWS --password-stdin\n' \
      "$region" "$registry" >&2
    return 0
  fi
  aws ecr get-login-password --region "$region" \
    | cosign login "$registry" --username AWS --password-stdin >&2 \
    || die "cannot log cosign in to $registry; check the AWS credentials"
}

# crate_version: prints the version in Cargo.toml.
crate_version() {
  sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO_ROOT/Cargo.toml" | head -n 1
}

# The local image name; scripts/build.sh tags it with image_tag.
# shellcheck disable=SC2034 # used by the scripts that source this file
readonly IMAGE_NAME="sre-kata"
# The Rust target of the shipped binary.
readonly MUSL_TARGET="x86_64-unknown-linux-musl"

# The cargo subcommands the build and the checks use, pinned (cargo-mutants:
# its mutants and its output files follow its version).
# shellcheck disable=SC2034 # used by the scripts that source this file
readonly CARGO_AUDITABLE_VERSION="0.7.7" CARGO_CYCLONEDX_VERSION="0.5.9" CARGO_DENY_VERSION="0.20.2" \
  CARGO_MUTANTS_VERSION="27.1.0"

# install_cargo_tool NAME VERSION: makes the cargo subcommand NAME at the
# pinned VERSION available, installing it from crates.io into ~/.cargo/bin
# if it is missing or another version (as scripts/fuzz.sh does for
# cargo-fuzz).
install_cargo_tool() {
  local name="$1" version="$2" installed
  # The version, not just the command: cargo auditable's --version is
  # cargo's, and the tool's version shapes the binary's bytes.
  # Read whole before grep -q looks: grep stops at the first match, and
  # under pipefail the list cut short by it would read as a failure.
  installed="$(cargo install --list 2>/dev/null || true)"
  grep -qxF "$name v$version:" <<<"$installed" && return 0
  printf '%s: installing %s %s (cargo install, once)\n' "$SCRIPT" "$name" "$version" >&2
  cargo install --locked --quiet "$name@$version" \
    || die "cannot install $name; install it by hand: cargo install --locked $name@$version"
}

# archive_image_id ARCHIVE: prints the id of the one image in ARCHIVE, an
# OCI archive as scripts/build.sh saves it: the sha256 of the image's
# config (which names every layer's), found through index.json and the
# image's manifest, and checked against the config's bytes.
archive_image_id() {
  local archive="$1" not_ours="$1 is not the OCI archive of one image that scripts/build.sh saves"
  local index manifest config digests
  index="$(tar -xOf "$archive" index.json 2>/dev/null)" || die "$not_ours (no index.json)"
  digests="$(grep -o '"digest":"sha256:[0-9a-f]\{64\}"' <<<"$index" | cut -d '"' -f 4)" || digests=""
  [[ "$(wc -l <<<"$digests")" == 1 && -n "$digests" ]] || die "$not_ours (index.json names no single manifest)"
  manifest="$(tar -xOf "$archive" "blobs/sha256/${digests#sha256:}" 2>/dev/null)" \
    || die "$not_ours (no manifest blob $digests)"
  # An image manifest names its config; an index (a multi-platform image,
  # or Docker's with attestations) does not, and is not one image.
  config="$(grep -o '"config":{[^}]*}' <<<"$manifest" | grep -o 'sha256:[0-9a-f]\{64\}' | head -n 1)" \
    || die "$not_ours (its manifest names no config)"
  [[ "$(tar -xOf "$archive" "blobs/sha256/${config#sha256:}" 2>/dev/null | sha256sum | cut -d ' ' -f 1)" \
    == "${config#sha256:}" ]] || die "$not_ours (its config is missing or not $config)"
  printf '%s\n' "${config#sha256:}"
}

# load_image_archive ENGINE ARCHIVE NAME: loads the OCI archive that
# scripts/build.sh saves, tags its image NAME, and prints its image id.
load_image_archive() {
  local engine="$1" archive="$2" name="$3" id
  id="$(archive_image_id "$archive")"
  "$engine" load --quiet --input "$archive" >/dev/null || die "$engine cannot load $archive"
  "$engine" tag "$id" "$name" || die "$engine cannot tag the image it loaded from $archive"
  printf '%s\n' "$id"
}

# cargo_target_dir: prints cargo's target folder: CARGO_TARGET_DIR, a
# .cargo/config setting, or target/ in the checkout, as cargo resolves it.
cargo_target_dir() {
  cargo metadata --format-version 1 --no-deps --manifest-path "$REPO_ROOT/Cargo.toml" \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}

# musl_binary: prints where scripts/build.sh leaves the release binary.
musl_binary() {
  printf '%s/%s/release/sre-kata\n' "$(cargo_target_dir)" "$MUSL_TARGET"
}

# commit_epoch: prints the checked-out commit's time in seconds since the
# epoch, the build's SOURCE_DATE_EPOCH.
commit_epoch() {
  git -C "$REPO_ROOT" log -1 --format=%ct 2>/dev/null \
    || die "not a git checkout with a commit; the build's timestamps come from the commit"
}
