//! Invariants of the Terraform under infra/, checked offline by parsing it:
//! `terraform validate` needs the provider registry, which these machines
//! cannot reach, so CI's GitHub workflow runs that instead.

use hcl::{Block, Body, Expression};
use sre_kata::config::Config;
use sre_kata::route::{route, Health, RequestHead};
use std::path::{Path, PathBuf};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every .tf file under infra/, parsed.
fn terraform_files() -> Vec<(PathBuf, Body)> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() && !name.starts_with('.') {
                walk(&path, found);
            } else if name.ends_with(".tf") {
                found.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&repo().join("infra"), &mut paths);
    paths.sort();
    assert!(paths.len() > 20, "found only {paths:?}");
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let body = hcl::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, body)
        })
        .collect()
}

/// Blocks of a kind (e.g. "variable") in a body, with their first label.
fn blocks<'b>(body: &'b Body, kind: &str) -> Vec<(&'b str, &'b Block)> {
    body.blocks()
        .filter(|b| b.identifier() == kind)
        .map(|b| (b.labels().first().map_or("", |l| l.as_str()), b))
        .collect()
}

fn attribute<'b>(block: &'b Block, key: &str) -> Option<&'b Expression> {
    block
        .body()
        .attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr())
}

/// The default of `variable "<name>"` in a module's variables.tf.
fn module_default(module: &str, name: &str) -> Expression {
    let path = repo()
        .join("infra/modules")
        .join(module)
        .join("variables.tf");
    let body: Body = hcl::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let (_, block) = blocks(&body, "variable")
        .into_iter()
        .find(|(label, _)| *label == name)
        .unwrap_or_else(|| panic!("{module} has no variable {name}"));
    attribute(block, "default").unwrap().clone()
}

#[test]
fn the_port_in_terraform_is_the_binarys_default() {
    let port = Config::from_lookup(|_| None, 1).unwrap().addr.port();
    for module in ["apprunner-service", "ecs-express-service"] {
        assert_eq!(
            module_default(module, "port"),
            Expression::from(u64::from(port)),
            "{module}"
        );
    }
    let containerfile = std::fs::read_to_string(repo().join("Containerfile")).unwrap();
    let exposed: Vec<&str> = containerfile
        .lines()
        .filter_map(|line| line.strip_prefix("EXPOSE "))
        .collect();
    assert_eq!(exposed, [port.to_string()], "the Containerfile's EXPOSE");
}

#[test]
fn the_health_path_in_terraform_is_the_one_the_binary_serves() {
    for module in ["apprunner-service", "ecs-express-service"] {
        let Expression::String(path) = module_default(module, "health_check_path") else {
            panic!("{module}: health_check_path default is not a string");
        };
        let head = RequestHead {
            method: "GET",
            target: &path,
            declares_body: false,
        };
        assert_eq!(
            route(&head, Health::Serving, 8192).status,
            200,
            "{module}: {path}"
        );
        assert_eq!(
            route(&head, Health::Draining, 8192).status,
            503,
            "{module}: {path}"
        );
    }
}

#[test]
fn images_are_deployed_by_digest_only() {
    let mut image_variables = 0;
    for (path, body) in terraform_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        // Where a module runs an image, it is the validated variable.
        for key in ["image_identifier", "image"] {
            for line in text.lines().map(str::trim) {
                if let Some(value) = line.strip_prefix(key).map(str::trim_start) {
                    if let Some(value) = value.strip_prefix('=') {
                        assert_eq!(value.trim(), "var.image", "{}: {line}", path.display());
                    }
                }
            }
        }
        for (_, variable) in blocks(&body, "variable")
            .into_iter()
            .filter(|(l, _)| *l == "image")
        {
            image_variables += 1;
            let in_module = path.components().any(|c| c.as_os_str() == "modules");
            if in_module {
                let validation = variable
                    .body()
                    .blocks()
                    .find(|b| b.identifier() == "validation")
                    .unwrap_or_else(|| panic!("{}: image has no validation", path.display()));
                let condition = attribute(validation, "condition").unwrap().to_string();
                assert!(
                    condition.contains("@sha256:[0-9a-f]{64}$"),
                    "{}: {condition}",
                    path.display()
                );
            }
        }
    }
    assert_eq!(
        image_variables, 4,
        "two modules and two stacks take an image"
    );
}

/// True if the line holds an image reference with the tag `latest`, such as
/// `nginx:latest` or `repo/app:LATEST` (prose that mentions `:latest` alone
/// does not count).
fn names_latest_tag(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.match_indices(":latest").any(|(at, _)| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + ":latest".len()..].chars().next();
        before.is_some_and(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
            && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

#[test]
fn the_latest_tag_detector_finds_image_references_only() {
    assert!(names_latest_tag(r#"image = "nginx:latest""#));
    assert!(names_latest_tag("FROM registry.example/app:LATEST"));
    assert!(!names_latest_tag("no file names a `:latest` tag"));
    assert!(!names_latest_tag("image: app:latest-but-pinned"));
    assert!(!names_latest_tag("app@sha256:0123"));
}

#[test]
fn no_file_names_an_image_by_a_mutable_tag() {
    let listed = std::process::Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .current_dir(repo())
        .output()
        .unwrap();
    let files = String::from_utf8(listed.stdout).unwrap();
    let mut checked = 0;
    for file in files
        .lines()
        .filter(|f| !f.starts_with("vendor/") && !f.starts_with("tests/"))
    {
        let Ok(text) = std::fs::read_to_string(repo().join(file)) else {
            continue;
        };
        checked += 1;
        for (number, line) in text.lines().enumerate() {
            assert!(
                !names_latest_tag(line),
                "{file}:{}: a mutable tag: {line}",
                number + 1
            );
        }
    }
    assert!(checked > 30, "checked only {checked} files");
}

#[test]
fn every_variable_is_typed_and_described_and_every_output_described() {
    for (path, body) in terraform_files() {
        for (name, variable) in blocks(&body, "variable") {
            for key in ["type", "description"] {
                assert!(
                    attribute(variable, key).is_some(),
                    "{}: variable {name} lacks {key}",
                    path.display()
                );
            }
        }
        for (name, output) in blocks(&body, "output") {
            assert!(
                attribute(output, "description").is_some(),
                "{}: output {name}",
                path.display()
            );
        }
    }
}

#[test]
fn every_module_and_stack_has_the_standard_files_and_a_version_floor() {
    let mut roots: Vec<PathBuf> = vec![repo().join("infra/bootstrap")];
    for parent in ["infra/modules", "infra/stacks"] {
        for entry in std::fs::read_dir(repo().join(parent)).unwrap() {
            roots.push(entry.unwrap().path());
        }
    }
    assert!(roots.len() >= 13, "{roots:?}");
    for root in roots {
        for file in ["versions.tf", "variables.tf", "main.tf", "outputs.tf"] {
            assert!(root.join(file).is_file(), "{} lacks {file}", root.display());
        }
        let versions = std::fs::read_to_string(root.join("versions.tf")).unwrap();
        assert!(
            versions.contains("required_version = \">= 1.10\""),
            "{}",
            root.display()
        );
    }
}

#[test]
fn stacks_keep_state_in_s3_with_native_locking() {
    for stack in ["registry", "apprunner", "ecs-express"] {
        let path = repo().join("infra/stacks").join(stack).join("versions.tf");
        let body: Body = hcl::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let terraform = blocks(&body, "terraform").pop().unwrap().1;
        let backend = terraform
            .body()
            .blocks()
            .find(|b| b.identifier() == "backend")
            .unwrap_or_else(|| panic!("{stack} has no backend"));
        assert_eq!(backend.labels()[0].as_str(), "s3", "{stack}");
        assert_eq!(
            attribute(backend, "use_lockfile"),
            Some(&Expression::Bool(true)),
            "{stack}"
        );
        assert_eq!(
            attribute(backend, "key"),
            Some(&Expression::from(format!("{stack}/terraform.tfstate"))),
            "{stack}: the deploy role may touch only <stack>/ in the bucket"
        );
    }
}

/// Variables the scripts pass themselves, which are not settings.
const PASSED_BY_SCRIPTS: [&str; 4] = [
    "image",
    "state_bucket",
    "load_balancer_arn",
    "target_group_arns",
];

#[test]
fn every_stack_setting_is_in_its_example_and_its_settings_file_is_committed() {
    for stack in ["registry", "apprunner", "ecs-express"] {
        let dir = repo().join("infra/stacks").join(stack);
        let example = std::fs::read_to_string(dir.join("terraform.tfvars.example")).unwrap();
        assert!(dir.join("terraform.tfvars").is_file(), "{stack}");
        let variables: Body =
            hcl::from_str(&std::fs::read_to_string(dir.join("variables.tf")).unwrap()).unwrap();
        for (name, _) in blocks(&variables, "variable") {
            if PASSED_BY_SCRIPTS.contains(&name) {
                assert!(
                    !example.contains(&format!("\n{name} =")),
                    "{stack}: {name} is the scripts'"
                );
                continue;
            }
            let mentioned = example.lines().any(|l| {
                let l = l.trim_start_matches('#').trim_start();
                l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}="))
            });
            assert!(
                mentioned,
                "{stack}: terraform.tfvars.example does not show {name}"
            );
        }
    }
}

/// The provider version every root pins, exactly: without a lock file
/// (none can be made where the registry is out of reach), a range would let
/// each `terraform init` in CI take the newest release, and a new release
/// could change a release's plan, and its rollback's, mid-incident.
const PROVIDER: &str = "6.62.0";

#[test]
fn roots_pin_the_provider_and_modules_need_the_one_with_express_mode() {
    let (mut roots, mut modules) = (0, 0);
    for (path, body) in terraform_files() {
        let root = !path.to_string_lossy().contains("/infra/modules/");
        for (_, terraform) in blocks(&body, "terraform") {
            for providers in terraform
                .body()
                .blocks()
                .filter(|b| b.identifier() == "required_providers")
            {
                let aws =
                    attribute(providers, "aws").unwrap_or_else(|| panic!("{}", path.display()));
                let text = format!("{aws}");
                // aws_ecs_express_gateway_service arrived in 6.23.
                let wanted = if root {
                    roots += 1;
                    format!("\"= {PROVIDER}\"")
                } else {
                    modules += 1;
                    "\">= 6.23, < 7.0\"".to_owned()
                };
                assert!(text.contains(&wanted), "{}: {text}", path.display());
            }
        }
    }
    assert!(
        roots >= 4 && modules >= 10,
        "{roots} roots, {modules} modules"
    );
}

/// Terraform's lower() and replace() (literal form), for the WAF's locals.
fn waf_host_patterns(host: &str) -> Vec<String> {
    use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
    fn lower(args: FuncArgs) -> Result<hcl::Value, String> {
        Ok(hcl::Value::from(args[0].as_str().unwrap().to_lowercase()))
    }
    fn replace(args: FuncArgs) -> Result<hcl::Value, String> {
        let [s, from, to] = [0, 1, 2].map(|i| args[i].as_str().unwrap().to_owned());
        assert!(
            !from.starts_with('/'),
            "a regex replace() is not modelled here"
        );
        Ok(hcl::Value::from(s.replace(&from, &to)))
    }
    let path = repo().join("infra/modules/waf/main.tf");
    let body: Body = hcl::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (_, locals) = blocks(&body, "locals")
        .into_iter()
        .find(|(_, b)| attribute(b, "hosts").is_some())
        .expect("the WAF module's local hosts");
    let mut ctx = Context::new();
    ctx.declare_var("var", hcl::value!({ host = (host) }));
    ctx.declare_func(
        "lower",
        FuncDef::builder().param(ParamType::String).build(lower),
    );
    ctx.declare_func(
        "replace",
        FuncDef::builder()
            .params([ParamType::String, ParamType::String, ParamType::String])
            .build(replace),
    );
    let value = attribute(locals, "hosts").unwrap().evaluate(&ctx).unwrap();
    let hcl::Value::Array(items) = value else {
        panic!("{value:?}")
    };
    items
        .into_iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_waf_takes_every_spelling_of_the_services_host_as_its_own() {
    // Rule 0 lets requests for *other* hosts pass unjudged and unlogged, so
    // any spelling of ours that it missed would skip every rule. WAF
    // lowercases the Host header first; the load balancer ignores a port
    // and a trailing dot when it routes.
    let host = "AbC12.ecs.eu-west-1.on.aws";
    let patterns = waf_host_patterns(host);
    assert_eq!(patterns.len(), 1);
    let ours = regex::Regex::new(&patterns[0]).unwrap();
    for spelling in [
        "abc12.ecs.eu-west-1.on.aws",
        "abc12.ecs.eu-west-1.on.aws:443",
        "abc12.ecs.eu-west-1.on.aws.",
        "abc12.ecs.eu-west-1.on.aws.:443",
    ] {
        assert!(ours.is_match(spelling), "{spelling} must get every rule");
    }
    for other in [
        "other.ecs.eu-west-1.on.aws",
        "abc12xecs.eu-west-1.on.aws",
        "abc12.ecs.eu-west-1.on.aws.evil.example",
        "xabc12.ecs.eu-west-1.on.aws",
        "abc12.ecs.eu-west-1.on.aws:443x",
        "",
    ] {
        assert!(!ours.is_match(other), "{other:?} is another host");
    }
    assert!(patterns[0].len() <= 512, "WAF's limit on a regex_string");
}

/// One image in a simulated repository: its tags, and when it was pushed.
struct Image {
    tags: Vec<String>,
    pushed: usize,
}

/// ECR's lifecycle evaluation, as its user guide states it ("Lifecycle
/// policy evaluation rules"): each rule selects images by tag; with
/// imageCountMoreThan it sorts them newest first and marks those beyond
/// the count; an image is expired by exactly one rule or none, and an
/// image a higher-priority rule selected is never expired by a lower one.
/// Whether a lower rule still counts those images is not stated
/// ("can still identify them as if they haven't been expired"), so both
/// readings are simulated. Returns which images survive.
fn lifecycle_survivors(
    rules: &[serde_json::Value],
    images: &[Image],
    lower_rules_count_seen: bool,
) -> Vec<bool> {
    let selects =
        |selection: &serde_json::Value, image: &Image| match selection["tagStatus"].as_str() {
            Some("any") => true,
            Some("untagged") => image.tags.is_empty(),
            Some("tagged") => selection["tagPrefixList"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| {
                    image
                        .tags
                        .iter()
                        .any(|t| t.starts_with(p.as_str().unwrap()))
                }),
            other => panic!("tagStatus {other:?}"),
        };
    let mut rules: Vec<&serde_json::Value> = rules.iter().collect();
    rules.sort_by_key(|r| r["rulePriority"].as_u64().unwrap());
    let mut seen = vec![false; images.len()];
    let mut expired = vec![false; images.len()];
    for rule in rules {
        let selection = &rule["selection"];
        let mut chosen: Vec<usize> = (0..images.len())
            .filter(|&i| selects(selection, &images[i]))
            .filter(|&i| lower_rules_count_seen || !seen[i])
            .collect();
        chosen.sort_by_key(|&i| std::cmp::Reverse(images[i].pushed));
        if selection["countType"] == "imageCountMoreThan" {
            let keep = selection["countNumber"].as_u64().unwrap() as usize;
            for &i in chosen.iter().skip(keep) {
                if !seen[i] {
                    expired[i] = true;
                }
            }
        }
        for &i in &chosen {
            seen[i] = true;
        }
    }
    expired.iter().map(|e| !e).collect()
}

#[test]
fn ecr_keeps_every_rollback_target_with_what_proves_it() {
    use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
    fn identity(args: FuncArgs) -> Result<hcl::Value, String> {
        Ok(args[0].clone())
    }
    fn max(args: FuncArgs) -> Result<hcl::Value, String> {
        let numbers: Vec<u64> = args.iter().map(|a| a.as_u64().unwrap()).collect();
        Ok(hcl::Value::from(*numbers.iter().max().unwrap()))
    }
    let path = repo().join("infra/modules/ecr/main.tf");
    let body: Body = hcl::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (_, policy) = blocks(&body, "resource")
        .into_iter()
        .find(|(kind, _)| *kind == "aws_ecr_lifecycle_policy")
        .expect("a lifecycle policy");
    let (keep, keep_good) = (50, 10);
    let mut ctx = Context::new();
    ctx.declare_var(
        "var",
        hcl::value!({ keep_images = 50, keep_good_images = 10, untagged_expiry_days = 1 }),
    );
    ctx.declare_func(
        "jsonencode",
        FuncDef::builder().param(ParamType::Any).build(identity),
    );
    ctx.declare_func(
        "max",
        FuncDef::builder()
            .variadic_param(ParamType::Number)
            .build(max),
    );
    let value = attribute(policy, "policy").unwrap().evaluate(&ctx).unwrap();
    let rules = serde_json::to_value(&value).unwrap()["rules"]
        .as_array()
        .unwrap()
        .clone();

    // What scripts/last-good.sh tags, and what cosign names.
    let script = std::fs::read_to_string(repo().join("scripts/last-good.sh")).unwrap();
    for tag in [
        "\"good-$hex\"",
        "\"good-$hex.sig\"",
        "\"good-$hex.att\"",
        "\"imageTag=sha256-$hex.sig\"",
        "\"imageTag=sha256-$hex.att\"",
    ] {
        assert!(script.contains(tag), "last-good.sh no longer tags {tag}");
    }

    // A history: 400 releases, each an image, its .sig and its .att; the
    // releases recorded as good get good- tags on all three. Some stretches
    // have no good release at all (failed releases, or ones never deployed).
    let good = |release: usize| release < 150 && release % 3 == 0 || (200..210).contains(&release);
    let releases = 400;
    let mut images = Vec::new();
    for r in 0..releases {
        let hex = format!("{r:064x}");
        for (kind, offset) in [("", 0), (".sig", 1), (".att", 2)] {
            let mut tags = vec![if kind.is_empty() {
                format!("commit{r}-{}", &hex[..12])
            } else {
                format!("sha256-{hex}{kind}")
            }];
            if good(r) {
                tags.push(format!("good-{hex}{kind}"));
            }
            images.push(Image {
                tags,
                pushed: 3 * r + offset,
            });
        }
    }
    for lower_rules_count_seen in [true, false] {
        let alive = lifecycle_survivors(&rules, &images, lower_rules_count_seen);
        let whole = |r: usize| (0..3).all(|k| alive[3 * r + k]);
        // Rollback to any of the newest keep_images releases, verified.
        for r in releases - keep..releases {
            assert!(whole(r), "release {r}, one of the newest {keep}");
        }
        // Every good release among the newest max(keep, keep_good) good
        // ones, however old: the newest keep_good of them at least.
        let goods: Vec<usize> = (0..releases).rev().filter(|&r| good(r)).collect();
        for &r in goods.iter().take(keep.max(keep_good)) {
            assert!(whole(r), "good release {r} ({lower_rules_count_seen})");
        }
        // Nothing is kept for ever: old releases go, with their signatures.
        assert!(!alive[0] && !alive[3 * 151] && !alive[3 * 151 + 1]);
        let kept = alive.iter().filter(|a| **a).count();
        assert!(
            kept <= 3 * (keep + keep.max(keep_good)) + 2 * keep,
            "{kept} images kept"
        );
    }
}

#[test]
fn ecr_tags_are_immutable_but_cosigns_signature_tags() {
    let text = std::fs::read_to_string(repo().join("infra/modules/ecr/main.tf")).unwrap();
    assert!(text.contains("image_tag_mutability = \"IMMUTABLE_WITH_EXCLUSION\""));
    let body: Body = hcl::from_str(&text).unwrap();
    let (_, repository) = blocks(&body, "resource")
        .into_iter()
        .find(|(kind, _)| *kind == "aws_ecr_repository")
        .unwrap();
    let filters = repository
        .body()
        .blocks()
        .find(|b| {
            b.identifier() == "dynamic"
                && b.labels()[0].as_str() == "image_tag_mutability_exclusion_filter"
        })
        .expect("exclusion filters");
    let listed = attribute(filters, "for_each").unwrap().to_string();
    // Exactly cosign's two tags: a release's own tag and its good- tags
    // must never move.
    assert!(
        listed.contains("\"sha256-*.sig\"") && listed.contains("\"sha256-*.att\""),
        "{listed}"
    );
    assert_eq!(listed.matches('"').count(), 4, "{listed}");
}

/// Every CloudWatch Logs filter pattern uses only documented JSON forms: a
/// bare postfix `EXISTS` is not one (`NOT EXISTS` and `IS NULL` are), so
/// AWS would refuse the filter at apply, or read it otherwise.
#[test]
fn metric_filter_patterns_use_only_documented_forms() {
    let text =
        std::fs::read_to_string(repo().join("infra/modules/ecs-express-service/main.tf")).unwrap();
    let patterns: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pattern"))
        .collect();
    assert!(patterns.len() >= 2, "{patterns:?}");
    for pattern in patterns {
        let bare_exists = pattern
            .match_indices(" EXISTS")
            .any(|(at, _)| !pattern[..at].ends_with(" NOT"));
        assert!(!bare_exists, "{pattern}");
    }
}

#[test]
fn what_terraform_writes_on_an_operators_machine_leaves_the_tree_clean() {
    // push.sh refuses a dirty tree: bootstrap.sh and the first deploy must
    // not dirty it (lock files are not committed: .gitignore says why).
    for path in [
        "infra/bootstrap/.terraform.lock.hcl",
        "infra/bootstrap/terraform.tfstate",
        "infra/bootstrap/bootstrap.tfplan",
        "infra/stacks/registry/.terraform.lock.hcl",
        "infra/stacks/registry/.terraform/terraform.tfstate",
        "infra/stacks/ecs-express/deploy.tfplan",
        "infra/stacks/apprunner/.terraform.lock.hcl",
    ] {
        let ignored = std::process::Command::new("git")
            .args(["check-ignore", "--quiet", "--no-index", path])
            .current_dir(repo())
            .status()
            .unwrap();
        assert!(ignored.success(), "{path} is not ignored");
    }
}
