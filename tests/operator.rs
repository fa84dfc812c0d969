//! The operator's path, run for real with stand-ins for what cannot run
//! here: `terraform`, `aws`, `gh`, `podman`, `cosign` and `sudo` are small scripts on
//! PATH that record their arguments and keep what AWS would keep (the
//! state's outputs, the S3 record of the last good image) in a folder. The
//! smoke test runs against the real binary.
//!
//! The scripts run from a throwaway copy of the repository whose
//! terraform.tfvars name a repository, as a fork's would.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::Service;

const A: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sre-kata@sha256:\
    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sre-kata@sha256:\
    bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sre-kata@sha256:\
    cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
const LB: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/express-1/0123";
const LB2: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/express-2/4567";
/// The target groups the stand-in AWS names beside any load balancer, as
/// deploy.sh passes them: sorted, as a Terraform list.
const TGS: &str = "[\"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/express-1/89ab\",\"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/express-2/cdef\"]";

/// The stand-in for terraform: one stack's state is a folder of outputs,
/// and its S3 lock is the file `lock` there. plan, apply and destroy take
/// the lock, as terraform does, and release it when they end, on an
/// interrupt too (one INT or TERM: terraform stops cleanly); a stand-in
/// killed outright leaves it, as terraform would. A lock held elsewhere is
/// waited for up to $FAKE_LOCK_WAIT seconds (default 0), whatever
/// -lock-timeout says: in these tests a lock is released at once or never.
/// `hang-apply` lists images whose apply hangs, lock held, until signalled.
const TERRAFORM: &str = r#"#!/bin/bash
set -u
F="$FAKE_DIR"
printf 'terraform %s\n' "$*" >>"$F/log"
stack="" args=()
for a in "$@"; do
  case "$a" in
    -chdir=*) stack="$(basename "${a#-chdir=}")" ;;
    *) args+=("$a") ;;
  esac
done
S="$F/stacks/$stack"
mkdir -p "$S/outputs"
locked_error() {
  cat >&2 <<'LOCK'
╷
│ Error: Error acquiring the state lock
│
│ Error message: operation error S3: PutObject, https response error
│ StatusCode: 412, PreconditionFailed
│ Lock Info:
│   ID:        8d1f0c2e-5b7a-4c3d-9e21-0a6b4c2d9f10
│   Path:      state-bucket/ecs-express/terraform.tfstate
│   Operation: OperationTypeApply
│   Who:       runner@fv-az123
╵
LOCK
  exit 1
}
take_lock() {
  local waited=0
  # noclobber: created only if absent, as S3's If-None-Match: * does.
  until (set -o noclobber; echo "$$" >"$S/lock") 2>/dev/null; do
    (( waited < ${FAKE_LOCK_WAIT:-0} * 20 )) || locked_error
    sleep 0.05
    waited=$((waited + 1))
  done
  trap 'rm -f "$S/lock"' EXIT
  trap 'echo "Interrupt received. Gracefully shutting down..."; printf "interrupted %s\n" "${args[0]}" >>"$F/log"; exit 1' INT TERM
}
case "${args[0]:-}" in
  init) exit 0 ;;
  state)
    if [[ -e "$F/fail-state" ]]; then echo "Error: error loading state: AccessDenied" >&2; exit 1; fi
    cat "$S/resources" 2>/dev/null
    exit 0 ;;
  output)
    if [[ -e "$F/fail-state" ]]; then echo "Error: error loading state: AccessDenied" >&2; exit 1; fi
    name="${args[${#args[@]}-1]}"
    if [[ -e "$S/fail-output-$name" || ! -e "$S/outputs/$name" ]]; then
      echo "Error: Output \"$name\" not found" >&2; exit 1
    fi
    cat "$S/outputs/$name"
    exit 0 ;;
  plan)
    take_lock
    rm -f "$S/planned" "$S/planned-lb"
    for a in "${args[@]}"; do
      case "$a" in
        image=*) printf '%s' "${a#image=}" >"$S/planned" ;;
        load_balancer_arn=*) printf '%s' "${a#load_balancer_arn=}" >"$S/planned-lb" ;;
      esac
    done
    # -detailed-exitcode: 2 when the plan changes something.
    if [[ " ${args[*]} " == *" -detailed-exitcode "* && ! -e "$S/up-to-date" ]]; then exit 2; fi
    exit 0 ;;
  apply)
    take_lock
    [[ -e "$S/planned" ]] || exit 0 # a root applied without a plan (bootstrap)
    image="$(cat "$S/planned")"
    if grep -qxF "$image" "$F/hang-apply" 2>/dev/null; then
      touch "$F/applying"
      while :; do sleep 0.05; done
    fi
    # Terraform keeps the variables it was given, even when apply fails.
    printf '%s' "$image" >"$S/outputs/image"
    if grep -qxF "$image" "$F/bad-apply" 2>/dev/null; then echo "Error: deployment failed" >&2; exit 1; fi
    echo "module.service.aws_ecs_express_gateway_service.this" >"$S/resources"
    printf 'arn:aws:%s:eu-west-1:123456789012:service/%s' "$stack" "$stack" >"$S/outputs/service_arn"
    # What AWS runs: the new image, unless AWS rolled the deployment back.
    if grep -qxF "$image" "$F/aws-rolls-back" 2>/dev/null; then :; else printf '%s' "$image" >"$S/running"; fi
    printf 'https://console.example/dashboards/%s' "$stack" >"$S/outputs/dashboard_url"
    if grep -qxF "$image" "$F/bad-smoke" 2>/dev/null; then cp "$F/dead-url" "$S/outputs/service_url"
    else cp "$F/good-url" "$S/outputs/service_url"; fi
    printf 'arn:aws:ecs:eu-west-1:123456789012:service-revision/sre-kata/sre-kata/1' >"$S/outputs/service_revision_arn"
    cat "$S/planned-lb" >"$S/outputs/waf_load_balancer_arn" 2>/dev/null || : >"$S/outputs/waf_load_balancer_arn"
    exit 0 ;;
  show) cat "$S/plan.json" 2>/dev/null || echo '{"resource_changes": []}' ;;
  destroy)
    take_lock
    rm -rf "$S"
    exit 0 ;;
  *) echo "stand-in terraform: unexpected $*" >&2; exit 3 ;;
esac
"#;

/// The stand-in for the AWS CLI: S3 objects are files.
const AWS: &str = r#"#!/bin/bash
set -u
F="$FAKE_DIR"
printf 'aws %s\n' "$*" >>"$F/log"
args=()
while (($#)); do
  case "$1" in
    --region) shift ;;
    --only-show-errors) ;;
    *) args+=("$1") ;;
  esac
  shift
done
set -- "${args[@]}"
case "$1 $2" in
  "s3 cp")
    src="$3" dst="$4"
    if [[ -e "$F/fail-s3" ]]; then echo "An error occurred (AccessDenied) when calling the GetObject operation: Access Denied" >&2; exit 1; fi
    if [[ "$src" == s3://* && "$dst" == s3://* ]]; then
      from="$F/s3/${src#s3://}"
      if [[ ! -e "$from" && -e "$F/can-list" ]]; then echo "fatal error: An error occurred (404) when calling the HeadObject operation: Key \"${src#s3://}\" does not exist" >&2; exit 1; fi
      if [[ ! -e "$from" ]]; then echo "fatal error: An error occurred (403) when calling the HeadObject operation: Forbidden" >&2; exit 1; fi
      cp "$from" "$F/s3/${dst#s3://}"
    elif [[ "$dst" == - ]]; then
      key="${src#s3://}"
      if [[ ! -e "$F/s3/$key" && -e "$F/can-list" ]]; then echo "fatal error: An error occurred (404) when calling the HeadObject operation: Key \"$key\" does not exist" >&2; exit 1; fi
      if [[ ! -e "$F/s3/$key" ]]; then echo "fatal error: An error occurred (403) when calling the HeadObject operation: Forbidden" >&2; exit 1; fi
      cat "$F/s3/$key"
    else
      key="${dst#s3://}"
      mkdir -p "$(dirname "$F/s3/$key")"
      cat >"$F/s3/$key"
    fi ;;
  "s3 rm") rm -f "$F/s3/${3#s3://}" ;;
  "ecs describe-service-revisions")
    # --output json of [loadBalancer.arn, targetGroups[].arn]: the
    # deployment's two groups, the second first.
    if [[ -e "$F/lb" ]]; then printf '["%s", ["%s", "%s"]]\n' "$(cat "$F/lb")" \
      "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/express-2/cdef" \
      "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/express-1/89ab"
    else printf '[null, []]\n'; fi ;;
  "ecs describe-express-gateway-service") cat "$F/stacks/ecs-express/running" ;;
  "cloudwatch get-metric-data")
    # The answer for an SLO is the file named after its first metric's id.
    queries="$(printf '%s\n' "$@" | grep -m1 '^\[')"
    first="$(grep -o '"Id":"[a-z0-9_]*"' <<<"$queries" | head -n 1 | cut -d'"' -f4)"
    if [[ -e "$F/metric-data-$first" ]]; then cat "$F/metric-data-$first"
    else echo "An error occurred (AccessDenied) when calling the GetMetricData operation" >&2; exit 254; fi ;;
  "apprunner describe-service") cat "$F/stacks/apprunner/running" ;;
  "ecr batch-get-image")
    id="$(printf '%s\n' "$@" | grep -E '^image(Tag|Digest)=')"
    case "$id" in
      imageTag=sha256-*.sig | imageTag=sha256-*.att)
        # cosign's signature and attestation, there if cosign made them.
        hex="${id#imageTag=sha256-}" record=signatures
        [[ "${hex##*.}" == att ]] && record=attestations
        grep -qF "@sha256:${hex%.*}" "$F/$record" 2>/dev/null || { echo None; exit 0; }
        manifest='{"schemaVersion":2,"layers":[{"signature":1}]}' ;;
      imageTag=*) # the manifest under a tag; the stand-in's digests are config digests too
        manifest="$(printf '{"schemaVersion":2,"config":{"mediaType":"x","size":1,"digest":"%s"},"layers":[]}' "$(cat "$F/ecr/${id#imageTag=}")")" ;;
      *) manifest='{"schemaVersion": 2}' ;;
    esac
    case "$*" in
      *imageManifestMediaType*) echo application/vnd.docker.distribution.manifest.v2+json ;;
      *) printf '%s\n' "$manifest" ;;
    esac ;;
  "ecr put-image")
    tag="$(printf '%s\n' "$@" | grep -A1 -x -- --image-tag | tail -n 1)"
    # ECR: the same manifest again under its tag, or another manifest under
    # an immutable tag (a signature tag that moved since).
    if grep -qxF "$tag" "$F/ecr-tags" 2>/dev/null; then
      if [[ -e "$F/tag-moved" ]]; then
        echo "An error occurred (ImageTagAlreadyExistsException) when calling the PutImage operation: The image tag '$tag' already exists in the repository and cannot be overwritten because the repository is immutable." >&2; exit 254
      fi
      echo "An error occurred (ImageAlreadyExistsException) when calling the PutImage operation" >&2; exit 254
    fi
    echo "$tag" >>"$F/ecr-tags" ;;
  "apprunner list-services")
    if [[ -e "$F/no-apprunner" ]]; then echo "An error occurred (AccessDeniedException)" >&2; exit 254; fi
    echo '{"ServiceSummaryList": []}' ;;
  "ec2 describe-vpcs") cat "$F/vpc" 2>/dev/null || echo None ;;
  "ec2 describe-subnets") cat "$F/subnets" 2>/dev/null || echo 0 ;;
  "iam get-role")
    if [[ -e "$F/slr" ]]; then echo '{}'; exit 0; fi
    echo "An error occurred (NoSuchEntity) when calling the GetRole operation: The role with name AWSServiceRoleForECS cannot be found." >&2
    exit 254 ;;
  "iam create-service-linked-role") touch "$F/slr"; echo '{}' ;;
  "sts get-caller-identity") echo 123456789012 ;;
  "ecr get-login-password") echo token ;;
  "ecr describe-images")
    tag="$(printf '%s\n' "$@" | sed -n 's/^imageTag=//p')"
    if [[ -e "$F/ecr/$tag" ]]; then cat "$F/ecr/$tag"; else echo "An error occurred (ImageNotFoundException)" >&2; exit 254; fi ;;
  *) echo "stand-in aws: unexpected $*" >&2; exit 3 ;;
esac
"#;

/// The stand-in for the GitHub CLI.
const GH: &str = r#"#!/bin/bash
set -u
printf 'gh %s\n' "$*" >>"$FAKE_DIR/log"
case "$*" in
  "api users/"*) echo 4242 ;;
  *"environments/production --silent") [[ -e "$FAKE_DIR/env-production" ]] || exit 1 ;;
  *"--method PUT"*"--input -")
    body="$(cat)"
    printf 'gh stdin %s\n' "$body" >>"$FAKE_DIR/log"
    if [[ -e "$FAKE_DIR/no-reviewers" && "$body" == *reviewers* ]]; then
      echo 'gh: Failed to create the environment: required reviewers are not available for this repository (HTTP 422)' >&2; exit 1
    fi ;;
  *"deployment-branch-policies --jq"*) ;;
  *"--input -"*) printf 'gh stdin %s\n' "$(cat)" >>"$FAKE_DIR/log" ;;
esac
"#;

/// The stand-in for podman: images are files, pushes write a digest.
const PODMAN: &str = r#"#!/bin/bash
set -u
printf 'podman %s\n' "$*" >>"$FAKE_DIR/log"
case "$1" in
  login) cat >/dev/null ;; # the password, from stdin
  image)
    case "$*" in
      *"{{.Id}}"*) echo "sha256:$(cat "$FAKE_DIR/image-id")" ;;
      *"{{.Size}}"*) echo 900000 ;;
    esac ;;
  push)
    shift
    if [[ "$1" == --digestfile ]]; then printf 'sha256:%s' "$(cat "$FAKE_DIR/image-id")" >"$2"; fi ;;
esac
exit 0
"#;

/// The signer release.yml is: the workflow on main of the repository the
/// copy's terraform.tfvars name.
const RELEASE_SIGNER: &str =
    "https://github.com/owner/repo/.github/workflows/release.yml@refs/heads/main \
    https://token.actions.githubusercontent.com";

/// The stand-in for cosign: `signatures` holds `IMAGE IDENTITY ISSUER`
/// lines, the signatures the registry would hold.
const COSIGN: &str = r#"#!/bin/bash
set -u
F="$FAKE_DIR"
printf 'cosign %s\n' "$*" >>"$F/log"
case "$1" in
  login) cat >/dev/null ;; # the password, from stdin
  verify)
    # A slow registry: holds the step here until the test lets it go.
    if [[ -e "$F/slow-verify" ]]; then
      touch "$F/verifying"
      until [[ -e "$F/release-verify" ]]; do sleep 0.05; done
    fi
    image="${!#}" identity="" issuer=""
    while (($#)); do
      case "$1" in
        --certificate-identity) identity="$2"; shift ;;
        --certificate-oidc-issuer) issuer="$2"; shift ;;
      esac
      shift
    done
    signers="$(grep -F "$image " "$F/signatures" 2>/dev/null | cut -d ' ' -f 2-)"
    if [[ -z "$signers" ]]; then
      echo "Error: no signatures found" >&2; echo "main.go:74: error during command execution: no signatures found" >&2; exit 1
    fi
    if ! grep -qxF "$identity $issuer" <<<"$signers"; then
      echo "Error: no matching signatures: none of the expected identities matched what was in the certificate, got subjects [${signers%% *}]" >&2; exit 1
    fi
    echo '[{"critical":{"image":{}}}]' ;;
  verify-attestation)
    grep -qF "${!#}" "$F/attestations" 2>/dev/null || { echo "Error: none of the attestations matched the predicate type: cyclonedx" >&2; exit 1; } ;;
  sign) printf '%s %s\n' "${!#}" "$SIGNER" >>"$F/signatures" ;; # the workflow's OIDC identity
  attest) printf '%s\n' "${!#}" >>"$F/attestations" ;;
  *) echo "stand-in cosign: unexpected $*" >&2; exit 3 ;;
esac
"#;

/// A sudo that resets the environment, as Debian's env_reset does.
const SUDO: &str = r#"#!/bin/bash
exec env -i PATH="$PATH" FAKE_DIR="$FAKE_DIR" "$@"
"#;

/// An apt-get that records whether it would have asked questions.
const APT_GET: &str = r#"#!/bin/bash
printf 'apt-get %s DEBIAN_FRONTEND=%s\n' "$*" "${DEBIAN_FRONTEND:-}" >>"$FAKE_DIR/log"
"#;

/// A copy of the scripts, with settings naming a repository, and a folder of
/// stand-ins and their memory.
struct Operator {
    dir: tempfile::TempDir,
}

impl Operator {
    fn new() -> Operator {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir_all(root.join("repo")).unwrap();
        let status = Command::new("cp")
            .arg("-r")
            .arg(repo.join("scripts"))
            .arg(root.join("repo"))
            .status()
            .unwrap();
        assert!(status.success());
        for stack in ["apprunner", "ecs-express", "registry"] {
            let dir = root.join("repo/infra/stacks").join(stack);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("terraform.tfvars"),
                "github_repository = \"owner/repo\"\n",
            )
            .unwrap();
        }
        std::fs::create_dir_all(root.join("repo/infra/bootstrap")).unwrap();
        std::fs::write(
            root.join("repo/Cargo.toml"),
            "[package]\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(root.join("fake")).unwrap();
        for (name, body) in [
            ("terraform", TERRAFORM),
            ("aws", AWS),
            ("gh", GH),
            ("podman", PODMAN),
            ("cosign", COSIGN),
            ("sudo", SUDO),
            ("apt-get", APT_GET),
        ] {
            let path = bin.join(name);
            std::fs::write(&path, body).unwrap();
            let status = Command::new("chmod").arg("+x").arg(&path).status().unwrap();
            assert!(status.success());
        }
        // The images the tests release were built, signed and attested by
        // release.yml.
        let signed: String = [A, B, C]
            .iter()
            .map(|image| format!("{image} {RELEASE_SIGNER}\n"))
            .collect();
        std::fs::write(root.join("fake/signatures"), signed).unwrap();
        let attested: String = [A, B, C].iter().map(|i| format!("{i}\n")).collect();
        std::fs::write(root.join("fake/attestations"), attested).unwrap();
        Operator { dir }
    }

    /// Makes the copy a git repository with everything committed, and
    /// returns the commit.
    fn commit_all(&self) -> String {
        let repo = self.repo();
        support::git(&repo, &["init", "--quiet"]);
        support::git(&repo, &["add", "."]);
        support::git(&repo, &["commit", "--quiet", "-m", "x"]);
        support::git(&repo, &["rev-parse", "HEAD"])
    }

    fn fake(&self) -> PathBuf {
        self.dir.path().join("fake")
    }

    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// Sets a stand-in's file (an answer it will give).
    fn set(&self, name: &str, content: &str) {
        let path = self.fake().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    fn append(&self, name: &str, line: &str) {
        let path = self.fake().join(name);
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(line);
        text.push('\n');
        std::fs::write(path, text).unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.fake().join("log")).unwrap_or_default()
    }

    fn clear_log(&self) {
        let _ = std::fs::remove_file(self.fake().join("log"));
    }

    /// The last good image of a stack, as the stand-in S3 holds it.
    fn last_good(&self, target: &str) -> Option<String> {
        std::fs::read_to_string(
            self.fake()
                .join(format!("s3/state-bucket/{target}/last-good-image")),
        )
        .ok()
        .map(|s| s.trim().to_owned())
    }

    fn run(&self, script: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let path = format!("{}:/usr/bin:/bin", self.dir.path().join("bin").display());
        Command::new("/bin/bash")
            .arg(self.repo().join("scripts").join(script))
            .args(args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("FAKE_DIR", self.fake())
            .env("AWS_REGION", "eu-west-1")
            .env("TF_STATE_BUCKET", "state-bucket")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// Runs a script as `run` does, without the state bucket's name: the
    /// script derives it from the account and region.
    fn run_deriving_the_bucket(&self, script: &str, args: &[&str]) -> Output {
        let path = format!("{}:/usr/bin:/bin", self.dir.path().join("bin").display());
        Command::new("/bin/bash")
            .arg(self.repo().join("scripts").join(script))
            .args(args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("FAKE_DIR", self.fake())
            .env("AWS_REGION", "eu-west-1")
            .output()
            .unwrap()
    }

    fn deploy(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.run("deploy.sh", args, env)
    }

    /// A stack that has been deployed, with `image` recorded as last good.
    fn deployed(&self, target: &str, image: &str) {
        self.set(&format!("stacks/{target}/resources"), "module.service.x\n");
        self.set(&format!("stacks/{target}/running"), image);
        self.set(
            &format!("stacks/{target}/outputs/service_arn"),
            &format!("arn:aws:{target}:eu-west-1:123456789012:service/{target}"),
        );
        self.set(
            &format!("s3/state-bucket/{target}/last-good-image"),
            &format!("{image}\n"),
        );
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The images plans were made with, in order.
fn planned_images(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.starts_with("terraform ") && l.contains(" plan "))
        .filter_map(|l| l.split(" image=").nth(1))
        .map(|rest| rest.split(' ').next().unwrap_or_default().to_owned())
        .collect()
}

/// Asserts exit code 2, and that the last line on stderr (after any
/// progress lines) is the script's one-line error, with `words` in it.
fn assert_one_line_error(output: &Output, words: &str) {
    let stderr = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains(".sh: ") && last.contains(words),
        "expected {words:?} in the last line of\n{stderr}"
    );
}

/// A URL where nothing listens: connection refused.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

fn with_service(op: &Operator) -> Service {
    let service = Service::start(&[]);
    op.set("good-url", &format!("http://{}", service.addr));
    op.set("dead-url", &dead_url());
    service
}

#[test]
fn a_failed_release_rolls_back_to_the_last_good_image_never_to_a_failed_one() {
    let op = Operator::new();
    let _service = with_service(&op);
    op.set("vpc", "vpc-0123\n");
    op.set("subnets", "3\n");
    op.set("lb", &format!("{LB}\n"));

    // Release A: the first deploy, which also puts the WAF in front.
    let first = op.deploy(&["ecs-express", A], &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(op.last_good("ecs-express").as_deref(), Some(A));
    assert!(op
        .log()
        .contains("aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com"));
    assert_eq!(
        planned_images(&op.log()),
        [A, A],
        "apply, then apply with the load balancer"
    );
    assert!(op.log().contains(&format!("load_balancer_arn={LB}")));
    // The SLOs are measured on the service's target group at that load
    // balancer, and the dashboard that shows them is printed.
    assert!(
        op.log().contains(&format!("target_group_arns={TGS}")),
        "{}",
        op.log()
    );
    assert!(
        stderr(&first).contains("dashboard: https://console.example/dashboards/ecs-express"),
        "{}",
        stderr(&first)
    );

    // Release B fails to apply; its rollback is cancelled, so nothing ran.
    op.append("bad-apply", B);
    let b = op.deploy(&["ecs-express", B], &[]);
    assert!(!b.status.success());
    assert_eq!(
        op.last_good("ecs-express").as_deref(),
        Some(A),
        "a failed deploy records nothing"
    );

    // Release C applies but fails the smoke test. The state's image is B,
    // the last one tried; the rollback target is still A.
    op.append("bad-smoke", C);
    op.clear_log();
    let c = op.deploy(&["ecs-express", C], &[]);
    assert_eq!(c.status.code(), Some(1), "{}", stderr(&c));
    assert!(
        stderr(&c).contains(&format!("last good image (the rollback target): {A}")),
        "{}",
        stderr(&c)
    );
    assert!(!stderr(&c).contains(B), "{}", stderr(&c));
    assert_eq!(op.last_good("ecs-express").as_deref(), Some(A));

    // The release workflow's rollback step.
    op.clear_log();
    let rollback = op.deploy(&["ecs-express", "last-good"], &[]);
    assert!(rollback.status.success(), "{}", stderr(&rollback));
    assert_eq!(planned_images(&op.log()), [A]);
    assert_eq!(op.last_good("ecs-express").as_deref(), Some(A));
}

#[test]
fn a_state_that_cannot_be_read_stops_the_deploy_before_the_plan() {
    let op = Operator::new();
    op.deployed("apprunner", A);
    op.set("fail-state", "");
    let output = op.deploy(&["apprunner", B], &[]);
    assert_one_line_error(&output, "cannot read the apprunner stack's state");
    assert!(planned_images(&op.log()).is_empty(), "{}", op.log());
}

#[test]
fn a_stack_whose_last_good_image_cannot_be_read_is_not_deployed() {
    for (setup, words) in [("fail-s3", "Access Denied"), ("", "403")] {
        let op = Operator::new();
        op.set("stacks/apprunner/resources", "module.service.x\n");
        if !setup.is_empty() {
            op.set(setup, "");
        }
        let output = op.deploy(&["apprunner", B], &[]);
        let stderr = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(words), "{stderr}");
        assert!(stderr.contains("stopping before the plan"), "{stderr}");
        // A refused or failed read is no reason to skip the rollback
        // target: no --first, no adopt.
        assert!(stderr.contains("run it again"), "{stderr}");
        assert!(!stderr.contains("--first"), "{stderr}");
        assert!(!stderr.contains("adopt"), "{stderr}");
        assert!(planned_images(&op.log()).is_empty(), "{}", op.log());
    }
}

#[test]
fn a_rollback_with_nothing_recorded_and_no_state_says_so() {
    let op = Operator::new();
    // Only credentials that may list the bucket can tell "none".
    op.set("can-list", "");
    let output = op.deploy(&["apprunner", "last-good"], &[]);
    assert_one_line_error(&output, "nothing to roll back to");
    assert!(
        !op.log().contains("aws apprunner"),
        "no preflight for a rollback: {}",
        op.log()
    );
}

#[test]
fn in_github_actions_the_deploy_role_does_not_move_the_waf() {
    let op = Operator::new();
    let _service = with_service(&op);
    op.deployed("ecs-express", A);
    op.set(
        "stacks/ecs-express/outputs/service_revision_arn",
        "arn:aws:ecs:eu-west-1:1:service-revision/a/b/1",
    );
    op.set("stacks/ecs-express/outputs/waf_load_balancer_arn", LB);
    op.set("lb", &format!("{LB2}\n"));
    let refused = op.deploy(
        &["ecs-express", B],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "owner/repo"),
        ],
    );
    assert_one_line_error(&refused, "moving it takes an administrator");
    assert!(stderr(&refused).contains(LB2));
    assert!(planned_images(&op.log()).is_empty());

    // An administrator's run moves it.
    op.clear_log();
    let moved = op.deploy(&["ecs-express", B], &[]);
    assert!(moved.status.success(), "{}", stderr(&moved));
    assert!(
        op.log().contains(&format!("load_balancer_arn={LB2}")),
        "{}",
        op.log()
    );
    assert_eq!(op.last_good("ecs-express").as_deref(), Some(B));
}

#[test]
fn a_settings_file_for_another_repository_stops_the_deploy() {
    let op = Operator::new();
    let output = op.deploy(
        &["ecs-express", A],
        &[("GITHUB_REPOSITORY", "someone/else")],
    );
    assert_one_line_error(&output, "set github_repository there to someone/else");
    op.set(
        "../repo/infra/stacks/ecs-express/terraform.tfvars",
        "github_repository = \"your-org/sre-kata\"\n",
    );
    let placeholder = op.deploy(&["ecs-express", A], &[]);
    assert_one_line_error(&placeholder, "does not name your repository");
}

#[test]
fn a_first_ecs_deploy_checks_the_network_and_the_service_linked_role() {
    // No default VPC, no subnets given.
    let op = Operator::new();
    let output = op.deploy(&["ecs-express", A], &[]);
    assert_one_line_error(&output, "aws ec2 create-default-vpc");
    assert!(planned_images(&op.log()).is_empty());

    // A default VPC with one public subnet.
    op.set("vpc", "vpc-0123\n");
    op.set("subnets", "1\n");
    let one = op.deploy(&["ecs-express", A], &[]);
    assert_one_line_error(&one, "create-default-subnet");

    // Subnets in terraform.tfvars, and the role already there: no VPC
    // question, no role created.
    let op = Operator::new();
    let _service = with_service(&op);
    op.set("lb", &format!("{LB}\n"));
    op.set("slr", "");
    op.append(
        "../repo/infra/stacks/ecs-express/terraform.tfvars",
        "subnets = [\"subnet-1\", \"subnet-2\"]",
    );
    let given = op.deploy(&["ecs-express", A], &[]);
    assert!(given.status.success(), "{}", stderr(&given));
    assert!(!op.log().contains("describe-vpcs"), "{}", op.log());
    assert!(
        !op.log().contains("create-service-linked-role"),
        "{}",
        op.log()
    );
}

#[test]
fn an_account_without_app_runner_is_told_to_use_ecs_express() {
    let op = Operator::new();
    op.set("no-apprunner", "");
    let output = op.deploy(&["apprunner", A], &[]);
    assert_one_line_error(&output, "deploy ecs-express instead");
}

#[test]
fn adopt_records_the_live_image_only_if_it_passes_the_smoke_test() {
    let op = Operator::new();
    let _service = with_service(&op);
    op.set("stacks/apprunner/outputs/image", A);
    op.set(
        "stacks/apprunner/outputs/service_arn",
        "arn:aws:apprunner:x",
    );
    op.set(
        "stacks/apprunner/outputs/service_url",
        &std::fs::read_to_string(op.fake().join("good-url")).unwrap(),
    );
    // The state names A, but AWS runs B (an apply that failed and rolled
    // back keeps A in the state): nothing is adopted.
    op.set("stacks/apprunner/running", B);
    let mismatch = op.run("last-good.sh", &["adopt", "apprunner"], &[]);
    assert_one_line_error(
        &mismatch,
        &format!("apprunner runs {B}, but its state names {A}"),
    );
    assert_eq!(op.last_good("apprunner"), None);

    op.set("stacks/apprunner/running", A);
    op.set(
        "stacks/apprunner/outputs/service_url",
        &std::fs::read_to_string(op.fake().join("dead-url")).unwrap(),
    );
    let refused = op.run("last-good.sh", &["adopt", "apprunner"], &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("is not adopted as good"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(op.last_good("apprunner"), None);

    op.set(
        "stacks/apprunner/outputs/service_url",
        &std::fs::read_to_string(op.fake().join("good-url")).unwrap(),
    );
    let adopted = op.run("last-good.sh", &["adopt", "apprunner"], &[]);
    assert!(adopted.status.success(), "{}", stderr(&adopted));
    assert_eq!(op.last_good("apprunner").as_deref(), Some(A));
    let got = op.run("last-good.sh", &["get", "apprunner"], &[]);
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), A);
}

#[test]
fn github_setup_makes_the_environments_and_variables_from_the_outputs() {
    let op = Operator::new();
    for (name, value) in [
        ("registry/outputs/repository_name", "sre-kata"),
        (
            "registry/outputs/push_role_arn",
            "arn:aws:iam::123456789012:role/sre-kata-github-push",
        ),
        (
            "registry/outputs/destroy_role_arn",
            "arn:aws:iam::123456789012:role/sre-kata-github-destroy",
        ),
    ] {
        op.set(&format!("stacks/{name}"), value);
    }
    let missing = op.run("github-setup.sh", &["ecs-express"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("--reviewer"));

    // After the bootstrap, before the first deploy: releases are built,
    // pushed and signed, and no deploy role is set.
    let before = op.run(
        "github-setup.sh",
        &["--reviewer", "alice", "ecs-express"],
        &[],
    );
    assert!(before.status.success(), "{}", stderr(&before));
    assert!(
        stderr(&before).contains("ecs-express has not been deployed yet"),
        "{}",
        stderr(&before)
    );
    let log = op.log();
    assert!(log.contains("gh variable set AWS_PUSH_ROLE_ARN"), "{log}");
    assert!(
        !log.contains("gh variable set AWS_DEPLOY_ROLE_ARN"),
        "{log}"
    );
    assert!(
        log.contains("gh variable delete AWS_DEPLOY_ROLE_ARN_ECS_EXPRESS --repo owner/repo"),
        "{log}"
    );

    // After the first deploy: the stack's own role, under its own name.
    op.clear_log();
    op.set("stacks/ecs-express/resources", "module.service.x\n");
    op.set(
        "stacks/ecs-express/outputs/deploy_role_arn",
        "arn:aws:iam::123456789012:role/sre-kata-ecs-express-github-deploy",
    );
    let output = op.run(
        "github-setup.sh",
        &["--reviewer", "alice", "ecs-express"],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("is set up to release to ecs-express"),
        "{}",
        stderr(&output)
    );
    let log = op.log();
    for expected in [
        "gh api --method PUT repos/owner/repo/environments/production --input -",
        "gh api --method PUT repos/owner/repo/environments/destroy --input -",
        r#"gh stdin {"reviewers":[{"type":"User","id":4242}],"deployment_branch_policy":{"protected_branches":false,"custom_branch_policies":true}}"#,
        "gh api --method POST repos/owner/repo/environments/production/deployment-branch-policies -f name=main -f type=branch",
        "gh variable set AWS_REGION --repo owner/repo --body eu-west-1",
        "gh variable set AWS_ACCOUNT_ID --repo owner/repo --body 123456789012",
        "gh variable set TF_STATE_BUCKET --repo owner/repo --body state-bucket",
        "gh variable set DEPLOY_TARGET --repo owner/repo --body ecs-express",
        "gh variable set ECR_REPOSITORY --repo owner/repo --body sre-kata",
        "gh variable set AWS_PUSH_ROLE_ARN --repo owner/repo --body arn:aws:iam::123456789012:role/sre-kata-github-push",
        "gh variable set AWS_DESTROY_ROLE_ARN --repo owner/repo --body arn:aws:iam::123456789012:role/sre-kata-github-destroy",
        "gh variable set AWS_DEPLOY_ROLE_ARN_ECS_EXPRESS --repo owner/repo --body arn:aws:iam::123456789012:role/sre-kata-ecs-express-github-deploy",
        // The other stack has none: a manual run for it must not assume
        // this one's role.
        "gh variable delete AWS_DEPLOY_ROLE_ARN_APPRUNNER --repo owner/repo",
    ] {
        assert!(log.lines().any(|l| l == expected), "missing {expected:?} in\n{log}");
    }

    // Both stacks deployed: both roles, whichever is the default.
    op.clear_log();
    op.set("stacks/apprunner/resources", "module.service.x\n");
    op.set(
        "stacks/apprunner/outputs/deploy_role_arn",
        "arn:aws:iam::123456789012:role/sre-kata-apprunner-github-deploy",
    );
    let both = op.run(
        "github-setup.sh",
        &["--reviewer", "alice", "ecs-express"],
        &[],
    );
    assert!(both.status.success(), "{}", stderr(&both));
    assert!(op.log().contains(
        "gh variable set AWS_DEPLOY_ROLE_ARN_APPRUNNER --repo owner/repo --body arn:aws:iam::123456789012:role/sre-kata-apprunner-github-deploy"
    ));
    assert!(op
        .log()
        .contains("gh variable set DEPLOY_TARGET --repo owner/repo --body ecs-express"));

    // An output that cannot be read sets nothing.
    let op2 = Operator::new();
    let failed = op2.run(
        "github-setup.sh",
        &["--reviewer", "alice", "ecs-express"],
        &[],
    );
    assert_eq!(failed.status.code(), Some(2), "{}", stderr(&failed));
    assert!(!op2.log().contains("gh variable set"), "{}", op2.log());
}

#[test]
fn bootstrap_prints_no_export_when_it_cannot_read_the_bucket() {
    let op = Operator::new();
    op.set("stacks/bootstrap/fail-output-state_bucket", "");
    let output = op.run("bootstrap.sh", &["--auto-approve"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "",
        "no half line on stdout"
    );
    assert!(stderr(&output).contains("cannot read its state_bucket output"));

    let op = Operator::new();
    op.set(
        "stacks/bootstrap/outputs/state_bucket",
        "sre-kata-tfstate-1-eu-west-1",
    );
    let output = op.run("bootstrap.sh", &["--auto-approve"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "export TF_STATE_BUCKET=sre-kata-tfstate-1-eu-west-1\n"
    );
    assert!(
        op.log()
            .contains("-var state_bucket=sre-kata-tfstate-1-eu-west-1"),
        "the registry stack too: {}",
        op.log()
    );
}

#[test]
fn push_of_a_dirty_tree_pushes_the_image_just_built() {
    let op = Operator::new();
    op.commit_all();
    std::fs::write(op.repo().join("uncommitted"), "x").unwrap();
    let podman = op.dir.path().join("bin/podman");
    let env = [
        ("AWS_ACCOUNT_ID", "123456789012"),
        ("CONTAINER_ENGINE", podman.to_str().unwrap()),
    ];

    // Two different dirty builds of the same commit push two images, and
    // each push returns its own digest.
    for id in [
        "1111111111111111111111111111111111111111111111111111111111111111",
        "2222222222222222222222222222222222222222222222222222222222222222",
    ] {
        op.set("image-id", id);
        let output = op.run("push.sh", &["--allow-dirty", "sre-kata"], &env);
        assert!(output.status.success(), "{}", stderr(&output));
        let printed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        assert!(printed.ends_with(&format!("@sha256:{id}")), "{printed}");
        assert!(
            op.log().contains(&format!("-dirty-{}", &id[..12])),
            "{}",
            op.log()
        );
        // What was pushed is now in the registry under that tag.
        let tag = op
            .log()
            .lines()
            .filter_map(|l| l.strip_prefix("podman push --digestfile "))
            .next_back()
            .and_then(|l| l.rsplit(':').next())
            .unwrap()
            .to_owned();
        op.set(&format!("ecr/{tag}"), &format!("sha256:{id}"));
    }
    // The first image again reuses its own push.
    op.set(
        "image-id",
        "1111111111111111111111111111111111111111111111111111111111111111",
    );
    let again = op.run("push.sh", &["--allow-dirty", "sre-kata"], &env);
    assert!(
        stderr(&again).contains("not pushing it again"),
        "{}",
        stderr(&again)
    );
    assert!(String::from_utf8_lossy(&again.stdout)
        .trim()
        .ends_with("@sha256:1111111111111111111111111111111111111111111111111111111111111111"));
}

#[test]
fn push_names_the_content_and_never_hands_on_another_image() {
    let op = Operator::new();
    let head = op.commit_all();
    let podman = op.dir.path().join("bin/podman");
    let env = [
        ("AWS_ACCOUNT_ID", "123456789012"),
        ("CONTAINER_ENGINE", podman.to_str().unwrap()),
    ];
    // The bootstrap's image of this commit, built elsewhere, is in the
    // registry: the release's own build gets a tag of its own.
    op.set("image-id", &"2".repeat(64));
    op.set(
        &format!("ecr/{head}-222222222222"),
        &format!("sha256:{}", "2".repeat(64)),
    );
    op.set("image-id", &"1".repeat(64));
    let output = op.run("push.sh", &["sre-kata"], &env);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        op.log().contains("podman push --digestfile")
            && op.log().contains(&format!(":{head}-111111111111")),
        "{}",
        op.log()
    );

    // Under its tag, another image (the same 12 hex, another config): the
    // release must not sign and attest it as its own.
    let tag = format!("ecr/{head}-111111111111");
    op.set(
        &tag,
        &format!("sha256:{}11{}", "1".repeat(12), "9".repeat(50)),
    );
    op.clear_log();
    let output = op.run("push.sh", &["sre-kata"], &env);
    assert_one_line_error(&output, "as another image");
    assert!(String::from_utf8_lossy(&output.stdout).is_empty());

    // The same image (a rerun, or a reproducible rebuild) is reused.
    op.set(&tag, &format!("sha256:{}", "1".repeat(64)));
    let output = op.run("push.sh", &["sre-kata"], &env);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("the same image"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn apt_install_keeps_debian_frontend_through_sudo() {
    let op = Operator::new();
    let id = op.dir.path().join("bin/id");
    std::fs::write(&id, "#!/bin/bash\necho 1000\n").unwrap();
    assert!(Command::new("chmod")
        .arg("+x")
        .arg(&id)
        .status()
        .unwrap()
        .success());
    let script = format!(
        "source {}/scripts/lib.sh && apt_install musl-tools",
        op.repo().display()
    );
    let path = format!("{}:/usr/bin:/bin", op.dir.path().join("bin").display());
    let output = Command::new("/bin/bash")
        .args(["-c", &script])
        .env_clear()
        .env("PATH", path)
        .env("FAKE_DIR", op.fake())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        op.log()
            .contains("apt-get install -y -qq musl-tools DEBIAN_FRONTEND=noninteractive"),
        "{}",
        op.log()
    );
}

#[test]
fn in_github_actions_a_plan_that_changes_more_than_the_service_is_not_applied() {
    let op = Operator::new();
    let _service = with_service(&op);
    op.deployed("apprunner", A);
    op.set(
        "stacks/apprunner/plan.json",
        r#"{"resource_changes": [
            {"address": "module.service.aws_apprunner_service.this", "change": {"actions": ["update"]}},
            {"address": "module.alarms.aws_sns_topic_subscription.email[0]", "change": {"actions": ["create"]}},
            {"address": "module.waf.aws_wafv2_web_acl.this", "change": {"actions": ["no-op"]}}
        ]}"#,
    );
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "owner/repo"),
    ];
    let refused = op.deploy(&["apprunner", B], &env);
    assert_one_line_error(
        &refused,
        "the plan would module.alarms.aws_sns_topic_subscription.email[0] (create)",
    );
    assert!(!op.log().contains(" apply "), "{}", op.log());
    assert_eq!(op.last_good("apprunner").as_deref(), Some(A));

    // A replacement of the service (a setting that forces one) is more
    // than an update: refused too.
    op.set(
        "stacks/apprunner/plan.json",
        r#"{"resource_changes": [{"address": "module.service.aws_apprunner_service.this", "change": {"actions": ["delete", "create"]}}]}"#,
    );
    let replaced = op.deploy(&["apprunner", B], &env);
    assert_one_line_error(&replaced, "aws_apprunner_service.this (delete+create)");
    assert!(!op.log().contains(" apply "), "{}", op.log());

    // Only an update of the service: applied.
    op.set(
        "stacks/apprunner/plan.json",
        r#"{"resource_changes": [{"address": "module.service.aws_apprunner_service.this", "change": {"actions": ["update"]}}]}"#,
    );
    let applied = op.deploy(&["apprunner", B], &env);
    assert!(applied.status.success(), "{}", stderr(&applied));
    assert_eq!(op.last_good("apprunner").as_deref(), Some(B));
}

#[test]
fn a_failed_first_deploy_is_finished_with_first_never_with_a_guess() {
    // The first deploy applies, but Express Mode has no load balancer yet.
    let op = Operator::new();
    let _service = with_service(&op);
    op.set("vpc", "vpc-0123\n");
    op.set("subnets", "2\n");
    let first = op.deploy(&["ecs-express", A], &[]);
    assert_one_line_error(
        &first,
        &format!("scripts/deploy.sh --first ecs-express {A}"),
    );
    assert_eq!(op.last_good("ecs-express"), None);

    // Deploying as usual stops before the plan. Credentials that cannot
    // list the bucket get 403 for a missing record as for a refused one,
    // so they are told to look, not to skip the rollback target.
    op.clear_log();
    let again = op.deploy(&["ecs-express", A], &[]);
    assert_one_line_error(&again, "cannot be read (above)");
    assert!(!stderr(&again).contains("--first"), "{}", stderr(&again));
    assert!(planned_images(&op.log()).is_empty());
    // An administrator's, which can, are told the way out.
    op.set("can-list", "");
    let listed = op.deploy(&["ecs-express", A], &[]);
    assert_one_line_error(
        &listed,
        "scripts/deploy.sh --first ecs-express <image-digest>",
    );
    assert!(planned_images(&op.log()).is_empty());
    std::fs::remove_file(op.fake().join("can-list")).unwrap();

    // --first with the deploy role's view (403 for a missing record) cannot
    // tell missing from refused, so it stops.
    op.set("lb", &format!("{LB}\n"));
    let blind = op.deploy(&["--first", "ecs-express", A], &[]);
    assert_one_line_error(
        &blind,
        "--first needs the record to be missing, not unreadable",
    );
    assert!(planned_images(&op.log()).is_empty());

    // An administrator's --first: the load balancer exists now, one apply.
    op.set("can-list", "");
    op.clear_log();
    let finished = op.deploy(&["--first", "ecs-express", A], &[]);
    assert!(finished.status.success(), "{}", stderr(&finished));
    assert_eq!(planned_images(&op.log()), [A]);
    assert!(op.log().contains(&format!("load_balancer_arn={LB}")));
    assert_eq!(op.last_good("ecs-express").as_deref(), Some(A));

    // Once a good image exists, --first is refused.
    let late = op.deploy(&["--first", "ecs-express", B], &[]);
    assert_one_line_error(&late, "and ecs-express has one");
}

#[test]
fn a_first_deploy_that_fails_its_smoke_test_can_be_finished_with_another_image() {
    let op = Operator::new();
    let _service = with_service(&op);
    // A service that is up but answers wrongly (every /query is too long
    // for it): a first deploy waits out refused connections, not this.
    let broken = Service::start(&[("MAX_URL_BYTES", "12")]);
    op.set("dead-url", &format!("http://{}", broken.addr));
    op.append("bad-smoke", A);
    let first = op.deploy(&["apprunner", A], &[]);
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    assert_eq!(op.last_good("apprunner"), None);
    op.set("can-list", "");
    let fixed = op.deploy(&["--first", "apprunner", B], &[]);
    assert!(fixed.status.success(), "{}", stderr(&fixed));
    assert_eq!(op.last_good("apprunner").as_deref(), Some(B));
    assert!(stderr(&fixed).contains("without a rollback target"));
}

#[test]
fn an_image_aws_rolled_back_is_never_recorded_as_good() {
    let op = Operator::new();
    let _service = with_service(&op);
    op.deployed("apprunner", A);
    op.append("aws-rolls-back", B);
    // Apply "succeeds", the smoke test passes (against A), but AWS runs A.
    let output = op.deploy(&["apprunner", B], &[]);
    assert_one_line_error(&output, &format!("apprunner runs {A}, not {B}"));
    assert_eq!(op.last_good("apprunner").as_deref(), Some(A));
}

#[test]
fn a_recorded_image_is_tagged_so_that_ecr_keeps_it() {
    let op = Operator::new();
    let _service = with_service(&op);
    op.deployed("apprunner", A);
    let output = op.deploy(&["apprunner", B], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    // The image, and what proves it: its signature and its SBOM.
    let tags = std::fs::read_to_string(op.fake().join("ecr-tags")).unwrap();
    let hex = B.rsplit(':').next().unwrap();
    assert_eq!(
        tags.lines().collect::<Vec<_>>(),
        [
            format!("good-{hex}"),
            format!("good-{hex}.sig"),
            format!("good-{hex}.att")
        ]
    );
    assert!(op.log().contains(
        "aws ecr put-image --region eu-west-1 --repository-name sre-kata --image-tag good-"
    ));

    // A rollback records B again: the tag is there already, and that is fine.
    let again = op.deploy(&["apprunner", "last-good"], &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(op.last_good("apprunner").as_deref(), Some(B));
    // So it is after B was signed again (its .sig tag moved; the good one
    // keeps the manifest it has, which holds a signature too).
    op.set("tag-moved", "");
    let resigned = op.deploy(&["apprunner", "last-good"], &[]);
    assert!(resigned.status.success(), "{}", stderr(&resigned));
}

#[test]
fn a_lock_left_by_a_killed_run_is_named_with_the_command_that_clears_it() {
    let op = Operator::new();
    let _service = with_service(&op);
    op.deployed("apprunner", A);
    // A lock whose holder was killed outright: nothing releases it.
    op.set("stacks/apprunner/lock", "4242\n");
    let output = op.deploy(&["apprunner", "last-good"], &[]);
    let stderr = stderr(&output);
    assert!(!output.status.success(), "{stderr}");
    // In a fresh clone too: force-unlock needs the backend initialised.
    assert!(
        stderr.contains(
            "terraform -chdir=infra/stacks/apprunner init -input=false -reconfigure \
             -backend-config=bucket=state-bucket -backend-config=region=eu-west-1 && \
             terraform -chdir=infra/stacks/apprunner force-unlock -force 8d1f0c2e-5b7a-4c3d-9e21-0a6b4c2d9f10"
        ),
        "{stderr}"
    );
    assert!(op.log().contains("plan -lock-timeout=2m"), "{}", op.log());
    assert_eq!(op.last_good("apprunner").as_deref(), Some(A));
}

#[test]
fn github_setup_keeps_an_existing_production_environment_and_says_when_reviewers_are_refused() {
    let op = Operator::new();
    for (name, value) in [
        ("registry/outputs/repository_name", "sre-kata"),
        ("registry/outputs/push_role_arn", "arn:aws:iam::1:role/p"),
        ("registry/outputs/destroy_role_arn", "arn:aws:iam::1:role/d"),
        ("apprunner/outputs/deploy_role_arn", "arn:aws:iam::1:role/a"),
    ] {
        op.set(&format!("stacks/{name}"), value);
    }
    // Reviewers refused: it stops before production and the variables.
    op.set("no-reviewers", "");
    let refused = op.run(
        "github-setup.sh",
        &["--reviewer", "alice", "apprunner"],
        &[],
    );
    assert_one_line_error(
        &refused,
        "GitHub refused required reviewers for the destroy environment",
    );
    assert!(
        !op.log().contains("environments/production"),
        "{}",
        op.log()
    );
    assert!(!op.log().contains("gh variable set"), "{}", op.log());

    // production exists (with reviewers an administrator added): not replaced.
    let _ = std::fs::remove_file(op.fake().join("no-reviewers"));
    op.set("env-production", "");
    op.clear_log();
    let output = op.run(
        "github-setup.sh",
        &["--reviewer", "alice", "apprunner"],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let log = op.log();
    assert!(
        !log.contains("--method PUT repos/owner/repo/environments/production"),
        "{log}"
    );
    assert!(
        log.contains("--method PUT repos/owner/repo/environments/destroy"),
        "{log}"
    );
    assert!(
        log.contains(
            "--method POST repos/owner/repo/environments/production/deployment-branch-policies"
        ),
        "{log}"
    );
}

/// An image by digest that nobody signed.
const UNSIGNED: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sre-kata@sha256:\
    dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";

#[test]
fn an_image_without_the_release_workflows_signature_is_refused_before_anything_runs() {
    let op = Operator::new();
    let issuer = "https://token.actions.githubusercontent.com";
    // Signed by another repository, and by this one's workflow on a branch.
    let foreign = A.replace("aaaa", "eeee");
    let branch = A.replace("aaaa", "ffff");
    op.append(
        "signatures",
        &format!("{foreign} https://github.com/other/repo/.github/workflows/release.yml@refs/heads/main {issuer}"),
    );
    op.append(
        "signatures",
        &format!("{branch} https://github.com/owner/repo/.github/workflows/release.yml@refs/heads/try {issuer}"),
    );
    for (image, cosign_says) in [
        (UNSIGNED, "no signatures found"),
        (foreign.as_str(), "none of the expected identities matched"),
        (branch.as_str(), "none of the expected identities matched"),
    ] {
        op.clear_log();
        let output = op.deploy(&["ecs-express", image], &[]);
        assert_one_line_error(
            &output,
            "no valid signature from owner/repo's release workflow on main",
        );
        let error = stderr(&output);
        assert!(error.contains(cosign_says), "{error}");
        // The way out is a signed image, never skipping the check.
        assert!(!error.contains("--allow-unsigned"), "{error}");
        let log = op.log();
        assert!(
            !log.contains("terraform "),
            "nothing runs before the check: {log}"
        );
        assert!(
            log.contains(&format!(
                "cosign verify --certificate-identity https://github.com/owner/repo/.github/workflows/release.yml@refs/heads/main --certificate-oidc-issuer {issuer} {image}"
            )),
            "{log}"
        );
    }
}

#[test]
fn a_rollback_checks_the_last_good_images_signature_too() {
    let op = Operator::new();
    op.deployed("apprunner", UNSIGNED);
    let output = op.deploy(&["apprunner", "last-good"], &[]);
    assert_one_line_error(&output, "no valid signature");
    assert!(planned_images(&op.log()).is_empty(), "{}", op.log());
}

#[test]
fn allow_unsigned_deploys_loudly_by_hand_and_never_in_a_workflow() {
    let op = Operator::new();
    let _service = with_service(&op);
    let refused = op.deploy(
        &["--allow-unsigned", "apprunner", UNSIGNED],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_one_line_error(&refused, "never for a workflow");

    op.clear_log();
    let output = op.deploy(&["--allow-unsigned", "apprunner", UNSIGNED], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("WARNING: --allow-unsigned: deploying"),
        "{}",
        stderr(&output)
    );
    assert!(!op.log().contains("cosign verify"), "{}", op.log());
    assert_eq!(planned_images(&op.log()), [UNSIGNED]);
    // Never the rollback target: a rollback would refuse it.
    assert!(
        stderr(&output).contains("never recorded as good"),
        "{}",
        stderr(&output)
    );
    assert_eq!(op.last_good("apprunner"), None);
    assert!(!op.log().contains("ecr put-image"), "{}", op.log());

    // So the stack has no rollback target: the next deploy is a first
    // one again, of a signed image. Over it, an unsigned one leaves the
    // target alone.
    let plain = op.deploy(&["apprunner", A], &[]);
    assert_eq!(plain.status.code(), Some(2), "{}", stderr(&plain));
    op.set("can-list", "");
    let signed = op.deploy(&["--first", "apprunner", A], &[]);
    assert!(signed.status.success(), "{}", stderr(&signed));
    assert_eq!(op.last_good("apprunner").as_deref(), Some(A));
    let unsigned = op.deploy(&["--allow-unsigned", "apprunner", UNSIGNED], &[]);
    assert!(unsigned.status.success(), "{}", stderr(&unsigned));
    assert_eq!(op.last_good("apprunner").as_deref(), Some(A));
}

#[test]
fn sign_signs_and_attests_the_digest_once() {
    let op = Operator::new();
    let sbom = op.dir.path().join("sre-kata.cdx.json");
    std::fs::write(&sbom, "{}").unwrap();
    let sbom = sbom.to_str().unwrap();
    let env = [
        ("GITHUB_REPOSITORY", "owner/repo"),
        ("SIGNER", RELEASE_SIGNER),
    ];
    let tagged = A.replace("@sha256:", ":").replace('a', "b");
    assert_one_line_error(&op.run("sign.sh", &[&tagged, sbom], &env), "never a tag");
    assert_one_line_error(
        &op.run("sign.sh", &[UNSIGNED, sbom], &[]),
        "GITHUB_REPOSITORY",
    );

    for _ in 0..2 {
        let output = op.run("sign.sh", &[UNSIGNED, sbom], &env);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let log = op.log();
    let signs: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("cosign sign "))
        .collect();
    assert_eq!(signs, [format!("cosign sign --yes {UNSIGNED}")], "{log}");
    let attests: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("cosign attest "))
        .collect();
    assert_eq!(
        attests,
        [format!(
            "cosign attest --yes --type cyclonedx --predicate {sbom} {UNSIGNED}"
        )],
        "{log}"
    );
    assert!(log.contains("cosign login 123456789012.dkr.ecr.eu-west-1.amazonaws.com --username AWS --password-stdin"), "{log}");

    // What it signed now deploys.
    let _service = with_service(&op);
    let deployed = op.deploy(&["apprunner", UNSIGNED], &[]);
    assert!(deployed.status.success(), "{}", stderr(&deployed));
}

/// Writes an OCI archive as `podman save --format oci-archive` lays it
/// out: `index.json` naming `manifest`, which names `config` (and a layer
/// the archive need not hold for its id to be read).
fn write_oci_archive(archive: &std::path::Path, manifest: &str, config: &str) {
    let work = tempfile::tempdir().unwrap();
    let blobs = work.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let blob = |bytes: &str| {
        let digest = sha256_hex(bytes.as_bytes());
        std::fs::write(blobs.join(&digest), bytes).unwrap();
        digest
    };
    blob(config);
    let manifest = blob(manifest);
    std::fs::write(
        work.path().join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{manifest}","size":1}}]}}"#
        ),
    )
    .unwrap();
    std::fs::write(
        work.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let tar = Command::new("tar")
        .arg("-cf")
        .arg(archive)
        .arg("-C")
        .arg(work.path())
        .args(["oci-layout", "index.json", "blobs"])
        .status()
        .unwrap();
    assert!(tar.success());
}

/// The hex sha256 of `bytes`, as sha256sum prints it.
fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8(output.stdout).unwrap()[..64].to_owned()
}

#[test]
fn push_loads_the_archive_the_build_job_made() {
    // release.yml builds in one job and pushes in another: push.sh loads
    // build.sh's OCI archive and names it as this commit's image.
    let op = Operator::new();
    let head = op.commit_all();
    let config = r#"{"architecture":"amd64","os":"linux"}"#;
    let id = sha256_hex(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{id}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{}","size":1}}]}}"#,
        config.len(),
        "2".repeat(64)
    );
    let archive = op.dir.path().join("sre-kata.image.tar");
    write_oci_archive(&archive, &manifest, config);
    op.set("image-id", &id);
    let podman = op.dir.path().join("bin/podman");
    let env = [
        ("AWS_ACCOUNT_ID", "123456789012"),
        ("CONTAINER_ENGINE", podman.to_str().unwrap()),
    ];
    let output = op.run(
        "push.sh",
        &["--archive", archive.to_str().unwrap(), "sre-kata"],
        &env,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let log = op.log();
    assert!(
        log.contains(&format!(
            "podman load --quiet --input {}",
            archive.display()
        )),
        "{log}"
    );
    // The id is the config's digest, not the manifest's or the layer's.
    assert!(
        log.contains(&format!("podman tag {id} sre-kata:{head}")),
        "{log}"
    );

    let missing = op.run("push.sh", &["--archive", "/nowhere.tar", "sre-kata"], &env);
    assert_one_line_error(&missing, "no image archive at /nowhere.tar");
}

#[test]
fn push_refuses_an_archive_that_is_not_one_image() {
    let op = Operator::new();
    op.commit_all();
    let podman = op.dir.path().join("bin/podman");
    let env = [
        ("AWS_ACCOUNT_ID", "123456789012"),
        ("CONTAINER_ENGINE", podman.to_str().unwrap()),
    ];
    let archive = op.dir.path().join("sre-kata.image.tar");
    let push = || {
        op.run(
            "push.sh",
            &["--archive", archive.to_str().unwrap(), "sre-kata"],
            &env,
        )
    };
    let config = r#"{"os":"linux"}"#;
    let id = sha256_hex(config.as_bytes());

    // An index (a multi-platform image) names manifests, not a config.
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"digest":"sha256:{id}","size":1}}]}}"#
    );
    write_oci_archive(&archive, &index, config);
    assert_one_line_error(&push(), "its manifest names no config");

    // A config whose bytes are not its digest: the id would not pin them.
    let manifest = format!(
        r#"{{"config":{{"digest":"sha256:{}","size":1}}}}"#,
        "3".repeat(64)
    );
    write_oci_archive(&archive, &manifest, config);
    assert_one_line_error(&push(), "its config is missing or not sha256:3333");

    // The docker-archive of earlier builds has no index.json.
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("manifest.json"), "[]").unwrap();
    let tar = Command::new("tar")
        .arg("-cf")
        .arg(&archive)
        .arg("-C")
        .arg(work.path())
        .arg("manifest.json")
        .status()
        .unwrap();
    assert!(tar.success());
    assert_one_line_error(&push(), "not the OCI archive of one image");
    assert!(!op.log().contains("podman load"), "{}", op.log());
}

/// How a step ended, as `steps.<id>.outcome` says it.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Outcome {
    Success,
    Failure,
    Cancelled,
}

/// GitHub's runner, as far as these workflows need it (actions/runner):
/// - a `run:` step is a file run as `bash --noprofile --norc -e -o
///   pipefail FILE` (ScriptHandlerHelpers.cs), in the checkout, with the
///   job's and the step's env, GITHUB_ACTIONS and GITHUB_OUTPUT;
/// - a step is stopped (a timeout, a cancel) by SIGINT to that shell only,
///   SIGTERM 7.5 s later, SIGKILL 2.5 s after that (ProcessInvoker.cs);
/// - processes a job leaves behind are killed when it ends, found by the
///   RUNNER_TRACKING_ID in their environment.
struct Runner<'a> {
    op: &'a Operator,
    workflow: Value,
    tracking_id: String,
    outputs: std::collections::HashMap<String, String>,
}

use serde_yaml::Value;

impl<'a> Runner<'a> {
    fn new(op: &'a Operator, workflow: &str) -> Runner<'a> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".github/workflows")
            .join(workflow);
        let workflow = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let tracking_id = format!("test-{}-{}", std::process::id(), op.dir.path().display());
        Runner {
            op,
            workflow,
            tracking_id,
            outputs: Default::default(),
        }
    }

    /// The step of `job` whose id or name is `step`.
    fn step(&self, job: &str, step: &str) -> &Value {
        self.workflow["jobs"][job]["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|s| s["id"] == step || s["name"] == step)
            .unwrap_or_else(|| panic!("no step {step} in {job}"))
    }

    /// Starts a step's `run`, with `values` for the env its job and step
    /// name (each must be given: an env the workflow adds is noticed).
    fn start(&self, job: &str, step: &str, values: &[(&str, &str)]) -> std::process::Child {
        let run = self.step(job, step)["run"].as_str().unwrap().to_owned();
        let script = self
            .op
            .dir
            .path()
            .join(format!("step-{}.sh", step.replace(' ', "-")));
        std::fs::write(&script, run).unwrap();
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-e", "-o", "pipefail"])
            .arg(&script)
            .current_dir(self.op.repo())
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.op.dir.path().join("bin").display()),
            )
            .env("HOME", self.op.dir.path())
            .env("FAKE_DIR", self.op.fake())
            .env("FAKE_LOCK_WAIT", "30")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", "owner/repo")
            .env("GITHUB_OUTPUT", self.op.dir.path().join("github-output"))
            .env("RUNNER_TRACKING_ID", &self.tracking_id)
            .stdout(std::process::Stdio::null())
            // A file, not a pipe: a process the step leaves behind would
            // hold a pipe open past the step's end.
            .stderr(std::fs::File::create(self.stderr_path()).unwrap());
        let given: std::collections::HashMap<&str, &str> = values.iter().copied().collect();
        for env in [
            &self.workflow["jobs"][job]["env"],
            &self.step(job, step)["env"],
        ] {
            for (key, expression) in env.as_mapping().into_iter().flatten() {
                let key = key.as_str().unwrap();
                // An earlier step's output, as the workflow names it.
                let output = expression
                    .as_str()
                    .and_then(|e| e.strip_prefix("${{ steps."))
                    .and_then(|e| e.split_once(".outputs."))
                    .and_then(|(_, name)| name.strip_suffix(" }}"))
                    .and_then(|name| self.outputs.get(name));
                let value = output
                    .map(String::as_str)
                    .or_else(|| given.get(key).copied())
                    .unwrap_or_else(|| panic!("{job}/{step} needs {key}"));
                command.env(key, value);
            }
        }
        // The runner starts a step with the signals at their defaults, as
        // any new process. This test may run where SIGINT is ignored (a
        // background job of a script), which a child would inherit, and
        // bash cannot trap a signal ignored on entry.
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec, only async-signal-safe signal(2).
        unsafe {
            command.pre_exec(|| {
                for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGPIPE] {
                    libc::signal(signal, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        command.spawn().unwrap()
    }

    fn stderr_path(&self) -> PathBuf {
        self.op.dir.path().join("step-stderr")
    }

    /// Runs a step to its end.
    fn run(&mut self, job: &str, step: &str, values: &[(&str, &str)]) -> Outcome {
        let _ = std::fs::remove_file(self.op.dir.path().join("github-output"));
        let status = self.start(job, step, values).wait().unwrap();
        self.outcome(status)
    }

    /// Runs a step until `ready` holds, then stops it as the runner stops
    /// a step that timed out or was cancelled.
    fn cancel_when(
        &mut self,
        job: &str,
        step: &str,
        values: &[(&str, &str)],
        ready: impl Fn() -> bool,
    ) -> Outcome {
        use std::time::{Duration, Instant};
        let mut child = self.start(job, step, values);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready() {
            assert!(child.try_wait().unwrap().is_none(), "{step} ended early");
            assert!(Instant::now() < deadline, "{step} never got there");
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid = child.id() as i32;
        for (signal, grace) in [
            (libc::SIGINT, Duration::from_millis(7500)),
            (libc::SIGTERM, Duration::from_millis(2500)),
            (libc::SIGKILL, Duration::from_secs(5)),
        ] {
            // SAFETY: a signal to our own child, which has not been reaped.
            unsafe { libc::kill(pid, signal) };
            let until = Instant::now() + grace;
            while child.try_wait().unwrap().is_none() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
        }
        child.wait().unwrap();
        let stderr = std::fs::read_to_string(self.stderr_path()).unwrap_or_default();
        eprintln!("{step} (cancelled): {stderr}");
        Outcome::Cancelled
    }

    /// Runs a step until `ready` holds, sends its shell SIGINT alone,
    /// then lets `release` run, and waits for the step's end.
    fn interrupt_when(
        &mut self,
        job: &str,
        step: &str,
        values: &[(&str, &str)],
        ready: impl Fn() -> bool,
        release: impl Fn(),
    ) -> std::process::ExitStatus {
        use std::time::{Duration, Instant};
        let mut child = self.start(job, step, values);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready() {
            assert!(child.try_wait().unwrap().is_none(), "{step} ended early");
            assert!(Instant::now() < deadline, "{step} never got there");
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: a signal to our own child, which has not been reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        release();
        let status = child.wait().unwrap();
        eprintln!(
            "{step}: {status}: {}",
            std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
        );
        status
    }

    fn outcome(&mut self, status: std::process::ExitStatus) -> Outcome {
        let stderr = std::fs::read_to_string(self.stderr_path()).unwrap_or_default();
        eprintln!("step: {status}: {stderr}");
        if let Ok(text) = std::fs::read_to_string(self.op.dir.path().join("github-output")) {
            for line in text.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    self.outputs.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        if status.success() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }

    /// The job ends: whatever it left running is killed.
    fn end_job(&self) {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
            let marker = format!("RUNNER_TRACKING_ID={}", self.tracking_id);
            if environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
                // SAFETY: a process this job started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

impl Drop for Runner<'_> {
    fn drop(&mut self) {
        self.end_job();
    }
}

/// The release workflow's deploy job, as the runner runs it: the deploy
/// step, then the rollback step if the deploy failed or was cancelled.
fn release(runner: &mut Runner, image: &str, hang: bool) -> (Outcome, Option<Outcome>) {
    let values = [
        ("TARGET", "ecs-express"),
        ("TF_STATE_BUCKET", "state-bucket"),
        ("AWS_REGION", "eu-west-1"),
        ("IMAGE", image),
    ];
    let fake = runner.op.fake();
    let deploy = if hang {
        runner.cancel_when("deploy", "deploy", &values, || {
            fake.join("applying").exists()
        })
    } else {
        runner.run("deploy", "deploy", &values)
    };
    let rollback = (deploy != Outcome::Success)
        .then(|| runner.run("deploy", "Roll back to the last good image", &values));
    runner.end_job();
    (deploy, rollback)
}

impl Operator {
    /// What the stand-in AWS runs for a stack.
    fn running(&self, target: &str) -> String {
        std::fs::read_to_string(self.fake().join(format!("stacks/{target}/running")))
            .unwrap_or_default()
    }

    fn locked(&self, target: &str) -> bool {
        self.fake().join(format!("stacks/{target}/lock")).exists()
    }
}

#[test]
fn every_release_rollback_and_teardown_ends_on_the_last_good_image_with_the_lock_free() {
    let op = Operator::new();
    let _service = with_service(&op);
    op.set("vpc", "vpc-0123\n");
    op.set("subnets", "3\n");
    op.set("lb", &format!("{LB}\n"));
    // An administrator's credentials, which may list the state bucket.
    op.set("can-list", "");
    let settled = |image: &str, why: &str| {
        assert_eq!(op.running("ecs-express"), image, "{why}: {}", op.log());
        assert_eq!(op.last_good("ecs-express").as_deref(), Some(image), "{why}");
        assert!(!op.locked("ecs-express"), "{why}: the lock is still held");
    };

    // The first deploy, by an administrator, of a release the workflow
    // signed: no unsigned image anywhere on the release path.
    let first = op.deploy(&["ecs-express", A], &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    settled(A, "the first deploy");

    // A release that passes.
    let mut runner = Runner::new(&op, "release.yml");
    assert_eq!(release(&mut runner, B, false), (Outcome::Success, None));
    settled(B, "a good release");

    // A release that fails its smoke test rolls back.
    op.append("bad-smoke", C);
    assert_eq!(
        release(&mut runner, C, false),
        (Outcome::Failure, Some(Outcome::Success))
    );
    settled(B, "a failed release");

    // A release whose apply hangs until the step times out: the runner
    // signals the step's shell alone; the signal must reach terraform,
    // which releases the lock, so that the rollback can take it.
    let d = A.replace("aaaa", "dddd");
    op.append("signatures", &format!("{d} {RELEASE_SIGNER}"));
    op.append("hang-apply", &d);
    assert_eq!(
        release(&mut runner, &d, true),
        (Outcome::Cancelled, Some(Outcome::Success))
    );
    assert!(op.log().contains("interrupted apply"), "{}", op.log());
    settled(B, "a timed-out release");

    // A rollback by hand to a given image that fails its smoke test.
    let mut rollback = Runner::new(&op, "rollback.yml");
    let target = rollback.run(
        "rollback",
        "target",
        &[
            ("TARGET_INPUT", "default"),
            ("DEPLOY_TARGET", "ecs-express"),
            (
                "AWS_DEPLOY_ROLE_ARN_ECS_EXPRESS",
                "arn:aws:iam::123456789012:role/deploy",
            ),
            ("AWS_DEPLOY_ROLE_ARN_APPRUNNER", ""),
            ("AWS_DEPLOY_ROLE_ARN", ""),
            ("TF_STATE_BUCKET", "state-bucket"),
            ("AWS_REGION", "eu-west-1"),
            ("IMAGE", C),
        ],
    );
    assert_eq!(target, Outcome::Success);
    assert_eq!(rollback.outputs["target"], "ecs-express");
    let values = [
        ("TF_STATE_BUCKET", "state-bucket"),
        ("AWS_REGION", "eu-west-1"),
        ("IMAGE", C),
    ];
    let given = rollback.run("rollback", "deploy", &values);
    assert_eq!(given, Outcome::Failure);
    let restore = rollback.run(
        "rollback",
        "Back to the last good image, if the given one failed",
        &values,
    );
    assert_eq!(restore, Outcome::Success);
    rollback.end_job();
    settled(B, "a rollback to a bad digest");

    // Teardown, by the destroy workflow, whose role may not list the
    // bucket: the record is retired with its stack, and nothing is left
    // locked.
    std::fs::remove_file(op.fake().join("can-list")).unwrap();
    let mut destroy = Runner::new(&op, "destroy.yml");
    let destroyed = destroy.run(
        "destroy",
        "Destroy the stack",
        &[
            ("TARGET", "ecs-express"),
            ("CONFIRM", "ecs-express"),
            ("TF_STATE_BUCKET", "state-bucket"),
            ("AWS_REGION", "eu-west-1"),
        ],
    );
    assert_eq!(destroyed, Outcome::Success);
    assert!(!op.locked("ecs-express"));
    assert_eq!(op.last_good("ecs-express"), None);

    // A release now cannot create the stack, and says so.
    op.clear_log();
    assert_eq!(release(&mut runner, B, false).0, Outcome::Failure);
    assert!(planned_images(&op.log()).is_empty(), "{}", op.log());

    // The way back: the last good image the stack had, by an administrator.
    op.set("can-list", "");
    let back = op.deploy(&["ecs-express", "last-good"], &[]);
    assert!(back.status.success(), "{}", stderr(&back));
    settled(B, "a redeploy after the teardown");
}

#[test]
fn the_state_bucket_is_derived_from_the_account_and_region() {
    // One export per shell, not two: the bucket bootstrap.sh made is
    // <name>-tfstate-<account>-<region>.
    let op = Operator::new();
    op.set(
        "s3/sre-kata-tfstate-123456789012-eu-west-1/apprunner/last-good-image",
        &format!("{A}\n"),
    );
    let got = op.run_deriving_the_bucket("last-good.sh", &["get", "apprunner"]);
    assert!(got.status.success(), "{}", stderr(&got));
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), A);
    assert!(
        op.log().contains("aws sts get-caller-identity"),
        "{}",
        op.log()
    );

    let deploy = op.run_deriving_the_bucket("deploy.sh", &["apprunner", "last-good"]);
    assert!(
        op.log()
            .contains("-backend-config=bucket=sre-kata-tfstate-123456789012-eu-west-1"),
        "{}{}",
        stderr(&deploy),
        op.log()
    );

    // Signed out: the one line names the variable that would do instead.
    op.set("../bin/aws", "#!/bin/bash\nexit 255\n");
    let signed_out = op.run_deriving_the_bucket("deploy.sh", &["apprunner", "last-good"]);
    assert_one_line_error(&signed_out, "TF_STATE_BUCKET is not set");
}

#[test]
fn a_record_that_outlived_its_stack_never_decides_a_new_stacks_rollback() {
    // A stack torn down by hand leaves its record; the new stack's first
    // deploy stops halfway (no load balancer yet).
    let op = Operator::new();
    let _service = with_service(&op);
    op.set("can-list", "");
    op.set("vpc", "vpc-0123\n");
    op.set("subnets", "2\n");
    op.set(
        "s3/state-bucket/ecs-express/last-good-image",
        &format!("{A}\n"),
    );
    let halfway = op.deploy(&["ecs-express", B], &[]);
    assert_eq!(halfway.status.code(), Some(2), "{}", stderr(&halfway));
    assert!(
        stderr(&halfway).contains("retired the last good image of ecs-express"),
        "{}",
        stderr(&halfway)
    );
    assert_eq!(op.last_good("ecs-express"), None);
    let retired = std::fs::read_to_string(
        op.fake()
            .join("s3/state-bucket/ecs-express/last-good-image.retired"),
    )
    .unwrap();
    assert_eq!(retired.trim(), A);

    // So the next deploy is finished as a first deploy, never rolled back
    // to the old stack's image.
    let next = op.deploy(&["ecs-express", B], &[]);
    assert_one_line_error(
        &next,
        "scripts/deploy.sh --first ecs-express <image-digest>",
    );
    assert!(!stderr(&next).contains(A), "{}", stderr(&next));
}

#[test]
fn a_first_deploy_that_stops_halfway_names_the_retry_with_the_same_options() {
    let op = Operator::new();
    let _service = with_service(&op);
    op.set("vpc", "vpc-0123\n");
    op.set("subnets", "2\n");
    let unsigned = A.replace("aaaa", "9999");
    let output = op.deploy(&["--allow-unsigned", "ecs-express", &unsigned], &[]);
    assert_one_line_error(
        &output,
        &format!("scripts/deploy.sh --first --allow-unsigned ecs-express {unsigned}"),
    );
}

#[test]
fn push_in_a_fresh_clone_reads_the_repository_name_from_the_registrys_state() {
    let op = Operator::new();
    op.commit_all();
    op.set("stacks/registry/outputs/repository_name", "sre-kata");
    op.set("image-id", &"3".repeat(64));
    let podman = op.dir.path().join("bin/podman");
    let output = op.run(
        "push.sh",
        &[],
        &[
            ("AWS_ACCOUNT_ID", "123456789012"),
            ("CONTAINER_ENGINE", podman.to_str().unwrap()),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let log = op.log();
    let init = log
        .find("stacks/registry init -input=false -reconfigure -backend-config=bucket=state-bucket")
        .expect("init first: a fresh clone has no backend");
    let read = log.find("output -raw repository_name").unwrap();
    assert!(init < read, "{log}");

    // A state that cannot be read is not "apply that stack first".
    let op = Operator::new();
    op.commit_all();
    op.set("../bin/terraform", "#!/bin/bash\nexit 1\n");
    let output = op.run("push.sh", &[], &[("AWS_ACCOUNT_ID", "123456789012")]);
    assert_one_line_error(
        &output,
        "registry stack's state in s3://state-bucket cannot be read",
    );
}

#[test]
fn a_step_stopped_before_terraform_starts_starts_no_terraform() {
    // SIGINT while the step waits on another command (here cosign): bash
    // runs its trap only once that command ends, and then nothing new may
    // start, least of all an apply.
    let op = Operator::new();
    let _service = with_service(&op);
    op.deployed("ecs-express", A);
    op.set("lb", &format!("{LB}\n"));
    op.set("stacks/ecs-express/outputs/waf_load_balancer_arn", LB);
    op.set("slow-verify", "");
    let mut runner = Runner::new(&op, "release.yml");
    let fake = op.fake();
    let status = runner.interrupt_when(
        "deploy",
        "deploy",
        &[
            ("TARGET", "ecs-express"),
            ("TF_STATE_BUCKET", "state-bucket"),
            ("AWS_REGION", "eu-west-1"),
            ("IMAGE", B),
        ],
        || fake.join("verifying").exists(),
        || op.set("release-verify", ""),
    );
    runner.end_job();
    assert_eq!(status.code(), Some(130), "exits as stopped by SIGINT");
    assert!(planned_images(&op.log()).is_empty(), "{}", op.log());
    assert!(!op.log().contains(" apply "), "{}", op.log());
    assert_eq!(op.last_good("ecs-express").as_deref(), Some(A));
}

#[test]
fn a_destroy_of_a_stack_that_never_had_a_good_image_succeeds() {
    // The destroy role may read exactly the record's key, and S3 answers it
    // 403 for a record that is not there (a first deploy that failed, or
    // one --allow-unsigned made).
    let op = Operator::new();
    op.set("stacks/ecs-express/resources", "module.service.x\n");
    op.set("stacks/ecs-express/outputs/image", A);
    let summary = op.dir.path().join("summary");
    let output = op.run(
        "destroy.sh",
        &["ecs-express", "--confirm", "ecs-express"],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no last good image to retire"),
        "{}",
        stderr(&output)
    );
    // The deploy role's variable outlives the stack: the summary says so.
    let summary = std::fs::read_to_string(summary).unwrap();
    assert!(
        summary.contains("run scripts/github-setup.sh again"),
        "{summary}"
    );
}

/// The stack's SLOs as `terraform output -json slos` gives them.
const SLOS: &str = r#"{
  "availability": {"objective_percent": 99.9, "window_days": 30, "region": "eu-west-1",
    "queries": {"metrics": {"requests": {"namespace": "AWS/ApplicationELB", "metric_name": "RequestCount",
      "dimensions": {"LoadBalancer": "app/x/1", "TargetGroup": "targetgroup/x/2"}, "stat": "Sum"}},
      "bad": "FILL(target5, 0)", "valid": "FILL(requests, 0)", "ratio": "bad / valid"}},
  "latency": {"objective_percent": 99, "window_days": 30, "region": "eu-west-1",
    "queries": {"metrics": {"answered": {"namespace": "AWS/ApplicationELB", "metric_name": "TargetResponseTime",
      "dimensions": {}, "stat": "SampleCount"}},
      "bad": "FILL(answered, 0) - FILL(fast, 0)", "valid": "FILL(answered, 0)", "ratio": "bad / valid"}},
  "probe": {"objective_percent": 99.9, "window_days": 30, "region": "us-east-1",
    "queries": {"metrics": {"healthy": {"namespace": "AWS/Route53", "metric_name": "HealthCheckPercentageHealthy",
      "dimensions": {"HealthCheckId": "abc"}, "stat": "Average"}},
      "bad": "100 - healthy", "valid": "samples", "ratio": "bad / valid"}}
}"#;

/// GetMetricData's answer: the sums of bad and valid, in two datapoints.
fn metric_data(bad: [f64; 2], valid: [f64; 2]) -> String {
    format!(
        r#"{{"MetricDataResults": [{{"Id": "bad", "Values": [{}, {}], "StatusCode": "Complete"}}, {{"Id": "valid", "Values": [{}, {}], "StatusCode": "Complete"}}], "Messages": []}}"#,
        bad[0], bad[1], valid[0], valid[1]
    )
}

/// A stack whose availability budget is 80 % left, latency's spent twice
/// over, and the probe's untouched.
fn with_budgets(op: &Operator) {
    op.set("stacks/ecs-express/outputs/slos", SLOS);
    op.set(
        "metric-data-requests",
        &metric_data([1.0, 1.0], [6000.0, 4000.0]),
    );
    op.set(
        "metric-data-answered",
        &metric_data([100.0, 100.0], [5000.0, 5000.0]),
    );
    op.set("metric-data-healthy", &metric_data([0.0, 0.0], [0.0, 0.0]));
}

#[test]
fn the_error_budgets_are_shown_and_a_spent_one_stops_an_enforced_release() {
    let op = Operator::new();
    with_budgets(&op);
    let summary = op.dir.path().join("summary.md");
    let summary_env = [("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())];

    let report = op.run(
        "error-budget.sh",
        &["--policy", "", "--override", "", "ecs-express"],
        &summary_env,
    );
    let out = String::from_utf8_lossy(&report.stdout).into_owned();
    assert!(report.status.success(), "{}{}", out, stderr(&report));
    assert!(
        out.contains("| availability | 99.9 % | 30 days | 2 | 10000 | 80.0 % |"),
        "{out}"
    );
    assert!(
        out.contains("| latency | 99 % | 30 days | 200 | 10000 | -100.0 % |"),
        "{out}"
    );
    // No valid events: nothing was spent.
    assert!(
        out.contains("| probe | 99.9 % | 30 days | 0 | 0 | 100.0 % |"),
        "{out}"
    );
    assert!(out.contains("Spent: latency. Not enforced"), "{out}");
    assert!(
        stderr(&report).contains("probe SLO counted no valid events in 30 days"),
        "{}",
        stderr(&report)
    );
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), out);
    // Each SLO over its whole window, in its own region, with the
    // expressions the alarms use.
    let log = op.log();
    assert!(log.contains("--region us-east-1"), "{log}");
    assert_eq!(log.matches("\"Period\":2592000").count(), 3, "{log}");
    assert!(log.contains("{\"Id\":\"bad\",\"Expression\":\"FILL(answered, 0) - FILL(fast, 0)\",\"ReturnData\":true}"), "{log}");

    let enforced = op.run(
        "error-budget.sh",
        &["--policy", "enforce", "--override", "", "ecs-express"],
        &[],
    );
    assert_eq!(enforced.status.code(), Some(1), "{}", stderr(&enforced));
    assert!(String::from_utf8_lossy(&enforced.stdout).contains("stops releases but the fix"));

    let overridden = op.run(
        "error-budget.sh",
        &[
            "--policy",
            "enforce",
            "--override",
            "the fix for the latency regression",
            "ecs-express",
        ],
        &[],
    );
    assert!(overridden.status.success(), "{}", stderr(&overridden));
    assert!(String::from_utf8_lossy(&overridden.stdout)
        .contains("Deploying anyway, overridden: the fix for the latency regression"));
}

#[test]
fn budgets_left_everywhere_pass_an_enforced_release() {
    let op = Operator::new();
    with_budgets(&op);
    op.set(
        "metric-data-answered",
        &metric_data([10.0, 0.0], [5000.0, 5000.0]),
    );
    let run = op.run(
        "error-budget.sh",
        &["--policy", "enforce", "ecs-express"],
        &[],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("Every budget has some left."));
}

#[test]
fn a_stack_without_slos_has_no_budget_to_check() {
    let op = Operator::new();
    let run = op.run(
        "error-budget.sh",
        &["--policy", "enforce", "apprunner"],
        &[],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("No SLOs in the apprunner state yet"));
}

#[test]
fn budgets_that_cannot_be_read_stop_the_release_even_unenforced() {
    let op = Operator::new();
    with_budgets(&op);
    std::fs::remove_file(op.fake().join("metric-data-healthy")).unwrap();
    let run = op.run("error-budget.sh", &["ecs-express"], &[]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("cannot read the probe SLO's metrics"),
        "{}",
        stderr(&run)
    );
}

#[test]
fn partial_metrics_are_no_budget_and_no_pass() {
    let op = Operator::new();
    with_budgets(&op);
    let partial = metric_data([1.0, 1.0], [6000.0, 4000.0]).replacen("Complete", "PartialData", 1);
    op.set("metric-data-requests", &partial);
    let run = op.run("error-budget.sh", &["ecs-express"], &[]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("availability SLO's metrics came back incomplete"),
        "{}",
        stderr(&run)
    );
    // An error message with complete status codes is no answer either.
    let message = metric_data([1.0, 1.0], [6000.0, 4000.0]).replace(
        r#""Messages": []"#,
        r#""Messages": [{"Code": "InternalError", "Value": "expression"}]"#,
    );
    op.set("metric-data-requests", &message);
    let run = op.run("error-budget.sh", &["ecs-express"], &[]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
}

#[test]
fn a_state_that_cannot_be_read_is_no_budget_and_no_pass() {
    let op = Operator::new();
    with_budgets(&op);
    op.set("fail-state", "");
    let run = op.run("error-budget.sh", &["ecs-express"], &[]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("cannot read the SLOs from the ecs-express state"),
        "{}",
        stderr(&run)
    );
}

#[test]
fn error_budget_refuses_an_unknown_policy_in_one_line() {
    let op = Operator::new();
    let run = op.run(
        "error-budget.sh",
        &["--policy", "strict", "ecs-express"],
        &[],
    );
    assert_one_line_error(&run, "--policy is report or enforce");
}

/// release.yml's Error budgets step, as the runner runs it: before the
/// deploy step, enforced only with the repository variable, and bypassed
/// only with the run's override input. On a push, both are empty.
#[test]
fn the_release_checks_the_budgets_before_it_deploys_and_stops_only_when_enforced() {
    let op = Operator::new();
    with_budgets(&op);
    let mut runner = Runner::new(&op, "release.yml");
    let names: Vec<&str> = runner.workflow["jobs"]["deploy"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    let budgets = names
        .iter()
        .position(|n| *n == "Error budgets")
        .expect("an Error budgets step");
    let deploy = names
        .iter()
        .position(|n| n.starts_with("Plan, apply"))
        .expect("the deploy step");
    assert!(budgets < deploy, "{names:?}");
    // A stop here is before anything changed: the rollback is only for a
    // deploy step that failed.
    let rollback = runner.step("deploy", "Roll back to the last good image")["if"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(rollback.contains("steps.deploy.outcome"), "{rollback}");
    let values = |policy: &'static str, over: &'static str| {
        [
            ("TARGET", "ecs-express"),
            ("TF_STATE_BUCKET", "state-bucket"),
            ("AWS_REGION", "eu-west-1"),
            ("POLICY", policy),
            ("OVERRIDE", over),
        ]
    };
    // A push: no policy, no override. The latency budget is spent.
    assert_eq!(
        runner.run("deploy", "Error budgets", &values("", "")),
        Outcome::Success
    );
    assert_eq!(
        runner.run("deploy", "Error budgets", &values("enforce", "")),
        Outcome::Failure
    );
    assert_eq!(
        runner.run(
            "deploy",
            "Error budgets",
            &values("enforce", "the fix for the latency regression")
        ),
        Outcome::Success
    );
    runner.end_job();
}
