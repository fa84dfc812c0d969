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

# step TITLE COMMAND...: runs a command under a visible heading.
step() {
  local title="$1"
  shift
  printf '\n==> %s\n' "$title"
  "$@"
}

# tools_venv: creates .venv with the pinned Python tools from
# scripts/requirements-tools.txt (once, or again when that file changes) and
# puts it first on PATH.
tools_venv() {
  local venv="$REPO_ROOT/.venv" requirements="$REPO_ROOT/scripts/requirements-tools.txt"
  need python3 "install Python 3 (Debian: apt-get install python3 python3-venv)"
  if ! cmp -s "$requirements" "$venv/installed-requirements.txt" 2>/dev/null; then
    python3 -m venv "$venv" || die "cannot create $venv (Debian: apt-get install python3-venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --requirement "$requirements"
    cp "$requirements" "$venv/installed-requirements.txt"
  fi
  PATH="$venv/bin:$PATH"
}
