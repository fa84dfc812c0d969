//! The SLOs' alerts, dashboards and runbooks, checked on the service stacks
//! as Terraform would render them (the renderer of `tests/permissions`),
//! with sample inputs:
//!
//! - every burn-rate alarm's threshold and windows follow from the SLO
//!   variables by the Google SRE Workbook's formulas ("Alerting on SLOs",
//!   multiwindow, multi-burn-rate alerts), and a changed availability
//!   target moves exactly the availability and probe thresholds;
//! - every alert is both its windows in alarm, and notifies its severity's
//!   topic;
//! - every metric an alarm or a dashboard names is in AWS's documented
//!   list for its namespace, with a documented set of dimensions
//!   (`cloudwatch-metrics.yaml` names the source pages);
//! - each dashboard body has CloudWatch's dashboard body structure;
//! - every alarm's description ends with a link to a heading of
//!   `docs/operations.md`.

#[path = "../permissions/terraform.rs"]
#[allow(dead_code)]
mod terraform;

#[path = "../support/markdown.rs"]
mod markdown;

use hcl::{Map, Value};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use terraform::{Instance, Sample, World};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const SAMPLE: Sample = Sample {
    partition: "aws",
    account: "123456789012",
    region: "eu-west-1",
};

const STACKS: [&str; 2] = ["stacks/apprunner", "stacks/ecs-express"];

/// The workbook's recommended alerts for a 99.9 % SLO over 30 days, as
/// (severity, share of the budget in %, long window, short window), in
/// minutes: page on 2 % in 1 h (and 5 min) or 5 % in 6 h (and 30 min),
/// open a ticket on 10 % in 3 days (and 6 h).
const WORKBOOK: [(&str, f64, u64, u64); 3] = [
    ("page", 2.0, 60, 5),
    ("page", 5.0, 360, 30),
    ("ticket", 10.0, 4320, 360),
];

/// A stack rendered with sample inputs and `overrides` on top, as in its
/// terraform.tfvars.
fn render(stack: &str, overrides: &[(&str, Value)]) -> World {
    let mut inputs = Map::new();
    inputs.insert(
        "github_repository".into(),
        Value::from("example-org/sre-kata"),
    );
    inputs.insert(
        "state_bucket".into(),
        Value::from("sre-kata-tfstate-123456789012-eu-west-1"),
    );
    inputs.insert(
        "image".into(),
        Value::from(format!(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sre-kata@sha256:{}",
            "ab".repeat(32)
        )),
    );
    if stack.ends_with("ecs-express") {
        inputs.insert(
            "load_balancer_arn".into(),
            Value::from("arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/ecs-express-gateway-alb-x/0123456789abcdef"),
        );
        // Both target groups a deployment may move traffic between.
        inputs.insert(
            "target_group_arns".into(),
            Value::Array(vec![
                Value::from("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ecs-express-gateway-tg-x/fedcba9876543210"),
                Value::from("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ecs-express-gateway-tg-y/0123456789fedcba"),
            ]),
        );
    }
    for (k, v) in overrides {
        inputs.insert((*k).to_owned(), v.clone());
    }
    let mut world = World::default();
    world.render(&repo().join("infra"), stack, inputs, &SAMPLE);
    world
}

/// Every stack as it can be: App Runner, ECS Express once deploy.sh found
/// its load balancer, and ECS Express at its first apply, before.
fn every_stack() -> Vec<(&'static str, World)> {
    let first_apply = [
        ("load_balancer_arn", Value::Null),
        ("target_group_arns", Value::Array(vec![])),
    ];
    vec![
        ("stacks/apprunner", render("stacks/apprunner", &[])),
        ("stacks/ecs-express", render("stacks/ecs-express", &[])),
        (
            "stacks/ecs-express",
            render("stacks/ecs-express", &first_apply),
        ),
    ]
}

#[test]
fn before_its_load_balancer_is_known_ecs_express_has_the_probe_and_no_edge_alarms() {
    let world = render(
        "stacks/ecs-express",
        &[
            ("load_balancer_arn", Value::Null),
            ("target_group_arns", Value::Array(vec![])),
        ],
    );
    let root = world.root("stacks/ecs-express");
    assert!(!root
        .instances
        .iter()
        .any(|i| i.address.starts_with("module.observability.module.slo[")));
    assert!(root.instances.iter().any(|i| i
        .address
        .starts_with("module.observability.module.probe.module.slo.")));
}

/// A variable's default in a stack's variables.tf: the tests take the SLOs
/// from the code, never typed in twice.
fn default_of(stack: &str, name: &str) -> f64 {
    let text =
        std::fs::read_to_string(repo().join("infra").join(stack).join("variables.tf")).unwrap();
    let body: hcl::Body = hcl::from_str(&text).unwrap();
    let block = body
        .blocks()
        .find(|b| b.identifier() == "variable" && b.labels()[0].as_str() == name)
        .unwrap_or_else(|| panic!("{stack}: no variable {name}"));
    let default = block
        .body()
        .attributes()
        .find(|a| a.key() == "default")
        .unwrap_or_else(|| panic!("{stack}: {name} has no default"));
    match default.expr() {
        hcl::Expression::Number(n) => n.as_f64().unwrap(),
        other => panic!("{stack}: {name} defaults to {other:?}"),
    }
}

fn number(i: &Instance, key: &str) -> f64 {
    i.attr(key)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{}: {key} is {:?}", i.address, i.attr(key)))
}

/// A window's name, as the alarm names carry it.
fn label(minutes: u64) -> String {
    if minutes % 1440 == 0 {
        format!("{}d", minutes / 1440)
    } else if minutes % 60 == 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// The SLOs of a stack: name, the module that alerts on it, and its
/// objective (the probe keeps the availability promise, seen from outside).
fn slos(availability: f64, latency: f64) -> [(&'static str, &'static str, f64); 3] {
    [
        (
            "availability",
            "module.observability.module.slo[\"availability\"].",
            availability,
        ),
        (
            "latency",
            "module.observability.module.slo[\"latency\"].",
            latency,
        ),
        (
            "probe",
            "module.observability.module.probe.module.slo.",
            availability,
        ),
    ]
}

/// An object's field.
fn field<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    value.as_object().and_then(|m| m.get(key))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
}

/// Checks every burn-rate alarm and alert of a rendered stack against the
/// workbook's formulas for these objectives; returns each window alarm's
/// threshold by name.
fn check_alerts(
    world: &World,
    stack: &str,
    availability: f64,
    latency: f64,
) -> BTreeMap<String, f64> {
    let root = world.root(stack);
    let days = default_of(stack, "slo_window_days");
    let prefix = format!("sre-kata-{}", stack.trim_start_matches("stacks/"));
    let mut thresholds = BTreeMap::new();
    let id_re = regex::Regex::new(r"\b[a-z][a-z0-9_]*\b").unwrap();
    for (slo, module, objective) in slos(availability, latency) {
        let budget = (100.0 - objective) / 100.0;
        let windows = root
            .instances
            .iter()
            .filter(|i| i.address.starts_with(module) && i.kind == "aws_cloudwatch_metric_alarm")
            .count();
        assert_eq!(
            windows,
            2 * WORKBOOK.len(),
            "{stack} {slo}: one alarm per window"
        );
        for (severity, share, long, short) in WORKBOOK {
            let burn = share / 100.0 * days * 1440.0 / long as f64;
            for minutes in [long, short] {
                let key = format!("{severity}-{}", label(minutes));
                let alarm = root.instance(&format!(
                    "{module}aws_cloudwatch_metric_alarm.window[\"{key}\"]"
                ));
                let name = format!("{prefix}-{slo}-{key}");
                assert_eq!(alarm.string("alarm_name"), name);
                let threshold = number(alarm, "threshold");
                assert!(
                    close(threshold, burn * budget),
                    "{name}: threshold {threshold}, the workbook's {burn} x {budget} = {}",
                    burn * budget
                );
                assert_eq!(
                    alarm.string("comparison_operator"),
                    "GreaterThanThreshold",
                    "{name}"
                );
                assert_eq!(number(alarm, "evaluation_periods"), 1.0, "{name}");
                assert_eq!(number(alarm, "datapoints_to_alarm"), 1.0, "{name}");
                let queries = alarm
                    .attr("metric_query")
                    .and_then(Value::as_array)
                    .unwrap();
                let returned: Vec<&Value> = queries
                    .iter()
                    .filter(|q| field(q, "return_data") == Some(&Value::Bool(true)))
                    .collect();
                assert_eq!(returned.len(), 1, "{name}");
                assert!(
                    field(returned[0], "expression")
                        .and_then(Value::as_str)
                        .unwrap()
                        .contains("bad / valid"),
                    "{name}"
                );
                // PutMetricAlarm takes at most 10 queries, and every id an
                // expression names is one of them.
                assert!(queries.len() <= 10, "{name}: {} queries", queries.len());
                let ids: Vec<&str> = queries
                    .iter()
                    .filter_map(|q| field(q, "id").and_then(Value::as_str))
                    .collect();
                for e in queries
                    .iter()
                    .filter_map(|q| field(q, "expression").and_then(Value::as_str))
                {
                    for word in id_re.find_iter(e).map(|m| m.as_str()) {
                        assert!(
                            ids.contains(&word),
                            "{name}: {e} names {word}, which no query is"
                        );
                    }
                }
                let mut metrics = 0;
                for q in queries {
                    if let Some(Value::Array(metric)) = q.as_object().and_then(|q| q.get("metric"))
                    {
                        let period = field(&metric[0], "period").and_then(Value::as_f64).unwrap();
                        assert_eq!(period, (minutes * 60) as f64, "{name}: {q:?}");
                        metrics += 1;
                    }
                }
                assert!(metrics >= 1, "{name}");
                thresholds.insert(name, threshold);
            }
        }
        for severity in ["page", "ticket"] {
            let alert = root.instance(&format!(
                "{module}aws_cloudwatch_composite_alarm.alert[\"{severity}\"]"
            ));
            let rule = WORKBOOK
                .iter()
                .filter(|w| w.0 == severity)
                .map(|(_, _, long, short)| {
                    format!(
                        "(ALARM(\"{prefix}-{slo}-{severity}-{}\") AND ALARM(\"{prefix}-{slo}-{severity}-{}\"))",
                        label(*long),
                        label(*short)
                    )
                })
                .collect::<Vec<_>>()
                .join(" OR ");
            assert_eq!(alert.string("alarm_rule"), rule, "{stack} {slo} {severity}");
            let topic_module = if slo == "probe" {
                "module.observability.module.probe.module.topics."
            } else {
                "module.observability.module.topics."
            };
            let topic = root
                .instance(&format!("{topic_module}aws_sns_topic.this[\"{severity}\"]"))
                .string("arn");
            for actions in ["alarm_actions", "ok_actions"] {
                assert_eq!(
                    alert.attr(actions),
                    Some(&Value::Array(vec![Value::from(topic.clone())])),
                    "{stack} {slo} {severity}: {actions}"
                );
            }
            // The alarms and the topic are where the metrics are.
            let region = if slo == "probe" {
                "us-east-1"
            } else {
                SAMPLE.region
            };
            assert!(
                alert.string("arn").contains(&format!(":{region}:")),
                "{}",
                alert.string("arn")
            );
            assert!(topic.contains(&format!(":{region}:")), "{topic}");
        }
    }
    thresholds
}

#[test]
fn burn_rate_alarms_follow_the_workbook_from_the_slo_variables() {
    for stack in STACKS {
        let world = render(stack, &[]);
        check_alerts(
            &world,
            stack,
            default_of(stack, "availability_objective_percent"),
            default_of(stack, "latency_objective_percent"),
        );
    }
}

#[test]
fn the_availability_target_alone_moves_every_availability_threshold() {
    for stack in STACKS {
        let availability = default_of(stack, "availability_objective_percent");
        let latency = default_of(stack, "latency_objective_percent");
        let before = check_alerts(&render(stack, &[]), stack, availability, latency);
        let changed = availability - 0.4;
        let world = render(
            stack,
            &[("availability_objective_percent", Value::from(changed))],
        );
        let after = check_alerts(&world, stack, changed, latency);
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>()
        );
        for (name, threshold) in &after {
            let moved = !close(*threshold, before[name]);
            assert_eq!(
                moved,
                !name.contains("-latency-"),
                "{name}: {} -> {threshold}",
                before[name]
            );
        }
    }
}

/// `cloudwatch-metrics.yaml`.
#[derive(Deserialize)]
struct Documented {
    namespaces: BTreeMap<String, Namespace>,
}

#[derive(Deserialize)]
struct Namespace {
    source: String,
    metrics: BTreeMap<String, Vec<Vec<String>>>,
}

/// A metric as an alarm or a widget names it.
#[derive(Debug)]
struct Named {
    namespace: String,
    metric: String,
    dimensions: Vec<String>,
    by: String,
}

fn dimension_names(value: Option<&Value>) -> Vec<String> {
    let mut names: Vec<String> = value
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Every metric the stack's alarms name, directly or in metric math.
fn alarm_metrics(world: &World, stack: &str) -> Vec<Named> {
    let mut out = Vec::new();
    for i in world
        .root(stack)
        .instances
        .iter()
        .filter(|i| i.kind == "aws_cloudwatch_metric_alarm")
    {
        if let Some(Value::String(namespace)) = i.attr("namespace") {
            out.push(Named {
                namespace: namespace.clone(),
                metric: i.string("metric_name"),
                dimensions: dimension_names(i.attr("dimensions")),
                by: i.address.clone(),
            });
        }
        for q in i
            .attr("metric_query")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(Value::Array(metric)) = q.as_object().and_then(|q| q.get("metric")) {
                out.push(Named {
                    namespace: field(&metric[0], "namespace")
                        .and_then(Value::as_str)
                        .unwrap()
                        .to_owned(),
                    metric: field(&metric[0], "metric_name")
                        .and_then(Value::as_str)
                        .unwrap()
                        .to_owned(),
                    dimensions: dimension_names(
                        metric[0].as_object().and_then(|m| m.get("dimensions")),
                    ),
                    by: i.address.clone(),
                });
            }
        }
    }
    out
}

fn dashboard(world: &World, stack: &str) -> serde_json::Value {
    let body = world
        .root(stack)
        .instance("module.observability.module.dashboard.aws_cloudwatch_dashboard.this")
        .string("dashboard_body");
    serde_json::from_str(&body).unwrap()
}

/// Every metric a dashboard's widgets name: entries of the form
/// [namespace, name, dimension, value, ..., {options}].
fn dashboard_metrics(body: &serde_json::Value, stack: &str) -> Vec<Named> {
    let mut out = Vec::new();
    for widget in body["widgets"].as_array().unwrap() {
        for entry in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let parts = entry.as_array().unwrap();
            let strings: Vec<&str> = parts.iter().filter_map(|p| p.as_str()).collect();
            if strings.is_empty() {
                continue; // an expression
            }
            let mut dimensions: Vec<String> =
                strings[2..].chunks(2).map(|c| c[0].to_owned()).collect();
            dimensions.sort();
            out.push(Named {
                namespace: strings[0].to_owned(),
                metric: strings[1].to_owned(),
                dimensions,
                by: format!("{stack} dashboard: {}", widget["properties"]["title"]),
            });
        }
    }
    out
}

#[test]
fn every_metric_named_is_documented_with_its_dimensions() {
    let documented: Documented = serde_yaml::from_str(
        &std::fs::read_to_string(repo().join("tests/slo/cloudwatch-metrics.yaml")).unwrap(),
    )
    .unwrap();
    for namespace in documented.namespaces.values() {
        assert!(
            namespace.source.starts_with("https://docs.aws.amazon.com/")
                || repo().join(&namespace.source).is_file(),
            "{}",
            namespace.source
        );
    }
    let mut problems = Vec::new();
    let mut seen = 0;
    for (stack, world) in every_stack() {
        let body = dashboard(&world, stack);
        for named in alarm_metrics(&world, stack)
            .into_iter()
            .chain(dashboard_metrics(&body, stack))
        {
            seen += 1;
            let Some(namespace) = documented.namespaces.get(&named.namespace) else {
                problems.push(format!(
                    "{}: namespace {} is not in the list",
                    named.by, named.namespace
                ));
                continue;
            };
            match namespace.metrics.get(&named.metric) {
                None => problems.push(format!(
                    "{}: {} has no metric {} ({})",
                    named.by, named.namespace, named.metric, namespace.source
                )),
                Some(sets)
                    if !sets.iter().any(|s| {
                        let mut s = s.clone();
                        s.sort();
                        s == named.dimensions
                    }) =>
                {
                    problems.push(format!(
                        "{}: {} {} by {:?}, which is not one of {sets:?} ({})",
                        named.by, named.namespace, named.metric, named.dimensions, namespace.source
                    ))
                }
                Some(_) => {}
            }
        }
    }
    assert!(seen > 50, "{seen}");
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// CloudWatch's dashboard body structure ("Dashboard Body Structure and
/// Syntax"): the keys it knows, the 24-column grid, and each widget type's
/// required properties; and, beyond it, that widgets do not overlap and
/// that every metric-math id an expression uses is defined in its widget.
#[test]
fn each_dashboard_body_has_cloudwatchs_structure() {
    let id_re = regex::Regex::new(r"\b[a-z][a-zA-Z0-9_]*\b").unwrap();
    for (stack, world) in every_stack() {
        let body = dashboard(&world, stack);
        let top = body.as_object().unwrap();
        for key in top.keys() {
            assert!(
                ["widgets", "variables", "start", "end", "periodOverride"].contains(&key.as_str()),
                "{key}"
            );
        }
        if let Some(p) = top.get("periodOverride") {
            assert!(["auto", "inherit"].contains(&p.as_str().unwrap()), "{p}");
        }
        let widgets = body["widgets"].as_array().unwrap();
        assert!(!widgets.is_empty() && widgets.len() <= 500);
        let mut cells = std::collections::HashSet::new();
        for w in widgets {
            let keys: Vec<&str> = w.as_object().unwrap().keys().map(String::as_str).collect();
            for k in &keys {
                assert!(
                    ["type", "x", "y", "width", "height", "properties"].contains(k),
                    "{stack}: {k}"
                );
            }
            let (x, y) = (w["x"].as_u64().unwrap(), w["y"].as_u64().unwrap());
            let (width, height) = (w["width"].as_u64().unwrap(), w["height"].as_u64().unwrap());
            assert!(
                x <= 23 && (1..=24).contains(&width) && x + width <= 24,
                "{stack}: {w}"
            );
            assert!((1..=1000).contains(&height), "{stack}: {w}");
            for cx in x..x + width {
                for cy in y..y + height {
                    assert!(
                        cells.insert((cx, cy)),
                        "{stack}: widgets overlap at {cx},{cy}: {w}"
                    );
                }
            }
            let p = w["properties"].as_object().unwrap();
            match w["type"].as_str().unwrap() {
                "text" => assert!(p["markdown"].is_string(), "{w}"),
                "alarm" => {
                    let alarms = p["alarms"].as_array().unwrap();
                    assert!((1..=100).contains(&alarms.len()), "{w}");
                    for a in alarms {
                        assert!(
                            a.as_str().unwrap().starts_with("arn:aws:cloudwatch:"),
                            "{a}"
                        );
                    }
                }
                "metric" => {
                    assert!(
                        p["region"].is_string(),
                        "{stack}: a metric widget needs its region: {w}"
                    );
                    if let Some(view) = p.get("view") {
                        assert!(
                            ["timeSeries", "singleValue", "gauge", "bar", "pie", "table"]
                                .contains(&view.as_str().unwrap()),
                            "{view}"
                        );
                    }
                    if let Some(period) = p.get("period") {
                        assert_eq!(period.as_u64().unwrap() % 60, 0, "{w}");
                    }
                    let metrics = p["metrics"].as_array().unwrap();
                    assert!((1..=500).contains(&metrics.len()), "{w}");
                    let mut ids = Vec::new();
                    let mut expressions = Vec::new();
                    for entry in metrics {
                        let parts = entry.as_array().unwrap();
                        let (last, head) = parts.split_last().unwrap();
                        match last.as_object() {
                            Some(options) => {
                                if let Some(id) = options.get("id") {
                                    let id = id.as_str().unwrap();
                                    assert!(
                                        id.starts_with(|c: char| c.is_ascii_lowercase()),
                                        "{id}"
                                    );
                                    ids.push(id.to_owned());
                                }
                                if let Some(e) = options.get("expression") {
                                    assert!(
                                        head.is_empty(),
                                        "an expression entry is one object: {entry}"
                                    );
                                    assert!(options.contains_key("id"), "{entry}");
                                    expressions.push(e.as_str().unwrap().to_owned());
                                } else {
                                    assert!(
                                        head.len() >= 2 && head.len() % 2 == 0,
                                        "namespace, name, then pairs: {entry}"
                                    );
                                }
                                for key in options.keys() {
                                    assert!(
                                        [
                                            "expression",
                                            "id",
                                            "label",
                                            "stat",
                                            "period",
                                            "visible",
                                            "color",
                                            "yAxis",
                                            "region"
                                        ]
                                        .contains(&key.as_str()),
                                        "{key} in {entry}"
                                    );
                                }
                            }
                            None => assert!(parts.len() >= 2 && parts.len() % 2 == 0, "{entry}"),
                        }
                        assert!(
                            parts
                                .iter()
                                .take(parts.len() - 1)
                                .all(serde_json::Value::is_string),
                            "{entry}"
                        );
                    }
                    for e in expressions {
                        let functions = ["IF", "FILL"];
                        for word in id_re.find_iter(&e).map(|m| m.as_str()) {
                            assert!(
                                ids.iter().any(|id| id == word) || functions.contains(&word),
                                "{stack}: {e} uses {word}, which its widget does not define"
                            );
                        }
                    }
                    if let Some(h) = p.get("annotations").and_then(|a| a.get("horizontal")) {
                        for a in h.as_array().unwrap() {
                            assert!(a["value"].is_number(), "{a}");
                        }
                    }
                }
                other => panic!("{stack}: no widget type {other} is used here"),
            }
        }
    }
}

#[test]
fn every_alarm_ends_with_a_link_to_its_runbook() {
    let operations = std::fs::read_to_string(repo().join("docs/operations.md")).unwrap();
    let anchors = markdown::anchors(&operations);
    let base = "https://github.com/example-org/sre-kata/blob/main/docs/operations.md#";
    for (stack, world) in every_stack() {
        let alarms: Vec<&Instance> = world
            .root(stack)
            .instances
            .iter()
            .filter(|i| {
                i.kind == "aws_cloudwatch_metric_alarm"
                    || i.kind == "aws_cloudwatch_composite_alarm"
            })
            .collect();
        assert!(alarms.len() >= 8, "{stack}");
        for alarm in alarms {
            let description = alarm.string("alarm_description");
            // PutMetricAlarm and PutCompositeAlarm take at most 1024.
            assert!(
                description.chars().count() <= 1024,
                "{}: {description}",
                alarm.address
            );
            let link = description
                .rsplit_once("Runbook: ")
                .map(|(_, link)| link)
                .unwrap_or_else(|| panic!("{}: no runbook: {description}", alarm.address));
            let anchor = link
                .strip_prefix(base)
                .unwrap_or_else(|| panic!("{}: {link} is not docs/operations.md", alarm.address));
            assert!(
                anchors.iter().any(|a| a == anchor),
                "{}: docs/operations.md has no heading #{anchor}",
                alarm.address
            );
        }
    }
}

/// The validation of `infra/modules/slo-alarms` that refuses an objective
/// and window whose thresholds no error ratio can reach, evaluated as
/// Terraform would at plan: (objective, window) -> accepted.
#[test]
fn an_alert_that_could_never_fire_is_refused_at_plan() {
    let text =
        std::fs::read_to_string(repo().join("infra/modules/slo-alarms/variables.tf")).unwrap();
    let body: hcl::Body = hcl::from_str(&text).unwrap();
    let alerts = body
        .blocks()
        .find(|b| b.identifier() == "variable" && b.labels()[0].as_str() == "alerts")
        .unwrap();
    let default = alerts
        .body()
        .attributes()
        .find(|a| a.key() == "default")
        .unwrap()
        .expr();
    let condition = alerts
        .body()
        .blocks()
        .filter(|b| b.identifier() == "validation")
        .map(|v| {
            v.body()
                .attributes()
                .find(|a| a.key() == "condition")
                .unwrap()
                .expr()
                .clone()
        })
        .find(|c| c.to_string().contains("objective_percent"))
        .expect("a validation reads the objective");
    let accepts = |objective: f64, days: u64| -> bool {
        use hcl::eval::Evaluate;
        let mut ctx = terraform::functions();
        let mut var = Map::new();
        var.insert(
            "alerts".into(),
            default.evaluate(&hcl::eval::Context::new()).unwrap(),
        );
        var.insert("objective_percent".into(), Value::from(objective));
        var.insert("window_days".into(), Value::from(days));
        ctx.declare_var("var", Value::Object(var));
        condition.evaluate(&ctx).unwrap() == Value::Bool(true)
    };
    // The page at 14.4 needs a budget under 1 / 14.4 = 6.9 %; at 90 days
    // (burn 43.2), under 2.3 %.
    assert!(accepts(99.9, 30));
    assert!(accepts(94.0, 30));
    assert!(!accepts(93.0, 30));
    assert!(accepts(98.0, 90));
    assert!(!accepts(97.0, 90));
}

/// A stack's `alarm_email`, which the page and ticket topics replaced, is
/// refused by name at plan rather than dropped with its notifications.
#[test]
fn an_old_alarm_email_setting_is_refused_by_name() {
    use hcl::eval::Evaluate;
    for stack in STACKS {
        let text =
            std::fs::read_to_string(repo().join("infra").join(stack).join("variables.tf")).unwrap();
        let body: hcl::Body = hcl::from_str(&text).unwrap();
        let variable = body
            .blocks()
            .find(|b| b.identifier() == "variable" && b.labels()[0].as_str() == "alarm_email")
            .unwrap_or_else(|| panic!("{stack} keeps alarm_email, to refuse it"));
        let validation = variable
            .body()
            .blocks()
            .find(|b| b.identifier() == "validation")
            .unwrap();
        let attribute = |key: &str| {
            validation
                .body()
                .attributes()
                .find(|a| a.key() == key)
                .unwrap()
                .expr()
                .clone()
        };
        let holds = |value: Value| {
            let mut ctx = terraform::functions();
            let mut var = Map::new();
            var.insert("alarm_email".into(), value);
            ctx.declare_var("var", Value::Object(var));
            attribute("condition").evaluate(&ctx).unwrap() == Value::Bool(true)
        };
        assert!(holds(Value::Null), "{stack}");
        assert!(!holds(Value::from("oncall@example.com")), "{stack}");
        let message = attribute("error_message").to_string();
        assert!(
            message.contains("page_email") && message.contains("ticket_email"),
            "{stack}: {message}"
        );
    }
}
