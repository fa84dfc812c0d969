#!/usr/bin/env bash
# Builds the static musl binary and the scratch image that holds it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/build.sh [--binary-only] [--help]

Builds the release binary for $MUSL_TARGET (static: no libc needed at run
time; needs musl-gcc from musl-tools for its allocator) with cargo
auditable, its CycloneDX SBOM, then the image the Containerfile defines,
tagged $IMAGE_NAME:<git-sha>, with -dirty appended for uncommitted changes,
and saved as an OCI archive next to the binary (sre-kata.image.tar).
Prints the binary, its compilers, the SBOM, the image and their sizes; in
GitHub Actions, the step's outputs are toolchain, sbom (its path), archive
(the image's) and image_id.

The same commit gives the same binary and the same image id, in any folder,
as any user, at any time: timestamps come from the commit (SOURCE_DATE_EPOCH),
and the paths of the checkout, cargo's home and the target folder are
rewritten. CARGO_TARGET_DIR is honoured.

  --binary-only   build the binary and the SBOM, not the image

The engine is \$CONTAINER_ENGINE if set, else podman, else docker.
The image's org.opencontainers.image.source label is \$IMAGE_SOURCE if set,
else the GitHub Actions repository, else the git remote "origin".
USAGE
}

# The binary, its compilers and the SBOM this run built, set by build_binary.
BINARY=""
TOOLCHAIN=""
SBOM=""
# The image's build context, removed on exit.
WORK=""
trap '[[ -z "$WORK" ]] || rm -rf "$WORK"' EXIT

# remap_flags FLAG TARGET-DIR: prints, one per line, FLAG=PATH=/NAME for
# each folder whose path would otherwise land in the binary (panic
# locations, C compiler inputs): the checkout, cargo's home, the target
# folder.
remap_flags() {
  local flag="$1" target_dir="$2"
  printf '%s=%s=/build\n' "$flag" "$REPO_ROOT"
  printf '%s=%s=/cargo\n' "$flag" "${CARGO_HOME:-$HOME/.cargo}"
  printf '%s=%s=/target\n' "$flag" "$target_dir"
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
  install_cargo_tool cargo-auditable "$CARGO_AUDITABLE_VERSION"
  install_cargo_tool cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION"

  # The commit's time for every timestamp (C's __DATE__ and __TIME__ in
  # mimalloc, the SBOM), and no build path in the binary. The encoded form
  # keeps paths with spaces whole; it replaces any RUSTFLAGS of the caller.
  local rustflags cflags target_dir
  target_dir="$(cargo_target_dir)"
  [[ -n "$target_dir" ]] || die "cargo metadata names no target folder"
  rustflags="$(remap_flags --remap-path-prefix "$target_dir" | paste -s -d $'\x1f')"
  # The cc crate splits CFLAGS at whitespace, so a path with a space cannot
  # be mapped for C. mimalloc's release build embeds no source path today
  # (tests/container.rs builds in such a folder and compares), so this
  # is a second line of defence.
  cflags="$(remap_flags -ffile-prefix-map "$target_dir" | { grep -v '[[:space:]]' || true; } | paste -s -d ' ')"
  # Always the commit's, even if the caller set one: the image's created
  # label is the commit's too.
  SOURCE_DATE_EPOCH="$(commit_epoch)"
  export SOURCE_DATE_EPOCH

  # cargo auditable embeds the dependency list (a small compressed JSON
  # section) that scanners read. The binary to ship is the one cargo
  # reports it just made, never a path guessed beforehand.
  local messages
  messages="$(CC_x86_64_unknown_linux_musl=musl-gcc \
    CFLAGS_x86_64_unknown_linux_musl="$cflags" \
    CARGO_ENCODED_RUSTFLAGS="$rustflags" \
    cargo auditable build --release --locked --target "$MUSL_TARGET" \
    --manifest-path "$REPO_ROOT/Cargo.toml" --message-format=json-render-diagnostics)"
  BINARY="$(sed -n 's/.*"executable":"\([^"]*\/sre-kata\)".*/\1/p' <<<"$messages" | tail -n 1)"
  [[ -n "$BINARY" && -f "$BINARY" ]] || die "cargo reported no sre-kata binary"
  printf 'binary: %s (%s bytes, sha256 %s)\n' "$BINARY" "$(stat -c %s "$BINARY")" \
    "$(sha256sum "$BINARY" | cut -d ' ' -f 1)"
  TOOLCHAIN="$(binary_toolchain "$BINARY")"
  printf 'toolchain: %s\n' "$TOOLCHAIN"
  github_output toolchain "$TOOLCHAIN"
  build_sbom
}

# binary_toolchain BINARY: prints the compilers that made BINARY, as its
# ELF .comment section names them (rustc, and the GCC of musl's start files
# and of mimalloc). A rebuild gives the same bytes only with the same ones,
# so the image carries them in a label.
binary_toolchain() {
  need readelf "install binutils (Debian/Ubuntu: apt-get install binutils)"
  readelf -p .comment "$1" | sed -n 's/^ *\[ *[0-9a-f]*\] *//p' | paste -s -d ';' | sed 's/;/; /g'
}

# build_sbom: the CycloneDX SBOM of the shipped binary's crates (the musl
# target's, no build-only ones), next to the binary. cargo cyclonedx writes
# one per workspace member into its folder: ours is moved out of the
# checkout, the vendored tiny_http's (a component of ours) removed.
build_sbom() {
  cargo cyclonedx --quiet --manifest-path "$REPO_ROOT/Cargo.toml" --format json \
    --spec-version 1.5 --target "$MUSL_TARGET" --no-build-deps \
    --override-filename sre-kata.cdx
  SBOM="$(dirname "$BINARY")/sre-kata.cdx.json"
  mv "$REPO_ROOT/sre-kata.cdx.json" "$SBOM"
  rm -f "$REPO_ROOT/vendor/tiny_http/sre-kata.cdx.json"
  printf 'sbom: %s\n' "$SBOM"
  github_output sbom "$SBOM"
}

# image_labels TAG: prints the Containerfile's label arguments, one
# --build-arg per line pair: the source URL, the commit (TAG), the crate
# version, the commit time and the binary's compilers.
image_labels() {
  local tag="$1" source created
  source="$(image_source)"
  created="$(TZ=UTC git -C "$REPO_ROOT" log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd)"
  printf -- '--build-arg\n%s\n' "SOURCE=$source" "REVISION=$tag" "VERSION=$(crate_version)" \
    "CREATED=$created" "TOOLCHAIN=$TOOLCHAIN"
}

# reproducible_flags ENGINE: prints, one per line, ENGINE's build flags for
# an image that is the same bytes every time (docs/supply-chain.md).
reproducible_flags() {
  if is_podman "$1"; then
    # The OCI format: buildah before 1.41 writes its build container's id
    # and hostname into Docker-format images. --timestamp sets the config's,
    # the history's and the layer's times; no io.buildah.version label; no
    # cache, so each build is made, not looked up.
    printf '%s\n' --format oci --timestamp "$SOURCE_DATE_EPOCH" --identity-label=false --layers=false
  else
    # BuildKit takes the config's and history's times from this argument,
    # and the binary's from the context (build_image sets it). Not proven
    # here: no Docker engine runs where the tests run (docs/image.md).
    printf '%s\n' --no-cache --provenance=false --build-arg "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
  fi
}

# build_image: the image the Containerfile defines, built by the engine
# from a context holding only the binary cargo reported (never a file left
# from another build), then saved as an OCI archive next to the binary:
# release.yml pushes it from another job, one that never runs the build's
# code (scripts/push.sh --archive). The image id is the digest of the
# image's config, which names the layer's, so it pins every byte.
build_image() {
  local engine tag id size archive
  engine="$(container_engine)" \
    || die "no container engine: install podman (Debian: apt-get install podman) or Docker, or pass --binary-only"
  tag="$(image_tag)"
  WORK="$(mktemp -d)"
  cp "$BINARY" "$WORK/sre-kata"
  touch --date="@$SOURCE_DATE_EPOCH" "$WORK/sre-kata"
  local flags labels
  mapfile -t flags < <(reproducible_flags "$engine")
  mapfile -t labels < <(image_labels "$tag")
  "$engine" build --quiet --file "$REPO_ROOT/Containerfile" "${flags[@]}" "${labels[@]}" \
    --build-arg BINARY=sre-kata --tag "$IMAGE_NAME:$tag" "$WORK" >&2 \
    || die "$engine cannot build the Containerfile; its output is above"
  archive="$(dirname "$BINARY")/sre-kata.image.tar"
  rm -f "$archive"
  if is_podman "$engine"; then
    "$engine" save --quiet --format oci-archive --output "$archive" "$IMAGE_NAME:$tag" >&2
  else
    "$engine" save --output "$archive" "$IMAGE_NAME:$tag" >&2
  fi || die "$engine cannot save $IMAGE_NAME:$tag to $archive"
  id="$(archive_image_id "$archive")"
  github_output archive "$archive"
  size="$("$engine" image inspect --format '{{.Size}}' "$IMAGE_NAME:$tag")"
  printf 'image: %s:%s (id sha256:%s, %s bytes, budget 1048576)\n' "$IMAGE_NAME" "$tag" "$id" "$size"
  github_output image_id "sha256:$id"
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
