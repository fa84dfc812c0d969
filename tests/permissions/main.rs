//! Every role's permissions, checked against the calls its operations make.
//!
//! The roles' policies are rendered from the Terraform itself, with sample
//! names, accounts and regions (see `terraform.rs`), and compared in both
//! directions with the manifest in `infra/permissions/`:
//!
//! - every call of every operation is allowed: its action is granted on
//!   the ARN the resource will have, and the conditions hold;
//! - nothing else is: every granted action is called, and every granted
//!   resource lies within a pattern the manifest gives for that action.
//!
//! Two samples (different partitions, accounts, regions and names) catch
//! anything written for one account only. `scripts/test.sh` also runs
//! parliament over the rendered documents (the ignored test at the end).

mod iam;
mod manifest;
mod terraform;

use hcl::{Map, Value};
use manifest::{arn_service, Call, Expander, Manifest, Placeholders};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use terraform::{Sample, World};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A sample account the stacks are rendered for.
struct Case {
    sample: Sample,
    name: &'static str,
    /// Whether the optional resources (alarm e-mail, load balancer
    /// association) exist.
    optional: bool,
}

/// Two places no Terraform file may assume, one with every optional
/// resource and one with none, so that a grant for an optional resource
/// must come and go with it.
const CASES: [Case; 2] = [
    Case {
        sample: Sample {
            partition: "aws",
            account: "123456789012",
            region: "eu-west-1",
        },
        name: "sre-kata",
        optional: true,
    },
    Case {
        sample: Sample {
            partition: "aws-cn",
            account: "210987654321",
            region: "cn-north-1",
        },
        name: "acme-count",
        optional: false,
    },
];

/// The roots, in the order an account gets them.
const ROOTS: [&str; 4] = [
    "bootstrap",
    "stacks/registry",
    "stacks/apprunner",
    "stacks/ecs-express",
];

fn inputs(root: &str, case: &Case, state_bucket: &str) -> Map<String, Value> {
    let (sample, name) = (&case.sample, case.name);
    let mut m = Map::new();
    m.insert("name".into(), Value::from(name));
    if root == "bootstrap" {
        return m;
    }
    m.insert(
        "github_repository".into(),
        Value::from("example-org/sre-kata"),
    );
    m.insert("state_bucket".into(), Value::from(state_bucket));
    if root.ends_with("apprunner") || root.ends_with("ecs-express") {
        let dns = if sample.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        let image = format!(
            "{}.dkr.ecr.{}.{dns}/{name}@sha256:{}",
            sample.account,
            sample.region,
            "ab".repeat(32)
        );
        m.insert("image".into(), Value::from(image));
    }
    if case.optional && (root.ends_with("apprunner") || root.ends_with("ecs-express")) {
        m.insert("page_email".into(), Value::from("pages@example.com"));
        m.insert("ticket_email".into(), Value::from("tickets@example.com"));
    }
    if root != "bootstrap" {
        m.insert(
            "probe_metrics_region".into(),
            Value::from(probe_region(sample)),
        );
    }
    if case.optional && root.ends_with("ecs-express") {
        let lb = format!(
            "arn:{}:elasticloadbalancing:{}:{}:loadbalancer/app/ecs-express-gateway-alb-x/0123456789abcdef",
            sample.partition, sample.region, sample.account
        );
        m.insert("load_balancer_arn".into(), Value::from(lb));
        let tg = format!(
            "arn:{}:elasticloadbalancing:{}:{}:targetgroup/ecs-express-gateway-tg-x/fedcba9876543210",
            sample.partition, sample.region, sample.account
        );
        m.insert(
            "target_group_arns".into(),
            Value::Array(vec![Value::from(tg)]),
        );
    }
    m
}

/// Where a case's stacks keep the probe's alarms: us-east-1, the default,
/// in the aws partition; elsewhere a sample only, so that no policy may
/// assume us-east-1.
fn probe_region(sample: &Sample) -> &'static str {
    if sample.partition == "aws" {
        "us-east-1"
    } else {
        "cn-northwest-1"
    }
}

/// Every root rendered for one case.
fn render(case: &Case) -> (World, String) {
    let sample = &case.sample;
    let mut world = World::default();
    world.render(
        &repo().join("infra"),
        "bootstrap",
        inputs("bootstrap", case, ""),
        sample,
    );
    let bucket = world
        .root("bootstrap")
        .instance("aws_s3_bucket.state")
        .string("bucket");
    for root in &ROOTS[1..] {
        world.render(
            &repo().join("infra"),
            root,
            inputs(root, case, &bucket),
            sample,
        );
    }
    (world, bucket)
}

struct Checked {
    role: String,
    covers_optional_resources: bool,
    policy_json: String,
    statements: Vec<iam::Statement>,
    calls: Vec<Call>,
}

/// Each role's rendered policy and expanded calls, for one sample.
fn roles(manifest: &Manifest, world: &World, case: &Case, bucket: &str) -> Vec<Checked> {
    let expander = Expander {
        manifest,
        world,
        placeholders: Placeholders {
            sample: &case.sample,
            name: case.name,
            state_bucket: bucket.to_owned(),
            probe_region: probe_region(&case.sample),
        },
    };
    manifest
        .roles
        .iter()
        .map(|role| {
            let policy = world
                .root(&role.policy.root)
                .instance(&role.policy.address)
                .string("policy");
            let statements = iam::parse(&policy, iam::Kind::Identity)
                .unwrap_or_else(|e| panic!("{}: {e}", role.role));
            let calls = expander.calls(role).unwrap_or_else(|e| panic!("{e}"));
            Checked {
                role: role.role.clone(),
                covers_optional_resources: role.covers_optional_resources,
                policy_json: policy,
                statements,
                calls,
            }
        })
        .collect()
}

fn for_each_case(check: impl Fn(&Manifest, &World, &Case, &str) -> Vec<String>) {
    let manifest = Manifest::load(&repo().join("infra/permissions"));
    let mut problems = Vec::new();
    for case in &CASES {
        let (world, bucket) = render(case);
        for p in check(&manifest, &world, case, &bucket) {
            problems.push(format!(
                "[{} {} {}] {p}",
                case.sample.partition, case.sample.region, case.name
            ));
        }
    }
    problems.dedup();
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn every_role_says_who_assumes_it_and_for_what() {
    let manifest = Manifest::load(&repo().join("infra/permissions"));
    let mut names: Vec<&str> = manifest.roles.iter().map(|r| r.role.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["deploy-apprunner", "deploy-ecs-express", "destroy", "push"]
    );
    for role in &manifest.roles {
        assert!(
            role.description.split_whitespace().count() >= 10,
            "{}: {}",
            role.role,
            role.description
        );
        assert!(!role.operations.is_empty(), "{}", role.role);
    }
}

#[test]
fn every_resource_and_data_source_is_in_the_manifest_with_the_arn_it_will_have() {
    for_each_case(|manifest, world, case, bucket| {
        let expander = Expander {
            manifest,
            world,
            placeholders: Placeholders {
                sample: &case.sample,
                name: case.name,
                state_bucket: bucket.to_owned(),
                probe_region: probe_region(&case.sample),
            },
        };
        let mut problems = Vec::new();
        for root in ROOTS {
            let listed = &manifest.stack(root).resources;
            let rendered = &world.root(root).instances;
            for instance in rendered {
                match expander.pattern_of(instance) {
                    Err(e) => problems.push(e),
                    Ok(None) => {
                        if instance.attr(instance.arn_attribute()).is_some() {
                            problems.push(format!(
                                "{root}: {} has an ARN; give its pattern, not none",
                                instance.address
                            ));
                        }
                    }
                    Ok(Some(pattern)) => {
                        let arn = instance.string(instance.arn_attribute());
                        if !iam::matches(&pattern, &arn) {
                            problems.push(format!(
                                "{root}: {} will be {arn}, which its pattern {pattern} does not match",
                                instance.address
                            ));
                        }
                    }
                }
            }
            // Optional resources exist only in the fullest case.
            for address in listed.keys().filter(|_| case.optional) {
                if !rendered.iter().any(|i| &i.address == address) {
                    problems.push(format!(
                        "infra/permissions/stacks: {root} lists {address}, which it does not have"
                    ));
                }
            }
        }
        problems
    });
}

/// The request contexts of a call against one target: one per value the
/// call may present (most calls have one), with the target's tags.
fn contexts(call: &Call, target: &manifest::Target) -> Vec<iam::RequestContext> {
    let mut base = iam::RequestContext::new();
    for (k, v) in &target.tags {
        base.insert(format!("aws:ResourceTag/{k}"), vec![v.clone()]);
    }
    let mut all = vec![base];
    for (key, values) in &call.context {
        all = all
            .into_iter()
            .flat_map(|ctx| {
                values.iter().map(move |v| {
                    let mut ctx = ctx.clone();
                    ctx.insert(key.clone(), vec![v.clone()]);
                    ctx
                })
            })
            .collect();
    }
    all
}

fn allowed(
    statements: &[iam::Statement],
    action: &str,
    arn: &str,
    ctx: &iam::RequestContext,
) -> Result<bool, String> {
    for st in statements {
        let action_ok = st.actions.iter().any(|a| iam::action_matches(a, action));
        let resource_ok = st.resources.iter().any(|r| iam::matches(r, arn));
        if action_ok
            && resource_ok
            && iam::conditions_hold(st, ctx).map_err(|e| format!("{}: {e}", st.sid))?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A value no condition of these policies should accept.
const FOREIGN: &str = "someone-else.example";

#[test]
fn every_call_of_every_operation_is_allowed_and_only_as_the_manifest_says() {
    for_each_case(|manifest, world, case, bucket| {
        let mut problems = Vec::new();
        for role in roles(manifest, world, case, bucket) {
            let mut check =
                |call: &Call, arn: &str, ctx: &iam::RequestContext, want: bool, how: &str| {
                    match allowed(&role.statements, &call.action, arn, ctx) {
                        Ok(got) if got == want => {}
                        Ok(_) => problems.push(format!(
                            "{}: {}: {} on {arn}{how} is {}{} (called by {})",
                            role.role,
                            call.operation,
                            call.action,
                            if want { "denied" } else { "allowed" },
                            call.address
                                .as_ref()
                                .map_or(String::new(), |a| format!(" for {a}")),
                            call.source
                        )),
                        Err(e) => problems.push(format!("{}: {e}", role.role)),
                    }
                };
            for call in &role.calls {
                for target in &call.targets {
                    for ctx in contexts(call, target) {
                        check(call, &target.concrete, &ctx, true, "");
                        // Every context the manifest declares is enforced:
                        // another value is refused.
                        for key in call.context.keys() {
                            let mut other = ctx.clone();
                            other.insert(key.clone(), vec![FOREIGN.to_owned()]);
                            check(
                                call,
                                &target.concrete,
                                &other,
                                false,
                                &format!(" with {key} = {FOREIGN}"),
                            );
                        }
                        // A resource only its tags identify: its twin, with
                        // another id and other tags, is refused.
                        if !target.identified_by.is_empty() {
                            let twin = target.pattern.replace('*', "twin0000-0000");
                            let mut other = ctx.clone();
                            for key in &target.identified_by {
                                other.insert(
                                    format!("aws:ResourceTag/{key}"),
                                    vec![FOREIGN.to_owned()],
                                );
                            }
                            check(
                                call,
                                &twin,
                                &other,
                                false,
                                &format!(" (a twin tagged {FOREIGN})"),
                            );
                        }
                    }
                }
            }
        }
        problems
    });
}

#[test]
fn no_role_is_allowed_anything_its_operations_do_not_call() {
    for_each_case(|manifest, world, case, bucket| {
        let mut problems = Vec::new();
        // A policy that cannot see the service stacks' settings must allow
        // their fullest configuration, so it is held to that one's calls.
        let fullest = Case {
            sample: case.sample.clone(),
            name: case.name,
            optional: true,
        };
        let (full_world, full_bucket) = render(&fullest);
        let full_roles = roles(manifest, &full_world, &fullest, &full_bucket);
        for role in roles(manifest, world, case, bucket) {
            let calls = if role.covers_optional_resources {
                &full_roles
                    .iter()
                    .find(|r| r.role == role.role)
                    .unwrap()
                    .calls
            } else {
                &role.calls
            };
            let mut by_action: BTreeMap<String, Vec<&manifest::Target>> = BTreeMap::new();
            for call in calls {
                by_action
                    .entry(call.action.to_ascii_lowercase())
                    .or_default()
                    .extend(call.targets.iter());
            }
            for st in &role.statements {
                // One service per statement (but for "*"), so that no
                // grant hides behind another service's resources.
                let mut services: Vec<&str> = st
                    .actions
                    .iter()
                    .filter_map(|a| a.split(':').next())
                    .collect();
                services.sort_unstable();
                services.dedup();
                if services.len() > 1 && st.resources != ["*"] {
                    problems.push(format!(
                        "{}: statement {} mixes {}: give each service its own statement",
                        role.role,
                        st.sid,
                        services.join(", ")
                    ));
                }
                for action in &st.actions {
                    if action.contains('*') || action.contains('?') {
                        problems.push(format!(
                            "{}: statement {} grants {action}, a wildcard: name the actions the calls need",
                            role.role, st.sid
                        ));
                    } else if !by_action.contains_key(&action.to_ascii_lowercase()) {
                        problems.push(format!(
                            "{}: statement {} grants {action}, which none of its operations calls",
                            role.role, st.sid
                        ));
                    }
                }
                for resource in &st.resources {
                    let mut serves_an_action = false;
                    for action in &st.actions {
                        let Some(targets) = by_action.get(&action.to_ascii_lowercase()) else {
                            continue;
                        };
                        // An action is never authorized against another
                        // service's resources unless a call says so.
                        let relevant = resource == "*"
                            || targets.iter().any(|t| {
                                t.pattern == "*" || arn_service(&t.pattern) == arn_service(resource)
                            });
                        if !relevant {
                            continue;
                        }
                        if targets.iter().any(|t| iam::includes(&t.pattern, resource)) {
                            serves_an_action = true;
                        } else {
                            let mut wanted: Vec<&str> =
                                targets.iter().map(|t| t.pattern.as_str()).collect();
                            wanted.sort_unstable();
                            wanted.dedup();
                            problems.push(format!(
                                "{}: statement {} grants {action} on {resource}, wider than its calls need: {}",
                                role.role,
                                st.sid,
                                wanted.join(", ")
                            ));
                        }
                    }
                    if !serves_an_action && !problems.iter().any(|p| p.contains(resource.as_str()))
                    {
                        problems.push(format!(
                            "{}: statement {} lists {resource}, which none of its actions needs",
                            role.role, st.sid
                        ));
                    }
                }
            }
        }
        problems
    });
}

/// A root's `name`, as Terraform will see it: its committed
/// terraform.tfvars, else the variable's default.
fn effective_name(root: &str) -> String {
    let dir = repo().join("infra").join(root);
    let literal = |path: PathBuf, block: Option<&str>| -> Option<String> {
        let body: hcl::Body = hcl::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        let attrs: Vec<&hcl::Attribute> = match block {
            None => body.attributes().collect(),
            Some(_) => body
                .blocks()
                .filter(|b| b.identifier() == "variable" && b.labels()[0].as_str() == "name")
                .flat_map(|b| b.body().attributes())
                .collect(),
        };
        let key = if block.is_some() { "default" } else { "name" };
        match attrs.into_iter().find(|a| a.key() == key)?.expr() {
            hcl::Expression::String(s) => Some(s.clone()),
            _ => None,
        }
    };
    literal(dir.join("terraform.tfvars"), None)
        .or_else(|| literal(dir.join("variables.tf"), Some("variable")))
        .unwrap_or_else(|| panic!("{root}: no name"))
}

#[test]
fn every_stack_keeps_its_state_encrypted_with_the_state_key_of_its_name() {
    let name = effective_name("bootstrap");
    let (world, _) = render(&CASES[0]);
    for root in &ROOTS[1..] {
        // Backend settings cannot use variables: a renamed project must
        // change kms_key_id too, and this says so.
        assert_eq!(
            effective_name(root),
            name,
            "{root}: every root must have the bootstrap's name"
        );
        let backend = &world.root(root).backend;
        assert_eq!(backend.get("encrypt"), Some(&Value::Bool(true)), "{root}");
        // Without kms_key_id, Terraform sends AES256 on every write, which
        // overrides the bucket's KMS default.
        assert_eq!(
            backend.get("kms_key_id"),
            Some(&Value::from(format!("alias/{name}-tfstate"))),
            "{root}: the backend must name the state key of project {name}"
        );
    }
}

#[test]
fn the_state_bucket_refuses_writes_that_ask_for_other_encryption_than_kms() {
    let (world, bucket) = render(&CASES[0]);
    let policy = world
        .root("bootstrap")
        .instance("data.aws_iam_policy_document.state")
        .string("json");
    let statements = iam::parse(&policy, iam::Kind::Resource).unwrap();
    let object = format!("arn:aws:s3:::{bucket}/stacks/terraform.tfstate");
    let denied = |header: Option<&str>| {
        let mut ctx = iam::RequestContext::new();
        if let Some(h) = header {
            ctx.insert("s3:x-amz-server-side-encryption".into(), vec![h.into()]);
        }
        ctx.insert("aws:SecureTransport".into(), vec!["true".into()]);
        statements.iter().any(|st| {
            st.deny
                && st
                    .actions
                    .iter()
                    .any(|a| iam::action_matches(a, "s3:PutObject"))
                && st.resources.iter().any(|r| iam::matches(r, &object))
                && iam::conditions_hold(st, &ctx).unwrap()
        })
    };
    assert!(
        denied(Some("AES256")),
        "an AES256 write would override the KMS default"
    );
    assert!(
        !denied(Some("aws:kms")),
        "Terraform's writes with kms_key_id"
    );
    assert!(
        !denied(None),
        "a write without the header gets the KMS default"
    );
}

/// The rendered policy documents, one file per role, for parliament.
fn rendered_policies() -> PathBuf {
    let manifest = Manifest::load(&repo().join("infra/permissions"));
    let (world, bucket) = render(&CASES[0]);
    let dir = repo().join("target/permissions");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for role in roles(&manifest, &world, &CASES[0], &bucket) {
        let pretty: serde_json::Value = serde_json::from_str(&role.policy_json).unwrap();
        std::fs::write(
            dir.join(format!("{}.json", role.role)),
            serde_json::to_string_pretty(&pretty).unwrap(),
        )
        .unwrap();
    }
    dir
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Suppression {
    role: String,
    issue: String,
    actions: Vec<String>,
    reason: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Suppressions {
    suppressions: Vec<Suppression>,
}

#[test]
#[ignore = "needs parliament: run scripts/test.sh"]
fn parliament_finds_nothing_at_medium_or_above_but_the_accepted() {
    let parliament = std::env::var("PARLIAMENT")
        .expect("PARLIAMENT names the parliament executable; run scripts/test.sh");
    let accepted: Suppressions = serde_yaml::from_str(
        &std::fs::read_to_string(repo().join("infra/permissions/parliament.yaml")).unwrap(),
    )
    .unwrap();
    let dir = rendered_policies();
    let output = std::process::Command::new(parliament)
        .arg("--directory")
        .arg(&dir)
        .args(["--include_policy_extension", ".json"])
        .args([
            "--minimum_severity",
            "MEDIUM",
            "--include-community-auditors",
            "--json",
        ])
        .output()
        .expect("parliament runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.trim().is_empty(), "parliament: {stderr}");
    let mut used = vec![false; accepted.suppressions.len()];
    let mut unexpected = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let finding: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let role = Path::new(finding["location"]["filepath"].as_str().unwrap_or_default())
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // The actions a finding is about: in its location for the community
        // auditors, in its detail for the resource checks.
        let mut actions: Vec<String> = finding["location"]["actions"]
            .as_array()
            .or_else(|| finding["detail"].as_array())
            .map(|l| {
                l.iter()
                    .filter_map(|a| a.as_str().or_else(|| a["action"].as_str()))
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default();
        actions.sort();
        let known = accepted.suppressions.iter().position(|s| {
            s.role == role
                && s.issue == finding["issue"]
                && s.actions == actions
                && !s.reason.trim().is_empty()
        });
        match known {
            Some(i) => used[i] = true,
            None => unexpected.push(line.to_owned()),
        }
    }
    let stale: Vec<_> = accepted
        .suppressions
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|(s, _)| format!("{} {}", s.role, s.issue))
        .collect();
    assert!(
        unexpected.is_empty(),
        "parliament over {}:\n{}",
        dir.display(),
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "infra/permissions/parliament.yaml accepts findings parliament no longer makes: {stale:?}"
    );
    let rendered = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(
        rendered,
        Manifest::load(&repo().join("infra/permissions"))
            .roles
            .len()
    );
}
