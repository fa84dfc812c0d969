//! The GitHub workflows' hygiene, beyond what zizmor checks (scripts/test.sh
//! runs zizmor too): every step runs a project script, `id-token: write`
//! appears only where an AWS role is assumed, and every action is pinned by
//! commit with its version in a comment.

use serde_yaml::Value;
use std::path::Path;

fn workflows() -> Vec<(String, String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows");
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let yaml = serde_yaml::from_str(&text).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                text,
                yaml,
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<&str> = found.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["ci.yml", "destroy.yml", "release.yml"]);
    found
}

fn jobs(workflow: &Value) -> Vec<(&str, &Value)> {
    workflow["jobs"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap(), v))
        .collect()
}

fn steps(job: &Value) -> &Vec<Value> {
    job["steps"].as_sequence().unwrap()
}

#[test]
fn workflows_grant_nothing_by_default_and_each_job_says_what_it_needs() {
    for (name, _, workflow) in workflows() {
        assert_eq!(
            workflow["permissions"],
            Value::Mapping(Default::default()),
            "{name}"
        );
        for (job_name, job) in jobs(&workflow) {
            assert!(job["permissions"].is_mapping(), "{name}/{job_name}");
            assert!(job["timeout-minutes"].is_number(), "{name}/{job_name}");
        }
    }
}

#[test]
fn id_token_is_granted_only_where_an_aws_role_is_assumed() {
    for (name, _, workflow) in workflows() {
        for (job_name, job) in jobs(&workflow) {
            let assumes_role = steps(job).iter().any(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
            });
            let id_token = job["permissions"]["id-token"].as_str() == Some("write");
            assert_eq!(id_token, assumes_role, "{name}/{job_name}");
        }
    }
}

#[test]
fn every_action_is_pinned_by_commit_with_its_version_noted() {
    for (name, text, _) in workflows() {
        for line in text.lines().filter(|l| {
            l.trim_start().starts_with("- uses:") || l.trim_start().starts_with("uses:")
        }) {
            let reference = line.split("uses:").nth(1).unwrap().trim();
            let (action, rest) = reference
                .split_once('@')
                .unwrap_or_else(|| panic!("{name}: {line}"));
            let (sha, comment) = rest
                .split_once(" # ")
                .unwrap_or_else(|| panic!("{name}: no version comment: {line}"));
            assert!(!action.is_empty());
            assert!(
                sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "{name}: {line}"
            );
            assert!(comment.starts_with('v'), "{name}: {line}");
        }
    }
}

#[test]
fn every_run_step_calls_a_project_script() {
    for (name, _, workflow) in workflows() {
        for (job_name, job) in jobs(&workflow) {
            for step in steps(job) {
                let Some(run) = step["run"].as_str() else {
                    continue;
                };
                let commands: Vec<&str> = run
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                // One script call, optionally capturing its one-line result.
                let script = commands[0]
                    .trim_start_matches("image=\"$(")
                    .split_whitespace()
                    .next()
                    .unwrap();
                assert!(
                    script.starts_with("./scripts/") && script.ends_with(".sh"),
                    "{name}/{job_name}: {run}"
                );
                assert!(
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join(&script[2..])
                        .is_file(),
                    "{name}/{job_name}: {script} does not exist"
                );
                assert!(
                    commands.len() <= 2,
                    "{name}/{job_name}: logic belongs in a script: {run}"
                );
            }
        }
    }
}

#[test]
fn deploys_and_destroys_never_race_and_run_in_protected_environments() {
    let all = workflows();
    let find = |wanted: &str| all.iter().find(|(n, _, _)| n == wanted).unwrap().2.clone();
    for (workflow, job, environment) in [
        ("release.yml", "deploy", "production"),
        ("destroy.yml", "destroy", "destroy"),
    ] {
        let yaml = find(workflow);
        assert_eq!(yaml["concurrency"]["group"], "production", "{workflow}");
        assert_eq!(
            yaml["concurrency"]["cancel-in-progress"], false,
            "{workflow}"
        );
        assert_eq!(yaml["jobs"][job]["environment"], environment, "{workflow}");
    }
    let release = find("release.yml");
    let deploy_steps = steps(&release["jobs"]["deploy"]);
    let rollback = deploy_steps
        .iter()
        .find(|s| s["name"].as_str().is_some_and(|n| n.contains("Roll back")))
        .expect("a rollback step");
    assert_eq!(
        rollback["if"],
        "failure() && steps.deploy.outputs.previous_image != ''"
    );
    let options: Vec<&str> = release["on"]["workflow_dispatch"]["inputs"]["target"]["options"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(options, ["apprunner", "ecs-express"]);
}
