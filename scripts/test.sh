#!/usr/bin/env bash
# Runs every check: formatting, lints, unit, property and integration tests,
# and the shipped image. .ci/run calls it, so CI runs exactly this.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/test.sh [--advisories | --online-audits] [--help]

Runs every check of the repository and stops at the first failure:
  cargo fmt --check, cargo clippy (warnings are errors), cargo test
  (unit, property, integration, infra, permissions, workflow and OpenAPI
  tests, and the vendored tiny_http's own); cargo deny's licences, bans
  and sources (deny.toml); shellcheck, hadolint (the Containerfile),
  zizmor, checkov, terraform fmt, and parliament over the IAM roles'
  rendered policies; schemathesis against the running binary; each
  cargo-fuzz target for \$FUZZ_SECONDS (default 30); then the image:
  scripts/build.sh and the container tests (tests/container.rs), which
  also build the commit twice more, from two clean clones in different
  folders, and compare the bytes.
Python tools install into .venv from scripts/requirements-tools.txt.

  --advisories   only check the dependencies against the RustSec advisory
                 database (cargo deny check advisories), and our fork of
                 tiny_http against upstream's (scripts/upstream-advisories.sh);
                 it needs the network, so CI runs it as its own job (ci.yml)
  --online-audits
                 only run zizmor over .github with its online audits too
                 (impostor-commit, ref-version-mismatch, known-vulnerable-
                 actions...): they ask GitHub, so they need the network
                 and a token in GH_TOKEN; ci.yml runs it with the
                 workflow's own

Without podman or docker the container checks are skipped, and without
terraform its fmt check; the summary says so. With CI=true, missing tools are installed (apt-get) and nothing is
skipped.
USAGE
}

rust_checks() {
  need cargo "install Rust with rustup (https://rustup.rs), then open a new shell"
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    need rustup "install rustfmt and clippy for your Rust toolchain"
    rustup component add rustfmt clippy
  fi
  step "cargo fmt --check" cargo fmt --all -- --check
  # --workspace: the vendored tiny_http is ours, tests and lints included.
  step "cargo clippy" cargo clippy --locked --workspace --all-targets -- -D warnings
  step "cargo test" cargo test --locked --workspace
  # The dependency policy (deny.toml). Advisories need the network: ci.yml.
  install_cargo_tool cargo-deny "$CARGO_DENY_VERSION"
  step "cargo deny: licences, bans, sources" cargo deny --offline --locked check licenses bans sources
}

lint_checks() {
  tools_venv
  step "shellcheck" shellcheck --external-sources "$REPO_ROOT"/scripts/*.sh "$REPO_ROOT/.ci/run"
  step "hadolint" hadolint "$REPO_ROOT/Containerfile"
  step "zizmor" zizmor --offline --min-severity medium "$REPO_ROOT/.github"
  # checkov's own checks plus the project's (infra/checkov); --skip-download
  # keeps it offline.
  step "checkov" checkov --directory "$REPO_ROOT/infra" --framework terraform \
    --external-checks-dir "$REPO_ROOT/infra/checkov" --skip-download --quiet --compact
  if command -v terraform >/dev/null 2>&1; then
    step "terraform fmt -check" terraform fmt -check -recursive "$REPO_ROOT/infra"
  elif [[ "${CI:-}" == true ]]; then
    die "terraform is missing; install Terraform 1.10 or newer (https://developer.hashicorp.com/terraform/install)"
  else
    SKIPPED+="${SKIPPED:+; }terraform fmt: terraform is not installed"
    printf '\n==> SKIPPED terraform fmt -check: terraform is not installed\n'
  fi
  # terraform validate and plan need the provider registry: the GitHub
  # workflow runs them (.github/workflows/ci.yml).
  # The roles' policies, rendered from infra/ by tests/permissions (whose
  # other tests prove them against infra/permissions in cargo test).
  step "parliament over the roles' IAM policies" env PARLIAMENT="$REPO_ROOT/.venv/bin/parliament" \
    cargo test --locked --test permissions -- --ignored
}

# Seconds each fuzz target runs (scripts/fuzz.sh); CI runs each for 30.
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"

# What had to be skipped, for the summary.
SKIPPED=""

container_checks() {
  local engine
  engine="$(container_engine)" || engine=""
  if [[ "${CI:-}" == true ]]; then
    # CI's sandbox runs podman with runc (.ci/containers.conf).
    if [[ -z "$engine" ]] || { is_podman "$engine" && ! command -v runc >/dev/null 2>&1; }; then
      step "installing podman and runc" apt_install podman runc
      engine=podman
    fi
  elif [[ -z "$engine" ]]; then
    SKIPPED+="${SKIPPED:+; }container checks: no podman or docker engine here (install podman to run them)"
    printf '\n==> SKIPPED container checks: no podman or docker engine here\n'
    return 0
  fi
  step "scripts/build.sh" "$REPO_ROOT/scripts/build.sh"
  # The system calls, on the libc the image ships (build.sh installed its
  # target and musl-gcc): glibc and musl differ where src/sys.rs meets them.
  step "src/sys.rs's tests on musl" env CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo test --locked --target "$MUSL_TARGET" --lib -- sys::
  # One at a time: one of them builds the commit twice more, with LTO.
  step "container tests ($engine)" env CONTAINER_ENGINE="$engine" \
    SRE_KATA_TEST_IMAGE="$IMAGE_NAME:$(image_tag)" \
    cargo test --locked --test container -- --ignored --test-threads=1
}

api_checks() {
  tools_venv
  step "schemathesis against the running binary" env SCHEMATHESIS="$REPO_ROOT/.venv/bin/schemathesis" \
    cargo test --locked --test schemathesis -- --ignored
}

advisory_checks() {
  need cargo "install Rust with rustup (https://rustup.rs), then open a new shell"
  install_cargo_tool cargo-deny "$CARGO_DENY_VERSION"
  step "cargo deny: advisories" cargo deny --locked check advisories
  # cargo deny skips path dependencies: our fork of tiny_http is followed
  # against upstream's advisories, in the database cargo deny just fetched.
  step "upstream's advisories for our forks" "$REPO_ROOT/scripts/upstream-advisories.sh"
}

# online_audits: zizmor with a GitHub token runs its online audits as well
# as the offline ones test.sh runs: a pin that is no commit of its action
# (impostor-commit) or not the commit of the tag its comment names
# (ref-version-mismatch) fails at medium severity or above.
online_audits() {
  [[ -n "${GH_TOKEN:-}" ]] || die "GH_TOKEN is not set; zizmor's online audits ask GitHub's API (in ci.yml: the workflow's github.token)"
  tools_venv
  step "zizmor, online audits included" zizmor --min-severity medium "$REPO_ROOT/.github"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    --advisories) cd "$REPO_ROOT"; advisory_checks; return 0 ;;
    --online-audits) cd "$REPO_ROOT"; online_audits; return 0 ;;
    "") ;;
    *) die "unknown argument '$1'; try --help" ;;
  esac
  cd "$REPO_ROOT"
  rust_checks
  lint_checks
  api_checks
  step "fuzzing, ${FUZZ_SECONDS}s per target" "$REPO_ROOT/scripts/fuzz.sh" "$FUZZ_SECONDS"
  container_checks
  if [[ -n "$SKIPPED" ]]; then
    printf '\nAll checks that ran passed. SKIPPED: %s.\n' "$SKIPPED"
  else
    printf '\nAll checks passed.\n'
  fi
}

main "$@"
