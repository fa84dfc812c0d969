//! The shell scripts' promises: `--help` everywhere, and one clear line with
//! exit code 2 for anything missing. Push runs in a throwaway clone of the
//! scripts, so the state of this working tree does not matter; smoke runs
//! against the real binary.

mod support;

use std::fs::Permissions;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCRIPTS: [&str; 22] = [
    "bench.sh",
    "fuzz.sh",
    "soak.sh",
    "dev.sh",
    "test.sh",
    "build.sh",
    "push.sh",
    "bootstrap.sh",
    "deploy.sh",
    "smoke.sh",
    "destroy.sh",
    "validate-infra.sh",
    "release-tag.sh",
    "last-good.sh",
    "github-setup.sh",
    "sign.sh",
    "rebuild.sh",
    "verify-actions.sh",
    "deploy-target.sh",
    "upstream-advisories.sh",
    "mutants.sh",
    "error-budget.sh",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A directory holding only links to these real tools, to use as PATH.
fn path_with_only(tools: &[&str], dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in tools {
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} is not installed"));
        symlink(found, bin.join(tool)).unwrap();
    }
    bin
}

/// Runs a script with a clean environment plus `env`.
fn script(root: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new("/bin/bash")
        .arg(root.join("scripts").join(name))
        .args(args)
        .env_clear()
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Asserts exit code 2 and exactly one line on stderr that contains `words`.
fn assert_one_line_error(output: &Output, words: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(words), "expected {words:?} in {stderr}");
}

/// A committed git repository holding a copy of scripts/, in a temp dir.
fn scripts_clone() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    for entry in std::fs::read_dir(repo().join("scripts")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), scripts.join(entry.file_name())).unwrap();
    }
    let git = |args: &[&str]| {
        support::git(dir.path(), args);
    };
    git(&["init", "--quiet"]);
    git(&["add", "."]);
    git(&["commit", "--quiet", "-m", "scripts"]);
    dir
}

/// A copy of the scripts with settings naming a repository, as a fork's.
fn settings_clone() -> tempfile::TempDir {
    let dir = scripts_clone();
    for stack in ["apprunner", "ecs-express", "registry"] {
        let stack = dir.path().join("infra/stacks").join(stack);
        std::fs::create_dir_all(&stack).unwrap();
        std::fs::write(
            stack.join("terraform.tfvars"),
            "github_repository = \"owner/repo\"\n",
        )
        .unwrap();
    }
    dir
}

#[test]
fn every_script_has_help() {
    for name in SCRIPTS {
        let output = script(repo(), name, &["--help"], &[("PATH", "/usr/bin:/bin")]);
        assert!(output.status.success(), "{name}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(
            stdout.starts_with(&format!("Usage: scripts/{name}")),
            "{name}: {stdout}"
        );
    }
}

#[test]
fn every_script_is_held_to_these_promises() {
    let mut found: Vec<String> = std::fs::read_dir(repo().join("scripts"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".sh") && name != "lib.sh")
        .collect();
    found.sort_unstable();
    let mut listed = SCRIPTS.map(String::from).to_vec();
    listed.sort_unstable();
    assert_eq!(found, listed, "add the script to SCRIPTS");
}

#[test]
fn every_script_rejects_unknown_options_in_one_line() {
    for name in SCRIPTS {
        let output = script(
            repo(),
            name,
            &["--frobnicate"],
            &[("PATH", "/usr/bin:/bin")],
        );
        assert_one_line_error(&output, "try --help");
    }
}

#[test]
fn push_needs_a_region() {
    let clone = scripts_clone();
    let output = script(
        clone.path(),
        "push.sh",
        &["--dry-run", "repo"],
        &[("PATH", "/usr/bin:/bin")],
    );
    assert_one_line_error(&output, "AWS_REGION is not set");
}

#[test]
fn push_needs_a_repository_name_when_terraform_cannot_tell() {
    let clone = scripts_clone();
    let bin = path_with_only(&["dirname", "basename", "git"], clone.path());
    let output = script(
        clone.path(),
        "push.sh",
        &["--dry-run"],
        &[("PATH", bin.to_str().unwrap()), ("AWS_REGION", "eu-west-1")],
    );
    assert_one_line_error(&output, "pass the ECR repository name");
}

#[test]
fn push_needs_the_aws_cli() {
    let clone = scripts_clone();
    let bin = path_with_only(&["dirname", "basename", "git"], clone.path());
    let output = script(
        clone.path(),
        "push.sh",
        &["repo"],
        &[("PATH", bin.to_str().unwrap()), ("AWS_REGION", "eu-west-1")],
    );
    assert_one_line_error(&output, "aws is missing");
}

#[test]
fn push_refuses_a_dirty_tree_unless_allowed() {
    let clone = scripts_clone();
    std::fs::write(clone.path().join("uncommitted.txt"), "x").unwrap();
    let bin = path_with_only(&["dirname", "basename", "git"], clone.path());
    let path = bin.to_str().unwrap();
    let env = [
        ("PATH", path),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCOUNT_ID", "123456789012"),
    ];

    let refused = script(clone.path(), "push.sh", &["--dry-run", "repo"], &env);
    assert_one_line_error(&refused, "uncommitted changes");

    // Allowed, it goes on to the next thing this PATH lacks: an engine.
    let allowed = script(
        clone.path(),
        "push.sh",
        &["--dry-run", "--allow-dirty", "repo"],
        &env,
    );
    assert_one_line_error(&allowed, "no container engine");
}

#[test]
fn build_needs_cargo() {
    let clone = scripts_clone();
    let bin = path_with_only(&["dirname", "basename"], clone.path());
    let output = script(
        clone.path(),
        "build.sh",
        &[],
        &[("PATH", bin.to_str().unwrap())],
    );
    assert_one_line_error(&output, "cargo is missing");
}

const DIGEST: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sre-kata@sha256:\
    0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn deploy_in(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec![("PATH", "/usr/bin:/bin")];
    all.extend_from_slice(env);
    script(root, "deploy.sh", args, &all)
}

fn deploy(args: &[&str], env: &[(&str, &str)]) -> Output {
    deploy_in(repo(), args, env)
}

const DEPLOY_ENV: [(&str, &str); 2] = [
    ("AWS_REGION", "eu-west-1"),
    ("TF_STATE_BUCKET", "state-bucket"),
];

#[test]
fn deploy_refuses_tags_and_unknown_targets() {
    assert_one_line_error(
        &deploy(
            &[
                "apprunner",
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sre-kata:v1",
            ],
            &DEPLOY_ENV,
        ),
        "by digest",
    );
    assert_one_line_error(
        &deploy(&["lambda", DIGEST], &DEPLOY_ENV),
        "unknown target 'lambda'",
    );
    assert_one_line_error(&deploy(&["apprunner"], &DEPLOY_ENV), "give a target");
}

#[test]
fn deploy_names_each_missing_setting() {
    for (missing, words) in [
        ("AWS_REGION", "AWS_REGION is not set"),
        // This repository's own settings name no repository yet.
        ("", "does not name your repository"),
    ] {
        let env: Vec<(&str, &str)> = DEPLOY_ENV
            .iter()
            .copied()
            .filter(|(k, _)| *k != missing)
            .collect();
        assert_one_line_error(&deploy(&["--dry-run", "ecs-express", DIGEST], &env), words);
    }
}

#[test]
fn deploy_dry_run_shows_every_command_it_would_run() {
    let clone = settings_clone();
    for target in ["apprunner", "ecs-express"] {
        let output = deploy_in(clone.path(), &["--dry-run", target, DIGEST], &DEPLOY_ENV);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(output.status.success(), "{stderr}");
        let stack = format!("-chdir={}/infra/stacks/{target}", clone.path().display());
        let lines: Vec<&str> = stderr.lines().collect();
        // The signature first, then Terraform.
        assert!(lines[0].ends_with("| cosign login 123456789012.dkr.ecr.eu-west-1.amazonaws.com --username AWS --password-stdin"), "{stderr}");
        assert!(lines[1].starts_with("cosign verify --certificate-identity https://github.com/owner/repo/.github/workflows/release.yml@refs/heads/main"), "{stderr}");
        assert!(lines[2].starts_with(&format!("terraform {stack} init -input=false -reconfigure -backend-config=bucket=state-bucket -backend-config=region=eu-west-1")), "{stderr}");
        // What it reads, it shows: the state, the record, the outputs.
        assert!(
            lines.contains(&format!("terraform {stack} state list ").as_str()),
            "{stderr}"
        );
        let record = format!("s3://state-bucket/{target}/last-good-image");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("aws s3 cp") && l.contains(&format!("{record} -"))),
            "{stderr}"
        );
        assert!(
            !stderr.contains("none (first deploy)"),
            "a dry run invents nothing: {stderr}"
        );
        assert!(
            lines.contains(&format!("terraform {stack} output -raw service_url ").as_str()),
            "{stderr}"
        );
        if target == "ecs-express" {
            assert!(
                lines.contains(
                    &format!("terraform {stack} output -raw service_revision_arn ").as_str()
                ),
                "{stderr}"
            );
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with("aws ecs describe-service-revisions")),
                "{stderr}"
            );
        }
        let plan = lines.iter().find(|l| l.contains(" plan ")).expect("a plan");
        assert!(plan.contains(&format!("-var image={DIGEST}")), "{plan}");
        assert!(plan.contains("-out=deploy.tfplan"), "{plan}");
        assert!(plan.contains(" plan -lock-timeout=2m "), "{plan}");
        assert!(
            lines.iter().any(|l| l.trim_end()
                == format!("terraform {stack} apply -lock-timeout=2m -input=false deploy.tfplan")),
            "{stderr}"
        );
        // Before the record: what AWS runs, and the tag that keeps it.
        let describe = match target {
            "apprunner" => "aws apprunner describe-service",
            _ => "aws ecs describe-express-gateway-service",
        };
        let asked = lines
            .iter()
            .position(|l| l.starts_with(describe))
            .expect("asks AWS what runs");
        let tagged = lines
            .iter()
            .position(|l| l.starts_with("aws ecr put-image") && l.contains("--image-tag good-"))
            .expect("tags the image to keep it");
        assert!(asked < tagged, "{stderr}");
        let smoke = lines
            .iter()
            .position(|l| l.starts_with("curl "))
            .expect("a smoke test");
        let recorded = lines
            .iter()
            .position(|l| {
                l.contains(&format!(
                    "aws s3 cp --region eu-west-1 --only-show-errors - {record}"
                ))
            })
            .expect("a record");
        assert!(
            smoke < asked && tagged < recorded,
            "the record comes after the smoke test: {stderr}"
        );
        assert!(lines[recorded].contains(DIGEST), "{stderr}");
    }
}

#[test]
fn deploy_dry_run_of_a_rollback_shows_the_last_good_image_it_would_read() {
    let clone = settings_clone();
    for target in ["apprunner", "ecs-express"] {
        let output = deploy_in(
            clone.path(),
            &["--dry-run", target, "last-good"],
            &DEPLOY_ENV,
        );
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(output.status.success(), "{stderr}");
        assert!(stderr.contains("rolling back to "), "{stderr}");
        assert!(stderr.contains(" plan -lock-timeout=2m "), "{stderr}");
    }
}

#[test]
fn bootstrap_dry_run_applies_the_bootstrap_stack_then_the_registry() {
    let clone = settings_clone();
    let output = script(
        clone.path(),
        "bootstrap.sh",
        &["--dry-run"],
        &[("PATH", "/usr/bin:/bin"), ("AWS_REGION", "eu-west-1")],
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    let bootstrap = stderr.find("infra/bootstrap apply").expect("the bucket");
    let registry = stderr
        .find("infra/stacks/registry apply")
        .expect("the registry");
    assert!(bootstrap < registry, "{stderr}");
    assert!(
        !stderr.contains("apply -input=false\n"),
        "an apply that asks cannot have -input=false: {stderr}"
    );
    let missing = script(
        clone.path(),
        "bootstrap.sh",
        &["--dry-run"],
        &[("PATH", "/usr/bin:/bin")],
    );
    assert_one_line_error(&missing, "AWS_REGION is not set");
    let unset = script(
        repo(),
        "bootstrap.sh",
        &["--dry-run"],
        &[("PATH", "/usr/bin:/bin"), ("AWS_REGION", "eu-west-1")],
    );
    assert_one_line_error(&unset, "does not name your repository");
}

fn smoke(url: &str, extra: &[&str]) -> Output {
    let mut args = extra.to_vec();
    args.push(url);
    script(repo(), "smoke.sh", &args, &[("PATH", "/usr/bin:/bin")])
}

#[test]
fn smoke_passes_against_the_real_service() {
    let service = support::Service::start(&[]);
    let output = smoke(&format!("http://{}", service.addr), &[]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        6,
        "{stdout}"
    );
}

#[test]
fn smoke_fails_on_any_mismatch_on_stderr() {
    // Targets longer than 12 bytes get 414 here, so two checks must fail.
    let service = support::Service::start(&[("MAX_URL_BYTES", "12")]);
    let output = smoke(&format!("http://{}/", service.addr), &[]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("FAIL  GET /query?param=caiopa: expected 200"),
        "{stderr}"
    );
    assert!(
        stderr.contains("FAIL  GET /no-such-path: expected 404"),
        "{stderr}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(stdout.contains("ok    GET /healthz"), "{stdout}");
}

#[test]
fn smoke_fails_at_once_on_what_waiting_cannot_fix() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // Retried, these would end with "did not answer 200 within 5s".
    let output = smoke(&format!("http://{unused}"), &["--wait", "5"]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("(curl exit 7); not retried"), "{stderr}");
    let dns = smoke("https://no-such-host.invalid", &["--wait", "5"]);
    let stderr = String::from_utf8(dns.stderr).unwrap();
    assert!(stderr.contains("(curl exit 6); not retried"), "{stderr}");
}

#[test]
fn smoke_of_a_fresh_endpoint_waits_out_what_a_new_endpoint_may_answer() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // Refused connections are retried until the wait runs out.
    let output = smoke(&format!("http://{unused}"), &["--fresh", "--wait", "2"]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did not answer 200 within 2s"), "{stderr}");
    assert!(!stderr.contains("not retried"), "{stderr}");
    // A malformed URL is still not worth waiting for.
    let bad = smoke("https://bad host", &["--fresh", "--wait", "30"]);
    let stderr = String::from_utf8(bad.stderr).unwrap();
    assert!(stderr.contains("(curl exit 3); not retried"), "{stderr}");
}

#[test]
fn smoke_waits_through_answers_that_may_change() {
    // A server that is up but not healthy yet: 503 on every request.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let _ = std::io::Read::read(&mut stream, &mut [0; 1024]);
            let _ = std::io::Write::write_all(
                &mut stream,
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let output = smoke(&format!("http://{addr}"), &["--wait", "1"]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("did not answer 200 within 1s (last: 503"),
        "{stderr}"
    );
}

#[test]
fn smoke_checks_public_urls_over_tls_only() {
    assert_one_line_error(
        &smoke("http://abc.eu-west-1.awsapprunner.com", &[]),
        "use https://",
    );
    assert_one_line_error(&smoke("ftp://x", &[]), "must start with https://");
}

#[test]
fn validate_infra_inits_and_validates_every_root_without_a_backend() {
    let output = script(
        repo(),
        "validate-infra.sh",
        &["--dry-run"],
        &[("PATH", "/usr/bin:/bin")],
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    for root in [
        "bootstrap",
        "stacks/registry",
        "stacks/apprunner",
        "stacks/ecs-express",
    ] {
        let chdir = format!("terraform -chdir={}/infra/{root}", repo().display());
        assert!(
            stderr.contains(&format!("{chdir} init -backend=false -input=false")),
            "{root}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("{chdir} validate")),
            "{root}: {stderr}"
        );
    }
}

#[test]
fn destroy_wants_the_target_confirmed() {
    let env = [
        ("PATH", "/usr/bin:/bin"),
        ("AWS_REGION", "eu-west-1"),
        ("TF_STATE_BUCKET", "b"),
    ];
    let unconfirmed = script(repo(), "destroy.sh", &["--dry-run", "apprunner"], &env);
    assert_one_line_error(&unconfirmed, "confirm with --confirm apprunner");
    let mismatch = script(
        repo(),
        "destroy.sh",
        &["apprunner", "--confirm", "ecs-express"],
        &env,
    );
    assert_one_line_error(&mismatch, "confirm with --confirm apprunner");

    let empty = script(repo(), "destroy.sh", &["apprunner", "--confirm"], &env);
    assert_one_line_error(&empty, "--confirm needs the target again");

    let confirmed = script(
        repo(),
        "destroy.sh",
        &["--dry-run", "ecs-express", "--confirm", "ecs-express"],
        &env,
    );
    let stderr = String::from_utf8(confirmed.stderr).unwrap();
    assert!(confirmed.status.success(), "{stderr}");
    assert!(
        stderr.contains("infra/stacks/ecs-express destroy -input=false -auto-approve"),
        "{stderr}"
    );
}

#[test]
fn release_tag_names_the_release_after_the_version_and_run() {
    let env = [
        ("PATH", "/usr/bin:/bin"),
        ("GITHUB_REPOSITORY", "owner/repo"),
        ("GITHUB_SHA", "abc123"),
        ("GITHUB_RUN_NUMBER", "42"),
    ];
    let output = script(
        repo(),
        "release-tag.sh",
        &["--dry-run", DIGEST, "https://x.example"],
        &env,
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    let tag = format!("v{}-42", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("{tag}\n")
    );
    assert!(
        stderr.starts_with(&format!(
            "gh release create {tag} --repo owner/repo --target abc123"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(DIGEST),
        "the notes carry the digest: {stderr}"
    );

    // With the image id and the SBOM: the notes say how to verify it.
    let sbom = tempfile::NamedTempFile::new().unwrap();
    let sbom = sbom.path().to_str().unwrap();
    let id = format!("sha256:{}", "1".repeat(64));
    let full = script(
        repo(),
        "release-tag.sh",
        &[
            "--dry-run",
            "--image-id",
            &id,
            "--toolchain",
            "rustc version 1.95.0",
            "--sbom",
            sbom,
            DIGEST,
        ],
        &env,
    );
    let stderr = String::from_utf8(full.stderr).unwrap();
    assert!(full.status.success(), "{stderr}");
    for words in [
        format!("Image id: {id}"),
        format!("cosign verify --certificate-identity https://github.com/owner/repo/.github/workflows/release.yml@refs/heads/main --certificate-oidc-issuer https://token.actions.githubusercontent.com {DIGEST}"),
        format!("gh attestation verify oci://{DIGEST} --repo owner/repo"),
        format!("IMAGE_SOURCE=https://github.com/owner/repo scripts/rebuild.sh --commit abc123 --expect {id}"),
        "with: rustc version 1.95.0".to_owned(),
    ] {
        assert!(stderr.contains(&words), "{words}: {stderr}");
    }
    assert!(
        stderr.trim_end().ends_with("SBOM\\ \\(CycloneDX\\ JSON\\)"),
        "the SBOM is attached: {stderr}"
    );
    let bad_id = script(
        repo(),
        "release-tag.sh",
        &["--dry-run", "--image-id", "abc", DIGEST],
        &env,
    );
    assert_one_line_error(&bad_id, "not an image id");

    let by_tag = script(repo(), "release-tag.sh", &["--dry-run", "repo:v1"], &env);
    assert_one_line_error(&by_tag, "by digest");
    let outside_actions = script(repo(), "release-tag.sh", &["--dry-run", DIGEST], &env[..1]);
    assert_one_line_error(&outside_actions, "GITHUB_REPOSITORY is not set");
}

/// A repository with one commit, tagged `light` (lightweight) and
/// `annotated` (a tag object), as GitHub serves an action's; returns the
/// commit.
fn tagged_repository(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    support::git(dir, &["init", "--quiet"]);
    std::fs::write(dir.join("action.yml"), "runs:\n  using: node24\n").unwrap();
    support::git(dir, &["add", "."]);
    support::git(dir, &["commit", "--quiet", "-m", "v1"]);
    support::git(dir, &["tag", "light"]);
    support::git(dir, &["tag", "-a", "annotated", "-m", "a tag object"]);
    support::git(dir, &["rev-parse", "HEAD"])
}

#[test]
fn verify_actions_accepts_only_the_commit_each_tag_names_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let server = dir.path().join("github");
    let commit = tagged_repository(&server.join("owner/action"));
    // An action that pins another inside its own action.yml, served as
    // raw.githubusercontent.com serves it.
    // Its file, at the commit the list pins it to (its own repository's,
    // which matches the other's only if both were made in the same second).
    let composite = tagged_repository(&server.join("owner/composite"));
    let raw = dir.path().join("raw");
    let inner = raw.join("owner/composite").join(&composite);
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::write(
        inner.join("action.yml"),
        format!("runs:\n  steps:\n    - uses: owner/action@{commit} # light\n"),
    )
    .unwrap();
    let wrong = "0".repeat(40);
    let run = |lines: &str| {
        let list = dir.path().join("pins.txt");
        std::fs::write(&list, lines).unwrap();
        script(
            repo(),
            "verify-actions.sh",
            &[list.to_str().unwrap()],
            &[
                ("PATH", "/usr/bin:/bin"),
                ("GITHUB_SERVER_URL", server.to_str().unwrap()),
                ("RAW_SERVER", &format!("file://{}", raw.display())),
            ],
        )
    };
    let good = format!(
        "# comment\nowner/action light {commit} 2026-12-06\n\
         owner/action annotated {commit} 2026-12-06\n\
         owner/composite light {composite} 2026-12-06\n\
         owner/action light {commit} 2026-12-06 via owner/composite\n"
    );
    let output = run(&good);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        4,
        "{stdout}"
    );

    // A SHA of the right shape that is not the tag's commit, a tag that
    // does not exist, and an inner pin the parent does not make.
    for (bad, why) in [
        (
            format!("owner/action light {wrong} 2026-12-06\n"),
            "the tag is",
        ),
        (
            format!("owner/action v9.9.9 {commit} 2026-12-06\n"),
            "no such tag",
        ),
        (
            format!(
                "owner/composite light {composite} 2026-12-06\n\
                 owner/action annotated {wrong} 2026-12-06 via owner/composite\n"
            ),
            "the tag is",
        ),
    ] {
        let output = run(&bad);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{bad}: {stdout}");
        assert!(
            stdout.contains("FAIL") && stdout.contains(why),
            "{bad}: {stdout}"
        );
    }
}

/// Runs deploy-target.sh as a workflow step would, and returns its
/// outputs (GITHUB_OUTPUT) and summary (GITHUB_STEP_SUMMARY).
fn deploy_target(args: &[&str], env: &[(&str, &str)]) -> (Output, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("outputs");
    let summary = dir.path().join("summary");
    let mut all = vec![
        ("PATH", "/usr/bin:/bin"),
        ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ];
    all.extend_from_slice(env);
    let output = script(repo(), "deploy-target.sh", args, &all);
    (
        output,
        std::fs::read_to_string(outputs).unwrap_or_default(),
        std::fs::read_to_string(summary).unwrap_or_default(),
    )
}

#[test]
fn deploy_target_gives_each_stack_its_own_role() {
    let roles = [
        ("AWS_DEPLOY_ROLE_ARN_ECS_EXPRESS", "arn:aws:iam::1:role/ecs"),
        (
            "AWS_DEPLOY_ROLE_ARN_APPRUNNER",
            "arn:aws:iam::1:role/apprunner",
        ),
        ("DEPLOY_TARGET", "ecs-express"),
    ];
    for (input, target, role) in [
        ("", "ecs-express", "arn:aws:iam::1:role/ecs"),
        ("default", "ecs-express", "arn:aws:iam::1:role/ecs"),
        ("apprunner", "apprunner", "arn:aws:iam::1:role/apprunner"),
    ] {
        let mut env = roles.to_vec();
        env.push(("TARGET_INPUT", input));
        let (output, outputs, _) = deploy_target(&["--require-role"], &env);
        assert!(output.status.success(), "{input}: {output:?}");
        assert_eq!(
            outputs,
            format!("target={target}\nrole={role}\ndeploy=true\n"),
            "{input}"
        );
    }

    // The first release, before the stack's first deploy: no role, so no
    // deploy, and the summary says what to do with the signed image.
    let image = DIGEST;
    let (output, outputs, summary) =
        deploy_target(&[], &[("DEPLOY_TARGET", "ecs-express"), ("IMAGE", image)]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(outputs, "target=ecs-express\nrole=\ndeploy=false\n");
    assert!(
        summary.contains(&format!("scripts/deploy.sh ecs-express {image}")),
        "{summary}"
    );

    // A rollback needs the stack's own role; the other stack's never does.
    let (output, _, _) = deploy_target(
        &["--require-role"],
        &[
            ("TARGET_INPUT", "apprunner"),
            ("DEPLOY_TARGET", "ecs-express"),
            ("AWS_DEPLOY_ROLE_ARN_ECS_EXPRESS", "arn:aws:iam::1:role/ecs"),
        ],
    );
    assert_one_line_error(&output, "AWS_DEPLOY_ROLE_ARN_APPRUNNER is not set");

    let (output, _, _) = deploy_target(&[], &[]);
    assert_one_line_error(&output, "DEPLOY_TARGET is not set");
    let (output, _, _) = deploy_target(&[], &[("TARGET_INPUT", "lambda")]);
    assert_one_line_error(&output, "unknown target 'lambda'");
}

#[test]
fn upstream_advisories_fail_on_any_advisory_against_a_forked_crate_not_reviewed() {
    let db = tempfile::tempdir().unwrap();
    let crates = db.path().join("crates/tiny_http");
    std::fs::create_dir_all(&crates).unwrap();
    let advisory = |id: &str, extra: &str| {
        std::fs::write(
            crates.join(format!("{id}.md")),
            format!(
                "```toml\n[advisory]\nid = \"{id}\"\npackage = \"tiny_http\"\n{extra}```\n\n# Title of {id}\n"
            ),
        )
        .unwrap();
    };
    let path = std::env::var("PATH").unwrap();
    let cargo_home = std::env::var("CARGO_HOME").ok();
    let run = || {
        let mut env = vec![("PATH", path.as_str())];
        if let Some(home) = &cargo_home {
            env.push(("CARGO_HOME", home.as_str()));
        }
        script(
            repo(),
            "upstream-advisories.sh",
            &[db.path().to_str().unwrap()],
            &env,
        )
    };
    // The one upstream advisory there is, reviewed in the fork's manifest.
    advisory("RUSTSEC-2020-0031", "");
    let output = run();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("reviewed  RUSTSEC-2020-0031"), "{stdout}");

    // A withdrawn one is no news; a new one fails, by id and title.
    advisory("RUSTSEC-2098-0001", "withdrawn = \"2098-01-02\"\n");
    advisory("RUSTSEC-2099-0001", "");
    let output = run();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("NEW       RUSTSEC-2099-0001 (tiny_http, forked as sre-kata-tiny-http): Title of RUSTSEC-2099-0001"),
        "{stdout}"
    );
    assert!(!stdout.contains("RUSTSEC-2098-0001"), "{stdout}");
}

#[test]
fn dev_container_passes_on_every_setting_but_the_containers_own_address() {
    // dev.sh --container hands the service's settings to the container;
    // one left out of its list would be silently ignored there.
    let dev = std::fs::read_to_string(repo().join("scripts/dev.sh")).unwrap();
    let list = dev
        .split("readonly CONTAINER_SETTINGS=(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("dev.sh's CONTAINER_SETTINGS");
    let mut passed: Vec<&str> = list.split_whitespace().collect();
    // LOG_FORMAT is always passed, with dev.sh's default (text).
    passed.push("LOG_FORMAT");
    passed.sort_unstable();
    let mut settings: Vec<&str> = sre_kata::config::VARIABLES
        .iter()
        .map(|v| v.name)
        .filter(|name| !["PORT", "HOST"].contains(name))
        .collect();
    settings.sort_unstable();
    assert_eq!(passed, settings);
}

/// The stand-in for `cargo` in a mutants.sh checkout:
/// - `cargo install --list` names the pinned cargo-mutants;
/// - `cargo test` adds its arguments as a line to RECORD/tests and, when it
///   runs tests (not `--no-run`), exits with STAND_IN_TEST_STATUS;
/// - `cargo mutants --list` prints STAND_IN_LIST;
/// - any other `cargo mutants` records its arguments, its diff and its
///   CARGO_TARGET_DIR in RECORD, writes the outcome lists from
///   STAND_IN_OUTCOMES ("outcome|mutant" lines, none when unset), and exits
///   with STAND_IN_STATUS, as cargo-mutants 27.1.0 writes and exits.
const STAND_IN_CARGO: &str = r#"#!/bin/bash
set -euo pipefail
if [[ "$1 ${2-}" == "install --list" ]]; then
  printf 'cargo-mutants v27.1.0:\n    cargo-mutants\n'
  exit 0
fi
if [[ "$1" == test ]]; then
  printf '%s\n' "$*" >>"$RECORD/tests"
  [[ " $* " != *" --no-run "* ]] || exit 0
  exit "${STAND_IN_TEST_STATUS:-0}"
fi
[[ "$1" == mutants ]] || { echo "stand-in cargo: $*" >&2; exit 101; }
shift
if [[ " $* " == *" --list "* ]]; then
  printf '%s\n' "${STAND_IN_LIST-}"
  exit 0
fi
printf '%s\n' "$@" >"$RECORD/args"
printf '%s' "${CARGO_TARGET_DIR-unset}" >"$RECORD/target_dir"
out=""
while (($#)); do
  case "$1" in
    --output) out="$2/mutants.out" ;;
    --in-diff) cp "$2" "$RECORD/diff" ;;
  esac
  shift
done
if [[ -n "${STAND_IN_OUTCOMES-}" ]]; then
  mkdir -p "$out"
  echo '{}' >"$out/outcomes.json"
  for outcome in caught missed timeout unviable; do : >"$out/$outcome.txt"; done
  while IFS='|' read -r outcome mutant; do
    printf '%s\n' "$mutant" >>"$out/$outcome.txt"
  done <<<"$STAND_IN_OUTCOMES"
fi
exit "${STAND_IN_STATUS:-0}"
"#;

/// A committed copy of the scripts with a one-line core, a mutants
/// configuration (`exclude_re` lines as given) and the stand-in cargo;
/// returns it with the PATH that finds the stand-in first.
fn mutants_checkout(exclude_re: &str) -> (tempfile::TempDir, String) {
    let dir = scripts_clone();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".cargo")).unwrap();
    for config in ["mutants.toml", "mutants-server.toml"] {
        std::fs::write(
            root.join(".cargo").join(config),
            format!("examine_globs = [\"src/a.rs\"]\nexclude_re = [\n{exclude_re}]\n"),
        )
        .unwrap();
    }
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/a.rs"), "fn f() -> bool { 1 > 0 }\n").unwrap();
    let bin = root.join("stand-in");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(bin.join("cargo"), STAND_IN_CARGO).unwrap();
    std::fs::set_permissions(bin.join("cargo"), Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(root.join("record")).unwrap();
    support::git(root, &["add", "."]);
    support::git(root, &["commit", "--quiet", "-m", "core"]);
    let path = format!("{}:/usr/bin:/bin", bin.display());
    (dir, path)
}

/// Runs mutants.sh in `checkout` with the stand-in's settings in `env`.
fn mutants(checkout: &(tempfile::TempDir, String), args: &[&str], env: &[(&str, &str)]) -> Output {
    let root = checkout.0.path();
    let record = root.join("record");
    let mut all = vec![
        ("PATH", checkout.1.as_str()),
        ("RECORD", record.to_str().unwrap()),
    ];
    all.extend_from_slice(env);
    script(root, "mutants.sh", args, &all)
}

#[test]
fn mutants_fails_on_a_missed_mutant_even_when_another_timed_out() {
    // cargo-mutants exits 3 when any mutant timed out, whatever else it
    // found: the missed one must still fail the run.
    let checkout = mutants_checkout("");
    let summary = checkout.0.path().join("step-summary.md");
    let output = mutants(
        &checkout,
        &[],
        &[
            ("STAND_IN_STATUS", "3"),
            (
                "STAND_IN_OUTCOMES",
                "caught|src/a.rs:1:21: replace > with < in f\n\
                 missed|src/a.rs:1:21: replace > with >= in f\n\
                 timeout|src/a.rs:1:19: replace f -> bool with true",
            ),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("| `src/a.rs` | 1 | 1 | 1 | 0 |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("- src/a.rs:1:21: replace > with >= in f"),
        "{stdout}"
    );
    assert!(stderr.contains("missed mutants"), "{stderr}");
    let summary = std::fs::read_to_string(summary).unwrap();
    assert!(
        summary.contains("- src/a.rs:1:21: replace > with >= in f"),
        "{summary}"
    );
}

#[test]
fn mutants_counts_a_mutant_that_hangs_the_tests_as_caught() {
    let checkout = mutants_checkout("");
    let output = mutants(
        &checkout,
        &[],
        &[
            ("STAND_IN_STATUS", "3"),
            (
                "STAND_IN_OUTCOMES",
                "caught|src/a.rs:1:21: replace > with < in f\n\
                 timeout|src/a.rs:1:19: replace f -> bool with true",
            ),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("| `src/a.rs` | 1 | 0 | 1 | 0 |"),
        "{stdout}"
    );
}

#[test]
fn mutants_reports_a_run_that_tested_nothing_as_failed_not_as_clean() {
    let checkout = mutants_checkout("");
    // A baseline that fails writes no outcomes: that is no verdict on the
    // tests, and never "nothing to mutate".
    let output = mutants(&checkout, &[], &[("STAND_IN_STATUS", "4")]);
    assert_one_line_error(&output, "the tests fail with no mutant in the code");
    assert!(
        output.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    // A diff that touches no mutated code: cargo mutants exits 0 and writes
    // nothing.
    let output = mutants(&checkout, &[], &[("STAND_IN_STATUS", "0")]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("No mutants"), "{stdout}");
}

#[test]
fn mutants_hands_cargo_mutants_a_plain_diff_whatever_git_is_set_to_do() {
    let checkout = mutants_checkout("");
    let root = checkout.0.path();
    std::fs::write(root.join("src/a.rs"), "fn f() -> bool { 2 > 0 }\n").unwrap();
    support::git(root, &["commit", "--quiet", "-am", "change"]);
    // Settings a developer may have, each of which changes what git diff
    // prints: cargo mutants finds files only by their "b/" paths.
    let gitconfig = root.join("gitconfig");
    std::fs::write(
        &gitconfig,
        "[diff]\n\tnoprefix = true\n\tmnemonicPrefix = true\n\texternal = false-diff\n\
         [color]\n\tdiff = always\n",
    )
    .unwrap();
    let output = mutants(
        &checkout,
        &["--in-diff", "HEAD~1"],
        &[
            ("GIT_CONFIG_GLOBAL", gitconfig.to_str().unwrap()),
            ("CARGO_TARGET_DIR", "/somewhere/shared"),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let diff = std::fs::read_to_string(root.join("record/diff")).unwrap();
    assert!(diff.contains("--- a/src/a.rs\n+++ b/src/a.rs\n"), "{diff}");
    assert!(diff.contains("+fn f() -> bool { 2 > 0 }"), "{diff}");
    assert!(!diff.contains('\x1b'), "{diff}");
    // Each job of cargo mutants builds in its own copy of the tree.
    let target_dir = std::fs::read_to_string(root.join("record/target_dir")).unwrap();
    assert_eq!(target_dir, "unset");
}

#[test]
fn mutants_holds_each_exclusion_to_exactly_one_mutant() {
    let list = "src/a.rs:1:21: replace > with < in f\n\
                src/a.rs:1:21: replace > with >= in f";
    for (exclude_re, words) in [
        ("  '^src/a\\.rs:\\d+:21: replace > with < in f$',\n", ""),
        (
            "  # one of two\n  '^src/a\\.rs:\\d+:21: replace > with',\n",
            "names 2",
        ),
        ("  '^src/b\\.rs:',\n", "names 0"),
        (
            "  \"^src/a\\.rs:\\d+:21: replace > with < in f$\",\n",
            "write each exclude_re entry",
        ),
    ] {
        let checkout = mutants_checkout(exclude_re);
        let output = mutants(&checkout, &[], &[("STAND_IN_LIST", list)]);
        if words.is_empty() {
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        } else {
            assert_one_line_error(&output, words);
        }
    }
}

#[test]
fn mutants_refuses_bad_arguments_in_one_line() {
    let checkout = mutants_checkout("");
    for (args, words) in [
        (&["--jobs", "0"][..], "--jobs needs a positive number"),
        (&["--in-diff"][..], "--in-diff needs a BASE commit"),
        (
            &["--in-diff", "no-such-commit"][..],
            "no commit 'no-such-commit' here",
        ),
    ] {
        assert_one_line_error(&mutants(&checkout, args, &[]), words);
    }
    std::fs::remove_file(checkout.0.path().join(".cargo/mutants.toml")).unwrap();
    assert_one_line_error(&mutants(&checkout, &[], &[]), "no .cargo/mutants.toml");
}

#[test]
fn the_source_label_is_one_url_or_refused_by_name() {
    // Each label value becomes a build argument on a line of its own: a
    // line break would smuggle in another argument.
    let clone = scripts_clone();
    let output = script(
        clone.path(),
        "rebuild.sh",
        &[],
        &[
            ("PATH", "/usr/bin:/bin"),
            (
                "IMAGE_SOURCE",
                "https://example.com/a\n--build-arg\nBINARY=/etc/passwd",
            ),
        ],
    );
    assert_one_line_error(&output, "IMAGE_SOURCE must be one URL");
}

#[test]
fn dev_runs_the_binary_cargo_built_wherever_its_target_folder_is() {
    // A stand-in cargo whose target folder is not target/ in the checkout
    // (CARGO_TARGET_DIR, or a build.target-dir setting): dev.sh must run
    // the binary from there, not a stale one in target/.
    let clone = scripts_clone();
    let root = clone.path();
    let elsewhere = root.join("elsewhere");
    let bin = root.join("stand-in");
    for (dir, text) in [
        (&elsewhere, "the fresh build"),
        (&root.join("target"), "a stale build"),
    ] {
        std::fs::create_dir_all(dir.join("debug")).unwrap();
        let binary = dir.join("debug/sre-kata");
        std::fs::write(&binary, format!("#!/bin/sh\necho {text}\n")).unwrap();
        std::fs::set_permissions(&binary, Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(
        bin.join("cargo"),
        format!(
            "#!/bin/sh\n[ \"$1\" = metadata ] && echo '{{\"target_directory\":\"{}\"}}'\nexit 0\n",
            elsewhere.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("cargo"), Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let output = script(root, "dev.sh", &[], &[("PATH", &path)]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.ends_with("the fresh build\n"), "{stdout}");
}

#[test]
fn mutants_of_the_server_run_its_socket_tests_after_a_baseline_of_them() {
    // cargo mutants 27.1.0 runs its own baseline with the mutated package's
    // tests only: the script runs the integration tests once itself, and
    // gives each mutant's run three times as long.
    let checkout = mutants_checkout("");
    let record = checkout.0.path().join("record");
    let output = mutants(&checkout, &["--server"], &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Built, then run: the run alone is timed.
    let tests = std::fs::read_to_string(record.join("tests")).unwrap();
    let tests: Vec<Vec<&str>> = tests.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(tests.len(), 2, "{tests:?}");
    assert!(tests[0].contains(&"--no-run"), "{tests:?}");
    assert!(!tests[1].contains(&"--no-run"), "{tests:?}");
    for arg in ["--workspace", "--lib", "--test=load", "--test=strict_http"] {
        assert!(tests[1].contains(&arg), "{arg} in {tests:?}");
    }
    let args = std::fs::read_to_string(record.join("args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert!(
        args.windows(2).any(|w| w == ["--baseline", "skip"]),
        "{args:?}"
    );
    assert!(
        args.windows(2).any(|w| w == ["--timeout", "60"]),
        "{args:?}"
    );
    assert!(args.contains(&"--cargo-test-arg=--test=load"), "{args:?}");
    assert!(
        args.iter()
            .any(|a| a.ends_with(".cargo/mutants-server.toml")),
        "{args:?}"
    );

    // A failing baseline: no mutant is tried, and the run fails by name.
    std::fs::remove_file(record.join("args")).unwrap();
    std::fs::remove_file(record.join("tests")).unwrap();
    let output = mutants(&checkout, &["--server"], &[("STAND_IN_TEST_STATUS", "101")]);
    assert_one_line_error(&output, "the tests fail with no mutant in the code");
    assert!(!record.join("args").exists());
}

#[test]
fn mutants_reads_the_committed_configurations() {
    // Each as committed, the server's first: its exclusion list is empty,
    // written on one line.
    let checkout = mutants_checkout("");
    let cargo = checkout.0.path().join(".cargo");
    for config in ["mutants.toml", "mutants-server.toml"] {
        std::fs::copy(repo().join(".cargo").join(config), cargo.join(config)).unwrap();
    }
    let output = mutants(&checkout, &["--server"], &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The other names its exclusions: each must name one mutant of the
    // list, here the patterns' own text made into names.
    let config = std::fs::read_to_string(cargo.join("mutants.toml")).unwrap();
    let patterns: Vec<&str> = config
        .lines()
        .filter_map(|l| l.trim().strip_prefix('\'')?.strip_suffix("',"))
        .collect();
    assert!(patterns.len() >= 20, "{patterns:?}");
    let output = mutants(&checkout, &[], &[("STAND_IN_LIST", "")]);
    assert_one_line_error(&output, "names 0");
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .matches("names 0")
            .count()
            == patterns.len(),
        "every pattern read: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
