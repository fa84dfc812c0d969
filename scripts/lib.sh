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

# crate_version: prints the version in Cargo.toml.
crate_version() {
  sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO_ROOT/Cargo.toml" | head -n 1
}

# The local image name; scripts/build.sh tags it with image_tag.
# shellcheck disable=SC2034 # used by the scripts that source this file
readonly IMAGE_NAME="sre-kata"
# The Rust target of the shipped binary, and where cargo puts it.
readonly MUSL_TARGET="x86_64-unknown-linux-musl"
# shellcheck disable=SC2034 # used by the scripts that source this file
readonly MUSL_BINARY="$REPO_ROOT/target/$MUSL_TARGET/release/sre-kata"
