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

/// The stand-in for terraform: one stack's state is a folder of outputs.
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
case "${args[0]:-}" in
  init) exit 0 ;;
  state)
    if [[ -e "$F/fail-state" ]]; then echo "Error: error loading state: AccessDenied" >&2; exit 1; fi
    cat "$S/resources" 2>/dev/null
    exit 0 ;;
  output)
    name="${args[${#args[@]}-1]}"
    if [[ -e "$S/fail-output-$name" || ! -e "$S/outputs/$name" ]]; then
      echo "Error: Output \"$name\" not found" >&2; exit 1
    fi
    cat "$S/outputs/$name"
    exit 0 ;;
  plan)
    if [[ -e "$F/locked" ]]; then
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
    fi
    rm -f "$S/planned" "$S/planned-lb"
    for a in "${args[@]}"; do
      case "$a" in
        image=*) printf '%s' "${a#image=}" >"$S/planned" ;;
        load_balancer_arn=*) printf '%s' "${a#load_balancer_arn=}" >"$S/planned-lb" ;;
      esac
    done
    exit 0 ;;
  apply)
    [[ -e "$S/planned" ]] || exit 0 # a root applied without a plan (bootstrap)
    image="$(cat "$S/planned")"
    # Terraform keeps the variables it was given, even when apply fails.
    printf '%s' "$image" >"$S/outputs/image"
    if grep -qxF "$image" "$F/bad-apply" 2>/dev/null; then echo "Error: deployment failed" >&2; exit 1; fi
    echo "module.service.aws_ecs_express_gateway_service.this" >"$S/resources"
    printf 'arn:aws:%s:eu-west-1:123456789012:service/%s' "$stack" "$stack" >"$S/outputs/service_arn"
    # What AWS runs: the new image, unless AWS rolled the deployment back.
    if grep -qxF "$image" "$F/aws-rolls-back" 2>/dev/null; then :; else printf '%s' "$image" >"$S/running"; fi
    if grep -qxF "$image" "$F/bad-smoke" 2>/dev/null; then cp "$F/dead-url" "$S/outputs/service_url"
    else cp "$F/good-url" "$S/outputs/service_url"; fi
    printf 'arn:aws:ecs:eu-west-1:123456789012:service-revision/sre-kata/sre-kata/1' >"$S/outputs/service_revision_arn"
    cat "$S/planned-lb" >"$S/outputs/waf_load_balancer_arn" 2>/dev/null || : >"$S/outputs/waf_load_balancer_arn"
    exit 0 ;;
  show) cat "$S/plan.json" 2>/dev/null || echo '{"resource_changes": []}' ;;
  destroy) exit 0 ;;
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
    if [[ "$dst" == - ]]; then
      key="${src#s3://}"
      if [[ ! -e "$F/s3/$key" && -e "$F/can-list" ]]; then echo "fatal error: An error occurred (404) when calling the HeadObject operation: Key \"$key\" does not exist" >&2; exit 1; fi
      if [[ ! -e "$F/s3/$key" ]]; then echo "fatal error: An error occurred (403) when calling the HeadObject operation: Forbidden" >&2; exit 1; fi
      cat "$F/s3/$key"
    else
      key="${dst#s3://}"
      mkdir -p "$(dirname "$F/s3/$key")"
      cat >"$F/s3/$key"
    fi ;;
  "ecs describe-service-revisions")
    if [[ -e "$F/lb" ]]; then cat "$F/lb"; else echo None; fi ;;
  "ecs describe-express-gateway-service") cat "$F/stacks/ecs-express/running" ;;
  "apprunner describe-service") cat "$F/stacks/apprunner/running" ;;
  "ecr batch-get-image")
    case "$*" in
      *imageManifestMediaType*) echo application/vnd.docker.distribution.manifest.v2+json ;;
      *imageTag=*) # the manifest under a tag; the stand-in's digests are config digests too
        tag="$(printf '%s\n' "$@" | sed -n 's/^imageTag=//p')"
        printf '{"schemaVersion":2,"config":{"mediaType":"x","size":1,"digest":"%s"},"layers":[]}\n' "$(cat "$F/ecr/$tag")" ;;
      *) echo '{"schemaVersion": 2}' ;;
    esac ;;
  "ecr put-image")
    tag="$(printf '%s\n' "$@" | grep -A1 -x -- --image-tag | tail -n 1)"
    if grep -qxF "$tag" "$F/ecr-tags" 2>/dev/null; then
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
        // The images the tests release were built and signed by release.yml.
        let signed: String = [A, B, C]
            .iter()
            .map(|image| format!("{image} {RELEASE_SIGNER}\n"))
            .collect();
        std::fs::write(root.join("fake/signatures"), signed).unwrap();
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
        assert!(
            stderr.contains("scripts/last-good.sh adopt apprunner"),
            "{stderr}"
        );
        assert!(planned_images(&op.log()).is_empty(), "{}", op.log());
    }
}

#[test]
fn a_rollback_with_nothing_recorded_and_no_state_says_so() {
    let op = Operator::new();
    let output = op.deploy(&["apprunner", "last-good"], &[]);
    assert_one_line_error(&output, "nothing to roll back to");
    assert!(
        !op.log().contains("aws "),
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
        (
            "ecs-express/outputs/deploy_role_arn",
            "arn:aws:iam::123456789012:role/sre-kata-ecs-express-github-deploy",
        ),
    ] {
        op.set(&format!("stacks/{name}"), value);
    }
    let missing = op.run("github-setup.sh", &["ecs-express"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("--reviewer"));

    let output = op.run(
        "github-setup.sh",
        &["--reviewer", "alice", "ecs-express"],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
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
        "gh variable set AWS_DEPLOY_ROLE_ARN --repo owner/repo --body arn:aws:iam::123456789012:role/sre-kata-ecs-express-github-deploy",
    ] {
        assert!(log.lines().any(|l| l == expected), "missing {expected:?} in\n{log}");
    }

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

    // Deploying as usual stops before the plan and names the way out.
    op.clear_log();
    let again = op.deploy(&["ecs-express", A], &[]);
    assert_one_line_error(
        &again,
        "scripts/deploy.sh --first ecs-express <image-digest>",
    );
    assert!(planned_images(&op.log()).is_empty());

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
    let tags = std::fs::read_to_string(op.fake().join("ecr-tags")).unwrap();
    assert_eq!(
        tags.trim(),
        format!("good-{}", B.rsplit(':').next().unwrap())
    );
    assert!(op.log().contains(
        "aws ecr put-image --region eu-west-1 --repository-name sre-kata --image-tag good-"
    ));

    // A rollback records B again: the tag is there already, and that is fine.
    let again = op.deploy(&["apprunner", "last-good"], &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(op.last_good("apprunner").as_deref(), Some(B));
}

#[test]
fn a_lock_left_by_a_killed_run_is_named_with_the_command_that_clears_it() {
    let op = Operator::new();
    let _service = with_service(&op);
    op.deployed("apprunner", A);
    op.set("locked", "");
    let output = op.deploy(&["apprunner", "last-good"], &[]);
    let stderr = stderr(&output);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "terraform -chdir=infra/stacks/apprunner force-unlock 8d1f0c2e-5b7a-4c3d-9e21-0a6b4c2d9f10"
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
        assert!(error.contains("--allow-unsigned"), "{error}");
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
        stderr(&output).contains("WARNING: --allow-unsigned: deploying")
            && stderr(&output).contains("for the first bootstrap only"),
        "{}",
        stderr(&output)
    );
    assert!(!op.log().contains("cosign verify"), "{}", op.log());
    assert_eq!(planned_images(&op.log()), [UNSIGNED]);
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

#[test]
fn push_loads_the_archive_the_build_job_made() {
    // release.yml builds in one job and pushes in another: push.sh loads
    // build.sh's archive and names it as this commit's image.
    let op = Operator::new();
    let head = op.commit_all();
    let work = op.dir.path().join("archive");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("config.json"), "{}").unwrap();
    let archive = op.dir.path().join("sre-kata.image.tar");
    let tar = Command::new("tar")
        .arg("-cf")
        .arg(&archive)
        .arg("-C")
        .arg(&work)
        .arg("config.json")
        .status()
        .unwrap();
    assert!(tar.success());
    op.set("image-id", &"1".repeat(64));
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
    // sha256 of "{}", the archive's config: the image id.
    let id = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    let log = op.log();
    assert!(
        log.contains(&format!(
            "podman load --quiet --input {}",
            archive.display()
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("podman tag {id} sre-kata:{head}")),
        "{log}"
    );

    let missing = op.run("push.sh", &["--archive", "/nowhere.tar", "sre-kata"], &env);
    assert_one_line_error(&missing, "no image archive at /nowhere.tar");
}
