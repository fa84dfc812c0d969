//! The shell scripts' promises: `--help` everywhere, and one clear line with
//! exit code 2 for anything missing. Push runs in a throwaway clone of the
//! scripts, so the state of this working tree does not matter.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCRIPTS: [&str; 4] = ["dev.sh", "test.sh", "build.sh", "push.sh"];

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
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(status.status.success(), "{status:?}");
    };
    git(&["init", "--quiet"]);
    git(&["add", "."]);
    git(&["commit", "--quiet", "-m", "scripts"]);
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
