#!/usr/bin/env bash
# Rebuilds a commit from a fresh clone and prints what it made, to compare
# with a released image: the same commit gives the same bytes.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/rebuild.sh [--commit REV] [--expect IMAGE-ID] [--help]

Clones commit REV (default: HEAD) of this repository into a new temporary
folder, builds the binary and the image there with scripts/build.sh, and
prints on stdout:

  binary sha256:<hex>     the musl binary
  image sha256:<hex>      the image id: the digest of the image's config,
                          which names the layer, so it pins every byte

  --commit REV     the commit to rebuild: a SHA, tag or branch of this clone
  --expect ID      exit 1 unless the rebuilt image id is ID (sha256:<hex>);
                   a released image's id is in its GitHub release notes, or:
                   podman pull IMAGE@DIGEST && podman image inspect --format '{{.Id}}' IMAGE@DIGEST

The rebuild matches only with the release's compilers and labels:
  - the compilers: rust-toolchain.toml pins rustc; musl-gcc wraps the
    system's GCC, so build on the release's system (release.yml: GitHub's
    ubuntu-24.04 runner). The released image's sre-kata.toolchain label
    names them all, as the binary's .comment section does;
  - the source label: set IMAGE_SOURCE to the release's (the release notes
    give it); else it comes from this clone's "origin" remote.
Needs what build.sh needs: Rust, musl-gcc, readelf, podman or docker.
USAGE
}

CLONE=""
trap '[[ -z "$CLONE" ]] || rm -rf "$CLONE"' EXIT

main() {
  local commit=HEAD expect=""
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --commit) (($# >= 2)) || die "--commit needs a REV; try --help"; commit="$2"; shift ;;
      --expect) (($# >= 2)) || die "--expect needs an IMAGE-ID; try --help"; expect="$2"; shift ;;
      *) die "unknown argument '$1'; try --help" ;;
    esac
    shift
  done
  if [[ -n "$expect" ]]; then
    [[ "$expect" == sha256:* ]] || expect="sha256:$expect"
    [[ "$expect" =~ ^sha256:[0-9a-f]{64}$ ]] || die "--expect '$expect' is not an image id (sha256:<64 hex>)"
  fi
  local sha
  sha="$(git -C "$REPO_ROOT" rev-parse --verify --quiet "$commit^{commit}")" \
    || die "no commit '$commit' in this clone; git fetch it first"

  # The commit sets every timestamp; the label must be the release's, not
  # the temporary clone's origin.
  unset SOURCE_DATE_EPOCH
  IMAGE_SOURCE="$(image_source)"
  export IMAGE_SOURCE
  CLONE="$(mktemp -d)"
  git clone --quiet --no-checkout "$REPO_ROOT" "$CLONE/src" >&2
  git -C "$CLONE/src" checkout --quiet "$sha" >&2

  local output binary image
  output="$("$CLONE/src/scripts/build.sh")" || die "the build of $sha failed; its output is above"
  printf '%s\n' "$output" >&2
  binary="$(sed -n 's/^binary: .*, sha256 \([0-9a-f]*\))$/\1/p' <<<"$output")"
  image="$(sed -n 's/^image: .*(id \(sha256:[0-9a-f]*\),.*$/\1/p' <<<"$output")"
  [[ -n "$binary" && -n "$image" ]] || die "build.sh printed no binary or image line"
  printf 'binary sha256:%s\nimage %s\n' "$binary" "$image"

  if [[ -n "$expect" && "$image" != "$expect" ]]; then
    printf '%s: the rebuild of %s is %s, not %s; this rebuild used %s, so compare the released image'"'"'s sre-kata.toolchain label, and its source label with IMAGE_SOURCE\n' \
      "$SCRIPT" "$sha" "$image" "$expect" "$(sed -n 's/^toolchain: //p' <<<"$output")" >&2
    return 1
  fi
}

main "$@"
