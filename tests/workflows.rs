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
    assert_eq!(
        names,
        ["ci.yml", "destroy.yml", "release.yml", "rollback.yml"]
    );
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

/// One verified pin: `action@commit # tag`, from .github/pinned-actions.txt.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Pin {
    action: String,
    commit: String,
    tag: String,
}

/// The pins verified upstream, and those pinned inside other actions
/// (marked `via`), which no workflow names itself.
fn verified_pins() -> (Vec<Pin>, Vec<Pin>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/pinned-actions.txt");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() || fields[0].starts_with('#') {
            continue;
        }
        assert!(
            fields.len() == 4 || (fields.len() == 6 && fields[4] == "via"),
            "ACTION TAG COMMIT DATE [via ACTION]: {line}"
        );
        let pin = Pin {
            action: fields[0].to_owned(),
            tag: fields[1].to_owned(),
            commit: fields[2].to_owned(),
        };
        assert!(
            pin.commit.len() == 40 && pin.commit.bytes().all(|b| b.is_ascii_hexdigit()),
            "{line}"
        );
        if fields.len() == 6 {
            theirs.push(pin);
        } else {
            ours.push(pin);
        }
    }
    (ours, theirs)
}

/// Every `uses:` of every workflow, as written.
fn used_pins() -> Vec<(String, Pin)> {
    let mut used = Vec::new();
    for (name, text, _) in workflows() {
        for line in text.lines().filter(|l| {
            l.trim_start().starts_with("- uses:") || l.trim_start().starts_with("uses:")
        }) {
            let reference = line.split("uses:").nth(1).unwrap().trim();
            let (action, rest) = reference
                .split_once('@')
                .unwrap_or_else(|| panic!("{name}: {line}"));
            let (commit, tag) = rest
                .split_once(" # ")
                .unwrap_or_else(|| panic!("{name}: no version comment: {line}"));
            let tag = tag.split_whitespace().next().unwrap_or_default();
            used.push((
                name.clone(),
                Pin {
                    action: action.to_owned(),
                    commit: commit.to_owned(),
                    tag: tag.to_owned(),
                },
            ));
        }
    }
    used
}

#[test]
fn every_action_is_pinned_to_the_commit_its_tag_names_upstream() {
    // The list holds only pins checked in a mirror of each action's
    // repository (git rev-parse TAG^{commit}); scripts/verify-actions.sh
    // checks it against GitHub in ci.yml. A SHA of the right shape proves
    // nothing: GitHub fails a job whose pin is not in the action's
    // repository before its first step.
    let (ours, theirs) = verified_pins();
    let used = used_pins();
    for (name, pin) in &used {
        assert!(
            ours.contains(pin),
            "{name}: {}@{} # {} is not a verified pin (.github/pinned-actions.txt)",
            pin.action,
            pin.commit,
            pin.tag
        );
    }
    for pin in &ours {
        assert!(
            used.iter().any(|(_, p)| p == pin),
            "{pin:?} is listed but no workflow uses it: drop it from the list"
        );
    }
    for pin in &theirs {
        assert!(
            !used.iter().any(|(_, p)| p.action == pin.action),
            "{pin:?} is pinned by another action; a workflow using it needs its own line"
        );
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
                // One script call, optionally capturing its one-line result,
                // or replacing the step's shell (exec).
                let script = commands[0]
                    .trim_start_matches("image=\"$(")
                    .trim_start_matches("exec ")
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
fn deploys_rollbacks_and_destroys_never_race_and_run_in_protected_environments() {
    let all = workflows();
    let find = |wanted: &str| all.iter().find(|(n, _, _)| n == wanted).unwrap().2.clone();
    for (workflow, job, environment) in [
        ("release.yml", "deploy", "production"),
        ("rollback.yml", "rollback", "production"),
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
}

/// The longest a service update may wait: ECS Express's update timeout in
/// its module, and App Runner's, which the provider fixes at 20 minutes
/// (apprunner/wait.go, ServiceUpdateTimeout).
fn service_update_timeout_minutes() -> u64 {
    const APP_RUNNER: u64 = 20;
    let module =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/modules/ecs-express-service/main.tf");
    let text = std::fs::read_to_string(module).unwrap();
    let block = text
        .split("timeouts {")
        .nth(1)
        .expect("the Express service sets its timeouts");
    let update = block
        .lines()
        .find_map(|l| l.trim().strip_prefix("update"))
        .and_then(|rest| rest.split('"').nth(1))
        .expect("an update timeout");
    let ecs: u64 = update
        .strip_suffix('m')
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("{update:?}: give the update timeout in minutes"));
    ecs.max(APP_RUNNER)
}

fn minutes(v: &Value) -> u64 {
    v["timeout-minutes"]
        .as_u64()
        .unwrap_or_else(|| panic!("no timeout-minutes: {v:?}"))
}

/// The longest a rollback waits for the state lock: the deploy step's
/// terraform, interrupted, may still be finishing what it had in flight.
const ROLLBACK_LOCK_WAIT_MINUTES: u64 = 25;

#[test]
fn a_step_that_holds_the_state_lock_is_the_process_the_runner_signals() {
    // The runner stops a step by signalling its shell alone (actions/runner
    // ProcessInvoker.cs); with exec, the script is that process and passes
    // the signal on to terraform, which then releases the state lock.
    let mut seen = 0;
    for (name, _, workflow) in workflows() {
        for (job_name, job) in jobs(&workflow) {
            for step in steps(job) {
                let Some(run) = step["run"].as_str() else {
                    continue;
                };
                if ["deploy.sh", "destroy.sh"].iter().any(|s| run.contains(s)) {
                    assert!(
                        run.trim().starts_with("exec ./scripts/"),
                        "{name}/{job_name}: {run}"
                    );
                    seen += 1;
                }
            }
        }
    }
    assert_eq!(
        seen, 5,
        "two in release.yml, two in rollback.yml, one in destroy.yml"
    );
}

#[test]
fn a_release_that_fails_or_times_out_rolls_back_to_the_last_good_image() {
    let all = workflows();
    let release = &all.iter().find(|(n, _, _)| n == "release.yml").unwrap().2;
    let job = &release["jobs"]["deploy"];
    let deploy_steps = steps(job);
    let deploy = deploy_steps
        .iter()
        .find(|s| s["id"] == "deploy")
        .expect("the deploy step");
    assert_eq!(
        deploy["run"].as_str().unwrap().trim(),
        "exec ./scripts/deploy.sh \"$TARGET\" \"$IMAGE\""
    );
    let rollback = deploy_steps
        .iter()
        .find(|s| s["name"].as_str().is_some_and(|n| n.contains("Roll back")))
        .expect("a rollback step");
    // A step that reaches its own limit fails, and a failure or a cancel
    // of the deploy step rolls back; a failure before it (checkout,
    // credentials) changed nothing, so it does not. always() keeps the
    // step from being skipped after a cancel.
    assert_eq!(
        rollback["if"],
        "always() && (steps.deploy.outcome == 'failure' || steps.deploy.outcome == 'cancelled')"
    );
    assert_eq!(
        rollback["run"].as_str().unwrap().trim(),
        format!(
            "exec ./scripts/deploy.sh --lock-timeout {ROLLBACK_LOCK_WAIT_MINUTES}m \"$TARGET\" last-good"
        ),
        "the record of the last good image, never the state's image"
    );
    assert_timeouts_leave_room_for_the_rollback(job, deploy, rollback);
}

/// Apply waits for the deployment up to the service's update timeout,
/// plan and apply up to 2 minutes each for the state lock, the smoke test
/// up to 2; the rest (init, refresh, lookups) gets 5. The rollback first
/// waits for the lock the interrupted deploy may still hold. The job has
/// room for both steps at their limits.
fn assert_timeouts_leave_room_for_the_rollback(job: &Value, deploy: &Value, rollback: &Value) {
    let wait = service_update_timeout_minutes();
    assert!(minutes(deploy) >= wait + 2 + 2 + 2 + 5, "{deploy:?}");
    assert!(
        minutes(rollback) >= ROLLBACK_LOCK_WAIT_MINUTES + wait + 2 + 2 + 5,
        "{rollback:?}"
    );
    assert!(
        ROLLBACK_LOCK_WAIT_MINUTES > wait,
        "an interrupted apply may finish its service update first"
    );
    assert!(
        minutes(job) >= minutes(deploy) + minutes(rollback) + 5,
        "the job's limit must not cut the rollback short"
    );
    // After a cancel, by hand or at the job's limit, the runner kills the
    // job cancel-timeout-minutes later (default 5, less 15 s: actions/runner
    // JobDispatcher.cs); the rollback step must fit in it.
    let cancel = job["cancel-timeout-minutes"]
        .as_u64()
        .expect("cancel-timeout-minutes: the default 5 would cut a rollback short");
    assert!(
        cancel > minutes(rollback),
        "{cancel} <= {}",
        minutes(rollback)
    );
}

#[test]
fn a_run_by_hand_goes_where_the_repository_deploys_by_default_with_that_stacks_role() {
    let all = workflows();
    for (name, job) in [("release.yml", "push"), ("rollback.yml", "rollback")] {
        let yaml = &all.iter().find(|(n, _, _)| n == name).unwrap().2;
        let target = &yaml["on"]["workflow_dispatch"]["inputs"]["target"];
        assert_eq!(target["default"], "default", "{name}");
        let options: Vec<&str> = target["options"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(options, ["default", "ecs-express", "apprunner"], "{name}");
        // scripts/deploy-target.sh picks the target and its own role.
        let job = &yaml["jobs"][job];
        let step = &steps(job)[step_index(job, runs("./scripts/deploy-target.sh")).unwrap()];
        assert_eq!(step["id"], "target", "{name}");
        let env = &step["env"];
        assert_eq!(env["TARGET_INPUT"], "${{ inputs.target }}", "{name}");
        assert_eq!(env["DEPLOY_TARGET"], "${{ vars.DEPLOY_TARGET }}", "{name}");
        for variable in [
            "AWS_DEPLOY_ROLE_ARN_ECS_EXPRESS",
            "AWS_DEPLOY_ROLE_ARN_APPRUNNER",
        ] {
            assert_eq!(
                env[variable],
                format!("${{{{ vars.{variable} }}}}"),
                "{name}"
            );
        }
    }
    // No workflow assumes a deploy role other than the target's: the
    // one-role variable of before only makes deploy-target.sh warn.
    for (name, _, workflow) in &all {
        for (job_name, job) in jobs(workflow) {
            for step in steps(job) {
                let role = step["with"]["role-to-assume"].as_str().unwrap_or_default();
                assert!(
                    !role.contains("AWS_DEPLOY_ROLE_ARN }}"),
                    "{name}/{job_name} assumes the one-role variable"
                );
            }
        }
    }
    let release = &all.iter().find(|(n, _, _)| n == "release.yml").unwrap().2;
    let deploy = &release["jobs"]["deploy"];
    assert_eq!(deploy["if"], "needs.push.outputs.deploy == 'true'");
    assert_eq!(deploy["env"]["TARGET"], "${{ needs.push.outputs.target }}");
    assert_eq!(
        role_assumed(deploy),
        "${{ needs.push.outputs.role }}",
        "release.yml"
    );
}

/// The role a job's configure-aws-credentials step assumes.
fn role_assumed(job: &Value) -> &Value {
    &steps(job)
        .iter()
        .find(|s| uses("aws-actions/configure-aws-credentials@")(s))
        .expect("assumes a role")["with"]["role-to-assume"]
}

#[test]
fn a_rollback_by_hand_needs_no_administrator_and_never_leaves_a_bad_image_running() {
    let all = workflows();
    let rollback = &all.iter().find(|(n, _, _)| n == "rollback.yml").unwrap().2;
    let job = &rollback["jobs"]["rollback"];
    let inputs = &rollback["on"]["workflow_dispatch"]["inputs"];
    assert_eq!(inputs["image"]["required"], false);
    assert_eq!(role_assumed(job), "${{ steps.target.outputs.role }}");
    let target = &steps(job)[step_index(job, runs("./scripts/deploy-target.sh")).unwrap()];
    assert_eq!(
        target["run"].as_str().unwrap().trim(),
        "./scripts/deploy-target.sh --require-role"
    );
    let deploy = steps(job).iter().find(|s| s["id"] == "deploy").unwrap();
    assert_eq!(
        deploy["run"].as_str().unwrap().trim(),
        "exec ./scripts/deploy.sh \"$TARGET\" \"${IMAGE:-last-good}\""
    );
    // A given image that fails is replaced by the last good one.
    let restore = steps(job)
        .iter()
        .find(|s| {
            s["if"]
                .as_str()
                .is_some_and(|c| c.contains("steps.deploy.outcome"))
        })
        .expect("a step that restores the last good image");
    assert_eq!(
        restore["if"],
        "always() && inputs.image != '' && (steps.deploy.outcome == 'failure' || steps.deploy.outcome == 'cancelled')"
    );
    assert_eq!(
        restore["run"].as_str().unwrap().trim(),
        format!(
            "exec ./scripts/deploy.sh --lock-timeout {ROLLBACK_LOCK_WAIT_MINUTES}m \"$TARGET\" last-good"
        )
    );
    assert_eq!(
        deploy["env"]["TARGET"],
        "${{ steps.target.outputs.target }}"
    );
    assert_eq!(deploy["env"], restore["env"]);
    assert_timeouts_leave_room_for_the_rollback(job, deploy, restore);
}

/// The index of the first step of `job` for which `matches` holds.
fn step_index(job: &Value, matches: impl Fn(&Value) -> bool) -> Option<usize> {
    steps(job).iter().position(matches)
}

fn uses(action: &'static str) -> impl Fn(&Value) -> bool {
    move |s: &Value| s["uses"].as_str().is_some_and(|u| u.starts_with(action))
}

fn runs(script: &'static str) -> impl Fn(&Value) -> bool {
    move |s: &Value| s["run"].as_str().is_some_and(|r| r.contains(script))
}

#[test]
fn a_release_is_signed_attested_and_its_sbom_published_and_deploys_check_the_signature() {
    let all = workflows();
    let release = &all.iter().find(|(n, _, _)| n == "release.yml").unwrap().2;
    // The build runs third-party build scripts: it may not mint tokens.
    let build = &release["jobs"]["build"];
    assert!(build["permissions"]["id-token"].is_null(), "{build:?}");
    assert!(step_index(build, runs("./scripts/build.sh")).is_some());
    assert!(step_index(build, uses("actions/upload-artifact@")).is_some());
    assert!(step_index(build, runs("./scripts/push.sh")).is_none());

    let push_job = &release["jobs"]["push"];
    assert_eq!(push_job["needs"], "build");
    assert!(step_index(push_job, runs("./scripts/build.sh")).is_none());
    let push = step_index(push_job, runs("./scripts/push.sh --archive")).unwrap();
    let sign = step_index(push_job, runs("./scripts/sign.sh")).expect("the push job signs");
    let provenance = step_index(push_job, uses("actions/attest-build-provenance@")).unwrap();
    assert!(push < sign && push < provenance);
    assert!(step_index(push_job, uses("sigstore/cosign-installer@")).unwrap() < sign);
    let attest = &steps(push_job)[provenance]["with"];
    assert_eq!(attest["subject-digest"], "${{ steps.push.outputs.digest }}");
    assert_eq!(attest["subject-name"], "${{ steps.push.outputs.name }}");
    assert_eq!(push_job["permissions"]["attestations"], "write");

    // The release is tagged in a job of its own, the only one with
    // contents: write, and no AWS credentials or token to mint them.
    let tag = &release["jobs"]["tag"];
    let release_tag = &steps(tag)[step_index(tag, runs("./scripts/release-tag.sh")).unwrap()];
    assert!(release_tag["run"].as_str().unwrap().contains("--sbom"));
    assert!(step_index(tag, uses("actions/download-artifact@")).is_some());
    assert_eq!(
        tag["permissions"],
        serde_yaml::from_str::<Value>("contents: write").unwrap()
    );
    assert_eq!(
        tag["needs"],
        serde_yaml::from_str::<Value>("[build, push, deploy]").unwrap()
    );
    for (name, _, workflow) in &all {
        for (job_name, job) in jobs(workflow) {
            if job_name != "tag" {
                assert_ne!(job["permissions"]["contents"], "write", "{name}/{job_name}");
            }
        }
    }

    // Every job that deploys has cosign before deploy.sh runs, and every
    // cosign is the one version that stores signatures as the tags the
    // repository's lifecycle keeps.
    for (name, _, workflow) in &all {
        for (job_name, job) in jobs(workflow) {
            if let Some(deploys) = step_index(job, runs("./scripts/deploy.sh")) {
                let cosign = step_index(job, uses("sigstore/cosign-installer@"));
                assert!(
                    cosign.is_some_and(|c| c < deploys),
                    "{name}/{job_name} deploys without cosign to check the signature"
                );
            }
            for step in steps(job)
                .iter()
                .filter(|s| uses("sigstore/cosign-installer@")(s))
            {
                assert_eq!(
                    step["with"]["cosign-release"], "v2.5.3",
                    "{name}/{job_name}"
                );
            }
        }
    }
}

#[test]
fn a_scheduled_run_never_cancels_the_checks_of_a_push() {
    let all = workflows();
    let ci = &all.iter().find(|(n, _, _)| n == "ci.yml").unwrap().2;
    // One group per event and ref: the Monday run on main and a push to
    // main never share one, and only a pull request's newer push cancels.
    assert_eq!(
        ci["concurrency"]["group"],
        "ci-${{ github.event_name }}-${{ github.ref }}"
    );
    assert_eq!(
        ci["concurrency"]["cancel-in-progress"],
        "${{ github.event_name == 'pull_request' }}"
    );
}

#[test]
fn ci_checks_the_pins_against_github_and_runs_zizmors_online_audits() {
    let all = workflows();
    let ci = &all.iter().find(|(n, _, _)| n == "ci.yml").unwrap().2;
    let job = &ci["jobs"]["actions"];
    assert!(step_index(job, runs("./scripts/verify-actions.sh")).is_some());
    let audits = &steps(job)[step_index(job, runs("./scripts/test.sh --online-audits")).unwrap()];
    assert_eq!(audits["env"]["GH_TOKEN"], "${{ github.token }}");
    // The token reads public data only.
    assert_eq!(
        job["permissions"],
        serde_yaml::from_str::<Value>("contents: read").unwrap()
    );
}

#[test]
fn pull_requests_are_mutation_tested_on_their_changes_and_everything_weekly() {
    let all = workflows();
    let ci = &all.iter().find(|(n, _, _)| n == "ci.yml").unwrap().2;
    let job = &ci["jobs"]["mutants"];
    let changes = &steps(job)[step_index(job, runs("./scripts/mutants.sh --in-diff HEAD^1"))
        .expect("a step that mutates the pull request's changes")];
    assert_eq!(changes["if"], "github.event_name == 'pull_request'");
    // The checkout is the pull request's merge commit (no other ref), and
    // its first parent, the base, is in the clone.
    let checkout = &steps(job)[step_index(job, uses("actions/checkout")).unwrap()];
    assert_eq!(checkout["with"]["ref"], Value::Null);
    assert_eq!(checkout["with"]["fetch-depth"], 2);
    let everything = &steps(job)[step_index(job, |s| {
        s["run"].as_str().map(str::trim) == Some("./scripts/mutants.sh")
    })
    .expect("a step that runs every mutant")];
    assert_eq!(everything["if"], "github.event_name == 'schedule'");
    assert!(ci["on"]["schedule"].is_sequence(), "a weekly run");
    assert_eq!(
        job["permissions"],
        serde_yaml::from_str::<Value>("contents: read").unwrap()
    );
}

#[test]
fn dependabot_watches_every_pinned_dependency() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/dependabot.yml");
    let yaml: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let updates = yaml["updates"].as_sequence().unwrap();
    let watched = |ecosystem: &str, dir: &str| {
        updates.iter().any(|u| {
            u["package-ecosystem"] == ecosystem
                && (u["directory"] == dir
                    || u["directories"]
                        .as_sequence()
                        .is_some_and(|d| d.iter().any(|d| d == dir)))
        })
    };
    assert!(watched("cargo", "/"));
    assert!(watched("cargo", "/fuzz"));
    assert!(watched("github-actions", "/"));
    assert!(watched("terraform", "/infra/stacks/*"));
    assert!(watched("pip", "/scripts"), "scripts/requirements-tools.txt");
    for update in updates {
        assert_eq!(update["cooldown"]["default-days"], 7, "{update:?}");
    }
}

/// The error-budget policy stops releases, never a rollback: only the
/// release's deploy job reads the budgets (docs/slo.md).
#[test]
fn only_a_release_reads_the_error_budgets_and_no_rollback_waits_for_them() {
    for (name, _, workflow) in workflows() {
        for (job_name, job) in jobs(&workflow) {
            let at = step_index(job, runs("error-budget.sh"));
            let expected = name == "release.yml" && job_name == "deploy";
            assert_eq!(at.is_some(), expected, "{name}/{job_name}");
        }
    }
}
