#!/usr/bin/env bash
# Mutation testing: plants one bug at a time in the code and checks that a
# test fails for each; a bug no test notices is a missing test.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/mutants.sh [--in-diff BASE] [--server] [--jobs N] [--help]

Runs cargo-mutants $CARGO_MUTANTS_VERSION (installed with cargo install if
missing) over the pure core (src/count.rs, query.rs, route.rs, problem.rs,
json.rs, config.rs), the request-head parser (vendor/tiny_http/src/head.rs)
and the fork's connection state (vendor/tiny_http/src/util/connection.rs,
registry.rs, task_pool.rs, ticket.rs), each mutant against the unit tests
of its own crate. .cargo/mutants.toml
names the files, and the mutants left out because no test can tell them
apart from the original, each with its reason (--server:
.cargo/mutants-server.toml). Prints a table per file
(caught, missed, timed out, unviable; in GitHub Actions, to the step
summary too) and every missed mutant. Output: mutants.out/ (the default
--output of cargo mutants).

Exit status: 0 when every mutant is caught (a mutant that makes the tests
hang past the timeout counts as caught: it is noticed); 1 when any is
missed; 2 for bad usage or a failed run.

  --in-diff BASE  only the mutants on lines changed since the commit BASE
                  (git diff BASE): a pull request's own changes (ci.yml)
  --server        instead, the socket code (src/server.rs, log.rs,
                  lifecycle.rs, and the fork's reader.rs and socket.rs)
                  against the unit tests and the integration tests that run
                  the binary over real sockets, which it runs once first;
                  slow: hours (docs/ci.md gives the cost)
  --jobs N        mutants built and tested at once (default 2)
USAGE
}

# The tests a mutant of the server's code must fail (--server): the unit
# tests and the integration tests that run the binary over real sockets.
# The other test files check scripts, docs and infrastructure, which no
# mutant of the server changes.
readonly SERVER_TESTS=(--lib --bins --test=load --test=isolation --test=hostile
  --test=strict_http --test=lifecycle --test=http_contract --test=panics)

# The diff of --in-diff, removed on exit.
DIFF=""
trap '[[ -z "$DIFF" ]] || rm -f "$DIFF"' EXIT

# exclusions CONFIG: prints the exclude_re patterns of CONFIG, one per
# line; fails on an entry it cannot read, so that none goes unchecked.
exclusions() {
  local config="$1" name line in_list=false
  name="$(basename "$config")"
  while IFS= read -r line; do
    if [[ "$in_list" == false ]]; then
      [[ "$line" != "exclude_re = []" ]] || return 0
      [[ "$line" != "exclude_re = ["* ]] || in_list=true
      continue
    fi
    [[ "$line" != "]" ]] || return 0
    [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    [[ "$line" =~ ^[[:space:]]*\'(.*)\',$ ]] \
      || die "$name: write each exclude_re entry as '<pattern>', on its own line, not: $line"
    printf '%s\n' "${BASH_REMATCH[1]}"
  done <"$config"
  [[ "$in_list" == false ]] || die "$name: exclude_re has no closing ]"
}

# check_exclusions CONFIG: fails unless each exclude_re pattern of CONFIG
# names exactly one mutant of the whole workspace: one that names none went
# stale when its code changed, one that names more leaves real mutants
# untested.
check_exclusions() {
  local config="$1" all patterns pattern count bad=""
  patterns="$(exclusions "$config")"
  [[ -n "$patterns" ]] || return 0
  all="$(cd "$REPO_ROOT" && cargo mutants --no-config --workspace --list)" \
    || die "cargo mutants --list failed; its output is above"
  while IFS= read -r pattern; do
    count="$(grep -cP -- "$pattern" <<<"$all" || true)"
    [[ "$count" == 1 ]] || bad+="${bad:+; }'$pattern' names $count"
  done <<<"$patterns"
  [[ -z "$bad" ]] || die "$(basename "$config"): each excluded mutant must be exactly one: $bad"
}

# summary OUTPUT-DIR: prints a markdown table of the outcomes per file,
# then the missed mutants, from cargo-mutants' outcome lists.
summary() {
  local out="$1/mutants.out"
  if [[ ! -f "$out/outcomes.json" ]]; then
    printf 'No mutants: the changes touch no code that is mutated.\n'
    return 0
  fi
  printf '| file | caught | missed | timed out | unviable |\n|---|---|---|---|---|\n'
  local outcome
  for outcome in caught missed timeout unviable; do
    # "FILE:LINE:COL: description", one per line; an empty list is fine.
    sed -n "s|^\([^:]*\):.*|\1 $outcome|p" "$out/$outcome.txt" 2>/dev/null || true
  done | awk '
    { files[$1] = 1; n[$1, $2]++ }
    END {
      for (f in files) {
        printf "| `%s` | %d | %d | %d | %d |\n", f, n[f, "caught"], n[f, "missed"], n[f, "timeout"], n[f, "unviable"]
      }
    }' | sort
  if [[ -s "$out/missed.txt" ]]; then
    printf '\nMissed (no test failed):\n\n'
    sed 's/^/- /' "$out/missed.txt"
  fi
}

# server_baseline: runs SERVER_TESTS on the code as it is, and prints the
# time each mutant's tests get: three times as long, and at least 60 s.
# cargo mutants 27.1.0 runs its own baseline with the mutated package's
# tests only, even with test_workspace, so that baseline cannot run these.
server_baseline() {
  local start elapsed
  # Built first, so that the time is the tests' alone.
  (cd "$REPO_ROOT" && cargo test --locked --workspace --no-run "${SERVER_TESTS[@]}" >&2) \
    || die "the tests do not build; fix that first (cargo's output is above)"
  start="$(date +%s)"
  (cd "$REPO_ROOT" && cargo test --locked --workspace "${SERVER_TESTS[@]}" >&2) \
    || die "the tests fail with no mutant in the code; fix them first (cargo test's output is above)"
  elapsed=$(($(date +%s) - start))
  printf '%s\n' "$((elapsed * 3 > 60 ? elapsed * 3 : 60))"
}

# check_run STATUS: fails unless cargo mutants' exit STATUS means it tested
# what it was asked to: 0 all caught, 2 some missed, 3 some timed out (a
# timeout counts as caught: the tests noticed). Each other status is a run
# that says nothing about the tests.
check_run() {
  case "$1" in
    0 | 2 | 3) ;;
    4) die "the tests fail with no mutant in the code; fix them first (cargo mutants' output is above)" ;;
    5) die "--in-diff: the diff does not match the files here; commit or stash local changes" ;;
    6) die "--in-diff: cargo mutants cannot read the diff (its output is above)" ;;
    *) die "cargo mutants failed (exit $1): its output is above" ;;
  esac
}

main() {
  local base="" server=false jobs=2 output="$REPO_ROOT"
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --in-diff) (($# >= 2)) || die "--in-diff needs a BASE commit; try --help"; base="$2"; shift ;;
      --server) server=true ;;
      --jobs)
        (($# >= 2)) && [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "--jobs needs a positive number; try --help"
        jobs="$2"
        shift
        ;;
      *) die "unknown argument '$1'; try --help" ;;
    esac
    shift
  done
  need cargo "install Rust with rustup (https://rustup.rs), then open a new shell"
  need git "install git"
  install_cargo_tool cargo-mutants "$CARGO_MUTANTS_VERSION"

  local args=(--workspace --jobs "$jobs" --output "$output" --no-shuffle)
  if [[ -n "$base" ]]; then
    git -C "$REPO_ROOT" rev-parse --verify --quiet "$base^{commit}" >/dev/null \
      || die "no commit '$base' here; fetch it first"
    # cargo mutants reads the diff from a file, and finds each file by the
    # path after "b/": the prefixes, colours and diff program are set here,
    # whatever the user's git configuration says.
    DIFF="$(mktemp)"
    git -C "$REPO_ROOT" diff --no-ext-diff --no-color --no-textconv \
      --src-prefix=a/ --dst-prefix=b/ "$base" -- >"$DIFF"
    args+=(--in-diff "$DIFF")
  fi
  # Which files, which tests, which mutants are left out: the configuration.
  local config="$REPO_ROOT/.cargo/mutants.toml"
  [[ "$server" == false ]] || config="$REPO_ROOT/.cargo/mutants-server.toml"
  [[ -f "$config" ]] || die "no ${config#"$REPO_ROOT/"}: run this from a checkout of the project"
  check_exclusions "$config"
  args+=(--config "$config")
  if [[ "$server" == true ]]; then
    local timeout test_arg
    timeout="$(server_baseline)"
    args+=(--baseline skip --timeout "$timeout")
    for test_arg in "${SERVER_TESTS[@]}"; do
      args+=("--cargo-test-arg=$test_arg")
    done
  fi

  # A run with nothing to mutate writes no output: never report an old one.
  rm -rf "$output/mutants.out" "$output/mutants.out.old"
  # Each job builds in its own copy of the tree, with its own target/: a
  # shared CARGO_TARGET_DIR would have the jobs overwrite each other's builds.
  local status=0
  (cd "$REPO_ROOT" && env -u CARGO_TARGET_DIR cargo mutants "${args[@]}") || status=$?
  check_run "$status"
  local table
  table="$(summary "$output")"
  printf '\n%s\n' "$table"
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    printf '### Mutation testing%s\n\n%s\n' "${base:+ (changes since ${base:0:12})}" "$table" >>"$GITHUB_STEP_SUMMARY"
  fi
  # The list, not the exit status, says whether any mutant was missed:
  # cargo mutants exits 3 when any timed out, whatever else it found.
  if [[ -s "$output/mutants.out/missed.txt" ]]; then
    printf '%s: missed mutants: add a test that fails on each (listed above)\n' "$SCRIPT" >&2
    return 1
  fi
}

main "$@"
