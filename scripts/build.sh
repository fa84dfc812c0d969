#!/usr/bin/env bash
# Builds the static musl binary and the scratch image that holds it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/build.sh [--binary-only] [--help]

Builds the release binary for $MUSL_TARGET (static: no libc needed at run
time; needs musl-gcc from musl-tools for its allocator), then the image from ./Containerfile, tagged $IMAGE_NAME:<git-sha>, with
-dirty appended for uncommitted changes. Prints the binary and image sizes.

  --binary-only   build the binary, not the image

The engine is \$CONTAINER_ENGINE if set, else podman, else docker.
The image's org.opencontainers.image.source label is \$IMAGE_SOURCE if set,
else the GitHub Actions repository, else the git remote "origin".
USAGE
}

build_binary() {
  need cargo "install Rust with rustup (https://rustup.rs), then open a new shell"
  if ! rustup target list --installed 2>/dev/null | grep -qx "$MUSL_TARGET"; then
    need rustup "install the $MUSL_TARGET target for your Rust toolchain"
    rustup target add "$MUSL_TARGET"
  fi
  # mimalloc, the musl build's allocator, is C: it needs musl's compiler.
  if ! command -v musl-gcc >/dev/null 2>&1; then
    [[ "${CI:-}" == true ]] \
      || die "musl-gcc is missing; install musl-tools (Debian/Ubuntu: apt-get install musl-tools)"
    apt_install musl-tools
  fi
  CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --release --locked --target "$MUSL_TARGET" --manifest-path "$REPO_ROOT/Cargo.toml"
  printf 'binary: %s (%s bytes)\n' "${MUSL_BINARY#"$REPO_ROOT/"}" "$(stat -c %s "$MUSL_BINARY")"
}

# image_source: the repository URL for the source label: $IMAGE_SOURCE, else
# the GitHub Actions repository, else the "origin" remote (SSH form turned
# into https), else "unknown".
image_source() {
  local remote
  if [[ -n "${IMAGE_SOURCE:-}" ]]; then
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

build_image() {
  local engine tag source created version size
  engine="$(container_engine)" \
    || die "no container engine: install podman (Debian: apt-get install podman) or Docker, or pass --binary-only"
  tag="$(image_tag)"
  source="$(image_source)"
  # The commit's time, not the clock's: the same commit gives the same label.
  created="$(TZ=UTC git -C "$REPO_ROOT" log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd)"
  version="$(crate_version)"

  # Docker image format, not OCI: OCI images cannot carry a HEALTHCHECK.
  local format=()
  is_podman "$engine" && format=(--format docker)
  # No layer cache: it is one COPY, and buildah's cache ignores changed ARGs.
  "$engine" build "${format[@]}" --no-cache \
    --file "$REPO_ROOT/Containerfile" \
    --tag "$IMAGE_NAME:$tag" \
    --build-arg "SOURCE=$source" \
    --build-arg "REVISION=$tag" \
    --build-arg "VERSION=$version" \
    --build-arg "CREATED=$created" \
    "$REPO_ROOT"
  size="$("$engine" image inspect --format '{{.Size}}' "$IMAGE_NAME:$tag")"
  printf 'image: %s:%s (%s bytes, budget 1048576)\n' "$IMAGE_NAME" "$tag" "$size"
  if ((size > 1048576)); then
    printf '%s: warning: the image is over its 1 MiB budget\n' "$SCRIPT" >&2
  fi
}

main() {
  local binary_only=false
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --binary-only) binary_only=true ;;
      *) die "unknown argument '$1'; try --help" ;;
    esac
    shift
  done
  build_binary
  if [[ "$binary_only" == false ]]; then
    build_image
  fi
}

main "$@"
